/**
 * Users (`#/users`, administrators): every account with its role, whether it
 * may sign in, where it came from and when it was made, last signed in and
 * last given a password (dates in the site's time zone); adding a user, and
 * per user changing the role, resetting the password, disabling or enabling,
 * and deleting after a confirmation. A refusal shows in words, with the
 * gateway's own message beside it; a field's problem next to the field.
 * Anyone else is told plainly that this page is for administrators.
 */
import type { Me, PlantView, Role, UserView } from '../../../gateway/server/contract.js';
import { roleName } from '../account.js';
import { errorText, isAbort } from '../api.js';
import { h } from '../dom.js';
import { type Lang, type Translate, translator } from '../i18n.js';
import { routeHash } from '../router.js';
import type { Page } from '../shell.js';
import { createUser, deleteUser, listUsers, UsersRequestError, updateUser } from './users-api.js';
import { describedBy, type Feedback, feedbackView, fieldView, refusalFeedback } from './users-form.js';
import { originKey, type UsersMessageKey, type UsersTranslate, usersTranslator } from './users-i18n.js';
import {
  checkNewUser,
  DISPLAY_NAME_MAX,
  type FieldProblem,
  hasCapability,
  isLastAdmin,
  isRoleName,
  issueProblems,
  knownOrigin,
  type NewUserField,
  PASSWORD_MAX,
  PASSWORD_MIN,
  type Problems,
  passwordProblem,
  ROLES,
  sameUser,
  siteDateTime,
  sortUsers,
  summarize,
  type UserAction,
} from './users-model.js';
import './users.css';

/** while the list cannot be loaded, the page asks again this often */
const RETRY_MS = 5000;
const NEW_USER_FIELDS: readonly NewUserField[] = ['username', 'displayName', 'role', 'password'];
/** the add form's inputs (their ids and test ids) */
const NEW_USER_IDS: Record<NewUserField, string> = {
  username: 'new-username',
  displayName: 'new-display-name',
  role: 'new-role',
  password: 'new-password',
};

export interface UsersPageOptions {
  readonly lang: Lang;
  readonly plant: () => Promise<PlantView>;
  /** the signed-in user; null on a gateway without sign-in */
  readonly me: () => Me | null;
}

interface NewUserState {
  username: string;
  displayName: string;
  role: Role;
  password: string;
}

interface PanelState {
  readonly username: string;
  role: Role;
  password: string;
  passwordProblem: FieldProblem | null;
  feedback: Feedback | null;
  confirmDelete: boolean;
  busy: boolean;
}

export class UsersPage implements Page {
  readonly el: HTMLElement;
  private lang: Lang;
  private t: Translate;
  private ut: UsersTranslate;
  private timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  private users: UserView[] | null = null;
  private loadError: string | null = null;
  /** the gateway refused the list: the role changed since this screen signed in */
  private refused = false;
  private loading: AbortController | null = null;
  private loadedAt = 0;
  private active = false;
  private notice: Feedback | null = null;
  private adding = false;
  private addBusy = false;
  private addForm: NewUserState = { username: '', displayName: '', role: 'viewer', password: '' };
  private addProblems: Problems<NewUserField> = {};
  private addFeedback: Feedback | null = null;
  private panel: PanelState | null = null;

  constructor(private readonly opts: UsersPageOptions) {
    this.lang = opts.lang;
    this.t = translator(this.lang);
    this.ut = usersTranslator(this.lang);
    this.el = h('div', { class: 'page page-users', 'data-testid': 'page-users' });
    this.render();
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
    return this.ut('users.title');
  }

  setActive(active: boolean): void {
    this.active = active;
    if (active) {
      this.notice = null;
      this.render();
      void this.load();
    } else this.loading?.abort();
  }

  setLang(lang: Lang): void {
    if (lang === this.lang) return;
    this.lang = lang;
    this.t = translator(lang);
    this.ut = usersTranslator(lang);
    this.render();
  }

