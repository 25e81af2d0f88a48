/**
 * The plant overview, the dashboard's home: per line (grouped by area) its
 * OEE with A / P / Q, output, energy and carbon per good unit, then each
 * machine as a tile coloured by its state, with the stop reason and how long
 * it has been so. Figures follow the window the user picks.
 *
 * The page is built once per plant structure and language; a new overview
 * (about every second) only changes texts, so nothing jumps or flickers.
 */
import type {
  LineMetricsView,
  MachineMetricsView,
  MetricsOverview,
  MetricsWindowName,
  PlantView,
} from '../../gateway/server/contract.js';
import type { LineAlarmCount } from './alarms/alarm-model.js';
import { h, setClass, setText } from './dom.js';
import { formatClock, formatCount, formatDuration, formatPercent, formatPeriod, formatSignificant } from './format.js';
import { type Lang, type MessageKey, type Translate, translateReason, translator } from './i18n.js';
import {
  type Figure,
  groupByArea,
  overviewWindow,
  type RecordFigures,
  recordFigures,
  shiftName,
  statusView,
  structureKey,
  WINDOW_CHOICES,
} from './overview-model.js';
import { detailHash } from './router.js';
import type { Page } from './shell.js';

export interface OverviewPageOptions {
  readonly lang: Lang;
  readonly window: MetricsWindowName;
  readonly onWindowChange: (window: MetricsWindowName) => void;
}

/** a figure on the page: its value and, when it is missing, the short reason under it */
interface FigureEls {
  readonly value: HTMLElement;
  readonly why: HTMLElement;
}

interface FigureSet {
  readonly oee: FigureEls;
  readonly availability: FigureEls;
  readonly performance: FigureEls;
  readonly quality: FigureEls;
  readonly good: FigureEls;
  readonly total: FigureEls;
  readonly kwhPerGood: FigureEls;
  readonly perfFlag: HTMLElement;
  /** says once why a whole record is missing, instead of under every figure */
  readonly note: HTMLElement;
}

interface LineEls extends FigureSet {
  readonly kgCO2ePerGood: FigureEls;
  readonly market: HTMLElement;
  readonly idleEnergyShare: FigureEls;
}

interface MachineEls extends FigureSet {
  readonly tile: HTMLElement;
  readonly state: HTMLElement;
  readonly reason: HTMLElement;
  readonly since: HTMLElement;
  /** when the current state began, server clock */
  sinceTs: number | null;
}

const PERCENT_FIGURES = ['oee', 'availability', 'performance', 'quality'] as const;

export class OverviewPage implements Page {
  readonly el: HTMLElement;
  private lang: Lang;
  private t: Translate;
  private window: MetricsWindowName;
  private plant: PlantView | null = null;
  private overview: MetricsOverview | null = null;
  private loadError: string | null = null;
  /** server clock minus browser clock, so durations are right on a tablet whose clock is off */
  private clockOffsetMs = 0;
  private builtKey: string | null = null;
  private readonly lines = new Map<string, LineEls>();
  private readonly machines = new Map<string, MachineEls>();
  /** active alarms per line (only lines some alarm watches); null: not known */
  private alarmCounts: ReadonlyMap<string, LineAlarmCount> | null = null;
  private readonly alarmEls = new Map<string, { box: HTMLElement; value: HTMLElement; sub: HTMLElement }>();
  private noticeEl: HTMLElement | null = null;
  private windowInfoEl: HTMLElement | null = null;
  private bodyEl: HTMLElement | null = null;

  constructor(private readonly opts: OverviewPageOptions) {
    this.lang = opts.lang;
    this.t = translator(this.lang);
    this.window = opts.window;
    this.el = h('div', { class: 'page page-overview', 'data-testid': 'page-overview' });
    this.build();
  }

  get selectedWindow(): MetricsWindowName {
    return this.window;
  }

  title(): string {
    return this.t('overview.title');
  }

  // ---------- inputs ----------

  setPlant(plant: PlantView): void {
    this.plant = plant;
    this.build();
  }

  /** a new overview for the selected window (the caller drops older or other ones) */
  setOverview(overview: MetricsOverview): void {
    this.overview = overview;
    this.loadError = null;
    setClass(this.el, 'is-switching', false);
    this.clockOffsetMs = overview.serverTime - Date.now();
    if (this.builtKey !== this.keyOf(overview)) this.build();
    else this.update();
  }

