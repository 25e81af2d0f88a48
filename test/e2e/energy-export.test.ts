/**
 * The energy export as an energy manager uses it, in a real browser against
 * the real demo: signed in as `energy`, the energy page's export choices
 * (range, level, rows per period) make the link, the browser downloads the
 * CSV, and the file is a real export: the documented header, one row per
 * line and day of the month so far, carbon that is energy × the factor
 * named in the row, and per-line totals equal to GET /api/metrics for the
 * same range up to the last stored minute. A viewer gets no usable download
 * on the page, and the gateway refuses the same export to a viewer with 403.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { translator } from '../../dashboard/src/i18n.js';
import type { DemoRun } from '../../gateway/demo.js';
import { startDemo } from '../../gateway/demo.js';
import type { MetricsOverview, PlantView } from '../../gateway/server/contract.js';
import { SCREENSHOTS_DIR, screenshotsDir } from './artifacts.js';
import { type SignedIn, signIn, signInBrowser } from './sign-in.js';
import { ensureDashboardBuilt } from '../lib/fresh-build.js';

const root = resolve(import.meta.dirname, '../..');
const MINUTE_MS = 60_000;

/** the columns of energy.csv with location- and market-based factors (gateway/server/README.md) */
const HEADER = [
  'period_start',
  'period_end',
  'site',
  'area',
  'line',
  'machine',
  'meter',
  'energy_type',
  'kwh',
  'kwh_basis',
  'basis_note',
  'units_produced',
  'kwh_per_unit',
  ...['location', 'market'].flatMap((m) => [
    `${m}_factor_kg_co2e_per_kwh`,
    `${m}_factor_source`,
    `${m}_factor_year`,
    `${m}_method`,
    `${m}_kg_co2e`,
    `${m}_t_co2e`,
    `${m}_kg_co2e_per_unit`,
  ]),
];

/** RFC 4180: comma-separated, CRLF line ends, quoted cells with doubled quotes */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) throw new Error('the file does not end with CRLF: cut short?');
  return rows;
}

