import type { StoredSample, StoreLog } from './codec.js';

/**
 * Where rows wait until they are written, oldest first, and the form a
 * batch of them takes for the target.
 */
export interface PendingQueue<B> {
  readonly length: number;
  push(row: StoredSample): void;
  /** the oldest `n` rows as one batch (they stay queued until `shift`) */
  batch(n: number): B;
  /** forgets the oldest `n` rows */
  shift(n: number): void;
  /** forgets `n` rows after the oldest `keep` */
  remove(keep: number, n: number): void;
  clear(): void;
}

/** Where the writer puts a batch: one transaction each. */
export interface SampleBatchTarget<B = readonly StoredSample[]> {
  /** Writes a batch before it returns; throws when nothing was written. */
  writeBatch(batch: B): void;
  /**
   * Begins writing a batch off the event loop; `done` runs later with null
   * once it committed, or with the error when nothing was written. Returns a
   * handle for `settle`, or null when only `writeBatch` can write now.
   */
  beginBatch?(batch: B, done: (err: unknown) => void): number | null;
  /** Blocks until the batch begun as `handle` is done and its `done` has run. */
  settle?(handle: number): void;
}

/** The rows as they came, in an array: batches are slices of it. */
export class RowQueue implements PendingQueue<readonly StoredSample[]> {
  private rows: StoredSample[] = [];
  /** rows before `head` are gone already */
  private head = 0;

  get length(): number {
    return this.rows.length - this.head;
  }

  push(row: StoredSample): void {
    this.rows.push(row);
  }

  batch(n: number): readonly StoredSample[] {
    return this.head === 0 && n === this.rows.length ? this.rows : this.rows.slice(this.head, this.head + n);
  }

  shift(n: number): void {
    this.head += n;
    if (this.head === this.rows.length) {
      this.rows = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head);
      this.head = 0;
    }
  }

  remove(keep: number, n: number): void {
    if (keep === 0) this.shift(n);
    else this.rows.splice(this.head + keep, n);
  }

  clear(): void {
    this.rows = [];
    this.head = 0;
  }
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
 *
 * A target that writes off the event loop (`beginBatch`) gets one batch at a
 * time; rows stay here, counted as pending, until their batch has committed.
 * Rows that arrive meanwhile wait for the delay or a full batch as usual, so
 * batches stay large.
 */
export class SampleWriter<B = readonly StoredSample[]> {
  private readonly target: SampleBatchTarget<B>;
  private readonly batchMaxRows: number;
  private readonly batchMaxDelayMs: number;
  private readonly maxPendingRows: number;
  private readonly maxRetryDelayMs: number;
  private readonly log: StoreLog;
  private readonly now: () => number;

  private readonly pending: PendingQueue<B>;
  /** the oldest rows, that a batch begun off the event loop is writing */
  private inFlight = 0;
  private inFlightHandle: number | undefined;
  /** counts batches begun: an answer for an earlier one (given up on) changes nothing */
  private batchSeq = 0;
  /** when the oldest row not in a batch arrived; undefined when there is none */
  private waitingSince: number | undefined;
  /** rows left over by the last batch: they have waited long enough */
  private backlog = false;
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

  /** `queue`: how rows wait and become batches for this target; the default keeps the rows as they are */
  constructor(target: SampleBatchTarget<B>, options: SampleWriterOptions, queue?: PendingQueue<B>) {
    this.target = target;
    this.pending = queue ?? (new RowQueue() as unknown as PendingQueue<B>);
    this.batchMaxRows = Math.max(1, Math.floor(options.batchMaxRows));
    this.batchMaxDelayMs = Math.max(1, options.batchMaxDelayMs);
    this.maxPendingRows = Math.max(this.batchMaxRows, options.maxPendingRows ?? 20 * this.batchMaxRows);
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 5000;
    this.log = options.log;
    this.now = options.now ?? Date.now;
  }

  get pendingRows(): number {
    return this.pending.length;
  }

