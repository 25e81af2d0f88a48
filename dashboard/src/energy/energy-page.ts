/**
 * Energy & carbon (`#/energy`), for the energy manager: a range in the
 * site's dates, kWh, good units, kWh per unit and kg / t CO2e (location-
 * and market-based) by site, line or machine, the emission factors in
 * force with their source and year, and the CSV exports for the auditor
 * (served by the gateway as a stream; the links only name the range).
 */
import type { MetricsOverview, PlantView } from '../../../gateway/server/contract.js';
import { currentAccount } from '../account.js';
import { errorText, getJson, isAbort } from '../api.js';
import { fixed } from '../charts/chart-format.js';
import { h, setText } from '../dom.js';
import { formatClock, formatCount, formatSignificant } from '../format.js';
import { type Lang, type MessageKey, type Translate, translator } from '../i18n.js';
import type { Page } from '../shell.js';
import { formatDate, localDate } from '../site-time.js';
import {
  type Cell,
  type DateRange,
  daysIn,
  type EnergyLevel,
  type EnergyRow,
  energyCsvPath,
  energyRows,
  factorsInForce,
  LEVELS,
  meterTagIds,
  metricsPath,
  PERIODS,
  type Period,
  RANGE_CHOICES,
  type RangeChoice,
  rangeFor,
  rangeInstants,
  tagsCsvPath,
} from './energy-model.js';

const REFRESH_MS = 30_000;

/** emission factors as their sources publish them: 0.7, 0.5366 */
function factorFormat(lang: Lang): Intl.NumberFormat {
  return new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 4 });
}

export interface EnergyPageOptions {
  readonly lang: Lang;
  readonly plant: () => Promise<PlantView>;
}

interface Els {
  readonly rangeInfo: HTMLElement;
  readonly problem: HTMLElement;
  readonly table: HTMLElement;
  readonly factors: HTMLElement;
  readonly energyLink: HTMLAnchorElement;
  readonly tagsLink: HTMLAnchorElement;
  readonly exportNote: HTMLElement;
  readonly custom: HTMLElement;
  readonly fromInput: HTMLInputElement;
  readonly toInput: HTMLInputElement;
}

export class EnergyPage implements Page {
  readonly el: HTMLElement;
  private lang: Lang;
  private t: Translate;
  private plant: PlantView | null = null;
  private plantError: string | null = null;
  private active = false;
  private choice: RangeChoice = 'this-month';
  private customFrom = '';
  private customTo = '';
  private period: Period = 'day';
  private level: EnergyLevel = 'line';
  private resolution: '1m' | 'raw' = '1m';
  private overview: MetricsOverview | null = null;
  /** the range the overview shown was asked for */
  private shownRange: string | null = null;
  private loadError: string | null = null;
  private loadedAt = 0;
  private loading: AbortController | null = null;
  private clockOffsetMs = 0;
  /** may this user export? null: not known (no sign-in on this gateway) */
  private canExport: boolean | null = null;
  private els: Els | null = null;

  constructor(opts: EnergyPageOptions) {
    this.lang = opts.lang;
    this.t = translator(this.lang);
    this.el = h('div', { class: 'page page-energy', 'data-testid': 'page-energy' });
    this.build();
    void opts.plant().then(
      (plant) => {
        this.plant = plant;
        this.build();
      },
      (err: unknown) => {
        this.plantError = errorText(err);
        this.build();
      },
    );
  }

  title(): string {
    return this.t('energy.title');
  }

  setActive(active: boolean): void {
    this.active = active;
    if (active) {
      this.loadedAt = 0;
      this.checkExport();
      this.refresh();
    } else this.loading?.abort();
  }

  setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.build();
  }

  tick(): void {
    if (this.active && !this.loading && Date.now() - this.loadedAt > REFRESH_MS) this.refresh();
  }

  // ---------- range ----------

  private now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  private range(): ReturnType<typeof rangeFor> | null {
    if (!this.plant) return null;
    return rangeFor(this.choice, this.now(), this.plant.site.timezone, { from: this.customFrom, to: this.customTo });
  }

  private refresh(): void {
    this.updateLinks();
    const r = this.range();
    if (!r || !this.plant) return;
    if (!r.range) {
      this.renderTable();
      return;
    }
    void this.load(r.range);
  }

  private async load(range: DateRange): Promise<void> {
    const plant = this.plant!;
    this.loading?.abort();
    const ctrl = new AbortController();
    this.loading = ctrl;
    const key = `${formatDate(range.from)}/${formatDate(range.to)}`;
    try {
      const o = await getJson<MetricsOverview>(metricsPath(range, plant.site.timezone), ctrl.signal);
      if (ctrl.signal.aborted) return;
      this.clockOffsetMs = o.serverTime - Date.now();
      this.overview = o;
      this.shownRange = key;
      this.loadError = null;
    } catch (err) {
      if (isAbort(err)) return;
      this.loadError = errorText(err);
    } finally {
      if (this.loading === ctrl) this.loading = null;
      this.loadedAt = Date.now();
    }
    this.renderTable();
  }

  /** the signed-in user's role decides; without sign-in the gateway decides when the file is asked for */
  private checkExport(): void {
    const me = currentAccount();
    this.canExport = me ? me.capabilities.includes('export') : null;
    this.updateLinks();
  }

  // ---------- building ----------

  private build(): void {
    const t = this.t;
    this.els = null;
    const head = h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'energy-title' }, t('energy.title')));
    if (!this.plant) {
      const text = this.plantError ? t('load.failed', { detail: this.plantError }) : t('load.loading');
      this.el.replaceChildren(head, h('p', { class: 'placeholder' }, text));
      return;
    }
    const today = formatDate(localDate(this.now(), this.plant.site.timezone));
    if (!this.customFrom) this.customFrom = `${today.slice(0, 8)}01`;
    if (!this.customTo) this.customTo = today;

    const fromInput = h('input', {
      type: 'date',
      class: 'date-input',
      value: this.customFrom,
      max: today,
      'data-testid': 'energy-from',
      'aria-label': t('energy.from'),
    });
    const toInput = h('input', {
      type: 'date',
      class: 'date-input',
      value: this.customTo,
      max: today,
      'data-testid': 'energy-to',
      'aria-label': t('energy.to'),
    });
    const onDates = () => {
      this.customFrom = fromInput.value;
      this.customTo = toInput.value;
      this.overview = null;
      this.renderTable();
      this.refresh();
    };
    fromInput.addEventListener('change', onDates);
    toInput.addEventListener('change', onDates);
    const custom = h(
      'div',
      { class: 'date-range', 'data-testid': 'energy-custom' },
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('energy.from')), fromInput),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('energy.to')), toInput),
    );
    custom.hidden = this.choice !== 'custom';

    const energyLink = h(
      'a',
      { class: 'action-button', download: '', 'data-testid': 'energy-csv' },
      t('energy.downloadEnergy'),
    );
    const tagsLink = h(
      'a',
      { class: 'action-button is-secondary', download: '', 'data-testid': 'tags-csv' },
      t('energy.downloadTags'),
    );
    const resolution = this.choiceGroup(
      'energy-resolution',
      t('energy.resolution'),
      ['1m', 'raw'] as const,
      () => this.resolution,
      (v) => {
        this.resolution = v;
        this.updateLinks();
      },
      (v) => t(`energy.resolution.${v}` as MessageKey),
    );

    this.els = {
      rangeInfo: h('p', { class: 'window-info', 'data-testid': 'energy-range-info' }),
      problem: h('p', { class: 'notice', 'data-kind': 'error', 'data-testid': 'energy-problem', role: 'alert' }),
      table: h('div', { class: 'table-scroll', 'data-testid': 'energy-table-box' }),
      factors: h('div', { 'data-testid': 'energy-factors' }),
      energyLink,
      tagsLink,
      exportNote: h('p', { class: 'card-note', 'data-testid': 'export-note' }),
      custom,
      fromInput,
      toInput,
    };

    const controls = h(
      'div',
      { class: 'energy-controls' },
      h(
        'div',
        { class: 'control' },
        h('span', { class: 'field-label' }, t('energy.range')),
        this.choiceGroup(
          'energy-range',
          t('energy.range'),
          RANGE_CHOICES,
          () => this.choice,
          (v) => {
            this.choice = v;
            custom.hidden = v !== 'custom';
            this.overview = null;
            this.renderTable();
            this.refresh();
          },
          (v) => t(`energy.range.${v}` as MessageKey),
        ),
        custom,
      ),
      h(
        'div',
        { class: 'control' },
        h('span', { class: 'field-label' }, t('energy.level')),
        this.choiceGroup(
          'energy-level',
          t('energy.level'),
          LEVELS,
          () => this.level,
          (v) => {
            this.level = v;
            this.renderTable();
            this.updateLinks();
          },
          (v) => t(`energy.level.${v}` as MessageKey),
        ),
      ),
      h(
        'div',
        { class: 'control' },
        h('span', { class: 'field-label', title: t('energy.period.long') }, t('energy.period')),
        this.choiceGroup(
          'energy-period',
          t('energy.period'),
          PERIODS,
          () => this.period,
          (v) => {
            this.period = v;
            this.updateLinks();
          },
          (v) => t(`energy.period.${v}` as MessageKey),
        ),
      ),
    );

    this.el.replaceChildren(
      head,
      controls,
      this.els.rangeInfo,
      this.els.problem,
      h(
        'section',
        { class: 'detail-card', 'data-testid': 'card-energy-table' },
        h('h2', { class: 'detail-card-title' }, t('energy.tableTitle')),
        this.els.table,
      ),
      h(
        'div',
        { class: 'detail-grid' },
        h(
          'section',
          { class: 'detail-card' },
          h('h2', { class: 'detail-card-title' }, t('energy.factors')),
          this.els.factors,
        ),
        h(
          'section',
          { class: 'detail-card', 'data-testid': 'card-exports' },
          h('h2', { class: 'detail-card-title' }, t('energy.exports')),
          h(
            'div',
            { class: 'export-row' },
            energyLink,
            h('span', { class: 'card-note' }, t('energy.downloadEnergy.long')),
          ),
          h(
            'div',
            { class: 'export-row' },
            tagsLink,
            resolution,
            h('span', { class: 'card-note' }, t('energy.downloadTags.long')),
          ),
          this.els.exportNote,
        ),
      ),
    );
    this.renderTable();
    this.updateLinks();
  }

  private choiceGroup<T extends string>(
    testid: string,
    label: string,
    values: readonly T[],
    get: () => T,
    set: (v: T) => void,
    text: (v: T) => string,
  ): HTMLElement {
    const group = h('div', { class: 'window-picker', role: 'group', 'aria-label': label, 'data-testid': testid });
    const buttons: HTMLButtonElement[] = [];
    for (const v of values) {
      const b = h(
        'button',
        {
          type: 'button',
          class: 'window-option',
          'aria-pressed': String(v === get()),
          'data-testid': `${testid}-${v}`,
        },
        text(v),
      );
      b.addEventListener('click', () => {
        set(v);
        for (const [i, x] of buttons.entries()) x.setAttribute('aria-pressed', String(values[i] === get()));
      });
      buttons.push(b);
      group.append(b);
    }
    return group;
  }

  // ---------- rendering ----------

  private updateLinks(): void {
    const els = this.els;
    const plant = this.plant;
    if (!els || !plant) return;
    const r = this.range();
    const t = this.t;
    const range = r?.range ?? null;
    for (const [link, href] of [
      [els.energyLink, range ? energyCsvPath(range, this.period, this.level) : null],
      [els.tagsLink, range ? tagsCsvPath(meterTagIds(plant), range, this.resolution) : null],
    ] as const) {
      const allowed = href !== null && this.canExport !== false;
      if (allowed) link.href = href;
      else link.removeAttribute('href');
      link.setAttribute('aria-disabled', String(!allowed));
    }
    const notes: string[] = [];
    if (this.canExport === false) notes.push(t('energy.exportRole'));
    if (range && this.period === 'hour' && daysIn(range) > 62) notes.push(t('energy.manyRows'));
    setText(els.exportNote, notes.join(' '));
    els.exportNote.hidden = notes.length === 0;
  }

  private renderTable(): void {
    const els = this.els;
    const plant = this.plant;
    if (!els || !plant) return;
    const t = this.t;
    const r = this.range();
    const tz = plant.site.timezone;
    if (r?.problem) {
      setText(els.problem, t(`energy.problem.${r.problem}` as MessageKey, { days: 400 }));
      els.problem.hidden = false;
    } else if (this.loadError) {
      setText(els.problem, t('overview.failed', { detail: this.loadError }));
      els.problem.hidden = false;
    } else els.problem.hidden = true;

    const range = r?.range ?? null;
    if (range) {
      const { from, to } = rangeInstants(range, tz);
      const now = this.now();
      const parts = [
        t('energy.rangeInfo', { from: formatDate(range.from), to: formatDate(range.to), days: daysIn(range), tz }),
      ];
      if (to > now && this.overview)
        parts.push(t('window.asOf', { time: formatClock(this.overview.serverTime, tz, this.lang) }));
      setText(els.rangeInfo, parts.join(' · '));
      els.rangeInfo.dataset.from = String(from);
      els.rangeInfo.dataset.to = String(to);
      this.renderFactors(range);
    } else setText(els.rangeInfo, '');

    const key = range ? `${formatDate(range.from)}/${formatDate(range.to)}` : null;
    const o = this.overview;
    if (!o || key !== this.shownRange) {
      els.table.replaceChildren(h('p', { class: 'block-note' }, t('overview.loading')));
      return;
    }
    if (!o.ready) {
      els.table.replaceChildren(h('p', { class: 'block-note' }, t('overview.rebuilding')));
      return;
    }
    const rows = energyRows(o, this.level, plant);
    els.table.replaceChildren(this.table(rows, range!));
  }

  private table(rows: readonly EnergyRow[], range: DateRange): HTMLElement {
    const t = this.t;
    const lang = this.lang;
    const plant = this.plant!;
    const { from, to } = rangeInstants(range, plant.site.timezone);
    const kwh = (v: number) => fixed(v, v >= 1000 ? 0 : v >= 10 ? 1 : 2, lang);
    const kg = (v: number) => fixed(v, v >= 100 ? 0 : 1, lang);
    // tonnes for the report (HKEX asks for t CO2e); small amounts keep three significant digits
    const tonnes = (v: number) => `${v >= 1000 ? fixed(v / 1000, 3, lang) : formatSignificant(v / 1000, lang)} t`;
    const sig = (v: number) => formatSignificant(v, lang);
    const count = (v: number) => formatCount(v, lang);
    const head = h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col', rowspan: 2 }, t(`energy.level.${this.level}` as MessageKey)),
        h('th', { scope: 'col', rowspan: 2, class: 'num' }, t('unit.kwh')),
        h('th', { scope: 'col', rowspan: 2, class: 'num' }, t('energy.col.units')),
        h('th', { scope: 'col', rowspan: 2, class: 'num' }, t('energy.col.kwhPerUnit')),
        h('th', { scope: 'colgroup', colspan: 2, class: 'group-head' }, t('energy.col.location')),
        h('th', { scope: 'colgroup', colspan: 2, class: 'group-head' }, t('energy.col.market')),
      ),
      h(
        'tr',
        {},
        ...[0, 1].flatMap(() => [
          h('th', { scope: 'col', class: 'num' }, t('energy.col.kgT')),
          h('th', { scope: 'col', class: 'num' }, t('energy.col.kgPerUnit')),
        ]),
      ),
    );
    const body = h('tbody');
    for (const row of rows) {
      const name = h(
        'th',
        { scope: 'row' },
        row.total ? t('energy.total', { site: row.name }) : row.name,
        row.lineName ? h('span', { class: 'cell-sub' }, row.lineName) : null,
      );
      body.append(
        h(
          'tr',
          {
            'data-testid': `energy-row-${row.kind}-${row.id}${row.total ? '-total' : ''}`,
            class: row.total ? 'is-total' : '',
          },
          name,
          this.cell(row.kwh, kwh, 'kwh'),
          this.cell(row.units, count, 'units'),
          this.cell(row.kwhPerUnit, sig, 'kwh-per-unit'),
          this.cell(row.locationKg, kg, 'location-kg', tonnes),
          this.cell(row.locationKgPerUnit, sig, 'location-kg-per-unit'),
          this.cell(row.marketKg, kg, 'market-kg', tonnes),
          this.cell(row.marketKgPerUnit, sig, 'market-kg-per-unit'),
        ),
      );
    }
    return h(
      'table',
      { class: 'data-table energy-table', 'data-testid': 'energy-table', 'data-from': from, 'data-to': to },
      head,
      body,
    );
  }

  /** a figure, or "—" with the reason; `also` shows the value a second way under it (kg as t) */
  private cell(c: Cell, format: (v: number) => string, name: string, also?: (v: number) => string): HTMLElement {
    const t = this.t;
    if (c.value === null) {
      const why = c.why ?? 'no-window';
      return h(
        'td',
        { class: 'num is-missing', 'data-col': name, title: t(`why.${why}.long` as MessageKey) },
        '—',
        h('span', { class: 'cell-sub' }, t(`why.${why}` as MessageKey)),
      );
    }
    return h(
      'td',
      { class: 'num', 'data-col': name, 'data-value': c.value },
      format(c.value),
      also ? h('span', { class: 'cell-sub' }, also(c.value)) : null,
    );
  }

  private renderFactors(range: DateRange): void {
    const els = this.els;
    const plant = this.plant;
    if (!els || !plant) return;
    const t = this.t;
    const factors = factorsInForce(plant, range);
    if (factors.length === 0) {
      els.factors.replaceChildren(h('p', { class: 'block-note' }, t('energy.noFactors')));
      return;
    }
    const body = h('tbody');
    for (const f of factors) {
      body.append(
        h(
          'tr',
          { 'data-testid': `factor-${f.table}-${f.from}` },
          h(
            'th',
            { scope: 'row' },
            t(`energy.method.${f.method}` as MessageKey),
            h('span', { class: 'cell-sub' }, f.tableName),
          ),
          h('td', { class: 'num' }, factorFormat(this.lang).format(f.kgCO2ePerKwh)),
          h('td', {}, f.source),
          h('td', { class: 'num' }, f.year),
          h('td', { class: 'nowrap' }, f.to ? `${f.from} – ${f.to}` : t('energy.since', { from: f.from })),
        ),
      );
    }
    els.factors.replaceChildren(
      h(
        'div',
        { class: 'table-scroll' },
        h(
          'table',
          { class: 'data-table factor-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, t('energy.factor.method')),
              h('th', { scope: 'col', class: 'num' }, t('energy.factor.value')),
              h('th', { scope: 'col' }, t('energy.factor.source')),
              h('th', { scope: 'col', class: 'num' }, t('energy.factor.year')),
              h('th', { scope: 'col' }, t('energy.factor.valid')),
            ),
          ),
          body,
        ),
      ),
      h('p', { class: 'card-note' }, t('energy.factorsNote')),
    );
  }
}
