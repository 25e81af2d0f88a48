/**
 * One alarm on the alarms page: priority, message, state badges, where and
 * since when, who acknowledged or shelved it, and the buttons the signed-in
 * user may use. Built once per alarm and updated in place, so a comment
 * being typed survives the alarm changing under it.
 */
import type { AlarmItem } from '../../../gateway/server/contract.js';
import { h, setText } from '../dom.js';
import { formatDuration, formatValue } from '../format.js';
import type { Lang, Translate } from '../i18n.js';
import type { AlarmActionBody } from './alarm-api.js';
import type { AlarmTranslate } from './alarm-i18n.js';
import {
  ACTION_ORDER,
  type AlarmActionName,
  type AlarmRights,
  actionsFor,
  badgesOf,
  messageOf,
  SHELVE_CHOICES,
} from './alarm-model.js';

export interface AlarmCardContext {
  readonly lang: Lang;
  /** the dashboard's shared words (durations, booleans) */
  readonly t: Translate;
  readonly at: AlarmTranslate;
  readonly rights: AlarmRights;
  readonly timezone: string;
  /** now on the gateway's clock */
  readonly now: number;
}

/** takes an action; rejects with the message to show */
export type AlarmActionRunner = (alarmId: string, action: AlarmActionName, body: AlarmActionBody) => Promise<void>;

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/** a time in the site's zone: "14:32:05", with the date when it is not today */
export function formatAlarmTime(ts: number, now: number, timeZone: string, lang: Lang): string {
  const day = (x: number) => dayFormat(timeZone, lang).format(x);
  const sameDay = day(ts) === day(now);
  const key = `${timeZone}|${lang}|${sameDay}`;
  let f = dateTimeFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, {
      timeZone,
      ...(sameDay ? {} : { month: 'short', day: 'numeric' }),
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    dateTimeFormats.set(key, f);
  }
  return f.format(ts);
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();
function dayFormat(timeZone: string, lang: Lang): Intl.DateTimeFormat {
  const key = `${timeZone}|${lang}`;
  let f = dayFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' });
    dayFormats.set(key, f);
  }
  return f;
}

function withUnit(value: string, unit: string | null): string {
  return unit ? `${value} ${unit}` : value;
}

function durationChoice(minutes: number, at: AlarmTranslate): string {
  return minutes < 60 ? at('form.minutes', { n: minutes }) : at('form.hours', { n: minutes / 60 });
}

export class AlarmCard {
  readonly el: HTMLElement;
  private alarm: AlarmItem;
  private readonly priorityEl: HTMLElement;
  private readonly messageEl: HTMLElement;
  private readonly badgesEl: HTMLElement;
  private readonly metaEl: HTMLElement;
  private readonly sinceEl: HTMLElement;
  private readonly ackEl: HTMLElement;
  private readonly shelfEl: HTMLElement;
  private readonly oosEl: HTMLElement;
  private readonly actionsEl: HTMLElement;
  private readonly commentBox: HTMLElement;
  private readonly commentInput: HTMLInputElement;
  private readonly buttons = new Map<AlarmActionName, HTMLButtonElement>();
  private readonly shelveForm: HTMLFormElement;
  private readonly shelveDuration: HTMLSelectElement;
  private readonly shelveReason: HTMLInputElement;
  private readonly oosForm: HTMLFormElement;
  private readonly oosReason: HTMLInputElement;
  private readonly errorEl: HTMLElement;
  private busy = false;

