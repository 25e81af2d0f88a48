import type { StoredSample, StoreLog } from './codec.js';

/** Where the writer puts a batch: one transaction; throws when nothing was written. */
export interface SampleBatchTarget {
  writeBatch(rows: readonly StoredSample[]): void;
}

export interface SampleWriterOptions {
  /** rows per transaction; a full buffer is written at once */
  readonly batchMaxRows: number;
  /** longest a row waits in memory before it is written */
  readonly batchMaxDelayMs: number;
  /** hard cap of rows held in memory while writes fail (default 20 × batchMaxRows); beyond it the oldest are dropped */
  readonly maxPendingRows?: number;
  /** longest wait between retries after failed writes (default 5000) */
  readonly maxRetryDelayMs?: number;
  readonly log: StoreLog;
  readonly now?: () => number;
}

export interface SampleWriterStats {
  samplesWritten: number;
  pendingRows: number;
  /** rows dropped because the buffer was full or the writer was stopped */
  dropped: number;
  /** failed batch writes (rows kept and retried) */
  writeErrors: number;
  batchesWritten: number;
  lastError: string | null;
}

const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * Buffers samples and writes them in batches, one transaction each, so the
 * disk sees few large writes. Memory is bounded: while writes fail the rows
 * are kept and retried, up to a hard cap, after which the oldest are dropped,
 * counted and logged. `stop()` writes whatever is left.
 */
export class SampleWriter {
  private readonly target: SampleBatchTarget;
  private readonly batchMaxRows: number;
  private readonly batchMaxDelayMs: number;
  private readonly maxPendingRows: number;
  private readonly maxRetryDelayMs: number;
  private readonly log: StoreLog;
  private readonly now: () => number;

  private pending: StoredSample[] = [];
  /** rows before `head` are written already */
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private retryDelayMs = 0;
  private lastDropLogAt = Number.NEGATIVE_INFINITY;
  private droppedSinceLog = 0;
  private readonly counters: Omit<SampleWriterStats, 'pendingRows'> = {
    samplesWritten: 0,
    dropped: 0,
    writeErrors: 0,
    batchesWritten: 0,
    lastError: null,
  };

  constructor(target: SampleBatchTarget, options: SampleWriterOptions) {
    this.target = target;
    this.batchMaxRows = Math.max(1, Math.floor(options.batchMaxRows));
    this.batchMaxDelayMs = Math.max(1, options.batchMaxDelayMs);
    this.maxPendingRows = Math.max(this.batchMaxRows, options.maxPendingRows ?? 20 * this.batchMaxRows);
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 5000;
    this.log = options.log;
    this.now = options.now ?? Date.now;
  }

  get pendingRows(): number {
    return this.pending.length - this.head;
  }

  /** Queues samples for writing; never throws. Bound: `pipeline.subscribe(store.writer.write)`. */
  readonly write = (batch: readonly StoredSample[]): void => {
    if (this.state === 'stopped') {
      this.drop(batch.length, 'the store is stopped');
      return;
    }
    const pending = this.pending;
    let invalid = 0;
    for (let i = 0; i < batch.length; i++) {
      const row = batch[i] as StoredSample;
      // a row SQLite cannot take would fail its whole batch on every retry: refuse it here
      if (storable(row)) pending.push(row);
      else invalid++;
    }
    if (invalid > 0)
      this.drop(invalid, 'invalid rows (timestamp not a finite number or value not a number, boolean, string or null)');
    const excess = this.pendingRows - this.maxPendingRows;
    if (excess > 0) {
      this.head += excess;
      this.drop(excess, 'the write buffer is full because writes are failing or too slow');
      this.compact();
    }
    this.schedule();
  };

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.schedule(true);
  }

  /** Writes everything still buffered, then refuses new rows (they are counted as dropped). */
  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.clearTimers();
    while (this.pendingRows > 0 && this.flushOne()) {
      // keep writing until empty or a write fails
    }
    const left = this.pendingRows;
    if (left > 0) {
      this.pending = [];
      this.head = 0;
      this.counters.dropped += left;
      this.log.error(
        { rows: left, lastError: this.counters.lastError },
        'rows could not be written at shutdown and are lost: check the disk holding the store',
      );
    }
  }

  stats(): SampleWriterStats {
    return { ...this.counters, pendingRows: this.pendingRows };
  }

  /** Writes one batch now; false when the write failed (rows kept). */
  flushOne(): boolean {
    const n = Math.min(this.pendingRows, this.batchMaxRows);
    if (n === 0) return true;
    const rows =
      this.head === 0 && n === this.pending.length ? this.pending : this.pending.slice(this.head, this.head + n);
    try {
      this.target.writeBatch(rows);
    } catch (err) {
      this.counters.writeErrors++;
      const message = err instanceof Error ? err.message : String(err);
      const first = this.counters.lastError === null;
      this.counters.lastError = message;
      this.retryDelayMs = Math.min(this.maxRetryDelayMs, Math.max(this.batchMaxDelayMs, this.retryDelayMs * 2));
      // one line per failure streak start, then one per retry at most every maxRetryDelayMs
      if (first || this.retryDelayMs >= this.maxRetryDelayMs) {
        this.log.error(
          {
            err: message,
            pendingRows: this.pendingRows,
            retryInMs: this.retryDelayMs,
            writeErrors: this.counters.writeErrors,
          },
          'writing samples to the store failed; rows are kept and retried: check disk space and permissions of the store',
        );
      }
      return false;
    }
    if (this.counters.lastError !== null) {
      this.log.info({ writeErrors: this.counters.writeErrors }, 'writing samples to the store works again');
    }
    this.counters.lastError = null;
    this.retryDelayMs = 0;
    this.head += n;
    this.counters.samplesWritten += n;
    this.counters.batchesWritten++;
    this.compact();
    return true;
  }

  private drop(rows: number, why: string): void {
    if (rows <= 0) return;
    this.counters.dropped += rows;
    this.droppedSinceLog += rows;
    const now = this.now();
    if (now - this.lastDropLogAt >= DROP_LOG_INTERVAL_MS) {
      this.log.error(
        { rows: this.droppedSinceLog, droppedTotal: this.counters.dropped, lastError: this.counters.lastError },
        `samples dropped: ${why}`,
      );
      this.lastDropLogAt = now;
      this.droppedSinceLog = 0;
    }
  }

  private compact(): void {
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  private clearTimers(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** `backlog`: the rows left after a write have waited already, write them at the next turn */
  private schedule(backlog = false): void {
    if (this.state !== 'running' || this.pendingRows === 0) return;
    if (this.retryDelayMs > 0) {
      if (this.timer === undefined) this.timer = setTimeout(this.tick, this.retryDelayMs);
      return;
    }
    if (backlog || this.pendingRows >= this.batchMaxRows) {
      if (this.immediate === undefined) this.immediate = setImmediate(this.tick);
    } else if (this.timer === undefined) {
      this.timer = setTimeout(this.tick, this.batchMaxDelayMs);
    }
  }

  private readonly tick = (): void => {
    this.clearTimers();
    if (this.state !== 'running') return;
    // one batch per turn of the event loop, so a backlog never blocks the process for long
    this.flushOne();
    this.schedule(true);
  };
}

function storable(row: StoredSample): boolean {
  if (typeof row !== 'object' || row === null || typeof row.tagId !== 'string') return false;
  if (typeof row.ts !== 'number' || !Number.isFinite(row.ts)) return false;
  const v = row.value;
  if (row.reason !== undefined && row.reason !== null && typeof row.reason !== 'string') return false;
  return v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string';
}
