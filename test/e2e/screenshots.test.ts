/**
 * Every page of the dashboard, as pictures for people to look at: the real
 * demo in Chromium, signed in as an administrator (who sees every page and
 * control) and, signed out, the sign-in page; in English and in Traditional
 * Chinese (chosen with the header's language switch), on a 1280×800 screen
 * and a 1024×768 tablet. Each page is pictured once its data is on screen
 * (no loading message left), and must fit the width without sideways
 * scrolling and log no error. The full-page PNGs go to artifacts/screenshots/
 * as pages-<page>-<language>-<width>x<height>.png.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alarmTranslator } from '../../dashboard/src/alarms/alarm-i18n.js';
import { type Lang, LANGUAGES, translator } from '../../dashboard/src/i18n.js';
import { usersTranslator } from '../../dashboard/src/users/users-i18n.js';
import type { DemoRun } from '../../gateway/demo.js';
import { startDemo } from '../../gateway/demo.js';
import type { LiveResponse, Me, PlantView } from '../../gateway/server/contract.js';
import { screenshotsDir } from './artifacts.js';
import { type SignedIn, signIn, signInBrowser } from './sign-in.js';
import { ensureDashboardBuilt } from '../lib/fresh-build.js';

const root = resolve(import.meta.dirname, '../..');
const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 1024, height: 768 },
] as const;
/** Chinese characters: a page title in the wrong language fails */
const CJK = /[\u3400-\u9fff]/;

/** what a page says while its data is on the way, in one language: none of it may be left in a picture */
function loadingTexts(lang: Lang): string[] {
  const t = translator(lang);
  const at = alarmTranslator(lang);
  const ut = usersTranslator(lang);
  return [
    t('load.loading'),
    t('overview.loading'),
    t('overview.rebuilding'),
    t('timeline.loading'),
    t('baseline.loading'),
    t('trend.loading'),
    t('health.loading'),
    at('alarms.loading'),
    at('history.loading'),
    at('stats.loading'),
    ut('users.loading'),
  ];
}

interface Shown {
  readonly page: Page;
  readonly plant: PlantView;
  readonly live: LiveResponse;
}

interface PageSpec {
  /** the file name's part */
  readonly name: string;
  readonly hash: string;
  /** resolves once the page shows its data */
  readonly ready: (s: Shown) => Promise<void>;
}

const WAIT = { timeout: 45_000 } as const;

/** text that holds a digit: a number, not "—" or nothing */
async function hasNumber(locator: Locator): Promise<boolean> {
  return /\d/.test((await locator.textContent()) ?? '');
}

/** every chart on the page has values to draw, and its "no values" note is hidden */
async function chartsHaveData(page: Page, atLeast: number): Promise<void> {
  const charts = page.locator('main .chart[data-points]');
  await expect.poll(() => charts.count(), WAIT).toBeGreaterThanOrEqual(atLeast);
  await expect
    .poll(
      () => charts.evaluateAll((els) => els.filter((el) => Number(el.getAttribute('data-points')) === 0).length),
      WAIT,
    )
    .toBe(0);
}

async function machineReady({ page }: Shown, id: string): Promise<void> {
  await expect.poll(() => page.getByTestId('detail-status').textContent(), WAIT).toMatch(/ · /);
  await expect.poll(() => hasNumber(page.getByTestId('detail-oee')), WAIT).toBe(true);
  await chartsHaveData(page, 2);
  await expect.poll(() => page.getByTestId(`timeline-row-${id}`).locator('.tl-band').count(), WAIT).toBeGreaterThan(0);
  await page.getByTestId('loss-planned').or(page.getByTestId('losses-none')).first().waitFor(WAIT);
}

async function lineReady({ page, plant }: Shown, id: string): Promise<void> {
  const line = plant.lines.find((l) => l.id === id)!;
  for (const m of line.machines) await page.getByTestId(`line-machine-${m.id}`).waitFor(WAIT);
  await expect.poll(() => hasNumber(page.getByTestId('energy-total')), WAIT).toBe(true);
  await chartsHaveData(page, 2);
  for (const m of line.machines) {
    await expect
      .poll(() => page.getByTestId(`timeline-row-${m.id}`).locator('.tl-band').count(), WAIT)
      .toBeGreaterThan(0);
  }
  await page.getByTestId('baseline-c').waitFor(WAIT);
}

