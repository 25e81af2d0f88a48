/**
 * The detail pages' blocks of figures: the six big losses as a bar in time
 * with minutes and shares of planned time, energy by machine state, and the
 * line's energy baseline.
 */
import { fixed } from '../charts/chart-format.js';
import { h } from '../dom.js';
import { figure, labelled } from '../figure-view.js';
import { formatCount, formatPercent, formatSignificant } from '../format.js';
import type { Lang, MessageKey, Translate } from '../i18n.js';
import type { BaselineView, EnergyByState, LossCategory, LossView } from './detail-model.js';

function minutes(ms: number, lang: Lang): string {
  return fixed(ms / 60_000, 1, lang);
}

const CATEGORY_LETTER: Record<LossCategory, MessageKey | null> = {
  availability: 'metric.a',
  performance: 'metric.p',
  quality: 'metric.q',
  none: null,
};

export function renderLosses(view: LossView | null, lang: Lang, t: Translate, whyKey: string | null): HTMLElement {
  if (!view) {
    return h('p', { class: 'block-note', 'data-testid': 'losses-none' }, t((whyKey ?? 'losses.none') as MessageKey));
  }
  const bar = h('div', {
    class: 'stack-bar loss-bar',
    role: 'img',
    'aria-label': t('losses.title'),
    'data-testid': 'loss-bar',
    'data-planned-ms': view.plannedMs,
  });
  const body = h('tbody');
  for (const seg of view.segments) {
    const name = t(`loss.${seg.key}` as MessageKey);
    if (seg.ms > 0) {
      const part = h('div', {
        class: 'stack-part',
        'data-loss': seg.key,
        title: `${name}: ${minutes(seg.ms, lang)} ${t('unit.min')} (${formatPercent(seg.share, lang)})`,
      });
      part.style.width = `${(seg.share * 100).toFixed(3)}%`;
      bar.append(part);
    }
    const letter = CATEGORY_LETTER[seg.category];
    const units =
      seg.units !== null && seg.units > 0
        ? h('span', { class: 'cell-sub' }, t('losses.units', { n: formatCount(seg.units, lang) }))
        : null;
    body.append(
      h(
        'tr',
        { 'data-loss': seg.key, 'data-ms': seg.ms, 'data-testid': `loss-row-${seg.key}` },
        h(
          'th',
          { scope: 'row' },
          h('span', { class: 'swatch', 'data-loss': seg.key, 'aria-hidden': 'true' }),
          h('span', {}, name),
          letter ? h('span', { class: 'loss-cat', title: t(`metric.${seg.category}` as MessageKey) }, t(letter)) : null,
          units,
        ),
        h('td', { class: 'num', 'data-testid': `loss-min-${seg.key}` }, minutes(seg.ms, lang)),
        h('td', { class: 'num' }, formatPercent(seg.share, lang)),
      ),
    );
  }
  const table = h(
    'table',
    { class: 'data-table loss-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, t('losses.col.loss')),
        h('th', { scope: 'col', class: 'num' }, t('losses.col.min')),
        h('th', { scope: 'col', class: 'num' }, t('losses.col.share')),
      ),
    ),
    body,
    h(
      'tfoot',
      {},
      h(
        'tr',
        { 'data-testid': 'loss-planned', 'data-ms': view.plannedMs },
        h('th', { scope: 'row' }, t('losses.planned')),
        h('td', { class: 'num', 'data-testid': 'loss-planned-min' }, minutes(view.plannedMs, lang)),
        h('td', { class: 'num' }, formatPercent(1, lang)),
      ),
    ),
  );
  const notes: HTMLElement[] = [];
  if (view.setupOutsideMs > 0) {
    notes.push(h('p', { class: 'block-note' }, t('losses.setupOutside', { min: minutes(view.setupOutsideMs, lang) })));
  }
  if (view.excessMs > 0) {
    notes.push(h('p', { class: 'block-note is-warning' }, t('losses.excess', { min: minutes(view.excessMs, lang) })));
  }
  if (!view.qualityKnown) notes.push(h('p', { class: 'block-note' }, t('losses.qualityUnknown')));
  return h('div', { class: 'losses' }, bar, table, notes);
}