  /** the alarm counts per line, as the alarms change */
  setAlarmCounts(counts: ReadonlyMap<string, LineAlarmCount> | null): void {
    this.alarmCounts = counts;
    this.updateAlarms();
  }

  setLoadError(detail: string | null): void {
    this.loadError = detail;
    this.updateNotice();
  }

  setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.build();
  }

  tick(): void {
    const now = Date.now() + this.clockOffsetMs;
    for (const m of this.machines.values()) this.updateSince(m, now);
  }

  // ---------- building ----------

  private keyOf(overview: MetricsOverview | null): string {
    return `${overview ? structureKey(overview) : ''}#${overview?.ready ?? ''}`;
  }

  private build(): void {
    const t = this.t;
    this.lines.clear();
    this.alarmEls.clear();
    this.machines.clear();
    this.builtKey = this.keyOf(this.overview);

    this.noticeEl = h('p', { class: 'notice', 'data-testid': 'overview-notice', role: 'status' });
    this.windowInfoEl = h('p', { class: 'window-info', 'data-testid': 'window-info' });
    this.bodyEl = h('div', { class: 'overview-body' });
    const head = h(
      'div',
      { class: 'page-head overview-head' },
      h('h1', { 'data-testid': 'overview-title' }, t('overview.title')),
      this.windowPicker(),
    );
    this.el.replaceChildren(head, this.windowInfoEl, this.noticeEl, this.bodyEl);

    const overview = this.overview;
    if (overview) {
      const groups = groupByArea(overview.lines, this.plant?.areas ?? []);
      for (const group of groups) {
        this.bodyEl.append(
          h(
            'section',
            { class: 'area', 'data-testid': `area-${group.id}` },
            h('h2', { class: 'area-title' }, group.name),
            group.lines.map((line) => this.lineSection(line)),
          ),
        );
      }
    }
    this.update();
  }

  private windowPicker(): HTMLElement {
    const t = this.t;
    const group = h('div', {
      class: 'window-picker',
      role: 'group',
      'aria-label': t('window.label'),
      'data-testid': 'window-picker',
    });
    for (const w of WINDOW_CHOICES) {
      const button = h(
        'button',
        {
          type: 'button',
          class: 'window-option',
          'aria-pressed': String(w === this.window),
          'data-testid': `window-${w}`,
        },
        t(`window.${w}`),
      );
      button.addEventListener('click', () => this.selectWindow(w));
      group.append(button);
    }
    return group;
  }

  private selectWindow(w: MetricsWindowName): void {
    if (w === this.window) return;
    this.window = w;
    for (const b of this.el.querySelectorAll<HTMLButtonElement>('.window-option')) {
      b.setAttribute('aria-pressed', String(b.dataset.testid === `window-${w}`));
    }
    // the figures on screen belong to the previous window: faded until the new ones come
    setClass(this.el, 'is-switching', true);
    this.opts.onWindowChange(w);
  }

  private lineSection(line: LineMetricsView): HTMLElement {
    const t = this.t;
    const id = line.id;
    const output = line.machines.find((m) => m.id === line.outputMachine);
    const fig = (name: string) => figureEls(`line-${name}-${id}`);
    const els: LineEls = {
      oee: fig('oee'),
      availability: fig('availability'),
      performance: fig('performance'),
      quality: fig('quality'),
      good: fig('good'),
      total: fig('total'),
      kwhPerGood: fig('kwh-per-unit'),
      kgCO2ePerGood: fig('co2-per-unit'),
      market: h('span', { class: 'figure-extra', 'data-testid': `line-co2-market-${id}` }),
      idleEnergyShare: fig('idle-share'),
      perfFlag: perfFlag(t, `line-perf-flag-${id}`),
      note: h('p', { class: 'record-note', 'data-testid': `line-note-${id}` }),
    };
    this.lines.set(id, els);

    const card = h(
      'article',
      { class: 'line-card', 'data-testid': `line-card-${id}` },
      h(
        'header',
        { class: 'line-head' },
        h(
          'h3',
          { class: 'line-name' },
          h('a', { class: 'line-link', href: detailHash('line', id), 'data-testid': `line-link-${id}` }, line.name),
        ),
        output ? h('span', { class: 'line-sub' }, t('line.output', { name: output.name })) : null,
      ),
      els.note,
      h(
        'div',
        { class: 'line-kpis' },
        h(
          'div',
          { class: 'kpi kpi-oee' },
          h('span', { class: 'kpi-label' }, t('metric.oee')),
          figureBox(els.oee, 'figure-xl'),
          els.perfFlag,
        ),
        h(
          'div',
          { class: 'kpi-apq' },
          apqCell(t, 'availability', els.availability, 'figure-l'),
          apqCell(t, 'performance', els.performance, 'figure-l'),
          apqCell(t, 'quality', els.quality, 'figure-l'),
        ),
        h(
          'div',
          { class: 'kpi-more' },
          kpi(t('metric.goodTotal'), goodTotal(els)),
          kpi(t('metric.kwhPerUnit'), figureBox(els.kwhPerGood, 'figure-m', t('unit.kwh'))),
          kpi(
            [t('metric.co2PerUnit'), h('span', { class: 'kpi-qualifier' }, t('metric.co2Location'))],
            figureBox(els.kgCO2ePerGood, 'figure-m', t('unit.kgco2e')),
            els.market,
          ),
          kpi(t('metric.idleShare'), figureBox(els.idleEnergyShare, 'figure-m'), t('metric.idleShareHint')),
          // no count for a line no alarm watches: a zero would claim "no alarms" where nothing is watched
          this.alarmKpi(id),
        ),
      ),
    );

    return h(
      'section',
      { class: 'line', 'data-testid': `line-${id}` },
      card,
      h(
        'div',
        { class: 'machine-grid' },
        line.machines.map((m) => this.machineTile(m, m.id === line.outputMachine)),
      ),
    );
  }

  private machineTile(machine: MachineMetricsView, isOutput: boolean): HTMLElement {
    const t = this.t;
    const id = machine.id;
    const fig = (name: string) => figureEls(`machine-${name}-${id}`);
    const state = h('span', { class: 'tile-state-name', 'data-testid': `machine-state-${id}` });
    const reason = h('span', { class: 'tile-reason', 'data-testid': `machine-reason-${id}` });
    const since = h('span', { class: 'tile-since', 'data-testid': `machine-since-${id}` });
    const tile = h(
      'article',
      { class: 'machine-tile', 'data-testid': `machine-${id}` },
      h('div', { class: 'tile-state' }, state, reason, since),
    );
    const els: MachineEls = {
      tile,
      state,
      reason,
      since,
      sinceTs: null,
      oee: fig('oee'),
      availability: fig('availability'),
      performance: fig('performance'),
      quality: fig('quality'),
      good: fig('good'),
      total: fig('total'),
      kwhPerGood: fig('kwh-per-unit'),
      perfFlag: perfFlag(t, `machine-perf-flag-${id}`),
      note: h('p', { class: 'record-note', 'data-testid': `machine-note-${id}` }),
    };
    this.machines.set(id, els);
    tile.append(
      h(
        'header',
        { class: 'tile-head' },
        // the link covers the whole tile (styles.css): a tap anywhere opens the machine's page
        h(
          'h4',
          { class: 'tile-name' },
          h(
            'a',
            { class: 'tile-link', href: detailHash('machine', id), 'data-testid': `machine-link-${id}` },
            machine.name,
          ),
        ),
        isOutput ? h('span', { class: 'tile-output', title: t('machine.outputHint') }, t('machine.output')) : null,
      ),
      els.note,
      h(
        'div',
        { class: 'tile-figures' },
        h(
          'div',
          { class: 'kpi kpi-oee tile-oee' },
          h('span', { class: 'kpi-label' }, t('metric.oee')),
          figureBox(els.oee, 'figure-l'),
          els.perfFlag,
        ),
        h(
          'div',
          { class: 'kpi-apq' },
          apqCell(t, 'availability', els.availability, 'figure-s'),
          apqCell(t, 'performance', els.performance, 'figure-s'),
          apqCell(t, 'quality', els.quality, 'figure-s'),
        ),
      ),
      h(
        'div',
        { class: 'tile-more' },
        kpi(t('metric.goodTotalShort'), goodTotal(els, 'figure-s')),
        kpi(t('metric.kwhPerUnitShort'), figureBox(els.kwhPerGood, 'figure-s')),
      ),
    );
    return tile;
  }

  // ---------- updating ----------

  private alarmKpi(lineId: string): HTMLElement {
    const t = this.t;
    const value = h('span', { class: 'figure-value', 'data-testid': `line-alarms-${lineId}` });
    const sub = h('span', { class: 'line-alarms-sub', 'data-testid': `line-alarms-unack-${lineId}` });
    const box = h(
      'a',
      { class: 'kpi line-alarms', href: '#/alarms', title: t('overview.alarmsHint') },
      h('span', { class: 'kpi-label' }, t('overview.alarms')),
      h('span', { class: 'figure figure-m' }, h('span', { class: 'figure-main' }, value)),
      sub,
    );
    box.hidden = true;
    this.alarmEls.set(lineId, { box, value, sub });
    return box;
  }

  private updateAlarms(): void {
    for (const [lineId, els] of this.alarmEls) {
      const c = this.alarmCounts?.get(lineId);
      els.box.hidden = c === undefined;
      if (c === undefined) continue;
      setText(els.value, formatCount(c.active, this.lang));
      els.value.dataset.alarms = c.active > 0 ? 'active' : 'none';
      setText(els.sub, c.unacknowledged > 0 ? this.t('overview.alarmsUnacknowledged', { n: c.unacknowledged }) : '');
      els.sub.dataset.unacknowledged = String(c.unacknowledged > 0);
    }
  }

  private update(): void {
    this.updateAlarms();
    this.updateNotice();
    this.updateWindowInfo();
    const overview = this.overview;
    if (!overview) return;
    const now = Date.now() + this.clockOffsetMs;
    for (const line of overview.lines) {
      const els = this.lines.get(line.id);
      if (els) this.updateLine(els, recordFigures(line.record, overview.ready));
      for (const m of line.machines) {
        const mEls = this.machines.get(m.id);
        if (mEls) this.updateMachine(mEls, m, overview.ready, now);
      }
    }
  }

  private updateNotice(): void {
    const el = this.noticeEl;
    if (!el) return;
    const t = this.t;
    const o = this.overview;
    let text = '';
    let kind = 'info';
    if (this.loadError) {
      text = t('overview.failed', { detail: this.loadError });
      kind = 'error';
    } else if (!o) {
      text = t('overview.loading');
    } else if (!o.ready) {
      text = t('overview.rebuilding');
    } else if (o.lines.length === 0) {
      text = t('overview.noLines');
    } else if (overviewWindow(o) === null) {
      text = t('overview.noWindow');
    }
    setText(el, text);
    el.hidden = text === '';
    el.dataset.kind = kind;
    el.dataset.notice = this.loadError ? 'failed' : !o ? 'loading' : !o.ready ? 'rebuilding' : text ? 'empty' : '';
  }

  private updateWindowInfo(): void {
    const el = this.windowInfoEl;
    if (!el) return;
    const o = this.overview;
    const w = o ? overviewWindow(o) : null;
    if (!o || !w) {
      setText(el, '');
      el.hidden = true;
      return;
    }
    const t = this.t;
    const parts: string[] = [];
    const shift = shiftName(w.shiftId);
    if (shift) parts.push(t('window.shiftName', { name: shift }));
    parts.push(formatPeriod(w.from, w.to, o.timezone, this.lang));
    if (w.asOf < w.to) parts.push(t('window.asOf', { time: formatClock(w.asOf, o.timezone, this.lang) }));
    setText(el, parts.join(' · '));
    el.hidden = false;
  }

  private updateFigures(els: FigureSet, f: RecordFigures): void {
    const pct = (v: number) => formatPercent(v, this.lang);
    for (const name of PERCENT_FIGURES) showFigure(els[name], f[name], pct, this.t);
    const count = (v: number) => formatCount(v, this.lang);
    showFigure(els.good, f.good, count, this.t);
    showFigure(els.total, f.total, count, this.t);
    showFigure(els.kwhPerGood, f.kwhPerGood, (v) => formatSignificant(v, this.lang), this.t);
    els.perfFlag.hidden = !f.performanceOver100;
    // while rebuilding the page-wide notice says it; a missing record is said once per card
    const noRecord = f.oee.why === 'no-window';
    setText(els.note, noRecord ? this.t('why.no-window.long') : '');
    els.note.hidden = !noRecord;
  }

  private updateLine(els: LineEls, f: RecordFigures): void {
    this.updateFigures(els, f);
    showFigure(els.kgCO2ePerGood, f.kgCO2ePerGood, (v) => formatSignificant(v, this.lang), this.t);
    showFigure(els.idleEnergyShare, f.idleEnergyShare, (v) => formatPercent(v, this.lang), this.t);
    const market = f.kgCO2ePerGoodMarket;
    setText(
      els.market,
      market === null
        ? ''
        : this.t('metric.co2Market', { value: `${formatSignificant(market, this.lang)} ${this.t('unit.kgco2e')}` }),
    );
    els.market.hidden = market === null;
  }

  private updateMachine(els: MachineEls, m: MachineMetricsView, ready: boolean, now: number): void {
    const t = this.t;
    this.updateFigures(els, recordFigures(m.record, ready));
    const s = statusView(ready ? m.status : null);
    els.tile.dataset.state = s.state;
    setClass(els.tile, 'is-no-data', s.noData);
    const stateKey: MessageKey = s.state === 'offline' && s.noData ? 'state.noData' : `state.${s.state}`;
    setText(els.state, t(stateKey));
    if (s.noData && s.state === 'offline') els.state.title = t('state.noData.long');
    else els.state.removeAttribute('title');

    const details: string[] = [];
    if (s.reason) details.push(translateReason(t, s.reason));
    if (s.unmappedRaw !== null) details.push(t('state.unmappedRaw', { raw: s.unmappedRaw }));
    if (s.minorStopPending) details.push(t('state.minorStop'));
    setText(els.reason, details.join(' · '));
    els.reason.hidden = details.length === 0;
    if (s.minorStopPending) els.reason.title = t('state.minorStop.long');
    else els.reason.removeAttribute('title');
    els.sinceTs = s.since;
    this.updateSince(els, now);
  }

  private updateSince(els: MachineEls, now: number): void {
    if (els.sinceTs === null) {
      setText(els.since, '');
      els.since.hidden = true;
      return;
    }
    setText(els.since, this.t('state.for', { d: formatDuration(now - els.sinceTs, this.t) }));
    els.since.hidden = false;
  }
}

