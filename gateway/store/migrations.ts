import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The schema, as an append-only list. Never edit a released migration: add one.
 * `samples` is a WITHOUT ROWID table keyed (tag, time), so a tag's range
 * query is one ordered b-tree walk and a row costs no extra rowid index.
 * `rollup_1m` is keyed (minute, tag) since version 5 (see there).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'samples, rollups, events and metrics',
    sql: `
      CREATE TABLE tags (
        id INTEGER PRIMARY KEY,
        tag TEXT NOT NULL UNIQUE
      );

      CREATE TABLE samples (
        tag_id INTEGER NOT NULL REFERENCES tags (id),
        ts INTEGER NOT NULL,
        value REAL,
        value_text TEXT,
        quality INTEGER NOT NULL,
        reason TEXT,
        PRIMARY KEY (tag_id, ts)
      ) WITHOUT ROWID;

      -- aggregates of the good numeric samples of one tag in one minute;
      -- sample_count counts numeric samples of any quality
      CREATE TABLE rollup_1m (
        tag_id INTEGER NOT NULL REFERENCES tags (id),
        minute_ts INTEGER NOT NULL,
        min_value REAL,
        max_value REAL,
        avg_value REAL,
        last_value REAL,
        last_ts INTEGER,
        sample_count INTEGER NOT NULL,
        good_count INTEGER NOT NULL,
        PRIMARY KEY (tag_id, minute_ts)
      ) WITHOUT ROWID;

      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL CHECK (json_valid(payload))
      );
      CREATE INDEX events_ts ON events (ts);

      CREATE TABLE metrics_1m (
        entity_type TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        minute_ts INTEGER NOT NULL,
        payload TEXT NOT NULL CHECK (json_valid(payload)),
        PRIMARY KEY (entity_type, entity_id, minute_ts)
      ) WITHOUT ROWID;
      CREATE INDEX metrics_1m_minute ON metrics_1m (minute_ts);
    `,
  },
  {
    version: 2,
    name: 'alarm audit trail, states and activations',
    sql: `
      -- every alarm state change and every operator action (refused ones too), never changed
      CREATE TABLE alarm_audit (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        alarm_id TEXT NOT NULL,
        activation INTEGER NOT NULL,
        action TEXT NOT NULL,
        username TEXT,
        comment TEXT,
        from_state TEXT NOT NULL,
        from_modes TEXT NOT NULL,
        to_state TEXT NOT NULL,
        to_modes TEXT NOT NULL,
        result TEXT NOT NULL,
        payload TEXT NOT NULL CHECK (json_valid(payload))
      );
      CREATE INDEX alarm_audit_ts ON alarm_audit (ts);
      CREATE INDEX alarm_audit_alarm ON alarm_audit (alarm_id, id);
      CREATE TRIGGER alarm_audit_no_update BEFORE UPDATE ON alarm_audit
        BEGIN SELECT RAISE(ABORT, 'the alarm audit trail is append-only'); END;
      CREATE TRIGGER alarm_audit_no_delete BEFORE DELETE ON alarm_audit
        BEGIN SELECT RAISE(ABORT, 'the alarm audit trail is append-only'); END;

      -- the lifecycle state of each alarm, restored after a restart
      CREATE TABLE alarm_state (
        alarm_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        payload TEXT NOT NULL CHECK (json_valid(payload))
      ) WITHOUT ROWID;

      -- one row per alarm event, for the alarm statistics
      CREATE TABLE alarm_activations (
        alarm_id TEXT NOT NULL,
        activation INTEGER NOT NULL,
        priority TEXT NOT NULL,
        activated_at INTEGER NOT NULL,
        announced_at INTEGER,
        acknowledged_at INTEGER,
        acknowledged_by TEXT,
        cleared_at INTEGER,
        PRIMARY KEY (alarm_id, activation)
      ) WITHOUT ROWID;
      CREATE INDEX alarm_activations_at ON alarm_activations (activated_at);
    `,
  },
  {
    version: 3,
    name: 'users, sign-in sessions and API tokens',
    sql: `
      -- usernames compare without case: "Admin" and "admin" are one user
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT,
        role TEXT NOT NULL,
        -- scrypt: parameters, salt and hash in one string (see gateway/server/auth/passwords.ts)
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        -- first-run, config, demo or admin: who created it
        origin TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        password_changed_at INTEGER NOT NULL,
        last_login_at INTEGER
      );

      -- the cookie holds a random id; only its SHA-256 is stored
      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        remote_address TEXT
      ) WITHOUT ROWID;
      CREATE INDEX sessions_user ON sessions (user_id);

      -- bearer tokens for scripts; only their SHA-256 is stored
      CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        hint TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        expires_at INTEGER,
        last_used_at INTEGER,
        revoked_at INTEGER
      );
      CREATE INDEX api_tokens_user ON api_tokens (user_id);
    `,
  },
  {
    version: 4,
    name: "users' dashboard language",
    sql: `
      -- null: the user has not chosen; the dashboard follows the browser
      ALTER TABLE users ADD COLUMN language TEXT;
    `,
  },
  {
    version: 5,
    name: 'minute rollups keyed by minute',
    sql: `
      -- Every batch updates the current minute's rollup of every tag it holds. Keyed (minute, tag),
      -- those rows sit side by side on a few pages; keyed (tag, minute), a store that has run for an
      -- hour or more has each tag's latest rollups on a page of their own, and every batch rewrites
      -- one more page per tag. A tag's range reads go through rollup_1m_tag (INDEXED BY: on a short
      -- range the planner may prefer the minute key, which scans every tag), which only changes
      -- when a tag starts a new minute.
      CREATE TABLE rollup_1m_by_minute (
        minute_ts INTEGER NOT NULL,
        tag_id INTEGER NOT NULL REFERENCES tags (id),
        min_value REAL,
        max_value REAL,
        avg_value REAL,
        last_value REAL,
        last_ts INTEGER,
        sample_count INTEGER NOT NULL,
        good_count INTEGER NOT NULL,
        PRIMARY KEY (minute_ts, tag_id)
      ) WITHOUT ROWID;
      INSERT INTO rollup_1m_by_minute
        SELECT minute_ts, tag_id, min_value, max_value, avg_value, last_value, last_ts, sample_count, good_count
        FROM rollup_1m ORDER BY minute_ts, tag_id;
      DROP TABLE rollup_1m;
      ALTER TABLE rollup_1m_by_minute RENAME TO rollup_1m;
      CREATE INDEX rollup_1m_tag ON rollup_1m (tag_id, minute_ts);
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

/**
 * Brings the database to the latest schema: each pending migration runs in
 * its own transaction together with its row in `schema_migrations`, so a crash
 * leaves the schema at a known version. Returns the versions applied.
 */
export function migrate(
  db: Database.Database,
  path: string,
  now: number,
  migrations: readonly Migration[] = MIGRATIONS,
): number[] {
  const latest = migrations.reduce((v, m) => Math.max(v, m.version), 0);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const current = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  if (current > latest) {
    throw new StoreError(
      'GL_ERR_STORE_SCHEMA_NEWER',
      `the store ${path} has schema version ${current}, written by a newer greenline; this one knows up to version ${latest}. ` +
        'Run the newer greenline, or set store.path to another file (keep this one: it holds your history).',
    );
  }
  const applied: number[] = [];
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    try {
      db.transaction(() => {
        db.exec(m.sql);
        record.run(m.version, m.name, now);
      })();
    } catch (err) {
      throw new StoreError(
        'GL_ERR_STORE_MIGRATION',
        `could not upgrade the store ${path} to schema version ${m.version} (${m.name}): ${err instanceof Error ? err.message : String(err)}. ` +
          'The file is unchanged at version ' +
          `${applied.at(-1) ?? current}; check disk space and permissions, then start again.`,
        { cause: err },
      );
    }
    applied.push(m.version);
  }
  return applied;
}