export function renderEnergyByState(e: EnergyByState, lang: Lang, t: Translate): HTMLElement {
  if (e.kwh === null) {
    return h(
      'div',
      { class: 'energy-state' },
      figure(t, { value: null, why: e.why, format: String, size: 'l', testId: 'energy-total' }),
      h('p', { class: 'block-note' }, t(`why.${e.why}.long` as MessageKey)),
    );
  }
  const bar = h('div', { class: 'stack-bar energy-bar', role: 'img', 'aria-label': t('energyState.title') });
  const body = h('tbody');
  for (const row of e.rows) {
    const name = t(`energyState.${row.key}` as MessageKey);
    if (row.kwh > 0 && row.share !== null) {
      const part = h('div', {
        class: 'stack-part',
        'data-energy': row.key,
        title: `${name}: ${fixed(row.kwh, 2, lang)} kWh`,
      });
      part.style.width = `${(row.share * 100).toFixed(3)}%`;
      bar.append(part);
    }
    body.append(
      h(
        'tr',
        { 'data-testid': `energy-row-${row.key}` },
        h(
          'th',
          { scope: 'row' },
          h('span', { class: 'swatch', 'data-energy': row.key, 'aria-hidden': 'true' }),
          h('span', { title: t(`energyState.${row.key}.long` as MessageKey) }, name),
        ),
        h('td', { class: 'num' }, fixed(row.kwh, 2, lang)),
        h('td', { class: 'num' }, row.share === null ? '—' : formatPercent(row.share, lang)),
      ),
    );
  }
  return h(
    'div',
    { class: 'energy-state' },
    h(
      'div',
      { class: 'kpi-row' },
      labelled(
        t('energyState.total'),
        figure(t, {
          value: e.kwh,
          format: (v) => fixed(v, 2, lang),
          unit: t('unit.kwh'),
          size: 'l',
          testId: 'energy-total',
        }),
      ),
      labelled(
        t('metric.idleShare'),
        figure(t, {
          value: e.idleShare,
          why: 'no-energy-yet',
          format: (v) => formatPercent(v, lang),
          size: 'l',
          testId: 'energy-idle-share',
        }),
        t('metric.idleShareHint'),
      ),
    ),
    bar,
    h(
      'table',
      { class: 'data-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, t('energyState.col.state')),
          h('th', { scope: 'col', class: 'num' }, t('unit.kwh')),
          h('th', { scope: 'col', class: 'num' }, t('energyState.col.share')),
        ),
      ),
      body,
    ),
  );
}

export function renderBaseline(b: BaselineView | null, error: string | null, lang: Lang, t: Translate): HTMLElement {
  if (!b) {
    return h('p', { class: 'block-note', 'data-testid': 'baseline-note' }, error ?? t('baseline.loading'));
  }
  const hours = b.periodMs / 3_600_000;
  const perPeriod = hours === 1 ? t('baseline.perHour') : t('baseline.perPeriod', { h: fixed(hours, 0, lang) });
  const m = b.model;
  const c = b.current;
  return h(
    'div',
    { class: 'baseline' },
    h(
      'div',
      { class: 'kpi-row' },
      labelled(
        t('baseline.c'),
        figure(t, {
          value: m?.c ?? null,
          why: b.modelWhy,
          format: (v) => formatSignificant(v, lang),
          unit: `${t('unit.kwh')} ${perPeriod}`,
          testId: 'baseline-c',
        }),
        t('baseline.c.long'),
      ),
      labelled(
        t('baseline.m'),
        figure(t, {
          value: m?.m ?? null,
          why: b.modelWhy,
          format: (v) => formatSignificant(v, lang),
          unit: t('baseline.perUnit'),
          testId: 'baseline-m',
        }),
        t('baseline.m.long'),
      ),
      labelled(
        t('baseline.r2'),
        figure(t, {
          value: m?.r2 ?? null,
          why: m ? 'no-variation' : b.modelWhy,
          format: (v) => fixed(v, 3, lang),
          testId: 'baseline-r2',
        }),
        t('baseline.r2.long'),
      ),
      labelled(
        t('baseline.enpi'),
        figure(t, {
          value: c?.enpi ?? null,
          why: c ? 'no-energy-yet' : b.currentWhy,
          format: (v) => fixed(v, 2, lang),
          testId: 'baseline-enpi',
        }),
        t('baseline.enpi.long'),
      ),
    ),
    h(
      'p',
      { class: 'block-note' },
      c
        ? t('baseline.current', {
            actual: fixed(c.actualKwh, 1, lang),
            expected: fixed(c.expectedKwh, 1, lang),
            good: formatCount(c.good, lang),
          })
        : '',
      ' ',
      t('baseline.fit', { used: formatCount(b.used, lang), excluded: formatCount(b.excluded, lang) }),
    ),
  );
}
