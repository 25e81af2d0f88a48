/**
 * REST requests of the dashboard's pages. Paths are relative to the page,
 * so the dashboard also works behind a reverse proxy under a path prefix.
 */
import { signInEnded } from './account.js';

/** An answer other than 2xx: its status and the gateway's message (`{ error: { code, message } }`). */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

export { apiPath, type QueryValue } from './api-path.js';

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(new URL(path, document.baseURI), {
    headers: { accept: 'application/json' },
    ...(signal ? { signal } : {}),
  });
  // the sign-in ended (signed out elsewhere, expired): the sign-in page comes back
  if (res.status === 401) signInEnded();
  if (!res.ok) {
    let code: string | null = null;
    let message = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? null;
      if (body.error?.message) message = `HTTP ${res.status}: ${body.error.message}`;
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiRequestError(res.status, code, message);
  }
  return (await res.json()) as T;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** an aborted request (the page moved on): not worth showing */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}