  /** Queues samples for writing; never throws. Bound: `pipeline.subscribe(store.writer.write)`. */
  readonly write = (batch: readonly StoredSample[]): void => {
    if (this.state === 'stopped') {
      this.drop(batch.length, 'the store is stopped');
      return;
    }
    const pending = this.pending;
    if (this.waitingSince === undefined) this.waitingSince = this.now();
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
      // the oldest rows not being written go (a cap is never below one batch)
      this.pending.remove(this.inFlight, excess);
      this.drop(excess, 'the write buffer is full because writes are failing or too slow');
    }
    this.schedule();
  };

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    // rows written before the start have waited long enough
    this.backlog = this.pendingRows > 0;
    this.schedule();
  }

  /** Writes everything still buffered, then refuses new rows (they are counted as dropped). */
  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.clearTimers();
    this.settleInFlight();
    while (this.pendingRows > 0 && this.flushOne()) {
      // keep writing until empty or a write fails
    }
    const left = this.pendingRows;
    if (left > 0) {
      this.pending.clear();
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

  /**
   * Writes one batch now, on the caller's turn (after waiting for a batch
   * being written off the event loop); false when the write failed (rows kept).
   */
  flushOne(): boolean {
    this.settleInFlight();
    const n = this.take();
    if (n === 0) return true;
    try {
      this.target.writeBatch(this.pending.batch(n));
    } catch (err) {
      this.failed(err);
      return false;
    }
    this.succeeded(n);
    return true;
  }

  /** how many rows the next batch takes; marks what is left as backlog */
  private take(): number {
    const n = Math.min(this.pendingRows, this.batchMaxRows);
    this.backlog = this.pendingRows > n;
    if (!this.backlog) this.waitingSince = undefined;
    return n;
  }

  private settleInFlight(): void {
    const handle = this.inFlightHandle;
    if (handle === undefined) return;
    this.target.settle?.(handle);
    // a target without settle, or one that could not tell: the rows stay pending and are written again
    if (this.inFlightHandle === handle)
      this.batchDone(this.batchSeq, this.inFlight, new Error('the batch being written was abandoned'));
  }

  private batchDone(seq: number, n: number, err: unknown): void {
    if (seq !== this.batchSeq || this.inFlight === 0) return;
    this.inFlight = 0;
    this.inFlightHandle = undefined;
    if (err === null || err === undefined) this.succeeded(n);
    else this.failed(err);
    this.schedule();
  }

  private failed(err: unknown): void {
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
    // the rows wait for the retry, not for a new delay
    this.backlog = true;
  }

  private succeeded(n: number): void {
    if (this.counters.lastError !== null) {
      this.log.info({ writeErrors: this.counters.writeErrors }, 'writing samples to the store works again');
    }
    this.counters.lastError = null;
    this.retryDelayMs = 0;
    this.pending.shift(n);
    this.counters.samplesWritten += n;
    this.counters.batchesWritten++;
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

  private clearTimers(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** a full batch, or a backlog, at the next turn; otherwise when the oldest waiting row is batchMaxDelayMs old */
  private schedule(): void {
    if (this.state !== 'running' || this.inFlight > 0 || this.pendingRows === 0) return;
    if (this.retryDelayMs > 0) {
      if (this.timer === undefined) this.timer = setTimeout(this.tick, this.retryDelayMs);
      return;
    }
    if (this.backlog || this.pendingRows >= this.batchMaxRows) {
      if (this.immediate === undefined) this.immediate = setImmediate(this.tick);
    } else if (this.timer === undefined) {
      const waited = this.waitingSince === undefined ? 0 : this.now() - this.waitingSince;
      this.timer = setTimeout(this.tick, Math.max(0, this.batchMaxDelayMs - waited));
    }
  }

  private readonly tick = (): void => {
    this.clearTimers();
    if (this.state !== 'running' || this.inFlight > 0) return;
    const target = this.target;
    if (target.beginBatch !== undefined) {
      const n = this.take();
      if (n === 0) return;
      let handle: number | null;
      const seq = ++this.batchSeq;
      this.inFlight = n;
      try {
        handle = target.beginBatch(this.pending.batch(n), (err) => this.batchDone(seq, n, err));
      } catch (err) {
        this.batchDone(seq, n, err);
        return;
      }
      if (handle !== null) {
        // unless it was done already
        if (this.inFlight > 0 && seq === this.batchSeq) this.inFlightHandle = handle;
        return;
      }
      this.inFlight = 0;
    }
    // one batch per turn of the event loop, so a backlog never blocks the process for long
    this.flushOne();
    this.schedule();
  };
}

function storable(row: StoredSample): boolean {
  if (typeof row !== 'object' || row === null || typeof row.tagId !== 'string') return false;
  if (typeof row.ts !== 'number' || !Number.isFinite(row.ts)) return false;
  const v = row.value;
  if (row.reason !== undefined && row.reason !== null && typeof row.reason !== 'string') return false;
  return v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string';
}
