/**
 * The accounts a start makes sure of, in this order:
 *
 * 1. Without `server.demoAccounts`, demo accounts left from a demo run on
 *    the same store are removed: no documented password opens a real plant.
 * 2. Users of `config.users` that have a password are created when missing
 *    (an existing user is left as an admin changed it).
 * 3. With `server.demoAccounts`, the demo accounts are created, or reset to
 *    their documented passwords and roles; this is announced loudly.
 * 4. With no user at all, `admin` is created with a random password, which
 *    is announced once (the console) and never written to the log.
 */
import type { PlantConfig } from '../../../config/schema.js';
import type { DemoAccount } from '../contract.js';
import type { ServerDeps } from '../ports.js';
import type { AccountStore } from './authenticator.js';
import { randomPassword } from './passwords.js';

export const FIRST_ADMIN = 'admin';

export interface SeedOptions {
  readonly store: AccountStore;
  readonly users: PlantConfig['users'];
  /** the demo accounts to make sure of; empty unless `server.demoAccounts` */
  readonly demoAccounts: readonly DemoAccount[];
  readonly hashPassword: (password: string) => Promise<string>;
  readonly log: ServerDeps['log'];
  /** shows text to the person starting the gateway (the console), never the log */
  readonly announce: (text: string) => void;
}

export interface SeedResult {
  readonly createdFromConfig: readonly string[];
  readonly removedDemo: readonly string[];
  readonly demo: readonly string[];
  /** the first-run admin was created (its password was announced) */
  readonly firstRunAdmin: boolean;
}

export async function seedAccounts(o: SeedOptions): Promise<SeedResult> {
  const { store, log } = o;
  const removedDemo = o.demoAccounts.length === 0 ? store.deleteUsersOfOrigin('demo') : [];
  if (removedDemo.length > 0) {
    log.warn({ users: removedDemo }, 'demo accounts removed: server.demoAccounts is off');
  }

  const createdFromConfig: string[] = [];
  for (const u of o.users) {
    if (store.findUser(u.username) !== null) continue;
    if (u.password === undefined) {
      log.warn(
        { username: u.username },
        'config user without a password not created: give it a password, or let an admin create it',
      );
      continue;
    }
    const created = store.createUser({
      username: u.username,
      displayName: u.displayName ?? null,
      role: u.role,
      passwordHash: await o.hashPassword(u.password),
      origin: 'config',
    });
    if (created !== null) {
      createdFromConfig.push(created.username);
      log.info({ username: created.username, role: created.role }, 'user created from the config');
    }
  }

  const demo: string[] = [];
  for (const a of o.demoAccounts) {
    const passwordHash = await o.hashPassword(a.password);
    const existing = store.findUser(a.username);
    if (existing === null) {
      store.createUser({ username: a.username, displayName: null, role: a.role, passwordHash, origin: 'demo' });
    } else if (existing.origin === 'demo') {
      store.updateUser(existing.id, { role: a.role, passwordHash, disabled: false });
    } else {
      log.warn({ username: a.username }, 'demo account not made: a user of that name exists');
      continue;
    }
    demo.push(a.username);
  }
  if (demo.length > 0) {
    log.warn(
      { users: demo },
      'DEMO ACCOUNTS ARE ON (server.demoAccounts): their passwords are published; never use this on a real plant',
    );
    o.announce(demoNotice(o.demoAccounts.filter((a) => demo.includes(a.username))));
  }

  let firstRunAdmin = false;
  if (store.countUsers() === 0) {
    const password = randomPassword();
    const created = store.createUser({
      username: FIRST_ADMIN,
      displayName: null,
      role: 'admin',
      passwordHash: await o.hashPassword(password),
      origin: 'first-run',
    });
    if (created !== null) {
      firstRunAdmin = true;
      o.announce(firstRunNotice(FIRST_ADMIN, password));
      log.warn(
        { username: FIRST_ADMIN },
        'first start without users: the administrator was created; its password was shown once on the console, not in this log',
      );
    }
  }
  if (store.countEnabled('admin') === 0) {
    log.warn({}, 'no enabled admin: nobody can manage users; add one to config.users with a password');
  }
  return { createdFromConfig, removedDemo, demo, firstRunAdmin };
}

function firstRunNotice(username: string, password: string): string {
  return [
    '',
    '  ┌──────────────────────────────────────────────────────────────────────',
    '  │ greenline: first start, no users yet. An administrator was created:',
    '  │',
    `  │     username  ${username}`,
    `  │     password  ${password}`,
    '  │',
    '  │ This password is shown once, here, and is not in the log. Sign in,',
    '  │ change it (POST /api/me/password) and add the users you need',
    '  │ (POST /api/users, or `users:` in the config).',
    '  └──────────────────────────────────────────────────────────────────────',
    '',
    '',
  ].join('\n');
}

function demoNotice(accounts: readonly DemoAccount[]): string {
  return [
    '',
    '  !! DEMO ACCOUNTS ARE ON (server.demoAccounts: true). Their passwords are published:',
    '       username   password        role',
    ...accounts.map((a) => `       ${a.username.padEnd(10)} ${a.password.padEnd(15)} ${a.role}`),
    '     Never use this on a real plant.',
    '',
    '',
  ].join('\n');
}
