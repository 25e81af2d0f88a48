/**
 * Alarm system performance (EEMUA 191, ISA-18.2) over a period: alarms per
 * 10 minutes as a bar chart with the target and flood lines, floods and time
 * in flood, the priority mix against its target, bad actors, chattering and
 * standing alarms. The chart is SVG built from attributes: nothing inline
 * that the Content-Security-Policy would refuse.
 */
import type { AlarmItem, AlarmPriority, AlarmStatsResponse } from '../../../gateway/server/contract.js';
import { apiPath, errorText, getJson, isAbort } from '../api.js';
import { h } from '../dom.js';
import { formatCount, formatDuration, formatPercent, formatSignificant } from '../format.js';
import type { Lang, Translate } from '../i18n.js';
import { formatAlarmTime } from './alarm-card.js';
import type { AlarmTranslate } from './alarm-i18n.js';
import { RANGES, type RangeName } from './alarm-history-view.js';
import { FLOOD_PER_WINDOW, messageOf, rateBars, TARGET_MIX, TARGET_PER_WINDOW } from './alarm-model.js';

const SVG = 'http://www.w3.org/2000/svg';
const CHART_W = 1000;
const CHART_H = 220;
const PAD_LEFT = 36;
const PAD_BOTTOM = 22;
const PAD_TOP = 8;
/** busy windows listed under the chart at most */
const BUSY_ROWS = 24;

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  ...children: (SVGElement | string)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

export interface StatsContext {
  readonly lang: Lang;
  readonly t: Translate;
  readonly at: AlarmTranslate;
  readonly timezone: string;
  readonly now: () => number;
  readonly alarms: () => readonly AlarmItem[];
}

export class AlarmStatsView {
  readonly el: HTMLElement;
  private range: RangeName = '24h';
  private data: AlarmStatsResponse | null = null;
  private error: string | null = null;
  private loading: AbortController | null = null;
  private readonly body: HTMLElement;

  constructor(private ctx: StatsContext) {
    const { at } = ctx;
    const rangeSelect = h('select', { class: 'alarm-input', 'data-testid': 'stats-range' });
    for (const r of Object.keys(RANGES) as RangeName[]) {
      rangeSelect.append(h('option', { value: r, selected: r === this.range }, at(`range.${r}`)));
    }
    rangeSelect.addEventListener('change', () => {
      this.range = rangeSelect.value as RangeName;
      void this.load();
    });
    const refresh = h(
      'button',
      { type: 'button', class: 'alarm-button', 'data-testid': 'stats-refresh' },
      at('history.refresh'),
    );
    refresh.addEventListener('click', () => void this.load());
    this.body = h('div', { class: 'alarm-stats-body', 'data-testid': 'stats-body' });
    this.el = h(
      'section',
      { class: 'alarm-stats', 'data-testid': 'alarms-stats' },
      h(
        'div',
        { class: 'alarm-controls' },
        h('label', { class: 'control' }, h('span', { class: 'field-label' }, at('history.range')), rangeSelect),
        refresh,
      ),
      this.body,
    );
    this.render();
  }

  async load(): Promise<void> {
    this.loading?.abort();
    const ctrl = new AbortController();
    this.loading = ctrl;
    const to = Math.ceil(this.ctx.now() / 60_000) * 60_000;
    const from = to - RANGES[this.range];
    try {
      const data = await getJson<AlarmStatsResponse>(apiPath('api/alarms/stats', { from, to }), ctrl.signal);
      if (ctrl.signal.aborted) return;
      this.data = data;
      this.error = null;
    } catch (err) {
      if (isAbort(err)) return;
      this.error = errorText(err);
    } finally {
      if (this.loading === ctrl) this.loading = null;
    }
    this.render();
  }

  stop(): void {
    this.loading?.abort();
  }

  private name(id: string): string {
    const a = this.ctx.alarms().find((x) => x.id === id);
    return a ? messageOf(a, this.ctx.lang) : this.ctx.at('history.noLongerConfigured', { id });
  }

  private time(ts: number): string {
    return formatAlarmTime(ts, this.ctx.now(), this.ctx.timezone, this.ctx.lang);
  }

