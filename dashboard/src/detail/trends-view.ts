/**
 * A machine's (or line meter's) process values: the latest value of each
 * tag, and a trend chart for each number that is not a running total. The
 * range is picked from 15 min to 30 days; short ranges follow the live
 * values, longer ones come from the minute rollups. Dragging across a chart
 * zooms all of them and loads finer data for the stretch.
 */
import type { HistoryResponse, LiveQuality, LiveTagView, LiveValue } from '../../../gateway/server/contract.js';
import { apiPath, errorText, getJson, isAbort } from '../api.js';
import { TrendChart } from '../charts/trend-chart.js';
import { h, setText } from '../dom.js';
import { formatAge, formatValue } from '../format.js';
import type { Lang, MessageKey, Translate } from '../i18n.js';
import { translateReason } from '../i18n.js';
import {
  appendLive,
  chartValue,
  followsLive,
  historyPointsFor,
  historySeries,
  type ProcessTag,
  type Series,
  TREND_RANGES,
  type TrendRangeId,
  trendRangeMs,
} from './detail-model.js';

const COLORS = ['#1f6fd0', '#c2410c', '#157a43', '#7c3aed', '#b45309', '#0e7490', '#be185d', '#4d7c0f'];
/** a long range is loaded again this often (new minutes arrive) */
const RELOAD_MS = 60_000;
/** a followed range is loaded again now and then, in case live values were missed */
const RELOAD_FOLLOWED_MS = 5 * 60_000;

interface Current {
  value: LiveValue['value'];
  quality: LiveQuality;
  reason: string | null;
  ts: number | null;
}

interface TagEls {
  readonly value: HTMLElement;
  readonly quality: HTMLElement;
  readonly age: HTMLElement;
  readonly card: HTMLElement;
}

export interface TrendsOptions {
  readonly tags: readonly ProcessTag[];
  readonly lang: Lang;
  readonly t: Translate;
  readonly timeZone: string;
  readonly range: TrendRangeId;
  readonly onRangeChange: (range: TrendRangeId) => void;
  /** server clock minus browser clock */
  readonly clockOffset: () => number;
  readonly testIdPrefix: string;
}

export class TrendsView {
  readonly el: HTMLElement;
  private range: TrendRangeId;
  private zoom: [number, number] | null = null;
  private readonly current = new Map<string, Current>();
  private readonly els = new Map<string, TagEls>();
  private readonly charts = new Map<string, TrendChart>();
  private readonly series = new Map<string, Series>();
  private dirty = false;
  private loadedAt = 0;
  private loading: AbortController | null = null;
  private readonly statusEl: HTMLElement;
  private readonly zoomEl: HTMLButtonElement;
  private readonly downloadEl: HTMLAnchorElement;
  private readonly rangeButtons = new Map<TrendRangeId, HTMLButtonElement>();

