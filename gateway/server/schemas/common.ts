/**
 * What every schema of the API shares: the registry its documentation goes
 * in (descriptions, examples, component names for the OpenAPI document), the
 * error shape, and the compile-time check that keeps each schema and its
 * type in `contract.ts` the same.
 *
 * The contract stays hand-written TypeScript (the dashboard imports it with
 * no zod behind it; part of it is the core's own types). Each schema is
 * checked against its contract type in both directions, after both are made
 * deep-readonly: a field added, dropped, made optional or retyped on one side
 * only fails `npm run typecheck`.
 */
import { z } from 'zod';
import { ALARM_REFUSAL_CODES } from '../../core/alarms/index.js';
import type { ApiError } from '../contract.js';

/** What the OpenAPI document says about a schema; `id` makes it a named component. */
export interface ApiDoc {
  readonly id?: string;
  readonly description?: string;
  readonly example?: unknown;
}

/** The API's documentation registry, apart from zod's global one (the config schema uses that). */
export const apiDocs = z.registry<ApiDoc>();

/**
 * Documents a schema: this very instance, so do not pass one that fields of
 * other meanings share. A second call adds to what the first said.
 */
export function doc<S extends z.ZodType>(schema: S, meta: ApiDoc): S {
  apiDocs.add(schema, { ...apiDocs.get(schema), ...meta });
  return schema;
}

/** a named component of the OpenAPI document, `#/components/schemas/<id>` */
export function named<S extends z.ZodType>(id: string, description: string, schema: S): S {
  return doc(schema, { id, description });
}

// ---------- the contract check ----------

/** T with every property and array read-only, intersections flattened: how both sides are compared */
export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** true when A and B are the same type (not merely assignable one way), read-only-ness aside */
export type SameShape<A, B> =
  (<G>() => G extends DeepReadonly<A> ? 1 : 2) extends <G>() => G extends DeepReadonly<B> ? 1 : 2 ? true : false;

/** fails to compile unless given `true` */
export type Expect<T extends true> = T;

/** What a JSON answer's schema produces, as the contract types it. */
export type Answer<S extends z.ZodType> = DeepReadonly<z.output<S>>;

// ---------- shared pieces ----------

/** the value of a tag or alarm: a number, a boolean, text, or null */
export const sampleValue = () => z.union([z.number(), z.boolean(), z.string(), z.null()]);

export const liveQuality = () => z.enum(['good', 'bad', 'uncertain', 'stale']);

/** ms since epoch */
export const epochMs = (description?: string) =>
  doc(z.number(), { description: description ?? 'ms since epoch', example: 1740816000000 });

export const nullableEpochMs = (description: string) => doc(z.number().nullable(), { description });

// ---------- errors ----------

/** the gateway's own error codes; an alarm action's refusal answers with the lifecycle's code */
export const API_ERROR_CODES = [
  'GL_ERR_BAD_REQUEST',
  'GL_ERR_NOT_FOUND',
  'GL_ERR_UPGRADE_REQUIRED',
  'GL_ERR_UPGRADE_REFUSED',
  'GL_ERR_UNAVAILABLE',
  'GL_ERR_INTERNAL',
  'GL_ERR_RESPONSE_INVALID',
  'GL_ERR_UNAUTHENTICATED',
  'GL_ERR_SIGN_IN_FAILED',
  'GL_ERR_FORBIDDEN',
  'GL_ERR_CONFLICT',
  'GL_ERR_UNSUPPORTED_MEDIA_TYPE',
  'GL_ERR_TOO_MANY_REQUESTS',
] as const;

export const ApiIssueSchema = named(
  'ApiIssue',
  'One problem of a request: where it is and why.',
  z.strictObject({
    path: doc(z.string(), { description: 'the field, e.g. `query.maxPoints`, `body.reason`, `params.id`' }),
    message: doc(z.string(), { description: 'what is wrong with it', example: 'must be at most 5000' }),
  }),
);

export const ApiErrorSchema = named(
  'ApiError',
  'Every error answer: a stable code, a message that says what to do, and for bad input every problem with its field.',
  z.strictObject({
    error: z.strictObject({
      code: z.enum([...API_ERROR_CODES, ...ALARM_REFUSAL_CODES]),
      message: z.string(),
      issues: z.array(ApiIssueSchema).optional(),
    }),
  }),
);

export type ErrorContractChecks = Expect<SameShape<ApiError, z.output<typeof ApiErrorSchema>>>;
