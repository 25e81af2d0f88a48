/**
 * Who is asking: a request's session cookie or API token checked against
 * the store, and sign-in itself (password check, rate limits, the session
 * it opens). Routes use it through `access-control.ts` and `auth-routes.ts`;
 * the live WebSocket through `authorizeUpgrade`.
 *
 * Sessions end `idleMs` after their last request (the time of the last
 * request is written at most once a minute) and `absoluteMs` after sign-in
 * whatever happens. A token works until it expires, is revoked, its owner
 * is disabled or removed, or its owner's role drops below the token's.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Role } from '../../../config/schema.js';
import type { UserRecord, UserStore } from '../../store/user-store.js';
import { type Capability, type DemoAccount, LANGUAGES, type Language, type Me } from '../contract.js';
import type { UpgradeAuthorizer } from '../live-hub.js';
import type { ServerDeps } from '../ports.js';
import { clearedCookie, readCookie, sessionCookie, sessionCookieName } from './cookies.js';
import { isApiToken, isSessionId, newSessionId, secretHash } from './credentials.js';
import { FailureLimiter } from './login-limiter.js';
import {
  DEFAULT_COST,
  dummyHash,
  hashPassword,
  MAX_PASSWORD_BYTES,
  needsRehash,
  type ScryptCost,
  verifyPassword,
} from './passwords.js';
import { capabilitiesOf, isRole, NOT_FOR_TOKENS, sortedCapabilities, withinRole } from './permissions.js';

/** The store's part that sign-in uses (the UserStore fits). */
export type AccountStore = Pick<
  UserStore,
  | 'transaction'
  | 'countUsers'
  | 'countEnabled'
  | 'listUsers'
  | 'findUser'
  | 'findUserById'
  | 'createUser'
  | 'updateUser'
  | 'deleteUser'
  | 'deleteUsersOfOrigin'
  | 'recordLogin'
  | 'createSession'
  | 'findSession'
  | 'touchSession'
  | 'deleteSession'
  | 'deleteSessionsOf'
  | 'pruneSessions'
  | 'createToken'
  | 'findTokenById'
  | 'findToken'
  | 'listTokens'
  | 'revokeToken'
  | 'touchToken'
>;

export const AUTH_DEFAULTS = {
  /** a session unused this long ends */
  idleMs: 12 * 3_600_000,
  /** a session ends this long after sign-in, used or not */
  absoluteMs: 7 * 24 * 3_600_000,
  /** failed sign-ins per username in the window, then 429 */
  perUsername: 5,
  /**
   * failed sign-ins per client address in the window, then 429; higher than per
   * username because a factory's PCs often share one address
   */
  perAddress: 20,
  windowMs: 5 * 60_000,
  /** the last use of a session or token is written at most this often */
  touchEveryMs: 60_000,
} as const;

export interface AuthenticatorOptions {
  readonly store: AccountStore;
  readonly log: ServerDeps['log'];
  readonly now?: () => number;
  /** the server speaks TLS: cookies get `Secure` and the `__Host-` prefix */
  readonly secureCookies?: boolean;
  readonly idleMs?: number;
  readonly absoluteMs?: number;
  readonly limits?: { readonly perUsername?: number; readonly perAddress?: number; readonly windowMs?: number };
  /** scrypt cost of new hashes (tests lower it) */
  readonly cost?: ScryptCost;
  /** listed on the sign-in page; only while `server.demoAccounts` is on */
  readonly demoAccounts?: readonly DemoAccount[];
}

export interface Principal {
  readonly user: UserRecord;
  /** the role the request acts with: the user's, or the token's */
  readonly role: Role;
  readonly capabilities: ReadonlySet<Capability>;
  readonly via: 'session' | 'token';
  /** the stored hash of the session id or token */
  readonly credential: string;
  readonly tokenId: number | null;
  /** when this sign-in ends at the latest; null: never */
  readonly expiresAt: number | null;
  /** the last recorded use of the session or token */
  readonly lastUsedAt: number | null;
}

export type Identification =
  | { readonly principal: Principal }
  | {
      readonly principal: null;
      /** no credential at all, or one that did not hold */
      readonly presented: boolean;
      readonly message: string;
      /** the request carried a session cookie that is no good: tell the browser to drop it */
      readonly clearCookie: boolean;
    };

