/**
 * Every route × every kind of caller, over HTTP against the real server and
 * store: anonymous, a session of each role, and API tokens. The routes come
 * from fastify's own route table, so a route added without an access rule
 * fails here; the expected answers come from the permission table written
 * out below, not from the gateway's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../config/schema.js';
import type { Capability } from '../../gateway/server/contract.js';
import type { AuthRig, Credential } from './peers/auth-rig.js';
import { PASSWORD, RIG_ALARM, ROLE_USERS, startAuthRig } from './peers/auth-rig.js';

/** the permission table of the requirements, written out independently of permissions.ts */
const CAN: Record<Role, readonly Capability[]> = {
  viewer: ['read'],
  operator: ['read', 'alarms.act'],
  energy: ['read', 'export'],
  admin: ['read', 'alarms.act', 'alarms.manage', 'export', 'users.manage'],
};

type Access = 'public' | 'signed-in' | 'account' | Capability;

/** who may call each route (routes added later without a row here are walked with their declared access) */
const EXPECTED_ACCESS: Record<string, Access> = {
  'GET /*': 'public',
  'GET /api/login': 'public',
  'POST /api/login': 'public',
  'POST /api/logout': 'signed-in',
  'GET /api/me': 'signed-in',
  'PUT /api/me/language': 'account',
  'POST /api/me/password': 'account',
  'GET /api/health': 'read',
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

interface Caller {
  readonly name: string;
  readonly kind: 'anonymous' | 'session' | 'token';
  readonly role: Role | null;
  credential: Credential;
}

const CALLERS: Caller[] = [
  { name: 'anonymous', kind: 'anonymous', role: null, credential: null },
  ...(['viewer', 'operator', 'energy', 'admin'] as const).map(
    (role): Caller => ({ name: role, kind: 'session', role, credential: null }),
  ),
  ...(['viewer', 'energy', 'operator', 'admin'] as const).map(
    (role): Caller => ({ name: `${role} token`, kind: 'token', role, credential: null }),
  ),
];

function allowed(access: Access, caller: Caller): 'yes' | 401 | 403 {
  if (access === 'public') return 'yes';
  if (caller.kind === 'anonymous') return 401;
  if (access === 'signed-in') return 'yes';
  if (access === 'account') return caller.kind === 'session' ? 'yes' : 403;
  const caps = CAN[caller.role!];
  if (!caps.includes(access)) return 403;
  if (caller.kind === 'token' && access === 'users.manage') return 403;
  return 'yes';
}

/** fastify's route table (`printRoutes`, a radix tree) as `METHOD url` */
function routeTable(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const segment = depth === 0 && !m[2]!.startsWith('/') ? `/${m[2]}` : m[2]!;
    stack.push(segment);
    for (const method of m[3]!.split(',').map((s) => s.trim())) out.push(`${method} ${stack.join('')}`);
  }
  return out;
}

