/**
 * The machine detail (`#/machine/<id>`) and line detail (`#/line/<id>`)
 * pages: OEE with A / P / Q for the chosen window and its per-bucket
 * series, the state timeline with stop reasons, the six big losses in time,
 * energy by machine state, the line's energy baseline, and the process
 * values with trend charts.
 *
 * Figures come over REST and are asked again every few seconds while the
 * page shows; state and process values also follow the live WebSocket.
 */
import type {
  BaselineResponse,
  EntityMetricsResponse,
  HistoryPoint,
  HistoryResponse,
  LineView,
  LiveResponse,
  LiveValue,
  MachineStatus,
  MachineView,
  MetricsOverview,
  MetricsRecord,
  MetricsSeriesResponse,
  MetricsWindowName,
  PlantView,
} from '../../../gateway/server/contract.js';
import { apiPath, errorText, getJson, isAbort } from '../api.js';
import { fixed } from '../charts/chart-format.js';
import { TrendChart } from '../charts/trend-chart.js';
import { h, setClass, setText } from '../dom.js';
import { figure, labelled } from '../figure-view.js';
import { formatClock, formatCount, formatDuration, formatPercent, formatPeriod, formatSignificant } from '../format.js';
import { type Lang, type MessageKey, type Translate, translateReason, translator } from '../i18n.js';
import { recordFigures, shiftName, statusView, WINDOW_CHOICES } from '../overview-model.js';
import { routeHash } from '../router.js';
import type { Page } from '../shell.js';
import {
  baselineView,
  DAY_MS,
  DEFAULT_TREND_RANGE,
  energyByState,
  findLine,
  findMachine,
  HOUR_MS,
  lineProcessTags,
  lossBreakdown,
  machineProcessTags,
  type TrendRangeId,
} from './detail-model.js';
import { renderBaseline, renderEnergyByState, renderLosses } from './figures-view.js';
import { stateBands } from './timeline-model.js';
import { renderTimeline, type TimelineRow } from './timeline-view.js';
import { TrendsView } from './trends-view.js';

export type DetailKind = 'machine' | 'line';

export interface DetailPageOptions {
  readonly lang: Lang;
  readonly window: MetricsWindowName;
  /** the plant model, loaded once for all pages */
  readonly plant: () => Promise<PlantView>;
}

const METRICS_EVERY_MS = 5000;
const SERIES_EVERY_MS = 30_000;
const HISTORY_EVERY_MS = 30_000;
const BASELINE_EVERY_MS = 5 * 60_000;
/** state history is read in pieces short enough to come back as raw readings, never averaged */
const HISTORY_CHUNK_MS = 6 * HOUR_MS;
const HISTORY_MAX_POINTS = 5000;
/** how far back to look for the state in force when the window starts */
const LOOKBACK_MS = DAY_MS;
const SERIES_POINTS = 144;
/** the kinds of time `stopReasons` names (i18n.ts has a word for each) */
const STOP_KINDS: ReadonlySet<string> = new Set(['stop', 'microstop', 'idle', 'setup', 'planned-stop', 'offline']);

interface StateHistory {
  readonly machine: MachineView;
  states: HistoryPoint[];
  reasons: HistoryPoint[];
  /** read up to here */
  loadedTo: number;
}

interface Sections {
  readonly head: HTMLElement;
  readonly status: HTMLElement;
  readonly windowInfo: HTMLElement;
  readonly notice: HTMLElement;
  readonly kpis: HTMLElement;
  readonly seriesNote: HTMLElement;
  readonly machines: HTMLElement | null;
  readonly timeline: HTMLElement;
  readonly timelineInfo: HTMLElement;
  readonly losses: HTMLElement;
  readonly reasons: HTMLElement;
  readonly energy: HTMLElement;
  readonly baseline: HTMLElement | null;
}

export class DetailPage implements Page {
  readonly el: HTMLElement;
  private lang: Lang;
  private t: Translate;
  private window: MetricsWindowName;
  private kind: DetailKind | null = null;
  private id: string | null = null;
  private plant: PlantView | null = null;
  private plantError: string | null = null;
  private active = false;
  private clockOffsetMs = 0;
  private trendRange: TrendRangeId = DEFAULT_TREND_RANGE;

