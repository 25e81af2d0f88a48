/**
 * The live tags page: every tag of the plant grouped by line and machine,
 * the rest by device, with value, quality and how old the value is.
 */
import type {
  LiveQuality,
  LiveTagView,
  LiveValue,
  MachineStateName,
  PlantView,
  TagRole,
} from '../../gateway/server/contract.js';
import { h, setClass, setText } from './dom.js';
import { formatAge, formatValue, machineState } from './format.js';
import { type Lang, type Translate, translateReason, translator } from './i18n.js';
import type { Page } from './shell.js';

/** how long without news, in expected intervals, before a value looks old */
const OLD_AFTER_INTERVALS = 3;
/** for values no device owns (no interval known) */
const DEFAULT_EXPECTED_INTERVAL_MS = 10_000;

interface TagInfo {
  readonly id: string;
  readonly name: string;
  readonly unit: string | null;
  readonly type: string | null;
  readonly expectedIntervalMs: number;
}

interface Current {
  value: LiveValue['value'];
  quality: LiveQuality;
  reason: string | null;
  ts: number | null;
}

interface Placement {
  readonly role: TagRole | null;
  readonly stateMap: Readonly<Record<string, MachineStateName>> | null;
}

interface RowEls {
  readonly row: HTMLElement;
  readonly value: HTMLElement;
  readonly raw: HTMLElement;
  readonly unit: HTMLElement | null;
  readonly badge: HTMLElement;
  readonly reason: HTMLElement;
  readonly age: HTMLElement;
}

export class LivePage implements Page {
  readonly el: HTMLElement;
  private lang: Lang;
  private t: Translate;
  private plant: PlantView | null = null;
  private loadError: string | null = null;
  /** server clock minus browser clock, so ages are right on a tablet whose clock is off */
  private clockOffsetMs = 0;
  /** the gateway re-sends unchanged values this often: a quiet value is not an old one before that */
  private heartbeatMs = 0;
  private readonly info = new Map<string, TagInfo>();
  private readonly current = new Map<string, Current>();
  private readonly placement = new Map<string, Placement>();
  private readonly rows = new Map<string, RowEls>();
  private otherValues: HTMLElement | null = null;
  private summaryEl: HTMLElement | null = null;

  constructor(lang: Lang) {
    this.lang = lang;
    this.t = translator(lang);
    this.el = h('div', { class: 'page page-live', 'data-testid': 'page-live' });
    this.render();
  }

  title(): string {
    return this.t('app.title');
  }

  // ---------- inputs ----------

  setPlant(plant: PlantView, live: readonly LiveTagView[], serverTime: number): void {
    this.plant = plant;
    this.loadError = null;
    this.clockOffsetMs = serverTime - Date.now();
    for (const d of plant.devices) {
      for (const t of d.tags) {
        this.info.set(t.id, {
          id: t.id,
          name: t.name,
          unit: t.unit,
          type: t.type,
          expectedIntervalMs: t.expectedIntervalMs,
        });
      }
    }
    for (const v of live) {
      if (!this.info.has(v.tagId)) this.info.set(v.tagId, derivedInfo(v.tagId, v.name, v.unit));
      this.current.set(v.tagId, { value: v.value, quality: v.quality, reason: v.reason, ts: v.ts });
    }
    this.render();
  }

  setLoadError(detail: string | null): void {
    this.loadError = detail;
    if (!this.plant) this.render();
  }

  setHello(serverTime: number, heartbeatMs: number | null): void {
    this.clockOffsetMs = serverTime - Date.now();
    this.heartbeatMs = heartbeatMs ?? 0;
  }

  applyValues(values: readonly LiveValue[]): void {
    for (const v of values) {
      this.current.set(v.tagId, { value: v.value, quality: v.quality, reason: v.reason ?? null, ts: v.ts });
      if (!this.info.has(v.tagId)) {
        this.info.set(v.tagId, derivedInfo(v.tagId, v.tagId, null));
        this.addOtherValueRow(v.tagId);
      }
      this.updateRow(v.tagId);
    }
    this.updateSummary();
  }

  /** called every second: ages move on even when values do not */
  tick(): void {
    for (const id of this.rows.keys()) this.updateAge(id);
    this.updateSummary();
  }

  // ---------- rendering ----------

  setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.render();
  }

  private render(): void {
    const t = this.t;
    this.rows.clear();
    this.placement.clear();
    this.otherValues = null;
    this.summaryEl = null;

    if (!this.plant) {
      const text = this.loadError ? t('load.failed', { detail: this.loadError }) : t('load.loading');
      this.el.replaceChildren(h('p', { class: 'placeholder', 'data-testid': 'load-state' }, text));
    } else {
      this.summaryEl = h('div', { class: 'summary', 'data-testid': 'summary' });
      this.el.replaceChildren(
        h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'page-title' }, t('app.title')), this.summaryEl),
        ...this.renderGroups(this.plant),
      );
    }
    for (const id of this.rows.keys()) this.updateRow(id);
    this.updateSummary();
  }

  private renderGroups(plant: PlantView): HTMLElement[] {
    const t = this.t;
    const placed = new Set<string>();
    const areaName = new Map(plant.areas.map((a) => [a.id, a.name]));
    const sections: HTMLElement[] = [];

    for (const line of plant.lines) {
      const cards: HTMLElement[] = [];
      for (const m of line.machines) {
        const rows = m.tags
          .filter((r) => !placed.has(r.tagId) && this.info.has(r.tagId))
          .map((r) => {
            placed.add(r.tagId);
            return this.row(r.tagId, { role: r.role, stateMap: r.role === 'state' ? m.stateMap : null });
          });
        cards.push(card(m.name, `machine-${m.id}`, rows));
      }
      const lineRows = line.tags
        .filter((r) => !placed.has(r.tagId) && this.info.has(r.tagId))
        .map((r) => {
          placed.add(r.tagId);
          return this.row(r.tagId, { role: r.role, stateMap: null });
        });
      if (lineRows.length > 0) cards.push(card(t('section.lineMeter'), `line-meter-${line.id}`, lineRows));
      sections.push(
        h(
          'section',
          { class: 'group', 'data-testid': `line-${line.id}` },
          h('h2', {}, line.name, h('span', { class: 'group-sub' }, areaName.get(line.area) ?? line.area)),
          h('div', { class: 'cards' }, cards),
        ),
      );
    }

    const deviceCards: HTMLElement[] = [];
    for (const d of plant.devices) {
      const rows = d.tags
        .filter((tag) => !placed.has(tag.id))
        .map((tag) => this.row(tag.id, { role: null, stateMap: null }));
      for (const tag of d.tags) placed.add(tag.id);
      if (rows.length === 0) continue;
      const title = h(
        'span',
        {},
        d.name,
        h('span', { class: 'card-sub' }, protocolLabel(d.protocol)),
        d.enabled ? null : h('span', { class: 'card-sub' }, t('device.disabled')),
      );
      deviceCards.push(card(title, `device-${d.id}`, rows));
    }
    if (deviceCards.length > 0) {
      sections.push(
        h(
          'section',
          { class: 'group', 'data-testid': 'devices' },
          h('h2', {}, t('section.devices')),
          h('div', { class: 'cards' }, deviceCards),
        ),
      );
    }

    const others = [...this.info.keys()].filter((id) => !placed.has(id));
    this.otherValues = h('div', { class: 'rows' });
    for (const id of others) this.otherValues.append(this.row(id, { role: null, stateMap: null }));
    const otherSection = h(
      'section',
      { class: 'group', 'data-testid': 'other-values' },
      h('h2', {}, t('section.otherValues')),
      h('div', { class: 'cards' }, h('article', { class: 'card' }, this.otherValues)),
    );
    otherSection.hidden = others.length === 0;
    sections.push(otherSection);
    return sections;
  }

  private addOtherValueRow(id: string): void {
    if (!this.otherValues) return;
    this.otherValues.append(this.row(id, { role: null, stateMap: null }));
    const section = this.otherValues.closest('section');
    if (section) section.hidden = false;
  }

  private row(id: string, placement: Placement): HTMLElement {
    const t = this.t;
    const info = this.info.get(id)!;
    this.placement.set(id, placement);
    const value = h('span', { class: 'value', 'data-testid': `tag-value-${id}` });
    const raw = h('span', { class: 'raw' });
    const badge = h('span', { class: 'badge', 'data-testid': `tag-quality-${id}` });
    const reason = h('span', { class: 'reason', 'data-testid': `tag-reason-${id}` });
    const age = h('span', { class: 'age', 'data-testid': `tag-age-${id}` });
    const unit = info.unit ? h('span', { class: 'unit' }, info.unit) : null;
    const sub = placement.role ? `${t(`role.${placement.role}`)} · ${id}` : id;
    const row = h(
      'div',
      { class: 'row', 'data-testid': `tag-row-${id}`, 'data-tag': id },
      h(
        'div',
        { class: 'row-name' },
        h('span', { class: 'tag-name' }, info.name),
        h('span', { class: 'tag-sub' }, sub),
      ),
      h('div', { class: 'row-value', 'aria-label': t('col.value') }, value, unit, raw),
      h('div', { class: 'row-quality', 'aria-label': t('col.quality') }, badge, reason),
      h('div', { class: 'row-age', 'aria-label': t('col.updated') }, age),
    );
    this.rows.set(id, { row, value, raw, unit, badge, reason, age });
    return row;
  }

  private updateRow(id: string): void {
    const els = this.rows.get(id);
    const info = this.info.get(id);
    if (!els || !info) return;
    const t = this.t;
    const cur = this.current.get(id) ?? { value: null, quality: 'bad', reason: 'no data yet', ts: null };
    const placement = this.placement.get(id);

    const state = placement?.role === 'state' ? machineState(cur.value, placement.stateMap) : null;
    if (state) {
      setText(els.value, t(`state.${state}`));
      els.value.dataset.state = state;
      setText(els.raw, formatValue(cur.value, info.type, this.lang, t));
    } else {
      setText(els.value, formatValue(cur.value, info.type, this.lang, t));
      delete els.value.dataset.state;
      setText(els.raw, '');
    }

    if (els.unit) els.unit.hidden = cur.value === null;
    setText(els.badge, t(`quality.${cur.quality}`));
    els.badge.className = `badge badge-${cur.quality}`;
    els.row.dataset.quality = cur.quality;
    setText(els.reason, cur.quality !== 'good' && cur.reason ? translateReason(t, cur.reason) : '');
    this.updateAge(id);
  }

  private updateAge(id: string): void {
    const els = this.rows.get(id);
    const info = this.info.get(id);
    if (!els || !info) return;
    const cur = this.current.get(id);
    const ts = cur?.ts ?? null;
    const ageMs = ts === null ? null : Date.now() + this.clockOffsetMs - ts;
    setText(els.age, formatAge(ageMs, this.t));
    const old = ageMs !== null && ageMs > OLD_AFTER_INTERVALS * Math.max(info.expectedIntervalMs, this.heartbeatMs);
    setClass(els.row, 'is-old', old);
    if (old) els.age.title = this.t('age.old');
    else els.age.removeAttribute('title');
  }

  private updateSummary(): void {
    if (!this.summaryEl) return;
    const counts: Record<LiveQuality, number> = { good: 0, bad: 0, uncertain: 0, stale: 0 };
    for (const id of this.rows.keys()) counts[this.current.get(id)?.quality ?? 'bad']++;
    const t = this.t;
    const parts: HTMLElement[] = [h('span', { class: 'summary-item' }, t('summary.tags', { n: this.rows.size }))];
    for (const q of ['bad', 'uncertain', 'stale'] as const) {
      if (counts[q] > 0) {
        parts.push(
          h(
            'span',
            { class: `summary-item summary-${q}`, 'data-testid': `summary-${q}` },
            t(`summary.${q}`, { n: counts[q] }),
          ),
        );
      }
    }
    const text = parts.map((p) => p.textContent).join('|');
    if (this.summaryEl.dataset.text === text) return;
    this.summaryEl.dataset.text = text;
    this.summaryEl.replaceChildren(...parts);
  }
}

function derivedInfo(id: string, name: string, unit: string | null): TagInfo {
  return { id, name, unit, type: null, expectedIntervalMs: DEFAULT_EXPECTED_INTERVAL_MS };
}

function card(title: string | HTMLElement, testid: string, rows: HTMLElement[]): HTMLElement {
  return h(
    'article',
    { class: 'card', 'data-testid': testid },
    h('h3', { class: 'card-title' }, title),
    h('div', { class: 'rows' }, rows),
  );
}

function protocolLabel(protocol: string): string {
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
