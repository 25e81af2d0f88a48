/**
 * Errors the HTTP API answers with: one JSON shape, a stable code, and for
 * bad input every problem with the field it concerns.
 */
import type { z } from 'zod';
import type { ApiError, ApiErrorCode, ApiIssue } from './contract.js';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly issues?: readonly ApiIssue[],
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toBody(): ApiError {
    return {
      error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) },
    };
  }
}

export const notFound = (message: string) => new HttpError(404, 'GL_ERR_NOT_FOUND', message);

/** `['query', 'maxPoints']` → `query.maxPoints`; array indexes as `[0]` */
export function issuePath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

export function zodIssues(prefix: string, error: z.ZodError): ApiIssue[] {
  return error.issues.map((i) => ({ path: issuePath(prefix, i.path), message: i.message }));
}

/**
 * Validates one part of a request (`params`, `query`, …) and returns the
 * parsed value, or throws a 400 that lists every problem with its path.
 */
export function validate<S extends z.ZodType>(part: string, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = zodIssues(part, result.error);
  const first = issues[0];
  const message =
    issues.length === 1 && first
      ? `invalid ${first.path}: ${first.message}`
      : `invalid ${part}: ${issues.length} problems`;
  throw new HttpError(400, 'GL_ERR_BAD_REQUEST', message, issues);
}
