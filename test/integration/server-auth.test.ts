/**
 * Sign-in against the real server and store, over HTTP and WebSocket: the
 * cookie, expiry on a fake clock, sign-out, rate limits, uniform failures,
 * API tokens and their role ceiling, user management, and that no answer
 * ever carries a password hash.
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Me, TokensResponse, UsersResponse } from '../../gateway/server/contract.js';
import { DEFAULT_COST, hashPassword } from '../../gateway/server/auth/passwords.js';
import { type AuthRig, cookieOf, PASSWORD, ROLE_USERS, startAuthRig } from './peers/auth-rig.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.parse('2025-03-01T08:00:00Z');

/** every answer body seen, to check that none carries a hash */
const bodies: string[] = [];

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  bodies.push(text);
  return JSON.parse(text) as T;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function db(rig: AuthRig): Database.Database {
  return new Database(`${rig.dir}/greenline.db`, { readonly: true });
}

describe('sign-in', () => {
  let rig: AuthRig;
  let t = T0;

  beforeAll(async () => {
    rig = await startAuthRig({ now: () => t });
  });
  afterAll(async () => {
    await rig?.close();
    // nothing the server answered, in any test of this file, holds a password hash
    const all = bodies.join('\n');
    expect(all).not.toContain('$scrypt$');
    expect(all).not.toMatch(/password_?hash/i);
  });
  afterEach(() => {
    t += HOUR; // rate-limit windows of one test never reach the next
  });

  it('sets an HttpOnly, SameSite=Strict session cookie whose id is stored hashed, and answers who signed in', async () => {
    const res = await rig.call('/api/login', { method: 'POST', body: { username: 'Vera', password: PASSWORD } });
    expect(res.status).toBe(200);
    const me = await json<Me>(res);
    expect(me).toEqual({
      username: 'vera',
      displayName: null,
      role: 'viewer',
      capabilities: ['read'],
      via: 'session',
      expiresAt: t + 7 * 24 * HOUR,
      language: null,
    });
    const set = res.headers.get('set-cookie')!;
    expect(set).toMatch(/^greenline_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=604800$/);
    expect(set).not.toContain('Secure'); // plain HTTP here; the TLS test checks Secure
    const id = cookieOf(res).split('=')[1]!;
    const d = db(rig);
    try {
      const stored = d.prepare('SELECT id_hash FROM sessions').pluck().all() as string[];
      expect(stored).toContain(sha256(id));
      expect(stored).not.toContain(id);
      const hashes = d.prepare('SELECT password_hash FROM users').pluck().all() as string[];
      for (const h of hashes) expect(h).toMatch(/^\$scrypt\$ln=\d+,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
      // each user has a salt of their own: the same password hashes differently
      expect(new Set(hashes).size).toBe(hashes.length);
    } finally {
      d.close();
    }
    const again = await rig.call('/api/me', { credential: { cookie: cookieOf(res) } });
    expect(await json<Me>(again)).toEqual(me);
  });

  it('answers an unknown user, a wrong password and a disabled user alike', async () => {
    const admin = { cookie: await rig.login(ROLE_USERS.admin) };
    await rig.call('/api/users', {
      method: 'POST',
      credential: admin,
      body: { username: 'dora', role: 'viewer', password: 'dora password 1' },
    });
    await rig.call('/api/users/dora', { method: 'PATCH', credential: admin, body: { disabled: true } });
    const tries = [
      { username: 'nobody', password: PASSWORD },
      { username: 'vera', password: 'not the password' },
      { username: 'dora', password: 'dora password 1' },
    ];
    const answers = [];
    for (const body of tries) {
      const res = await rig.call('/api/login', { method: 'POST', body });
      answers.push({ status: res.status, body: await json(res), cookie: res.headers.get('set-cookie') });
    }
    expect(answers[0]).toEqual({
      status: 401,
      body: { error: { code: 'GL_ERR_SIGN_IN_FAILED', message: 'wrong username or password' } },
      cookie: null,
    });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    // the log names known users only, never a password
    const failures = rig.logged.filter((l) => l.msg === 'wrong username or password');
    expect(failures.map((l) => l.obj)).toContainEqual({ address: '127.0.0.1', knownUser: false });
    expect(JSON.stringify(rig.logged)).not.toContain('not the password');
  });

  it('refuses a username after 5 failures with 429 and Retry-After, even with the right password, until the window passes', async () => {
    const before = rig.auth.counters();
    for (let i = 0; i < 5; i++) {
      const res = await rig.call('/api/login', { method: 'POST', body: { username: 'otto', password: `wrong ${i}` } });
      expect(res.status).toBe(401);
      await res.arrayBuffer();
    }
    const blocked = await rig.call('/api/login', { method: 'POST', body: { username: 'OTTO', password: PASSWORD } });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('300');
    expect((await json<{ error: { code: string } }>(blocked)).error.code).toBe('GL_ERR_TOO_MANY_REQUESTS');
    // another user from the same address is not held back by otto's failures
    expect(
      (await rig.call('/api/login', { method: 'POST', body: { username: 'vera', password: PASSWORD } })).status,
    ).toBe(200);
    t += 4 * MIN;
    const still = await rig.call('/api/login', { method: 'POST', body: { username: 'otto', password: PASSWORD } });
    expect(still.status).toBe(429);
    expect(Number(still.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    t += MIN;
    expect(
      (await rig.call('/api/login', { method: 'POST', body: { username: 'otto', password: PASSWORD } })).status,
    ).toBe(200);
    const after = rig.auth.counters();
    expect(after.loginsFailed - before.loginsFailed).toBe(5);
    expect(after.loginsThrottled - before.loginsThrottled).toBe(2);
    // counted where an operator looks: /metrics
    const metrics = await (await rig.call('/metrics', { credential: { cookie: await rig.login('vera') } })).text();
    expect(metrics).toMatch(/^greenline_auth_logins_total\{result="throttled"\} [1-9]/m);
    expect(metrics).toMatch(/^greenline_auth_logins_total\{result="failure"\} [1-9]/m);
  });

  it('lets parallel guesses check at most 5 passwords', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        rig.call('/api/login', { method: 'POST', body: { username: 'enid', password: `guess ${i}` } }),
      ),
    );
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
  });

  it('refuses a client address after 20 failures across usernames', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await rig.call('/api/login', { method: 'POST', body: { username: `user${i}`, password: 'x' } });
      expect(res.status).toBe(401);
    }
    const res = await rig.call('/api/login', { method: 'POST', body: { username: 'ada', password: PASSWORD } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('ends a session after 12 h without a request and 7 days after sign-in, whatever the use', async () => {
    const cookie = await rig.login('vera');
    const me = () => rig.call('/api/me', { credential: { cookie } });
    t += 11 * HOUR;
    expect((await me()).status).toBe(200); // a request: the idle clock starts again
    t += 11 * HOUR;
    expect((await me()).status).toBe(200);
    t += 12 * HOUR + MIN;
    const idle = await me();
    expect(idle.status).toBe(401);
    expect(idle.headers.get('set-cookie')).toMatch(
      /^greenline_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/,
    );
    expect((await json<{ error: { message: string } }>(idle)).error.message).toMatch(/expired/);

    const used = await rig.login('vera');
    const start = t;
    while (t < start + 7 * 24 * HOUR - 6 * HOUR) {
      t += 6 * HOUR;
      expect((await rig.call('/api/me', { credential: { cookie: used } })).status).toBe(200);
    }
    t = start + 7 * 24 * HOUR;
    expect((await rig.call('/api/me', { credential: { cookie: used } })).status).toBe(401);
  });

  it('signs out: the cookie is cleared, the session ends, and its live connection closes', async () => {
    const cookie = await rig.login('vera');
    const other = await rig.login('vera');
    const live = await rig.openLive({ cookie });
    expect(live.status).toBe('open');
    if (live.status !== 'open') return;
    const closed = new Promise<number>((resolve) => live.ws.once('close', (code) => resolve(code)));
    const res = await rig.call('/api/logout', { method: 'POST', credential: { cookie } });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/^greenline_session=; .*Max-Age=0/);
    expect(await closed).toBe(4401);
    expect((await rig.call('/api/me', { credential: { cookie } })).status).toBe(401);
    expect((await rig.openLive({ cookie })).status).toBe(401);
    // another sign-in of the same user is not affected
    expect((await rig.call('/api/me', { credential: { cookie: other } })).status).toBe(200);
  });

  it('refuses state changes that are not JSON (cross-site forms)', async () => {
    const form = await fetch(`${rig.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=vera&password=${encodeURIComponent(PASSWORD)}`,
    });
    expect(form.status).toBe(415);
    expect((await json<{ error: { code: string } }>(form)).error.code).toBe('GL_ERR_UNSUPPORTED_MEDIA_TYPE');
    const admin = await rig.login('ada');
    const plain = await fetch(`${rig.url}/api/users`, {
      method: 'POST',
      headers: { cookie: admin, 'content-type': 'text/plain' },
      body: JSON.stringify({ username: 'mallory', role: 'admin', password: 'mallory password' }),
    });
    expect(plain.status).toBe(415);
    expect(rig.users.findUser('mallory')).toBeNull();
    // no content type at all is refused too; JSON with an empty body is fine
    const bare = await fetch(`${rig.url}/api/logout`, { method: 'POST', headers: { cookie: admin } });
    expect(bare.status).toBe(415);
    const empty = await fetch(`${rig.url}/api/logout`, {
      method: 'POST',
      headers: { cookie: admin, 'content-type': 'application/json' },
    });
    expect(empty.status).toBe(204);
  });

  it('checks bodies with zod and names every problem', async () => {
    const admin = { cookie: await rig.login('ada') };
    const res = await rig.call('/api/users', {
      method: 'POST',
      credential: admin,
      body: { username: 'x', role: 'boss', password: 'short', extra: 1 },
    });
    expect(res.status).toBe(400);
    const body = await json<{ error: { issues: { path: string }[] } }>(res);
    expect(body.error.issues.map((i) => i.path).sort()).toEqual([
      'body',
      'body.password',
      'body.role',
      'body.username',
    ]);
    const same = await rig.call('/api/users', {
      method: 'POST',
      credential: admin,
      body: { username: 'samename1', role: 'viewer', password: 'SameName1' },
    });
    expect(same.status).toBe(400);
    expect((await json<{ error: { issues: { path: string }[] } }>(same)).error.issues[0]!.path).toBe('body.password');
    const login = await rig.call('/api/login', { method: 'POST', body: { username: 'vera' } });
    expect(login.status).toBe(400);
    expect((await json<{ error: { issues: { path: string }[] } }>(login)).error.issues[0]!.path).toBe('body.password');
  });
});