const PAGES: readonly PageSpec[] = [
  {
    name: 'overview',
    hash: '#/',
    ready: async ({ page, plant }) => {
      for (const line of plant.lines) {
        await expect.poll(() => hasNumber(page.getByTestId(`line-oee-${line.id}`)), WAIT).toBe(true);
        for (const m of line.machines) {
          await expect.poll(() => page.getByTestId(`machine-${m.id}`).getAttribute('data-state'), WAIT).toMatch(/\w/);
        }
      }
    },
  },
  { name: 'machine-imm1', hash: '#/machine/imm1', ready: (s) => machineReady(s, 'imm1') },
  { name: 'machine-cnc1', hash: '#/machine/cnc1', ready: (s) => machineReady(s, 'cnc1') },
  { name: 'line-line1', hash: '#/line/line1', ready: (s) => lineReady(s, 'line1') },
  { name: 'line-line2', hash: '#/line/line2', ready: (s) => lineReady(s, 'line2') },
  {
    name: 'live',
    hash: '#/live',
    ready: async ({ page, live }) => {
      await expect.poll(() => page.locator('[data-testid^="tag-row-"]').count(), WAIT).toBe(live.tags.length);
      for (const tag of live.tags.filter((t) => t.quality === 'good')) {
        await expect.poll(() => page.getByTestId(`tag-value-${tag.tagId}`).textContent(), WAIT).toMatch(/\S/);
      }
    },
  },
  {
    name: 'alarms',
    hash: '#/alarms',
    ready: async ({ page }) => {
      await page.getByTestId('alarms-list').or(page.getByTestId('alarms-empty')).first().waitFor(WAIT);
      await expect.poll(() => page.getByTestId('alarms-notice').isHidden(), WAIT).toBe(true);
    },
  },
  {
    name: 'alarms-history',
    hash: '#/alarms/history',
    ready: async ({ page }) => {
      await page.getByTestId('history-table').or(page.getByTestId('history-empty')).first().waitFor(WAIT);
    },
  },
  {
    name: 'alarms-stats',
    hash: '#/alarms/stats',
    ready: async ({ page }) => {
      await page.getByTestId('stats-chart').waitFor(WAIT);
    },
  },
  {
    name: 'energy',
    hash: '#/energy',
    ready: async ({ page, plant }) => {
      await page.getByTestId('energy-table').waitFor(WAIT);
      for (const line of plant.lines) {
        await expect
          .poll(() => hasNumber(page.getByTestId(`energy-row-line-${line.id}`).locator('td[data-col="kwh"]')), WAIT)
          .toBe(true);
      }
      await page.locator('[data-testid^="factor-"]').first().waitFor(WAIT);
    },
  },
  {
    name: 'health',
    hash: '#/health',
    ready: async ({ page, plant }) => {
      for (const d of plant.devices) await page.getByTestId(`health-device-${d.id}`).waitFor(WAIT);
      await page.getByTestId('health-store').waitFor(WAIT);
      await page.getByTestId('health-hub').waitFor(WAIT);
    },
  },
  {
    // user management: the administrator's page
    name: 'users',
    hash: '#/users',
    ready: async ({ page }) => {
      await page.getByTestId('users-table').waitFor(WAIT);
      for (const u of ['viewer', 'operator', 'energy', 'admin']) await page.getByTestId(`user-row-${u}`).waitFor(WAIT);
    },
  },
  {
    name: 'account',
    hash: '#/account',
    ready: async ({ page }) => {
      await page.getByTestId('account-language').waitFor(WAIT);
      await page.getByTestId('own-password-form').waitFor(WAIT);
    },
  },
];

