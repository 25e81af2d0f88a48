/**
 * The sign-in page and the header's account part in a real browser, against
 * the real server with sign-in on a real store (demo accounts listed).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlantConfig } from '../../config/schema.js';
import {
  Authenticator,
  createServer,
  DEMO_ACCOUNTS,
  type GreenlineServer,
  MemoryLiveSource,
  seedAccounts,
} from '../../gateway/server/index.js';
import type { HealthReport } from '../../gateway/server/ports.js';
import { UserStore } from '../../gateway/store/user-store.js';
import { SCREENSHOTS_DIR } from './artifacts.js';
import { DASHBOARD_DIR, ensureDashboardBuilt } from '../lib/fresh-build.js';

const dashboardDir = DASHBOARD_DIR;
const artifacts = SCREENSHOTS_DIR;

const config = PlantConfig.parse({
  site: { id: 'works', name: 'Sign-in Works', timezone: 'Asia/Hong_Kong' },
  areas: [{ id: 'a1', name: 'Hall' }],
  lines: [
    {
      id: 'L1',
      name: 'Line 1',
      area: 'a1',
      outputMachine: 'M1',
      calendar: 'c1',
      machines: [{ id: 'M1', name: 'Press', idealCycleTimeS: 2, counters: { total: 'm1_total', good: 'm1_good' } }],
    },
  ],
  devices: [
    {
      protocol: 'modbus-tcp',
      id: 'plc1',
      host: '127.0.0.1',
      tags: [
        { id: 'm1_total', name: 'Press strokes', address: '40001', type: 'uint32' },
        { id: 'm1_good', name: 'Good parts', address: '40003', type: 'uint32' },
      ],
    },
  ],
  calendars: [{ id: 'c1', shifts: [{ id: 'day', start: '07:00', end: '19:00' }] }],
  server: { demoAccounts: true },
  users: [{ username: 'otto', role: 'operator', password: 'otto password 1', displayName: 'Otto Wong' }],
});

const health: HealthReport = {
  status: 'ok',
  startedAt: Date.now(),
  now: Date.now(),
  devices: [],
  store: { path: '', samplesWritten: 0, pendingRows: 0, dropped: 0, lastError: null },
  sinks: [],
  pipeline: { samplesIn: 0, rejected: 0 },
};

describe('dashboard: sign-in', () => {
  const live = new MemoryLiveSource();
  const quiet = { info() {}, warn() {}, error() {} };
  let dir: string;
  let users: UserStore;
  let server: GreenlineServer;
  let url: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  /** 401s the page is expected to meet: asking who is signed in before anyone is, and a wrong password */
  const expected401 = /\/api\/(me|login)$/;

  beforeAll(async () => {
    ensureDashboardBuilt();
    mkdirSync(artifacts, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'gl-signin-'));
    users = new UserStore({ path: join(dir, 'users.db') });
    users.start();
    const auth = new Authenticator({
      store: users,
      log: quiet,
      cost: { ln: 10, r: 8, p: 1 },
      demoAccounts: DEMO_ACCOUNTS,
    });
    await seedAccounts({
      store: users,
      users: config.users,
      demoAccounts: DEMO_ACCOUNTS,
      hashPassword: (p) => auth.hashPassword(p),
      log: quiet,
      announce: () => undefined,
    });
    live.push([{ tagId: 'm1_total', value: 4242, quality: 'good', ts: Date.now(), receivedAt: Date.now() }]);
    server = createServer(
      { config, live, health: () => health, history: { history: () => [] }, dashboardDir, log: quiet, demo: true },
      { auth },
    );
    ({ url } = await server.start('127.0.0.1', 0));
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() !== 'error' && msg.type() !== 'warning') return;
      if (/status of 401/.test(msg.text())) return; // the 401s themselves are checked below
      // a live socket that tries to reconnect after its sign-in ended elsewhere is refused with 401
      // (as it must be); the browser logs that refusal as an error
      if (/WebSocket connection to .* failed: HTTP Authentication failed/.test(msg.text())) return;
      problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400 && !(res.status() === 401 && expected401.test(res.url()))) {
        problems.push(`HTTP ${res.status()} for ${res.url()}`);
      }
    });
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    users?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the sign-in page to a visitor who is not signed in, with the demo accounts', async () => {
    await page.goto(`${url}/#/live`);
    await page.getByTestId('signin-page').waitFor();
    expect(await page.locator('h1').textContent()).toBe('Sign in');
    expect(await page.title()).toBe('Sign in · greenline');
    await page.getByTestId('signin-demo').waitFor();
    for (const a of DEMO_ACCOUNTS) expect(await page.getByTestId(`signin-demo-${a.username}`).count()).toBe(1);
    expect(await page.getByTestId('signin-demo').textContent()).toContain('operator / operator-demo');
    expect(await page.getByTestId('signin-error').isHidden()).toBe(true);
    // nothing of the plant is shown
    expect(await page.getByTestId('tag-value-m1_total').count()).toBe(0);
    await page.screenshot({ path: join(artifacts, 'dashboard-sign-in.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('says so when the password is wrong, in either language', async () => {
    await page.getByTestId('signin-username').fill('otto');
    await page.getByTestId('signin-password').fill('not the password');
    await page.getByTestId('signin-submit').click();
    await expect.poll(() => page.getByTestId('signin-error').textContent()).toBe('Wrong username or password.');
    expect(await page.getByTestId('signin-password').inputValue()).toBe('');
    await page.getByTestId('lang-zh-Hant').click();
    expect(await page.locator('h1').textContent()).toBe('登入');
    expect(await page.getByTestId('signin-error').textContent()).toBe('使用者名稱或密碼錯誤。');
    expect(await page.getByTestId('signin-username').inputValue()).toBe('otto');
    await page.screenshot({ path: join(artifacts, 'dashboard-sign-in-zh.png'), fullPage: true });
    await page.getByTestId('lang-en').click();
    expect(problems).toEqual([]);
  });

  it('signs in, shows who is signed in with their role, and stays signed in on reload', async () => {
    await page.getByTestId('signin-password').fill('otto password 1');
    await page.getByTestId('signin-password').press('Enter');
    await expect.poll(() => page.getByTestId('tag-value-m1_total').textContent()).toBe('4,242');
    expect(await page.getByTestId('account-name').textContent()).toBe('Otto Wong');
    expect(await page.getByTestId('account-role').textContent()).toBe('Operator');
    await expect.poll(() => page.getByTestId('conn-state').getAttribute('data-state')).toBe('live');
    const cookie = (await context.cookies(url)).find((c) => c.name === 'greenline_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    // no script of the page can read the cookie
    expect(await page.evaluate(() => document.cookie)).toBe('');
    await page.reload();
    await expect.poll(() => page.getByTestId('account-role').textContent()).toBe('Operator');
    expect(await page.getByTestId('signin-page').count()).toBe(0);
    await page.getByTestId('lang-zh-Hant').click();
    expect(await page.getByTestId('account-role').textContent()).toBe('操作員');
    await page.getByTestId('lang-en').click();
    await page.screenshot({ path: join(artifacts, 'dashboard-signed-in.png') });
    expect(problems).toEqual([]);
  });

  it('signs out back to the sign-in page, and in again with a demo account', async () => {
    await page.getByTestId('sign-out').click();
    await page.getByTestId('signin-page').waitFor();
    expect((await context.cookies(url)).some((c) => c.name === 'greenline_session')).toBe(false);
    await page.getByTestId('signin-demo-viewer').click();
    await expect.poll(() => page.getByTestId('account-role').textContent()).toBe('Viewer');
    expect(await page.getByTestId('account-name').textContent()).toBe('viewer');
    expect(problems).toEqual([]);
  });

  it('shows the sign-in page again once the sign-in has ended elsewhere', async () => {
    const viewer = users.findUser('viewer')!;
    users.deleteSessionsOf(viewer.id);
    await page.reload();
    await page.getByTestId('signin-page').waitFor();
    expect(problems).toEqual([]);
  });

  it('fits a phone', async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(400);
    const submit = await page.getByTestId('signin-submit').boundingBox();
    expect(submit?.height).toBeGreaterThanOrEqual(44);
    await page.screenshot({ path: join(artifacts, 'dashboard-sign-in-phone.png'), fullPage: true });
  });
});