describe('API tokens', () => {
  let rig: AuthRig;
  let t = T0;

  beforeAll(async () => {
    rig = await startAuthRig({ now: () => t });
  });
  afterAll(async () => {
    await rig?.close();
  });

  const create = async (cookie: string, body: object) =>
    rig.call('/api/tokens', { method: 'POST', credential: { cookie }, body });

  it('is shown once, stored hashed, works as a bearer token and stops when revoked', async () => {
    const enid = await rig.login('enid');
    const res = await create(enid, { name: 'ESG export script' });
    expect(res.status).toBe(201);
    const made = await json<{ token: string; id: number; role: string; hint: string; expiresAt: number }>(res);
    expect(made.token).toMatch(/^glt_[A-Za-z0-9_-]{43}$/);
    expect(made.role).toBe('energy');
    expect(made.hint).toBe(`${made.token.slice(0, 8)}…`);
    expect(made.expiresAt).toBe(t + 365 * 24 * HOUR);
    const listed = await json<TokensResponse>(await rig.call('/api/tokens', { credential: { cookie: enid } }));
    expect(listed.tokens.map((x) => x.id)).toEqual([made.id]);
    expect(JSON.stringify(listed)).not.toContain(made.token);
    const d = db(rig);
    try {
      expect(d.prepare('SELECT token_hash FROM api_tokens WHERE id = ?').pluck().get(made.id)).toBe(sha256(made.token));
    } finally {
      d.close();
    }

    const bearer = { token: made.token };
    const csv = await rig.call('/api/export/tags.csv?tags=m1_total&from=2025-01-01&to=2025-01-02&resolution=raw', {
      credential: bearer,
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const me = await json<Me>(await rig.call('/api/me', { credential: bearer }));
    expect(me).toMatchObject({ username: 'enid', role: 'energy', via: 'token', capabilities: ['read', 'export'] });
    expect((await rig.openLive(bearer)).status).toBe('open');
    // a token manages no tokens
    expect((await rig.call('/api/tokens', { credential: bearer })).status).toBe(403);

    const revoked = await rig.call(`/api/tokens/${made.id}`, { method: 'DELETE', credential: { cookie: enid } });
    expect(revoked.status).toBe(204);
    const after = await rig.call('/api/me', { credential: bearer });
    expect(after.status).toBe(401);
    expect((await json<{ error: { message: string } }>(after)).error.message).toMatch(/not valid/);
    expect((await rig.call(`/api/tokens/${made.id}`, { method: 'DELETE', credential: { cookie: enid } })).status).toBe(
      404,
    );
  });

  it('never gets a role above its creator or its owner', async () => {
    const otto = await rig.login('otto');
    const above = await create(otto, { name: 'x', role: 'energy' });
    expect(above.status).toBe(403);
    expect((await json<{ error: { issues: { path: string }[] } }>(above)).error.issues[0]!.path).toBe('body.role');
    expect((await create(otto, { name: 'x', role: 'admin' })).status).toBe(403);
    expect((await create(otto, { name: 'x', role: 'viewer' })).status).toBe(201);
    expect((await create(otto, { name: 'x', role: 'operator' })).status).toBe(201);
    // only an admin makes tokens for someone else
    expect((await create(otto, { name: 'x', username: 'vera' })).status).toBe(403);
    const ada = await rig.login('ada');
    expect((await create(ada, { name: 'x', username: 'enid', role: 'energy' })).status).toBe(201);
    expect((await create(ada, { name: 'x', username: 'enid', role: 'operator' })).status).toBe(403);
    const forVera = await json<{ username: string; role: string }>(await create(ada, { name: 'x', username: 'vera' }));
    expect(forVera).toMatchObject({ username: 'vera', role: 'viewer' });
    // an admin's token reads, acts and exports, but never manages users
    const adminToken = await json<{ token: string }>(await create(ada, { name: 'admin script' }));
    expect(
      (
        await rig.call('/api/export/energy.csv?from=2025-01-01&to=2025-01-02&period=day&level=site', {
          credential: { token: adminToken.token },
        })
      ).status,
    ).toBe(200);
    expect((await rig.call('/api/users', { credential: { token: adminToken.token } })).status).toBe(403);
  });

  it('stops when it expires, when its owner is disabled, or when the owner drops below its role', async () => {
    let enid = await rig.login('enid');
    const short = await json<{ token: string }>(await create(enid, { name: 'short', expiresInDays: 1 }));
    const forever = await json<{ token: string; expiresAt: number | null }>(
      await create(enid, { name: 'forever', expiresInDays: null }),
    );
    expect(forever.expiresAt).toBeNull();
    t += 24 * HOUR;
    expect((await rig.call('/api/me', { credential: { token: short.token } })).status).toBe(401);
    expect((await rig.call('/api/me', { credential: { token: forever.token } })).status).toBe(200);

    const ada = { cookie: await rig.login('ada') };
    enid = await rig.login('enid');
    expect(
      (await rig.call('/api/users/enid', { method: 'PATCH', credential: ada, body: { role: 'viewer' } })).status,
    ).toBe(200);
    const lowered = await rig.call('/api/me', { credential: { token: forever.token } });
    expect(lowered.status).toBe(401);
    expect((await json<{ error: { message: string } }>(lowered)).error.message).toMatch(/above its owner's role/);
    await rig.call('/api/users/enid', { method: 'PATCH', credential: ada, body: { role: 'energy' } });
    expect((await rig.call('/api/me', { credential: { token: forever.token } })).status).toBe(200);

    await rig.call('/api/users/enid', { method: 'PATCH', credential: ada, body: { disabled: true } });
    expect((await rig.call('/api/me', { credential: { token: forever.token } })).status).toBe(401);
    expect((await rig.call('/api/me', { credential: { cookie: enid } })).status).toBe(401);
    await rig.call('/api/users/enid', { method: 'PATCH', credential: ada, body: { disabled: false } });
  });

  it('refuses a malformed Authorization header and an unknown token', async () => {
    for (const authorization of ['Basic dmVyYTp4', 'Bearer', `Bearer glt_${'A'.repeat(43)}`, 'Bearer nonsense']) {
      const res = await fetch(`${rig.url}/api/plant`, { headers: { authorization } });
      expect(res.status, authorization).toBe(401);
    }
  });
});

describe('user management', () => {
  let rig: AuthRig;

  beforeAll(async () => {
    rig = await startAuthRig();
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('lists, creates, changes and removes users, never showing a password or hash', async () => {
    const ada = { cookie: await rig.login('ada') };
    const list = await json<UsersResponse>(await rig.call('/api/users', { credential: ada }));
    expect(list.users.map((u) => [u.username, u.role, u.origin])).toEqual([
      ['ada', 'admin', 'config'],
      ['enid', 'energy', 'config'],
      ['otto', 'operator', 'config'],
      ['vera', 'viewer', 'config'],
    ]);
    for (const u of list.users) expect(Object.keys(u).some((k) => /password(?!ChangedAt)/i.test(k))).toBe(false);

    const created = await rig.call('/api/users', {
      method: 'POST',
      credential: ada,
      body: { username: 'pat', role: 'operator', password: 'pat password 1', displayName: 'Pat Chan' },
    });
    expect(created.status).toBe(201);
    expect(await json(created)).toMatchObject({
      username: 'pat',
      role: 'operator',
      displayName: 'Pat Chan',
      origin: 'admin',
    });
    const dup = await rig.call('/api/users', {
      method: 'POST',
      credential: ada,
      body: { username: 'PAT', role: 'viewer', password: 'another password' },
    });
    expect(dup.status).toBe(409);

    const pat = await rig.login('pat', 'pat password 1');
    const patLive = await rig.openLive({ cookie: pat });
    expect(patLive.status).toBe('open');
    // a new password ends pat's sign-ins, live connection included
    const closed =
      patLive.status === 'open' ? new Promise<number>((r) => patLive.ws.once('close', (code) => r(code))) : null;
    const reset = await rig.call('/api/users/pat', {
      method: 'PATCH',
      credential: ada,
      body: { password: 'pat password 2' },
    });
    expect(reset.status).toBe(200);
    expect(await closed).toBe(4401);
    expect((await rig.call('/api/me', { credential: { cookie: pat } })).status).toBe(401);
    const pat2 = await rig.login('pat', 'pat password 2');
    // a role change applies to the next request
    expect(
      (
        await rig.call('/api/export/energy.csv?from=2025-01-01&to=2025-01-02&period=day&level=site', {
          credential: { cookie: pat2 },
        })
      ).status,
    ).toBe(403);
    await rig.call('/api/users/pat', { method: 'PATCH', credential: ada, body: { role: 'energy' } });
    expect(
      (
        await rig.call('/api/export/energy.csv?from=2025-01-01&to=2025-01-02&period=day&level=site', {
          credential: { cookie: pat2 },
        })
      ).status,
    ).toBe(200);

    expect((await rig.call('/api/users/pat', { method: 'DELETE', credential: ada })).status).toBe(204);
    expect((await rig.call('/api/me', { credential: { cookie: pat2 } })).status).toBe(401);
    expect((await rig.call('/api/users/pat', { method: 'DELETE', credential: ada })).status).toBe(404);
  });

  it('keeps the last enabled admin', async () => {
    const ada = { cookie: await rig.login('ada') };
    for (const [method, body] of [
      ['DELETE', undefined],
      ['PATCH', { disabled: true }],
      ['PATCH', { role: 'viewer' }],
    ] as const) {
      const res = await rig.call('/api/users/ada', { method, credential: ada, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${JSON.stringify(body)}`).toBe(409);
      expect((await json<{ error: { code: string } }>(res)).error.code).toBe('GL_ERR_CONFLICT');
    }
    await rig.call('/api/users/otto', { method: 'PATCH', credential: ada, body: { role: 'admin' } });
    expect(
      (await rig.call('/api/users/ada', { method: 'PATCH', credential: ada, body: { role: 'viewer' } })).status,
    ).toBe(200);
  });

  it("remembers each user's dashboard language across sign-ins and refuses one it does not know", async () => {
    const here = await rig.login('vera');
    const me = await json<{ language: string | null }>(await rig.call('/api/me', { credential: { cookie: here } }));
    expect(me.language).toBeNull();
    const set = await rig.call('/api/me/language', {
      method: 'PUT',
      credential: { cookie: here },
      body: { language: 'zh-Hant' },
    });
    expect(set.status).toBe(200);
    expect((await json<{ language: string }>(set)).language).toBe('zh-Hant');
    // another sign-in of the same user (another tablet) finds it
    const elsewhere = await rig.login('vera');
    const there = await json<{ language: string }>(await rig.call('/api/me', { credential: { cookie: elsewhere } }));
    expect(there.language).toBe('zh-Hant');
    expect(rig.users.findUser('vera')!.language).toBe('zh-Hant');

    const bad = await rig.call('/api/me/language', {
      method: 'PUT',
      credential: { cookie: here },
      body: { language: 'fr' },
    });
    expect(bad.status).toBe(400);
    const problem = await json<{ error: { issues: { path: string; message: string }[] } }>(bad);
    expect(problem.error.issues[0]!.path).toBe('body.language');
    expect(problem.error.issues[0]!.message).toMatch(/en, zh-Hant/);
    expect(rig.users.findUser('vera')!.language).toBe('zh-Hant');
  });

  it('lets a user change their own password, which ends their other sign-ins', async () => {
    const here = await rig.login('vera');
    const elsewhere = await rig.login('vera');
    const wrong = await rig.call('/api/me/password', {
      method: 'POST',
      credential: { cookie: here },
      body: { currentPassword: 'not it at all', newPassword: 'vera new password' },
    });
    expect(wrong.status).toBe(400);
    expect((await json<{ error: { issues: { path: string }[] } }>(wrong)).error.issues[0]!.path).toBe(
      'body.currentPassword',
    );
    const ok = await rig.call('/api/me/password', {
      method: 'POST',
      credential: { cookie: here },
      body: { currentPassword: PASSWORD, newPassword: 'vera new password' },
    });
    expect(ok.status).toBe(204);
    expect((await rig.call('/api/me', { credential: { cookie: here } })).status).toBe(200);
    expect((await rig.call('/api/me', { credential: { cookie: elsewhere } })).status).toBe(401);
    await expect(rig.login('vera')).rejects.toThrow(/401/);
    await rig.login('vera', 'vera new password');
  });
});

describe('password hashes', () => {
  it('use scrypt N=2^15, r=8, p=1 by default, and a weaker stored hash is upgraded at sign-in', async () => {
    const rig = await startAuthRig({ auth: { cost: DEFAULT_COST } });
    try {
      const weak = await hashPassword('weak hash user 1', { ln: 10, r: 8, p: 1 });
      rig.users.createUser({ username: 'wes', displayName: null, role: 'viewer', passwordHash: weak, origin: 'admin' });
      expect(rig.users.findUser('vera')!.passwordHash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
      await rig.login('wes', 'weak hash user 1');
      const upgraded = rig.users.findUser('wes')!.passwordHash;
      expect(upgraded).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
      await rig.login('wes', 'weak hash user 1');
    } finally {
      await rig.close();
    }
  });

  it('take as long for an unknown user as for a wrong password', async () => {
    const rig = await startAuthRig({ auth: { cost: DEFAULT_COST, limits: { perUsername: 1000, perAddress: 1000 } } });
    try {
      const time = async (username: string) => {
        const start = performance.now();
        const res = await rig.call('/api/login', { method: 'POST', body: { username, password: 'wrong password' } });
        expect(res.status).toBe(401);
        await res.arrayBuffer();
        return performance.now() - start;
      };
      await time('vera'); // warm up
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 8; i++) {
        known.push(await time('vera'));
        unknown.push(await time(`ghost${i}`));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
      const ratio = median(unknown) / median(known);
      // both run one scrypt of the same cost (tens of ms); a skipped check would be ~100 times faster
      expect(median(known)).toBeGreaterThan(10);
      expect(ratio).toBeGreaterThan(0.6);
      expect(ratio).toBeLessThan(1.6);
    } finally {
      await rig.close();
    }
  });
});