// ---------- small builders ----------

function figureEls(testid: string): FigureEls {
  return {
    value: h('span', { class: 'figure-value', 'data-testid': testid }),
    why: h('span', { class: 'figure-why', 'data-testid': `${testid}-why` }),
  };
}

/** value (+ unit) with the reason for a missing value under it */
function figureBox(els: FigureEls, size: string, unit?: string): HTMLElement {
  return h(
    'span',
    { class: `figure ${size}` },
    h('span', { class: 'figure-main' }, els.value, unit ? h('span', { class: 'figure-unit' }, unit) : null),
    els.why,
  );
}

/** a labelled figure; `extra` is a line under it, or a hint (tooltip) for the label when a string */
function kpi(label: string | (string | HTMLElement)[], box: HTMLElement, extra?: HTMLElement | string): HTMLElement {
  const labelEl = h('span', { class: 'kpi-label' }, label);
  if (typeof extra === 'string') labelEl.title = extra;
  return h('div', { class: 'kpi' }, labelEl, box, typeof extra === 'string' ? null : extra);
}

function apqCell(
  t: Translate,
  which: 'availability' | 'performance' | 'quality',
  els: FigureEls,
  size: string,
): HTMLElement {
  const letter: MessageKey = which === 'availability' ? 'metric.a' : which === 'performance' ? 'metric.p' : 'metric.q';
  return h(
    'div',
    { class: 'kpi kpi-letter' },
    h(
      'span',
      { class: 'kpi-label' },
      h('abbr', { class: 'kpi-abbr', title: t(`metric.${which}`) }, t(letter)),
      h('span', { class: 'kpi-word' }, t(`metric.${which}`)),
    ),
    figureBox(els, size),
  );
}

