/**
 * The requests of user management and of one's own account: JSON in the
 * signed-in user's name. A refusal keeps the gateway's code, message and
 * field problems, so the page can put each next to its field.
 */
import type {
  ApiError,
  ApiIssue,
  CreateUserRequest,
  PasswordChangeRequest,
  UpdateUserRequest,
  UsersResponse,
  UserView,
} from '../../../gateway/server/contract.js';
import { signInEnded } from '../account.js';
import { ApiRequestError } from '../api.js';

/** A refusal with the gateway's own words and, for a 400, every problem with its field. */
export class UsersRequestError extends ApiRequestError {
  constructor(
    status: number,
    code: string | null,
    message: string,
    readonly issues: readonly ApiIssue[],
    /** seconds to wait, for a 429 */
    readonly retryAfterS: number | null,
  ) {
    super(status, code, message);
    this.name = 'UsersRequestError';
  }
}

async function send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const res = await fetch(new URL(path, document.baseURI), {
    method,
    // JSON even without a body: the gateway refuses state changes without it (cross-site defence)
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  });
  // the sign-in ended (signed out elsewhere, disabled, expired): the sign-in page comes back
  if (res.status === 401) signInEnded();
  if (res.ok) return res;
  let code: string | null = null;
  let message = `HTTP ${res.status}`;
  let issues: readonly ApiIssue[] = [];
  try {
    const err = ((await res.json()) as ApiError).error;
    code = err.code;
    if (err.message) message = err.message;
    issues = err.issues ?? [];
  } catch {
    // not JSON: the status says enough
  }
  const retry = Number(res.headers.get('retry-after'));
  throw new UsersRequestError(res.status, code, message, issues, Number.isFinite(retry) && retry > 0 ? retry : null);
}

function userPath(username: string): string {
  return `api/users/${encodeURIComponent(username)}`;
}

export async function listUsers(signal?: AbortSignal): Promise<readonly UserView[]> {
  const res = await fetch(new URL('api/users', document.baseURI), {
    headers: { accept: 'application/json' },
    ...(signal ? { signal } : {}),
  });
  if (res.status === 401) signInEnded();
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      message = ((await res.json()) as ApiError).error.message || message;
    } catch {
      // not JSON: the status says enough
    }
    throw new UsersRequestError(res.status, null, message, [], null);
  }
  return ((await res.json()) as UsersResponse).users;
}

export async function createUser(body: CreateUserRequest): Promise<UserView> {
  return (await (await send('POST', 'api/users', body)).json()) as UserView;
}

export async function updateUser(username: string, body: UpdateUserRequest): Promise<UserView> {
  return (await (await send('PATCH', userPath(username), body)).json()) as UserView;
}

export async function deleteUser(username: string): Promise<void> {
  await send('DELETE', userPath(username));
}

export async function changeOwnPassword(body: PasswordChangeRequest): Promise<void> {
  await send('POST', 'api/me/password', body);
}
