/**
 * What every page shares: the header (site, page navigation, connection
 * state, who is signed in, language), the demo and connection-lost banners,
 * a passing note (a language choice the account did not keep), and the
 * `<main>` the current page lives in.
 */
import { h, setClass } from './dom.js';
import { LANGUAGE_NAMES, LANGUAGES, type Lang, type MessageKey, type Translate, translator } from './i18n.js';
import type { ConnectionState } from './live-connection.js';
import { NAV_ROUTES, type Route, routeHash } from './router.js';

/** how long a passing note stays */
const NOTE_MS = 8000;

/** One page of the dashboard: it owns its element and redraws its words when the language changes. */
export interface Page {
  readonly el: HTMLElement;
  setLang(lang: Lang): void;
  /** called every second: ages and durations move on even when data does not */
  tick(): void;
  /** the page's name, for the window title */
  title(): string;
  /** the page is shown (true) or put away (false) */
  setActive?(active: boolean): void;
}

export interface ShellOptions {
  readonly lang: Lang;
  /** the language was switched in the header (it already shows) */
  readonly onLangChange: (lang: Lang) => void;
  /** the pages the navigation links to (default: every page of the navigation) */
  readonly navRoutes?: readonly Route[];
}

const NAV_LABELS: Record<Route, MessageKey> = {
  overview: 'nav.overview',
  live: 'nav.live',
  alarms: 'nav.alarms',
  energy: 'nav.energy',
  health: 'nav.health',
  users: 'nav.users',
  account: 'account.open',
};

type Note = { readonly key: MessageKey; readonly vars?: Record<string, string | number> };

