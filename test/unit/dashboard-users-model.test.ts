import { describe, expect, it } from 'vitest';
import { ROLES as CONFIG_ROLES, User } from '../../config/schema.js';
import type { UserView } from '../../gateway/server/contract.js';
import { PASSWORD_MIN as GATEWAY_PASSWORD_MIN } from '../../gateway/server/auth/auth-routes.js';
import { usersDictionaries } from '../../dashboard/src/users/users-i18n.js';
import {
  changesOwnPassword,
  checkNewUser,
  checkPasswordChange,
  hasCapability,
  isLastAdmin,
  issueProblems,
  knownOrigin,
  PASSWORD_MIN,
  passwordProblem,
  ROLES,
  refusalOf,
  sameUser,
  siteDateTime,
  sortUsers,
  summarize,
  USERNAME_PATTERN,
} from '../../dashboard/src/users/users-model.js';

function user(username: string, over: Partial<UserView> = {}): UserView {
  return {
    username,
    displayName: null,
    role: 'viewer',
    disabled: false,
    origin: 'admin',
    createdAt: 1_740_816_000_000,
    passwordChangedAt: 1_740_816_000_000,
    lastLoginAt: null,
    ...over,
  };
}

describe('users model: the gateway’s rules, mirrored', () => {
  it('accepts and refuses the same usernames as the config schema', () => {
    const names = [
      'ab',
      'a',
      'admin',
      'Mei.Ling_2',
      'ops@site-1',
      'with space',
      'trailing ',
      'ünïcode',
      '陳大文',
      'x'.repeat(64),
      'x'.repeat(65),
      'semi;colon',
      '',
    ];
    for (const name of names) {
      const schema = User.shape.username.safeParse(name).success;
      expect(USERNAME_PATTERN.test(name), name).toBe(schema);
    }
  });

  it('knows every role of the config, from the least to the most it may do', () => {
    expect([...ROLES].sort()).toEqual([...CONFIG_ROLES].sort());
    expect(ROLES).toEqual(['viewer', 'operator', 'energy', 'admin']);
  });

  it('asks for passwords as long as the gateway does, and never the username', () => {
    expect(PASSWORD_MIN).toBe(GATEWAY_PASSWORD_MIN);
    expect(passwordProblem('', 'mei')).toEqual({ code: 'required' });
    expect(passwordProblem('123456789', 'mei')).toEqual({ code: 'password-short' });
    expect(passwordProblem('1234567890', 'mei')).toBeNull();
    expect(passwordProblem('x'.repeat(1025), 'mei')).toEqual({ code: 'password-long' });
    // as the gateway compares: trimmed, in any case
    expect(passwordProblem('  Operator-7 ', 'operator-7')).toEqual({ code: 'password-is-username' });
    expect(passwordProblem('operator-7!', 'operator-7')).toBeNull();
  });
});

describe('users model: the add-user form', () => {
  it('sends a trimmed name and a display name, or null for none', () => {
    const { problems, request } = checkNewUser({
      username: '  mei.ling ',
      displayName: '  陳美玲 ',
      role: 'operator',
      password: 'night shift 7',
    });
    expect(problems).toEqual({});
    expect(request).toEqual({
      username: 'mei.ling',
      role: 'operator',
      password: 'night shift 7',
      displayName: '陳美玲',
    });
    expect(
      checkNewUser({ username: 'kai', displayName: '   ', role: 'viewer', password: 'long enough 1' }).request,
    ).toMatchObject({ displayName: null });
  });

  it('lists every problem at once, each for its field', () => {
    const { problems, request } = checkNewUser({
      username: 'has space',
      displayName: 'x'.repeat(101),
      role: 'superuser',
      password: 'short',
    });
    expect(request).toBeNull();
    expect(problems).toEqual({
      username: { code: 'username-pattern' },
      displayName: { code: 'display-name-long' },
      role: { code: 'required' },
      password: { code: 'password-short' },
    });
    expect(checkNewUser({ username: '', displayName: '', role: 'viewer', password: '' }).problems).toEqual({
      username: { code: 'required' },
      password: { code: 'required' },
    });
    expect(
      checkNewUser({ username: 'kiosk-display-1', displayName: '', role: 'viewer', password: 'KIOSK-Display-1' })
        .problems.password,
    ).toEqual({ code: 'password-is-username' });
  });
});

describe('users model: changing one’s own password', () => {
  it('needs the current password, a good new one, the same twice', () => {
    expect(
      checkPasswordChange(
        { currentPassword: 'old one', newPassword: 'brand new 12', repeatPassword: 'brand new 12' },
        'mei',
      ),
    ).toEqual({});
    expect(checkPasswordChange({ currentPassword: '', newPassword: 'short', repeatPassword: '' }, 'mei')).toEqual({
      currentPassword: { code: 'required' },
      newPassword: { code: 'password-short' },
      repeatPassword: { code: 'required' },
    });
    expect(
      checkPasswordChange({ currentPassword: 'x', newPassword: 'brand new 12', repeatPassword: 'brand new 13' }, 'mei'),
    ).toEqual({ repeatPassword: { code: 'repeat-mismatch' } });
  });
});

