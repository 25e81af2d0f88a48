/**
 * A durable on-disk queue of points for a sink: its own SQLite file (WAL),
 * one row per point, oldest first.
 *
 * A point is committed here before anyone tries to send it and removed only
 * once the receiver acknowledged it; `append` is one transaction, so a batch
 * is either wholly in the outbox or not at all.
 *
 * Durability. With `synchronous: 'normal'` (the default) a committed
 * transaction is in the write-ahead log in the operating system's hands when
 * `append` returns: it survives the process being killed (SIGKILL, a crash,
 * an out-of-memory kill). A power cut or kernel crash may lose the last
 * transactions committed since the log was last synced to the disk (at each
 * checkpoint); the file stays consistent. `synchronous: 'full'` syncs the log
 * at every commit, so a commit also survives a power cut, at the cost of one
 * disk sync per transaction (milliseconds on SD cards and industrial flash).
 *
 * Quota. The backlog is held within `maxBytes`, counted as the points' line
 * protocol plus OUTBOX_ROW_OVERHEAD_BYTES per point (SQLite's row and page
 * overhead). An append that would pass it drops the oldest points in the same
 * transaction (never those being sent) and reports how many. The file does
 * not shrink on its own: freed pages are reused, and `compact()` hands them
 * back to the file system once the backlog is small.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { messageOf, SinkError } from './errors.js';

/** bytes counted per point on top of its line protocol: SQLite's row header, rowid, time and page slack */
export const OUTBOX_ROW_OVERHEAD_BYTES = 24;
/** a quota drop frees this share of the quota beyond what is needed, so the next appends do not drop again at once */
const QUOTA_SLACK = 0.01;
const SCHEMA_VERSION = 1;

export interface OutboxOptions {
  /** the SQLite file; its folder is created when missing */
  readonly path: string;
  /** quota of the backlog, bytes (see OUTBOX_ROW_OVERHEAD_BYTES) */
  readonly maxBytes: number;
  /** `normal` (default): a commit survives a killed process; `full`: also a power cut, one disk sync per commit */
  readonly synchronous?: 'normal' | 'full';
  /** how long a statement waits for a lock held by another connection (default 5000) */
  readonly busyTimeoutMs?: number;
  /** who receives the points, for error messages (default `the receiver`) */
  readonly receiver?: string;
}

export interface OutboxPoint {
  readonly id: number;
  /** the point in line protocol */
  readonly line: string;
  /** when it was committed to the outbox, ms since epoch */
  readonly at: number;
}

export interface AppendResult {
  /** points dropped, oldest first, to keep the backlog within the quota */
  readonly dropped: number;
  readonly droppedBytes: number;
}

export interface OutboxStats {
  readonly path: string;
  readonly points: number;
  /** line protocol plus OUTBOX_ROW_OVERHEAD_BYTES per point */
  readonly bytes: number;
  readonly maxBytes: number;
  /** commit time of the oldest point; null when empty */
  readonly oldestAt: number | null;
  /** the database's pages (its file's size once the write-ahead log is checkpointed) */
  readonly databaseBytes: number;
  /** size on disk now: the database file and its write-ahead log (at most ~4 MiB between checkpoints) */
  readonly fileBytes: number;
}

interface Statements {
  readonly insert: Database.Statement<[string, number]>;
  readonly peek: Database.Statement<[number]>;
  readonly oldest: Database.Statement<[]>;
  readonly removeRange: Database.Statement<[number, number]>;
  readonly dropCandidates: Database.Statement<[number]>;
  readonly totals: Database.Statement<[]>;
}

export function pointBytes(line: string): number {
  return Buffer.byteLength(line, 'utf8') + OUTBOX_ROW_OVERHEAD_BYTES;
}

export class Outbox {
  readonly path: string;
  private readonly options: OutboxOptions;
  private db: Database.Database | undefined;
  private stmts: Statements | undefined;
  private points = 0;
  private bytes = 0;
  private oldestAt: number | null = null;
  /** points with ids up to this one are being sent: a quota drop leaves them alone */
  private protectedUpTo = 0;

  constructor(options: OutboxOptions) {
    if (!(options.maxBytes > 0)) {
      throw new SinkError(
        'GL_ERR_SINK_OPTION',
        `the outbox quota must be a positive number of bytes, got ${options.maxBytes}`,
      );
    }
    this.options = options;
    this.path = resolve(options.path);
  }

