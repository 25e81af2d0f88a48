/**
 * Users, sign-in sessions and API tokens (migration 3). Like the alarm
 * store, it keeps its own connection to the gateway's SQLite file, so it
 * works beside the sample store without reaching into it. Start it after
 * the SqliteStore (which creates the file) and stop it before.
 *
 * It stores what it is given: password hashes, session and token hashes
 * are made by the server's sign-in code; nothing secret is kept in clear.
 * Roles are stored as text and checked by the server.
 */
import Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { migrate } from './migrations.js';
import { gateWrites, OPEN_GATE, type WriteGate } from './write-gate.js';

export type UserOrigin = 'first-run' | 'config' | 'demo' | 'admin';

export interface UserRecord {
  readonly id: number;
  readonly username: string;
  readonly displayName: string | null;
  readonly role: string;
  readonly passwordHash: string;
  readonly disabled: boolean;
  readonly origin: UserOrigin;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly passwordChangedAt: number;
  readonly lastLoginAt: number | null;
  /** the dashboard language the user chose; null: not chosen */
  readonly language: string | null;
}

export interface NewUser {
  readonly username: string;
  readonly displayName: string | null;
  readonly role: string;
  readonly passwordHash: string;
  readonly origin: UserOrigin;
  readonly disabled?: boolean;
}

export interface UserChanges {
  readonly role?: string;
  readonly displayName?: string | null;
  readonly passwordHash?: string;
  readonly disabled?: boolean;
  readonly language?: string;
}

export interface SessionRecord {
  readonly idHash: string;
  readonly userId: number;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
  readonly remoteAddress: string | null;
}

export interface TokenRecord {
  readonly id: number;
  readonly userId: number;
  /** the owner's username */
  readonly username: string;
  readonly name: string;
  readonly role: string;
  /** the first characters of the token, to tell tokens apart */
  readonly hint: string;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

export interface NewToken {
  readonly tokenHash: string;
  readonly userId: number;
  readonly name: string;
  readonly role: string;
  readonly hint: string;
  readonly createdBy: string;
  readonly expiresAt: number | null;
}

export interface UserStoreOptions {
  /** the SQLite file the SqliteStore uses; `:memory:` gives a throwaway database of its own */
  readonly path: string;
  /** how long a write waits for another connection (default 5000) */
  readonly busyTimeoutMs?: number;
  /** the sample store's `writeGate`, so a write here never waits for a whole batch of samples */
  readonly writeGate?: WriteGate;
  readonly now?: () => number;
}

interface UserRow {
  id: number;
  username: string;
  display_name: string | null;
  role: string;
  password_hash: string;
  disabled: number;
  origin: UserOrigin;
  created_at: number;
  updated_at: number;
  password_changed_at: number;
  last_login_at: number | null;
  language: string | null;
}

interface SessionRow {
  id_hash: string;
  user_id: number;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  remote_address: string | null;
}

interface TokenRow {
  id: number;
  user_id: number;
  username: string;
  name: string;
  role: string;
  hint: string;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

const USER_COLUMNS =
  'id, username, display_name, role, password_hash, disabled, origin, created_at, updated_at, password_changed_at, last_login_at, language';
const USER_COLUMNS_U = USER_COLUMNS.split(', ')
  .map((c) => `u.${c}`)
  .join(', ');
const SESSION_COLUMNS = 's.id_hash, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.remote_address';
const TOKEN_COLUMNS =
  't.id, t.user_id, u.username, t.name, t.role, t.hint, t.created_at, t.created_by, t.expires_at, t.last_used_at, t.revoked_at';

const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  role: r.role,
  passwordHash: r.password_hash,
  disabled: r.disabled !== 0,
  origin: r.origin,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  passwordChangedAt: r.password_changed_at,
  lastLoginAt: r.last_login_at,
  language: r.language,
});

const toSession = (r: SessionRow): SessionRecord => ({
  idHash: r.id_hash,
  userId: r.user_id,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  expiresAt: r.expires_at,
  remoteAddress: r.remote_address,
});