  private render(): void {
    const { at, t, lang } = this.ctx;
    if (this.error !== null) {
      this.body.replaceChildren(
        h('p', { class: 'notice', 'data-kind': 'error', role: 'alert' }, at('stats.failed', { detail: this.error })),
      );
      return;
    }
    const s = this.data;
    if (s === null) {
      this.body.replaceChildren(h('p', { class: 'block-note' }, at('stats.loading')));
      return;
    }
    const pct = (x: number | null) => (x === null ? '—' : formatPercent(x, lang));
    const whole = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 0 });
    const pct0 = (x: number | null) => (x === null ? '—' : whole.format(x));
    const mix = (['high', 'medium', 'low'] as AlarmPriority[]).map((p) => pct0(s.priorities[p].share)).join(' / ');
    const tile = (label: string, value: string, testid: string, note?: string, warn = false, wide = false) =>
      h(
        'div',
        { class: `alarm-kpi${warn ? ' is-warning' : ''}${wide ? ' is-wide' : ''}`, 'data-testid': testid },
        h('span', { class: 'kpi-label' }, label),
        h('span', { class: 'alarm-kpi-value' }, value),
        note ? h('span', { class: 'card-note' }, note) : null,
      );
    const kpis = h(
      'div',
      { class: 'alarm-kpis' },
      tile(at('stats.count'), formatCount(s.count, lang), 'stats-count'),
      tile(
        at('stats.avg'),
        formatSignificant(s.rate.averagePerWindow, lang, 2),
        'stats-avg',
        at('stats.avgHint'),
        s.rate.averagePerWindow > TARGET_PER_WINDOW,
      ),
      tile(
        at('stats.max'),
        formatCount(s.rate.maxPerWindow, lang),
        'stats-max',
        undefined,
        s.rate.maxPerWindow > FLOOD_PER_WINDOW,
      ),
      tile(
        at('stats.flood'),
        `${formatDuration(s.floodMs, t)} (${pct(s.floodShare)})`,
        'stats-flood',
        at('stats.floodHint'),
        s.floodMs > 0,
      ),
      tile(at('stats.floods'), formatCount(s.floods.length, lang), 'stats-floods', undefined, s.floods.length > 0),
      tile(
        at('stats.mix'),
        mix,
        'stats-mix',
        at('stats.mixTarget', { h: pct0(TARGET_MIX.high), m: pct0(TARGET_MIX.medium), l: pct0(TARGET_MIX.low) }),
        false,
        true,
      ),
    );

    const section = (title: string, testid: string, table: HTMLElement | null) =>
      h(
        'section',
        { class: 'detail-card alarm-stats-card', 'data-testid': testid },
        h('h2', { class: 'detail-card-title' }, title),
        table ?? h('p', { class: 'block-note' }, at('stats.none')),
      );
    const table = (cols: string[], rows: (string | number)[][], numeric: number[] = []) =>
      rows.length === 0
        ? null
        : h(
            'div',
            { class: 'table-scroll' },
            h(
              'table',
              { class: 'data-table' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ...cols.map((c, i) => h('th', { scope: 'col', class: numeric.includes(i) ? 'num' : null }, c)),
                ),
              ),
              h(
                'tbody',
                {},
                ...rows.map((r) =>
                  h('tr', {}, ...r.map((c, i) => h('td', { class: numeric.includes(i) ? 'num' : null }, String(c)))),
                ),
              ),
            ),
          );

    const bars = rateBars(s);
    const busy = bars
      .filter((b) => b.count > TARGET_PER_WINDOW)
      .sort((a, b) => b.count - a.count || a.from - b.from)
      .slice(0, BUSY_ROWS);

    this.body.replaceChildren(
      kpis,
      h(
        'section',
        { class: 'detail-card alarm-stats-card', 'data-testid': 'stats-chart' },
        h('h2', { class: 'detail-card-title' }, at('stats.chart')),
        this.chart(s),
        table(
          [at('stats.col.window'), at('stats.col.alarms')],
          busy.map((b) => [this.time(b.from), formatCount(b.count, lang)]),
          [1],
        ),
      ),
      section(
        at('stats.floods'),
        'stats-floods-table',
        table(
          [
            at('stats.col.start'),
            at('stats.col.end'),
            at('stats.col.duration'),
            at('stats.col.alarms'),
            at('stats.col.peak'),
          ],
          s.floods.map((f) => [
            this.time(f.start),
            f.end === null ? at('stats.ongoing') : this.time(f.end),
            formatDuration(f.durationMs, t),
            formatCount(f.alarms, lang),
            formatCount(f.peak, lang),
          ]),
          [3, 4],
        ),
      ),
      section(
        at('stats.badActors'),
        'stats-bad-actors',
        table(
          [at('stats.col.alarm'), at('stats.col.count'), at('stats.col.share')],
          s.badActors.map((b) => [this.name(b.alarmId), formatCount(b.count, lang), pct(b.share)]),
          [1, 2],
        ),
      ),
      section(
        at('stats.chattering'),
        'stats-chattering',
        table(
          [at('stats.col.alarm'), at('stats.col.count'), at('stats.col.maxInWindow'), at('stats.col.first')],
          s.chattering.map((c) => [
            this.name(c.alarmId),
            formatCount(c.activations, lang),
            formatCount(c.maxInWindow, lang),
            this.time(c.firstAt),
          ]),
          [1, 2],
        ),
      ),
      section(
        at('stats.standing'),
        'stats-standing',
        table(
          [at('stats.col.alarm'), at('stats.col.since'), at('stats.col.duration')],
          s.standing.map((x) => [this.name(x.alarmId), this.time(x.since), formatDuration(x.durationMs, t)]),
          [2],
        ),
      ),
    );
  }

  private chart(s: AlarmStatsResponse): SVGSVGElement {
    const { at } = this.ctx;
    const bars = rateBars(s);
    const top = Math.max(FLOOD_PER_WINDOW + 2, s.rate.maxPerWindow);
    const plotW = CHART_W - PAD_LEFT;
    const plotH = CHART_H - PAD_BOTTOM - PAD_TOP;
    const y = (v: number) => PAD_TOP + plotH - (v / top) * plotH;
    const span = Math.max(1, s.to - s.from);
    const x = (t: number) => PAD_LEFT + ((t - s.from) / span) * plotW;
    const root = svg('svg', {
      class: 'alarm-chart',
      viewBox: `0 0 ${CHART_W} ${CHART_H}`,
      role: 'img',
      'aria-label': at('stats.chartLabel', { from: this.time(s.from), to: this.time(s.to) }),
      'data-testid': 'stats-chart-svg',
    });
    root.append(svg('rect', { class: 'chart-bg', x: PAD_LEFT, y: PAD_TOP, width: plotW, height: plotH }));
    for (const b of bars) {
      if (b.count === 0) continue;
      const x0 = x(b.from);
      const w = Math.max(1, x(b.to) - x0 - (bars.length > 300 ? 0 : 1));
      root.append(
        svg('rect', {
          class: `chart-bar is-${b.level}`,
          x: x0.toFixed(2),
          y: y(b.count).toFixed(2),
          width: w.toFixed(2),
          height: (y(0) - y(b.count)).toFixed(2),
          'data-count': b.count,
        }),
      );
    }
    for (const [v, cls, label] of [
      [TARGET_PER_WINDOW, 'chart-target', at('stats.chartTarget')],
      [FLOOD_PER_WINDOW, 'chart-flood', at('stats.chartFlood')],
    ] as const) {
      root.append(svg('line', { class: cls, x1: PAD_LEFT, x2: CHART_W, y1: y(v), y2: y(v) }));
      root.append(svg('text', { class: 'chart-label', x: PAD_LEFT - 4, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
      root.append(
        svg('text', { class: `chart-label ${cls}-label`, x: CHART_W - 4, y: y(v) - 4, 'text-anchor': 'end' }, label),
      );
    }
    root.append(svg('line', { class: 'chart-axis', x1: PAD_LEFT, x2: CHART_W, y1: y(0), y2: y(0) }));
    root.append(svg('text', { class: 'chart-label', x: PAD_LEFT, y: CHART_H - 4 }, this.time(s.from)));
    root.append(
      svg('text', { class: 'chart-label', x: CHART_W, y: CHART_H - 4, 'text-anchor': 'end' }, this.time(s.to)),
    );
    return root;
  }
}
