/**
 * The plant overview in a real browser against the real demo (simulators on
 * real sockets, the gateway, its metrics): the figures shown are the ones the
 * REST API gives, machines change colour when the simulator stops them, the
 * window choice and the language stick, and the live tags page is one tap away.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoRun } from '../../gateway/demo.js';
import { startDemo } from '../../gateway/demo.js';
import { DEMO_VIEWER, signInBrowser } from './sign-in.js';
import type { MetricsOverview } from '../../gateway/server/contract.js';
import { SCREENSHOTS_DIR } from './artifacts.js';
import { ensureDashboardBuilt } from '../lib/fresh-build.js';

const root = resolve(import.meta.dirname, '../..');
const screenshots = SCREENSHOTS_DIR;

/** newest modification time under a folder */

/** "85.3%" → 0.853; "—" → null */
function parsePercent(text: string | null): number | null {
  const t = (text ?? '').trim();
  if (t === '—') return null;
  const n = Number(t.replace(/[,%\s]/g, ''));
  if (!Number.isFinite(n)) throw new Error(`not a percentage: ${JSON.stringify(text)}`);
  return n / 100;
}

const RATIOS = ['oee', 'availability', 'performance', 'quality'] as const;
type Ratio = (typeof RATIOS)[number];

/** shown to one decimal of a percent: half of that is rounding */
const ROUNDING = 0.0005 + 1e-9;