  tick(): void {
    if (this.active && this.loadError !== null && !this.loading && Date.now() - this.loadedAt >= RETRY_MS) {
      void this.load();
    }
  }

  private me(): Me | null {
    return this.opts.me();
  }

  private allowed(): boolean {
    return !this.refused && hasCapability(this.me(), 'users.manage');
  }

  private isMe(username: string): boolean {
    const me = this.me();
    return me !== null && sameUser(me.username, username);
  }

  // ---------- data ----------

  private async load(): Promise<void> {
    if (!this.allowed()) return;
    this.loading?.abort();
    const ctrl = new AbortController();
    this.loading = ctrl;
    try {
      const users = await listUsers(ctrl.signal);
      if (ctrl.signal.aborted) return;
      this.users = [...users];
      this.loadError = null;
      if (this.panel && !this.users.some((u) => u.username === this.panel?.username)) this.panel = null;
    } catch (err) {
      if (isAbort(err)) return;
      if (err instanceof UsersRequestError && err.status === 403) this.refused = true;
      else this.loadError = errorText(err);
    } finally {
      if (this.loading === ctrl) this.loading = null;
      this.loadedAt = Date.now();
    }
    this.render();
  }

  /** a user as the gateway answered after a change */
  private replaceUser(user: UserView): void {
    if (this.users === null) return;
    this.users = this.users.map((u) => (u.username === user.username ? user : u));
  }

  // ---------- adding ----------

  private openAdd(): void {
    this.adding = true;
    this.addFeedback = null;
    this.notice = null;
    this.render();
    this.focus('new-username');
  }

  private closeAdd(): void {
    this.adding = false;
    this.addProblems = {};
    this.addFeedback = null;
    this.addForm = { username: '', displayName: '', role: 'viewer', password: '' };
    this.render();
    this.focus('users-add-open');
  }

  private async submitAdd(): Promise<void> {
    if (this.addBusy) return;
    const { problems, request } = checkNewUser(this.addForm);
    this.addProblems = problems;
    this.addFeedback = null;
    if (request === null) {
      this.addFeedback = { kind: 'error', key: 'users.fixFields' };
      this.render();
      this.focusFirstProblem();
      return;
    }
    this.addBusy = true;
    this.render();
    try {
      const user = await createUser(request);
      this.users = [...(this.users ?? []).filter((u) => u.username !== user.username), user];
      this.adding = false;
      this.addForm = { username: '', displayName: '', role: 'viewer', password: '' };
      this.addProblems = {};
      this.notice = {
        kind: 'ok',
        key: 'users.added',
        vars: { username: user.username, role: roleName(user.role, this.t) },
      };
    } catch (err) {
      if (err instanceof UsersRequestError && err.status === 400 && err.issues.length > 0) {
        const { problems: fromGateway, other } = issueProblems(err.issues, NEW_USER_FIELDS);
        this.addProblems = fromGateway;
        this.addFeedback =
          other.length > 0
            ? { kind: 'error', key: 'refusal.other', vars: { detail: other.join('; ') } }
            : { kind: 'error', key: 'users.fixFields' };
      } else {
        this.addFeedback = refusalFeedback('create', err);
      }
    } finally {
      this.addBusy = false;
    }
    this.render();
    if (this.adding) this.focusFirstProblem();
    else {
      this.focus('users-notice');
      void this.load();
    }
  }

  // ---------- one user ----------

  private togglePanel(user: UserView): void {
    this.notice = null;
    if (this.panel?.username === user.username) {
      this.panel = null;
      this.render();
      this.focus(`user-manage-${user.username}`);
      return;
    }
    this.panel = {
      username: user.username,
      role: user.role,
      password: '',
      passwordProblem: null,
      feedback: null,
      confirmDelete: false,
      busy: false,
    };
    this.render();
    this.focus('manage-role');
  }