type Refusal =
  | { readonly ok: false; readonly status: 401 }
  | { readonly ok: false; readonly status: 429; readonly retryAfterS: number };

export type PasswordCheck = { readonly ok: true; readonly user: UserRecord } | Refusal;

export type LoginOutcome = { readonly ok: true; readonly principal: Principal; readonly cookie: string } | Refusal;

export interface AuthCounters {
  readonly loginsSucceeded: number;
  readonly loginsFailed: number;
  /** sign-ins refused unchecked because of the rate limits */
  readonly loginsThrottled: number;
  /** requests refused for want of a valid sign-in (401) */
  readonly unauthenticated: number;
  /** requests refused for want of a capability (403) */
  readonly forbidden: number;
}

export const SIGN_IN_FIRST = 'sign in first: POST /api/login, or send an API token as `Authorization: Bearer <token>`';

export class Authenticator {
  readonly cookieName: string;
  readonly secureCookies: boolean;
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly cost: ScryptCost;
  readonly demoAccounts: readonly DemoAccount[];
  readonly store: AccountStore;
  private readonly now: () => number;
  private readonly log: ServerDeps['log'];
  private readonly byUsername: FailureLimiter;
  private readonly byAddress: FailureLimiter;
  /** checked when the username is unknown, so that costs what a wrong password costs */
  private readonly dummy: string;
  private readonly counts = {
    loginsSucceeded: 0,
    loginsFailed: 0,
    loginsThrottled: 0,
    unauthenticated: 0,
    forbidden: 0,
  };
  private readonly changeListeners: (() => void)[] = [];

  constructor(options: AuthenticatorOptions) {
    this.store = options.store;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.secureCookies = options.secureCookies ?? false;
    this.cookieName = sessionCookieName(this.secureCookies);
    this.idleMs = options.idleMs ?? AUTH_DEFAULTS.idleMs;
    this.absoluteMs = options.absoluteMs ?? AUTH_DEFAULTS.absoluteMs;
    this.cost = options.cost ?? DEFAULT_COST;
    this.dummy = dummyHash(this.cost);
    this.demoAccounts = options.demoAccounts ?? [];
    const windowMs = options.limits?.windowMs ?? AUTH_DEFAULTS.windowMs;
    this.byUsername = new FailureLimiter({ limit: options.limits?.perUsername ?? AUTH_DEFAULTS.perUsername, windowMs });
    this.byAddress = new FailureLimiter({ limit: options.limits?.perAddress ?? AUTH_DEFAULTS.perAddress, windowMs });
  }

  counters(): AuthCounters {
    return { ...this.counts };
  }

  /** counts a refused request (the access control calls it) */
  countRefusal(status: 401 | 403): void {
    if (status === 401) this.counts.unauthenticated++;
    else this.counts.forbidden++;
  }

  hashPassword(password: string): Promise<string> {
    return hashPassword(password, this.cost);
  }

  /** `listener` runs after sign-ins end or rights change (the server re-checks live clients); returns its removal */
  onChange(listener: () => void): () => void {
    this.changeListeners.push(listener);
    return () => {
      const i = this.changeListeners.indexOf(listener);
      if (i >= 0) this.changeListeners.splice(i, 1);
    };
  }

  /** sign-ins ended or rights changed: live clients are checked again */
  changed(): void {
    for (const l of this.changeListeners) l();
  }

  /**
   * The principal behind a request's headers. A bearer token, when sent, is
   * the only credential looked at; else the session cookie. `touch` records
   * the use (a request); live re-checks do not.
   */
  identify(headers: IncomingHttpHeaders, options: { readonly touch?: boolean } = {}): Identification {
    const touch = options.touch ?? true;
    const now = this.now();
    const authorization = headers.authorization;
    if (authorization !== undefined) {
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
      if (!m) {
        return refused(true, 'the Authorization header must be `Bearer <token>` with an API token', false);
      }
      return this.identifyToken(m[1]!, now, touch);
    }
    const cookie = readCookie(headers.cookie, this.cookieName);
    if (cookie === undefined || cookie === '') return refused(false, SIGN_IN_FIRST, false);
    return this.identifySession(cookie, now, touch);
  }