describe('dashboard: plant overview', () => {
  let demo: DemoRun;
  let dataDir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cookie = '';
  const problems: string[] = [];
  /** metrics messages the page received and the metrics subscriptions it sent */
  const metricsReceived: number[] = [];
  const metricsSent: (string | null)[] = [];

  async function restOverview(window = 'shift'): Promise<MetricsOverview> {
    const res = await fetch(`${demo.url}/api/metrics?window=${window}`, { headers: { cookie } });
    expect(res.status).toBe(200);
    return (await res.json()) as MetricsOverview;
  }

  async function shownRatios(prefix: string, id: string): Promise<Record<Ratio, number | null>> {
    const out = {} as Record<Ratio, number | null>;
    for (const r of RATIOS) out[r] = parsePercent(await page.getByTestId(`${prefix}-${r}-${id}`).textContent());
    return out;
  }

  async function stateColour(machineId: string): Promise<string> {
    return page
      .getByTestId(`machine-${machineId}`)
      .locator('.tile-state')
      .evaluate((el) => getComputedStyle(el).backgroundColor);
  }

  beforeAll(async () => {
    ensureDashboardBuilt();
    mkdirSync(screenshots, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'greenline-overview-'));
    demo = await startDemo({ root, port: 0, freePorts: true, dataDir, seed: 11 });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    cookie = (await signInBrowser(context, demo.url, DEMO_VIEWER.username, DEMO_VIEWER.password)).cookie;
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
    });
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => {
        if (typeof f.payload === 'string' && f.payload.startsWith('{"type":"metrics"'))
          metricsReceived.push(Date.now());
      });
      ws.on('framesent', (f) => {
        if (typeof f.payload !== 'string') return;
        const msg = JSON.parse(f.payload) as { type: string; window?: string | null };
        if (msg.type === 'metrics') metricsSent.push(msg.window ?? null);
      });
    });
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('is the home page and shows the same OEE, A, P and Q as the REST API', async () => {
    await page.goto(demo.url);
    await expect.poll(() => page.getByTestId('overview-title').textContent()).toBe('Plant overview');
    expect(await page.getByTestId('nav-overview').getAttribute('aria-current')).toBe('page');
    await expect.poll(() => page.getByTestId('conn-state').getAttribute('data-state')).toBe('live');
    // live metrics arrive over the WebSocket: the answer to the subscription, then pushes
    await expect.poll(() => metricsReceived.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    expect(metricsSent).toEqual(['shift']);
    await expect.poll(() => page.getByTestId('overview-notice').isHidden(), { timeout: 20_000 }).toBe(true);

    const rest = await restOverview();
    expect(rest.ready).toBe(true);
    expect(await page.getByTestId('area-hall-a').locator('.line').count()).toBe(rest.lines.length);
    for (const line of rest.lines) {
      expect(await page.getByTestId(`line-${line.id}`).locator('.machine-tile').count()).toBe(line.machines.length);
    }
    expect(await page.getByTestId('window-info').textContent()).toMatch(/^Shift (day|night) · .+\d\d:\d\d/);

    // the page shows a push from up to a second ago: compare with the API just before and just after
    // reading, allowing what changed between the two; try again if the change straddled a push
    const mismatches: string[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      mismatches.length = 0;
      const t0 = Date.now();
      const before = await restOverview();
      const shown = new Map<string, Record<Ratio, number | null>>();
      for (const line of before.lines) {
        shown.set(`line-${line.id}`, await shownRatios('line', line.id));
        for (const m of line.machines) shown.set(`machine-${m.id}`, await shownRatios('machine', m.id));
      }
      const after = await restOverview();
      const readMs = Math.max(1, Date.now() - t0);
      for (const [i, line] of before.lines.entries()) {
        const lineAfter = after.lines[i]!;
        const pairs: [
          string,
          MetricsOverview['lines'][number]['record'],
          MetricsOverview['lines'][number]['record'],
        ][] = [[`line-${line.id}`, line.record, lineAfter.record]];
        for (const [j, m] of line.machines.entries()) {
          pairs.push([`machine-${m.id}`, m.record, lineAfter.machines[j]!.record]);
        }
        for (const [key, r1, r2] of pairs) {
          for (const ratio of RATIOS) {
            const a = r1?.[ratio] ?? null;
            const b = r2?.[ratio] ?? null;
            const got = shown.get(key)![ratio];
            if (a === null && b === null) {
              if (got !== null) mismatches.push(`${key} ${ratio}: shown ${got}, API null`);
              continue;
            }
            if (got === null) {
              if (a !== null && b !== null) mismatches.push(`${key} ${ratio}: shown —, API ${a}..${b}`);
              continue;
            }
            const lo = Math.min(a ?? b!, b ?? a!);
            const hi = Math.max(a ?? b!, b ?? a!);
            // what changed while reading, scaled to the reading plus one push interval (and a
            // second of scheduling slack on a loaded machine): the page may show a push that old
            const drift = ((hi - lo) * (readMs + 2000)) / readMs;
            if (got < lo - drift - ROUNDING || got > hi + drift + ROUNDING) {
              mismatches.push(`${key} ${ratio}: shown ${got}, API ${lo}..${hi}`);
            }
          }
        }
      }
      if (mismatches.length === 0) break;
      await page.waitForTimeout(700);
    }
    expect(mismatches).toEqual([]);

    // a missing figure is "—" with its reason, never 0: the demo's machines have no meter of their own
    expect(await page.getByTestId('machine-kwh-per-unit-imm1').textContent()).toBe('—');
    expect(await page.getByTestId('machine-kwh-per-unit-imm1').getAttribute('title')).toBe(
      'No energy meter is configured for this machine or line',
    );
    expect(await page.getByTestId('machine-kwh-per-unit-imm1-why').textContent()).toBe('no meter');
    // the line meter gives energy per good unit once the line has made a good unit
    const line1 = (await restOverview()).lines.find((l) => l.id === 'line1')!;
    if (line1.record?.kwhPerGood != null) {
      expect(await page.getByTestId('line-kwh-per-unit-line1').textContent()).toMatch(/^\d[\d.,]*$/);
    }
    expect(problems).toEqual([]);
  });

  it('colours a faulted machine red and a machine whose PLC is gone dark grey with "no data"', async () => {
    const { control } = demo.simulators;
    control.fault('imm1', { reason: 3 });
    await expect
      .poll(() => page.getByTestId('machine-imm1').getAttribute('data-state'), { timeout: 10_000 })
      .toBe('unplanned-stop');
    expect(await stateColour('imm1')).toBe('rgb(192, 38, 45)');
    expect(await page.getByTestId('machine-state-imm1').textContent()).toBe('Unplanned stop');
    await expect.poll(() => page.getByTestId('machine-reason-imm1').textContent()).toMatch(/^Tool break/);
    // the time in this state ticks every second
    const since = await page.getByTestId('machine-since-imm1').textContent();
    expect(since).toMatch(/^for \d+ s$/);
    await expect.poll(() => page.getByTestId('machine-since-imm1').textContent(), { timeout: 3000 }).not.toBe(since);

    await control.stopDevice('line2-plc');
    await expect
      .poll(() => page.getByTestId('machine-wash1').getAttribute('data-state'), { timeout: 15_000 })
      .toBe('offline');
    expect(await page.getByTestId('machine-state-wash1').textContent()).toBe('No data');
    expect(await stateColour('wash1')).toBe('rgb(58, 67, 77)');
    // the other line's machines go on as before
    expect(await page.getByTestId('machine-cnc1').getAttribute('data-state')).not.toBe('offline');

    await page.screenshot({ path: join(screenshots, 'overview-1280x800.png') });
    await page.screenshot({ path: join(screenshots, 'overview-1280x800-full.png'), fullPage: true });

    control.clear('imm1');
    await control.startDevice('line2-plc');
    await expect
      .poll(() => page.getByTestId('machine-imm1').getAttribute('data-state'), { timeout: 10_000 })
      .not.toBe('unplanned-stop');
    await expect
      .poll(() => page.getByTestId('machine-wash1').getAttribute('data-state'), { timeout: 40_000 })
      .not.toBe('offline');
    expect(problems).toEqual([]);
  });

  it('follows the chosen window and remembers it', async () => {
    await page.getByTestId('window-hour').click();
    expect(await page.getByTestId('window-hour').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('window-shift').getAttribute('aria-pressed')).toBe('false');
    await expect.poll(() => metricsSent.at(-1)).toBe('hour');
    await expect.poll(() => page.getByTestId('window-info').textContent()).not.toMatch(/^Shift/);
    await expect.poll(() => page.getByTestId('line-oee-line1').textContent()).toMatch(/%$|^—$/);

    await page.reload();
    await expect.poll(() => page.getByTestId('window-hour').getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => metricsSent.at(-1)).toBe('hour');
    await page.getByTestId('window-shift').click();
    await expect.poll(() => metricsSent.at(-1)).toBe('shift');
    await expect.poll(() => page.getByTestId('window-info').textContent()).toMatch(/^Shift/);
    expect(problems).toEqual([]);
  });

  it('switches to Traditional Chinese', async () => {
    await page.getByTestId('lang-zh-Hant').click();
    await expect.poll(() => page.getByTestId('overview-title').textContent()).toBe('廠區總覽');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-Hant');
    expect(await page.getByTestId('nav-overview').textContent()).toBe('廠區總覽');
    expect(await page.getByTestId('nav-live').textContent()).toBe('即時標籤');
    expect(await page.getByTestId('window-shift').textContent()).toBe('本班次');
    expect(await page.getByTestId('conn-state').textContent()).toBe('即時連線');
    expect(await page.getByTestId('demo-banner').textContent()).toContain('示範工廠');
    expect(await page.getByTestId('machine-kwh-per-unit-imm1-why').textContent()).toBe('無電錶');
    await expect
      .poll(() => page.getByTestId('machine-state-cnc1').textContent())
      .toMatch(/^(運轉中|閒置|非計劃停機|計劃停機|離線|無資料)$/);
    expect(await page.getByTestId('window-info').textContent()).toMatch(/^班次 /);
    await page.screenshot({ path: join(screenshots, 'overview-1280x800-zh.png') });
    expect(problems).toEqual([]);
  });

  it('is usable on a portrait tablet and a phone', async () => {
    await page.setViewportSize({ width: 800, height: 1280 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(800);
    for (const id of ['window-prev-shift', 'nav-live', 'lang-en']) {
      const box = await page.getByTestId(id).boundingBox();
      expect(box?.height, id).toBeGreaterThanOrEqual(44);
    }
    const oee = await page.getByTestId('line-oee-line1').boundingBox();
    expect(oee?.height).toBeGreaterThanOrEqual(40); // the line's OEE reads from across the cell
    await page.screenshot({ path: join(screenshots, 'overview-800x1280-zh.png') });
    await page.getByTestId('lang-en').click();
    await expect.poll(() => page.getByTestId('overview-title').textContent()).toBe('Plant overview');
    await page.screenshot({ path: join(screenshots, 'overview-800x1280.png') });
    await page.screenshot({ path: join(screenshots, 'overview-800x1280-full.png'), fullPage: true });
    // and still without sideways scrolling on a phone
    await page.setViewportSize({ width: 400, height: 800 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(400);
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(problems).toEqual([]);
  });

  it('keeps the live tags page one tap away, and stops metrics while it shows', async () => {
    await page.getByTestId('nav-live').click();
    await expect.poll(() => page.evaluate(() => window.location.hash)).toBe('#/live');
    await expect.poll(() => page.getByTestId('page-title').textContent()).toBe('Live tags');
    expect(await page.getByTestId('nav-live').getAttribute('aria-current')).toBe('page');
    await page.getByTestId('tag-quality-l1.imm1.barrel_temp').filter({ hasText: 'Good' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => metricsSent.at(-1)).toBeNull();
    expect(await page.getByTestId('overview-title').count()).toBe(0);

    await page.goBack();
    await expect.poll(() => page.getByTestId('overview-title').textContent()).toBe('Plant overview');
    await expect.poll(() => metricsSent.at(-1)).toBe('shift');
    await expect.poll(() => page.getByTestId('line-oee-line1').textContent()).toMatch(/%$|^—$/);
    expect(problems).toEqual([]);
  });
});
