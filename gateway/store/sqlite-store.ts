import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { BatchInserter, type SampleBatchJob } from './batch-insert.js';
import { Checkpointer } from './checkpointer.js';
import { decodeValue, qualityFromCode, type StoredQuality, type StoredValue, type StoreLog } from './codec.js';
import { StoreError } from './errors.js';
import { type HistoryPoint, HistoryReader } from './history.js';
import { migrate } from './migrations.js';
import { SampleColumnQueue } from './sample-queue.js';
import { SampleWriter } from './sample-writer.js';
import { gateWrites, type WriteGate } from './write-gate.js';
import { StoreWriteWorker } from './write-worker.js';

const DAY_MS = 86_400_000;
/** pages of write-ahead log between checkpoints on the writing connection (about 40 MiB) */
const AUTO_CHECKPOINT_PAGES = 10_000;
/** the same while a worker checkpoints: only a safety net should it fall behind */
const AUTO_CHECKPOINT_PAGES_WITH_WORKER = 50_000;
/**
 * Page cache of the store's own connection while the write worker writes: it
 * only reads then, and a WAL connection drops its cache whenever another one
 * has committed (every batch), so a large one would only hold what the last
 * query read.
 */
const READ_CACHE_MIB = 8;
/** the write-ahead log file is cut back to this size by the first write after a checkpoint emptied it */
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;
/** tags whose old rows one retention step deletes (a statement each), between turns of the event loop */
const PRUNE_TAGS_PER_STEP = 50;

const PRUNE_RAW_SQL = 'DELETE FROM samples WHERE tag_id = ? AND ts < ? LIMIT ?';
const PRUNE_ROLLUPS_SQL = 'DELETE FROM rollup_1m WHERE minute_ts < ? LIMIT ?';
const PRUNE_EVENTS_SQL = 'DELETE FROM events WHERE ts < ? LIMIT ?';
const PRUNE_METRICS_SQL = 'DELETE FROM metrics_1m WHERE minute_ts < ? LIMIT ?';

export interface SqliteStoreOptions {
  /** SQLite file; a relative path is resolved against the working directory; `:memory:` for a throwaway store */
  readonly path: string;
  readonly rawRetentionDays: number;
  readonly rollupRetentionDays: number;
  readonly batchMaxRows: number;
  readonly batchMaxDelayMs: number;
  readonly log: StoreLog;
  readonly now?: () => number;
  /** rows held in memory at most while writes fail (default 20 × batchMaxRows) */
  readonly maxPendingRows?: number;
  /** how often retention runs (default hourly); the first run is `pruneFirstDelayMs` after start (default 10 s) */
  readonly pruneIntervalMs?: number;
  readonly pruneFirstDelayMs?: number;
  /** rows deleted per statement, so a prune never holds the database for long (default 10 000) */
  readonly pruneChunkRows?: number;
  /** how long a statement waits for a lock held by another connection (default 5000) */
  readonly busyTimeoutMs?: number;
  /**
   * page cache of the writing connection (default 16 MiB). A batch touches
   * about one leaf page per tag; pages beyond the cache come back from the
   * operating system's file cache, which costs less than the memory: at
   * 10 000 tags polled every 100 ms, 16 MiB and 64 MiB used the same CPU
   */
  readonly cacheSizeMiB?: number;
  /** checkpoint the write-ahead log from a worker thread, off the event loop (default true) */
  readonly backgroundCheckpoints?: boolean;
  /** write sample batches and retention deletes from a worker thread, off the event loop (default true) */
  readonly backgroundWrites?: boolean;
}

export interface StoreStats {
  readonly path: string;
  readonly samplesWritten: number;
  readonly pendingRows: number;
  readonly dropped: number;
  readonly lastError: string | null;
  readonly writeErrors: number;
  /** samples for a tag and millisecond already stored; the later value was kept */
  readonly duplicatesReplaced: number;
  readonly lastPruneAt: number | null;
  /** checkpoints done by the background worker; null when it is not running */
  readonly backgroundCheckpoints: number | null;
  /** whether sample batches are written from the background worker */
  readonly backgroundWrites: boolean;
}

export interface StoredRow {
  readonly tagId: string;
  readonly ts: number;
  readonly value: StoredValue;
  readonly quality: StoredQuality;
  readonly reason?: string;
}

export interface RollupRow {
  readonly minuteTs: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly avg: number | null;
  readonly last: number | null;
  readonly lastTs: number | null;
  readonly count: number;
  readonly goodCount: number;
}

/** A minute rollup and the tag it belongs to (pages of several tags). */
export interface TagRollupRow extends RollupRow {
  readonly tagId: string;
}

export interface StoredEvent {
  readonly id: number;
  readonly ts: number;
  readonly kind: string;
  readonly subject: string;
  readonly payload: unknown;
}