  // data for the entity shown
  private ready = true;
  private record: MetricsRecord | null = null;
  private status: MachineStatus | null = null;
  /** line page: its machines with their state and record */
  private machineViews: MetricsOverview['lines'][number]['machines'] = [];
  private series: MetricsSeriesResponse | null = null;
  private baseline: BaselineResponse | null = null;
  private baselineError: string | null = null;
  private metricsError: string | null = null;
  private histories: StateHistory[] = [];
  private historyWindow: string | null = null;
  private lastDue = { metrics: 0, series: 0, history: 0, baseline: 0 };
  private busy = { metrics: false, series: false, history: false, baseline: false };
  private abort = new AbortController();
  private timelineDirty = false;
  private timelineDrawnAt = 0;
  private selectedBand: { row: string; from: number } | null = null;

  private sections: Sections | null = null;
  private seriesChart: TrendChart | null = null;
  private trends: TrendsView | null = null;

  constructor(private readonly opts: DetailPageOptions) {
    this.lang = opts.lang;
    this.t = translator(this.lang);
    this.window = opts.window;
    this.el = h('div', { class: 'page page-detail', 'data-testid': 'page-detail' });
  }

  title(): string {
    return this.entityName() ?? this.t(this.kind === 'line' ? 'detail.lineTitle' : 'detail.machineTitle');
  }

  /** shows a machine or a line; the same one again keeps what is loaded */
  show(kind: DetailKind, id: string): void {
    if (kind === this.kind && id === this.id) return;
    this.kind = kind;
    this.id = id;
    this.reset();
    void this.opts.plant().then(
      (plant) => {
        this.plant = plant;
        this.plantError = null;
        if (this.kind === kind && this.id === id) this.build();
      },
      (err: unknown) => {
        this.plantError = errorText(err);
        this.build();
      },
    );
    this.build();
  }

  setActive(active: boolean): void {
    this.active = active;
    if (active) {
      this.trends?.attach();
      this.seriesChart?.attach();
      this.poll();
    } else {
      this.abort.abort();
      this.abort = new AbortController();
      this.busy = { metrics: false, series: false, history: false, baseline: false };
      this.lastDue = { metrics: 0, series: 0, history: 0, baseline: 0 };
    }
  }

  setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.build();
  }

  tick(): void {
    if (!this.active) return;
    this.updateStatus();
    this.trends?.tick();
    this.poll();
    if (this.timelineDirty || this.now() - this.timelineDrawnAt > 15_000) this.renderTimelineSection();
  }

  applyValues(values: readonly LiveValue[]): void {
    this.trends?.applyValues(values);
    if (this.histories.length === 0) return;
    for (const v of values) {
      for (const hist of this.histories) {
        const roles = hist.machine.tags;
        const role = roles.find((r) => r.tagId === v.tagId)?.role;
        if (role !== 'state' && role !== 'stopReason') continue;
        const list = role === 'state' ? hist.states : hist.reasons;
        const last = list[list.length - 1];
        if (last && last.ts >= v.ts) continue;
        list.push({ ts: v.ts, value: v.value, quality: v.quality });
        this.timelineDirty = true;
      }
    }
  }

  // ---------- state ----------

  private now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  private entityName(): string | null {
    if (!this.plant || !this.id) return null;
    if (this.kind === 'machine') return findMachine(this.plant, this.id)?.machine.name ?? null;
    return findLine(this.plant, this.id)?.name ?? null;
  }

  private reset(): void {
    this.abort.abort();
    this.abort = new AbortController();
    this.busy = { metrics: false, series: false, history: false, baseline: false };
    this.lastDue = { metrics: 0, series: 0, history: 0, baseline: 0 };
    this.ready = true;
    this.record = null;
    this.status = null;
    this.machineViews = [];
    this.series = null;
    this.baseline = null;
    this.baselineError = null;
    this.metricsError = null;
    this.histories = [];
    this.historyWindow = null;
    this.selectedBand = null;
  }

  private selectWindow(w: MetricsWindowName): void {
    if (w === this.window) return;
    this.window = w;
    for (const b of this.el.querySelectorAll<HTMLButtonElement>('.detail-window .window-option')) {
      b.setAttribute('aria-pressed', String(b.dataset.window === w));
    }
    setClass(this.el, 'is-switching', true);
    this.record = null;
    this.series = null;
    this.histories = [];
    this.historyWindow = null;
    this.lastDue.metrics = 0;
    this.lastDue.series = 0;
    this.lastDue.history = 0;
    this.abort.abort();
    this.abort = new AbortController();
    this.busy = { metrics: false, series: false, history: false, baseline: false };
    this.poll();
  }

  // ---------- loading ----------

  private poll(): void {
    if (!this.active || !this.plant || !this.id || !this.kind) return;
    const now = Date.now();
    const due = (k: keyof typeof this.lastDue, every: number) => !this.busy[k] && now - this.lastDue[k] >= every;
    if (due('metrics', METRICS_EVERY_MS)) void this.run('metrics', () => this.loadMetrics());
    if (due('series', SERIES_EVERY_MS)) void this.run('series', () => this.loadSeries());
    if (this.record && due('history', HISTORY_EVERY_MS)) void this.run('history', () => this.loadHistories());
    if (this.kind === 'line' && due('baseline', BASELINE_EVERY_MS))
      void this.run('baseline', () => this.loadBaseline());
  }

  private async run(what: keyof typeof this.busy, job: () => Promise<void>): Promise<void> {
    this.busy[what] = true;
    this.lastDue[what] = Date.now();
    const signal = this.abort.signal;
    try {
      await job();
    } catch (err) {
      if (isAbort(err) || signal.aborted) return;
      if (what === 'metrics') {
        this.metricsError = errorText(err);
        this.renderNotice();
      } else if (what === 'baseline') {
        this.baselineError = errorText(err);
        this.renderBaselineSection();
      }
    } finally {
      if (!signal.aborted) this.busy[what] = false;
    }
  }

  private async loadMetrics(): Promise<void> {
    const signal = this.abort.signal;
    const kind = this.kind!;
    const id = this.id!;
    const window = this.window;
    if (kind === 'machine') {
      const r = await getJson<EntityMetricsResponse>(
        apiPath(`api/metrics/machine/${encodeURIComponent(id)}`, { window }),
        signal,
      );
      if (signal.aborted) return;
      this.clockOffsetMs = r.serverTime - Date.now();
      this.ready = r.ready;
      this.record = r.record;
      this.status = r.status;
    } else {
      const o = await getJson<MetricsOverview>(apiPath('api/metrics', { window }), signal);
      if (signal.aborted) return;
      this.clockOffsetMs = o.serverTime - Date.now();
      const line = o.lines.find((l) => l.id === id);
      this.ready = o.ready;
      this.record = line?.record ?? null;
      this.machineViews = line?.machines ?? [];
    }
    this.metricsError = null;
    setClass(this.el, 'is-switching', false);
    this.renderFigures();
    const key = this.record ? `${this.record.window.from}-${this.record.window.to}` : null;
    if (key !== this.historyWindow) {
      this.historyWindow = key;
      this.histories = [];
      this.lastDue.history = 0;
      this.timelineDirty = true;
      this.poll();
    }
  }

  private async loadSeries(): Promise<void> {
    const signal = this.abort.signal;
    const r = await getJson<MetricsSeriesResponse>(
      apiPath(`api/metrics/${this.kind}/${encodeURIComponent(this.id!)}/series`, {
        window: this.window,
        maxPoints: SERIES_POINTS,
      }),
      signal,
    );
    if (signal.aborted) return;
    this.series = r;
    this.renderSeries();
  }

  private async loadBaseline(): Promise<void> {
    const signal = this.abort.signal;
    const r = await getJson<BaselineResponse>(
      apiPath(`api/metrics/line/${encodeURIComponent(this.id!)}/baseline`),
      signal,
    );
    if (signal.aborted) return;
    this.baseline = r;
    this.baselineError = null;
    this.renderBaselineSection();
  }

  /** the state and reason readings of the window, read once and then only what is new */
  private async loadHistories(): Promise<void> {
    const record = this.record;
    if (!record || !this.plant) return;
    const signal = this.abort.signal;
    const from = record.window.from;
    const to = Math.min(record.window.to, this.now());
    if (this.histories.length === 0) {
      this.histories = this.timelineMachines().map((machine) => ({ machine, states: [], reasons: [], loadedTo: 0 }));
    }
    await Promise.all(
      this.histories.map(async (hist) => {
        const stateTag = hist.machine.tags.find((r) => r.role === 'state')?.tagId;
        const reasonTag = hist.machine.tags.find((r) => r.role === 'stopReason')?.tagId;
        const start = hist.loadedTo > 0 ? hist.loadedTo : from;
        const [states, reasons] = await Promise.all([
          stateTag ? readHistory(stateTag, start, to, hist.loadedTo === 0, signal) : Promise.resolve([]),
          reasonTag ? readHistory(reasonTag, start, to, hist.loadedTo === 0, signal) : Promise.resolve([]),
        ]);
        if (signal.aborted) return;
        hist.states = merge(hist.states, states);
        hist.reasons = merge(hist.reasons, reasons);
        hist.loadedTo = to;
      }),
    );
    this.timelineDirty = true;
    this.renderTimelineSection();
  }

  private timelineMachines(): MachineView[] {
    if (!this.plant || !this.id) return [];
    if (this.kind === 'machine') {
      const ref = findMachine(this.plant, this.id);
      return ref?.machine.stateMap ? [ref.machine] : [];
    }
    return (findLine(this.plant, this.id)?.machines ?? []).filter((m) => m.stateMap);
  }

  // ---------- building ----------

  private build(): void {
    const t = this.t;
    this.trends?.destroy();
    this.trends = null;
    this.seriesChart?.destroy();
    this.seriesChart = null;
    this.sections = null;
    const plant = this.plant;
    if (!plant || !this.id || !this.kind) {
      const text = this.plantError ? t('load.failed', { detail: this.plantError }) : t('load.loading');
      this.el.replaceChildren(h('p', { class: 'placeholder', 'data-testid': 'detail-loading' }, text));
      return;
    }
    const machineRef = this.kind === 'machine' ? findMachine(plant, this.id) : null;
    const line: LineView | null = this.kind === 'line' ? findLine(plant, this.id) : (machineRef?.line ?? null);
    if ((this.kind === 'machine' && !machineRef) || !line) {
      this.el.replaceChildren(
        h(
          'p',
          { class: 'placeholder', 'data-testid': 'detail-unknown' },
          t(this.kind === 'machine' ? 'detail.unknownMachine' : 'detail.unknownLine', { id: this.id }),
        ),
        h('p', { class: 'placeholder' }, h('a', { href: routeHash('overview') }, t('detail.back'))),
      );
      return;
    }
    const name = machineRef ? machineRef.machine.name : line.name;
    const crumbs = h(
      'nav',
      { class: 'crumbs', 'aria-label': t('detail.crumbs') },
      h('a', { href: routeHash('overview'), 'data-testid': 'crumb-overview' }, t('nav.overview')),
      machineRef ? h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '›') : null,
      machineRef
        ? h('a', { href: `#/line/${encodeURIComponent(line.id)}`, 'data-testid': 'crumb-line' }, line.name)
        : null,
    );
    const status = h('div', { class: 'detail-status', 'data-testid': 'detail-status' });
    const head = h(
      'div',
      { class: 'page-head detail-head' },
      h('div', { class: 'detail-title' }, crumbs, h('h1', { 'data-testid': 'detail-title' }, name), status),
      this.windowPicker(),
    );
    const windowInfo = h('p', { class: 'window-info', 'data-testid': 'detail-window-info' });
    const notice = h('p', { class: 'notice', 'data-testid': 'detail-notice', role: 'status' });
    const kpis = h('div', { class: 'detail-kpis', 'data-testid': 'detail-kpis' });
    const seriesNote = h('p', { class: 'card-note' });
    this.seriesChart = new TrendChart({
      series: [
        { label: t('metric.oee'), color: '#132030', width: 3 },
        { label: t('metric.availability'), color: '#1f6fd0', width: 1.5, dash: [6, 4] },
        { label: t('metric.performance'), color: '#c2410c', width: 1.5, dash: [2, 3] },
        { label: t('metric.quality'), color: '#157a43', width: 1.5, dash: [8, 3, 2, 3] },
      ],
      lang: this.lang,
      timeZone: plant.site.timezone,
      formatValue: (v) => formatPercent(v, this.lang),
      formatTick: (v) => formatPercent(v, this.lang).replace(/[.,]0(?=\D*$)/, ''),
      yRange: [0, 1.05],
      height: 220,
      emptyText: t('series.empty'),
      timeLabel: t('chart.time'),
      testId: 'oee-series-chart',
    });
    const machinesEl =
      this.kind === 'line' ? h('div', { class: 'machine-links', 'data-testid': 'line-machines' }) : null;
    const timeline = h('div', { class: 'timeline-box', 'data-testid': 'timeline' });
    const timelineInfo = h('p', { class: 'card-note' });
    const losses = h('div', { 'data-testid': 'losses' });
    const reasons = h('div', { 'data-testid': 'stop-reasons' });
    const energy = h('div', { 'data-testid': 'energy-state' });
    const baseline = this.kind === 'line' ? h('div', { 'data-testid': 'baseline' }) : null;

    const tags = this.kind === 'machine' ? machineProcessTags(plant, this.id) : lineProcessTags(plant, this.id);
    this.trends = new TrendsView({
      tags,
      lang: this.lang,
      t,
      timeZone: plant.site.timezone,
      range: this.trendRange,
      onRangeChange: (r) => {
        this.trendRange = r;
      },
      clockOffset: () => this.clockOffsetMs,
      testIdPrefix: this.kind,
    });

    const card = (title: string, testid: string, ...children: (HTMLElement | null)[]) =>
      h(
        'section',
        { class: 'detail-card', 'data-testid': testid },
        h('h2', { class: 'detail-card-title' }, title),
        children,
      );

    this.sections = {
      head,
      status,
      windowInfo,
      notice,
      kpis,
      seriesNote,
      machines: machinesEl,
      timeline,
      timelineInfo,
      losses,
      reasons,
      energy,
      baseline,
    };
    this.el.replaceChildren(
      head,
      windowInfo,
      notice,
      h(
        'div',
        { class: 'detail-grid' },
        card(t('detail.figures'), 'card-figures', kpis, machinesEl),
        card(t('series.title'), 'card-series', this.seriesChart.el, seriesNote),
        h(
          'section',
          { class: 'detail-card span-2', 'data-testid': 'card-timeline' },
          h('h2', { class: 'detail-card-title' }, t('timeline.title')),
          timelineInfo,
          timeline,
        ),
        card(t('losses.title'), 'card-losses', losses, reasons),
        card(
          t('energyState.title'),
          'card-energy',
          energy,
          baseline ? h('h3', { class: 'detail-sub' }, t('baseline.title')) : null,
          baseline,
        ),
        h(
          'section',
          { class: 'detail-card span-2', 'data-testid': 'card-process' },
          h('h2', { class: 'detail-card-title' }, t(this.kind === 'machine' ? 'trend.title' : 'trend.lineTitle')),
          this.trends.el,
        ),
      ),
    );
    this.renderFigures();
    this.renderSeries();
    this.renderTimelineSection();
    this.renderBaselineSection();
    if (this.active) {
      this.trends.attach();
      this.seriesChart.attach();
    }
    void getJson<LiveResponse>('api/live', this.abort.signal).then(
      (live) => {
        this.clockOffsetMs = live.serverTime - Date.now();
        this.trends?.setSnapshot(live.tags);
      },
      () => {
        // the live values arrive over the WebSocket anyway
      },
    );
    this.poll();
  }

  private windowPicker(): HTMLElement {
    const t = this.t;
    const group = h('div', {
      class: 'window-picker detail-window',
      role: 'group',
      'aria-label': t('window.label'),
      'data-testid': 'detail-window-picker',
    });
    for (const w of WINDOW_CHOICES) {
      const b = h(
        'button',
        {
          type: 'button',
          class: 'window-option',
          'aria-pressed': String(w === this.window),
          'data-window': w,
          'data-testid': `detail-window-${w}`,
        },
        t(`window.${w}`),
      );
      b.addEventListener('click', () => this.selectWindow(w));
      group.append(b);
    }
    return group;
  }

  // ---------- rendering ----------

  private renderNotice(): void {
    const s = this.sections;
    if (!s) return;
    const t = this.t;
    let text = '';
    let kind = 'info';
    if (this.metricsError) {
      text = t('overview.failed', { detail: this.metricsError });
      kind = 'error';
    } else if (!this.ready) text = t('overview.rebuilding');
    else if (this.lastDue.metrics > 0 && !this.busy.metrics && !this.record) text = t('overview.noWindow');
    setText(s.notice, text);
    s.notice.hidden = text === '';
    s.notice.dataset.kind = kind;
  }

  private renderWindowInfo(): void {
    const s = this.sections;
    if (!s || !this.plant) return;
    const w = this.record?.window;
    if (!w) {
      setText(s.windowInfo, '');
      s.windowInfo.hidden = true;
      return;
    }
    const tz = this.plant.site.timezone;
    const parts: string[] = [];
    const shift = shiftName(w.shiftId);
    if (shift) parts.push(this.t('window.shiftName', { name: shift }));
    parts.push(formatPeriod(w.from, w.to, tz, this.lang));
    if (w.asOf < w.to) parts.push(this.t('window.asOf', { time: formatClock(w.asOf, tz, this.lang) }));
    setText(s.windowInfo, parts.join(' · '));
    s.windowInfo.hidden = false;
  }

  private updateStatus(): void {
    const s = this.sections;
    if (!s) return;
    const t = this.t;
    if (this.kind !== 'machine') {
      s.status.hidden = true;
      return;
    }
    const v = statusView(this.ready ? this.status : null);
    const stateKey: MessageKey = v.state === 'offline' && v.noData ? 'state.noData' : `state.${v.state}`;
    const parts = [t(stateKey)];
    if (v.reason) parts.push(translateReason(t, v.reason));
    if (v.unmappedRaw !== null) parts.push(t('state.unmappedRaw', { raw: v.unmappedRaw }));
    if (v.minorStopPending) parts.push(t('state.minorStop'));
    if (v.since !== null) parts.push(t('state.for', { d: formatDuration(this.now() - v.since, t) }));
    s.status.dataset.state = v.state;
    setText(s.status, parts.join(' · '));
    s.status.hidden = false;
  }

  private renderFigures(): void {
    const s = this.sections;
    if (!s || !this.plant) return;
    const t = this.t;
    const lang = this.lang;
    this.renderNotice();
    this.renderWindowInfo();
    this.updateStatus();
    const f = recordFigures(this.record, this.ready);
    const pct = (v: number) => formatPercent(v, lang);
    const count = (v: number) => formatCount(v, lang);
    const sig = (v: number) => formatSignificant(v, lang);
    const apq = (which: 'availability' | 'performance' | 'quality', letter: MessageKey) =>
      h(
        'div',
        { class: 'kpi kpi-letter' },
        h(
          'span',
          { class: 'kpi-label' },
          h('abbr', { class: 'kpi-abbr', title: t(`metric.${which}`) }, t(letter)),
          h('span', { class: 'kpi-word' }, t(`metric.${which}`)),
        ),
        figure(t, { value: f[which].value, why: f[which].why, format: pct, size: 'l', testId: `detail-${which}` }),
      );
    const r = this.record;
    const market = f.kgCO2ePerGoodMarket;
    s.kpis.replaceChildren(
      h(
        'div',
        { class: 'kpi-main' },
        h(
          'div',
          { class: 'kpi kpi-oee' },
          h('span', { class: 'kpi-label' }, t('metric.oee')),
          figure(t, { value: f.oee.value, why: f.oee.why, format: pct, size: 'xl', testId: 'detail-oee' }),
          f.performanceOver100
            ? h('span', { class: 'flag flag-perf', title: t('flag.perfOver100.long') }, t('flag.perfOver100'))
            : null,
        ),
        h(
          'div',
          { class: 'kpi-apq' },
          apq('availability', 'metric.a'),
          apq('performance', 'metric.p'),
          apq('quality', 'metric.q'),
        ),
      ),
      h(
        'div',
        { class: 'kpi-row' },
        labelled(
          t('metric.goodTotal'),
          h(
            'span',
            { class: 'figure figure-m' },
            h(
              'span',
              { class: 'figure-main' },
              h(
                'span',
                { class: 'figure-value', 'data-testid': 'detail-good' },
                f.good.value === null ? '—' : count(f.good.value),
              ),
              h('span', { class: 'figure-sep' }, '/'),
              h(
                'span',
                { class: 'figure-value', 'data-testid': 'detail-total' },
                f.total.value === null ? '—' : count(f.total.value),
              ),
            ),
            f.total.why && f.total.why !== 'not-ready' && f.total.why !== 'no-window'
              ? h('span', { class: 'figure-why', title: t(`why.${f.total.why}.long`) }, t(`why.${f.total.why}`))
              : null,
          ),
        ),
        labelled(
          t('metric.kwhPerUnit'),
          figure(t, {
            value: f.kwhPerGood.value,
            why: f.kwhPerGood.why,
            format: sig,
            unit: t('unit.kwh'),
            testId: 'detail-kwh-per-unit',
          }),
        ),
        labelled(
          [t('metric.co2PerUnit'), h('span', { class: 'kpi-qualifier' }, t('metric.co2Location'))],
          h(
            'span',
            { class: 'figure-stack' },
            figure(t, {
              value: f.kgCO2ePerGood.value,
              why: f.kgCO2ePerGood.why,
              format: sig,
              unit: t('unit.kgco2e'),
              testId: 'detail-co2-per-unit',
            }),
            market === null
              ? null
              : h(
                  'span',
                  { class: 'figure-extra' },
                  t('metric.co2Market', { value: `${sig(market)} ${t('unit.kgco2e')}` }),
                ),
          ),
        ),
        labelled(
          t('detail.stops'),
          h(
            'span',
            { class: 'figure figure-m' },
            h(
              'span',
              { class: 'figure-main' },
              h(
                'span',
                { class: 'figure-value', 'data-testid': 'detail-stops' },
                r ? t('detail.stopsValue', { stops: count(r.stops), minor: count(r.microstops) }) : '—',
              ),
            ),
          ),
          t('detail.stops.long'),
        ),
      ),
    );
    this.renderMachines();
    const lossView = this.ready && r ? lossBreakdown(r) : null;
    s.losses.replaceChildren(
      renderLosses(
        lossView,
        lang,
        t,
        !this.ready ? 'why.not-ready.long' : !r ? 'why.no-window.long' : 'why.no-planned-time.long',
      ),
    );
    this.renderReasons();
    s.energy.replaceChildren(renderEnergyByState(energyByState(r, this.ready), lang, t));
  }

  private renderReasons(): void {
    const s = this.sections;
    if (!s) return;
    const t = this.t;
    const list = (this.record?.stopReasons ?? []).filter((x) => x.ms > 0).slice(0, 6);
    if (list.length === 0) {
      s.reasons.replaceChildren();
      return;
    }
    const body = h('tbody');
    for (const item of list) {
      const kind = STOP_KINDS.has(item.kind) ? t(`stopKind.${item.kind}` as MessageKey) : item.kind;
      body.append(
        h(
          'tr',
          {},
          h(
            'th',
            { scope: 'row' },
            item.reason ? translateReason(t, item.reason) : t('reasons.none'),
            h('span', { class: 'cell-sub' }, kind),
          ),
          h('td', { class: 'num' }, fixed(item.ms / 60_000, 1, this.lang)),
        ),
      );
    }
    s.reasons.replaceChildren(
      h('h3', { class: 'detail-sub' }, t('reasons.title')),
      h(
        'table',
        { class: 'data-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, t('reasons.col.reason')),
            h('th', { scope: 'col', class: 'num' }, t('losses.col.min')),
          ),
        ),
        body,
      ),
    );
  }

  private renderMachines(): void {
    const el = this.sections?.machines;
    if (!el || !this.plant || !this.id) return;
    const line = findLine(this.plant, this.id);
    if (!line) return;
    const t = this.t;
    const items = line.machines.map((m) => {
      const view = this.machineViews.find((x) => x.id === m.id);
      const s = statusView(this.ready ? (view?.status ?? null) : null);
      const f = recordFigures(view?.record ?? null, this.ready);
      const stateKey: MessageKey = s.state === 'offline' && s.noData ? 'state.noData' : `state.${s.state}`;
      return h(
        'a',
        {
          class: 'machine-link',
          href: `#/machine/${encodeURIComponent(m.id)}`,
          'data-state': s.state,
          'data-testid': `line-machine-${m.id}`,
        },
        h(
          'span',
          { class: 'machine-link-name' },
          m.name,
          m.id === line.outputMachine ? h('span', { class: 'tile-output' }, t('machine.output')) : null,
        ),
        h('span', { class: 'machine-link-state' }, t(stateKey)),
        h(
          'span',
          { class: 'machine-link-oee' },
          `${t('metric.oee')} ${f.oee.value === null ? '—' : formatPercent(f.oee.value, this.lang)}`,
        ),
      );
    });
    el.replaceChildren(
      h('h3', { class: 'detail-sub' }, t('detail.machines')),
      h('div', { class: 'machine-link-list' }, items),
    );
  }

  private renderSeries(): void {
    const s = this.sections;
    const chart = this.seriesChart;
    if (!s || !chart) return;
    const r = this.series;
    if (!r) {
      setText(s.seriesNote, '');
      return;
    }
    chart.setWindow(r.from, Math.max(r.to, r.from + 60_000));
    const xs = r.points.map((p) => p.from);
    chart.setData([
      xs,
      r.points.map((p) => p.oee),
      r.points.map((p) => p.availability),
      r.points.map((p) => p.performance),
      r.points.map((p) => p.quality),
    ]);
    setText(s.seriesNote, this.t('series.bucket', { d: formatDuration(r.bucketMs, this.t) }));
  }

  private renderTimelineSection(): void {
    const s = this.sections;
    if (!s || !this.plant) return;
    this.timelineDirty = false;
    this.timelineDrawnAt = this.now();
    const t = this.t;
    const record = this.record;
    const machines = this.timelineMachines();
    if (machines.length === 0) {
      s.timeline.replaceChildren(h('p', { class: 'block-note' }, t('timeline.noStateTag')));
      setText(s.timelineInfo, '');
      return;
    }
    if (!record || this.histories.length === 0 || this.histories.every((x) => x.loadedTo === 0)) {
      s.timeline.replaceChildren(
        h('p', { class: 'block-note' }, record || !this.ready ? t('timeline.loading') : t('why.no-window.long')),
      );
      setText(s.timelineInfo, '');
      return;
    }
    const from = record.window.from;
    const to = record.window.to;
    const asOf = Math.min(to, Math.max(record.window.asOf, Math.min(this.now(), to)));
    const rows: TimelineRow[] = this.histories.map((hist) => {
      const status =
        this.kind === 'machine'
          ? this.status
          : (this.machineViews.find((m) => m.id === hist.machine.id)?.status ?? null);
      return {
        id: hist.machine.id,
        label: this.kind === 'line' ? hist.machine.name : null,
        bands: stateBands({
          states: hist.states,
          reasons: hist.reasons,
          machine: hist.machine,
          from,
          to: asOf,
          status: this.window === 'shift' || this.window === 'today' || this.window === 'hour' ? status : null,
        }),
      };
    });
    s.timeline.replaceChildren(
      renderTimeline({
        rows,
        from,
        to,
        asOf,
        timeZone: this.plant.site.timezone,
        lang: this.lang,
        t,
        selected: this.selectedBand,
        onSelect: (row, bandFrom) => {
          this.selectedBand = { row, from: bandFrom };
        },
      }),
    );
  }

  private renderBaselineSection(): void {
    const el = this.sections?.baseline;
    if (!el) return;
    el.replaceChildren(
      renderBaseline(
        this.baseline ? baselineView(this.baseline) : null,
        this.baselineError ? this.t('baseline.failed', { detail: this.baselineError }) : null,
        this.lang,
        this.t,
      ),
    );
  }
}