  /** whether a principal found earlier still holds, and still has the capability (live clients) */
  stillValid(principal: Principal, capability: Capability): boolean {
    const again =
      principal.via === 'token'
        ? this.tokenPrincipal(this.store.findToken(principal.credential), principal.credential, this.now())
        : this.sessionPrincipal(this.store.findSession(principal.credential), this.now());
    return again !== null && !('message' in again) && again.capabilities.has(capability);
  }

  /**
   * Checks a password. Unknown user, wrong password and disabled user answer
   * alike and take alike long; after too many failures for the username or
   * the client address, the check is refused unchecked (429).
   */
  async checkPassword(username: string, password: string, address: string): Promise<PasswordCheck> {
    const now = this.now();
    const userKey = username.toLowerCase();
    const wait = Math.max(this.byUsername.retryAfterMs(userKey, now), this.byAddress.retryAfterMs(address, now));
    if (wait > 0) {
      this.counts.loginsThrottled++;
      this.log.warn({ address, retryAfterS: Math.ceil(wait / 1000) }, 'password check refused: too many failures');
      return { ok: false, status: 429, retryAfterS: Math.ceil(wait / 1000) };
    }
    // counted before the check, so parallel guesses cannot pass the limit; a success gives it back
    this.byUsername.record(userKey, now);
    this.byAddress.record(address, now);

    const user = this.store.findUser(username);
    const usable = user !== null && !user.disabled && isRole(user.role);
    const tooLong = Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
    const matches = !tooLong && (await verifyPassword(password, user?.passwordHash ?? this.dummy));
    if (!matches || !usable || user === null) {
      this.counts.loginsFailed++;
      this.log.warn(
        user === null ? { address, knownUser: false } : { address, username: user.username, knownUser: true },
        'wrong username or password',
      );
      return { ok: false, status: 401 };
    }
    this.byUsername.reset(userKey);
    this.byAddress.forgive(address);
    if (needsRehash(user.passwordHash, this.cost)) {
      this.store.updateUser(user.id, { passwordHash: await hashPassword(password, this.cost) });
    }
    return { ok: true, user };
  }

  /** Checks a password and opens a session; the cookie to set comes with it. */
  async login(username: string, password: string, address: string): Promise<LoginOutcome> {
    const checked = await this.checkPassword(username, password, address);
    if (!checked.ok) return checked;
    const { user } = checked;
    this.counts.loginsSucceeded++;
    const at = this.now();
    this.store.pruneSessions(at, at - this.idleMs);
    const id = newSessionId();
    const idHash = secretHash(id);
    this.store.createSession({
      idHash,
      userId: user.id,
      createdAt: at,
      lastSeenAt: at,
      expiresAt: at + this.absoluteMs,
      remoteAddress: address,
    });
    this.store.recordLogin(user.id, at);
    this.log.info({ username: user.username, address }, 'signed in');
    const found = this.sessionPrincipal(this.store.findSession(idHash), at);
    if (found === null || 'message' in found) throw new Error('the new session could not be read back');
    return {
      ok: true,
      principal: found,
      cookie: sessionCookie(this.cookieName, id, this.absoluteMs / 1000, this.secureCookies),
    };
  }

  /** ends the session of a principal signed in with a password; tokens stay */
  logout(principal: Principal): void {
    if (principal.via !== 'session') return;
    this.store.deleteSession(principal.credential);
    this.log.info({ username: principal.user.username }, 'signed out');
    this.changed();
  }

  clearCookie(): string {
    return clearedCookie(this.cookieName, this.secureCookies);
  }

  me(principal: Principal): Me {
    return {
      username: principal.user.username,
      displayName: principal.user.displayName,
      role: principal.role,
      capabilities: sortedCapabilities(principal.capabilities),
      via: principal.via,
      expiresAt: principal.expiresAt,
      language: (LANGUAGES as readonly string[]).includes(principal.user.language ?? '')
        ? (principal.user.language as Language)
        : null,
    };
  }

