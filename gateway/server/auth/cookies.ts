/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Strict (no
 * other site's page sends it: the first defence against cross-site
 * requests), Path=/, Secure under TLS, where it also takes the `__Host-`
 * prefix (no subdomain or plain-HTTP page can set or shadow it).
 */
export const SESSION_COOKIE = 'greenline_session';
export const SECURE_SESSION_COOKIE = '__Host-greenline_session';

export function sessionCookieName(secure: boolean): string {
  return secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}

/** The first value of a cookie in a `Cookie` header; undefined when absent. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text) return undefined;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

export function sessionCookie(name: string, value: string, maxAgeS: number, secure: boolean): string {
  return [
    `${name}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(maxAgeS))}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/** tells the browser to forget the cookie */
export function clearedCookie(name: string, secure: boolean): string {
  return sessionCookie(name, '', 0, secure);
}