  constructor(
    alarm: AlarmItem,
    private ctx: AlarmCardContext,
    private readonly run: AlarmActionRunner,
  ) {
    this.alarm = alarm;
    const id = alarm.id;
    const { at } = ctx;
    const tid = (what: string) => `alarm-${what}-${id}`;
    this.priorityEl = h('div', { class: 'alarm-priority', 'data-testid': tid('priority') });
    this.messageEl = h('h3', { class: 'alarm-message', 'data-testid': tid('message') });
    this.badgesEl = h('div', { class: 'alarm-badges', 'data-testid': tid('badges') });
    this.sinceEl = h('span', { class: 'alarm-since', 'data-testid': tid('since') });
    this.metaEl = h('span', { class: 'alarm-where' });
    this.ackEl = h('p', { class: 'alarm-note', 'data-testid': tid('ack') });
    this.shelfEl = h('p', { class: 'alarm-note', 'data-testid': tid('shelf') });
    this.oosEl = h('p', { class: 'alarm-note', 'data-testid': tid('oos') });
    this.errorEl = h('p', { class: 'alarm-error', role: 'alert', 'data-testid': tid('error') });

    this.commentInput = h('input', {
      type: 'text',
      class: 'alarm-input',
      maxlength: 2000,
      autocomplete: 'off',
      placeholder: at('form.commentHint'),
      'data-testid': tid('comment'),
    });
    this.commentBox = h(
      'label',
      { class: 'alarm-field alarm-comment' },
      h('span', { class: 'field-label' }, at('form.comment')),
      this.commentInput,
    );

    const buttonRow = h('div', { class: 'alarm-buttons' });
    for (const action of ACTION_ORDER) {
      const b = h(
        'button',
        { type: 'button', class: `alarm-button is-${action}`, 'data-testid': tid(action) },
        at(`action.${action}`),
      );
      b.addEventListener('click', () => this.onButton(action));
      this.buttons.set(action, b);
      buttonRow.append(b);
    }

    this.shelveDuration = h('select', { class: 'alarm-input', 'data-testid': tid('shelve-duration') });
    for (const m of SHELVE_CHOICES) {
      this.shelveDuration.append(h('option', { value: m, selected: m === 60 }, durationChoice(m, at)));
    }
    this.shelveReason = h('input', {
      type: 'text',
      class: 'alarm-input',
      maxlength: 2000,
      autocomplete: 'off',
      required: true,
      'data-testid': tid('shelve-reason'),
    });
    this.shelveForm = this.form(
      'shelve',
      [
        h(
          'label',
          { class: 'alarm-field' },
          h('span', { class: 'field-label' }, at('form.duration')),
          this.shelveDuration,
        ),
        h(
          'label',
          { class: 'alarm-field alarm-field-wide' },
          h('span', { class: 'field-label' }, at('form.reason')),
          this.shelveReason,
        ),
      ],
      at('form.confirmShelve'),
      () => {
        const reason = this.shelveReason.value.trim();
        if (reason === '') return this.showError(at('form.reasonMissing'));
        void this.take('shelve', { reason, durationMinutes: Number(this.shelveDuration.value) });
      },
    );
    this.oosReason = h('input', {
      type: 'text',
      class: 'alarm-input',
      maxlength: 2000,
      autocomplete: 'off',
      required: true,
      'data-testid': tid('oos-reason'),
    });
    this.oosForm = this.form(
      'oos',
      [
        h(
          'label',
          { class: 'alarm-field alarm-field-wide' },
          h('span', { class: 'field-label' }, at('form.reason')),
          this.oosReason,
        ),
      ],
      at('form.confirmOos'),
      () => {
        const reason = this.oosReason.value.trim();
        if (reason === '') return this.showError(at('form.reasonMissing'));
        void this.take('out-of-service', { reason });
      },
    );
    this.shelveForm.hidden = true;
    this.oosForm.hidden = true;

    this.actionsEl = h('div', { class: 'alarm-actions' }, this.commentBox, buttonRow, this.shelveForm, this.oosForm);
    this.el = h(
      'article',
      { class: 'alarm-card', 'data-testid': `alarm-${id}`, 'data-alarm': id },
      this.priorityEl,
      h(
        'div',
        { class: 'alarm-main' },
        h('header', { class: 'alarm-head' }, this.messageEl, this.badgesEl),
        h('p', { class: 'alarm-meta' }, this.metaEl, this.sinceEl),
        this.ackEl,
        this.shelfEl,
        this.oosEl,
        this.actionsEl,
        this.errorEl,
      ),
    );
    this.update(alarm, ctx);
  }

  get id(): string {
    return this.alarm.id;
  }