/** site-local calendar days from `from` to `to`, both YYYY-MM-DD, both included */
function daysBetween(from: string, to: string): number {
  return (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
}

describe('dashboard: energy export', () => {
  let demo: DemoRun;
  let dataDir: string;
  let browser: Browser;
  let energy: SignedIn;
  let plant: PlantView;
  /** the URL the energy manager downloaded, for the viewer to try */
  let exportPath = '';

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${demo.url}${path}`, { headers: { cookie: energy.cookie } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  }

  /** a signed-in browser page whose errors and refused requests are gathered */
  async function signedInPage(
    username: string,
    password: string,
    problems: string[],
  ): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'en-US',
      acceptDownloads: true,
    });
    await signInBrowser(context, demo.url, username, password);
    await context.addInitScript(() => localStorage.setItem('greenline.lang', 'en'));
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
    });
    return { context, page };
  }

  beforeAll(async () => {
    ensureDashboardBuilt();
    screenshotsDir();
    dataDir = mkdtempSync(join(tmpdir(), 'greenline-energy-export-'));
    demo = await startDemo({ root, port: 0, freePorts: true, dataDir, seed: 23 });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    energy = await signIn(demo.url, 'energy', 'energy-demo');
    plant = await api<PlantView>('/api/plant');
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('downloads the energy CSV from the energy page as an energy manager, equal to the metrics API', {
    timeout: 240_000,
  }, async () => {
    const problems: string[] = [];
    const { context, page } = await signedInPage('energy', 'energy-demo', problems);
    try {
      await page.goto(`${demo.url}/#/energy`);
      await expect.poll(() => page.getByTestId('energy-title').textContent()).toBe('Energy & carbon');
      await page.getByTestId('energy-table').waitFor({ timeout: 20_000 });
      const info = page.getByTestId('energy-range-info');
      const from = Number(await info.getAttribute('data-from'));

      // the export form: this month, a row per line and day
      await page.getByTestId('energy-range-this-month').click();
      await page.getByTestId('energy-level-line').click();
      await page.getByTestId('energy-period-day').click();
      const link = page.getByTestId('energy-csv');
      expect(await link.getAttribute('aria-disabled')).toBe('false');
      const href = (await link.getAttribute('href'))!;
      const query = new URL(href, demo.url).searchParams;
      expect(query.get('level')).toBe('line');
      expect(query.get('period')).toBe('day');
      const fromDate = query.get('from')!;
      const toDate = query.get('to')!;
      expect(fromDate).toMatch(/^\d{4}-\d{2}-01$/);
      expect(toDate.slice(0, 8)).toBe(fromDate.slice(0, 8));
      const url = new URL(href, `${demo.url}/`);
      exportPath = url.pathname + url.search;

      // the export reads stored minutes: wait until the demo's first minutes with energy are stored
      await expect
        .poll(
          async () => {
            const res = await fetch(url, { headers: { cookie: energy.cookie } });
            const [head, ...lines] = parseCsv((await res.text()).slice(1));
            const kwh = head!.indexOf('kwh');
            const line = head!.indexOf('line');
            return plant.lines.every((l) => lines.some((r) => r[line] === l.id && Number(r[kwh]) > 0));
          },
          { timeout: 150_000, interval: 2000 },
        )
        .toBe(true);

      const asked = Date.now();
      const download = page.waitForEvent('download');
      await link.click();
      const done = await download;
      const file = (await done.path())!;
      const answered = Date.now();
      expect(done.suggestedFilename()).toBe(`greenline-energy-${plant.site.id}-${fromDate}-${toDate}.csv`);
      await page.getByTestId('card-exports').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SCREENSHOTS_DIR, 'energy-export-energy-manager-1280x800.png') });

      const text = readFileSync(file, 'utf8');
      expect(text.startsWith('\ufeff')).toBe(true);
      const [header, ...rows] = parseCsv(text.slice(1));
      expect(header).toEqual(HEADER);
      const col = (name: string) => HEADER.indexOf(name);
      const num = (row: string[], name: string) => Number(row[col(name)]);

      // one row per line and day, days in order, lines in the plant's order
      const days = daysBetween(fromDate, toDate);
      expect(rows).toHaveLength(days * plant.lines.length);
      rows.forEach((row, i) => {
        const line = plant.lines[i % plant.lines.length]!;
        const day = new Date(Date.parse(`${fromDate}T00:00:00Z`) + Math.floor(i / plant.lines.length) * 86_400_000);
        expect(row).toHaveLength(HEADER.length);
        // midnight on the site's calendar, with the site's offset
        expect(row[col('period_start')]).toMatch(
          new RegExp(`^${day.toISOString().slice(0, 10)}T00:00:00[+-]\\d{2}:\\d{2}$`),
        );
        expect(row[col('site')]).toBe(plant.site.id);
        expect(row[col('line')]).toBe(line.id);
        expect(row[col('machine')]).toBe('');
        expect(row[col('energy_type')]).toBe('electricity');
        expect(row[col('location_method')]).toBe('location-based');
        expect(row[col('market_method')]).toBe('market-based');
        expect(row[col('location_factor_source')]).not.toBe('');
        expect(row[col('location_factor_year')]).toMatch(/^\d{4}$/);
      });

      // carbon is the row's energy times the factor it names, kg and t alike
      const withEnergy = rows.filter((r) => r[col('kwh')] !== '');
      expect(withEnergy.length).toBeGreaterThanOrEqual(plant.lines.length);
      for (const row of withEnergy) {
        for (const m of ['location', 'market']) {
          const kg = num(row, 'kwh') * num(row, `${m}_factor_kg_co2e_per_kwh`);
          expect(Math.abs(num(row, `${m}_kg_co2e`) - kg)).toBeLessThanOrEqual(2e-6);
          expect(Math.abs(num(row, `${m}_t_co2e`) - num(row, `${m}_kg_co2e`) / 1000)).toBeLessThanOrEqual(2e-9);
        }
      }

      // today's rows carry the demo's energy
      for (const line of plant.lines) {
        const today = rows.find((r) => r[col('line')] === line.id && r[col('period_start')]!.startsWith(toDate))!;
        expect(num(today, 'kwh'), line.id).toBeGreaterThan(0);
      }

      // per line, the file adds up to the metrics API for the month up to the last stored minute:
      // the minute the download was asked in, or the one before when it had not been stored yet
      const sums = new Map<string, { kwh: number; units: number }>();
      for (const row of rows) {
        const s = sums.get(row[col('line')]!) ?? { kwh: 0, units: 0 };
        if (row[col('kwh')] !== '') s.kwh += num(row, 'kwh');
        if (row[col('units_produced')] !== '') s.units += num(row, 'units_produced');
        sums.set(row[col('line')]!, s);
      }
      const candidates = new Set<number>();
      for (const t of [asked, answered]) {
        const minute = Math.floor(t / MINUTE_MS) * MINUTE_MS;
        candidates.add(minute);
        candidates.add(minute - MINUTE_MS);
      }
      const compared: string[] = [];
      let matched: number | null = null;
      for (const to of [...candidates].sort((a, b) => b - a)) {
        const o = await api<MetricsOverview>(`/api/metrics?from=${from}&to=${to}`);
        const mismatches = o.lines.filter((l) => {
          const s = sums.get(l.id)!;
          // each row's kWh is written to 6 decimals
          return Math.abs(s.kwh - l.record!.kwh!) > 1e-6 * days || s.units !== (l.record!.good ?? 0);
        });
        compared.push(
          `to ${new Date(to).toISOString()}: ` +
            o.lines.map((l) => `${l.id} ${l.record?.kwh} kWh ${l.record?.good} good`).join(', '),
        );
        if (mismatches.length === 0) {
          matched = to;
          break;
        }
      }
      expect(
        matched,
        `file: ${[...sums].map(([id, s]) => `${id} ${s.kwh} kWh ${s.units} units`).join(', ')}; API ${compared.join('; ')}`,
      ).not.toBeNull();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('gives a viewer no usable download on the energy page, and the gateway refuses the export with 403', async () => {
    expect(exportPath).toMatch(/^\/api\/export\/energy\.csv\?/);
    const problems: string[] = [];
    const { context, page } = await signedInPage('viewer', 'viewer-demo', problems);
    try {
      await page.goto(`${demo.url}/#/energy`);
      await page.getByTestId('energy-table').waitFor({ timeout: 20_000 });
      for (const id of ['energy-csv', 'tags-csv']) {
        const link = page.getByTestId(id);
        expect(await link.getAttribute('href'), id).toBeNull();
        expect(await link.getAttribute('aria-disabled'), id).toBe('true');
      }
      expect(await page.getByTestId('export-note').isVisible()).toBe(true);
      expect(await page.getByTestId('export-note').textContent()).toContain(translator('en')('energy.exportRole'));
      // activating the link starts no download
      let downloads = 0;
      page.on('download', () => downloads++);
      // (a disabled link takes no pointer: the click goes to the link itself)
      await page.getByTestId('energy-csv').dispatchEvent('click');
      await page.waitForTimeout(1500);
      expect(downloads).toBe(0);
      await page.getByTestId('card-exports').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SCREENSHOTS_DIR, 'energy-export-viewer-1280x800.png') });

      // the same export the energy manager downloaded, asked for with the viewer's sign-in
      const res = await context.request.get(`${demo.url}${exportPath}`);
      expect(res.status()).toBe(403);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('GL_ERR_FORBIDDEN');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
