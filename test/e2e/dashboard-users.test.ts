/**
 * User management, one's own account and the language kept per user, in a
 * real browser against the real demo: an administrator adds a user through
 * the form (a too-short password is refused next to its field), changes
 * their role, disables them (the gateway then refuses their sign-in) and
 * deletes them; the gateway's refusal to demote the last administrator is
 * shown; a viewer gets no users link and a plain "not allowed"; a user
 * changes their own password; an operator's language follows them to
 * another tablet while a viewer there keeps the tablet's English.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { siteDateTime } from '../../dashboard/src/users/users-model.js';
import type { DemoRun } from '../../gateway/demo.js';
import { startDemo } from '../../gateway/demo.js';
import type { Me, PlantView, UsersResponse } from '../../gateway/server/contract.js';
import { type SignedIn, signIn } from './sign-in.js';
import { ensureDashboardBuilt } from '../lib/fresh-build.js';

const root = resolve(import.meta.dirname, '../..');
/** pictures for people to look at; artifacts/ is not part of the repository */
const screenshots = join(root, 'artifacts', 'screenshots');

const NEW_USER = 'mei.ling';
const NEW_PASSWORD = 'night shift 2025';

describe('dashboard: users, my account and the language kept per user', () => {
  let demo: DemoRun;
  let dataDir: string;
  let browser: Browser;
  let admin: SignedIn;
  let timeZone: string;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  /** refusals a test provokes on purpose: `STATUS METHOD path` */
  const expected = new Set<string>();

  async function api<T>(path: string, who: SignedIn = admin): Promise<{ status: number; body: T }> {
    const res = await fetch(`${demo.url}${path}`, { headers: { cookie: who.cookie } });
    return { status: res.status, body: (await res.json()) as T };
  }

  async function login(username: string, password: string): Promise<number> {
    const res = await fetch(`${demo.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    return res.status;
  }

  function watch(p: Page): void {
    p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    p.on('console', (msg) => {
      if (msg.type() !== 'error' && msg.type() !== 'warning') return;
      // the browser logs every refused request; the responses themselves are checked below
      if (/Failed to load resource: the server responded with a status of/.test(msg.text())) return;
      // a live socket whose sign-in ended (signed out, disabled) is refused with 401, as it must be
      if (/WebSocket connection to .* failed/.test(msg.text())) return;
      problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    p.on('response', (res) => {
      if (res.status() < 400) return;
      const path = new URL(res.url()).pathname;
      // asking who is signed in before anyone is
      if (res.status() === 401 && path === '/api/me') return;
      if (expected.has(`${res.status()} ${res.request().method()} ${path}`)) return;
      problems.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
    });
  }

  /** a new tablet: nothing stored, an English browser */
  async function tablet(width = 1280, height = 800): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height }, locale: 'en-US' });
    contexts.push(context);
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const p = await context.newPage();
    watch(p);
    return p;
  }

  /** signs in through the real sign-in page, as a person would */
  async function signInOnPage(p: Page, username: string, password: string, hash = '#/'): Promise<void> {
    await p.goto(`${demo.url}/${hash}`);
    await p.getByTestId('signin-page').waitFor();
    await p.getByTestId('signin-username').fill(username);
    await p.getByTestId('signin-password').fill(password);
    await p.getByTestId('signin-submit').click();
    await p.getByTestId('account-name').waitFor();
  }

  async function shoot(p: Page, name: string): Promise<void> {
    const { width, height } = p.viewportSize()!;
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: join(screenshots, `${name}-${width}x${height}.png`) });
  }

  beforeAll(async () => {
    ensureDashboardBuilt();
    mkdirSync(screenshots, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'greenline-users-'));
    demo = await startDemo({ root, port: 0, freePorts: true, dataDir, seed: 23 });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    admin = await signIn(demo.url, 'admin', 'admin-demo');
    timeZone = (await api<PlantView>('/api/plant')).body.site.timezone;
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists every user for an administrator, with dates in the site’s time zone', async () => {
    const page = await tablet();
    await signInOnPage(page, 'admin', 'admin-demo', '#/users');
    await page.getByTestId('users-table').waitFor();
    expect(await page.getByTestId('users-title').textContent()).toBe('Users');
    expect(await page.getByTestId('nav-users').getAttribute('aria-current')).toBe('page');
    expect(await page.title()).toMatch(/^Users · /);

    const { body } = await api<UsersResponse>('/api/users');
    expect(await page.getByTestId('users-count').textContent()).toBe(`${body.users.length} users`);
    for (const u of body.users) {
      const row = page.getByTestId(`user-row-${u.username}`);
      expect(await row.locator('th').textContent()).toContain(u.username);
      expect(await page.getByTestId(`user-status-${u.username}`).textContent()).toBe('Enabled');
      // the created date, and its wall-clock time at the site
      const created = siteDateTime(u.createdAt, timeZone, 'en');
      const cells = await row.locator('td').allTextContents();
      expect(cells.join('|')).toContain(`${created.date}${created.time}`);
      expect(cells).toContain('Demo account');
    }
    expect(await page.getByTestId('user-role-operator').textContent()).toBe('Operator');
    expect(await page.getByTestId('user-role-admin').textContent()).toContain('Administrator');
    expect(await page.getByTestId('user-row-admin').textContent()).toContain('you');
    // never signed in through the dashboard: "never"; the admin just did
    expect(await page.getByTestId('user-row-energy').locator('td').nth(4).textContent()).toBe('never');
    expect(await page.getByTestId('user-row-admin').locator('td').nth(4).textContent()).not.toBe('never');

    await page.waitForTimeout(300);
    await shoot(page, 'users-en');
    await page.setViewportSize({ width: 1024, height: 768 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1024);
    await shoot(page, 'users-en');
    expect(problems).toEqual([]);
  });

  it('adds a user through the form, refusing a too-short password next to its field', async () => {
    const page = await tablet();
    await signInOnPage(page, 'admin', 'admin-demo', '#/users');
    await page.getByTestId('users-table').waitFor();
    await page.getByTestId('users-add-open').click();
    await page.getByTestId('new-username').fill(NEW_USER);
    await page.getByTestId('new-display-name').fill('陳美玲 Mei Ling');
    await page.getByTestId('new-role').selectOption('viewer');
    await page.getByTestId('new-password').fill('too short');
    await page.getByTestId('users-add-submit').click();
    await expect.poll(() => page.getByTestId('new-password-error').textContent()).toBe('At least 10 characters.');
    expect(await page.getByTestId('new-password').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByTestId('users-add-feedback-text').textContent()).toBe('Check the marked fields.');
    // the form kept what was typed, and nothing reached the gateway
    expect(await page.getByTestId('new-username').inputValue()).toBe(NEW_USER);
    expect((await api<UsersResponse>('/api/users')).body.users.some((u) => u.username === NEW_USER)).toBe(false);
    await shoot(page, 'users-add-error-en');

    // a name the gateway refuses: the same words, next to the username
    await page.getByTestId('new-username').fill('mei ling');
    await page.getByTestId('new-password').fill(NEW_PASSWORD);
    await page.getByTestId('users-add-submit').click();
    await expect.poll(() => page.getByTestId('new-username-error').textContent()).toContain('Use 2–64 letters, digits');
    expect(await page.getByTestId('new-password-error').count()).toBe(0);

    await page.getByTestId('new-username').fill(NEW_USER);
    await page.getByTestId('users-add-submit').click();
    await expect
      .poll(() => page.getByTestId('users-notice-text').textContent())
      .toBe(`User ${NEW_USER} added as Viewer.`);
    expect(await page.getByTestId('users-add-form').count()).toBe(0);
    await page.getByTestId(`user-row-${NEW_USER}`).waitFor();
    expect(await page.getByTestId(`user-row-${NEW_USER}`).locator('th').textContent()).toContain('陳美玲 Mei Ling');
    expect(await page.getByTestId(`user-row-${NEW_USER}`).textContent()).toContain('Added by admin');
    const made = (await api<UsersResponse>('/api/users')).body.users.find((u) => u.username === NEW_USER);
    expect(made).toMatchObject({ role: 'viewer', disabled: false, origin: 'admin', displayName: '陳美玲 Mei Ling' });
    expect(await login(NEW_USER, NEW_PASSWORD)).toBe(200);

    // the same name again (names ignore case): the gateway's 409, in words
    expected.add('409 POST /api/users');
    await page.getByTestId('users-add-open').click();
    await page.getByTestId('new-username').fill('Mei.Ling');
    await page.getByTestId('new-password').fill(NEW_PASSWORD);
    await page.getByTestId('users-add-submit').click();
    await expect
      .poll(() => page.getByTestId('users-add-feedback-text').textContent())
      .toBe('A user with this name exists already (names ignore upper and lower case).');
    expect(await page.getByTestId('users-add-feedback-detail').textContent()).toContain('exists already');
    await page.getByTestId('users-add-cancel').click();
    expect(problems).toEqual([]);
  });

  it('changes the role, disables (the gateway then refuses the sign-in), enables and deletes a user', async () => {
    const page = await tablet();
    await signInOnPage(page, 'admin', 'admin-demo', '#/users');
    await page.getByTestId(`user-row-${NEW_USER}`).waitFor();
    const theirs = await signIn(demo.url, NEW_USER, NEW_PASSWORD);

    await page.getByTestId(`user-manage-${NEW_USER}`).click();
    await page.getByTestId(`user-panel-${NEW_USER}`).waitFor();
    await page.getByTestId('manage-role').selectOption('operator');
    await page.getByTestId('manage-role-save').click();
    await expect
      .poll(() => page.getByTestId('user-panel-feedback-text').textContent())
      .toBe(`The role of ${NEW_USER} is now Operator.`);
    expect(await page.getByTestId(`user-role-${NEW_USER}`).textContent()).toBe('Operator');
    expect((await api<Me>('/api/me', theirs)).body).toMatchObject({ role: 'operator' });
    await shoot(page, 'users-manage-en');

    // a new password by the administrator: a short one is refused next to the field first
    await page.getByTestId('manage-password').fill('short');
    await page.getByTestId('manage-password-save').click();
    await expect.poll(() => page.getByTestId('manage-password-error').textContent()).toBe('At least 10 characters.');
    await page.getByTestId('manage-password').fill('day shift 2025');
    await page.getByTestId('manage-password-save').click();
    await expect
      .poll(() => page.getByTestId('user-panel-feedback-text').textContent())
      .toBe(`The password of ${NEW_USER} is reset; their sign-ins have ended.`);
    expect(await login(NEW_USER, NEW_PASSWORD)).toBe(401);
    expect(await login(NEW_USER, 'day shift 2025')).toBe(200);
    const again = await signIn(demo.url, NEW_USER, 'day shift 2025');

    await page.getByTestId('manage-access').click();
    await expect
      .poll(() => page.getByTestId('user-panel-feedback-text').textContent())
      .toBe(`${NEW_USER} is disabled: they cannot sign in.`);
    expect(await page.getByTestId(`user-status-${NEW_USER}`).textContent()).toBe('Disabled');
    expect(await page.getByTestId('users-disabled-count').textContent()).toBe('1 disabled');
    // the gateway refuses the sign-in, and the one they had has ended
    expect(await login(NEW_USER, 'day shift 2025')).toBe(401);
    expect((await api<Me>('/api/me', again)).status).toBe(401);

    await page.getByTestId('manage-access').click();
    await expect.poll(() => page.getByTestId(`user-status-${NEW_USER}`).textContent()).toBe('Enabled');
    expect(await login(NEW_USER, 'day shift 2025')).toBe(200);

    await page.getByTestId('manage-delete').click();
    expect(await page.getByTestId('manage-delete-question').textContent()).toBe(
      `Delete ${NEW_USER}? Their sign-ins and API tokens go with them. This cannot be undone.`,
    );
    // not yet
    expect((await api<UsersResponse>('/api/users')).body.users.some((u) => u.username === NEW_USER)).toBe(true);
    await shoot(page, 'users-delete-confirm-en');
    await page.getByTestId('manage-delete-confirm').click();
    await expect.poll(() => page.getByTestId('users-notice-text').textContent()).toBe(`${NEW_USER} is deleted.`);
    expect(await page.getByTestId(`user-row-${NEW_USER}`).count()).toBe(0);
    expect((await api<UsersResponse>('/api/users')).body.users.some((u) => u.username === NEW_USER)).toBe(false);
    expect(await login(NEW_USER, 'day shift 2025')).toBe(401);
    expect(problems).toEqual([]);
  });

  it('shows the gateway’s refusal to demote, disable or delete the last administrator', async () => {
    const page = await tablet();
    await signInOnPage(page, 'admin', 'admin-demo', '#/users');
    await page.getByTestId('user-row-admin').waitFor();
    expected.add('409 PATCH /api/users/admin');
    expected.add('409 DELETE /api/users/admin');

    await page.getByTestId('user-manage-admin').click();
    await page.getByTestId('manage-role').selectOption('operator');
    await page.getByTestId('manage-role-save').click();
    const text = page.getByTestId('user-panel-feedback-text');
    await expect
      .poll(() => text.textContent())
      .toBe('Refused: this is the last enabled administrator. Make another user an administrator first.');
    expect(await page.getByTestId('user-panel-feedback').getAttribute('role')).toBe('alert');
    expect(await page.getByTestId('user-panel-feedback-detail').textContent()).toBe(
      'The gateway says: “"admin" is the last enabled admin: make another admin first”',
    );
    await shoot(page, 'users-last-admin-en');

    await page.getByTestId('manage-access').click();
    await expect
      .poll(() => page.getByTestId('user-panel-feedback-detail').textContent())
      .toContain('last enabled admin');
    await page.getByTestId('manage-delete').click();
    expect(await page.getByTestId('manage-delete-question').textContent()).toContain('Delete your own account?');
    await page.getByTestId('manage-delete-confirm').click();
    await expect.poll(() => text.textContent()).toContain('last enabled administrator');
    // still the administrator, still signed in, still on the page
    expect((await api<UsersResponse>('/api/users')).body.users.find((u) => u.username === 'admin')).toMatchObject({
      role: 'admin',
      disabled: false,
    });
    expect(await page.getByTestId('users-table').isVisible()).toBe(true);
    expect(problems).toEqual([]);
  });

  it('shows the users page in Traditional Chinese', async () => {
    const page = await tablet();
    await signInOnPage(page, 'admin', 'admin-demo', '#/users');
    await page.getByTestId('users-table').waitFor();
    await page.getByTestId('lang-zh-Hant').click();
    expect(await page.getByTestId('users-title').textContent()).toBe('用戶管理');
    expect(await page.getByTestId('nav-users').textContent()).toBe('用戶');
    expect(await page.getByTestId('user-status-operator').textContent()).toBe('已啟用');
    expect(await page.getByTestId('user-role-energy').textContent()).toBe('能源管理員');
    const admin = (await api<UsersResponse>('/api/users')).body.users.find((u) => u.username === 'admin')!;
    expect(await page.getByTestId('user-row-admin').locator('td').nth(3).textContent()).toContain(
      siteDateTime(admin.createdAt, timeZone, 'zh-Hant').date,
    );
    await page.waitForTimeout(300);
    await shoot(page, 'users-zh-Hant');
    await page.setViewportSize({ width: 1024, height: 768 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1024);
    await shoot(page, 'users-zh-Hant');

    await page.getByTestId('users-add-open').click();
    await page.getByTestId('new-username').fill('陳大文');
    await page.getByTestId('new-password').fill('短密碼');
    await page.getByTestId('users-add-submit').click();
    await expect
      .poll(() => page.getByTestId('new-username-error').textContent())
      .toBe('請使用 2 至 64 個英文字母、數字、「.」、「_」、「-」或「@」，不可有空格。');
    expect(await page.getByTestId('new-password-error').textContent()).toBe('最少 10 個字元。');
    await shoot(page, 'users-add-error-zh-Hant');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByTestId('users-add-cancel').click();
    expect(await page.getByTestId('users-add-form').count()).toBe(0);
    await page.getByTestId('user-manage-admin').click();
    expect(await page.getByTestId('manage-access').textContent()).toBe('停用');
    await shoot(page, 'users-manage-zh-Hant');
    await page.getByTestId('lang-en').click();
    expect(await page.getByTestId('users-title').textContent()).toBe('Users');
    expect(problems).toEqual([]);
  });

  it('gives a viewer no users link, and a plain “not allowed” on the users page', async () => {
    const page = await tablet();
    await signInOnPage(page, 'viewer', 'viewer-demo');
    await page.getByTestId('nav-overview').waitFor();
    expect(await page.getByTestId('nav-users').count()).toBe(0);
    expect(await page.getByTestId('nav-health').count()).toBe(1);
    await page.goto(`${demo.url}/#/users`);
    const refusal = page.getByTestId('users-forbidden');
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('Only administrators can manage users.');
    expect(await refusal.textContent()).toContain('You are signed in as viewer (Viewer).');
    expect(await page.getByTestId('users-table').count()).toBe(0);
    expect(await page.getByTestId('users-add-open').count()).toBe(0);
    await shoot(page, 'users-forbidden-en');
    // the gateway refuses the list all the same
    const viewer = await signIn(demo.url, 'viewer', 'viewer-demo');
    expect((await api('/api/users', viewer)).status).toBe(403);
    // the link on the refusal leads to one's own account
    await page.getByTestId('users-forbidden-account').click();
    await page.getByTestId('page-account').waitFor();
    expect(await page.getByTestId('account-username').textContent()).toBe('viewer');
    expect(problems).toEqual([]);
  });

  it('lets any user change their own password from their account page', async () => {
    const page = await tablet();
    await signInOnPage(page, 'energy', 'energy-demo');
    await page.getByTestId('account-link').click();
    await page.getByTestId('page-account').waitFor();
    expect(await page.getByTestId('account-title').textContent()).toBe('My account');
    expect(await page.getByTestId('account-link').getAttribute('aria-current')).toBe('page');
    expect(await page.getByTestId('account-page-role').textContent()).toBe('Energy manager');
    expect(await page.getByTestId('account-manage-users').count()).toBe(0);

    // two different new passwords: caught before sending
    await page.getByTestId('own-current-password').fill('energy-demo');
    await page.getByTestId('own-new-password').fill('meter readings 1');
    await page.getByTestId('own-repeat-password').fill('meter readings 2');
    await page.getByTestId('own-password-submit').click();
    await expect
      .poll(() => page.getByTestId('own-repeat-password-error').textContent())
      .toBe('The two new passwords differ.');

    // a wrong current password: the gateway says so, next to that field
    expected.add('400 POST /api/me/password');
    await page.getByTestId('own-current-password').fill('not my password');
    await page.getByTestId('own-repeat-password').fill('meter readings 1');
    await page.getByTestId('own-password-submit').click();
    await expect
      .poll(() => page.getByTestId('own-current-password-error').textContent())
      .toBe('This is not your current password.');
    expect(await page.getByTestId('own-repeat-password-error').count()).toBe(0);
    await shoot(page, 'account-password-error-en');

    await page.getByTestId('own-current-password').fill('energy-demo');
    await page.getByTestId('own-password-submit').click();
    await expect
      .poll(() => page.getByTestId('own-password-feedback-text').textContent())
      .toBe('Password changed. Your sign-ins on other screens have ended; this one stays.');
    expect(await page.getByTestId('own-current-password').inputValue()).toBe('');
    expect(await login('energy', 'energy-demo')).toBe(401);
    expect(await login('energy', 'meter readings 1')).toBe(200);
    // this screen stays signed in
    await page.reload();
    await page.getByTestId('page-account').waitFor();
    expect(await page.getByTestId('signin-page').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('keeps an operator’s language for every tablet they sign in on, not for others there', async () => {
    // tablet A: the operator signs in (in the tablet's English) and switches to Traditional Chinese
    const a = await tablet();
    await signInOnPage(a, 'operator', 'operator-demo');
    expect(await a.getByTestId('nav-overview').textContent()).toBe('Plant overview');
    expect((await api<Me>('/api/me', await signIn(demo.url, 'operator', 'operator-demo'))).body.language).toBeNull();
    const saved = a.waitForResponse((r) => r.url().endsWith('/api/me/language') && r.request().method() === 'PUT');
    await a.getByTestId('lang-zh-Hant').click();
    // at once, before the gateway answers
    expect(await a.getByTestId('nav-overview').textContent()).toBe('廠區總覽');
    expect((await saved).status()).toBe(200);
    const operator = await signIn(demo.url, 'operator', 'operator-demo');
    expect((await api<Me>('/api/me', operator)).body.language).toBe('zh-Hant');
    await a.getByTestId('account-link').click();
    await expect.poll(() => a.getByTestId('account-language').getAttribute('data-language')).toBe('zh-Hant');
    expect(await a.getByTestId('account-language-note').textContent()).toBe(
      '已儲存到你的帳戶：在任何螢幕登入都會使用。',
    );
    await shoot(a, 'account-zh-Hant');

    // tablet B, fresh: its sign-in page is in its own English; the operator gets Chinese without touching the switch
    const b = await tablet();
    await b.goto(`${demo.url}/#/`);
    await b.getByTestId('signin-page').waitFor();
    expect(await b.locator('h1').textContent()).toBe('Sign in');
    await b.getByTestId('signin-username').fill('operator');
    await b.getByTestId('signin-password').fill('operator-demo');
    await b.getByTestId('signin-submit').click();
    await expect.poll(() => b.getByTestId('nav-overview').textContent()).toBe('廠區總覽');
    expect(await b.locator('html').getAttribute('lang')).toBe('zh-Hant');
    expect(await b.getByTestId('lang-zh-Hant').getAttribute('aria-pressed')).toBe('true');
    expect(await b.getByTestId('account-role').textContent()).toBe('操作員');
    // and on a reload
    await b.reload();
    await expect.poll(() => b.getByTestId('nav-overview').textContent()).toBe('廠區總覽');
    // the tablet's own choice is untouched
    expect(await b.evaluate(() => localStorage.getItem('greenline.lang'))).toBeNull();

    // the operator signs out; the sign-in page and a viewer there are in the tablet's English
    await b.getByTestId('sign-out').click();
    await b.getByTestId('signin-page').waitFor();
    expect(await b.locator('h1').textContent()).toBe('Sign in');
    await b.getByTestId('signin-username').fill('viewer');
    await b.getByTestId('signin-password').fill('viewer-demo');
    await b.getByTestId('signin-submit').click();
    await expect.poll(() => b.getByTestId('account-name').textContent()).toBe('viewer');
    expect(await b.getByTestId('nav-overview').textContent()).toBe('Plant overview');
    expect(await b.locator('html').getAttribute('lang')).toBe('en');
    expect(problems).toEqual([]);
  });

  it('switches at once even when the account cannot keep the choice, and says so quietly', async () => {
    const page = await tablet();
    await signInOnPage(page, 'operator', 'operator-demo');
    await expect.poll(() => page.getByTestId('nav-overview').textContent()).toBe('廠區總覽');
    expected.add('503 PUT /api/me/language');
    await page.route('**/api/me/language', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'GL_ERR_UNAVAILABLE', message: 'the store is busy' } }),
      }),
    );
    await page.getByTestId('lang-en').click();
    expect(await page.getByTestId('nav-overview').textContent()).toBe('Plant overview');
    const note = page.getByTestId('shell-note');
    await expect.poll(() => note.isVisible()).toBe(true);
    expect(await page.getByTestId('shell-note-text').textContent()).toBe(
      'Language changed on this screen only: it could not be saved to your account (the store is busy).',
    );
    expect(await note.getAttribute('role')).toBe('status');
    await shoot(page, 'language-not-saved-en');
    // the page goes on: navigation works, the note can be put away
    await page.getByTestId('nav-health').click();
    await page.getByTestId('page-health').waitFor();
    await page.getByTestId('shell-note-close').click();
    expect(await note.isHidden()).toBe(true);
    // the account still holds the earlier choice
    const operator = await signIn(demo.url, 'operator', 'operator-demo');
    expect((await api<Me>('/api/me', operator)).body.language).toBe('zh-Hant');
    await page.unroute('**/api/me/language');
    expect(problems).toEqual([]);
  });
});