export interface MetricsRow {
  readonly minuteTs: number;
  readonly payload: unknown;
}

export interface PruneResult {
  readonly rawDeleted: number;
  readonly rollupsDeleted: number;
  readonly eventsDeleted: number;
  readonly metricsDeleted: number;
  /** false when stop() interrupted it; the next run continues */
  readonly complete: boolean;
}

interface RawRow {
  readonly ts: number;
  readonly value: number | null;
  readonly value_text: string | null;
  readonly quality: number;
  readonly reason: string | null;
}

interface Open {
  readonly db: Database.Database;
  readonly inserter: BatchInserter;
  readonly history: HistoryReader;
  readonly stmts: {
    readonly rawRange: Database.Statement;
    readonly lastBefore: Database.Statement;
    readonly firstFrom: Database.Statement;
    readonly lastUsableBefore: Database.Statement;
    readonly rollupRange: Database.Statement;
    readonly rawPage: Database.Statement;
    readonly rollupPage: Database.Statement;
    readonly metricsPage: Database.Statement;
    readonly appendEvent: Database.Statement;
    readonly events: Database.Statement;
    readonly putMetrics: Database.Statement;
    readonly metrics: Database.Statement;
    readonly tagInts: Database.Statement;
  };
}

const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * The embedded time-series store: raw samples, minute rollups, events and
 * per-minute metrics in one SQLite file (WAL). Samples enter through
 * `writer.write(batch)`, which batches them into transactions; everything
 * else is written at once. `start()` opens and migrates the file, `stop()`
 * flushes the writer and closes it.
 */
export class SqliteStore {
  readonly path: string;
  /** subscribe `(batch) => store.writer.write(batch)` to the pipeline */
  readonly writer: SampleWriter<SampleBatchJob>;
  private readonly options: SqliteStoreOptions;
  private readonly log: StoreLog;
  private readonly now: () => number;
  private open: Open | undefined;
  private checkpointer: Checkpointer | undefined;
  private writeWorker: StoreWriteWorker | undefined;
  private state: 'idle' | 'started' | 'stopped' = 'idle';
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<PruneResult> | undefined;
  private stopping = false;
  /** raw samples before this time may have been pruned */
  private rawHorizonMs = Number.NEGATIVE_INFINITY;
  private duplicatesReplaced = 0;
  private lastPruneAt: number | null = null;
  private lastPruneError: string | null = null;
  /**
   * For connections of this thread that write to the store's file (this
   * store's own, the alarm and user stores'): a write waits for one short
   * transaction of the write worker at most, not for a whole batch.
   */
  readonly writeGate: WriteGate = {
    exclusive: <T>(fn: () => T): T => {
      const worker = this.writeWorker;
      return worker === undefined ? fn() : worker.gate.exclusive(fn);
    },
  };

