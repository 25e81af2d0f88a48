import { describe, expect, it } from 'vitest';
import { NAV_ROUTES, navRoutesFor, parseRoute, ROUTES, routeHash } from '../../dashboard/src/router.js';

describe('dashboard router: users and my account', () => {
  it('opens user management and one’s account, with or without slashes', () => {
    for (const hash of ['#/users', '#/users/', '#users', '#/users?x=1']) expect(parseRoute(hash)).toBe('users');
    for (const hash of ['#/account', '#/account/', '#account']) expect(parseRoute(hash)).toBe('account');
    for (const route of ROUTES) expect(parseRoute(routeHash(route))).toBe(route);
    // no page by a similar name
    expect(parseRoute('#/users/admin')).toBe('overview');
    expect(parseRoute('#/accounts')).toBe('overview');
  });

  it('links to user management only for a role that may manage users', () => {
    const everyone = ['overview', 'live', 'alarms', 'energy', 'health'];
    expect(navRoutesFor(['read'])).toEqual(everyone);
    expect(navRoutesFor(['read', 'alarms.act'])).toEqual(everyone);
    expect(navRoutesFor(['read', 'alarms.act', 'alarms.manage', 'export', 'users.manage'])).toEqual([
      ...everyone,
      'users',
    ]);
    // a gateway without sign-in has no users to manage
    expect(navRoutesFor(null)).toEqual(everyone);
    // one's account is reached from the name in the header, not the navigation
    expect(NAV_ROUTES).not.toContain('account');
  });
});
