/**
 * The live tags page in a real browser against the real server, fed by an
 * in-memory live source.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlantConfig } from '../../config/schema.js';
import type { LiveValue } from '../../gateway/server/contract.js';
import { MemoryLiveSource } from '../../gateway/server/memory-live-source.js';
import type { HealthReport, ServerDeps } from '../../gateway/server/ports.js';
import { Authenticator, seedAccounts } from '../../gateway/server/index.js';
import { createServer, type GreenlineServer } from '../../gateway/server/server.js';
import { UserStore } from '../../gateway/store/user-store.js';
import { signInBrowser } from './sign-in.js';
import { SCREENSHOTS_DIR } from './artifacts.js';
import { DASHBOARD_DIR, ensureDashboardBuilt } from '../lib/fresh-build.js';

const dashboardDir = DASHBOARD_DIR;
const artifacts = SCREENSHOTS_DIR;

/** newest modification time under a folder */

const config = PlantConfig.parse({
  site: { id: 'works', name: 'Kwun Tong Microfactory', timezone: 'Asia/Hong_Kong' },
  areas: [{ id: 'assembly', name: 'Assembly hall' }],
  lines: [
    {
      id: 'L1',
      name: 'Line 1 · Enclosures',
      area: 'assembly',
      outputMachine: 'press',
      calendar: 'two-shift',
      energy: { kwhTag: 'line_kwh' },
      machines: [
        {
          id: 'cnc',
          name: 'CNC mill',
          idealCycleTimeS: 45,
          state: { tag: 'cnc_state', map: { '0': 'offline', '1': 'running', '2': 'idle', '3': 'unplanned-stop' } },
          counters: { total: 'cnc_total', good: 'cnc_good' },
          energy: { kwTag: 'cnc_kw' },
        },
        {
          id: 'press',
          name: 'Press',
          idealCycleTimeS: 12,
          state: { tag: 'press_state', map: { '0': 'offline', '1': 'running', '2': 'idle', '3': 'unplanned-stop' } },
          counters: { total: 'press_total', reject: 'press_reject' },
        },
      ],
    },
  ],
  devices: [
    {
      protocol: 'modbus-tcp',
      id: 'plc1',
      name: 'Line 1 PLC',
      host: '127.0.0.1',
      tags: [
        { id: 'cnc_state', name: 'CNC state', address: '40001' },
        { id: 'cnc_total', name: 'CNC parts', address: '40002', type: 'uint32' },
        { id: 'cnc_good', name: 'CNC good parts', address: '40004', type: 'uint32' },
        { id: 'cnc_kw', name: 'CNC power', address: '40006', type: 'float32', unit: 'kW' },
        { id: 'press_state', name: 'Press state', address: '40010' },
        { id: 'press_total', name: 'Press strokes', address: '40011', type: 'uint32' },
        { id: 'press_reject', name: 'Press rejects', address: '40013', type: 'uint32' },
      ],
    },
    {
      protocol: 'modbus-tcp',
      id: 'meter1',
      name: 'Line 1 power meter',
      host: '127.0.0.1',
      port: 1502,
      tags: [
        { id: 'line_kwh', name: 'Line energy', address: '30001', type: 'float32', unit: 'kWh' },
        { id: 'line_voltage', name: 'Voltage L1-N', address: '30003', type: 'float32', unit: 'V' },
        { id: 'line_pf', name: 'Power factor', address: '30005', type: 'float32' },
      ],
    },
    {
      protocol: 'mqtt',
      id: 'env',
      name: 'Environment sensors',
      url: 'mqtt://127.0.0.1:1883',
      staleAfterMs: 30_000,
      tags: [
        { id: 'hall_temp', name: 'Hall temperature', topic: 'env/hall/temp', unit: '°C' },
        { id: 'hall_rh', name: 'Hall humidity', topic: 'env/hall/rh', unit: '%' },
        { id: 'air_pressure', name: 'Compressed air', topic: 'env/air/p', unit: 'bar' },
      ],
    },
  ],
  calendars: [{ id: 'two-shift', shifts: [{ id: 'early', start: '07:00', end: '15:00' }] }],
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

const v = (
  tagId: string,
  value: LiveValue['value'],
  ageMs = 800,
  quality: LiveValue['quality'] = 'good',
  reason?: string,
): LiveValue => {
  const ts = Date.now() - ageMs;
  return { tagId, value, quality, ts, receivedAt: ts, ...(reason ? { reason } : {}) };
};

describe('dashboard: live tags', () => {
  const live = new MemoryLiveSource();
  let server: GreenlineServer;
  let users: UserStore;
  let usersDir: string;
  let auth: Authenticator;
  let url: string;
  let port: number;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  /** connection failures are expected while the server is down */
  let allowSocketErrors = false;

  const deps: ServerDeps = {
    config,
    live,
    health: () => health,
    history: { history: () => [] },
    dashboardDir,
    log: { info() {}, warn() {}, error() {} },
    demo: true,
    // unchanged values come every 10 s: fading starts after 30 s
    liveHeartbeatMs: 10_000,
  };

  beforeAll(async () => {
    ensureDashboardBuilt();
    mkdirSync(artifacts, { recursive: true });
    live.push([
      v('cnc_state', 1),
      v('cnc_total', 1284),
      v('cnc_good', 1262),
      v('cnc_kw', 7.4183),
      v('press_state', 3),
      v('press_total', 20417, 1500),
      v('press_reject', 37, 1500),
      v('line_kwh', 15234.06, 2000),
      v('line_voltage', 229.61, 1200),
      v('line_pf', 0.9312, 60_000, 'uncertain', 'meter reports estimate'),
      v('hall_temp', 21.5, 3000),
      v('hall_rh', 58.2, 45_000, 'stale', 'no update for 30 s'),
    ]);
    // sign-in as the gateway has it: a viewer signs in, the browser keeps the cookie across a restart
    usersDir = mkdtempSync(join(tmpdir(), 'gl-live-users-'));
    users = new UserStore({ path: join(usersDir, 'users.db') });
    users.start();
    auth = new Authenticator({ store: users, log: deps.log, cost: { ln: 10, r: 8, p: 1 } });
    await seedAccounts({
      store: users,
      users: [{ username: 'wall', role: 'viewer', password: 'wall display 1' }],
      demoAccounts: [],
      hashPassword: (p) => auth.hashPassword(p),
      log: deps.log,
      announce: () => undefined,
    });
    server = createServer(deps, { auth });
    ({ url } = await server.start('127.0.0.1', 0));
    port = Number(new URL(url).port);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    await signInBrowser(context, url, 'wall', 'wall display 1');
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() !== 'error' && msg.type() !== 'warning') return;
      const text = msg.text();
      if (allowSocketErrors && /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(text)) return;
      problems.push(`console ${msg.type()}: ${text}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
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
    if (usersDir) rmSync(usersDir, { recursive: true, force: true });
  });

  it('shows the plant with live values, quality and age', async () => {
    await page.goto(`${url}/#/live`);
    await expect.poll(() => page.getByTestId('tag-value-hall_temp').textContent()).toBe('21.50');
    expect(await page.getByTestId('site-name').textContent()).toBe('Kwun Tong Microfactory');
    expect(await page.getByTestId('page-title').textContent()).toBe('Live tags');
    await expect.poll(() => page.getByTestId('conn-state').getAttribute('data-state')).toBe('live');
    expect(await page.getByTestId('conn-state').textContent()).toBe('Live');
    expect(await page.getByTestId('demo-banner').textContent()).toContain(
      'Demo plant: simulated devices, not a real factory',
    );
    expect(await page.getByTestId('stale-banner').isHidden()).toBe(true);
    // who is signed in, as what
    expect(await page.getByTestId('account-name').textContent()).toBe('wall');
    expect(await page.getByTestId('account-role').textContent()).toBe('Viewer');

    // grouping: machine tags under their machine, line meter under the line, the rest by device
    expect(await page.getByTestId('machine-cnc').getByTestId('tag-row-cnc_kw').count()).toBe(1);
    expect(await page.getByTestId('line-L1').getByTestId('tag-row-line_kwh').count()).toBe(1);
    expect(await page.getByTestId('device-meter1').getByTestId('tag-row-line_voltage').count()).toBe(1);
    expect(await page.getByTestId('device-env').getByTestId('tag-row-hall_rh').count()).toBe(1);
    expect(await page.getByTestId('device-plc1').count()).toBe(0); // every PLC tag belongs to a machine

    // formatting: counters whole, other numbers 1-3 decimals, states by name
    expect(await page.getByTestId('tag-value-cnc_total').textContent()).toBe('1,284');
    expect(await page.getByTestId('tag-value-cnc_kw').textContent()).toBe('7.42');
    expect(await page.getByTestId('tag-value-line_kwh').textContent()).toBe('15,234.1');
    expect(await page.getByTestId('tag-value-line_pf').textContent()).toBe('0.931');
    expect(await page.getByTestId('tag-value-cnc_state').textContent()).toBe('Running');
    expect(await page.getByTestId('tag-value-press_state').textContent()).toBe('Unplanned stop');

    expect(await page.getByTestId('tag-quality-hall_temp').textContent()).toBe('Good');
    expect(await page.getByTestId('tag-quality-line_pf').textContent()).toBe('Uncertain');
    expect(await page.getByTestId('tag-quality-hall_rh').textContent()).toBe('Stale');
    expect(await page.getByTestId('tag-age-hall_temp').textContent()).toMatch(/^\d+ s ago$/);
    // 60 s old: faded; 3 s old: not
    expect(await page.getByTestId('tag-row-line_pf').getAttribute('class')).toContain('is-old');
    expect(await page.getByTestId('tag-row-hall_temp').getAttribute('class')).not.toContain('is-old');
  });

  it('updates a row within 2 s of a new value and shows bad quality with its reason', async () => {
    live.push([v('hall_temp', 22.75, 0)]);
    await expect.poll(() => page.getByTestId('tag-value-hall_temp').textContent(), { timeout: 2000 }).toBe('22.75');
    expect(await page.getByTestId('tag-age-hall_temp').textContent()).toMatch(/^(just now|1 s ago)$/);

    live.push([v('cnc_kw', null, 0, 'bad', 'timeout')]);
    await expect.poll(() => page.getByTestId('tag-quality-cnc_kw').textContent(), { timeout: 2000 }).toBe('Bad');
    expect(await page.getByTestId('tag-row-cnc_kw').getAttribute('data-quality')).toBe('bad');
    expect(await page.getByTestId('tag-reason-cnc_kw').textContent()).toBe('timeout');
    // air_pressure never reported: "no data yet" counts as bad too
    expect(await page.getByTestId('summary-bad').textContent()).toBe('2 bad');

    await page.screenshot({ path: join(artifacts, 'dashboard-live.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('switches to Traditional Chinese and remembers the choice', async () => {
    await page.getByTestId('lang-zh-Hant').click();
    await expect.poll(() => page.getByTestId('page-title').textContent()).toBe('即時標籤');
    expect(await page.getByTestId('conn-state').textContent()).toBe('即時連線');
    expect(await page.getByTestId('demo-banner').textContent()).toContain('示範工廠');
    expect(await page.getByTestId('tag-quality-cnc_kw').textContent()).toBe('不良');
    expect(await page.getByTestId('account-role').textContent()).toBe('檢視者');
    expect(await page.getByTestId('sign-out').textContent()).toBe('登出');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-Hant');
    expect(await page.getByTestId('devices').locator('h2').textContent()).toBe('其他設備');
    await page.screenshot({ path: join(artifacts, 'dashboard-live-zh.png'), fullPage: true });

    await page.reload();
    await expect.poll(() => page.getByTestId('page-title').textContent()).toBe('即時標籤');
    await page.getByTestId('lang-en').click();
    await expect.poll(() => page.getByTestId('page-title').textContent()).toBe('Live tags');
    expect(problems).toEqual([]);
  });

  it('shows reconnecting and stale data while the gateway is away, then resumes', async () => {
    await expect.poll(() => page.getByTestId('conn-state').getAttribute('data-state')).toBe('live');
    allowSocketErrors = true;
    await server.stop();
    await expect.poll(() => page.getByTestId('conn-state').getAttribute('data-state')).toBe('reconnecting');
    expect(await page.getByTestId('stale-banner').isVisible()).toBe(true);
    await page.screenshot({ path: join(artifacts, 'dashboard-live-reconnecting.png') });

    server = createServer(deps, { auth });
    await server.start('127.0.0.1', port);
    await expect
      .poll(() => page.getByTestId('conn-state').getAttribute('data-state'), { timeout: 20_000 })
      .toBe('live');
    expect(await page.getByTestId('stale-banner').isHidden()).toBe(true);
    live.push([v('hall_temp', 23.5, 0)]);
    await expect.poll(() => page.getByTestId('tag-value-hall_temp').textContent(), { timeout: 2000 }).toBe('23.50');
    allowSocketErrors = false;
    expect(problems).toEqual([]);
  });

  it('is usable on a portrait tablet and a phone', async () => {
    await page.setViewportSize({ width: 800, height: 1280 });
    const row = await page.getByTestId('tag-row-hall_temp').boundingBox();
    expect(row?.height).toBeGreaterThanOrEqual(44);
    const button = await page.getByTestId('lang-zh-Hant').boundingBox();
    expect(button?.height).toBeGreaterThanOrEqual(44);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(800);
    await page.screenshot({ path: join(artifacts, 'dashboard-live-portrait.png'), fullPage: true });

    await page.setViewportSize({ width: 400, height: 800 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(400);
    await page.screenshot({ path: join(artifacts, 'dashboard-live-phone.png') });
    expect(problems).toEqual([]);
  });
});
