/**
 * Signing in from the end-to-end tests, as a script or browser would: POST
 * /api/login, then the session cookie on every fetch, WebSocket and browser
 * context. The demo's accounts are documented in gateway/server/README.md.
 */
import type { BrowserContext } from 'playwright-core';

export const DEMO_VIEWER = { username: 'viewer', password: 'viewer-demo' } as const;

export interface SignedIn {
  /** the value of a `Cookie` header */
  readonly cookie: string;
  readonly name: string;
  readonly value: string;
}

export async function signIn(baseUrl: string, username: string, password: string): Promise<SignedIn> {
  const res = await fetch(`${baseUrl}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`sign-in as ${username} failed: ${res.status} ${await res.text()}`);
  const set = res.headers.get('set-cookie') ?? '';
  const pair = set.split(';')[0] ?? '';
  const eq = pair.indexOf('=');
  return { cookie: pair, name: pair.slice(0, eq), value: pair.slice(eq + 1) };
}

/** the browser context sends the session cookie to the gateway from now on */
export async function signInBrowser(
  context: BrowserContext,
  baseUrl: string,
  username: string,
  password: string,
): Promise<SignedIn> {
  const signedIn = await signIn(baseUrl, username, password);
  await context.addCookies([
    { name: signedIn.name, value: signedIn.value, url: baseUrl, httpOnly: true, sameSite: 'Strict' },
  ]);
  return signedIn;
}
