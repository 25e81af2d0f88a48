/**
 * My account (`#/account`, reached from the name in the header): who is
 * signed in, as what and until when, whether their language is kept on the
 * account, and changing one's own password (a sign-in with a password;
 * the user's other sign-ins end, this one stays).
 */
import type { Me, PlantView } from '../../../gateway/server/contract.js';
import { onAccountChange, roleName } from '../account.js';
import { h } from '../dom.js';
import { type Lang, storesLanguage, type Translate, translator } from '../i18n.js';
import { routeHash } from '../router.js';
import type { Page } from '../shell.js';
import { changeOwnPassword, UsersRequestError } from './users-api.js';
import { type UsersTranslate, usersTranslator } from './users-i18n.js';
import {
  changesOwnPassword,
  checkPasswordChange,
  hasCapability,
  hasProblems,
  issueProblems,
  PASSWORD_MAX,
  PASSWORD_MIN,
  type PasswordChangeField,
  type Problems,
  siteDateTime,
} from './users-model.js';
import { type Feedback, feedbackView, fieldView, refusalFeedback } from './users-form.js';
import './users.css';

const FIELDS: readonly PasswordChangeField[] = ['currentPassword', 'newPassword', 'repeatPassword'];
const FIELD_IDS: Record<PasswordChangeField, string> = {
  currentPassword: 'own-current-password',
  newPassword: 'own-new-password',
  repeatPassword: 'own-repeat-password',
};

/** each language named in its own words */
const LANGUAGE_WORDS: Record<Lang, string> = { en: 'English', 'zh-Hant': '繁體中文' };

export interface AccountPageOptions {
  readonly lang: Lang;
  readonly plant: () => Promise<PlantView>;
  /** the signed-in user; null on a gateway without sign-in */
  readonly me: () => Me | null;
}

export class AccountPage implements Page {
  readonly el: HTMLElement;
  private lang: Lang;
  private t: Translate;
  private ut: UsersTranslate;
  private timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  private form: Record<PasswordChangeField, string> = { currentPassword: '', newPassword: '', repeatPassword: '' };
  private problems: Problems<PasswordChangeField> = {};
  private feedback: Feedback | null = null;
  private busy = false;
  private languageEl: HTMLElement | null = null;

  constructor(private readonly opts: AccountPageOptions) {
    this.lang = opts.lang;
    this.t = translator(this.lang);
    this.ut = usersTranslator(this.lang);
    this.el = h('div', { class: 'page page-account', 'data-testid': 'page-account' });
    this.render();
    // the language kept on the account changes when it is switched in the header
    onAccountChange(() => this.renderLanguage());
    void opts.plant().then(
      (plant) => {
        this.timeZone = plant.site.timezone;
        this.render();
      },
      () => {
        // dates stay in this screen's time zone
      },
    );
  }

  title(): string {
    return this.ut('me.title');
  }

  setActive(active: boolean): void {
    if (!active) {
      // a password typed here does not stay on screen after leaving
      this.form = { currentPassword: '', newPassword: '', repeatPassword: '' };
      this.problems = {};
      this.feedback = null;
    }
    this.render();
  }

  setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.ut = usersTranslator(lang);
    this.render();
  }

  tick(): void {
    // nothing moves on this page by itself
  }

  private focus(testid: string): void {
    this.el.querySelector<HTMLElement>(`[data-testid="${testid}"]`)?.focus();
  }

  private async submit(): Promise<void> {
    const me = this.opts.me();
    if (this.busy || me === null) return;
    this.problems = checkPasswordChange(this.form, me.username);
    this.feedback = null;
    if (hasProblems(this.problems)) {
      this.render();
      this.focusFirstProblem();
      return;
    }
    this.busy = true;
    this.render();
    try {
      await changeOwnPassword({ currentPassword: this.form.currentPassword, newPassword: this.form.newPassword });
      this.form = { currentPassword: '', newPassword: '', repeatPassword: '' };
      this.feedback = { kind: 'ok', key: 'password.done' };
    } catch (err) {
      if (err instanceof UsersRequestError && err.status === 400 && err.issues.length > 0) {
        const { problems, other } = issueProblems(err.issues, FIELDS);
        this.problems = problems;
        if (other.length > 0)
          this.feedback = { kind: 'error', key: 'refusal.other', vars: { detail: other.join('; ') } };
      } else {
        this.feedback = refusalFeedback('own-password', err);
      }
    } finally {
      this.busy = false;
    }
    this.render();
    if (hasProblems(this.problems)) this.focusFirstProblem();
    else this.focus('own-password-feedback');
  }

  private focusFirstProblem(): void {
    const field = FIELDS.find((f) => this.problems[f]);
    if (field) this.focus(FIELD_IDS[field]);
  }

  private render(): void {
    const ut = this.ut;
    const me = this.opts.me();
    const head = h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'account-title' }, ut('me.title')));
    if (me === null) {
      this.languageEl = null;
      this.el.replaceChildren(head, h('p', { class: 'notice', 'data-testid': 'account-none' }, ut('me.noSignIn')));
      return;
    }
    this.el.replaceChildren(
      head,
      h('div', { class: 'detail-grid account-grid' }, this.whoCard(me), this.passwordCard(me)),
    );
  }

  private whoCard(me: Me): HTMLElement {
    const ut = this.ut;
    const entries: [string, string | HTMLElement, string][] = [
      [ut('me.username'), me.username, 'account-username'],
      [ut('me.displayName'), me.displayName ?? '—', 'account-display-name'],
      [ut('me.role'), roleName(me.role, this.t), 'account-page-role'],
      [
        ut('me.until'),
        me.expiresAt === null ? '—' : siteDateTime(me.expiresAt, this.timeZone, this.lang).full,
        'account-until',
      ],
    ];
    this.languageEl = h('dd', { 'data-testid': 'account-language' });
    this.renderLanguage();
    return h(
      'section',
      { class: 'detail-card', 'aria-labelledby': 'account-who-title' },
      h('h2', { class: 'detail-card-title', id: 'account-who-title' }, ut('me.who')),
      h(
        'dl',
        { class: 'account-list' },
        entries.map(([label, value, testid]) =>
          h('div', { class: 'account-entry' }, h('dt', {}, label), h('dd', { 'data-testid': testid }, value)),
        ),
        h('div', { class: 'account-entry is-wide' }, h('dt', {}, ut('me.language')), this.languageEl),
      ),
      hasCapability(me, 'users.manage')
        ? h(
            'p',
            { class: 'account-links' },
            h(
              'a',
              { class: 'action-button is-secondary', href: routeHash('users'), 'data-testid': 'account-manage-users' },
              ut('me.manageUsers'),
            ),
          )
        : null,
    );
  }

  /** the account's language, as the gateway last answered */
  private renderLanguage(): void {
    const el = this.languageEl;
    const me = this.opts.me();
    if (el === null || me === null) return;
    const ut = this.ut;
    const chosen = me.language;
    const note = !storesLanguage(me)
      ? ut('me.language.token')
      : chosen === null
        ? ut('me.language.notChosen')
        : ut('me.language.saved');
    el.dataset.language = chosen ?? '';
    const value = chosen === null ? LANGUAGE_WORDS[this.lang] : LANGUAGE_WORDS[chosen];
    el.replaceChildren(
      h('span', { class: 'account-language-name', lang: chosen ?? this.lang }, value),
      h('span', { class: 'cell-sub account-language-note', 'data-testid': 'account-language-note' }, note),
    );
  }

  private passwordCard(me: Me): HTMLElement {
    const ut = this.ut;
    const title = h('h2', { class: 'detail-card-title', id: 'account-password-title' }, ut('password.title'));
    if (!changesOwnPassword(me)) {
      return h(
        'section',
        { class: 'detail-card', 'aria-labelledby': 'account-password-title' },
        title,
        h('p', { class: 'block-note', 'data-testid': 'account-password-token' }, ut('me.token')),
      );
    }
    const input = (field: PasswordChangeField, autocomplete: string): HTMLInputElement => {
      const el = h('input', {
        type: 'password',
        name: field,
        autocomplete,
        maxlength: PASSWORD_MAX,
        'data-testid': FIELD_IDS[field],
        disabled: this.busy,
      });
      el.value = this.form[field];
      el.addEventListener('input', () => {
        this.form[field] = el.value;
      });
      return el;
    };
    const feedback = this.feedback ? feedbackView(this.feedback, ut, 'own-password-feedback') : null;
    if (feedback) feedback.tabIndex = -1;
    const form = h(
      'form',
      { class: 'account-password-form', 'data-testid': 'own-password-form', novalidate: true },
      // for password managers: whose password this is
      h('input', {
        type: 'text',
        name: 'username',
        autocomplete: 'username',
        value: me.username,
        hidden: true,
        readonly: true,
      }),
      fieldView({
        id: FIELD_IDS.currentPassword,
        label: ut('password.current'),
        control: input('currentPassword', 'current-password'),
        problem: this.problems.currentPassword,
        ut,
      }),
      fieldView({
        id: FIELD_IDS.newPassword,
        label: ut('password.new'),
        control: input('newPassword', 'new-password'),
        problem: this.problems.newPassword,
        ut,
      }),
      fieldView({
        id: FIELD_IDS.repeatPassword,
        label: ut('password.repeat'),
        control: input('repeatPassword', 'new-password'),
        problem: this.problems.repeatPassword,
        ut,
      }),
      feedback,
      h(
        'div',
        { class: 'users-buttons' },
        h(
          'button',
          { type: 'submit', class: 'action-button', 'data-testid': 'own-password-submit', disabled: this.busy },
          ut(this.busy ? 'password.busy' : 'password.submit'),
        ),
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit();
    });
    return h(
      'section',
      { class: 'detail-card', 'aria-labelledby': 'account-password-title' },
      title,
      h('p', { class: 'card-note' }, ut('password.hint', { min: PASSWORD_MIN })),
      form,
    );
  }
}