  constructor(options: SqliteStoreOptions) {
    this.options = options;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.path = options.path === ':memory:' ? options.path : resolve(options.path);
    this.writer = new SampleWriter(
      {
        writeBatch: (job) => this.writeBatch(job),
        beginBatch: (job, done) => this.beginBatch(job, done),
        settle: (handle) => this.writeWorker?.settle(handle),
      },
      {
        batchMaxRows: options.batchMaxRows,
        batchMaxDelayMs: options.batchMaxDelayMs,
        log: options.log,
        now: this.now,
        ...(options.maxPendingRows === undefined ? {} : { maxPendingRows: options.maxPendingRows }),
      },
      new SampleColumnQueue((tag) => this.open?.inserter.tagId(tag)),
    );
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    const open = this.openDatabase();
    this.open = open;
    if (this.path !== ':memory:' && this.options.backgroundCheckpoints !== false) {
      const checkpointer = new Checkpointer({
        path: this.path,
        busyTimeoutMs: this.options.busyTimeoutMs ?? 5000,
        log: this.log,
        onFailure: () => {
          if (this.open !== open) return;
          // the connection that writes the samples checkpoints from now on
          const worker = this.writeWorker;
          if (worker?.running) worker.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`).catch(() => undefined);
          else open.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
        },
      });
      try {
        await checkpointer.start();
        open.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES_WITH_WORKER}`);
        this.checkpointer = checkpointer;
      } catch (err) {
        await checkpointer.stop();
        this.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'no background checkpoint worker; the store checkpoints on its own connection',
        );
      }
    }
    if (this.path !== ':memory:' && this.options.backgroundWrites !== false) {
      const busyTimeoutMs = Math.floor(this.options.busyTimeoutMs ?? 5000);
      const cacheSize = this.cacheSizePragma();
      const writeWorker = new StoreWriteWorker({
        path: this.path,
        busyTimeoutMs,
        pragmas: [
          'synchronous = NORMAL',
          `busy_timeout = ${busyTimeoutMs}`,
          cacheSize,
          'temp_store = MEMORY',
          `wal_autocheckpoint = ${this.checkpointer === undefined ? AUTO_CHECKPOINT_PAGES : AUTO_CHECKPOINT_PAGES_WITH_WORKER}`,
          `journal_size_limit = ${JOURNAL_SIZE_LIMIT}`,
          'foreign_keys = ON',
        ],
        log: this.log,
        // the writer falls back to this connection by itself; it needs the cache and the checkpoints for that
        onFailure: () => {
          if (this.open !== open) return;
          open.db.pragma(cacheSize);
          open.db.pragma(
            `wal_autocheckpoint = ${this.checkpointer?.stats().running ? AUTO_CHECKPOINT_PAGES_WITH_WORKER : AUTO_CHECKPOINT_PAGES}`,
          );
          open.db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
        },
      });
      try {
        await writeWorker.start();
        this.writeWorker = writeWorker;
        open.db.pragma(`cache_size = ${-Math.min(READ_CACHE_MIB, this.options.cacheSizeMiB ?? 16) * 1024}`);
        // the worker's connection checkpoints when the log grows too long, and cuts the log file back after
        // one: a write here (events, metrics) does neither, each of which holds the event loop for tens of ms
        open.db.pragma('wal_autocheckpoint = 0');
        open.db.pragma('journal_size_limit = -1');
      } catch (err) {
        this.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'no background write worker; the store writes on its own connection',
        );
      }
    }
    this.state = 'started';
    this.writer.start();
    this.schedulePrune(this.options.pruneFirstDelayMs ?? 10_000);
    this.log.info({ path: this.path }, 'store opened');
  }

  async stop(): Promise<void> {
    if (this.state !== 'started') {
      // never opened: rows handed to the writer cannot be written; it counts and logs them
      if (this.state === 'idle') this.writer.stop();
      this.state = 'stopped';
      return;
    }
    this.stopping = true;
    if (this.pruneTimer !== undefined) clearTimeout(this.pruneTimer);
    this.pruneTimer = undefined;
    await this.pruning?.catch(() => undefined);
    this.writer.stop();
    await this.writeWorker?.stop();
    this.writeWorker = undefined;
    await this.checkpointer?.stop();
    this.checkpointer = undefined;
    const db = this.open?.db;
    this.open = undefined;
    this.state = 'stopped';
    if (db !== undefined) {
      try {
        db.pragma('optimize');
      } catch {
        // only a planner hint; closing matters
      }
      db.close();
    }
    this.log.info({ path: this.path, samplesWritten: this.writer.stats().samplesWritten }, 'store closed');
  }

  stats(): StoreStats {
    const w = this.writer.stats();
    return {
      path: this.path,
      samplesWritten: w.samplesWritten,
      pendingRows: w.pendingRows,
      dropped: w.dropped,
      lastError: w.lastError ?? this.lastPruneError,
      writeErrors: w.writeErrors,
      duplicatesReplaced: this.duplicatesReplaced,
      lastPruneAt: this.lastPruneAt,
      backgroundCheckpoints: this.checkpointer?.stats().running ? this.checkpointer.stats().checkpoints : null,
      backgroundWrites: this.writeWorker?.running === true,
    };
  }

  /** At most `maxPoints` points of a tag between two times (inclusive); see HistoryReader for how. */
  history(tagId: string, fromMs: number, toMs: number, maxPoints: number): HistoryPoint[] {
    const o = this.require();
    checkRange(fromMs, toMs);
    if (!Number.isFinite(maxPoints) || maxPoints < 1) {
      throw new StoreError('GL_ERR_STORE_ARGUMENT', `maxPoints must be at least 1, got ${maxPoints}`);
    }
    const id = o.inserter.tagId(tagId);
    if (id === undefined || toMs < fromMs) return [];
    return o.history.read(id, fromMs, toMs, Math.floor(maxPoints), this.rawHorizonMs);
  }

  /** Raw samples of a tag, oldest first, at most `limit`. */
  rawSamples(tagId: string, fromMs: number, toMs: number, limit = 100_000): StoredRow[] {
    const o = this.require();
    checkRange(fromMs, toMs);
    const id = o.inserter.tagId(tagId);
    if (id === undefined) return [];
    const rows = o.stmts.rawRange.all(id, fromMs, toMs, limit) as {
      ts: number;
      value: number | null;
      value_text: string | null;
      quality: number;
      reason: string | null;
    }[];
    return rows.map((r) => {
      const row = { tagId, ts: r.ts, value: decodeValue(r.value, r.value_text), quality: qualityFromCode(r.quality) };
      return r.reason === null ? row : { ...row, reason: r.reason };
    });
  }

  /**
   * The stored samples of several tags between two times (inclusive), merged
   * in time order (ties by tag), handed over in batches so a day of data never
   * sits in memory at once. Used to rebuild state after a restart.
   */
  replay(
    tagIds: readonly string[],
    fromMs: number,
    toMs: number,
    onBatch: (rows: readonly StoredRow[]) => void,
    batchSize = 5000,
  ): number {
    const o = this.require();
    checkRange(fromMs, toMs);
    const ids = new Map<number, string>();
    for (const tag of tagIds) {
      const id = o.inserter.tagId(tag);
      if (id !== undefined) ids.set(id, tag);
    }
    if (ids.size === 0) return 0;
    const list = [...ids.keys()].join(',');
    const stmt = o.db.prepare(
      `SELECT tag_id, ts, value, value_text, quality, reason FROM samples
       WHERE tag_id IN (${list}) AND ts >= ? AND ts <= ? ORDER BY ts, tag_id`,
    );
    let batch: StoredRow[] = [];
    let count = 0;
    for (const r of stmt.iterate(fromMs, toMs) as Iterable<{
      tag_id: number;
      ts: number;
      value: number | null;
      value_text: string | null;
      quality: number;
      reason: string | null;
    }>) {
      const base = {
        tagId: ids.get(r.tag_id)!,
        ts: r.ts,
        value: decodeValue(r.value, r.value_text),
        quality: qualityFromCode(r.quality),
      };
      batch.push(r.reason === null ? base : { ...base, reason: r.reason });
      if (batch.length >= batchSize) {
        count += batch.length;
        onBatch(batch);
        batch = [];
      }
    }
    if (batch.length > 0) {
      count += batch.length;
      onBatch(batch);
    }
    return count;
  }

  /**
   * What each tag last said before an instant: its last usable (good or
   * uncertain) sample, and its last sample of any quality when that came
   * later. Oldest first. Seeds state before a replay starts.
   */
  latestBefore(tagIds: readonly string[], beforeMs: number): StoredRow[] {
    const o = this.require();
    if (!Number.isFinite(beforeMs)) {
      throw new StoreError('GL_ERR_STORE_ARGUMENT', `beforeMs must be ms since epoch, got ${beforeMs}`);
    }
    const out: StoredRow[] = [];
    const toRow = (tagId: string, r: RawRow): StoredRow => {
      const row = { tagId, ts: r.ts, value: decodeValue(r.value, r.value_text), quality: qualityFromCode(r.quality) };
      return r.reason === null ? row : { ...row, reason: r.reason };
    };
    for (const tagId of tagIds) {
      const id = o.inserter.tagId(tagId);
      if (id === undefined) continue;
      const usable = o.stmts.lastUsableBefore.get(id, beforeMs) as RawRow | undefined;
      const any = o.stmts.lastBefore.get(id, beforeMs) as RawRow | undefined;
      if (usable) out.push(toRow(tagId, usable));
      if (any && (!usable || any.ts > usable.ts)) out.push(toRow(tagId, any));
    }
    return out.sort((a, b) => a.ts - b.ts || (a.tagId < b.tagId ? -1 : a.tagId > b.tagId ? 1 : 0));
  }

  /** The time of the oldest stored sample of any of these tags at or after `fromMs`, or null. */
  earliestFrom(tagIds: readonly string[], fromMs: number): number | null {
    const o = this.require();
    let first: number | null = null;
    for (const tagId of tagIds) {
      const id = o.inserter.tagId(tagId);
      if (id === undefined) continue;
      const row = o.stmts.firstFrom.get(id, fromMs) as { ts: number } | undefined;
      if (row !== undefined && (first === null || row.ts < first)) first = row.ts;
    }
    return first;
  }

  /** Minute rollups of a tag whose minute starts between two times. */
  rollups(tagId: string, fromMs: number, toMs: number): RollupRow[] {
    const o = this.require();
    checkRange(fromMs, toMs);
    const id = o.inserter.tagId(tagId);
    if (id === undefined) return [];
    return o.stmts.rollupRange.all(id, fromMs, toMs) as RollupRow[];
  }

  /**
   * Raw samples of several tags between two times (inclusive), merged in time
   * order (ties by tag id), in pages of at most `pageRows` rows. Each page is
   * read with short bounded queries and no statement stays open between pages,
   * so the caller may wait between them (writes go on meanwhile) and a long
   * range never sits in memory. Unknown tags give no rows.
   */
  *rawSamplePages(tagIds: readonly string[], fromMs: number, toMs: number, pageRows = 5000): Generator<StoredRow[]> {
    checkRange(fromMs, toMs);
    const sources = this.pageSources(tagIds, (tagId, id) => (after: number, limit: number) => {
      const rows = this.require().stmts.rawPage.all(id, after, toMs, limit) as RawRow[];
      return rows.map((r) => {
        const row = { tagId, ts: r.ts, value: decodeValue(r.value, r.value_text), quality: qualityFromCode(r.quality) };
        return r.reason === null ? row : { ...row, reason: r.reason };
      });
    });
    yield* mergedPages(sources, (r) => r.ts, fromMs, pageRows);
  }

  /** Minute rollups of several tags whose minute starts between two times (inclusive), merged like `rawSamplePages`. */
  *rollupPages(tagIds: readonly string[], fromMs: number, toMs: number, pageRows = 5000): Generator<TagRollupRow[]> {
    checkRange(fromMs, toMs);
    const sources = this.pageSources(tagIds, (tagId, id) => (after: number, limit: number) => {
      const rows = this.require().stmts.rollupPage.all(id, after, toMs, limit) as RollupRow[];
      return rows.map((r) => ({ tagId, ...r }));
    });
    yield* mergedPages(sources, (r) => r.minuteTs, fromMs, pageRows);
  }

  /**
   * The metrics of one entity for the minutes starting between two times
   * (inclusive), oldest first, in pages of at most `pageRows` (default one
   * day); like `rawSamplePages`, nothing stays open between pages.
   */
  *metricsPages(
    entityType: string,
    entityId: string,
    fromMs: number,
    toMs: number,
    pageRows = 1440,
  ): Generator<MetricsRow[]> {
    checkRange(fromMs, toMs);
    const limit = Math.max(1, Math.floor(pageRows));
    let after = Math.ceil(fromMs) - 1;
    for (;;) {
      const rows = this.require().stmts.metricsPage.all(entityType, entityId, after, toMs, limit) as {
        minuteTs: number;
        payload: string;
      }[];
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.minuteTs;
      yield rows.map((r) => ({ minuteTs: r.minuteTs, payload: JSON.parse(r.payload) as unknown }));
      if (rows.length < limit) return;
    }
  }

  /** One page reader per known tag, ordered by tag id (the tie order of merged pages). */
  private pageSources<T>(
    tagIds: readonly string[],
    reader: (tagId: string, id: number) => (after: number, limit: number) => T[],
  ): ((after: number, limit: number) => T[])[] {
    const o = this.require();
    const known = new Map<string, number>();
    for (const tagId of tagIds) {
      const id = o.inserter.tagId(tagId);
      if (id !== undefined) known.set(tagId, id);
    }
    return [...known.keys()].sort().map((tagId) => reader(tagId, known.get(tagId)!));
  }

  /**
   * Runs `fn` at a moment when the store's own writes are not under way, so
   * that what `fn` writes (events, metrics) does not wait for their lock and
   * stall the event loop: at once when nothing is being written, else as soon
   * as the batch being written has committed.
   */
  whenIdle(fn: () => void): void {
    const worker = this.writeWorker;
    if (worker?.running) worker.whenIdle(fn);
    else fn();
  }

  /** Records an event (alarm transition, acknowledgement, config change...) at once; returns its id. */
  appendEvent(kind: string, subject: string, payload: unknown, ts: number): number {
    const o = this.require();
    if (!Number.isFinite(ts))
      throw new StoreError('GL_ERR_STORE_ARGUMENT', `event time must be ms since epoch, got ${ts}`);
    const json = toJson(payload, 'event payload');
    return Number(o.stmts.appendEvent.run(Math.round(ts), kind, subject, json).lastInsertRowid);
  }

  /** Events between two times (inclusive), oldest first, optionally of some kinds only. */
  /** Several events in one transaction; returns how many were written. */
  appendEvents(events: readonly { kind: string; subject: string; payload: unknown; ts: number }[]): number {
    const o = this.require();
    const rows = events.map((e) => {
      if (!Number.isFinite(e.ts))
        throw new StoreError('GL_ERR_STORE_ARGUMENT', `event time must be ms since epoch, got ${e.ts}`);
      return [Math.round(e.ts), e.kind, e.subject, toJson(e.payload, 'event payload')] as const;
    });
    o.db.transaction(() => {
      for (const r of rows) o.stmts.appendEvent.run(...r);
    })();
    return rows.length;
  }

  /** The time of the newest event of these kinds at or before `beforeMs`, or null. */
  latestEventTs(kinds: readonly string[], beforeMs: number): number | null {
    const o = this.require();
    const row = o.db
      .prepare(`SELECT MAX(ts) AS ts FROM events WHERE ts <= ? AND kind IN (SELECT value FROM json_each(?))`)
      .get(beforeMs, JSON.stringify(kinds)) as { ts: number | null } | undefined;
    return row?.ts ?? null;
  }

  events(fromMs: number, toMs: number, kinds?: readonly string[], limit = 10_000): StoredEvent[] {
    const o = this.require();
    checkRange(fromMs, toMs);
    const kindsJson = kinds === undefined ? null : JSON.stringify(kinds);
    const rows = o.stmts.events.all(fromMs, toMs, kindsJson, kindsJson, limit) as {
      id: number;
      ts: number;
      kind: string;
      subject: string;
      payload: string;
    }[];
    return rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) as unknown }));
  }

  /** Stores the metrics of an entity (machine, line, site...) for one minute; a second write replaces the first. */
  putMetrics(entityType: string, entityId: string, minuteTs: number, payload: unknown): void {
    const o = this.require();
    if (!Number.isFinite(minuteTs))
      throw new StoreError('GL_ERR_STORE_ARGUMENT', `minuteTs must be ms since epoch, got ${minuteTs}`);
    o.stmts.putMetrics.run(
      entityType,
      entityId,
      Math.floor(minuteTs / 60_000) * 60_000,
      toJson(payload, 'metrics payload'),
    );
  }

  /** Several metrics rows in one transaction (replacing any for the same entity and minute). */
  putMetricsBatch(rows: readonly { entityType: string; entityId: string; minuteTs: number; payload: unknown }[]): void {
    const o = this.require();
    for (const r of rows) {
      if (!Number.isFinite(r.minuteTs))
        throw new StoreError('GL_ERR_STORE_ARGUMENT', `minuteTs must be ms since epoch, got ${r.minuteTs}`);
    }
    const encoded = rows.map((r) => [
      r.entityType,
      r.entityId,
      Math.floor(r.minuteTs / 60_000) * 60_000,
      toJson(r.payload, 'metrics payload'),
    ]);
    o.db.transaction(() => {
      for (const args of encoded) o.stmts.putMetrics.run(...args);
    })();
  }

  metrics(entityType: string, entityId: string, fromMs: number, toMs: number): MetricsRow[] {
    const o = this.require();
    checkRange(fromMs, toMs);
    const rows = o.stmts.metrics.all(entityType, entityId, fromMs, toMs) as { minuteTs: number; payload: string }[];
    return rows.map((r) => ({ minuteTs: r.minuteTs, payload: JSON.parse(r.payload) as unknown }));
  }

  /**
   * Deletes raw samples older than rawRetentionDays, and rollups, metrics and
   * events older than rollupRetentionDays, in chunks of `pruneChunkRows` rows
   * with a turn of the event loop between chunks, so writes go on meanwhile.
   * One run at a time: a call during a run gets that run's result.
   */
  pruneOnce(nowMs: number): Promise<PruneResult> {
    this.require();
    if (this.pruning === undefined) {
      this.pruning = this.prune(nowMs).finally(() => {
        this.pruning = undefined;
      });
    }
    return this.pruning;
  }

  private async prune(nowMs: number): Promise<PruneResult> {
    const chunk = this.options.pruneChunkRows ?? 10_000;
    const rawCutoff = nowMs - this.options.rawRetentionDays * DAY_MS;
    const longCutoff = nowMs - this.options.rollupRetentionDays * DAY_MS;
    // from now on raw data before the cutoff counts as gone, even while it is being deleted
    this.rawHorizonMs = Math.max(this.rawHorizonMs, rawCutoff);
    const result = { rawDeleted: 0, rollupsDeleted: 0, eventsDeleted: 0, metricsDeleted: 0, complete: false };

    const stopped = (): boolean => this.stopping || this.open === undefined;
    // one statement per parameter list; on the write worker when it runs, so retention never waits on its lock
    const run = async (sql: string, params: readonly (readonly unknown[])[]): Promise<number[]> => {
      const worker = this.writeWorker;
      if (worker?.running) return worker.run(sql, params);
      const changes = this.require().inserter.run(sql, params);
      await yieldTurn();
      return changes;
    };
    /** deletes in chunks until each parameter list deleted less than a chunk; false when stopped meanwhile */
    const drain = async (sql: string, params: readonly (readonly unknown[])[], add: (n: number) => void) => {
      let todo = params;
      while (todo.length > 0) {
        if (stopped()) return false;
        const changes = await run(sql, todo);
        for (const n of changes) add(n);
        todo = todo.filter((_, i) => changes[i] === chunk);
      }
      return true;
    };

    const tagInts = this.require().stmts.tagInts.all() as number[];
    for (let i = 0; i < tagInts.length; i += PRUNE_TAGS_PER_STEP) {
      const ids = tagInts.slice(i, i + PRUNE_TAGS_PER_STEP);
      const ok = await drain(
        PRUNE_RAW_SQL,
        ids.map((id) => [id, rawCutoff, chunk]),
        (n) => (result.rawDeleted += n),
      );
      if (!ok) return result;
    }
    const ok =
      (await drain(PRUNE_ROLLUPS_SQL, [[longCutoff, chunk]], (n) => (result.rollupsDeleted += n))) &&
      (await drain(PRUNE_EVENTS_SQL, [[longCutoff, chunk]], (n) => (result.eventsDeleted += n))) &&
      (await drain(PRUNE_METRICS_SQL, [[longCutoff, chunk]], (n) => (result.metricsDeleted += n)));
    if (!ok) return result;
    result.complete = true;
    this.lastPruneAt = nowMs;
    this.lastPruneError = null;
    if (result.rawDeleted + result.rollupsDeleted + result.eventsDeleted + result.metricsDeleted > 0) {
      this.log.info({ ...result, rawBefore: rawCutoff, rollupsBefore: longCutoff }, 'store retention applied');
    }
    return result;
  }

  private schedulePrune(delayMs: number): void {
    if (this.stopping) return;
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = undefined;
      this.pruneOnce(this.now())
        .catch((err: unknown) => {
          this.lastPruneError = err instanceof Error ? err.message : String(err);
          this.log.error({ err: this.lastPruneError }, 'store retention failed; it runs again at the next interval');
        })
        .finally(() => this.schedulePrune(this.options.pruneIntervalMs ?? 3_600_000));
    }, delayMs);
    this.pruneTimer.unref();
  }

  private writeBatch(job: SampleBatchJob): void {
    const o = this.open;
    if (o === undefined) throw new StoreError('GL_ERR_STORE_NOT_STARTED', 'the store is not open; call start() first');
    const { replaced } = o.inserter.write(job);
    this.duplicatesReplaced += replaced;
    this.checkpointer?.markDirty();
  }

  /** a batch for the write worker; null when it does not run (the writer then writes on this connection) */
  private beginBatch(job: SampleBatchJob, done: (err: unknown) => void): number | null {
    const o = this.open;
    const worker = this.writeWorker;
    if (o === undefined || worker === undefined || !worker.running) return null;
    return worker.writeSamples(job, (err, result) => {
      if (result !== null) {
        o.inserter.learn(result.newTags);
        this.duplicatesReplaced += result.replaced;
        this.checkpointer?.markDirty();
      }
      done(err);
    });
  }

  /** the page cache a writing connection needs: about one page per tag a batch touches */
  private cacheSizePragma(): string {
    return `cache_size = ${-Math.floor((this.options.cacheSizeMiB ?? 16) * 1024)}`;
  }

  private require(): Open {
    if (this.open === undefined) {
      throw new StoreError(
        'GL_ERR_STORE_NOT_STARTED',
        this.state === 'stopped'
          ? 'the store is stopped; create a new SqliteStore to open it again'
          : 'the store is not open; call start() first',
      );
    }
    return this.open;
  }

  private openDatabase(): Open {
    const path = this.path;
    let db: Database.Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = gateWrites(new Database(path, { timeout: this.options.busyTimeoutMs ?? 5000 }), this.writeGate);
    } catch (err) {
      throw new StoreError(
        'GL_ERR_STORE_OPEN',
        `cannot open the store ${path}: ${err instanceof Error ? err.message : String(err)}. ` +
          'Check that its folder exists or can be created and is writable, or set store.path to another file.',
        { cause: err },
      );
    }
    try {
      if (path !== ':memory:') {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal')
          throw new Error(`the file system refused write-ahead logging (journal mode ${String(mode)})`);
      }
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${Math.floor(this.options.busyTimeoutMs ?? 5000)}`);
      db.pragma(this.cacheSizePragma());
      db.pragma('temp_store = MEMORY');
      // a batch touches about one page per tag; checkpointing every ~40 MiB instead of every 4 MiB copies
      // a page touched by many batches to the database once, and syncs the disk a tenth as often
      db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      db.pragma('foreign_keys = ON');
      migrate(db, path, this.now());
      return {
        db,
        inserter: new BatchInserter(db),
        history: new HistoryReader(db),
        stmts: {
          firstFrom: db.prepare('SELECT ts FROM samples WHERE tag_id = ? AND ts >= ? ORDER BY ts LIMIT 1'),
          lastBefore: db.prepare(
            'SELECT ts, value, value_text, quality, reason FROM samples WHERE tag_id = ? AND ts < ? ORDER BY ts DESC LIMIT 1',
          ),
          // quality codes 0 and 1: good and uncertain
          lastUsableBefore: db.prepare(
            'SELECT ts, value, value_text, quality, reason FROM samples WHERE tag_id = ? AND ts < ? AND quality <= 1 ORDER BY ts DESC LIMIT 1',
          ),
          rawRange: db.prepare(
            'SELECT ts, value, value_text, quality, reason FROM samples WHERE tag_id = ? AND ts >= ? AND ts <= ? ORDER BY ts LIMIT ?',
          ),
          // keyset pages: rows after the last one handed out, so each page is one short index walk
          rawPage: db.prepare(
            'SELECT ts, value, value_text, quality, reason FROM samples WHERE tag_id = ? AND ts > ? AND ts <= ? ORDER BY ts LIMIT ?',
          ),
          rollupPage: db.prepare(`
            SELECT minute_ts AS minuteTs, min_value AS min, max_value AS max, avg_value AS avg, last_value AS last,
                   last_ts AS lastTs, sample_count AS count, good_count AS goodCount
            FROM rollup_1m INDEXED BY rollup_1m_tag WHERE tag_id = ? AND minute_ts > ? AND minute_ts <= ? ORDER BY minute_ts LIMIT ?`),
          metricsPage: db.prepare(`
            SELECT minute_ts AS minuteTs, payload FROM metrics_1m
            WHERE entity_type = ? AND entity_id = ? AND minute_ts > ? AND minute_ts <= ? ORDER BY minute_ts LIMIT ?`),
          rollupRange: db.prepare(`
            SELECT minute_ts AS minuteTs, min_value AS min, max_value AS max, avg_value AS avg, last_value AS last,
                   last_ts AS lastTs, sample_count AS count, good_count AS goodCount
            FROM rollup_1m INDEXED BY rollup_1m_tag WHERE tag_id = ? AND minute_ts >= ? AND minute_ts <= ? ORDER BY minute_ts`),
          appendEvent: db.prepare('INSERT INTO events (ts, kind, subject, payload) VALUES (?, ?, ?, ?)'),
          events: db.prepare(`
            SELECT id, ts, kind, subject, payload FROM events
            WHERE ts >= ? AND ts <= ? AND (? IS NULL OR kind IN (SELECT value FROM json_each(?)))
            ORDER BY ts, id LIMIT ?`),
          putMetrics: db.prepare(`
            INSERT INTO metrics_1m (entity_type, entity_id, minute_ts, payload) VALUES (?, ?, ?, ?)
            ON CONFLICT (entity_type, entity_id, minute_ts) DO UPDATE SET payload = excluded.payload`),
          metrics: db.prepare(`
            SELECT minute_ts AS minuteTs, payload FROM metrics_1m
            WHERE entity_type = ? AND entity_id = ? AND minute_ts >= ? AND minute_ts <= ? ORDER BY minute_ts`),
          tagInts: db.prepare('SELECT id FROM tags ORDER BY id').pluck(),
        },
      };
    } catch (err) {
      db.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'GL_ERR_STORE_OPEN',
        `cannot use the store ${path}: ${err instanceof Error ? err.message : String(err)}. ` +
          'If the file is not a greenline store or is damaged, move it away (keep a copy) or set store.path to another file.',
        { cause: err },
      );
    }
  }
}

/**
 * Pages of rows from several sources (one per tag, each ordered by its key),
 * merged by key; ties go to the earlier source. Each source is read `per`
 * rows at a time, after the last key it handed out, so memory holds about
 * one page per source and one page of output.
 */
function* mergedPages<T>(
  sources: readonly ((after: number, limit: number) => T[])[],
  keyOf: (row: T) => number,
  fromMs: number,
  pageRows: number,
): Generator<T[]> {
  if (sources.length === 0) return;
  const size = Math.max(1, Math.floor(pageRows));
  const per = Math.max(64, Math.ceil(size / sources.length));
  const cursors = sources.map((read) => ({ read, rows: [] as T[], i: 0, after: Math.ceil(fromMs) - 1, done: false }));
  let out: T[] = [];
  for (;;) {
    let best: (typeof cursors)[number] | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    for (const c of cursors) {
      if (c.i >= c.rows.length && !c.done) {
        c.rows = c.read(c.after, per);
        c.i = 0;
        if (c.rows.length < per) c.done = true;
        if (c.rows.length > 0) c.after = keyOf(c.rows[c.rows.length - 1]!);
      }
      if (c.i < c.rows.length) {
        const key = keyOf(c.rows[c.i]!);
        if (key < bestKey) {
          bestKey = key;
          best = c;
        }
      }
    }
    if (best === undefined) break;
    out.push(best.rows[best.i++]!);
    if (out.length >= size) {
      yield out;
      out = [];
    }
  }
  if (out.length > 0) yield out;
}

function checkRange(fromMs: number, toMs: number): void {
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) {
    throw new StoreError(
      'GL_ERR_STORE_ARGUMENT',
      `a time range needs two ms-since-epoch numbers, got ${fromMs} and ${toMs}`,
    );
  }
}

function toJson(payload: unknown, what: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(payload ?? null);
  } catch (err) {
    throw new StoreError(
      'GL_ERR_STORE_ARGUMENT',
      `${what} cannot be stored as JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (json === undefined)
    throw new StoreError('GL_ERR_STORE_ARGUMENT', `${what} cannot be stored as JSON (a function or symbol)`);
  return json;
}