  constructor(private readonly o: TrendsOptions) {
    const { t } = o;
    this.range = o.range;
    this.statusEl = h('p', { class: 'trend-status', 'data-testid': `${o.testIdPrefix}-trend-status` });
    this.zoomEl = h(
      'button',
      { type: 'button', class: 'tool-button', 'data-testid': 'trend-zoom-reset' },
      t('trend.resetZoom'),
    );
    this.zoomEl.hidden = true;
    this.zoomEl.addEventListener('click', () => this.setZoom(null));
    this.downloadEl = h(
      'a',
      { class: 'tool-button', download: '', 'data-testid': `${o.testIdPrefix}-tags-csv`, href: '#' },
      t('trend.download'),
    );
    // the link names the range shown at the moment of the tap
    this.downloadEl.addEventListener('click', () => {
      this.downloadEl.href = this.csvHref();
    });

    const picker = h('div', { class: 'window-picker', role: 'group', 'aria-label': t('trend.range') });
    for (const r of TREND_RANGES) {
      const b = h(
        'button',
        {
          type: 'button',
          class: 'window-option',
          'aria-pressed': String(r.id === this.range),
          'data-testid': `trend-range-${r.id}`,
        },
        t(`trend.range.${r.id}` as MessageKey),
      );
      b.addEventListener('click', () => this.setRange(r.id));
      this.rangeButtons.set(r.id, b);
      picker.append(b);
    }

    const valueTiles = h('div', { class: 'value-tiles' });
    const chartCards = h('div', { class: 'trend-grid' });
    o.tags.forEach((tag, i) => {
      const value = h('span', { class: 'pv-value', 'data-testid': `pv-value-${tag.id}` });
      const quality = h('span', { class: 'badge' });
      const age = h('span', { class: 'pv-age' });
      const sub = tag.role ? `${t(`role.${tag.role}` as MessageKey)} · ${tag.id}` : tag.id;
      const head = h(
        'div',
        { class: 'pv-head' },
        h('span', { class: 'pv-name' }, tag.name, h('span', { class: 'pv-sub' }, sub)),
        h('span', { class: 'pv-reading' }, value, tag.unit ? h('span', { class: 'pv-unit' }, tag.unit) : null),
        h('span', { class: 'pv-meta' }, quality, age),
      );
      if (tag.charted) {
        const chart = new TrendChart({
          series: [{ label: tag.name, color: COLORS[i % COLORS.length]! }],
          lang: o.lang,
          timeZone: o.timeZone,
          formatValue: (v) => `${formatValue(v, tag.type, o.lang, t)}${tag.unit ? ` ${tag.unit}` : ''}`,
          height: 170,
          syncKey: `trend-${o.testIdPrefix}`,
          onZoom: (from, to) => this.setZoom([from, to]),
          emptyText: t('trend.empty'),
          timeLabel: t('chart.time'),
          testId: `trend-chart-${tag.id}`,
        });
        this.charts.set(tag.id, chart);
        this.series.set(tag.id, { xs: [], ys: [] });
        const card = h('article', { class: 'trend-card', 'data-testid': `trend-${tag.id}` }, head, chart.el);
        chartCards.append(card);
        this.els.set(tag.id, { value, quality, age, card });
      } else {
        const card = h('article', { class: 'value-tile', 'data-testid': `value-${tag.id}` }, head);
        valueTiles.append(card);
        this.els.set(tag.id, { value, quality, age, card });
      }
    });
    valueTiles.hidden = valueTiles.childElementCount === 0;

    this.el = h(
      'div',
      { class: 'trends' },
      h('div', { class: 'trend-tools' }, picker, h('div', { class: 'tool-row' }, this.zoomEl, this.downloadEl)),
      this.statusEl,
      valueTiles,
      chartCards,
    );
    if (o.tags.length === 0) this.el.replaceChildren(h('p', { class: 'block-note' }, t('trend.noTags')));
    for (const id of this.els.keys()) this.renderValue(id);
  }

  /** charts take their size once the page is in the document */
  attach(): void {
    for (const c of this.charts.values()) c.attach();
  }

  destroy(): void {
    this.loading?.abort();
    for (const c of this.charts.values()) c.destroy();
  }

  get selectedRange(): TrendRangeId {
    return this.range;
  }

  /** the values of GET /api/live */
  setSnapshot(tags: readonly LiveTagView[]): void {
    for (const v of tags) {
      if (!this.els.has(v.tagId)) continue;
      const known = this.current.get(v.tagId);
      if (known?.ts != null && v.ts !== null && known.ts > v.ts) continue;
      this.current.set(v.tagId, { value: v.value, quality: v.quality, reason: v.reason, ts: v.ts });
      this.renderValue(v.tagId);
    }
  }

  applyValues(values: readonly LiveValue[]): void {
    const [from] = this.window();
    const follow = this.following();
    for (const v of values) {
      if (!this.els.has(v.tagId)) continue;
      this.current.set(v.tagId, { value: v.value, quality: v.quality, reason: v.reason ?? null, ts: v.ts });
      this.renderValue(v.tagId);
      const s = this.series.get(v.tagId);
      if (s && follow && this.loadedAt > 0) {
        appendLive(s, v.ts, chartValue(v.value, v.quality), from);
        this.dirty = true;
      }
    }
  }

  /** every second while shown */
  tick(): void {
    const now = this.now();
    for (const id of this.els.keys()) this.renderAge(id, now);
    const since = now - this.loadedAt;
    if (
      !this.loading &&
      (this.loadedAt === 0 || (this.zoom === null && since > (this.following() ? RELOAD_FOLLOWED_MS : RELOAD_MS)))
    ) {
      void this.load();
    }
    if (this.following()) {
      const [from, to] = this.window();
      for (const c of this.charts.values()) c.setWindow(from, to);
    }
    if (this.dirty) {
      this.dirty = false;
      for (const [id, chart] of this.charts) {
        const s = this.series.get(id)!;
        chart.setData([s.xs, s.ys]);
      }
    }
  }

