/**
 * Alarms end to end, in a real browser against the real demo: the simulator
 * drives IMM1's barrel above 245 °C over Modbus, the gateway raises the
 * alarm after its 5 s on-delay, it appears on the alarms page (and in the
 * header count and on the overview), an operator acknowledges it with a
 * comment, the audit trail and its CSV show who and why, and a viewer gets
 * no button and a 403 when posting directly.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoRun } from '../../gateway/demo.js';
import { startDemo } from '../../gateway/demo.js';
import type { AlarmAuditResponse, AlarmDetailResponse } from '../../gateway/server/contract.js';
import { type SignedIn, signIn, signInBrowser } from './sign-in.js';
import { SCREENSHOTS_DIR } from './artifacts.js';
import { ensureDashboardBuilt } from '../lib/fresh-build.js';

const root = resolve(import.meta.dirname, '../..');
const screenshots = SCREENSHOTS_DIR;
const ALARM = 'imm1-barrel-high';
const COMMENT = 'Heater band 3 checked, cooling fan restarted';

describe('dashboard: alarms', () => {
  let demo: DemoRun;
  let dataDir: string;
  let browser: Browser;
  let page: Page;
  let operator: SignedIn;
  const problems: string[] = [];

  const api = async <T>(path: string, who: SignedIn = operator): Promise<T> => {
    const res = await fetch(`${demo.url}${path}`, { headers: { cookie: who.cookie } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };

  async function shoot(p: Page, name: string, full = false): Promise<void> {
    const { width, height } = p.viewportSize()!;
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: join(screenshots, `${name}-${width}x${height}.png`), fullPage: full });
  }

  function watch(p: Page): void {
    p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    p.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    p.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
    });
  }

  async function signedInPage(username: string, password: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'en-US',
      acceptDownloads: true,
    });
    await signInBrowser(context, demo.url, username, password);
    await context.addInitScript(() => {
      localStorage.setItem('greenline.lang', 'en');
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const p = await context.newPage();
    watch(p);
    return { context, page: p };
  }

  beforeAll(async () => {
    ensureDashboardBuilt();
    mkdirSync(screenshots, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'greenline-alarms-'));
    demo = await startDemo({ root, port: 0, freePorts: true, dataDir, seed: 17 });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    operator = await signIn(demo.url, 'operator', 'operator-demo');
    ({ page } = await signedInPage('operator', 'operator-demo'));
  });

  afterAll(async () => {
    try {
      demo?.simulators.control.override('imm1', 'barrelTemperature', null);
    } catch {
      // the demo did not start
    }
    await browser?.close();
    await demo?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows a real over-temperature as an unacknowledged alarm, in the header count and on the overview', async () => {
    await page.goto(`${demo.url}/#/alarms`);
    await expect.poll(() => page.getByTestId('alarms-title').textContent()).toBe('Alarms');
    expect(await page.getByTestId('nav-alarms').getAttribute('aria-current')).toBe('page');
    await expect
      .poll(() => page.getByTestId('conn-state').getAttribute('data-state'), { timeout: 20_000 })
      .toBe('live');
    const before = await api<AlarmDetailResponse>(`/api/alarms/${ALARM}`);
    expect(before.alarm.state).toBe('normal');
    await expect.poll(() => page.getByTestId('alarms-empty').isVisible(), { timeout: 10_000 }).toBe(true);

    // the simulated PLC's barrel goes to 250 °C: above the 245 °C limit, held past the 5 s on-delay
    const pinnedAt = Date.now();
    demo.simulators.control.override('imm1', 'barrelTemperature', 250);
    const card = page.getByTestId(`alarm-${ALARM}`);
    await page.getByTestId('alarms-list').getByTestId(`alarm-${ALARM}`).waitFor({ timeout: 30_000 });
    const shownAfterMs = Date.now() - pinnedAt;
    const raised = await api<AlarmDetailResponse>(`/api/alarms/${ALARM}`);
    expect(raised.alarm.state).toBe('active-unacknowledged');
    // the on-delay held it back: raised at least 5 s after the reading crossed the limit
    expect(raised.alarm.activeSince! - pinnedAt).toBeGreaterThanOrEqual(5000);
    console.info(`alarm shown in the browser ${shownAfterMs} ms after the barrel was pinned (5 s on-delay)`);

    expect(await card.getAttribute('data-priority')).toBe('medium');
    expect(await card.getAttribute('data-state')).toBe('active-unacknowledged');
    expect(await page.getByTestId(`alarm-message-${ALARM}`).textContent()).toBe('IMM1 barrel temperature high');
    expect(await page.getByTestId(`alarm-priority-${ALARM}`).textContent()).toBe('Medium');
    const badge = page.getByTestId(`alarm-badge-unacknowledged-${ALARM}`);
    expect(await badge.textContent()).toBe('Unacknowledged');
    // unacknowledged: bold and blinking, in the priority's colour
    expect(await badge.evaluate((el) => getComputedStyle(el).animationName)).toBe('alarm-blink');
    expect(await page.getByTestId(`alarm-message-${ALARM}`).evaluate((el) => getComputedStyle(el).fontWeight)).toBe(
      '800',
    );
    expect(await card.evaluate((el) => getComputedStyle(el).borderLeftColor)).toBe('rgb(217, 102, 10)');
    const meta = await card.locator('.alarm-meta').textContent();
    // where, by the plant's names
    expect(meta).toContain('Line 1');
    expect(meta).toContain('Injection moulder IMM-7000');
    expect(meta).toMatch(/limit 245(\.0+)? °C/);
    // the operator's buttons
    expect(await page.getByTestId(`alarm-acknowledge-${ALARM}`).isVisible()).toBe(true);
    expect(await page.getByTestId(`alarm-shelve-${ALARM}`).isVisible()).toBe(true);
    expect(await page.getByTestId(`alarm-reset-${ALARM}`).isVisible()).toBe(false);
    expect(await page.getByTestId(`alarm-out-of-service-${ALARM}`).isVisible()).toBe(false);
    await expect.poll(() => page.getByTestId('nav-alarms-count').textContent()).toBe('1');
    expect(await page.getByTestId('alarms-count-unacknowledged').textContent()).toBe('1 unacknowledged');
    await page.waitForTimeout(600);
    await shoot(page, 'alarms-active-unacknowledged');

    await page.getByTestId('nav-overview').click();
    await expect.poll(() => page.getByTestId('line-alarms-line1').textContent(), { timeout: 20_000 }).toBe('1');
    expect(await page.getByTestId('line-alarms-unack-line1').textContent()).toBe('1 unacknowledged');
    expect(await page.getByTestId('line-alarms-line2').textContent()).toBe('0');
    await page.getByTestId('line-alarms-line1').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(screenshots, 'alarms-overview-count-1280x800.png') });
  });

  it("takes an operator's acknowledgement with a comment, and the audit trail shows it", async () => {
    await page.goto(`${demo.url}/#/alarms`);
    const card = page.getByTestId(`alarm-${ALARM}`);
    await card.waitFor({ timeout: 10_000 });
    await page.getByTestId(`alarm-comment-${ALARM}`).fill(COMMENT);
    await page.getByTestId(`alarm-acknowledge-${ALARM}`).click();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 5000 }).toBe('active-acknowledged');
    expect(await page.getByTestId(`alarm-badge-acknowledged-${ALARM}`).textContent()).toBe('Acknowledged');
    const ackNote = await page.getByTestId(`alarm-ack-${ALARM}`).textContent();
    expect(ackNote).toContain('Acknowledged by operator');
    expect(ackNote).toContain(COMMENT);
    expect(await page.getByTestId(`alarm-acknowledge-${ALARM}`).isVisible()).toBe(false);
    expect(await page.getByTestId(`alarm-comment-${ALARM}`).inputValue()).toBe('');
    // no longer blinking; the header count is gone
    expect(
      await page.getByTestId(`alarm-badge-acknowledged-${ALARM}`).evaluate((el) => getComputedStyle(el).animationName),
    ).toBe('none');
    await expect.poll(() => page.getByTestId('nav-alarms-count').count()).toBe(0);

    // on record with the signed-in user and the comment
    const trail = await api<AlarmAuditResponse>(`/api/alarms/audit?alarmId=${ALARM}`);
    const ack = trail.entries.find((e) => e.action === 'acknowledge');
    expect(ack).toMatchObject({ user: 'operator', comment: COMMENT, result: 'accepted' });

    // the history tab shows it, newest first
    await page.getByTestId('alarms-tab-history').click();
    await expect.poll(() => page.url()).toContain('#/alarms/history');
    const row = page.getByTestId(`history-row-${ack!.id}`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getByTestId('history-action').textContent()).toBe('Acknowledged');
    expect(await row.getByTestId('history-user').textContent()).toBe('operator');
    expect(await row.getByTestId('history-comment').textContent()).toBe(COMMENT);
    expect(await row.getByTestId('history-result').textContent()).toBe('done');
    const firstAction = await page.getByTestId('history-table').locator('tbody tr').first().getAttribute('data-action');
    expect(firstAction).toBe('acknowledge');
    await shoot(page, 'alarms-history');

    // and the CSV download holds it, with the user and the comment
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('history-csv').click()]);
    expect(download.suggestedFilename()).toMatch(/^greenline-alarm-audit-.*\.csv$/);
    const csv = readFileSync(await download.path()).toString('utf8');
    expect(csv.startsWith('\uFEFFseq,timestamp,alarm_id,')).toBe(true);
    // the comment holds a comma: quoted
    expect(csv).toMatch(new RegExp(`,${ALARM},\\d+,acknowledge,operator,"${COMMENT}",accepted,active-unacknowledged,`));

    // search and filter: a word of the comment keeps the row; operator actions only drop the gateway's lines
    const rows = page.getByTestId('history-table').locator('tbody tr');
    await page.getByTestId('history-search').fill(COMMENT.split(' ')[0]!.toUpperCase());
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    await row.waitFor();
    await page.getByTestId('history-search').fill('no such words anywhere');
    await page.getByTestId('history-empty').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('history-empty').textContent()).toMatch(/matches the filter/);
    await page.getByTestId('history-search').fill('');
    await page.getByTestId('history-action-filter').selectOption('operator');
    await expect
      .poll(async () => new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')))), {
        timeout: 10_000,
      })
      .toEqual(new Set(['acknowledge']));
    expect(await page.getByTestId('history-csv').getAttribute('href')).toContain('action=acknowledge%2Creset');
    await shoot(page, 'alarms-history-filtered');
  });

  it('shows the statistics: alarms per 10 minutes, bad actors', async () => {
    await page.getByTestId('alarms-tab-stats').click();
    await expect
      .poll(() => page.getByTestId('stats-count').locator('.alarm-kpi-value').textContent(), {
        timeout: 10_000,
      })
      .not.toBe('0');
    expect(await page.getByTestId('stats-chart-svg').locator('rect.chart-bar').count()).toBeGreaterThanOrEqual(1);
    expect(await page.getByTestId('stats-bad-actors').textContent()).toContain('IMM1 barrel temperature high');
    await shoot(page, 'alarms-stats', true);
  });

  it("shows a viewer no buttons, and refuses a viewer's direct POST with 403", async () => {
    const { context, page: viewerPage } = await signedInPage('viewer', 'viewer-demo');
    try {
      await viewerPage.goto(`${demo.url}/#/alarms`);
      const card = viewerPage.getByTestId(`alarm-${ALARM}`);
      await card.waitFor({ timeout: 20_000 });
      expect(await viewerPage.getByTestId('alarms-view-only').isVisible()).toBe(true);
      expect(await viewerPage.locator('[data-testid^="alarm-acknowledge-"]:visible').count()).toBe(0);
      expect(await viewerPage.locator('.alarm-button:visible').count()).toBe(0);
      expect(await viewerPage.getByTestId(`alarm-comment-${ALARM}`).isVisible()).toBe(false);
      // what the viewer sees is the operator's acknowledgement
      expect(await viewerPage.getByTestId(`alarm-ack-${ALARM}`).textContent()).toContain(COMMENT);
      await shoot(viewerPage, 'alarms-viewer');

      const viewer = await signIn(demo.url, 'viewer', 'viewer-demo');
      const res = await fetch(`${demo.url}/api/alarms/${ALARM}/shelve`, {
        method: 'POST',
        headers: { cookie: viewer.cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'not mine to shelve', durationMinutes: 30 }),
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('GL_ERR_FORBIDDEN');
      expect((await api<AlarmDetailResponse>(`/api/alarms/${ALARM}`)).alarm.shelved).toBeNull();
    } finally {
      await context.close();
    }
  });

  it('reads in Traditional Chinese and fits a tablet', async () => {
    await page.setViewportSize({ width: 1024, height: 768 });
    await page.goto(`${demo.url}/#/alarms`);
    await page.getByTestId('lang-zh-Hant').click();
    await expect.poll(() => page.getByTestId('alarms-title').textContent()).toBe('警報');
    expect(await page.getByTestId(`alarm-message-${ALARM}`).textContent()).toBe('IMM1 料筒溫度過高');
    expect(await page.getByTestId(`alarm-priority-${ALARM}`).textContent()).toBe('中');
    expect(await page.getByTestId(`alarm-badge-acknowledged-${ALARM}`).textContent()).toBe('已確認');
    expect(await page.getByTestId('nav-alarms').textContent()).toBe('警報');
    // nothing wider than the screen
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1024);
    // tap targets of at least 44 px
    const shelve = await page.getByTestId(`alarm-shelve-${ALARM}`).boundingBox();
    expect(shelve!.height).toBeGreaterThanOrEqual(44);
    await shoot(page, 'alarms-zh-Hant');
    await page.getByTestId('lang-en').click();
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('shelves from the browser with a reason, shows the expiry, and unshelves', async () => {
    await page.getByTestId(`alarm-shelve-${ALARM}`).click();
    await page.getByTestId(`alarm-shelve-duration-${ALARM}`).selectOption('30');
    // a shelf without a reason is not sent
    await page.getByTestId(`alarm-shelve-confirm-${ALARM}`).click();
    expect(await page.getByTestId(`alarm-error-${ALARM}`).textContent()).toBe('Give a reason: it goes on record.');
    await page.getByTestId(`alarm-shelve-reason-${ALARM}`).fill('Thermocouple replacement');
    await page.getByTestId(`alarm-shelve-confirm-${ALARM}`).click();
    const hidden = page.getByTestId('alarms-hidden-list').getByTestId(`alarm-${ALARM}`);
    await hidden.waitFor({ timeout: 5000 });
    const shelf = (await api<AlarmDetailResponse>(`/api/alarms/${ALARM}`)).alarm.shelved!;
    expect(shelf).toMatchObject({ user: 'operator', reason: 'Thermocouple replacement' });
    expect(shelf.until - shelf.at).toBe(30 * 60_000);
    expect(await page.getByTestId(`alarm-badge-shelved-${ALARM}`).textContent()).toMatch(
      /^Shelved until \d\d:\d\d:\d\d$/,
    );
    await shoot(page, 'alarms-shelved');
    await page.getByTestId(`alarm-unshelve-${ALARM}`).click();
    await page.getByTestId('alarms-list').getByTestId(`alarm-${ALARM}`).waitFor({ timeout: 5000 });
    expect(problems).toEqual([]);
  });
});
