/**
 * The state timeline: one row of coloured bands per machine across the
 * window, round clock times under it, and a readout that names the band
 * under the finger or the mouse (state, stop reason, from–to, how long).
 * Positions are set through element.style, which the CSP allows.
 */
import { timeHm } from '../charts/chart-format.js';
import { h } from '../dom.js';
import { formatDuration } from '../format.js';
import type { Lang, MessageKey, Translate } from '../i18n.js';
import { type BandState, type StateBand, timeByState, timeTicks } from './timeline-model.js';

export interface TimelineRow {
  readonly id: string;
  /** a row's name when there are several */
  readonly label: string | null;
  readonly bands: readonly StateBand[];
}

export interface TimelineOptions {
  readonly rows: readonly TimelineRow[];
  readonly from: number;
  readonly to: number;
  /** how far the data reaches; the rest of the window is still to come */
  readonly asOf: number;
  readonly timeZone: string;
  readonly lang: Lang;
  readonly t: Translate;
  /** the band last named in the readout (row id and start), named again after a redraw */
  readonly selected?: { readonly row: string; readonly from: number } | null;
  readonly onSelect?: (row: string, from: number) => void;
}

const LEGEND_ORDER: readonly BandState[] = [
  'running',
  'idle',
  'unplanned-stop',
  'planned-stop',
  'offline',
  'unmapped',
  'no-data',
];

export function stateLabel(t: Translate, state: BandState): string {
  if (state === 'no-data') return t('state.noData');
  return t(`state.${state}` as MessageKey);
}

function pct(x: number): string {
  return `${Math.max(0, Math.min(100, x * 100)).toFixed(3)}%`;
}

export function bandText(band: StateBand, o: Pick<TimelineOptions, 'lang' | 'timeZone' | 't'>): string {
  const { t, lang, timeZone } = o;
  const parts = [stateLabel(t, band.state)];
  if (band.reason) parts.push(band.reason);
  if (band.state === 'unmapped' && band.raw !== null) parts.push(t('state.unmappedRaw', { raw: band.raw }));
  parts.push(
    `${timeHm(band.from, lang, timeZone)}–${timeHm(band.to, lang, timeZone)} (${formatDuration(band.to - band.from, t)})`,
  );
  return parts.join(' · ');
}

function nearestBand(bands: readonly StateBand[], at: number): StateBand | null {
  let best: StateBand | null = null;
  let bestGap = Number.POSITIVE_INFINITY;
  for (const b of bands) {
    const gap = at < b.from ? b.from - at : at > b.to ? at - b.to : 0;
    if (gap < bestGap) {
      best = b;
      bestGap = gap;
    }
  }
  return best;
}

export function renderTimeline(o: TimelineOptions): HTMLElement {
  const { t, from, to } = o;
  const span = to - from;
  const readout = h('p', { class: 'tl-readout', 'data-testid': 'timeline-readout', 'aria-live': 'polite' });
  readout.textContent = t('timeline.hint');
  const show = (band: StateBand, row: TimelineRow) => {
    readout.textContent = row.label ? `${row.label}: ${bandText(band, o)}` : bandText(band, o);
    o.onSelect?.(row.id, band.from);
  };
  for (const row of o.rows) {
    const band = o.selected?.row === row.id ? row.bands.find((b) => b.from === o.selected?.from) : undefined;
    if (band) readout.textContent = row.label ? `${row.label}: ${bandText(band, o)}` : bandText(band, o);
  }

  const rows = o.rows.map((row) => {
    const track = h('div', { class: 'tl-track', role: 'list', 'aria-label': row.label ?? t('timeline.title') });
    // what is still to come lies under the bands, so a band that just began stays on top
    if (o.asOf < to) {
      const future = h('div', { class: 'tl-future', 'aria-hidden': 'true' });
      future.style.left = pct((o.asOf - from) / span);
      future.style.width = pct((to - o.asOf) / span);
      track.append(future);
    }
    // a finger is wider than a short band: a tap names the band nearest to it
    track.addEventListener('click', (e) => {
      if (e.target !== track || row.bands.length === 0) return;
      const rect = track.getBoundingClientRect();
      const at = from + ((e.clientX - rect.left) / rect.width) * span;
      const near = nearestBand(row.bands, at);
      if (near) show(near, row);
    });
    for (const band of row.bands) {
      const text = bandText(band, o);
      const el = h('div', {
        class: 'tl-band',
        role: 'listitem',
        tabindex: 0,
        title: text,
        'aria-label': text,
        'data-state': band.state,
        'data-from': band.from,
        'data-to': band.to,
        ...(band.reason ? { 'data-reason': band.reason } : {}),
      });
      el.style.left = pct((band.from - from) / span);
      el.style.width = pct((band.to - band.from) / span);
      el.addEventListener('mouseenter', () => show(band, row));
      el.addEventListener('focus', () => show(band, row));
      el.addEventListener('click', () => show(band, row));
      track.append(el);
    }
    return h(
      'div',
      { class: 'tl-row', 'data-testid': `timeline-row-${row.id}` },
      row.label ? h('span', { class: 'tl-label', title: row.label }, row.label) : null,
      track,
    );
  });

  const axis = h('div', { class: 'tl-axis', 'aria-hidden': 'true' });
  for (const tick of timeTicks(from, to, o.timeZone, 8)) {
    const el = h('span', { class: 'tl-tick' }, timeHm(tick, o.lang, o.timeZone));
    el.style.left = pct((tick - from) / span);
    axis.append(el);
  }

  const totals = new Map<BandState, number>();
  for (const row of o.rows)
    for (const [state, ms] of timeByState(row.bands)) totals.set(state, (totals.get(state) ?? 0) + ms);
  // several machines: their times add up to more than the period, so the legend gives shares of machine time
  const machines = o.rows.length;
  let machineTime = 0;
  for (const ms of totals.values()) machineTime += ms;
  const legend = h('ul', { class: 'tl-legend', 'data-testid': 'timeline-legend' });
  if (machines > 1) legend.append(h('li', { class: 'tl-legend-note' }, t('timeline.shares', { n: machines })));
  for (const state of LEGEND_ORDER) {
    const ms = totals.get(state);
    if (ms === undefined) continue;
    const amount =
      machines > 1
        ? `${Math.round((ms / Math.max(machineTime, 1)) * 100).toLocaleString(o.lang)} %`
        : formatDuration(ms, t);
    legend.append(
      h(
        'li',
        { 'data-state': state },
        h('span', { class: 'tl-swatch', 'aria-hidden': 'true' }),
        `${stateLabel(t, state)} ${amount}`,
      ),
    );
  }

  return h(
    'div',
    { class: `timeline${o.rows.some((r) => r.label) ? ' has-labels' : ''}` },
    rows,
    h(
      'div',
      { class: 'tl-row tl-axis-row' },
      o.rows.some((r) => r.label) ? h('span', { class: 'tl-label' }) : null,
      axis,
    ),
    legend,
    readout,
  );
}