describe('dashboard: a picture of every page', () => {
  let demo: DemoRun;
  let dataDir: string;
  let browser: Browser;
  let admin: SignedIn;
  let plant: PlantView;
  let shots: string;

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${demo.url}${path}`, { headers: { cookie: admin.cookie } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  }

  /** a page whose errors and failed requests are gathered; `allowed` are requests expected to be refused */
  async function openPage(context: BrowserContext, problems: string[], allowed?: RegExp): Promise<Page> {
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() !== 'error' && msg.type() !== 'warning') return;
      // the browser logs every refused request; those expected are checked by their responses below
      if (allowed && /the server responded with a status of 401/.test(msg.text())) return;
      problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400 && !(allowed && res.status() === 401 && allowed.test(new URL(res.url()).pathname))) {
        problems.push(`HTTP ${res.status()} for ${res.url()}`);
      }
    });
    return page;
  }

  /** checks the page as shown and takes its picture */
  async function picture(page: Page, name: string, lang: Lang): Promise<void> {
    const { width, height } = page.viewportSize()!;
    const label = `${name} (${lang}, ${width}×${height})`;
    await expect.poll(() => page.evaluate(() => document.documentElement.lang), { timeout: 10_000 }).toBe(lang);
    // a detail page's title is the machine's or line's name from the plant config: its way back is in words
    const heading = /^(machine|line)-/.test(name) ? page.getByTestId('crumb-overview') : page.locator('h1').first();
    const title = (await heading.textContent()) ?? '';
    expect(CJK.test(title), `${label}: "${title}"`).toBe(lang === 'zh-Hant');
    // no loading message left anywhere on screen
    // biome-ignore lint/performance/useDomNodeTextContent: the text shown, without that of hidden elements
    const text = await page.evaluate(() => document.body.innerText);
    for (const loading of loadingTexts(lang)) expect(text, `${label} still says "${loading}"`).not.toContain(loading);
    // the fonts and the charts' last drawing are in
    await page.evaluate(() => document.fonts.ready.then(() => undefined));
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const fit = await page.evaluate(() => {
      const el = document.scrollingElement ?? document.documentElement;
      return { scrollWidth: el.scrollWidth, clientWidth: el.clientWidth };
    });
    expect(fit.scrollWidth, `${label} scrolls sideways`).toBeLessThanOrEqual(fit.clientWidth);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(shots, `pages-${name}-${lang}-${width}x${height}.png`), fullPage: true });
  }

  beforeAll(async () => {
    ensureDashboardBuilt();
    shots = screenshotsDir();
    dataDir = mkdtempSync(join(tmpdir(), 'greenline-screenshots-'));
    demo = await startDemo({ root, port: 0, freePorts: true, dataDir, seed: 21 });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    admin = await signIn(demo.url, 'admin', 'admin-demo');
    plant = await api<PlantView>('/api/plant');
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  for (const viewport of VIEWPORTS) {
    for (const lang of LANGUAGES) {
      it(`pictures every page in ${lang} at ${viewport.width}×${viewport.height}`, { timeout: 600_000 }, async () => {
        const problems: string[] = [];

        // signed out: the sign-in page, its language chosen with its own switch
        const visitor = await browser.newContext({ viewport, locale: 'en-US' });
        try {
          const page = await openPage(visitor, problems, /^\/api\/me$/);
          await page.goto(demo.url);
          await page.getByTestId('signin-form').waitFor(WAIT);
          await page.getByTestId(`lang-${lang}`).click();
          await page.getByTestId('signin-demo').waitFor(WAIT);
          await picture(page, 'sign-in', lang);
        } finally {
          await visitor.close();
        }

        // signed in as the administrator; the language from the header's switch, which the account keeps
        const context = await browser.newContext({ viewport, locale: 'en-US' });
        try {
          await signInBrowser(context, demo.url, 'admin', 'admin-demo');
          const page = await openPage(context, problems);
          await page.goto(demo.url);
          const toggle = page.getByTestId(`lang-${lang}`);
          await toggle.waitFor(WAIT);
          if ((await toggle.getAttribute('aria-pressed')) !== 'true') {
            await toggle.click();
            // kept on the account: every page loaded from now on shows it
            await expect.poll(async () => (await api<Me>('/api/me')).language, WAIT).toBe(lang);
          }
          expect(await toggle.getAttribute('aria-pressed')).toBe('true');

          for (const spec of PAGES) {
            // a fresh load of each page, as someone opening a link has it (not a hash change in a loaded page)
            await page.goto('about:blank');
            await page.goto(`${demo.url}/${spec.hash}`);
            await expect.poll(() => page.getByTestId('conn-state').getAttribute('data-state'), WAIT).toBe('live');
            const live = spec.name === 'live' ? await api<LiveResponse>('/api/live') : ({ tags: [] } as never);
            await spec.ready({ page, plant, live });
            await picture(page, spec.name, lang);
          }
        } finally {
          await context.close();
        }
        expect(problems).toEqual([]);
      });
    }
  }
});