/**
 * A tag's readings over [from, to] as they were stored, never averaged:
 * short pieces, each asked with room for every reading. With `lookBack`
 * the reading in force at `from` comes first.
 */
async function readHistory(
  tagId: string,
  from: number,
  to: number,
  lookBack: boolean,
  signal: AbortSignal,
): Promise<HistoryPoint[]> {
  const path = `api/tags/${encodeURIComponent(tagId)}/history`;
  const ask = (a: number, b: number) =>
    getJson<HistoryResponse>(apiPath(path, { from: a, to: b, maxPoints: HISTORY_MAX_POINTS }), signal).then(
      (r) => r.points,
    );
  const pieces: Promise<readonly HistoryPoint[]>[] = [];
  if (lookBack) pieces.push(ask(from - LOOKBACK_MS, from).then((p) => p.slice(-1)));
  for (let a = from; a < to; a += HISTORY_CHUNK_MS) pieces.push(ask(a, Math.min(to, a + HISTORY_CHUNK_MS)));
  const all = await Promise.all(pieces);
  return merge([], all.flat());
}

/** readings of two lists in time order, one per instant */
function merge(a: readonly HistoryPoint[], b: readonly HistoryPoint[]): HistoryPoint[] {
  const byTs = new Map<number, HistoryPoint>();
  for (const p of a) byTs.set(p.ts, p);
  for (const p of b) byTs.set(p.ts, p);
  return [...byTs.values()].sort((x, y) => x.ts - y.ts);
}