  // ---------- range and zoom ----------

  private setRange(range: TrendRangeId): void {
    this.range = range;
    for (const [id, b] of this.rangeButtons) b.setAttribute('aria-pressed', String(id === range));
    this.o.onRangeChange(range);
    this.setZoom(null);
  }

  private setZoom(zoom: [number, number] | null): void {
    this.zoom = zoom;
    this.zoomEl.hidden = zoom === null;
    void this.load();
  }

  private following(): boolean {
    return this.zoom === null && followsLive(trendRangeMs(this.range));
  }

  private now(): number {
    return Date.now() + this.o.clockOffset();
  }

  private window(): [number, number] {
    if (this.zoom) return this.zoom;
    const now = this.now();
    return [now - trendRangeMs(this.range), now];
  }

  private csvHref(): string {
    const [from, to] = this.window();
    const ids = this.o.tags.map((tag) => tag.id).slice(0, 100);
    return apiPath('api/export/tags.csv', {
      tags: ids.join(','),
      from: Math.floor(from),
      to: Math.ceil(to),
      resolution: to - from <= 86_400_000 ? 'raw' : '1m',
    });
  }

  // ---------- data ----------

  private async load(): Promise<void> {
    this.loading?.abort();
    const ctrl = new AbortController();
    this.loading = ctrl;
    const [from, to] = this.window();
    const width = [...this.charts.values()][0]?.el.clientWidth ?? 600;
    const maxPoints = historyPointsFor(width || 600);
    for (const c of this.charts.values()) c.setWindow(from, to);
    setText(this.statusEl, this.o.t('trend.loading'));
    try {
      const answers = await Promise.all(
        [...this.charts.keys()].map((id) =>
          getJson<HistoryResponse>(
            apiPath(`api/tags/${encodeURIComponent(id)}/history`, {
              from: Math.floor(from),
              to: Math.ceil(to),
              maxPoints,
            }),
            ctrl.signal,
          ),
        ),
      );
      if (ctrl.signal.aborted) return;
      for (const a of answers) {
        const s = historySeries(a.points);
        this.series.set(a.tagId, s);
        this.charts.get(a.tagId)?.setData([s.xs, s.ys]);
      }
      this.loadedAt = this.now();
      setText(this.statusEl, this.statusText(from, to));
    } catch (err) {
      if (isAbort(err)) return;
      this.loadedAt = this.now();
      setText(this.statusEl, this.o.t('trend.failed', { detail: errorText(err) }));
    } finally {
      if (this.loading === ctrl) this.loading = null;
    }
  }

  private statusText(from: number, to: number): string {
    const t = this.o.t;
    if (this.zoom) return t('trend.zoomed');
    if (this.following()) return t('trend.following');
    return t('trend.rollups', { h: Math.round((to - from) / 3_600_000) });
  }

  // ---------- values ----------

  private renderValue(id: string): void {
    const els = this.els.get(id);
    const tag = this.o.tags.find((x) => x.id === id);
    if (!els || !tag) return;
    const t = this.o.t;
    const cur = this.current.get(id) ?? { value: null, quality: 'bad' as const, reason: 'no data yet', ts: null };
    setText(els.value, formatValue(cur.value, tag.type, this.o.lang, t));
    els.card.dataset.quality = cur.quality;
    els.quality.className = `badge badge-${cur.quality}`;
    const q = t(`quality.${cur.quality}` as MessageKey);
    setText(els.quality, cur.quality !== 'good' && cur.reason ? `${q}: ${translateReason(t, cur.reason)}` : q);
    els.quality.hidden = cur.quality === 'good';
    this.renderAge(id, this.now());
  }

  private renderAge(id: string, now: number): void {
    const els = this.els.get(id);
    if (!els) return;
    const ts = this.current.get(id)?.ts ?? null;
    setText(els.age, formatAge(ts === null ? null : now - ts, this.o.t));
  }
}
