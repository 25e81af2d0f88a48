/**
 * User management and one's own account, without the DOM: the order users
 * are listed in, the words for roles and origins, dates in the site's time
 * zone, the checks a form makes before it sends (the gateway's own rules,
 * so a mistake shows next to its field at once; the gateway checks again),
 * and how a refusal from the gateway reads.
 */
import type { ApiIssue, Capability, Me, Role, UserView } from '../../../gateway/server/contract.js';
import type { Lang } from '../i18n.js';

/** the gateway's rule for a username (`User.username` in config/schema.ts) */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.@-]{2,64}$/;
/** the gateway's limits for a password (auth-routes.ts) */
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 1024;
export const DISPLAY_NAME_MAX = 100;

/** every role, by how much it may do: the order of the role pickers */
const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, energy: 2, admin: 3 };
export const ROLES: readonly Role[] = (Object.keys(ROLE_RANK) as Role[]).sort((a, b) => ROLE_RANK[a] - ROLE_RANK[b]);

export function isRoleName(x: string): x is Role {
  return Object.hasOwn(ROLE_RANK, x);
}

/** who created an account, as `UserView.origin` says; anything else is shown as written */
export const ORIGINS = ['first-run', 'config', 'demo', 'admin'] as const;
export type Origin = (typeof ORIGINS)[number];

export function knownOrigin(origin: string): Origin | null {
  return (ORIGINS as readonly string[]).includes(origin) ? (origin as Origin) : null;
}

export function hasCapability(me: Pick<Me, 'capabilities'> | null, capability: Capability): boolean {
  return me?.capabilities.includes(capability) ?? false;
}

/** whether the user may change their own password here: a sign-in with a password (a token may not) */
export function changesOwnPassword(me: Pick<Me, 'via'> | null): boolean {
  return me !== null && me.via === 'session';
}

/** names ignore case on the gateway: "Admin" and "admin" are one user */
export function sameUser(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Enabled users first, then by username as a person reads it (case and accents aside). */
export function sortUsers(users: readonly UserView[]): UserView[] {
  const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });
  return [...users].sort((a, b) => Number(a.disabled) - Number(b.disabled) || collator.compare(a.username, b.username));
}

export interface UsersSummary {
  readonly total: number;
  readonly disabled: number;
  /** enabled administrators: the gateway keeps at least one */
  readonly admins: number;
}

export function summarize(users: readonly UserView[]): UsersSummary {
  return {
    total: users.length,
    disabled: users.filter((u) => u.disabled).length,
    admins: users.filter((u) => u.role === 'admin' && !u.disabled).length,
  };
}

/** the only enabled administrator: demoting, disabling or removing them is refused */
export function isLastAdmin(user: UserView, users: readonly UserView[]): boolean {
  return user.role === 'admin' && !user.disabled && summarize(users).admins <= 1;
}

// ---------- dates ----------

const dateFormats = new Map<string, Intl.DateTimeFormat>();

function dateFormat(kind: 'date' | 'time' | 'full', timeZone: string, lang: Lang): Intl.DateTimeFormat {
  const key = `${kind}|${timeZone}|${lang}`;
  let f = dateFormats.get(key);
  if (!f) {
    const date = { year: 'numeric', month: 'short', day: 'numeric' } as const;
    const time = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } as const;
    f = new Intl.DateTimeFormat(lang, {
      timeZone,
      ...(kind === 'time' ? {} : date),
      ...(kind === 'date' ? {} : time),
    });
    dateFormats.set(key, f);
  }
  return f;
}

/** an instant as the site's calendar date and wall-clock time: two parts, so a table can stack them */
export function siteDateTime(ts: number, timeZone: string, lang: Lang): { date: string; time: string; full: string } {
  return {
    date: dateFormat('date', timeZone, lang).format(ts),
    time: dateFormat('time', timeZone, lang).format(ts),
    full: dateFormat('full', timeZone, lang).format(ts),
  };
}

// ---------- forms ----------

/** what is wrong with a field, in words the page has in both languages */
export type ProblemCode =
  | 'required'
  | 'username-pattern'
  | 'password-short'
  | 'password-long'
  | 'password-is-username'
  | 'display-name-long'
  | 'repeat-mismatch'
  | 'current-wrong';

/** a problem the page words itself, or the gateway's own words for one it does not know */
export type FieldProblem = { readonly code: ProblemCode } | { readonly text: string };

export type Problems<F extends string> = Partial<Record<F, FieldProblem>>;

export function hasProblems<F extends string>(problems: Problems<F>): boolean {
  return Object.keys(problems).length > 0;
}

/** the gateway's rule: the password, trimmed and in any case, must not be the username */
export function passwordIsUsername(password: string, username: string): boolean {
  return username !== '' && password.trim().toLowerCase() === username.toLowerCase();
}

