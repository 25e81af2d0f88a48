/**
 * The dashboard's pages behind the URL's hash: `#/` the plant overview (also
 * for an empty or unknown hash), `#/live` the live tags. A hash router needs
 * nothing from the server and keeps working behind a reverse proxy's prefix.
 */

export const ROUTES = ['overview', 'live'] as const;
export type Route = (typeof ROUTES)[number];

const HASHES: Record<Route, string> = { overview: '#/', live: '#/live' };

export function parseRoute(hash: string): Route {
  const path = hash
    .replace(/^#/, '')
    .replace(/[?].*$/, '')
    .replace(/\/+$/, '');
  if (path === '/live' || path === 'live') return 'live';
  return 'overview';
}

export function routeHash(route: Route): string {
  return HASHES[route];
}
