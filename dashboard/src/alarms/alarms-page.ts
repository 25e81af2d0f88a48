/**
 * Alarms (`#/alarms`): the alarms that need an operator, by priority then
 * time, coloured by priority, with their state (an unacknowledged alarm
 * blinks), and the buttons the signed-in role may use; the shelved,
 * suppressed and out-of-service ones apart; the audit trail
 * (`#/alarms/history`) and the alarm system's performance
 * (`#/alarms/stats`). Alarms arrive over the live socket as they change.
 */
import type { AlarmItem, AlarmsResponse } from '../../../gateway/server/contract.js';
import { ApiRequestError, errorText, getJson } from '../api.js';
import { h, setText } from '../dom.js';
import { type Lang, type Translate, translator } from '../i18n.js';
import type { Page } from '../shell.js';
import './alarms.css';
import { postAlarmAction } from './alarm-api.js';
import type { AlarmBoard } from './alarm-board.js';
import { AlarmCard, type AlarmCardContext } from './alarm-card.js';
import { AlarmHistoryView } from './alarm-history-view.js';
import { type AlarmTranslate, alarmTranslator, refusalText } from './alarm-i18n.js';
import {
  type AlarmActionName,
  type AlarmRights,
  type AlarmsTab,
  alarmsTabOf,
  hiddenAlarms,
  quietAlarms,
  shownAlarms,
  summaryOf,
} from './alarm-model.js';
import { AlarmStatsView } from './alarm-stats-view.js';

const TABS: readonly AlarmsTab[] = ['active', 'history', 'stats'];
const TAB_HASH: Record<AlarmsTab, string> = {
  active: '#/alarms',
  history: '#/alarms/history',
  stats: '#/alarms/stats',
};

/** without the live list for this long, the page asks over REST */
const REST_RETRY_MS = 5000;
/** the history follows changes shortly after they happen while it is shown */
const HISTORY_FOLLOW_MS = 400;

export interface AlarmsPageOptions {
  readonly lang: Lang;
  readonly board: AlarmBoard;
  /** what the signed-in user may do (from GET /api/me) */
  readonly rights: AlarmRights;
}

export class AlarmsPage implements Page {
  readonly el: HTMLElement;
  private lang: Lang;
  private t: Translate;
  private at: AlarmTranslate;
  private tab: AlarmsTab = 'active';
  private active = false;
  private timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  private loadError: string | null = null;
  private unavailable = false;
  private lastRestAt = 0;
  private restLoading = false;
  private historyTimer: number | null = null;
  private readonly cards = new Map<string, AlarmCard>();
  private history: AlarmHistoryView;
  private stats: AlarmStatsView;
  private els!: {
    summary: HTMLElement;
    notice: HTMLElement;
    tabs: Map<AlarmsTab, HTMLAnchorElement>;
    activeSection: HTMLElement;
    shownList: HTMLElement;
    shownEmpty: HTMLElement;
    hiddenBox: HTMLElement;
    hiddenList: HTMLElement;
    quietBox: HTMLDetailsElement;
    quietTitle: HTMLElement;
    quietList: HTMLElement;
  };

  constructor(private readonly opts: AlarmsPageOptions) {
    this.lang = opts.lang;
    this.t = translator(this.lang);
    this.at = alarmTranslator(this.lang);
    this.el = h('div', { class: 'page page-alarms', 'data-testid': 'page-alarms' });
    this.history = new AlarmHistoryView(this.historyContext());
    this.stats = new AlarmStatsView(this.statsContext());
    this.build();
    opts.board.onChange(() => this.onBoard());
    window.addEventListener('hashchange', () => {
      if (this.active) this.showTab(alarmsTabOf(window.location.hash));
    });
  }

  title(): string {
    return this.at('alarms.title');
  }

  setActive(active: boolean): void {
    this.active = active;
    if (!active) {
      this.history.stop();
      this.stats.stop();
      return;
    }
    void this.fetchAlarms();
    this.showTab(alarmsTabOf(window.location.hash), true);
  }

  setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.at = alarmTranslator(lang);
    this.history = new AlarmHistoryView(this.historyContext());
    this.stats = new AlarmStatsView(this.statsContext());
    this.build();
    if (this.active) this.showTab(this.tab, true);
  }

  tick(): void {
    const now = this.opts.board.now();
    for (const card of this.cards.values()) card.tick(now);
    const known = this.opts.board.ready === true;
    if (this.active && !known && !this.restLoading && Date.now() - this.lastRestAt > REST_RETRY_MS) {
      void this.fetchAlarms();
    }
  }

  // ---------- data ----------

  private async fetchAlarms(): Promise<void> {
    if (this.restLoading) return;
    this.restLoading = true;
    this.lastRestAt = Date.now();
    try {
      const res = await getJson<AlarmsResponse>('api/alarms');
      this.timezone = res.timezone;
      this.loadError = null;
      this.unavailable = false;
      this.opts.board.setList(res.alarms, res.serverTime, res.ready);
    } catch (err) {
      if (err instanceof ApiRequestError && err.status === 503 && err.code === 'GL_ERR_UNAVAILABLE') {
        this.unavailable = true;
      } else {
        this.loadError = errorText(err);
      }
      this.renderNotice();
    } finally {
      this.restLoading = false;
    }
  }

  private readonly runAction = async (alarmId: string, action: AlarmActionName, body: object): Promise<void> => {
    try {
      const res = await postAlarmAction(alarmId, action, body);
      this.opts.board.apply(res.alarm);
    } catch (err) {
      if (err instanceof ApiRequestError) {
        const words = err.status === 403 ? this.at('error.forbidden') : refusalText(this.at, err.code);
        throw new Error(words ?? err.message);
      }
      throw err;
    }
  };

  private onBoard(): void {
    this.renderAlarms();
    this.history.fillAlarms();
    if (this.active && this.tab === 'history') {
      if (this.historyTimer !== null) window.clearTimeout(this.historyTimer);
      this.historyTimer = window.setTimeout(() => {
        this.historyTimer = null;
        void this.history.load();
      }, HISTORY_FOLLOW_MS);
    }
  }

  // ---------- building ----------

  /** what the history and statistics read; the time zone through a getter, as it is known only after a load */
  private historyContext() {
    const page = this;
    return {
      lang: this.lang,
      at: this.at,
      get timezone() {
        return page.timezone;
      },
      now: () => this.opts.board.now(),
      alarms: () => this.opts.board.list(),
    };
  }

  private statsContext() {
    const page = this;
    return {
      lang: this.lang,
      t: this.t,
      at: this.at,
      get timezone() {
        return page.timezone;
      },
      now: () => this.opts.board.now(),
      alarms: () => this.opts.board.list(),
    };
  }

  private build(): void {
    const at = this.at;
    for (const c of this.cards.values()) c.el.remove();
    this.cards.clear();
    const tabs = new Map<AlarmsTab, HTMLAnchorElement>();
    const nav = h('nav', { class: 'alarm-tabs', 'aria-label': at('alarms.tabs') });
    for (const tab of TABS) {
      const link = h(
        'a',
        { class: 'alarm-tab', href: TAB_HASH[tab], 'data-testid': `alarms-tab-${tab}` },
        at(`alarms.tab.${tab}`),
      );
      tabs.set(tab, link);
      nav.append(link);
    }
    const shownList = h('div', { class: 'alarm-list', role: 'list', 'data-testid': 'alarms-list' });
    const shownEmpty = h('p', { class: 'alarm-empty', 'data-testid': 'alarms-empty' }, at('alarms.noActive'));
    const hiddenList = h('div', { class: 'alarm-list', role: 'list', 'data-testid': 'alarms-hidden-list' });
    const hiddenBox = h(
      'section',
      { class: 'alarm-section', 'data-testid': 'alarms-hidden' },
      h('h2', { class: 'alarm-section-title' }, at('alarms.section.hidden')),
      hiddenList,
    );
    const quietTitle = h('summary', { class: 'alarm-section-title' });
    const quietList = h('div', { class: 'alarm-list', role: 'list', 'data-testid': 'alarms-quiet-list' });
    const quietBox = h(
      'details',
      { class: 'alarm-section alarm-quiet', 'data-testid': 'alarms-quiet' },
      quietTitle,
      quietList,
    );
    const activeSection = h(
      'section',
      { class: 'alarm-active', 'data-testid': 'alarms-active' },
      this.opts.rights.act || this.opts.rights.manage
        ? null
        : h('p', { class: 'card-note alarm-view-only', 'data-testid': 'alarms-view-only' }, at('alarms.viewOnly')),
      h(
        'section',
        { class: 'alarm-section' },
        h('h2', { class: 'alarm-section-title' }, at('alarms.section.active')),
        shownEmpty,
        shownList,
      ),
      hiddenBox,
      quietBox,
    );
    this.els = {
      summary: h('div', { class: 'summary alarm-summary', 'data-testid': 'alarms-summary', 'aria-live': 'polite' }),
      notice: h('p', { class: 'notice', 'data-testid': 'alarms-notice', role: 'status' }),
      tabs,
      activeSection,
      shownList,
      shownEmpty,
      hiddenBox,
      hiddenList,
      quietBox,
      quietTitle,
      quietList,
    };
    this.el.replaceChildren(
      h(
        'div',
        { class: 'page-head' },
        h('h1', { 'data-testid': 'alarms-title' }, at('alarms.title')),
        this.els.summary,
      ),
      nav,
      this.els.notice,
      activeSection,
      this.history.el,
      this.stats.el,
    );
    this.applyTab();
    this.renderAlarms();
  }

  private showTab(tab: AlarmsTab, force = false): void {
    if (tab === this.tab && !force) return;
    this.tab = tab;
    this.applyTab();
    if (tab === 'history') void this.history.load();
    if (tab === 'stats') void this.stats.load();
  }

  private applyTab(): void {
    for (const [tab, link] of this.els.tabs) {
      if (tab === this.tab) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    this.els.activeSection.hidden = this.tab !== 'active';
    this.history.el.hidden = this.tab !== 'history';
    this.stats.el.hidden = this.tab !== 'stats';
  }

  // ---------- rendering ----------

  private cardContext(): AlarmCardContext {
    return {
      lang: this.lang,
      t: this.t,
      at: this.at,
      rights: this.opts.rights,
      timezone: this.timezone,
      now: this.opts.board.now(),
    };
  }

  private renderNotice(): void {
    const at = this.at;
    const ready = this.opts.board.ready;
    let text = '';
    let kind = 'info';
    if (this.unavailable) text = at('alarms.unavailable');
    else if (this.loadError !== null && ready === null) {
      text = at('alarms.failed', { detail: this.loadError });
      kind = 'error';
    } else if (ready === null) text = at('alarms.loading');
    else if (!ready) text = at('alarms.notReady');
    else if (this.opts.board.list().length === 0) text = at('alarms.none');
    setText(this.els.notice, text);
    this.els.notice.hidden = text === '';
    this.els.notice.dataset.kind = kind;
  }

  private renderAlarms(): void {
    const list = this.opts.board.list();
    const ctx = this.cardContext();
    const at = this.at;
    this.renderNotice();

    const s = summaryOf(list);
    const chips: HTMLElement[] = [];
    const chip = (n: number, text: string, kind: string) => {
      if (n > 0)
        chips.push(
          h('span', { class: `summary-item alarm-chip is-${kind}`, 'data-testid': `alarms-count-${kind}` }, text),
        );
    };
    chip(s.unacknowledged, at('summary.unacknowledged', { n: s.unacknowledged }), 'unacknowledged');
    chip(s.active, at('summary.active', { n: s.active }), 'active');
    chip(s.latched, at('summary.latched', { n: s.latched }), 'latched');
    chip(s.shelved, at('summary.shelved', { n: s.shelved }), 'shelved');
    chip(s.suppressed, at('summary.suppressed', { n: s.suppressed }), 'suppressed');
    chip(s.outOfService, at('summary.outOfService', { n: s.outOfService }), 'out-of-service');
    this.els.summary.replaceChildren(...chips);

    const shown = shownAlarms(list);
    const hidden = hiddenAlarms(list);
    const quiet = quietAlarms(list);
    const used = new Set<string>();
    this.place(this.els.shownList, shown, ctx, used);
    this.place(this.els.hiddenList, hidden, ctx, used);
    this.place(this.els.quietList, quiet, ctx, used);
    for (const [id, card] of this.cards) {
      if (used.has(id)) continue;
      card.el.remove();
      this.cards.delete(id);
    }
    this.els.shownEmpty.hidden = shown.length > 0 || this.opts.board.ready !== true || list.length === 0;
    this.els.hiddenBox.hidden = hidden.length === 0;
    this.els.quietBox.hidden = quiet.length === 0;
    setText(this.els.quietTitle, at('alarms.section.quiet', { n: quiet.length }));
  }

  /** the cards of `items` in `box`, in order; an existing card is moved only when it is out of place */
  private place(box: HTMLElement, items: readonly AlarmItem[], ctx: AlarmCardContext, used: Set<string>): void {
    let prev: Element | null = null;
    for (const a of items) {
      used.add(a.id);
      let card = this.cards.get(a.id);
      if (card === undefined) {
        card = new AlarmCard(a, ctx, this.runAction);
        card.el.setAttribute('role', 'listitem');
        this.cards.set(a.id, card);
      } else {
        card.update(a, ctx);
      }
      const expected: Element | null = prev === null ? box.firstElementChild : prev.nextElementSibling;
      if (expected !== card.el) {
        if (prev === null) box.prepend(card.el);
        else prev.after(card.el);
      }
      prev = card.el;
    }
  }
}
