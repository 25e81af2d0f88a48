/**
 * Every route says who may call it, here or in its own options
 * (`{ config: { access: 'export' } }`), and a check in front of each route
 * enforces it: no sign-in → 401, sign-in without the capability → 403, both
 * JSON. A route that declares nothing is refused to everyone (403) and
 * logged at start: a forgotten declaration fails closed, and the route
 * matrix test fails.
 *
 * State-changing requests (POST, PUT, PATCH, DELETE) must be
 * `content-type: application/json` (else 415). With the SameSite=Strict
 * cookie this keeps other sites' pages out: a cross-site form cannot send
 * JSON, and a script on another origin cannot without a CORS preflight,
 * which the gateway never answers.
 */
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Capability } from '../contract.js';
import { HttpError } from '../http-errors.js';
import type { ServerDeps } from '../ports.js';
import type { Authenticator, Principal } from './authenticator.js';
import { CAPABILITIES, rolesWith } from './permissions.js';

/**
 * - `public`: anyone (the dashboard's files, sign-in)
 * - `signed-in`: any valid sign-in, password or token
 * - `account`: signed in with a password (a cookie), any role: one's own tokens and password
 * - a capability: a sign-in whose role holds it (tokens never hold `users.manage`)
 */
export type RouteAccess = 'public' | 'signed-in' | 'account' | Capability;

export const ACCESS_KINDS: readonly RouteAccess[] = ['public', 'signed-in', 'account', ...CAPABILITIES];

/** `METHOD url` as fastify registers it → who may call it. HEAD follows GET. */
export const ROUTE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  // the dashboard's files: the sign-in page must load before anyone is signed in
  'GET /*': 'public',
  'GET /api/login': 'public',
  'POST /api/login': 'public',
  'POST /api/logout': 'signed-in',
  'GET /api/me': 'signed-in',
  'PUT /api/me/language': 'account',
  'POST /api/me/password': 'account',
  'GET /api/health': 'read',
  // the API's own description: it holds no secrets, but who may do what on a plant is for its users to read
  'GET /api/docs': 'read',
  'GET /api/plant': 'read',
  'GET /api/live': 'read',
  'GET /api/live/ws': 'read',
  'GET /api/tags/:id/history': 'read',
  'GET /api/metrics': 'read',
  'GET /api/metrics/line/:id/baseline': 'read',
  'GET /api/metrics/:type/:id': 'read',
  'GET /api/metrics/:type/:id/series': 'read',
  'GET /metrics': 'read',
  'GET /api/export/energy.csv': 'export',
  'GET /api/export/tags.csv': 'export',
  'GET /api/alarms': 'read',
  'GET /api/alarms/stats': 'read',
  'GET /api/alarms/audit': 'read',
  'GET /api/alarms/audit.csv': 'read',
  'GET /api/alarms/:id': 'read',
  'POST /api/alarms/:id/acknowledge': 'alarms.act',
  'POST /api/alarms/:id/shelve': 'alarms.act',
  'POST /api/alarms/:id/unshelve': 'alarms.act',
  'POST /api/alarms/:id/reset': 'alarms.act',
  // taking an alarm out of service silences it until someone returns it: alarm management, not operation
  'POST /api/alarms/:id/out-of-service': 'alarms.manage',
  'POST /api/alarms/:id/return-to-service': 'alarms.manage',
  'GET /api/users': 'users.manage',
  'POST /api/users': 'users.manage',
  'PATCH /api/users/:username': 'users.manage',
  'DELETE /api/users/:username': 'users.manage',
  'GET /api/tokens': 'account',
  'POST /api/tokens': 'account',
  'DELETE /api/tokens/:id': 'account',
};

/**
 * Whole families of routes, for routes not in the table: every export is
 * `export`; reading alarms is `read`, acting on them `alarms.act`.
 */
export const ROUTE_FAMILIES: readonly {
  readonly methods: 'read' | 'write';
  readonly prefix: string;
  readonly access: RouteAccess;
}[] = [
  { methods: 'read', prefix: '/api/export/', access: 'export' },
  { methods: 'read', prefix: '/api/alarms', access: 'read' },
  { methods: 'write', prefix: '/api/alarms', access: 'alarms.act' },
];

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  /** null: declared nowhere, refused to everyone */
  readonly access: RouteAccess | null;
}

