/**
 * Sign-in, the signed-in user, user management (admins) and API tokens.
 * Who may call each route is in `access-control.ts`; bodies are checked with
 * zod and refused with every problem and its path. No answer ever carries a
 * password or a hash; a new token is shown once, in the answer that makes it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Role, User } from '../../../config/schema.js';
import type { TokenRecord, UserRecord } from '../../store/user-store.js';
import type { RouteBook } from '../api/route-book.js';
import {
  type CreatedToken,
  type CreateTokenRequest,
  type CreateUserRequest,
  LANGUAGES,
  type LanguageRequest,
  type LoginInfo,
  type LoginRequest,
  type Me,
  type PasswordChangeRequest,
  type TokensResponse,
  type TokenView,
  type UpdateUserRequest,
  type UsersResponse,
  type UserView,
} from '../contract.js';
import { HttpError, notFound } from '../http-errors.js';
import type { ServerDeps } from '../ports.js';
import {
  CreatedTokenSchema,
  LoginInfoSchema,
  MeSchema,
  TokensResponseSchema,
  UsersResponseSchema,
  UserViewSchema,
} from '../schemas/auth-schemas.js';
import type { Expect, SameShape } from '../schemas/common.js';
import { principalOf } from './access-control.js';
import type { Authenticator, Principal } from './authenticator.js';
import { newApiToken, secretHash, tokenHint } from './credentials.js';
import { isRole, withinRole } from './permissions.js';

export const PASSWORD_MIN = 10;
const PASSWORD_MAX = 1024;
const DAY_MS = 86_400_000;
export const TOKEN_DEFAULT_DAYS = 365;

const password = () =>
  z
    .string()
    .min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`)
    .max(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`);
const username = User.shape.username;
const displayName = z.string().trim().min(1).max(100).nullable();

const LoginBody = z.strictObject({
  // any text: its form says nothing about whether such a user exists
  username: z.string().min(1, 'is required').max(64),
  password: z.string().min(1, 'is required').max(PASSWORD_MAX),
});

const LanguageBody = z.strictObject({
  language: z.enum(LANGUAGES, { message: `must be one of ${LANGUAGES.join(', ')}` }),
});

const PasswordBody = z.strictObject({ currentPassword: z.string().min(1).max(PASSWORD_MAX), newPassword: password() });

const UserParams = z.strictObject({ username });

const CreateUserBody = z.strictObject({
  username,
  role: Role,
  password: password(),
  displayName: displayName.optional(),
});

const UpdateUserBody = z
  .strictObject({
    role: Role.optional(),
    password: password().optional(),
    disabled: z.boolean().optional(),
    displayName: displayName.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one of role, password, disabled, displayName');

const TokenParams = z.strictObject({
  id: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a token id')
    .transform(Number),
});

const CreateTokenBody = z.strictObject({
  name: z.string().trim().min(1, 'is required').max(100),
  role: Role.optional(),
  username: username.optional(),
  expiresInDays: z.number().int().min(1).max(3650).nullable().optional(),
});

/** the request's sign-in; the access check has put it there */
function signedIn(req: FastifyRequest): Principal {
  const p = principalOf(req);
  if (p === null) throw new HttpError(401, 'GL_ERR_UNAUTHENTICATED', 'sign in first');
  return p;
}

function sameAsUsername(pw: string, name: string): boolean {
  return pw.trim().toLowerCase() === name.toLowerCase();
}

function refuseUsernameAsPassword(path: string, pw: string | undefined, name: string): void {
  if (pw !== undefined && sameAsUsername(pw, name)) {
    throw new HttpError(400, 'GL_ERR_BAD_REQUEST', `invalid ${path}: must not be the username`, [
      { path, message: 'must not be the username' },
    ]);
  }
}

export function userView(u: UserRecord): UserView {
  return {
    username: u.username,
    displayName: u.displayName,
    role: (isRole(u.role) ? u.role : 'viewer') satisfies Role,
    disabled: u.disabled,
    origin: u.origin,
    createdAt: u.createdAt,
    passwordChangedAt: u.passwordChangedAt,
    lastLoginAt: u.lastLoginAt,
  };
}

export function tokenView(t: TokenRecord): TokenView {
  return {
    id: t.id,
    name: t.name,
    username: t.username,
    role: isRole(t.role) ? t.role : 'viewer',
    hint: `${t.hint}…`,
    createdAt: t.createdAt,
    createdBy: t.createdBy,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
  };
}

