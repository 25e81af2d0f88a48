/**
 * The dashboard's pages behind the URL's hash: `#/` the plant overview (also
 * for an empty or unknown hash), `#/live` the live tags, `#/energy` energy
 * and carbon, `#/health` the gateway's health, `#/alarms` the alarms (with
 * `#/alarms/history` and `#/alarms/stats`); `#/machine/<id>` and
 * `#/line/<id>` are details reached from the overview. A hash router needs
 * nothing from the server and keeps working behind a reverse proxy's prefix.
 */

export const ROUTES = ['overview', 'live', 'alarms', 'energy', 'health'] as const;
export type Route = (typeof ROUTES)[number];

const HASHES: Record<Route, string> = {
  overview: '#/',
  live: '#/live',
  alarms: '#/alarms',
  energy: '#/energy',
  health: '#/health',
};

export function parseRoute(hash: string): Route {
  const path = hash
    .replace(/^#/, '')
    .replace(/[?].*$/, '')
    .replace(/\/+$/, '');
  if (path === '/live' || path === 'live') return 'live';
  if (path === '/energy' || path === 'energy') return 'energy';
  if (path === '/health' || path === 'health') return 'health';
  if (/^\/?alarms(\/(history|stats))?$/.test(path)) return 'alarms';
  return 'overview';
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