function isAccess(x: unknown): x is RouteAccess {
  return typeof x === 'string' && (ACCESS_KINDS as readonly string[]).includes(x);
}

/** who may call a route: its own `config.access`, else the table, else its family */
export function accessOf(method: string, url: string, declared?: unknown): RouteAccess | null {
  if (isAccess(declared)) return declared;
  const m = method === 'HEAD' ? 'GET' : method;
  const listed = ROUTE_ACCESS[`${m} ${url}`];
  if (listed !== undefined) return listed;
  const writes = UNSAFE.has(m);
  for (const f of ROUTE_FAMILIES) {
    const inFamily = f.prefix.endsWith('/')
      ? url.startsWith(f.prefix)
      : url === f.prefix || url.startsWith(`${f.prefix}/`);
    if ((f.methods === 'write') === writes && inFamily) return f.access;
  }
  return null;
}

const principals = new WeakMap<FastifyRequest, Principal>();

/** The sign-in behind a request that passed the check; null on an open server or a public route. */
export function principalOf(req: FastifyRequest): Principal | null {
  return principals.get(req) ?? null;
}

/** Who made a request, for records (an alarm acknowledgement names its user); null when nobody signed in. */
export function requestUser(req: FastifyRequest): { readonly username: string; readonly role: string } | null {
  const p = principalOf(req);
  return p === null ? null : { username: p.user.username, role: p.role };
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json';
}

/**
 * Puts the check in front of every route registered after this call (call
 * it before any route). Returns the routes seen, with their access.
 */
export function installAccessControl(
  app: FastifyInstance,
  auth: Authenticator,
  log: ServerDeps['log'],
): { routes(): readonly RouteEntry[] } {
  const routes: RouteEntry[] = [];

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const declared = (route.config as { access?: unknown } | undefined)?.access;
    const byMethod = new Map<string, RouteAccess | null>();
    for (const method of methods) {
      const access = accessOf(method, route.url, declared);
      byMethod.set(method, access);
      routes.push({ method, url: route.url, access });
      if (access === null) {
        log.error(
          { method, url: route.url },
          'route declares no access rule: it is refused to everyone until it names one (access-control.ts)',
        );
      }
    }
    const guard: onRequestHookHandler = async (req, reply) => {
      const access = byMethod.get(req.method) ?? null;
      if (access === null) {
        auth.countRefusal(403);
        throw new HttpError(
          403,
          'GL_ERR_FORBIDDEN',
          `${req.method} ${route.url} declares no access rule, so nobody may use it`,
        );
      }
      if (UNSAFE.has(req.method) && !isJson(req.headers['content-type'])) {
        throw new HttpError(
          415,
          'GL_ERR_UNSUPPORTED_MEDIA_TYPE',
          'send state-changing requests as JSON: content-type: application/json',
        );
      }
      if (access === 'public') return;
      const found = auth.identify(req.headers);
      if (found.principal === null) {
        auth.countRefusal(401);
        if (found.clearCookie) reply.header('set-cookie', auth.clearCookie());
        reply.header('www-authenticate', 'Bearer realm="greenline"');
        throw new HttpError(401, 'GL_ERR_UNAUTHENTICATED', found.message);
      }
      const principal = found.principal;
      if (access === 'account' && principal.via !== 'session') {
        auth.countRefusal(403);
        throw new HttpError(403, 'GL_ERR_FORBIDDEN', 'an API token cannot do this: sign in with a password');
      }
      if (access !== 'signed-in' && access !== 'account' && !principal.capabilities.has(access)) {
        auth.countRefusal(403);
        const who = rolesWith(access).join(' or ');
        const how =
          principal.via === 'token' && access === 'users.manage'
            ? 'an API token never manages users: sign in with a password'
            : `it needs the ${access} capability (${who})`;
        throw new HttpError(403, 'GL_ERR_FORBIDDEN', `the role ${principal.role} may not do this: ${how}`);
      }
      principals.set(req, principal);
    };
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? [guard] : [guard, ...(Array.isArray(existing) ? existing : [existing])];
  });

  return { routes: () => routes };
}
