import { describe, expect, it } from 'vitest';
import { accessOf } from '../../gateway/server/auth/access-control.js';
import { readCookie, sessionCookie } from '../../gateway/server/auth/cookies.js';
import { isApiToken, newApiToken, newSessionId, tokenHint } from '../../gateway/server/auth/credentials.js';
import { FailureLimiter } from '../../gateway/server/auth/login-limiter.js';
import {
  formatHash,
  hashPassword,
  needsRehash,
  parseHash,
  randomPassword,
  verifyPassword,
} from '../../gateway/server/auth/passwords.js';
import { capabilitiesOf, ROLE_CAPABILITIES, withinRole } from '../../gateway/server/auth/permissions.js';

const CHEAP = { ln: 10, r: 8, p: 1 };

describe('permissions', () => {
  it('give each role its capabilities', () => {
    expect(Object.fromEntries(Object.entries(ROLE_CAPABILITIES).map(([r, caps]) => [r, [...caps].sort()]))).toEqual({
      viewer: ['read'],
      operator: ['alarms.act', 'read'],
      energy: ['export', 'read'],
      admin: ['alarms.act', 'alarms.manage', 'export', 'read', 'users.manage'],
    });
    expect([...capabilitiesOf('superuser')]).toEqual([]);
  });

  it('order roles for token ceilings by what they may do', () => {
    expect(withinRole('viewer', 'operator')).toBe(true);
    expect(withinRole('energy', 'operator')).toBe(false);
    expect(withinRole('operator', 'energy')).toBe(false);
    expect(withinRole('admin', 'admin')).toBe(true);
    expect(withinRole('operator', 'admin')).toBe(true);
    expect(withinRole('viewer', 'nonsense')).toBe(false);
  });

  it('find a route its access: its own, the table, its family, else none', () => {
    expect(accessOf('GET', '/api/plant')).toBe('read');
    expect(accessOf('HEAD', '/api/plant')).toBe('read');
    expect(accessOf('GET', '/api/plant', 'public')).toBe('public');
    expect(accessOf('GET', '/api/plant', 'nonsense')).toBe('read');
    expect(accessOf('GET', '/api/export/carbon.csv')).toBe('export');
    expect(accessOf('GET', '/api/alarms')).toBe('read');
    expect(accessOf('GET', '/api/alarms/:id/audit')).toBe('read');
    expect(accessOf('POST', '/api/alarms/:id/acknowledge')).toBe('alarms.act');
    expect(accessOf('POST', '/api/alarms/:id/out-of-service')).toBe('alarms.manage');
    expect(accessOf('POST', '/api/alarms/:id/return-to-service')).toBe('alarms.manage');
    expect(accessOf('POST', '/api/alarmsx')).toBeNull();
    expect(accessOf('GET', '/api/something-new')).toBeNull();
    expect(accessOf('POST', '/api/plant')).toBeNull();
  });
});

describe('password hashes', () => {
  it('keep their parameters and salt, and verify only the password', async () => {
    const h = await hashPassword('a long password', CHEAP);
    expect(h).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword('a long password', h)).toBe(true);
    expect(await verifyPassword('a long passwort', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
    expect(await hashPassword('a long password', CHEAP)).not.toBe(h);
    // Unicode forms of one text are one password
    const cafe = await hashPassword('caf\u00e9 au lait!', CHEAP);
    expect(await verifyPassword('cafe\u0301 au lait!', cafe)).toBe(true);
  });

  it('refuse damaged or absurd stored parameters', async () => {
    expect(parseHash('plain text')).toBeNull();
    expect(
      parseHash('$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
    ).toBeNull();
    expect(await verifyPassword('x', 'plain text')).toBe(false);
    const parsed = parseHash(formatHash(CHEAP, Buffer.alloc(16, 1), Buffer.alloc(32, 2)))!;
    expect(parsed.cost).toEqual(CHEAP);
    expect(parsed.salt).toEqual(Buffer.alloc(16, 1));
  });

  it('call for re-hashing below the current cost', async () => {
    const h = await hashPassword('a long password', CHEAP);
    expect(needsRehash(h, CHEAP)).toBe(false);
    expect(needsRehash(h, { ln: 15, r: 8, p: 1 })).toBe(true);
  });

  it('make random passwords to read off a screen', () => {
    const seen = new Set(Array.from({ length: 50 }, () => randomPassword()));
    expect(seen.size).toBe(50);
    for (const p of seen) expect(p).toMatch(/^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){4}$/);
  });
});

describe('credentials and cookies', () => {
  it('are 256 random bits', () => {
    expect(newSessionId()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const t = newApiToken();
    expect(isApiToken(t)).toBe(true);
    expect(isApiToken(t.slice(1))).toBe(false);
    expect(tokenHint(t)).toBe(t.slice(0, 8));
  });

  it('read the cookie by name and write its attributes', () => {
    expect(readCookie('a=1; greenline_session=abc; b=2', 'greenline_session')).toBe('abc');
    expect(readCookie('xgreenline_session=abc', 'greenline_session')).toBeUndefined();
    expect(readCookie(undefined, 'greenline_session')).toBeUndefined();
    expect(sessionCookie('n', 'v', 60, true)).toBe('n=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure');
  });
});

describe('failure limiter', () => {
  it('refuses a key after the limit until the oldest failure leaves the window', () => {
    const l = new FailureLimiter({ limit: 3, windowMs: 1000 });
    for (const t of [0, 100, 200]) {
      expect(l.retryAfterMs('k', t)).toBe(0);
      l.record('k', t);
    }
    expect(l.retryAfterMs('k', 300)).toBe(700);
    expect(l.retryAfterMs('other', 300)).toBe(0);
    expect(l.retryAfterMs('k', 1000)).toBe(0);
    l.forgive('k');
    l.record('k', 1000);
    expect(l.retryAfterMs('k', 1000)).toBe(0);
    l.reset('k');
    expect(l.size).toBe(0);
  });

  it('holds a bounded number of keys', () => {
    const l = new FailureLimiter({ limit: 5, windowMs: 60_000, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) l.record(`k${i}`, i);
    expect(l.size).toBeLessThanOrEqual(100);
    expect(l.retryAfterMs('k999', 1000)).toBe(0);
  });
});
