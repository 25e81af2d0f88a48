/**
 * Sign-in, the signed-in user, user management (admins) and API tokens.
 * Who may call each route is in `access-control.ts`; bodies are checked with
 * zod and refused with every problem and its path. No answer ever carries a
 * password or a hash; a new token is shown once, in the answer that makes it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Role, User } from '../../../config/schema.js';
import type { TokenRecord, UserRecord } from '../../store/user-store.js';
import {
  type CreatedToken,
  LANGUAGES,
  type LoginInfo,
  type Me,
  type TokensResponse,
  type TokenView,
  type UsersResponse,
  type UserView,
} from '../contract.js';
import { HttpError, notFound, validate } from '../http-errors.js';
import type { ServerDeps } from '../ports.js';
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
  app: FastifyInstance,
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

  app.get('/api/login', async (): Promise<LoginInfo> => ({ demoAccounts: auth.demoAccounts }));

  app.post('/api/login', async (req, reply): Promise<Me> => {
    const body = validate('body', LoginBody, req.body);
    const outcome = await auth.login(body.username, body.password, req.ip);
    if (!outcome.ok) {
      if (outcome.status === 429) throw tooMany(reply, outcome.retryAfterS);
      throw new HttpError(401, 'GL_ERR_SIGN_IN_FAILED', 'wrong username or password');
    }
    reply.header('set-cookie', outcome.cookie);
    return auth.me(outcome.principal);
  });

  app.post('/api/logout', async (req, reply) => {
    auth.logout(signedIn(req));
    reply.header('set-cookie', auth.clearCookie());
    return reply.code(204).send();
  });

  app.get('/api/me', async (req): Promise<Me> => auth.me(signedIn(req)));

  app.put('/api/me/language', async (req): Promise<Me> => {
    const me = signedIn(req);
    const body = validate('body', LanguageBody, req.body);
    const user = store.updateUser(me.user.id, { language: body.language });
    if (user === null) throw new HttpError(401, 'GL_ERR_UNAUTHENTICATED', 'this user no longer exists: sign in again');
    return auth.me({ ...me, user });
  });

  app.post('/api/me/password', async (req, reply) => {
    const me = signedIn(req);
    const body = validate('body', PasswordBody, req.body);
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

  app.get('/api/users', async (): Promise<UsersResponse> => ({ users: store.listUsers().map(userView) }));

  app.post('/api/users', async (req, reply): Promise<UserView> => {
    const me = signedIn(req);
    const body = validate('body', CreateUserBody, req.body);
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
  });

  app.patch('/api/users/:username', async (req): Promise<UserView> => {
    const me = signedIn(req);
    const { username: name } = validate('params', UserParams, req.params);
    const body = validate('body', UpdateUserBody, req.body);
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
        store.deleteSessionsOf(current.id, current.id === me.user.id && body.disabled !== true ? me.credential : null);
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
  });

  app.delete('/api/users/:username', async (req, reply) => {
    const me = signedIn(req);
    const { username: name } = validate('params', UserParams, req.params);
    store.transaction(() => {
      const target = findUser(name);
      keepAnAdmin(target, false);
      store.deleteUser(target.id);
    });
    log.info({ username: name, by: me.user.username }, 'user removed');
    auth.changed();
    return reply.code(204).send();
  });

  // ---------- API tokens ----------

  app.get('/api/tokens', async (req): Promise<TokensResponse> => {
    const me = signedIn(req);
    const all = me.capabilities.has('users.manage');
    return { tokens: store.listTokens(all ? null : me.user.id).map(tokenView) };
  });

  app.post('/api/tokens', async (req, reply): Promise<CreatedToken> => {
    const me = signedIn(req);
    const body = validate('body', CreateTokenBody, req.body);
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
        owner === me.user ? `your role (${me.role})` : `your role (${me.role}) and ${owner.username}'s (${owner.role})`;
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
  });

  app.delete('/api/tokens/:id', async (req, reply) => {
    const me = signedIn(req);
    const { id } = validate('params', TokenParams, req.params);
    const token = store.findTokenById(id);
    const mine = token !== null && token.userId === me.user.id;
    if (token === null || token.revokedAt !== null || (!mine && !me.capabilities.has('users.manage'))) {
      throw notFound(`no token ${id} of yours; GET /api/tokens lists them`);
    }
    store.revokeToken(id, now());
    log.info({ id, username: token.username, by: me.user.username }, 'API token revoked');
    auth.changed();
    return reply.code(204).send();
  });
}
