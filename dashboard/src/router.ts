/**
 * The dashboard's pages behind the URL's hash: `#/` the plant overview (also
 * for an empty or unknown hash), `#/live` the live tags, `#/energy` energy
 * and carbon, `#/health` the gateway's health, `#/alarms` the alarms (with
 * `#/alarms/history` and `#/alarms/stats`), `#/users` user management
 * (administrators) and `#/account` one's own account; `#/machine/<id>` and
 * `#/line/<id>` are details reached from the overview. A hash router needs
 * nothing from the server and keeps working behind a reverse proxy's prefix.
 */
import type { Capability } from '../../gateway/server/contract.js';

export const ROUTES = ['overview', 'live', 'alarms', 'energy', 'health', 'users', 'account'] as const;
export type Route = (typeof ROUTES)[number];

/** the pages the header's navigation links to, in order; one's account is reached from the account part */
export const NAV_ROUTES: readonly Route[] = ['overview', 'live', 'alarms', 'energy', 'health', 'users'];

/** the capability a navigation link needs; the others are for everyone who may read */
const NAV_NEEDS: Partial<Record<Route, Capability>> = { users: 'users.manage' };

const HASHES: Record<Route, string> = {
  overview: '#/',
  live: '#/live',
  alarms: '#/alarms',
  energy: '#/energy',
  health: '#/health',
  users: '#/users',
  account: '#/account',
};

/** one path segment that names a page by itself */
const SIMPLE: ReadonlySet<string> = new Set(['live', 'energy', 'health', 'users', 'account']);

export function parseRoute(hash: string): Route {
  const path = hash
    .replace(/^#/, '')
    .replace(/[?].*$/, '')
    .replace(/\/+$/, '')
    .replace(/^\//, '');
  if (SIMPLE.has(path)) return path as Route;
  if (/^alarms(\/(history|stats))?$/.test(path)) return 'alarms';
  return 'overview';
}

/**
 * The navigation links a signed-in user sees: user management only with
 * `users.manage`. `null`: a gateway without sign-in, where there are no
 * users to manage.
 */
export function navRoutesFor(capabilities: readonly Capability[] | null): Route[] {
  return NAV_ROUTES.filter((route) => {
    const needs = NAV_NEEDS[route];
    return needs === undefined || (capabilities?.includes(needs) ?? false);
  });
}

/** A machine or line detail page, or null for a page of the navigation. */
export interface DetailRoute {
  readonly kind: 'machine' | 'line';
  readonly id: string;
}

export function parseDetail(hash: string): DetailRoute | null {
  const m = /^#?\/?(machine|line)\/([^/?]+)\/?(?:\?.*)?$/.exec(hash);
  if (!m) return null;
  let id: string;
  try {
    id = decodeURIComponent(m[2]!);
  } catch {
    return null;
  }
  return { kind: m[1] as DetailRoute['kind'], id };
}

export function detailHash(kind: DetailRoute['kind'], id: string): string {
  return `#/${kind}/${encodeURIComponent(id)}`;
}

export function routeHash(route: Route): string {
  return HASHES[route];
}
