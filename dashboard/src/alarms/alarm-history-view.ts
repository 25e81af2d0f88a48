/**
 * The alarms' audit trail: who did what to which alarm and when, with the
 * comment and the outcome, newest first, and the whole period as CSV.
 */
import type { AlarmAuditEntry, AlarmAuditResponse, AlarmItem } from '../../../gateway/server/contract.js';
import { errorText, getJson, isAbort } from '../api.js';
import { h } from '../dom.js';
import type { Lang } from '../i18n.js';
import { formatAlarmTime } from './alarm-card.js';
import { type AlarmTranslate, actionText, stateText } from './alarm-i18n.js';
import {
  AUDIT_ACTIONS,
  type AuditActionName,
  type AuditFilter,
  auditCsvPath,
  auditPath,
  messageOf,
  NO_AUDIT_FILTER,
  OPERATOR_AUDIT_ACTIONS,
} from './alarm-model.js';

export const RANGES = { '24h': 24 * 3_600_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
export type RangeName = keyof typeof RANGES;

const HISTORY_ROWS = 500;
/** typing in the search box waits this long for the next key before asking the gateway */
const SEARCH_PAUSE_MS = 300;
/** the action filter's choices besides single actions */
const ALL_ACTIONS = '';
const OPERATOR_ACTIONS = 'operator';

export interface HistoryContext {
  readonly lang: Lang;
  readonly at: AlarmTranslate;
  readonly timezone: string;
  readonly now: () => number;
  readonly alarms: () => readonly AlarmItem[];
}

export class AlarmHistoryView {
  readonly el: HTMLElement;
  private range: RangeName = '24h';
  private filter: AuditFilter = NO_AUDIT_FILTER;
  private typing: ReturnType<typeof setTimeout> | null = null;
  private data: AlarmAuditResponse | null = null;
  private error: string | null = null;
  private loading: AbortController | null = null;
  private readonly body: HTMLElement;
  private readonly download: HTMLAnchorElement;
  private readonly alarmSelect: HTMLSelectElement;

  constructor(private ctx: HistoryContext) {
    const { at } = ctx;
    const rangeSelect = h('select', { class: 'alarm-input', 'data-testid': 'history-range' });
    for (const r of Object.keys(RANGES) as RangeName[]) {
      rangeSelect.append(h('option', { value: r, selected: r === this.range }, at(`range.${r}`)));
    }
    rangeSelect.addEventListener('change', () => {
      this.range = rangeSelect.value as RangeName;
      void this.load();
    });
    this.alarmSelect = h('select', { class: 'alarm-input', 'data-testid': 'history-alarm' });
    this.alarmSelect.addEventListener('change', () => {
      this.filter = { ...this.filter, alarmId: this.alarmSelect.value === '' ? null : this.alarmSelect.value };
      void this.load();
    });
    const actionSelect = h(
      'select',
      { class: 'alarm-input', 'data-testid': 'history-action-filter' },
      h('option', { value: ALL_ACTIONS }, at('history.allActions')),
      h('option', { value: OPERATOR_ACTIONS }, at('history.operatorActions')),
      ...AUDIT_ACTIONS.map((a) => h('option', { value: a }, actionText(at, a))),
    );
    actionSelect.addEventListener('change', () => {
      const v = actionSelect.value;
      const actions: readonly AuditActionName[] =
        v === ALL_ACTIONS ? [] : v === OPERATOR_ACTIONS ? OPERATOR_AUDIT_ACTIONS : [v as AuditActionName];
      this.filter = { ...this.filter, actions };
      void this.load();
    });
    const search = h('input', {
      type: 'search',
      class: 'alarm-input',
      'data-testid': 'history-search',
      placeholder: at('history.searchHint'),
      maxlength: '100',
      autocomplete: 'off',
    });
    search.addEventListener('input', () => {
      if (this.typing !== null) clearTimeout(this.typing);
      this.typing = setTimeout(() => {
        this.typing = null;
        this.filter = { ...this.filter, text: search.value };
        void this.load();
      }, SEARCH_PAUSE_MS);
    });
    const refresh = h(
      'button',
      { type: 'button', class: 'alarm-button', 'data-testid': 'history-refresh' },
      at('history.refresh'),
    );
    refresh.addEventListener('click', () => void this.load());
    this.download = h(
      'a',
      { class: 'action-button', download: '', 'data-testid': 'history-csv' },
      at('history.download'),
    );
    this.body = h('div', { class: 'table-scroll', 'data-testid': 'history-body' });
    this.el = h(
      'section',
      { class: 'alarm-history', 'data-testid': 'alarms-history' },
      h(
        'div',
        { class: 'alarm-controls' },
        h('label', { class: 'control' }, h('span', { class: 'field-label' }, at('history.range')), rangeSelect),
        h('label', { class: 'control' }, h('span', { class: 'field-label' }, at('history.alarm')), this.alarmSelect),
        h('label', { class: 'control' }, h('span', { class: 'field-label' }, at('history.action')), actionSelect),
        h('label', { class: 'control' }, h('span', { class: 'field-label' }, at('history.search')), search),
        refresh,
        this.download,
      ),
      this.body,
    );
    this.fillAlarms();
    this.render();
  }

  /** the alarm list changed: the choice of alarms follows */
  fillAlarms(): void {
    const { at, lang } = this.ctx;
    const chosen = this.filter.alarmId;
    const options = [h('option', { value: '', selected: chosen === null }, at('history.allAlarms'))];
    for (const a of this.ctx.alarms()) {
      options.push(h('option', { value: a.id, selected: a.id === chosen }, messageOf(a, lang)));
    }
    this.alarmSelect.replaceChildren(...options);
  }

  setContext(ctx: HistoryContext): void {
    this.ctx = ctx;
  }

  async load(): Promise<void> {
    this.loading?.abort();
    const ctrl = new AbortController();
    this.loading = ctrl;
    const to = this.ctx.now() + 1000;
    const from = to - RANGES[this.range];
    this.download.href = auditCsvPath(from, to, this.filter);
    try {
      const data = await getJson<AlarmAuditResponse>(auditPath(from, to, this.filter, HISTORY_ROWS), ctrl.signal);
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
    if (this.typing !== null) clearTimeout(this.typing);
    this.typing = null;
    this.loading?.abort();
  }

  private render(): void {
    const { at } = this.ctx;
    if (this.error !== null) {
      this.body.replaceChildren(
        h('p', { class: 'notice', 'data-kind': 'error', role: 'alert' }, at('history.failed', { detail: this.error })),
      );
      return;
    }
    const data = this.data;
    if (data === null) {
      this.body.replaceChildren(h('p', { class: 'block-note' }, at('history.loading')));
      return;
    }
    if (data.entries.length === 0) {
      const filtered = this.filter.alarmId !== null || this.filter.actions.length > 0 || this.filter.text.trim() !== '';
      this.body.replaceChildren(
        h(
          'p',
          { class: 'block-note', 'data-testid': 'history-empty' },
          at(filtered ? 'history.emptyFiltered' : 'history.empty'),
        ),
      );
      return;
    }
    const table = h(
      'table',
      { class: 'data-table alarm-table', 'data-testid': 'history-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...(['time', 'alarm', 'action', 'user', 'comment', 'result', 'change'] as const).map((c) =>
            h('th', { scope: 'col' }, at(`history.col.${c}`)),
          ),
        ),
      ),
      h('tbody', {}, ...data.entries.map((e) => this.row(e))),
    );
    const more = data.truncated
      ? [h('p', { class: 'card-note', 'data-testid': 'history-truncated' }, at('history.truncated', { n: data.limit }))]
      : [];
    this.body.replaceChildren(table, ...more);
  }

  private row(e: AlarmAuditEntry): HTMLElement {
    const { at, lang, timezone } = this.ctx;
    const now = this.ctx.now();
    const alarm = this.ctx.alarms().find((a) => a.id === e.alarmId);
    const name = alarm ? messageOf(alarm, lang) : at('history.noLongerConfigured', { id: e.alarmId });
    const refused = e.result !== 'accepted';
    const change = (s: AlarmAuditEntry['from']) =>
      [stateText(at, s.state), ...s.modes.map((m) => at(`mode.${m}`))].join(', ');
    return h(
      'tr',
      { 'data-testid': `history-row-${e.id}`, 'data-action': e.action, class: refused ? 'is-refused' : null },
      h('td', { class: 'nowrap' }, formatAlarmTime(e.ts, now, timezone, lang)),
      h('td', {}, name, h('span', { class: 'alarm-event' }, ` #${e.activation}`)),
      h('td', { 'data-testid': 'history-action' }, actionText(at, e.action)),
      h(
        'td',
        { 'data-testid': 'history-user', class: e.user === null ? 'is-gateway' : null },
        e.user ?? at('history.gateway'),
      ),
      h('td', { 'data-testid': 'history-comment' }, e.comment ?? ''),
      h(
        'td',
        { 'data-testid': 'history-result' },
        refused ? at('history.refused', { code: e.result.replace(/^GL_ERR_ALARM_/, '') }) : at('history.accepted'),
      ),
      h('td', { class: 'alarm-change' }, refused ? '' : `${change(e.from)} → ${change(e.to)}`),
    );
  }
}