  update(alarm: AlarmItem, ctx: AlarmCardContext): void {
    this.alarm = alarm;
    this.ctx = ctx;
    const { at, t, lang, timezone, now } = ctx;
    const el = this.el;
    el.dataset.priority = alarm.priority;
    el.dataset.state = alarm.state;
    el.dataset.hidden = String(alarm.hidden);
    setText(this.priorityEl, at(`priority.${alarm.priority}`));
    setText(this.messageEl, messageOf(alarm, lang));
    if (lang === 'zh-Hant' && alarm.message['zh-Hant'] === null) this.messageEl.lang = 'en';
    else this.messageEl.removeAttribute('lang');

    const badges = badgesOf(alarm);
    this.badgesEl.replaceChildren(
      ...badges.map((b) =>
        h(
          'span',
          { class: 'alarm-badge', 'data-badge': b, 'data-testid': `alarm-badge-${b}-${alarm.id}` },
          b === 'shelved' && alarm.shelved
            ? at('badge.shelved', { time: formatAlarmTime(alarm.shelved.until, now, timezone, lang) })
            : at(`badge.${b}`),
        ),
      ),
    );

    const where = [alarm.lineName ?? alarm.line ?? at('alarm.noLine'), alarm.machineName ?? alarm.machine]
      .filter((x) => x)
      .join(' · ');
    const facts: string[] = [where];
    if (alarm.activation > 0) facts.push(at('alarm.event', { n: alarm.activation }));
    if (alarm.activation > 0 && alarm.value !== null) {
      facts.push(at('alarm.value', { value: withUnit(formatValue(alarm.value, null, lang, t), alarm.unit) }));
    }
    if (alarm.limit !== null) {
      facts.push(at('alarm.limit', { value: withUnit(formatValue(alarm.limit, null, lang, t), alarm.unit) }));
    }
    if (alarm.currentValue !== null && alarm.state !== 'normal') {
      facts.push(at('alarm.current', { value: withUnit(formatValue(alarm.currentValue, null, lang, t), alarm.unit) }));
    }
    if (alarm.reAlarms > 0) facts.push(at('alarm.reAlarms', { n: alarm.reAlarms }));
    setText(this.metaEl, `${facts.join(' · ')} · `);
    this.tick(now);

    const ack = alarm.acknowledged;
    setText(
      this.ackEl,
      ack && alarm.state !== 'normal'
        ? `${at('alarm.ackBy', { user: ack.user, time: formatAlarmTime(ack.at, now, timezone, lang) })}${ack.comment ? ` — ${ack.comment}` : ''}`
        : '',
    );
    this.ackEl.hidden = this.ackEl.textContent === '';
    const shelf = alarm.shelved;
    setText(
      this.shelfEl,
      shelf
        ? at('alarm.shelvedBy', {
            user: shelf.user,
            time: formatAlarmTime(shelf.at, now, timezone, lang),
            reason: shelf.reason,
          })
        : '',
    );
    this.shelfEl.hidden = shelf === null;
    const oos = alarm.outOfService;
    setText(
      this.oosEl,
      oos
        ? at('alarm.oosBy', { user: oos.user, time: formatAlarmTime(oos.at, now, timezone, lang), reason: oos.reason })
        : '',
    );
    this.oosEl.hidden = oos === null;

    const offered = new Set(actionsFor(alarm, ctx.rights));
    for (const [action, b] of this.buttons) {
      b.hidden = !offered.has(action);
      b.disabled = this.busy;
    }
    // the comment goes with the actions that take one; shelving and out of service ask for a reason
    this.commentBox.hidden = ![...offered].some((a) => a !== 'shelve' && a !== 'out-of-service');
    if (!offered.has('shelve')) this.shelveForm.hidden = true;
    if (!offered.has('out-of-service')) this.oosForm.hidden = true;
    this.actionsEl.hidden = offered.size === 0;
  }

  /** the duration since the alarm's episode began moves on every second */
  tick(now: number): void {
    const a = this.alarm;
    const start = a.activeSince ?? a.since;
    const { at, t, timezone, lang } = this.ctx;
    let text = at('alarm.since', {
      time: formatAlarmTime(start, now, timezone, lang),
      d: formatDuration(now - start, t),
    });
    if (
      a.clearedAt !== null &&
      a.state !== 'normal' &&
      !(a.state === 'active-unacknowledged' || a.state === 'active-acknowledged')
    ) {
      text += ` · ${at('alarm.cleared', { time: formatAlarmTime(a.clearedAt, now, timezone, lang) })}`;
    }
    setText(this.sinceEl, text);
  }

  private form(name: string, fields: HTMLElement[], confirm: string, submit: () => void): HTMLFormElement {
    const id = this.alarm.id;
    const cancel = h(
      'button',
      { type: 'button', class: 'alarm-button is-cancel', 'data-testid': `alarm-${name}-cancel-${id}` },
      this.ctx.at('form.cancel'),
    );
    const form = h(
      'form',
      { class: 'alarm-form', 'data-testid': `alarm-${name}-form-${id}`, novalidate: true },
      ...fields,
      h(
        'div',
        { class: 'alarm-form-buttons' },
        h(
          'button',
          { type: 'submit', class: 'alarm-button is-confirm', 'data-testid': `alarm-${name}-confirm-${id}` },
          confirm,
        ),
        cancel,
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit();
    });
    cancel.addEventListener('click', () => {
      form.hidden = true;
      this.showError('');
    });
    return form;
  }

  private onButton(action: AlarmActionName): void {
    this.showError('');
    if (action === 'shelve') {
      this.oosForm.hidden = true;
      this.shelveForm.hidden = !this.shelveForm.hidden;
      if (!this.shelveForm.hidden) this.shelveReason.focus();
      return;
    }
    if (action === 'out-of-service') {
      this.shelveForm.hidden = true;
      this.oosForm.hidden = !this.oosForm.hidden;
      if (!this.oosForm.hidden) this.oosReason.focus();
      return;
    }
    const comment = this.commentInput.value.trim();
    void this.take(action, { comment: comment === '' ? null : comment });
  }

  private async take(action: AlarmActionName, body: AlarmActionBody): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.el.setAttribute('aria-busy', 'true');
    for (const b of this.buttons.values()) b.disabled = true;
    try {
      await this.run(this.alarm.id, action, body);
      this.commentInput.value = '';
      this.shelveReason.value = '';
      this.oosReason.value = '';
      this.shelveForm.hidden = true;
      this.oosForm.hidden = true;
      this.showError('');
    } catch (err) {
      this.showError(err instanceof Error ? err.message : String(err));
    } finally {
      this.busy = false;
      this.el.removeAttribute('aria-busy');
      this.update(this.alarm, this.ctx);
    }
  }

  private showError(text: string): void {
    setText(this.errorEl, text);
    this.errorEl.hidden = text === '';
  }
}
