/**
 * Who is signed in: the sign-in page until someone is, the name, role and
 * sign-out button in the header (the name leads to one's account page), the
 * user's language kept on their account, and a watch that brings the
 * sign-in page back when the sign-in ends (signed out elsewhere, expired,
 * disabled).
 */
import type { ApiError, LanguageRequest, Me, Role } from '../../gateway/server/contract.js';
import './account.css';
import { h } from './dom.js';
import { type Lang, type MessageKey, storesLanguage, type Translate } from './i18n.js';
import { routeHash } from './router.js';
import { SignInPage } from './sign-in-page.js';

/** how often the dashboard asks whether its sign-in still holds */
const WATCH_MS = 30_000;

const ROLE_NAMES: Record<Role, MessageKey> = {
  viewer: 'userRole.viewer',
  operator: 'userRole.operator',
  energy: 'userRole.energy',
  admin: 'userRole.admin',
};

let current: Me | null = null;
const listeners = new Set<(me: Me) => void>();

/** the signed-in user; null before sign-in, or on a gateway without sign-in */
export function currentAccount(): Me | null {
  return current;
}

/** called whenever the gateway answers with a newer picture of the signed-in user (its language saved) */
export function onAccountChange(listener: (me: Me) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function accountChanged(me: Me): void {
  if (current === null) return;
  current = me;
  for (const listener of listeners) listener(me);
}

async function fetchMe(): Promise<{ status: number; me: Me | null }> {
  const res = await fetch(new URL('api/me', document.baseURI), { headers: { accept: 'application/json' } });
  return { status: res.status, me: res.ok ? ((await res.json()) as Me) : null };
}

/**
 * Resolves with the signed-in user, showing the sign-in page in `root` until
 * there is one; null when the gateway has no sign-in at all.
 */
export async function ensureSignedIn(
  root: HTMLElement,
  lang: Lang,
  onLangChange: (lang: Lang) => void,
): Promise<Me | null> {
  let problem: string | null = null;
  try {
    const { status, me } = await fetchMe();
    if (me !== null) {
      current = me;
      return me;
    }
    if (status === 404) return null;
    if (status !== 401) problem = `HTTP ${status}`;
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  return new Promise<Me>((resolve) => {
    const page = new SignInPage({
      lang,
      onLangChange,
      problem,
      onSignedIn: (me) => {
        current = me;
        resolve(me);
      },
    });
    root.replaceChildren(page.el);
    page.focus();
  });
}

export function roleName(role: Role, t: Translate): string {
  return t(ROLE_NAMES[role]);
}

/** The header's part: who is signed in, as what (a link to their account page), and the sign-out button. */
export function accountTools(me: Me, t: Translate): HTMLElement {
  const name = me.displayName ?? me.username;
  const role = roleName(me.role, t);
  const button = h(
    'button',
    { type: 'button', class: 'account-signout', 'data-testid': 'sign-out', disabled: me.via !== 'session' },
    t('account.signOut'),
  );
  button.addEventListener('click', () => void signOut());
  return h(
    'div',
    { class: 'account', 'data-testid': 'account', role: 'group', 'aria-label': t('account.label', { name, role }) },
    h(
      'a',
      {
        class: 'account-who',
        href: routeHash('account'),
        'data-route': 'account',
        'data-testid': 'account-link',
        title: t('account.open'),
      },
      h('span', { class: 'account-name', 'data-testid': 'account-name' }, name),
      h('span', { class: 'account-role', 'data-testid': 'account-role', 'data-role': me.role }, role),
    ),
    button,
  );
}

export async function signOut(): Promise<void> {
  try {
    // JSON content type: the gateway refuses state changes without it (cross-site defence)
    await fetch(new URL('api/logout', document.baseURI), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
  } finally {
    current = null;
    window.location.reload();
  }
}

let languageSaves: Promise<void> = Promise.resolve();

/**
 * Keeps a language choice on the signed-in user's account (PUT
 * /api/me/language), so every screen they sign in on shows it. Choices are
 * sent one after the other: the last one made is the one kept. Resolves at
 * once where nothing is stored (no sign-in, an API token); rejects with the
 * reason when the gateway did not keep it.
 */
export function saveAccountLanguage(lang: Lang): Promise<void> {
  if (!storesLanguage(current)) return Promise.resolve();
  const body: LanguageRequest = { language: lang };
  const save = languageSaves.then(async () => {
    const res = await fetch(new URL('api/me/language', document.baseURI), {
      method: 'PUT',
      // JSON: the gateway refuses state changes without it (cross-site defence)
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status === 401) signInEnded();
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      try {
        message = ((await res.json()) as ApiError).error.message || message;
      } catch {
        // not JSON: the status says enough
      }
      throw new Error(message);
    }
    accountChanged((await res.json()) as Me);
  });
  // a failed save does not hold up the next choice
  languageSaves = save.catch(() => undefined);
  return save;
}

/** Brings the sign-in page back once the sign-in has ended; checks every 30 s. */
export function watchSignIn(): void {
  if (current === null) return;
  window.setInterval(async () => {
    try {
      if ((await fetchMe()).status === 401) signInEnded();
    } catch {
      // the gateway is away: the connection state says so; the next check tells
    }
  }, WATCH_MS);
}

/** an answer said 401: the sign-in ended, show the sign-in page */
export function signInEnded(): void {
  if (current === null) return;
  current = null;
  window.location.reload();
}