  /**
   * The live WebSocket's check: the same credentials as a request (cookie or
   * bearer token), the `read` capability, and an Origin naming this host
   * when the browser sends one (no other page may open it with the user's
   * cookie).
   */
  readonly authorizeUpgrade: UpgradeAuthorizer = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    // a proxy that rewrites Host says the original in X-Forwarded-Host; a page cannot set either on a WebSocket
    const forwarded = req.headers['x-forwarded-host'];
    const hosts = [req.headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',') : [])];
    if (origin !== undefined && !hosts.some((h) => sameHost(origin, h?.trim()))) {
      this.countRefusal(403);
      return { ok: false, status: 403, message: `a page from ${origin} may not open the live connection` };
    }
    const found = this.identify(req.headers);
    if (found.principal === null) {
      this.countRefusal(401);
      return { ok: false, status: 401, message: found.message };
    }
    const principal = found.principal;
    if (!principal.capabilities.has('read')) {
      this.countRefusal(403);
      return { ok: false, status: 403, message: `the role ${principal.role} may not read live values` };
    }
    return {
      ok: true,
      user: { username: principal.user.username, role: principal.role },
      revalidate: () => this.stillValid(principal, 'read'),
    };
  };

  private identifyToken(token: string, now: number, touch: boolean): Identification {
    const invalid = 'the API token is not valid: unknown, revoked or expired, or its owner may no longer use it';
    if (!isApiToken(token)) return refused(true, invalid, false);
    const tokenHash = secretHash(token);
    const found = this.tokenPrincipal(this.store.findToken(tokenHash), tokenHash, now);
    if (found === null) return refused(true, invalid, false);
    if ('message' in found) return refused(true, found.message, false);
    if (
      touch &&
      found.tokenId !== null &&
      (found.lastUsedAt === null || now - found.lastUsedAt >= AUTH_DEFAULTS.touchEveryMs)
    ) {
      this.store.touchToken(found.tokenId, now);
    }
    return { principal: found };
  }

  private tokenPrincipal(
    row: ReturnType<AccountStore['findToken']>,
    tokenHash: string,
    now: number,
  ): Principal | { readonly message: string } | null {
    if (row === null) return null;
    const { token, user } = row;
    if (token.revokedAt !== null) return null;
    if (token.expiresAt !== null && now >= token.expiresAt) return { message: 'the API token has expired' };
    if (user.disabled) return null;
    if (!isRole(token.role) || !isRole(user.role) || !withinRole(token.role, user.role)) {
      return { message: `the API token's role is above its owner's role (${user.role}) now: make a new one` };
    }
    const capabilities = new Set([...capabilitiesOf(token.role)].filter((c) => !NOT_FOR_TOKENS.has(c)));
    return {
      user,
      role: token.role,
      capabilities,
      via: 'token',
      credential: tokenHash,
      tokenId: token.id,
      expiresAt: token.expiresAt,
      lastUsedAt: token.lastUsedAt,
    };
  }

  private identifySession(cookie: string, now: number, touch: boolean): Identification {
    const gone = 'your sign-in has ended: sign in again';
    if (!isSessionId(cookie)) return refused(true, gone, true);
    const idHash = secretHash(cookie);
    const found = this.sessionPrincipal(this.store.findSession(idHash), now);
    if (found === null) return refused(true, gone, true);
    if ('message' in found) {
      this.store.deleteSession(idHash);
      return refused(true, found.message, true);
    }
    if (touch && now - (found.lastUsedAt ?? 0) >= AUTH_DEFAULTS.touchEveryMs) this.store.touchSession(idHash, now);
    return { principal: found };
  }

  private sessionPrincipal(
    row: ReturnType<AccountStore['findSession']>,
    now: number,
  ): Principal | { readonly message: string } | null {
    if (row === null) return null;
    const { session, user } = row;
    if (now >= session.expiresAt) return { message: 'your sign-in has expired: sign in again' };
    if (now - session.lastSeenAt >= this.idleMs) {
      return { message: 'your sign-in has expired after a time without use: sign in again' };
    }
    if (user.disabled || !isRole(user.role)) return { message: 'this account may not sign in' };
    return {
      user,
      role: user.role,
      capabilities: capabilitiesOf(user.role),
      via: 'session',
      credential: session.idHash,
      tokenId: null,
      expiresAt: session.expiresAt,
      lastUsedAt: session.lastSeenAt,
    };
  }
}

function refused(presented: boolean, message: string, clearCookie: boolean): Identification {
  return { principal: null, presented, message, clearCookie };
}

/** whether an Origin header names the host the request was sent to */
function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}