  /** runs one change of the open user, with its feedback in the panel */
  private async change(
    action: UserAction,
    run: () => Promise<UserView | null>,
    done: (user: UserView | null) => Feedback,
    focusAfter: string,
  ): Promise<void> {
    const panel = this.panel;
    if (panel === null || panel.busy) return;
    panel.busy = true;
    panel.feedback = null;
    this.render();
    let reloadAfter = false;
    try {
      const user = await run();
      if (user !== null) this.replaceUser(user);
      panel.feedback = done(user);
      // one's own role, access or account changed: the dashboard starts again with what is left
      if (this.isMe(panel.username) && (action === 'role' || action === 'disable' || action === 'delete')) {
        window.location.reload();
        return;
      }
    } catch (err) {
      // a password the gateway refused shows next to its field; anything else above the panel's blocks
      panel.feedback = action === 'password' && panel.passwordProblem !== null ? null : refusalFeedback(action, err);
      reloadAfter = err instanceof UsersRequestError && err.status === 404;
    } finally {
      panel.busy = false;
    }
    this.render();
    this.focus(panel.feedback?.kind === 'error' ? 'user-panel-feedback' : focusAfter);
    if (reloadAfter) void this.load();
  }

  private changeRole(user: UserView): void {
    const panel = this.panel;
    if (panel === null) return;
    const role = panel.role;
    if (role === user.role) return;
    void this.change(
      'role',
      () => updateUser(user.username, { role }),
      (u) => ({
        kind: 'ok',
        key: 'done.role',
        vars: { username: user.username, role: roleName(u?.role ?? role, this.t) },
      }),
      'manage-role',
    );
  }

  private resetPassword(user: UserView): void {
    const panel = this.panel;
    if (panel === null) return;
    panel.passwordProblem = passwordProblem(panel.password, user.username);
    if (panel.passwordProblem !== null) {
      panel.feedback = null;
      this.render();
      this.focus('manage-password');
      return;
    }
    const password = panel.password;
    const self = this.isMe(user.username);
    void this.change(
      'password',
      async () => {
        try {
          const u = await updateUser(user.username, { password });
          panel.password = '';
          return u;
        } catch (err) {
          if (err instanceof UsersRequestError && err.status === 400) {
            const { problems } = issueProblems(err.issues, ['password'] as const);
            panel.passwordProblem = problems.password ?? null;
          }
          throw err;
        }
      },
      () =>
        self
          ? { kind: 'ok', key: 'done.passwordSelf' }
          : { kind: 'ok', key: 'done.password', vars: { username: user.username } },
      'manage-password',
    );
  }

  private setDisabled(user: UserView, disabled: boolean): void {
    void this.change(
      disabled ? 'disable' : 'enable',
      () => updateUser(user.username, { disabled }),
      () => ({ kind: 'ok', key: disabled ? 'done.disabled' : 'done.enabled', vars: { username: user.username } }),
      'manage-access',
    );
  }

  private async remove(user: UserView): Promise<void> {
    const panel = this.panel;
    if (panel === null || panel.busy) return;
    panel.busy = true;
    panel.feedback = null;
    this.render();
    try {
      await deleteUser(user.username);
      if (this.isMe(user.username)) {
        window.location.reload();
        return;
      }
      this.users = (this.users ?? []).filter((u) => u.username !== user.username);
      this.panel = null;
      this.notice = { kind: 'ok', key: 'done.deleted', vars: { username: user.username } };
      this.render();
      this.focus('users-notice');
      void this.load();
      return;
    } catch (err) {
      panel.feedback = refusalFeedback('delete', err);
      panel.confirmDelete = false;
      if (err instanceof UsersRequestError && err.status === 404) void this.load();
    } finally {
      panel.busy = false;
    }
    this.render();
    this.focus('user-panel-feedback');
  }

  // ---------- rendering ----------

  private focus(testid: string): void {
    this.el.querySelector<HTMLElement>(`[data-testid="${testid}"]`)?.focus();
  }