describe('users model: the gateway’s problems next to their fields', () => {
  it('words the problems it knows and keeps the gateway’s words for the rest', () => {
    const { problems, other } = issueProblems(
      [
        { path: 'body.password', message: 'must be at least 10 characters' },
        { path: 'body.username', message: 'use 2–64 letters, digits, ".", "_", "-" or "@"' },
        { path: 'body.displayName', message: 'Too big: expected string to have <=100 characters' },
        { path: 'body', message: 'Unrecognized key: "colour"' },
      ],
      ['username', 'displayName', 'role', 'password'] as const,
    );
    expect(problems).toEqual({
      password: { code: 'password-short' },
      username: { code: 'username-pattern' },
      displayName: { text: 'Too big: expected string to have <=100 characters' },
    });
    expect(other).toEqual(['body: Unrecognized key: "colour"']);
    expect(
      issueProblems([{ path: 'body.currentPassword', message: 'is not your current password' }], [
        'currentPassword',
        'newPassword',
      ] as const).problems,
    ).toEqual({ currentPassword: { code: 'current-wrong' } });
    expect(
      issueProblems([{ path: 'body.password', message: 'must not be the username' }], ['password'] as const).problems,
    ).toEqual({ password: { code: 'password-is-username' } });
  });

  it('reads a 409 as a taken name when adding and as the last administrator otherwise', () => {
    expect(refusalOf('create', 409)).toBe('name-taken');
    for (const action of ['role', 'disable', 'delete'] as const) expect(refusalOf(action, 409)).toBe('last-admin');
    expect(refusalOf('role', 404)).toBe('not-found');
    expect(refusalOf('create', 404)).toBeNull();
    expect(refusalOf('own-password', 429)).toBe('throttled');
    expect(refusalOf('delete', 403)).toBe('forbidden');
    expect(refusalOf('password', 500)).toBeNull();
  });
});

describe('users model: the list', () => {
  it('lists enabled users first, each group by name, ignoring case', () => {
    const sorted = sortUsers([
      user('zoe'),
      user('Admin', { role: 'admin' }),
      user('bob', { disabled: true }),
      user('user10'),
      user('user9'),
      user('alice', { disabled: true }),
    ]);
    expect(sorted.map((u) => u.username)).toEqual(['Admin', 'user9', 'user10', 'zoe', 'alice', 'bob']);
  });

  it('counts users, disabled ones and enabled administrators, and knows the last one', () => {
    const admin = user('admin', { role: 'admin' });
    const retired = user('old-admin', { role: 'admin', disabled: true });
    const users = [admin, retired, user('viewer'), user('kiosk', { disabled: true })];
    expect(summarize(users)).toEqual({ total: 4, disabled: 2, admins: 1 });
    expect(isLastAdmin(admin, users)).toBe(true);
    expect(isLastAdmin(retired, users)).toBe(false);
    expect(isLastAdmin(admin, [...users, user('second', { role: 'admin' })])).toBe(false);
  });

  it('names the origins it knows and shows others as written', () => {
    expect(knownOrigin('first-run')).toBe('first-run');
    expect(knownOrigin('demo')).toBe('demo');
    expect(knownOrigin('ldap-sync')).toBeNull();
  });

  it('compares names as the gateway does, ignoring case', () => {
    expect(sameUser('Admin', 'admin')).toBe(true);
    expect(sameUser('admin', 'admin2')).toBe(false);
  });

  it('shows dates in the site’s time zone, not the screen’s', () => {
    // 2025-03-01 06:32 UTC is 14:32 in Hong Kong and 07:32 in Berlin (winter time)
    const ts = Date.UTC(2025, 2, 1, 6, 32);
    const hk = siteDateTime(ts, 'Asia/Hong_Kong', 'en');
    expect(hk.time).toBe('14:32');
    expect(hk.date).toMatch(/Mar.*1.*2025/);
    expect(siteDateTime(ts, 'Europe/Berlin', 'en').time).toBe('07:32');
    // late evening in Hong Kong is the next day there
    expect(siteDateTime(Date.UTC(2025, 2, 1, 17, 0), 'Asia/Hong_Kong', 'en').date).toMatch(/Mar.*2.*2025/);
    const zh = siteDateTime(ts, 'Asia/Hong_Kong', 'zh-Hant');
    expect(zh.date).toBe('2025年3月1日');
    expect(zh.full).toContain('14:32');
  });
});

describe('users model: who may do what', () => {
  const me = (over: Partial<{ capabilities: string[]; via: 'session' | 'token' }>) => ({
    capabilities: ['read'] as never[],
    via: 'session' as const,
    ...over,
  });

  it('manages users only with users.manage, changes a password only when signed in with one', () => {
    expect(hasCapability(me({ capabilities: ['read', 'users.manage'] }) as never, 'users.manage')).toBe(true);
    expect(hasCapability(me({}) as never, 'users.manage')).toBe(false);
    expect(hasCapability(null, 'users.manage')).toBe(false);
    expect(changesOwnPassword({ via: 'session' })).toBe(true);
    expect(changesOwnPassword({ via: 'token' })).toBe(false);
    expect(changesOwnPassword(null)).toBe(false);
  });
});

describe('users words', () => {
  it('has every word in both languages, none empty, with the same placeholders', () => {
    const { en, 'zh-Hant': zh } = usersDictionaries();
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    const vars = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(en)) {
      expect(zh[key]?.trim(), key).not.toBe('');
      expect(vars(zh[key] ?? ''), key).toEqual(vars(en[key] ?? ''));
    }
  });
});