export class Shell {
  private lang: Lang;
  private t: Translate;
  private siteName = '';
  private demo = false;
  private account: ((t: Translate) => HTMLElement) | null = null;
  private conn: ConnectionState = 'connecting';
  /** unacknowledged alarms for the header's alarms link; null: not known */
  private alarmCount: number | null = null;
  private route: Route | null = null;
  private page: Page | null = null;
  private readonly pages: Page[] = [];
  private header: HTMLElement;
  private connEl: HTMLElement | null = null;
  private staleBanner: HTMLElement | null = null;
  private note: Note | null = null;
  private noteTimer: number | null = null;
  private readonly noteEl: HTMLElement;
  readonly main: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly opts: ShellOptions,
  ) {
    this.lang = opts.lang;
    this.t = translator(this.lang);
    this.main = h('main', { class: 'content' });
    this.noteEl = h('div', { class: 'shell-note', role: 'status', 'aria-live': 'polite', 'data-testid': 'shell-note' });
    this.header = this.renderHeader();
    this.root.replaceChildren(this.header, ...this.renderBanners(), this.main, this.noteEl);
    this.renderConnection();
    this.renderNote();
  }

  get language(): Lang {
    return this.lang;
  }

  /** Shows a page (the others keep their state, out of the document). */
  show(route: Route, page: Page): void {
    if (!this.pages.includes(page)) this.pages.push(page);
    if (this.page !== page) {
      this.page?.setActive?.(false);
      this.page = page;
      this.main.replaceChildren(page.el);
      page.setActive?.(true);
    }
    this.route = route;
    this.markRoute();
    this.updateTitle();
  }

  /**
   * A note that passes after a few seconds, in the language shown (it
   * follows a switch), out of the way of the page: something worth knowing
   * that needs nothing done.
   */
  notify(key: MessageKey, vars?: Record<string, string | number>): void {
    this.note = vars ? { key, vars } : { key };
    if (this.noteTimer !== null) window.clearTimeout(this.noteTimer);
    this.noteTimer = window.setTimeout(() => this.dismissNote(), NOTE_MS);
    this.renderNote();
  }

  setSiteName(name: string): void {
    if (name === this.siteName) return;
    this.siteName = name;
    const el = this.header.querySelector('[data-testid="site-name"]');
    if (el) el.textContent = name;
    this.updateTitle();
  }

  /** who is signed in, with the sign-out button, in the header */
  setAccount(render: ((t: Translate) => HTMLElement) | null): void {
    this.account = render;
    this.rerender();
  }

  setDemo(demo: boolean): void {
    if (demo === this.demo) return;
    this.demo = demo;
    this.rerender();
  }

  /** the count of unacknowledged alarms beside the alarms link; null hides it */
  setAlarmCount(count: number | null): void {
    if (count === this.alarmCount) return;
    this.alarmCount = count;
    this.renderAlarmCount();
  }

  setConnection(state: ConnectionState): void {
    this.conn = state;
    this.renderConnection();
  }

  tick(): void {
    this.page?.tick();
  }

  /** the page's title changed (its data arrived) */
  updateTitle(): void {
    const page = this.page?.title();
    document.title = [page, this.siteName, 'greenline'].filter((x) => x).join(' · ');
  }

  private setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.opts.onLangChange(lang);
    this.rerender();
    for (const page of this.pages) page.setLang(lang);
    this.updateTitle();
  }

  private rerender(): void {
    document.documentElement.lang = this.lang;
    this.header = this.renderHeader();
    this.markRoute();
    this.root.replaceChildren(this.header, ...this.renderBanners(), this.main, this.noteEl);
    this.renderConnection();
    this.renderNote();
  }

  /** the link of the page shown, in the navigation or the account part */
  private markRoute(): void {
    for (const link of this.header.querySelectorAll<HTMLAnchorElement>('a[data-route]')) {
      if (link.dataset.route === this.route) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  }

  private dismissNote(): void {
    if (this.noteTimer !== null) window.clearTimeout(this.noteTimer);
    this.noteTimer = null;
    this.note = null;
    this.renderNote();
  }

  private renderNote(): void {
    const note = this.note;
    this.noteEl.hidden = note === null;
    if (note === null) {
      this.noteEl.replaceChildren();
      return;
    }
    const close = h(
      'button',
      {
        type: 'button',
        class: 'shell-note-close',
        'aria-label': this.t('lang.dismiss'),
        'data-testid': 'shell-note-close',
      },
      '×',
    );
    close.addEventListener('click', () => this.dismissNote());
    this.noteEl.replaceChildren(
      h('span', { class: 'shell-note-text', 'data-testid': 'shell-note-text' }, this.t(note.key, note.vars)),
      close,
    );
  }

  private renderHeader(): HTMLElement {
    const t = this.t;
    document.documentElement.lang = this.lang;
    this.connEl = h('div', { class: 'conn', 'data-testid': 'conn-state', role: 'status', 'aria-live': 'polite' });
    const nav = h('nav', { class: 'nav', 'aria-label': t('nav.label') });
    for (const route of this.opts.navRoutes ?? NAV_ROUTES) {
      nav.append(
        h(
          'a',
          { class: 'nav-link', href: routeHash(route), 'data-route': route, 'data-testid': `nav-${route}` },
          t(NAV_LABELS[route]),
        ),
      );
    }
    this.renderAlarmCount(nav);
    return h(
      'header',
      { class: 'topbar' },
      h(
        'div',
        { class: 'brand' },
        h('img', { class: 'brand-mark', src: new URL('favicon.svg', document.baseURI).toString(), alt: '' }),
        h(
          'div',
          { class: 'brand-text' },
          h('span', { class: 'product' }, 'greenline'),
          h('span', { class: 'site', 'data-testid': 'site-name' }, this.siteName),
        ),
      ),
      nav,
      h('div', { class: 'topbar-tools' }, this.connEl, this.account?.(t), this.langToggle()),
    );
  }

  private renderAlarmCount(nav: ParentNode = this.header): void {
    const link = nav.querySelector<HTMLElement>('[data-route="alarms"]');
    if (!link) return;
    let badge = link.querySelector<HTMLElement>('.nav-count');
    const n = this.alarmCount;
    if (n === null || n === 0) {
      badge?.remove();
      link.setAttribute('aria-label', this.t('nav.alarms'));
      return;
    }
    if (!badge) {
      badge = h('span', { class: 'nav-count', 'data-testid': 'nav-alarms-count' });
      link.append(badge);
    }
    badge.textContent = String(n);
    link.setAttribute('aria-label', this.t('nav.alarmsUnacknowledged', { n }));
  }

  private renderBanners(): HTMLElement[] {
    const t = this.t;
    const banners: HTMLElement[] = [];
    if (this.demo) {
      banners.push(
        h(
          'div',
          { class: 'banner banner-demo', 'data-testid': 'demo-banner', role: 'note' },
          h('span', { class: 'banner-tag' }, t('demo.tag')),
          h('span', {}, t('demo.banner')),
        ),
      );
    }
    this.staleBanner = h(
      'div',
      { class: 'banner banner-stale', 'data-testid': 'stale-banner', role: 'alert' },
      t('stale.banner'),
    );
    banners.push(this.staleBanner);
    return banners;
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

  private renderConnection(): void {
    if (this.connEl) {
      this.connEl.dataset.state = this.conn;
      this.connEl.replaceChildren(
        h('span', { class: 'conn-dot', 'aria-hidden': 'true' }),
        h('span', {}, this.t(`conn.${this.conn}`)),
      );
    }
    const lost = this.conn === 'reconnecting';
    if (this.staleBanner) this.staleBanner.hidden = !lost;
    setClass(this.main, 'is-disconnected', lost);
  }
}