export function registerAuthRoutes(
  api: RouteBook,
  auth: Authenticator,
  deps: Pick<ServerDeps, 'log'>,
  now: () => number,
): void {
  const { store } = auth;
  const log = deps.log;

  const conflict = (message: string) => new HttpError(409, 'GL_ERR_CONFLICT', message);
  const tooMany = (reply: FastifyReply, retryAfterS: number) => {
    reply.header('retry-after', String(retryAfterS));
    return new HttpError(429, 'GL_ERR_TOO_MANY_REQUESTS', `too many failed sign-ins: try again in ${retryAfterS} s`);
  };

  // ---------- sign-in ----------

  api.define({
    method: 'GET',
    url: '/api/login',
    tag: 'sign-in',
    summary: 'What the sign-in page needs',
    description: 'The demo accounts while `server.demoAccounts` is on, else none.',
    answers: { 200: { description: 'the sign-in information', schema: LoginInfoSchema } },
    handler: async (): Promise<LoginInfo> => ({ demoAccounts: auth.demoAccounts }),
  });

  api.define({
    method: 'POST',
    url: '/api/login',
    tag: 'sign-in',
    summary: 'Sign in with a username and password',
    description:
      'Sets the session cookie (HttpOnly, SameSite=Strict; Secure under TLS). Failed sign-ins are limited per username and per address.',
    body: LoginBody,
    answers: { 200: { description: 'signed in: the user, and the session cookie', schema: MeSchema } },
    errors: {
      401: '`GL_ERR_SIGN_IN_FAILED`: wrong username or password.',
      429: '`GL_ERR_TOO_MANY_REQUESTS`: too many failed sign-ins; `retry-after` says when to try again, in seconds.',
    },
    handler: async ({ body }, req, reply): Promise<Me> => {
      const outcome = await auth.login(body.username, body.password, req.ip);
      if (!outcome.ok) {
        if (outcome.status === 429) throw tooMany(reply, outcome.retryAfterS);
        throw new HttpError(401, 'GL_ERR_SIGN_IN_FAILED', 'wrong username or password');
      }
      reply.header('set-cookie', outcome.cookie);
      return auth.me(outcome.principal);
    },
  });

  api.define({
    method: 'POST',
    url: '/api/logout',
    tag: 'sign-in',
    summary: 'Sign out',
    description: 'Ends the session and clears the cookie (an API token stays valid).',
    answers: { 204: { description: 'signed out' } },
    handler: async (_input, req, reply) => {
      auth.logout(signedIn(req));
      reply.header('set-cookie', auth.clearCookie());
      return reply.code(204).send();
    },
  });

  api.define({
    method: 'GET',
    url: '/api/me',
    tag: 'sign-in',
    summary: 'The signed-in user',
    answers: { 200: { description: 'the user and what this sign-in may do', schema: MeSchema } },
    handler: async (_input, req): Promise<Me> => auth.me(signedIn(req)),
  });

  api.define({
    method: 'PUT',
    url: '/api/me/language',
    tag: 'sign-in',
    summary: "Set the user's dashboard language",
    body: LanguageBody,
    answers: { 200: { description: 'the user, with the language', schema: MeSchema } },
    handler: async ({ body }, req): Promise<Me> => {
      const me = signedIn(req);
      const user = store.updateUser(me.user.id, { language: body.language });
      if (user === null)
        throw new HttpError(401, 'GL_ERR_UNAUTHENTICATED', 'this user no longer exists: sign in again');
      return auth.me({ ...me, user });
    },
  });

  api.define({
    method: 'POST',
    url: '/api/me/password',
    tag: 'sign-in',
    summary: "Change one's own password",
    description: "Ends the user's other sessions; this one stays.",
    body: PasswordBody,
    answers: { 204: { description: 'changed' } },
    errors: {
      400: '`body.currentPassword` is not the current password, or the new one is the username.',
      429: '`GL_ERR_TOO_MANY_REQUESTS`: too many wrong passwords; `retry-after` says when to try again.',
    },
    handler: async ({ body }, req, reply) => {
      const me = signedIn(req);
      refuseUsernameAsPassword('body.newPassword', body.newPassword, me.user.username);
      const checked = await auth.checkPassword(me.user.username, body.currentPassword, req.ip);
      if (!checked.ok) {
        if (checked.status === 429) throw tooMany(reply, checked.retryAfterS);
        throw new HttpError(400, 'GL_ERR_BAD_REQUEST', 'invalid body.currentPassword: is not your current password', [
          { path: 'body.currentPassword', message: 'is not your current password' },
        ]);
      }
      const passwordHash = await auth.hashPassword(body.newPassword);
      store.transaction(() => {
        store.updateUser(me.user.id, { passwordHash });
        // signed in elsewhere with the old password: those sign-ins end, this one stays
        store.deleteSessionsOf(me.user.id, me.credential);
      });
      log.info({ username: me.user.username }, 'password changed');
      auth.changed();
      return reply.code(204).send();
    },
  });

  // ---------- users (admins) ----------

  const findUser = (name: string): UserRecord => {
    const user = store.findUser(name);
    if (user === null) throw notFound(`no user "${name}"; GET /api/users lists them`);
    return user;
  };

  /** an enabled admin that would stop being one: refused when it is the last */
  const keepAnAdmin = (target: UserRecord, stillAdmin: boolean) => {
    const isAdmin = target.role === 'admin' && !target.disabled;
    if (isAdmin && !stillAdmin && store.countEnabled('admin') <= 1) {
      throw conflict(`"${target.username}" is the last enabled admin: make another admin first`);
    }
  };

  api.define({
    method: 'GET',
    url: '/api/users',
    tag: 'users',
    summary: 'Every user',
    description: 'Never a password or a hash.',
    answers: { 200: { description: 'the users', schema: UsersResponseSchema } },
    handler: async (): Promise<UsersResponse> => ({ users: store.listUsers().map(userView) }),
  });

  api.define({
    method: 'POST',
    url: '/api/users',
    tag: 'users',
    summary: 'Add a user',
    body: CreateUserBody,
    answers: { 201: { description: 'the new user', schema: UserViewSchema } },
    errors: { 409: '`GL_ERR_CONFLICT`: the name is taken (names ignore case).' },
    handler: async ({ body }, req, reply): Promise<UserView> => {
      const me = signedIn(req);
      refuseUsernameAsPassword('body.password', body.password, body.username);
      const passwordHash = await auth.hashPassword(body.password);
      const created = store.createUser({
        username: body.username,
        displayName: body.displayName ?? null,
        role: body.role,
        passwordHash,
        origin: 'admin',
      });
      if (created === null) throw conflict(`a user "${body.username}" exists already (names ignore case)`);
      log.info({ username: created.username, role: created.role, by: me.user.username }, 'user created');
      reply.code(201);
      return userView(created);
    },
  });

  api.define({
    method: 'PATCH',
    url: '/api/users/:username',
    tag: 'users',
    summary: 'Change a user',
    description:
      "Any of role, password, disabled, display name. A new password or `disabled: true` ends the user's sessions and live connections (an admin changing their own password keeps their session).",
    params: UserParams,
    body: UpdateUserBody,
    answers: { 200: { description: 'the user as changed', schema: UserViewSchema } },
    errors: {
      404: '`GL_ERR_NOT_FOUND`: no such user.',
      409: '`GL_ERR_CONFLICT`: it would leave no enabled admin.',
    },
    handler: async ({ params: { username: name }, body }, req): Promise<UserView> => {
      const me = signedIn(req);
      const target = findUser(name);
      refuseUsernameAsPassword('body.password', body.password, target.username);
      const passwordHash = body.password === undefined ? undefined : await auth.hashPassword(body.password);
      const updated = store.transaction(() => {
        const current = findUser(name);
        keepAnAdmin(current, (body.role ?? current.role) === 'admin' && !(body.disabled ?? current.disabled));
        const changed = store.updateUser(current.id, {
          ...(body.role === undefined ? {} : { role: body.role }),
          ...(body.displayName === undefined ? {} : { displayName: body.displayName }),
          ...(passwordHash === undefined ? {} : { passwordHash }),
          ...(body.disabled === undefined ? {} : { disabled: body.disabled }),
        });
        if (changed === null) throw notFound(`no user "${name}"`);
        // a new password or a disabled account ends the user's sign-ins (but the admin's own, for their own password)
        if (passwordHash !== undefined || body.disabled === true) {
          store.deleteSessionsOf(
            current.id,
            current.id === me.user.id && body.disabled !== true ? me.credential : null,
          );
        }
        return changed;
      });
      log.info(
        {
          username: updated.username,
          by: me.user.username,
          changed: Object.keys(body)
            .filter((k) => k !== 'password')
            .concat(body.password === undefined ? [] : ['password']),
        },
        'user changed',
      );
      auth.changed();
      return userView(updated);
    },
  });

  api.define({
    method: 'DELETE',
    url: '/api/users/:username',
    tag: 'users',
    summary: 'Remove a user',
    description: "The user's sessions and tokens go with it.",
    params: UserParams,
    answers: { 204: { description: 'removed' } },
    errors: {
      404: '`GL_ERR_NOT_FOUND`: no such user.',
      409: '`GL_ERR_CONFLICT`: it is the last enabled admin.',
    },
    handler: async ({ params: { username: name } }, req, reply) => {
      const me = signedIn(req);
      store.transaction(() => {
        const target = findUser(name);
        keepAnAdmin(target, false);
        store.deleteUser(target.id);
      });
      log.info({ username: name, by: me.user.username }, 'user removed');
      auth.changed();
      return reply.code(204).send();
    },
  });

  // ---------- API tokens ----------

  api.define({
    method: 'GET',
    url: '/api/tokens',
    tag: 'tokens',
    summary: 'API tokens',
    description: "One's own; an admin sees everyone's. Never the token itself.",
    answers: { 200: { description: 'the tokens', schema: TokensResponseSchema } },
    handler: async (_input, req): Promise<TokensResponse> => {
      const me = signedIn(req);
      const all = me.capabilities.has('users.manage');
      return { tokens: store.listTokens(all ? null : me.user.id).map(tokenView) };
    },
  });

  api.define({
    method: 'POST',
    url: '/api/tokens',
    tag: 'tokens',
    summary: 'Make an API token',
    description:
      "The answer is the only one that holds the token. Its role defaults to the owner's and never exceeds the creator's or the owner's; only an admin makes tokens for someone else. Default expiry 365 days; `expiresInDays: null` never expires.",
    body: CreateTokenBody,
    answers: { 201: { description: 'the new token', schema: CreatedTokenSchema } },
    errors: {
      403: "`GL_ERR_FORBIDDEN`: a role above the creator's or the owner's, or someone else's token without being an admin.",
      404: '`GL_ERR_NOT_FOUND`: no such owner.',
      409: '`GL_ERR_CONFLICT`: the owner is disabled.',
    },
    handler: async ({ body }, req, reply): Promise<CreatedToken> => {
      const me = signedIn(req);
      let owner = me.user;
      if (body.username !== undefined && body.username.toLowerCase() !== me.user.username.toLowerCase()) {
        if (!me.capabilities.has('users.manage')) {
          throw new HttpError(403, 'GL_ERR_FORBIDDEN', 'only an admin makes tokens for someone else', [
            { path: 'body.username', message: 'must be your own username' },
          ]);
        }
        owner = findUser(body.username);
      }
      if (owner.disabled) throw conflict(`"${owner.username}" is disabled: enable the user first`);
      const role = body.role ?? (isRole(owner.role) ? owner.role : null);
      if (role === null || !withinRole(role, me.role) || !withinRole(role, owner.role)) {
        const ceiling =
          owner === me.user
            ? `your role (${me.role})`
            : `your role (${me.role}) and ${owner.username}'s (${owner.role})`;
        throw new HttpError(403, 'GL_ERR_FORBIDDEN', `a token's role may not exceed ${ceiling}`, [
          { path: 'body.role', message: `must be a role within ${ceiling}` },
        ]);
      }
      const days = body.expiresInDays === undefined ? TOKEN_DEFAULT_DAYS : body.expiresInDays;
      const token = newApiToken();
      const record = store.createToken({
        tokenHash: secretHash(token),
        userId: owner.id,
        name: body.name,
        role,
        hint: tokenHint(token),
        createdBy: me.user.username,
        expiresAt: days === null ? null : now() + days * DAY_MS,
      });
      log.info(
        { id: record.id, username: owner.username, role, by: me.user.username, expiresAt: record.expiresAt },
        'API token created',
      );
      reply.code(201);
      return { ...tokenView(record), token };
    },
  });

  api.define({
    method: 'DELETE',
    url: '/api/tokens/:id',
    tag: 'tokens',
    summary: 'Revoke an API token',
    description: "One's own, or any for an admin.",
    params: TokenParams,
    answers: { 204: { description: 'revoked' } },
    errors: { 404: '`GL_ERR_NOT_FOUND`: no such token of yours.' },
    handler: async ({ params: { id } }, req, reply) => {
      const me = signedIn(req);
      const token = store.findTokenById(id);
      const mine = token !== null && token.userId === me.user.id;
      if (token === null || token.revokedAt !== null || (!mine && !me.capabilities.has('users.manage'))) {
        throw notFound(`no token ${id} of yours; GET /api/tokens lists them`);
      }
      store.revokeToken(id, now());
      log.info({ id, username: token.username, by: me.user.username }, 'API token revoked');
      auth.changed();
      return reply.code(204).send();
    },
  });
}

export type AuthRequestChecks = [
  Expect<SameShape<LoginRequest, z.input<typeof LoginBody>>>,
  Expect<SameShape<LanguageRequest, z.input<typeof LanguageBody>>>,
  Expect<SameShape<PasswordChangeRequest, z.input<typeof PasswordBody>>>,
  Expect<SameShape<CreateUserRequest, z.input<typeof CreateUserBody>>>,
  Expect<SameShape<UpdateUserRequest, z.input<typeof UpdateUserBody>>>,
  Expect<SameShape<CreateTokenRequest, z.input<typeof CreateTokenBody>>>,
];