  get isOpen(): boolean {
    return this.db !== undefined;
  }

  /**
   * Opens (or creates) the file and checks it can be written. Throws a
   * `GL_ERR_SINK_OUTBOX` error naming the file and what to do.
   */
  open(): void {
    if (this.db !== undefined) return;
    const path = this.path;
    let db: Database.Database;
    try {
      mkdirSync(dirname(path), { recursive: true });
      db = new Database(path, { timeout: this.options.busyTimeoutMs ?? 5000 });
    } catch (err) {
      throw this.openError(err);
    }
    try {
      // before the first table: only a new file takes it; lets compact() give space back
      db.pragma('auto_vacuum = INCREMENTAL');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`the file system refused write-ahead logging (journal mode ${String(mode)})`);
      db.pragma(`synchronous = ${this.options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma(`busy_timeout = ${Math.floor(this.options.busyTimeoutMs ?? 5000)}`);
      db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
      db.exec(`
        CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, line TEXT NOT NULL, at INTEGER NOT NULL);
      `);
      const version = db.prepare("SELECT value FROM outbox_meta WHERE key = 'version'").pluck().get() as
        | string
        | undefined;
      if (version !== undefined && Number(version) > SCHEMA_VERSION) {
        throw new Error(
          `it was written by a newer greenline (outbox version ${version}, this one knows ${SCHEMA_VERSION})`,
        );
      }
      // a real write: a file opened read-only (no write permission) fails here, not at the first point
      db.prepare(
        "INSERT INTO outbox_meta (key, value) VALUES ('version', ?), ('openedAt', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(String(SCHEMA_VERSION), new Date().toISOString());
      const stmts: Statements = {
        insert: db.prepare('INSERT INTO points (line, at) VALUES (?, ?)'),
        peek: db.prepare('SELECT id, line, at FROM points ORDER BY id LIMIT ?'),
        oldest: db.prepare('SELECT at FROM points ORDER BY id LIMIT 1').pluck(),
        removeRange: db.prepare('DELETE FROM points WHERE id >= ? AND id <= ?'),
        dropCandidates: db.prepare('SELECT id, length(CAST(line AS BLOB)) AS n FROM points WHERE id > ? ORDER BY id'),
        totals: db.prepare('SELECT count(*) AS points, total(length(CAST(line AS BLOB))) AS bytes FROM points'),
      };
      this.db = db;
      this.stmts = stmts;
      this.resync();
    } catch (err) {
      this.db = undefined;
      this.stmts = undefined;
      try {
        db.close();
      } catch {
        // the open failed already; its reason is what matters
      }
      throw this.openError(err);
    }
  }

  /**
   * Commits the points in one transaction (with `at` as their commit time),
   * dropping the oldest ones beyond the quota in the same transaction.
   * Throws when nothing was committed (disk full, file gone read-only, …).
   */
  append(lines: readonly string[], at: number): AppendResult {
    const { db, stmts } = this.require();
    let added = 0;
    for (const line of lines) added += pointBytes(line);
    let result: AppendResult = { dropped: 0, droppedBytes: 0 };
    db.transaction(() => {
      for (const line of lines) stmts.insert.run(line, at);
      const total = this.bytes + added;
      if (total > this.options.maxBytes) {
        result = this.dropOldest(total - this.options.maxBytes * (1 - QUOTA_SLACK), stmts);
      }
    }).immediate();
    const wasEmpty = this.points === 0;
    this.points += lines.length - result.dropped;
    this.bytes += added - result.droppedBytes;
    if (wasEmpty || result.dropped > 0) this.oldestAt = this.points > 0 ? ((stmts.oldest.get() as number) ?? at) : null;
    return result;
  }

  /** The oldest points, at most `limit`, oldest first. */
  peek(limit: number): OutboxPoint[] {
    const { stmts } = this.require();
    return stmts.peek.all(Math.max(1, Math.floor(limit))) as OutboxPoint[];
  }

  /**
   * Keeps points up to `lastId` out of quota drops while they are being sent
   * (0: none). The sender sets it before a request and clears it after.
   */
  protect(lastId: number): void {
    this.protectedUpTo = lastId;
  }

  /** Removes points the receiver acknowledged (or refused for good): a run of ids, as `peek` handed them out. */
  remove(points: readonly OutboxPoint[]): number {
    if (points.length === 0) return 0;
    const { stmts } = this.require();
    const first = points[0]!.id;
    const last = points[points.length - 1]!.id;
    const removed = stmts.removeRange.run(first, last).changes;
    if (removed === points.length) {
      let bytes = 0;
      for (const p of points) bytes += pointBytes(p.line);
      this.points -= removed;
      this.bytes -= bytes;
      this.oldestAt = this.points > 0 ? ((stmts.oldest.get() as number | undefined) ?? null) : null;
    } else {
      // something else removed some of them meanwhile: count again rather than guess
      this.resync();
    }
    return removed;
  }

  stats(): OutboxStats {
    return {
      path: this.path,
      points: this.points,
      bytes: this.bytes,
      maxBytes: this.options.maxBytes,
      oldestAt: this.oldestAt,
      databaseBytes: this.databaseBytes(),
      fileBytes: fileSize(this.path) + fileSize(`${this.path}-wal`),
    };
  }

  private databaseBytes(): number {
    if (this.db === undefined) return fileSize(this.path);
    try {
      return (
        (this.db.pragma('page_count', { simple: true }) as number) *
        (this.db.pragma('page_size', { simple: true }) as number)
      );
    } catch {
      return fileSize(this.path);
    }
  }

  get size(): { readonly points: number; readonly bytes: number; readonly oldestAt: number | null } {
    return { points: this.points, bytes: this.bytes, oldestAt: this.oldestAt };
  }

  /**
   * Gives at most `maxPages` free pages back to the file system (after a
   * backlog drained). Returns whether free pages are left.
   */
  compact(maxPages = 2048): boolean {
    const { db } = this.require();
    const free = db.pragma('freelist_count', { simple: true }) as number;
    if (free === 0) return false;
    db.pragma(`incremental_vacuum(${Math.max(1, Math.floor(maxPages))})`);
    return (db.pragma('freelist_count', { simple: true }) as number) > 0;
  }

  close(): void {
    const db = this.db;
    this.db = undefined;
    this.stmts = undefined;
    if (db === undefined) return;
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // the log is replayed at the next open
    }
    db.close();
  }

  private dropOldest(excess: number, stmts: Statements): AppendResult {
    let dropped = 0;
    let droppedBytes = 0;
    let first = 0;
    let last = 0;
    for (const row of stmts.dropCandidates.iterate(this.protectedUpTo) as Iterable<{ id: number; n: number }>) {
      if (droppedBytes >= excess) break;
      if (first === 0) first = row.id;
      last = row.id;
      dropped++;
      droppedBytes += row.n + OUTBOX_ROW_OVERHEAD_BYTES;
    }
    if (dropped > 0) stmts.removeRange.run(first, last);
    return { dropped, droppedBytes };
  }

  private resync(): void {
    const { stmts } = this.require();
    const t = stmts.totals.get() as { points: number; bytes: number };
    this.points = t.points;
    this.bytes = t.bytes + t.points * OUTBOX_ROW_OVERHEAD_BYTES;
    this.oldestAt = (stmts.oldest.get() as number | undefined) ?? null;
  }

  private require(): { db: Database.Database; stmts: Statements } {
    if (this.db === undefined || this.stmts === undefined) {
      throw new SinkError('GL_ERR_SINK_STOPPED', `the outbox ${this.path} is not open`);
    }
    return { db: this.db, stmts: this.stmts };
  }

  private openError(err: unknown): SinkError {
    const path = this.path;
    const dir = dirname(path);
    const code = (err as { code?: unknown }).code;
    const reason = messageOf(err);
    let todo: string;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || /newer greenline/.test(reason)) {
      todo =
        `The file is not a greenline outbox or is damaged: stop the gateway, move ${path} away ` +
        '(keep it: it may hold points not yet sent) and start again; a new, empty outbox is created.';
    } else {
      todo =
        `Give the user running the gateway read and write access to ${path} and to its folder ${dir} ` +
        '(SQLite also creates the -wal and -shm files there), check the disk is not full or mounted read-only, ' +
        'then restart the gateway.';
    }
    return new SinkError(
      'GL_ERR_SINK_OUTBOX',
      `cannot use the outbox ${path}: ${reason}. ${todo} ` +
        `Until then nothing is sent to ${this.options.receiver ?? 'the receiver'}; the gateway runs on and keeps its own store.`,
      { cause: err },
    );
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