describe('every route checks its caller', () => {
  let rig: AuthRig;
  let serial = 0;
  const password = 'a new password 123';

  const sessions = async () => {
    for (const c of CALLERS) if (c.kind === 'session') c.credential = { cookie: await rig.login(ROLE_USERS[c.role!]) };
  };

  const userOf = (c: Caller) => rig.users.findUser(ROLE_USERS[c.role ?? 'viewer'])!;

  /** the rig's alarm, brought to where an action applies before each call (actions change it) */
  const alarmNow = () => rig.alarms.get(RIG_ALARM)!;
  const kwh = (value: number) => [{ tagId: 'line_kwh', ts: Date.now(), value, quality: 'good' as const }];
  const freshAlarm = () => {
    // back to normal, then a new activation: active and unacknowledged
    rig.alarms.onSamples(kwh(0));
    rig.alarms.onSamples(kwh(2_000_000));
    expect(alarmNow().state).toBe('active-unacknowledged');
  };

  /** a throwaway user, made in the store */
  const throwaway = () =>
    rig.users.createUser({
      username: `tmp${++serial}`,
      displayName: null,
      role: 'viewer',
      passwordHash: '$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      origin: 'admin',
    })!;

  /** how to call a route for a caller, and what it answers when allowed */
  const request = (route: string, c: Caller): { path: string; body?: unknown; ok: number | 'not 401/403' } => {
    const [method, url] = route.split(' ') as [string, string];
    switch (`${method === 'HEAD' ? 'GET' : method} ${url}`) {
      case 'GET /*':
        return { path: '/', ok: 200 };
      case 'GET /api/login':
        return { path: '/api/login', ok: 200 };
      case 'POST /api/login':
        return { path: '/api/login', body: { username: ROLE_USERS.viewer, password: PASSWORD }, ok: 200 };
      case 'POST /api/logout':
        return { path: '/api/logout', ok: 204 };
      case 'GET /api/me':
      case 'GET /api/health':
      case 'GET /api/docs':
      case 'GET /api/plant':
      case 'GET /api/live':
      case 'GET /api/metrics':
      case 'GET /metrics':
      case 'GET /api/users':
      case 'GET /api/tokens':
        return { path: url, ok: 200 };
      case 'PUT /api/me/language':
        return { path: '/api/me/language', body: { language: 'zh-Hant' }, ok: 200 };
      case 'POST /api/me/password':
        return { path: '/api/me/password', body: { currentPassword: PASSWORD, newPassword: PASSWORD }, ok: 204 };
      case 'GET /api/tags/:id/history':
        return { path: '/api/tags/m1_total/history', ok: 200 };
      case 'GET /api/live/ws':
        return { path: '/api/live/ws', ok: 426 };
      case 'GET /api/metrics/line/:id/baseline':
        return { path: '/api/metrics/line/L1/baseline', ok: 200 };
      case 'GET /api/metrics/:type/:id':
        return { path: '/api/metrics/machine/M1', ok: 200 };
      case 'GET /api/metrics/:type/:id/series':
        return { path: '/api/metrics/line/L1/series', ok: 200 };
      case 'GET /api/export/energy.csv':
        return { path: '/api/export/energy.csv?from=2025-01-01&to=2025-01-02&period=day&level=site', ok: 200 };
      case 'GET /api/export/tags.csv':
        return { path: '/api/export/tags.csv?tags=m1_total&from=2025-01-01&to=2025-01-02&resolution=raw', ok: 200 };
      case 'GET /api/alarms':
      case 'GET /api/alarms/stats':
      case 'GET /api/alarms/audit':
      case 'GET /api/alarms/audit.csv':
        return { path: url, ok: 200 };
      case 'GET /api/alarms/:id':
        return { path: `/api/alarms/${RIG_ALARM}`, ok: 200 };
      case 'POST /api/alarms/:id/acknowledge':
        freshAlarm();
        return { path: `/api/alarms/${RIG_ALARM}/acknowledge`, body: { comment: c.name }, ok: 200 };
      case 'POST /api/alarms/:id/shelve':
        if (alarmNow().outOfService) rig.alarms.returnToService(RIG_ALARM, 'matrix');
        if (alarmNow().shelved) rig.alarms.unshelve(RIG_ALARM, 'matrix');
        return {
          path: `/api/alarms/${RIG_ALARM}/shelve`,
          body: { reason: 'matrix', durationMinutes: 5 },
          ok: 200,
        };
      case 'POST /api/alarms/:id/unshelve':
        if (alarmNow().outOfService) rig.alarms.returnToService(RIG_ALARM, 'matrix');
        if (!alarmNow().shelved) rig.alarms.shelve(RIG_ALARM, 'matrix', 'matrix', 60_000);
        return { path: `/api/alarms/${RIG_ALARM}/unshelve`, body: {}, ok: 200 };
      case 'POST /api/alarms/:id/reset':
        // the rig's alarm does not latch: an allowed caller hears the refusal (409), not 401/403
        return { path: `/api/alarms/${RIG_ALARM}/reset`, body: {}, ok: 409 };
      case 'POST /api/alarms/:id/out-of-service':
        if (alarmNow().outOfService) rig.alarms.returnToService(RIG_ALARM, 'matrix');
        return { path: `/api/alarms/${RIG_ALARM}/out-of-service`, body: { reason: 'matrix' }, ok: 200 };
      case 'POST /api/alarms/:id/return-to-service':
        if (!alarmNow().outOfService) rig.alarms.removeFromService(RIG_ALARM, 'matrix', 'matrix');
        return { path: `/api/alarms/${RIG_ALARM}/return-to-service`, body: {}, ok: 200 };
      case 'POST /api/users':
        return {
          path: '/api/users',
          body: { username: `new${++serial}`, role: 'viewer', password },
          ok: 201,
        };
      case 'PATCH /api/users/:username':
        return { path: `/api/users/${throwaway().username}`, body: { displayName: 'Temp' }, ok: 200 };
      case 'DELETE /api/users/:username':
        return { path: `/api/users/${throwaway().username}`, ok: 204 };
      case 'POST /api/tokens':
        return { path: '/api/tokens', body: { name: 'matrix' }, ok: 201 };
      case 'DELETE /api/tokens/:id': {
        const owner = userOf(c);
        const t = rig.users.createToken({
          tokenHash: `x${++serial}`,
          userId: owner.id,
          name: 't',
          role: 'viewer',
          hint: 'glt_xxxx',
          createdBy: owner.username,
          expiresAt: null,
        });
        return { path: `/api/tokens/${t.id}`, ok: 204 };
      }
      default:
        if (url.includes('*') || !url.startsWith('/')) throw new Error(`no sample request for ${route}`);
        if (EXPECTED_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`] !== undefined) {
          throw new Error(`no sample request for ${route}`);
        }
        // a route this test does not know yet: any answer but 401/403 counts as let through
        return {
          path: url.replace(/:\w+/g, 'x'),
          ...(method === 'GET' || method === 'HEAD' ? {} : { body: {} }),
          ok: 'not 401/403',
        };
    }
  };

  beforeAll(async () => {
    rig = await startAuthRig();
    await sessions();
    const admin = { cookie: await rig.login(ROLE_USERS.admin) };
    for (const c of CALLERS) {
      if (c.kind !== 'token') continue;
      const res = await rig.call('/api/tokens', {
        method: 'POST',
        credential: admin,
        body: { name: `${c.role} token`, role: c.role, username: ROLE_USERS[c.role!] },
      });
      expect(res.status).toBe(201);
      c.credential = { token: ((await res.json()) as { token: string }).token };
    }
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('finds every route of the route table with a declared access', () => {
    const table = routeTable(rig.server.app.printRoutes({ commonPrefix: false }));
    const declared = new Map(rig.server.routes().map((r) => [`${r.method} ${r.url}`, r.access]));
    expect(table.length).toBeGreaterThanOrEqual(Object.keys(EXPECTED_ACCESS).length);
    for (const route of table) {
      expect(declared.has(route), `${route} is in fastify's table but passed no access check`).toBe(true);
      expect(declared.get(route), `${route} declares no access: add it to access-control.ts`).not.toBeNull();
      const [method, url] = route.split(' ');
      const known = EXPECTED_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
      if (known !== undefined) expect(declared.get(route), route).toBe(known);
    }
    // and the other way: every route of the matrix exists
    for (const route of Object.keys(EXPECTED_ACCESS)) expect(table, route).toContain(route);
  });

  it('answers 401, 403 or success for each caller on each route', async () => {
    const table = routeTable(rig.server.app.printRoutes({ commonPrefix: false }));
    const declared = new Map(rig.server.routes().map((r) => [`${r.method} ${r.url}`, r.access]));
    const results: string[] = [];
    const wrong: string[] = [];
    for (const route of table) {
      const [method, url] = route.split(' ') as [string, string];
      const access = (EXPECTED_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`] ??
        declared.get(route)) as Access | null;
      if (access === null) {
        wrong.push(`${route}: no access declared`);
        continue;
      }
      // a logout or password change ends sessions: every route starts with fresh ones
      await sessions();
      for (const c of CALLERS) {
        const r = request(route, c);
        const res = await rig.call(r.path, {
          method,
          credential: c.credential,
          ...(r.body === undefined && method !== 'POST' && method !== 'PATCH' && method !== 'DELETE'
            ? {}
            : { body: r.body ?? {} }),
        });
        const expected = allowed(access, c);
        const status = res.status;
        await res.arrayBuffer();
        const ok =
          expected === 'yes'
            ? r.ok === 'not 401/403'
              ? status !== 401 && status !== 403
              : status === r.ok
            : status === expected;
        results.push(`${route} ${c.name}: ${status}`);
        if (!ok) wrong.push(`${route} as ${c.name}: ${status}, expected ${expected === 'yes' ? r.ok : expected}`);
        if (status === 401 || status === 403) {
          expect(res.headers.get('content-type'), `${route} ${c.name}`).toMatch(/application\/json/);
        }
      }
    }
    expect(wrong).toEqual([]);
    // the walk covered every route for every caller
    expect(results.length).toBe(table.length * CALLERS.length);
  });

  it('answers refusals as JSON errors with a code', async () => {
    const anon = await rig.call('/api/plant');
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Bearer realm="greenline"');
    expect(await anon.json()).toEqual({ error: { code: 'GL_ERR_UNAUTHENTICATED', message: expect.any(String) } });
    const viewer = { cookie: await rig.login(ROLE_USERS.viewer) };
    const denied = await rig.call('/api/export/energy.csv', { credential: viewer });
    expect(denied.status).toBe(403);
    const body = (await denied.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('GL_ERR_FORBIDDEN');
    expect(body.error.message).toMatch(/viewer.*export.*energy or admin/);
    // the security headers are kept on refusals
    expect(denied.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(denied.headers.get('x-frame-options')).toBe('DENY');
  });

  it('opens the live WebSocket for any role and refuses it without a sign-in', async () => {
    await sessions();
    for (const c of CALLERS) {
      const attempt = await rig.openLive(c.credential);
      const expected = allowed('read', c);
      if (expected === 'yes') {
        expect(attempt.status, c.name).toBe('open');
        if (attempt.status === 'open') attempt.ws.close();
      } else {
        expect(attempt.status, c.name).toBe(expected);
      }
    }
    // a page of another origin may not open it with the user's cookie
    const viewer = CALLERS.find((c) => c.name === 'viewer')!;
    const foreign = await rig.openLive(viewer.credential, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    const own = await rig.openLive(viewer.credential, { origin: rig.url });
    expect(own.status).toBe('open');
    if (own.status === 'open') own.ws.close();
    // behind a proxy that rewrites Host, the original host comes in X-Forwarded-Host
    const proxied = await rig.openLive(viewer.credential, {
      origin: 'http://dev.example:5173',
      'x-forwarded-host': 'dev.example:5173',
    });
    expect(proxied.status).toBe('open');
    if (proxied.status === 'open') proxied.ws.close();
  });
});