function goodTotal(els: { good: FigureEls; total: FigureEls }, size = 'figure-m'): HTMLElement {
  return h(
    'span',
    { class: `figure ${size}` },
    h('span', { class: 'figure-main' }, els.good.value, h('span', { class: 'figure-sep' }, '/'), els.total.value),
    els.total.why,
  );
}

function perfFlag(t: Translate, testid: string): HTMLElement {
  const flag = h(
    'span',
    { class: 'flag flag-perf', 'data-testid': testid, title: t('flag.perfOver100.long') },
    t('flag.perfOver100'),
  );
  flag.hidden = true;
  return flag;
}

function showFigure(els: FigureEls, f: Figure, format: (v: number) => string, t: Translate): void {
  if (f.value === null) {
    setText(els.value, '—');
    els.value.title = t(`why.${f.why}.long`);
    els.value.dataset.missing = f.why;
    // a whole record missing is said once per card (or page-wide), not under every figure
    const once = f.why === 'not-ready' || f.why === 'no-window';
    setText(els.why, once ? '' : t(`why.${f.why}`));
    els.why.title = t(`why.${f.why}.long`);
  } else {
    setText(els.value, format(f.value));
    els.value.removeAttribute('title');
    delete els.value.dataset.missing;
    setText(els.why, '');
    els.why.removeAttribute('title');
  }
}
