/**
 * The sign-in page: username and password, in English or Traditional
 * Chinese. A gateway running with demo accounts lists them, each with a
 * button that signs in as it.
 */
import type { ApiError, DemoAccount, LoginInfo, Me } from '../../gateway/server/contract.js';
import { h } from './dom.js';
import { LANGUAGE_NAMES, LANGUAGES, type Lang, type MessageKey, type Translate, translator } from './i18n.js';
import './sign-in.css';

export interface SignInPageOptions {
  readonly lang: Lang;
  readonly onLangChange: (lang: Lang) => void;
  readonly onSignedIn: (me: Me) => void;
  /** why the page could not tell whether someone is signed in (the gateway unreachable) */
  readonly problem: string | null;
}

type Message = { readonly key: MessageKey; readonly vars?: Record<string, string | number> } | null;

export class SignInPage {
  readonly el: HTMLElement;
  private lang: Lang;
  private t: Translate;
  private message: Message;
  private demoAccounts: readonly DemoAccount[] = [];
  private busy = false;
  private username = '';
  private password = '';

  constructor(private readonly opts: SignInPageOptions) {
    this.lang = opts.lang;
    this.t = translator(this.lang);
    this.message = opts.problem === null ? null : { key: 'signin.unreachable', vars: { detail: opts.problem } };
    this.el = h('div', { class: 'signin-screen', 'data-testid': 'signin-page' });
    this.render();
    void this.loadInfo();
  }

  focus(): void {
    this.el.querySelector<HTMLInputElement>('input[name="username"]')?.focus();
  }

  private async loadInfo(): Promise<void> {
    try {
      const res = await fetch(new URL('api/login', document.baseURI), { headers: { accept: 'application/json' } });
      if (!res.ok) return;
      const info = (await res.json()) as LoginInfo;
      this.demoAccounts = info.demoAccounts;
      this.render();
    } catch {
      // without it the form works all the same
    }
  }

  private setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.opts.onLangChange(lang);
    this.render();
  }

  private async submit(username: string, password: string): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.message = null;
    this.render();
    try {
      const res = await fetch(new URL('api/login', document.baseURI), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      if (res.ok) {
        this.opts.onSignedIn((await res.json()) as Me);
        return;
      }
      if (res.status === 429) {
        this.message = { key: 'signin.throttled', vars: { s: Number(res.headers.get('retry-after') ?? 60) } };
      } else if (res.status === 401 || res.status === 400) {
        this.message = { key: 'signin.failed' };
      } else {
        let detail = `HTTP ${res.status}`;
        try {
          detail = ((await res.json()) as ApiError).error.message;
        } catch {
          // the status says enough
        }
        this.message = { key: 'signin.unreachable', vars: { detail } };
      }
    } catch (err) {
      this.message = { key: 'signin.unreachable', vars: { detail: err instanceof Error ? err.message : String(err) } };
    }
    this.busy = false;
    this.password = '';
    this.render();
    this.el.querySelector<HTMLInputElement>('input[name="password"]')?.focus();
  }

  private render(): void {
    const t = this.t;
    document.documentElement.lang = this.lang;
    document.title = `${t('signin.title')} · greenline`;
    const username = h('input', {
      name: 'username',
      type: 'text',
      autocomplete: 'username',
      autocapitalize: 'none',
      spellcheck: 'false',
      required: true,
      maxlength: 64,
      value: this.username,
      'data-testid': 'signin-username',
    });
    const password = h('input', {
      name: 'password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
      maxlength: 1024,
      'data-testid': 'signin-password',
    });
    password.value = this.password;
    username.addEventListener('input', () => {
      this.username = username.value;
    });
    password.addEventListener('input', () => {
      this.password = password.value;
    });
    const form = h(
      'form',
      { class: 'signin-form', 'data-testid': 'signin-form', novalidate: false },
      h('h1', { class: 'signin-title' }, t('signin.title')),
      h('p', { class: 'signin-intro' }, t('signin.intro')),
      h('label', { class: 'signin-field' }, h('span', {}, t('signin.username')), username),
      h('label', { class: 'signin-field' }, h('span', {}, t('signin.password')), password),
      h(
        'p',
        { class: 'signin-error', role: 'alert', 'data-testid': 'signin-error', hidden: this.message === null },
        this.message === null ? '' : t(this.message.key, this.message.vars),
      ),
      h(
        'button',
        { type: 'submit', class: 'signin-submit', 'data-testid': 'signin-submit', disabled: this.busy },
        t(this.busy ? 'signin.busy' : 'signin.submit'),
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit(username.value.trim(), password.value);
    });
    this.el.replaceChildren(
      h(
        'header',
        { class: 'topbar' },
        h(
          'div',
          { class: 'brand' },
          h('img', { class: 'brand-mark', src: new URL('favicon.svg', document.baseURI).toString(), alt: '' }),
          h('div', { class: 'brand-text' }, h('span', { class: 'product' }, 'greenline')),
        ),
        h('div', { class: 'topbar-tools' }, this.langToggle()),
      ),
      h('main', { class: 'signin-main' }, form, this.demoList()),
    );
  }

  private demoList(): HTMLElement | null {
    if (this.demoAccounts.length === 0) return null;
    const t = this.t;
    return h(
      'section',
      { class: 'signin-demo', 'data-testid': 'signin-demo', 'aria-labelledby': 'signin-demo-title' },
      h('h2', { id: 'signin-demo-title' }, t('signin.demo.title')),
      h('p', {}, t('signin.demo.hint')),
      h(
        'ul',
        {},
        this.demoAccounts.map((a) => {
          const button = h(
            'button',
            {
              type: 'button',
              class: 'signin-demo-use',
              'data-testid': `signin-demo-${a.username}`,
              disabled: this.busy,
            },
            t('signin.demo.use', { username: a.username }),
          );
          button.addEventListener('click', () => void this.submit(a.username, a.password));
          return h(
            'li',
            {},
            h('span', { class: 'signin-demo-account' }, `${a.username} / ${a.password}`),
            h('span', { class: 'signin-demo-role' }, t(`userRole.${a.role}` as MessageKey)),
            button,
          );
        }),
      ),
    );
  }

  private langToggle(): HTMLElement {
    const group = h('div', { class: 'lang', role: 'group', 'aria-label': this.t('lang.label') });
    for (const lang of LANGUAGES) {
      const button = h(
        'button',
        {
          type: 'button',
          class: 'lang-option',
          lang,
          'aria-pressed': String(lang === this.lang),
          'data-testid': `lang-${lang}`,
        },
        LANGUAGE_NAMES[lang],
      );
      button.addEventListener('click', () => this.setLang(lang));
      group.append(button);
    }
    return group;
  }
}