  private focusFirstProblem(): void {
    const field = NEW_USER_FIELDS.find((f) => this.addProblems[f]);
    if (field) this.focus(NEW_USER_IDS[field]);
    else this.focus('users-add-feedback');
  }

  private render(): void {
    const ut = this.ut;
    const head = h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'users-title' }, ut('users.title')));
    const me = this.me();
    if (!this.allowed()) {
      this.el.replaceChildren(head, this.forbidden(me));
      return;
    }
    const users = this.users;
    if (users !== null) {
      const s = summarize(users);
      const chips = [
        h(
          'span',
          { class: 'summary-item', 'data-testid': 'users-count' },
          ut(s.total === 1 ? 'users.summary.total.one' : 'users.summary.total', { n: s.total }),
        ),
        h(
          'span',
          { class: 'summary-item' },
          ut(s.admins === 1 ? 'users.summary.admins.one' : 'users.summary.admins', { n: s.admins }),
        ),
        s.disabled > 0
          ? h(
              'span',
              { class: 'summary-item', 'data-testid': 'users-disabled-count' },
              ut('users.summary.disabled', { n: s.disabled }),
            )
          : null,
      ];
      const addButton = h(
        'button',
        {
          type: 'button',
          class: 'action-button',
          'data-testid': 'users-add-open',
          'aria-expanded': String(this.adding),
          disabled: this.adding,
        },
        ut('users.add.open'),
      );
      addButton.addEventListener('click', () => this.openAdd());
      head.append(h('div', { class: 'users-head-tools' }, h('div', { class: 'summary' }, chips), addButton));
    }
    const notice = this.notice
      ? (() => {
          const el = feedbackView(this.notice, ut, 'users-notice');
          el.tabIndex = -1;
          return el;
        })()
      : null;
    const loadProblem = this.loadError
      ? h(
          'p',
          { class: 'notice', 'data-kind': 'error', role: 'alert', 'data-testid': 'users-load-error' },
          ut('users.failed', { detail: this.loadError }),
        )
      : null;
    let body: HTMLElement;
    if (users === null) {
      body = this.loadError ? h('div') : h('p', { class: 'placeholder' }, ut('users.loading'));
    } else {
      body = this.table(users);
    }
    this.el.replaceChildren(head, notice ?? '', loadProblem ?? '', this.adding ? this.addCard() : '', body);
  }

  private forbidden(me: Me | null): HTMLElement {
    const ut = this.ut;
    if (me === null) {
      return h('div', { class: 'notice', 'data-testid': 'users-forbidden' }, h('p', {}, ut('users.noSignIn')));
    }
    return h(
      'div',
      { class: 'users-forbidden', role: 'alert', 'data-testid': 'users-forbidden' },
      h('p', { class: 'users-forbidden-title' }, ut('users.forbidden')),
      h('p', {}, ut('users.forbiddenWho', { name: me.displayName ?? me.username, role: roleName(me.role, this.t) })),
      h(
        'p',
        {},
        h('a', { href: routeHash('account'), 'data-testid': 'users-forbidden-account' }, ut('users.forbiddenOwn')),
      ),
    );
  }

  private input(
    testid: string,
    attrs: Record<string, string | number | boolean>,
    value: string,
    onInput: (v: string) => void,
  ): HTMLInputElement {
    const el = h('input', { 'data-testid': testid, ...attrs });
    el.value = value;
    el.addEventListener('input', () => onInput(el.value));
    return el;
  }

  private roleSelect(testid: string, value: Role, onChange: (role: Role) => void): HTMLSelectElement {
    const select = h(
      'select',
      { 'data-testid': testid },
      ROLES.map((role) => h('option', { value: role, selected: role === value }, roleName(role, this.t))),
    );
    select.value = value;
    select.addEventListener('change', () => {
      if (isRoleName(select.value)) onChange(select.value);
    });
    return select;
  }

  private addCard(): HTMLElement {
    const ut = this.ut;
    const f = this.addForm;
    const p = this.addProblems;
    const username = this.input(
      'new-username',
      {
        type: 'text',
        name: 'username',
        autocomplete: 'off',
        autocapitalize: 'none',
        spellcheck: 'false',
        maxlength: 64,
      },
      f.username,
      (v) => {
        f.username = v;
      },
    );
    const displayName = this.input(
      'new-display-name',
      { type: 'text', name: 'display-name', autocomplete: 'off', maxlength: DISPLAY_NAME_MAX + 20 },
      f.displayName,
      (v) => {
        f.displayName = v;
      },
    );
    const role = this.roleSelect('new-role', f.role, (r) => {
      f.role = r;
    });
    const password = this.input(
      'new-password',
      { type: 'password', name: 'new-password', autocomplete: 'new-password', maxlength: PASSWORD_MAX },
      f.password,
      (v) => {
        f.password = v;
      },
    );
    const cancel = h(
      'button',
      { type: 'button', class: 'action-button is-secondary', 'data-testid': 'users-add-cancel' },
      ut('users.add.cancel'),
    );
    cancel.addEventListener('click', () => this.closeAdd());
    const form = h(
      'form',
      { class: 'users-add-form', 'data-testid': 'users-add-form', novalidate: true },
      h('div', { class: 'users-fields' }, [
        fieldView({
          id: 'new-username',
          label: ut('field.username'),
          control: username,
          hint: ut('field.username.hint'),
          problem: p.username,
          ut,
        }),
        fieldView({
          id: 'new-display-name',
          label: ut('field.displayName'),
          control: displayName,
          problem: p.displayName,
          ut,
        }),
        fieldView({ id: 'new-role', label: ut('field.role'), control: role, problem: p.role, ut }),
        fieldView({
          id: 'new-password',
          label: ut('field.password'),
          control: password,
          hint: ut('field.password.hint', { min: PASSWORD_MIN }),
          problem: p.password,
          ut,
        }),
      ]),
      this.addFeedback ? feedbackView(this.addFeedback, ut, 'users-add-feedback') : null,
      h(
        'div',
        { class: 'users-buttons' },
        h(
          'button',
          { type: 'submit', class: 'action-button', 'data-testid': 'users-add-submit', disabled: this.addBusy },
          ut(this.addBusy ? 'users.add.busy' : 'users.add.submit'),
        ),
        cancel,
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submitAdd();
    });
    return h(
      'section',
      { class: 'detail-card users-add', 'aria-labelledby': 'users-add-title' },
      h('h2', { class: 'detail-card-title', id: 'users-add-title' }, ut('users.add.title')),
      h('p', { class: 'card-note' }, ut('users.add.hint')),
      form,
    );
  }

  private table(users: readonly UserView[]): HTMLElement {
    const ut = this.ut;
    const columns: UsersMessageKey[] = [
      'col.user',
      'col.role',
      'col.status',
      'col.origin',
      'col.created',
      'col.lastSignIn',
      'col.passwordChanged',
    ];
    const rows: HTMLElement[] = [];
    for (const user of sortUsers(users)) {
      rows.push(this.row(user, users));
      if (this.panel?.username === user.username) rows.push(this.panelRow(user, columns.length + 1));
    }
    return h(
      'div',
      { class: 'table-scroll users-table-wrap' },
      h(
        'table',
        { class: 'data-table users-table', 'data-testid': 'users-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            columns.map((c) => h('th', { scope: 'col' }, ut(c))),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, ut('col.manage'))),
          ),
        ),
        h('tbody', {}, rows),
      ),
    );
  }

  private dateCell(ts: number | null): HTMLElement {
    if (ts === null) return h('td', { class: 'users-date is-never' }, this.ut('users.never'));
    const d = siteDateTime(ts, this.timeZone, this.lang);
    return h(
      'td',
      { class: 'users-date' },
      h(
        'time',
        { datetime: new Date(ts).toISOString(), title: d.full },
        d.date,
        h('span', { class: 'cell-sub' }, d.time),
      ),
    );
  }

  private row(user: UserView, all: readonly UserView[]): HTMLElement {
    const ut = this.ut;
    const open = this.panel?.username === user.username;
    const origin = knownOrigin(user.origin);
    const manage = h(
      'button',
      {
        type: 'button',
        class: 'tool-button users-manage',
        'data-testid': `user-manage-${user.username}`,
        'aria-expanded': String(open),
        'aria-controls': `user-panel-${user.username}`,
        'aria-label': `${ut(open ? 'manage.close' : 'manage.open')}: ${user.username}`,
      },
      ut(open ? 'manage.close' : 'manage.open'),
    );
    manage.addEventListener('click', () => this.togglePanel(user));
    return h(
      'tr',
      {
        class: `users-row${user.disabled ? ' is-disabled' : ''}${open ? ' is-open' : ''}`,
        'data-testid': `user-row-${user.username}`,
        'data-role': user.role,
        'data-disabled': String(user.disabled),
      },
      h(
        'th',
        { scope: 'row' },
        h('span', { class: 'users-name' }, user.username),
        this.isMe(user.username) ? h('span', { class: 'users-you' }, ut('users.you')) : null,
        user.displayName ? h('span', { class: 'cell-sub' }, user.displayName) : null,
      ),
      h(
        'td',
        { 'data-testid': `user-role-${user.username}` },
        roleName(user.role, this.t),
        isLastAdmin(user, all) ? h('span', { class: 'cell-sub' }, ut('users.lastAdmin')) : null,
      ),
      h(
        'td',
        {},
        h(
          'span',
          {
            class: 'users-status',
            'data-status': user.disabled ? 'disabled' : 'enabled',
            'data-testid': `user-status-${user.username}`,
          },
          ut(user.disabled ? 'status.disabled' : 'status.enabled'),
        ),
      ),
      h('td', {}, origin === null ? user.origin : ut(originKey(origin))),
      this.dateCell(user.createdAt),
      this.dateCell(user.lastLoginAt),
      this.dateCell(user.passwordChangedAt),
      h('td', { class: 'users-manage-cell' }, manage),
    );
  }

  private panelRow(user: UserView, span: number): HTMLElement {
    const ut = this.ut;
    const panel = this.panel!;
    const self = this.isMe(user.username);
    const busy = panel.busy;

    const role = this.roleSelect('manage-role', panel.role, (r) => {
      panel.role = r;
      saveRole.disabled = busy || r === user.role;
    });
    role.disabled = busy;
    const saveRole = h(
      'button',
      {
        type: 'submit',
        class: 'action-button',
        'data-testid': 'manage-role-save',
        disabled: busy || panel.role === user.role,
      },
      ut('manage.saveRole'),
    );
    const roleForm = h(
      'form',
      { class: 'users-block', novalidate: true },
      fieldView({ id: 'manage-role', label: ut('manage.role'), control: role, problem: null, ut }),
      h('div', { class: 'users-buttons' }, saveRole),
    );
    roleForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.changeRole(user);
    });

    const password = this.input(
      'manage-password',
      { type: 'password', name: 'new-password', autocomplete: 'new-password', maxlength: PASSWORD_MAX, disabled: busy },
      panel.password,
      (v) => {
        panel.password = v;
      },
    );
    const passwordForm = h(
      'form',
      { class: 'users-block', novalidate: true },
      // for password managers: whose password this is
      h('input', {
        type: 'text',
        name: 'username',
        autocomplete: 'username',
        value: user.username,
        hidden: true,
        readonly: true,
      }),
      fieldView({
        id: 'manage-password',
        label: ut('manage.password'),
        control: password,
        problem: panel.passwordProblem,
        ut,
      }),
      h(
        'div',
        { class: 'users-buttons' },
        h(
          'button',
          { type: 'submit', class: 'action-button', 'data-testid': 'manage-password-save', disabled: busy },
          ut('manage.resetPassword'),
        ),
      ),
      h(
        'span',
        { class: 'users-hint', id: 'manage-password-hint' },
        ut(self ? 'manage.resetHintSelf' : 'manage.resetHint'),
      ),
    );
    describedBy(password, 'manage-password-hint');
    passwordForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.resetPassword(user);
    });

    const access = h(
      'button',
      {
        type: 'button',
        class: `action-button${user.disabled ? '' : ' is-warning'}`,
        'data-testid': 'manage-access',
        disabled: busy,
      },
      ut(user.disabled ? 'manage.enable' : 'manage.disable'),
    );
    access.addEventListener('click', () => this.setDisabled(user, !user.disabled));
    const accessBlock = h(
      'div',
      { class: 'users-block' },
      h('span', { class: 'field-label' }, ut('manage.access')),
      h('div', { class: 'users-buttons' }, access),
      h(
        'span',
        { class: 'users-hint' },
        ut(user.disabled ? 'manage.enableHint' : self ? 'manage.disableHintSelf' : 'manage.disableHint'),
      ),
    );

    const ask = h(
      'button',
      {
        type: 'button',
        class: 'action-button is-secondary is-danger-text',
        'data-testid': 'manage-delete',
        'aria-expanded': String(panel.confirmDelete),
        'aria-controls': 'manage-delete-confirmation',
        disabled: busy || panel.confirmDelete,
      },
      ut('manage.delete'),
    );
    ask.addEventListener('click', () => {
      panel.confirmDelete = true;
      panel.feedback = null;
      this.render();
      this.focus('manage-delete-cancel');
    });
    const deleteBlock = h(
      'div',
      { class: 'users-block' },
      h('span', { class: 'field-label' }, ut('manage.deleteTitle')),
      h('div', { class: 'users-buttons' }, ask),
      h('span', { class: 'users-hint' }, ut('manage.deleteHint')),
    );
    let confirmation: HTMLElement | null = null;
    if (panel.confirmDelete) {
      const confirm = h(
        'button',
        { type: 'button', class: 'action-button is-danger', 'data-testid': 'manage-delete-confirm', disabled: busy },
        ut('manage.deleteConfirm'),
      );
      confirm.addEventListener('click', () => void this.remove(user));
      const cancel = h(
        'button',
        { type: 'button', class: 'action-button is-secondary', 'data-testid': 'manage-delete-cancel', disabled: busy },
        ut('manage.cancel'),
      );
      cancel.addEventListener('click', () => {
        panel.confirmDelete = false;
        this.render();
        this.focus('manage-delete');
      });
      confirmation = h(
        'div',
        {
          class: 'users-confirm',
          id: 'manage-delete-confirmation',
          role: 'alertdialog',
          'aria-labelledby': 'manage-delete-question',
        },
        h(
          'p',
          { class: 'users-confirm-text', id: 'manage-delete-question', 'data-testid': 'manage-delete-question' },
          self ? ut('manage.confirmDeleteSelf') : ut('manage.confirmDelete', { username: user.username }),
        ),
        h('div', { class: 'users-buttons' }, confirm, cancel),
      );
    }

    const feedback = panel.feedback ? feedbackView(panel.feedback, ut, 'user-panel-feedback') : null;
    if (feedback) feedback.tabIndex = -1;
    return h(
      'tr',
      { class: 'users-panel-row' },
      h(
        'td',
        { colspan: span },
        h(
          'section',
          {
            class: 'users-panel',
            id: `user-panel-${user.username}`,
            'data-testid': `user-panel-${user.username}`,
            'aria-label': ut('manage.title', { username: user.username }),
            'aria-busy': busy ? 'true' : null,
          },
          feedback,
          h('div', { class: 'users-blocks' }, roleForm, passwordForm, accessBlock, deleteBlock),
          confirmation,
        ),
      ),
    );
  }
}
