/**
 * A figure on a page: its value (and unit), or "—" with the short reason
 * under it and the long one on hover. Never a 0 for something not known.
 */
import { h } from './dom.js';
import type { MessageKey, Translate } from './i18n.js';

/** a reason with `why.<reason>` and `why.<reason>.long` in i18n.ts */
type WhyOf<K> = K extends `why.${infer R}.long` ? R : never;
export type WhyKey = WhyOf<MessageKey>;

export interface FigureOptions {
  readonly value: number | null;
  /** why the value is missing (when it is) */
  readonly why?: WhyKey | null;
  readonly format: (value: number) => string;
  readonly unit?: string;
  /** figure-s, figure-m, figure-l, figure-xl */
  readonly size?: 's' | 'm' | 'l' | 'xl';
  readonly testId?: string;
  /** the reason under the value; off where a whole block already says it */
  readonly showWhy?: boolean;
}

export function figure(t: Translate, o: FigureOptions): HTMLElement {
  const value = h('span', { class: 'figure-value', ...(o.testId ? { 'data-testid': o.testId } : {}) });
  const why = h('span', { class: 'figure-why', ...(o.testId ? { 'data-testid': `${o.testId}-why` } : {}) });
  if (o.value === null || !Number.isFinite(o.value)) {
    value.textContent = '—';
    if (o.why) {
      value.title = t(`why.${o.why}.long` as MessageKey);
      value.dataset.missing = o.why;
      if (o.showWhy !== false) why.textContent = t(`why.${o.why}` as MessageKey);
      why.title = t(`why.${o.why}.long` as MessageKey);
    } else value.dataset.missing = '';
  } else {
    value.textContent = o.format(o.value);
  }
  return h(
    'span',
    { class: `figure figure-${o.size ?? 'm'}` },
    h('span', { class: 'figure-main' }, value, o.unit ? h('span', { class: 'figure-unit' }, o.unit) : null),
    why,
  );
}

/** a labelled figure; a label in parts (a word and its qualifier) keeps them as the label's own children */
export function labelled(label: string | Node | (string | Node)[], box: HTMLElement, hint?: string): HTMLElement {
  const labelEl = h('span', { class: 'kpi-label' }, label);
  if (hint) labelEl.title = hint;
  return h('div', { class: 'kpi' }, labelEl, box);
}