const toToken = (r: TokenRow): TokenRecord => ({
  id: r.id,
  userId: r.user_id,
  username: r.username,
  name: r.name,
  role: r.role,
  hint: r.hint,
  createdAt: r.created_at,
  createdBy: r.created_by,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

/** a joined row: the user's columns under `u_`, the other side's as they are */
function splitUser(row: Record<string, unknown>): UserRow {
  const out: Record<string, unknown> = {};
  for (const c of USER_COLUMNS.split(', ')) out[c] = row[`u_${c}`];
  return out as unknown as UserRow;
}

export class UserStore {
  private db: Database.Database | undefined;
  private readonly now: () => number;
  private stmts: Statements | undefined;

  constructor(private readonly options: UserStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.db !== undefined) return;
    const { path } = this.options;
    let db: Database.Database;
    try {
      db = gateWrites(
        new Database(path, { timeout: this.options.busyTimeoutMs ?? 5000 }),
        this.options.writeGate ?? OPEN_GATE,
      );
    } catch (err) {
      throw new StoreError(
        'GL_ERR_STORE_OPEN',
        `cannot open the store ${path} for users: ${err instanceof Error ? err.message : String(err)}. ` +
          'Start the sample store first (it creates the file), and check the folder is writable.',
        { cause: err },
      );
    }
    try {
      if (path !== ':memory:') db.pragma('journal_mode = WAL');
      // a password change or a revoked token must survive a power cut
      db.pragma('synchronous = FULL');
      db.pragma(`busy_timeout = ${Math.floor(this.options.busyTimeoutMs ?? 5000)}`);
      // checkpoints are the sample store's (SqliteStore): one here would copy its samples' log on the event loop
      db.pragma('wal_autocheckpoint = 0');
      db.pragma('foreign_keys = ON');
      migrate(db, path, this.now());
      this.stmts = prepareStatements(db);
      this.db = db;
    } catch (err) {
      db.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'GL_ERR_STORE_OPEN',
        `cannot use the store ${path} for users: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  stop(): void {
    const db = this.db;
    this.db = undefined;
    this.stmts = undefined;
    db?.close();
  }

  /** Runs `fn` in one transaction: a check and the change it guards see the same data. */
  transaction<T>(fn: () => T): T {
    const { db } = this.require();
    return db.transaction(fn)();
  }

  // ---------- users ----------

  countUsers(): number {
    return this.require().s.countUsers.get() as number;
  }

  /** enabled users holding the role */
  countEnabled(role: string): number {
    return this.require().s.countEnabled.get(role) as number;
  }

  listUsers(): UserRecord[] {
    return (this.require().s.listUsers.all() as UserRow[]).map(toUser);
  }

  /** by name, without regard to case */
  findUser(username: string): UserRecord | null {
    const row = this.require().s.findUser.get(username) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  findUserById(id: number): UserRecord | null {
    const row = this.require().s.findUserById.get(id) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  /** null when the name is taken (in any case) */
  createUser(user: NewUser): UserRecord | null {
    const { s } = this.require();
    const at = this.now();
    const result = s.createUser.run(
      user.username,
      user.displayName,
      user.role,
      user.passwordHash,
      user.disabled ? 1 : 0,
      user.origin,
      at,
      at,
      at,
    );
    if (result.changes === 0) return null;
    return this.findUserById(Number(result.lastInsertRowid));
  }

  /** null when there is no such user */
  updateUser(id: number, changes: UserChanges): UserRecord | null {
    const { s } = this.require();
    const at = this.now();
    const result = s.updateUser.run({
      id,
      at,
      role: changes.role ?? null,
      setDisplayName: changes.displayName === undefined ? 0 : 1,
      displayName: changes.displayName ?? null,
      passwordHash: changes.passwordHash ?? null,
      disabled: changes.disabled === undefined ? null : changes.disabled ? 1 : 0,
      language: changes.language ?? null,
    });
    return result.changes === 0 ? null : this.findUserById(id);
  }

  /** its sessions and tokens go with it */
  deleteUser(id: number): boolean {
    return this.require().s.deleteUser.run(id).changes > 0;
  }

  /** removes every user of one origin (and their sessions and tokens); returns their names */
  deleteUsersOfOrigin(origin: UserOrigin): string[] {
    const { s } = this.require();
    return this.transaction(() => {
      const names = s.namesOfOrigin.all(origin) as string[];
      s.deleteOfOrigin.run(origin);
      return names;
    });
  }

  recordLogin(id: number, at: number): void {
    this.require().s.recordLogin.run(at, id);
  }

  // ---------- sessions ----------

  createSession(session: SessionRecord): void {
    const { s } = this.require();
    s.createSession.run(
      session.idHash,
      session.userId,
      session.createdAt,
      session.lastSeenAt,
      session.expiresAt,
      session.remoteAddress,
    );
  }

  /** the session and its user */
  findSession(idHash: string): { readonly session: SessionRecord; readonly user: UserRecord } | null {
    const row = this.require().s.findSession.get(idHash) as (SessionRow & Record<string, unknown>) | undefined;
    if (!row) return null;
    return { session: toSession(row), user: toUser(splitUser(row)) };
  }

  touchSession(idHash: string, at: number): void {
    this.require().s.touchSession.run(at, idHash);
  }

  deleteSession(idHash: string): boolean {
    return this.require().s.deleteSession.run(idHash).changes > 0;
  }

  /** every session of the user, but the one kept (the caller's own) */
  deleteSessionsOf(userId: number, keepIdHash: string | null = null): number {
    return this.require().s.deleteSessionsOf.run(userId, keepIdHash).changes;
  }

  /** sessions past their absolute expiry or idle since before `idleBefore` */
  pruneSessions(now: number, idleBefore: number): number {
    return this.require().s.pruneSessions.run(now, idleBefore).changes;
  }

  countSessions(): number {
    return this.require().s.countSessions.get() as number;
  }

  // ---------- API tokens ----------

  createToken(token: NewToken): TokenRecord {
    const { s } = this.require();
    const result = s.createToken.run(
      token.tokenHash,
      token.userId,
      token.name,
      token.role,
      token.hint,
      this.now(),
      token.createdBy,
      token.expiresAt,
    );
    return this.findTokenById(Number(result.lastInsertRowid))!;
  }

  findTokenById(id: number): TokenRecord | null {
    const row = this.require().s.findTokenById.get(id) as TokenRow | undefined;
    return row ? toToken(row) : null;
  }

  /** the token and its owner, revoked or expired ones included (the caller decides) */
  findToken(tokenHash: string): { readonly token: TokenRecord; readonly user: UserRecord } | null {
    const row = this.require().s.findToken.get(tokenHash) as (TokenRow & Record<string, unknown>) | undefined;
    if (!row) return null;
    return { token: toToken(row), user: toUser(splitUser(row)) };
  }

  /** tokens not revoked, newest first; of one user, or of everyone */
  listTokens(userId: number | null): TokenRecord[] {
    return (this.require().s.listTokens.all(userId, userId) as TokenRow[]).map(toToken);
  }

  /** false when it does not exist or was revoked already */
  revokeToken(id: number, at: number): boolean {
    return this.require().s.revokeToken.run(at, id).changes > 0;
  }

  touchToken(id: number, at: number): void {
    this.require().s.touchToken.run(at, id);
  }

  private require(): { db: Database.Database; s: Statements } {
    if (this.db === undefined || this.stmts === undefined) {
      throw new StoreError('GL_ERR_STORE_NOT_STARTED', 'the user store is not started: call start() first');
    }
    return { db: this.db, s: this.stmts };
  }
}

function prepareStatements(db: Database.Database) {
  return {
    countUsers: db.prepare('SELECT count(*) FROM users').pluck(),
    countEnabled: db.prepare('SELECT count(*) FROM users WHERE role = ? AND disabled = 0').pluck(),
    listUsers: db.prepare(`SELECT ${USER_COLUMNS} FROM users ORDER BY username`),
    findUser: db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE username = ?`),
    findUserById: db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`),
    createUser: db.prepare(`
      INSERT INTO users (username, display_name, role, password_hash, disabled, origin, created_at, updated_at,
                         password_changed_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (username) DO NOTHING`),
    updateUser: db.prepare(`
      UPDATE users SET
        role = coalesce(@role, role),
        display_name = CASE WHEN @setDisplayName = 1 THEN @displayName ELSE display_name END,
        password_hash = coalesce(@passwordHash, password_hash),
        password_changed_at = CASE WHEN @passwordHash IS NULL THEN password_changed_at ELSE @at END,
        disabled = coalesce(@disabled, disabled),
        language = coalesce(@language, language),
        updated_at = @at
      WHERE id = @id`),
    deleteUser: db.prepare('DELETE FROM users WHERE id = ?'),
    namesOfOrigin: db.prepare('SELECT username FROM users WHERE origin = ? ORDER BY username').pluck(),
    deleteOfOrigin: db.prepare('DELETE FROM users WHERE origin = ?'),
    recordLogin: db.prepare('UPDATE users SET last_login_at = ? WHERE id = ?'),
    createSession: db.prepare(`
      INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, remote_address)
      VALUES (?, ?, ?, ?, ?, ?)`),
    findSession: db.prepare(`
      SELECT ${SESSION_COLUMNS}, ${USER_COLUMNS_U.replace(/u\.(\w+)/g, 'u.$1 AS u_$1')}
      FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`),
    touchSession: db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?'),
    deleteSession: db.prepare('DELETE FROM sessions WHERE id_hash = ?'),
    deleteSessionsOf: db.prepare('DELETE FROM sessions WHERE user_id = ? AND id_hash IS NOT ?'),
    pruneSessions: db.prepare('DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at < ?'),
    countSessions: db.prepare('SELECT count(*) FROM sessions').pluck(),
    createToken: db.prepare(`
      INSERT INTO api_tokens (token_hash, user_id, name, role, hint, created_at, created_by, expires_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    findTokenById: db.prepare(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`,
    ),
    findToken: db.prepare(`
      SELECT ${TOKEN_COLUMNS}, ${USER_COLUMNS_U.replace(/u\.(\w+)/g, 'u.$1 AS u_$1')}
      FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`),
    listTokens: db.prepare(`
      SELECT ${TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.revoked_at IS NULL AND (? IS NULL OR t.user_id = ?)
      ORDER BY t.created_at DESC, t.id DESC`),
    revokeToken: db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    touchToken: db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;
