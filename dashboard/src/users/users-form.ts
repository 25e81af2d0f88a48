/**
 * What the users and account pages' forms share: a labelled field with its
 * hint and problem, and a line of feedback (the page's words, with the
 * gateway's own message beneath when it refused).
 */
import { errorText } from '../api.js';
import { h } from '../dom.js';
import { UsersRequestError } from './users-api.js';
import { problemKey, refusalKey, type UsersMessageKey, type UsersTranslate } from './users-i18n.js';
import {
  DISPLAY_NAME_MAX,
  type FieldProblem,
  PASSWORD_MAX,
  PASSWORD_MIN,
  refusalOf,
  type UserAction,
} from './users-model.js';

/** a line of feedback, kept as words to look up so it follows a language switch */
export interface Feedback {
  readonly kind: 'ok' | 'error';
  readonly key: UsersMessageKey;
  readonly vars?: Record<string, string | number>;
  /** the gateway's own message, shown as it said it */
  readonly detail?: string;
}

/** Words for a refused request: the page's own where it knows the refusal, with the gateway's message. */
export function refusalFeedback(action: UserAction, err: unknown): Feedback {
  if (!(err instanceof UsersRequestError)) {
    return { kind: 'error', key: 'refusal.unreachable', vars: { detail: errorText(err) } };
  }
  const refusal = refusalOf(action, err.status);
  if (refusal === 'throttled') return { kind: 'error', key: 'refusal.throttled', vars: { s: err.retryAfterS ?? 60 } };
  if (refusal !== null) return { kind: 'error', key: refusalKey(refusal), detail: err.message };
  return { kind: 'error', key: 'refusal.other', vars: { detail: err.message } };
}

export function feedbackView(f: Feedback, ut: UsersTranslate, testid: string): HTMLElement {
  return h(
    'div',
    {
      class: 'users-feedback',
      'data-kind': f.kind,
      role: f.kind === 'error' ? 'alert' : 'status',
      'data-testid': testid,
    },
    h('p', { class: 'users-feedback-text', 'data-testid': `${testid}-text` }, ut(f.key, f.vars)),
    f.detail
      ? h(
          'p',
          { class: 'users-feedback-detail', 'data-testid': `${testid}-detail` },
          ut('gateway.says', { message: f.detail }),
        )
      : null,
  );
}

/** a problem of a field, worded by the page or as the gateway said it */
export function problemText(p: FieldProblem, ut: UsersTranslate): string {
  if ('text' in p) return p.text;
  return ut(problemKey(p.code), {
    min: PASSWORD_MIN,
    max: p.code === 'display-name-long' ? DISPLAY_NAME_MAX : PASSWORD_MAX,
  });
}

/** adds elements that describe a control (its hint, its problem) for screen readers */
export function describedBy(control: HTMLElement, ...ids: (string | null)[]): void {
  const all = [...(control.getAttribute('aria-describedby') ?? '').split(' '), ...ids].filter((id) => id);
  if (all.length > 0) control.setAttribute('aria-describedby', [...new Set(all)].join(' '));
}

/** A labelled input with its hint and its problem beneath, tied together for screen readers. */
export function fieldView(o: {
  readonly id: string;
  readonly label: string;
  readonly control: HTMLInputElement | HTMLSelectElement;
  readonly hint?: string;
  readonly problem: FieldProblem | null | undefined;
  readonly ut: UsersTranslate;
}): HTMLElement {
  const hintId = `${o.id}-hint`;
  const errorId = `${o.id}-error`;
  o.control.id = o.id;
  o.control.classList.add('users-input');
  // a problem takes the hint's place: it says the same, sharper
  const hint = o.problem ? undefined : o.hint;
  describedBy(o.control, hint ? hintId : null, o.problem ? errorId : null);
  if (o.problem) o.control.setAttribute('aria-invalid', 'true');
  return h(
    'div',
    { class: `users-field${o.problem ? ' is-invalid' : ''}` },
    h('label', { class: 'field-label', for: o.id }, o.label),
    o.control,
    hint ? h('span', { class: 'users-hint', id: hintId }, hint) : null,
    o.problem
      ? h(
          'span',
          { class: 'users-field-error', id: errorId, 'data-testid': `${o.id}-error` },
          problemText(o.problem, o.ut),
        )
      : null,
  );
}