/** a new password for `username`, by the gateway's rules; null when it passes */
export function passwordProblem(password: string, username: string): FieldProblem | null {
  if (password === '') return { code: 'required' };
  if (password.length < PASSWORD_MIN) return { code: 'password-short' };
  if (password.length > PASSWORD_MAX) return { code: 'password-long' };
  if (passwordIsUsername(password, username)) return { code: 'password-is-username' };
  return null;
}

export type NewUserField = 'username' | 'displayName' | 'role' | 'password';

export interface NewUserForm {
  readonly username: string;
  readonly displayName: string;
  readonly role: string;
  readonly password: string;
}

export interface NewUserRequest {
  readonly username: string;
  readonly role: Role;
  readonly password: string;
  readonly displayName: string | null;
}

/** Checks the add-user form; the request to send when nothing is wrong. */
export function checkNewUser(form: NewUserForm): { problems: Problems<NewUserField>; request: NewUserRequest | null } {
  const problems: Problems<NewUserField> = {};
  const username = form.username.trim();
  const displayName = form.displayName.trim();
  if (username === '') problems.username = { code: 'required' };
  else if (!USERNAME_PATTERN.test(username)) problems.username = { code: 'username-pattern' };
  if (displayName.length > DISPLAY_NAME_MAX) problems.displayName = { code: 'display-name-long' };
  if (!isRoleName(form.role)) problems.role = { code: 'required' };
  const password = passwordProblem(form.password, username);
  if (password) problems.password = password;
  if (hasProblems(problems) || !isRoleName(form.role)) return { problems, request: null };
  return {
    problems,
    request: {
      username,
      role: form.role,
      password: form.password,
      displayName: displayName === '' ? null : displayName,
    },
  };
}

export type PasswordChangeField = 'currentPassword' | 'newPassword' | 'repeatPassword';

export interface PasswordChangeForm {
  readonly currentPassword: string;
  readonly newPassword: string;
  readonly repeatPassword: string;
}

/** Checks the change-my-password form of `username`. */
export function checkPasswordChange(form: PasswordChangeForm, username: string): Problems<PasswordChangeField> {
  const problems: Problems<PasswordChangeField> = {};
  if (form.currentPassword === '') problems.currentPassword = { code: 'required' };
  const next = passwordProblem(form.newPassword, username);
  if (next) problems.newPassword = next;
  if (form.repeatPassword === '') problems.repeatPassword = { code: 'required' };
  else if (!next && form.repeatPassword !== form.newPassword) problems.repeatPassword = { code: 'repeat-mismatch' };
  return problems;
}

/** the gateway's words for the problems the page knows (auth-routes.ts, config/schema.ts) */
function issueCode(message: string): ProblemCode | null {
  if (/^must be at least \d+ characters$/.test(message)) return 'password-short';
  if (/^must be at most \d+ characters$/.test(message)) return 'password-long';
  if (message === 'must not be the username') return 'password-is-username';
  if (message === 'is not your current password') return 'current-wrong';
  if (message === 'is required') return 'required';
  if (message.startsWith('use 2–64 letters')) return 'username-pattern';
  return null;
}

/**
 * The gateway's problems (`issues` of a 400) put next to the fields they
 * name (`body.password` → the password field); the rest, which no field
 * shows, in `other`.
 */
export function issueProblems<F extends string>(
  issues: readonly ApiIssue[],
  fields: readonly F[],
): { problems: Problems<F>; other: string[] } {
  const problems: Problems<F> = {};
  const other: string[] = [];
  for (const issue of issues) {
    const name = issue.path.replace(/^body\./, '');
    const field = fields.find((f) => f === name);
    if (field === undefined) {
      other.push(issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`);
      continue;
    }
    if (problems[field]) continue;
    const code = issueCode(issue.message);
    problems[field] = code === null ? { text: issue.message } : { code };
  }
  return { problems, other };
}

// ---------- refusals ----------

/** what an action on users was */
export type UserAction = 'create' | 'role' | 'password' | 'disable' | 'enable' | 'delete' | 'own-password';

/** a refusal the page words itself; others show the gateway's message */
export type Refusal = 'last-admin' | 'name-taken' | 'not-found' | 'forbidden' | 'throttled';

/**
 * Reads a refusal: a 409 is a taken name when adding a user and the last
 * enabled administrator when demoting, disabling or removing one (the only
 * conflicts those routes have).
 */
export function refusalOf(action: UserAction, status: number): Refusal | null {
  if (status === 409) {
    if (action === 'create') return 'name-taken';
    if (action === 'role' || action === 'disable' || action === 'delete') return 'last-admin';
    return null;
  }
  if (status === 404 && action !== 'create' && action !== 'own-password') return 'not-found';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'throttled';
  return null;
}
