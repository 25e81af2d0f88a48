/**
 * Health (`#/health`): is every device answering, is the store keeping up,
 * are the sinks delivering, is the metrics core serving, how is the live
 * hub doing. Asked every 3 s while shown; what is wrong is marked, and a
 * counter that rose since the last look counts as wrong now.
 */
import type { HealthResponse, PlantView } from '../../../gateway/server/contract.js';
import { errorText, getJson, isAbort } from '../api.js';
import { fixed } from '../charts/chart-format.js';
import { h } from '../dom.js';
import { formatAge, formatClock, formatCount, formatDuration } from '../format.js';
import { type Lang, type MessageKey, type Translate, translator } from '../i18n.js';
import type { Page } from '../shell.js';
import {
  type Counter,
  DEVICE_COUNTERS,
  type DeviceRow,
  deviceRows,
  hubProblems,
  metricsProblems,
  problemCount,
  type Quantile,
  sinkProblems,
  storeProblems,
} from './health-model.js';

export const HEALTH_REFRESH_MS = 3000;

/** driver states with a word in i18n.ts; others show as the driver names them */
const DEVICE_STATES: ReadonlySet<string> = new Set([
  'idle',
  'connecting',
  'connected',
  'disconnected',
  'stopped',
  'failed',
  'disabled',
  'unknown',
]);

export interface HealthPageOptions {
  readonly lang: Lang;
  readonly plant: () => Promise<PlantView>;
}

type Entry = [label: string, value: string | HTMLElement, problem?: boolean, testid?: string];

export class HealthPage implements Page {
  readonly el: HTMLElement;
  private lang: Lang;
  private t: Translate;
  private plant: PlantView | null = null;
  private health: HealthResponse | null = null;
  private previous: HealthResponse | null = null;
  private error: string | null = null;
  private active = false;
  private loadedAt = 0;
  private loading: AbortController | null = null;

  constructor(opts: HealthPageOptions) {
    this.lang = opts.lang;
    this.t = translator(this.lang);
    this.el = h('div', { class: 'page page-health', 'data-testid': 'page-health' });
    this.render();
    void opts.plant().then(
      (plant) => {
        this.plant = plant;
        this.render();
      },
      () => {
        // the page still lists what the gateway reports
      },
    );
  }

  title(): string {
    return this.t('health.title');
  }

  setActive(active: boolean): void {
    this.active = active;
    if (active) void this.load();
    else this.loading?.abort();
  }

  setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.render();
  }

  tick(): void {
    if (this.active && !this.loading && Date.now() - this.loadedAt >= HEALTH_REFRESH_MS) void this.load();
  }

  private async load(): Promise<void> {
    this.loading?.abort();
    const ctrl = new AbortController();
    this.loading = ctrl;
    try {
      const next = await getJson<HealthResponse>('api/health', ctrl.signal);
      if (ctrl.signal.aborted) return;
      this.previous = this.health;
      this.health = next;
      this.error = null;
    } catch (err) {
      if (isAbort(err)) return;
      this.error = errorText(err);
    } finally {
      if (this.loading === ctrl) this.loading = null;
      this.loadedAt = Date.now();
    }
    this.render();
  }

  // ---------- rendering ----------

  private render(): void {
    const t = this.t;
    const h0 = this.health;
    const status = h('span', { class: 'health-pill', 'data-testid': 'health-status' });
    const updated = h('span', { class: 'health-updated', 'data-testid': 'health-updated' });
    const head = h(
      'div',
      { class: 'page-head' },
      h('h1', { 'data-testid': 'health-title' }, t('health.title')),
      h('div', { class: 'health-head-info' }, status, updated),
    );
    const notice = h('p', { class: 'notice', 'data-kind': 'error', role: 'alert', 'data-testid': 'health-notice' });
    notice.hidden = !this.error;
    if (this.error) notice.textContent = t('health.failed', { detail: this.error });
    if (!h0) {
      status.hidden = true;
      this.el.replaceChildren(head, notice, this.error ? '' : h('p', { class: 'placeholder' }, t('health.loading')));
      return;
    }
    const tz = this.plant?.site.timezone ?? 'UTC';
    const problems = problemCount(h0, this.plant, this.previous);
    status.textContent = problems === 0 ? t('health.ok') : t('health.problems', { n: problems });
    status.dataset.kind = problems === 0 ? 'ok' : 'problem';
    updated.textContent = [
      t('health.updated', { time: formatClock(h0.now, tz, this.lang) }),
      t('health.uptime', { d: formatDuration(h0.now - h0.startedAt, t) }),
    ].join(' · ');

    const rows = deviceRows(h0, this.plant, this.previous);
    this.el.replaceChildren(
      head,
      notice,
      h('h2', { class: 'section-title' }, t('health.devices')),
      h(
        'div',
        { class: 'health-grid', 'data-testid': 'health-devices' },
        rows.map((d) => this.deviceCard(d)),
      ),
      h('h2', { class: 'section-title' }, t('health.gateway')),
      h(
        'div',
        { class: 'health-grid' },
        this.storeCard(h0),
        this.metricsCard(h0),
        this.hubCard(h0),
        this.sinksCard(h0),
      ),
    );
  }

  private deviceCard(d: DeviceRow): HTMLElement {
    const t = this.t;
    const lang = this.lang;
    const problem = d.problems.some((p) => p !== 'disabled');
    const counterText = (c: Counter) => {
      const v = d.counters[c];
      return v === null ? '—' : formatCount(v, lang);
    };
    const errors = h(
      'span',
      {},
      counterText('errors'),
      d.errorsByKind.length > 0
        ? h('span', { class: 'cell-sub' }, d.errorsByKind.map(([k, n]) => `${k} ${formatCount(n, lang)}`).join(', '))
        : null,
    );
    const entries: Entry[] = [
      [
        t('health.lastGood'),
        d.lastGoodAgeMs === null ? t('health.never') : formatAge(d.lastGoodAgeMs, t),
        d.problems.includes('read-old') || d.problems.includes('no-read-yet'),
        `device-age-${d.id}`,
      ],
    ];
    for (const c of DEVICE_COUNTERS) {
      entries.push([
        t(`health.counter.${c}` as MessageKey),
        c === 'errors' ? errors : counterText(c),
        d.rising.has(c),
        `device-${c}-${d.id}`,
      ]);
    }
    entries.push([
      t('health.latency'),
      d.p50 === null ? t('health.noLatency') : `${this.quantile(d.p50)} / ${this.quantile(d.p99)}`,
      false,
      `device-latency-${d.id}`,
    ]);
    const stateText = DEVICE_STATES.has(d.state) ? t(`health.state.${d.state}` as MessageKey) : d.state;
    return h(
      'article',
      {
        class: `health-card${problem ? ' is-problem' : ''}`,
        'data-testid': `health-device-${d.id}`,
        'data-state': d.state,
        'data-problems': d.problems.join(' '),
      },
      h(
        'header',
        { class: 'health-card-head' },
        h('h3', {}, d.name, h('span', { class: 'card-sub' }, `${protocolName(d.protocol)} · ${d.id}`)),
        h('span', { class: 'conn-badge', 'data-state': d.state }, stateText),
      ),
      d.endpoint ? h('p', { class: 'health-endpoint' }, d.endpoint) : null,
      this.list(entries),
      d.lastError ? h('p', { class: 'health-error', 'data-testid': `device-error-${d.id}` }, d.lastError) : null,
      problem
        ? h(
            'p',
            { class: 'health-problems' },
            d.problems
              .filter((p) => p !== 'disabled')
              .map((p) => t(`health.problem.${p}` as MessageKey, { late: formatDuration(d.lateAfterMs, t) }))
              .join(' · '),
          )
        : null,
    );
  }

  private quantile(q: Quantile | null): string {
    if (q === null) return '—';
    const ms = q.ms >= 100 ? fixed(q.ms, 0, this.lang) : fixed(q.ms, 1, this.lang);
    return `${q.above ? '> ' : ''}${ms} ms`;
  }

  private list(entries: readonly Entry[]): HTMLElement {
    return h(
      'dl',
      { class: 'health-list' },
      entries.map(([label, value, problem, testid]) =>
        h(
          'div',
          { class: `health-entry${problem ? ' is-problem' : ''}` },
          h('dt', {}, label),
          h('dd', testid ? { 'data-testid': testid } : {}, value),
        ),
      ),
    );
  }

  private card(
    title: string,
    testid: string,
    problems: readonly string[],
    ...body: (HTMLElement | null)[]
  ): HTMLElement {
    return h(
      'article',
      {
        class: `health-card${problems.length > 0 ? ' is-problem' : ''}`,
        'data-testid': testid,
        'data-problems': problems.join(' '),
      },
      h('header', { class: 'health-card-head' }, h('h3', {}, title)),
      body,
      problems.length > 0 ? h('p', { class: 'health-problems' }, problems.join(' · ')) : null,
    );
  }

  private storeCard(hr: HealthResponse): HTMLElement {
    const t = this.t;
    const s = hr.store;
    const problems = storeProblems(hr, this.previous);
    return this.card(
      t('health.store'),
      'health-store',
      problems.map((p) => t(`health.storeProblem.${p}` as MessageKey)),
      this.list([
        [t('health.store.written'), formatCount(s.samplesWritten, this.lang)],
        [t('health.store.pending'), formatCount(s.pendingRows, this.lang), problems.includes('backlog')],
        [t('health.store.dropped'), formatCount(s.dropped, this.lang), s.dropped > 0, 'store-dropped'],
        [
          t('health.pipeline'),
          t('health.pipelineValue', {
            n: formatCount(hr.pipeline.samplesIn, this.lang),
            r: formatCount(hr.pipeline.rejected, this.lang),
          }),
          hr.pipeline.rejected > 0,
        ],
      ]),
      s.lastError ? h('p', { class: 'health-error' }, s.lastError) : null,
    );
  }

  private metricsCard(hr: HealthResponse): HTMLElement {
    const t = this.t;
    const m = hr.metrics;
    if (!m)
      return this.card(
        t('health.metrics'),
        'health-metrics',
        [],
        h('p', { class: 'block-note' }, t('health.metrics.none')),
      );
    const problems = metricsProblems(hr);
    const rebuild = m.rebuild.durationMs;
    return this.card(
      t('health.metrics'),
      'health-metrics',
      problems.map((p) => t(`health.metricsProblem.${p}` as MessageKey)),
      this.list([
        [t('health.metrics.ready'), m.ready ? t('health.yes') : t('health.no'), !m.ready, 'metrics-ready'],
        [
          t('health.metrics.rebuild'),
          rebuild === null
            ? '—'
            : t('health.metrics.rebuildValue', {
                s: fixed(rebuild / 1000, rebuild < 10_000 ? 2 : 0, this.lang),
                n: formatCount(m.rebuild.samples, this.lang),
              }),
        ],
        [t('health.metrics.samples'), formatCount(m.samples, this.lang)],
        [t('health.metrics.minutes'), formatCount(m.minutesPersisted, this.lang)],
        [t('health.metrics.events'), formatCount(m.events, this.lang)],
        [t('health.metrics.errors'), formatCount(m.errors, this.lang), m.errors > 0],
      ]),
      m.lastError ? h('p', { class: 'health-error' }, m.lastError) : null,
    );
  }

  private hubCard(hr: HealthResponse): HTMLElement {
    const t = this.t;
    const hub = hr.liveHub;
    const problems = hubProblems(hr, this.previous);
    const n = (v: number) => formatCount(v, this.lang);
    return this.card(
      t('health.hub'),
      'health-hub',
      problems.map((p) => t(`health.hubProblem.${p}` as MessageKey)),
      this.list([
        [t('health.hub.clients'), n(hub.clients)],
        [t('health.hub.sent'), n(hub.messagesSent)],
        [t('health.hub.slow'), n(hub.skippedSlow), problems.includes('slow-clients')],
        [t('health.hub.bad'), n(hub.badMessages), problems.includes('bad-messages')],
        [t('health.hub.terminated'), n(hub.terminated), problems.includes('terminated')],
      ]),
    );
  }

  private sinksCard(hr: HealthResponse): HTMLElement {
    const t = this.t;
    if (hr.sinks.length === 0) {
      return this.card(t('health.sinks'), 'health-sinks', [], h('p', { class: 'block-note' }, t('health.sinks.none')));
    }
    const n = (v: number | undefined) => (v === undefined ? '—' : formatCount(v, this.lang));
    const cards = hr.sinks.map((s) => {
      const problems = sinkProblems(s);
      return h(
        'div',
        { class: `health-sink${problems.length > 0 ? ' is-problem' : ''}`, 'data-testid': `health-sink-${s.name}` },
        h('h4', {}, s.name, s.state ? h('span', { class: 'card-sub' }, s.state) : null),
        this.list([
          [t('health.sink.backlog'), n(s.backlog), problems.includes('alarm')],
          [t('health.sink.oldest'), s.oldestAgeMs == null ? '—' : formatDuration(s.oldestAgeMs, t)],
          [t('health.sink.sent'), n(s.sent)],
          [t('health.sink.failures'), n(s.failures), (s.failures ?? 0) > 0],
          [t('health.sink.dropped'), n(s.dropped), (s.dropped ?? 0) > 0],
          [t('health.sink.rejected'), n(s.rejected), (s.rejected ?? 0) > 0],
          [
            t('health.sink.alarm'),
            s.alarm?.active ? (s.alarm.message ?? t('health.yes')) : t('health.no'),
            s.alarm?.active === true,
          ],
        ]),
        s.lastError ? h('p', { class: 'health-error' }, s.lastError) : null,
        problems.length > 0
          ? h(
              'p',
              { class: 'health-problems' },
              problems.map((p) => t(`health.sinkProblem.${p}` as MessageKey)).join(' · '),
            )
          : null,
      );
    });
    const bad = hr.sinks.some((s) => sinkProblems(s).length > 0);
    return h(
      'article',
      { class: `health-card${bad ? ' is-problem' : ''}`, 'data-testid': 'health-sinks' },
      h('header', { class: 'health-card-head' }, h('h3', {}, t('health.sinks'))),
      cards,
    );
  }
}

function protocolName(protocol: string): string {
  switch (protocol) {
    case 'modbus-tcp':
      return 'Modbus TCP';
    case 'modbus-rtu':
      return 'Modbus RTU';
    case 'opcua':
      return 'OPC UA';
    case 'mqtt':
      return 'MQTT';
    default:
      return protocol;
  }
}
