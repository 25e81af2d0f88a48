import { createRequire } from 'node:module';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import {
  jobTransferList,
  SAMPLE_BATCH_EXECUTOR_SOURCE,
  type SampleBatchJob,
  type SampleBatchResult,
} from './batch-insert.js';
import type { StoreLog } from './codec.js';
import { SharedWriteGate, WRITE_TURN_SOURCE } from './write-gate.js';

/**
 * Writes the store's sample batches (and retention deletes) from a worker
 * thread, on a connection of its own.
 *
 * A batch costs about one b-tree page per tag it touches, so a plant of ten
 * thousand tags polled ten times a second spends a good part of a core in
 * SQLite. On the event loop that time stalls every driver's polling and every
 * live update for tens of milliseconds at a time; in the worker it runs beside
 * them.
 *
 * Requests run one at a time in the order they were sent, so sample batches
 * stay in order and retention never waits on a lock the worker itself holds.
 * `settle()` waits for an answer synchronously (a shutdown, or a caller that
 * needs the rows on disk before it goes on).
 */

// plain JavaScript evaluated in the worker, so it runs the same from TypeScript sources and from the build
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
${SAMPLE_BATCH_EXECUTOR_SOURCE}
${WRITE_TURN_SOURCE}
const port = workerData.port;
const signal = new Int32Array(workerData.signal);
// [0] counts answers, [1] is set once the thread ends: either wakes a settle() waiting on the event loop's thread;
// [2] and [3] are the write gate's (write-gate.ts)
process.on('exit', () => {
  Atomics.store(signal, 1, 1);
  Atomics.notify(signal, 0);
});
const answer = (reply) => {
  port.postMessage(reply);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
};
(function serve() {
  let db;
  let executor;
  let turn;
  try {
    db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
    for (const p of workerData.pragmas) db.pragma(p);
    turn = createWriteTurn(signal, workerData.busyTimeoutMs);
    executor = createSampleBatchExecutor(db, { turn });
  } catch (e) {
    answer({ id: 0, ok: false, error: String((e && e.message) || e) });
    if (db) db.close();
    port.close();
    return;
  }
  port.on('message', (m) => {
    if (m.type === 'close') {
      db.close();
      port.close();
      return;
    }
    try {
      if (m.type === 'samples') {
        const r = executor.write(m.job);
        answer({ id: m.id, ok: true, replaced: r.replaced, newTags: r.newTags });
      } else if (m.type === 'run') {
        answer({ id: m.id, ok: true, changes: executor.run(m.sql, m.params) });
      } else if (m.type === 'pragma') {
        turn.begin();
        try {
          db.pragma(m.pragma);
        } finally {
          turn.end();
        }
        answer({ id: m.id, ok: true });
      }
    } catch (e) {
      answer({ id: m.id, ok: false, error: String((e && e.message) || e), code: e && e.code });
    }
  });
  answer({ id: 0, ok: true });
})();
`;

const WORKER_YOUNG_GENERATION_MB = 8;

export interface StoreWriteWorkerOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
  /** pragmas the connection runs once opened (synchronous, cache size, checkpoints…) */
  readonly pragmas: readonly string[];
  readonly log: StoreLog;
  /** called once when the worker stops unexpectedly: the store writes on its own connection from then on */
  readonly onFailure: (err: Error) => void;
}

type Reply =
  | { id: number; ok: true; replaced?: number; newTags?: [string, number][]; changes?: number[] }
  | { id: number; ok: false; error: string; code?: string };

type Answer = (err: Error | null, reply: (Reply & { ok: true }) | null) => void;

/** A failed request: the SQLite message, and its code when SQLite gave one. */
export class WorkerRequestError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'WorkerRequestError';
  }
}

export class StoreWriteWorker {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private readonly signal = new Int32Array(new SharedArrayBuffer(16));
  /** for writes of this thread's connections to the same file: they wait for one short transaction at most */
  readonly gate: SharedWriteGate;
  private readonly pending = new Map<number, Answer>();
  /** run once nothing is under way in the worker */
  private idle: (() => void)[] = [];
  private nextId = 1;
  private failed = false;
  private stopping = false;
  private exited = false;

  constructor(private readonly options: StoreWriteWorkerOptions) {
    this.gate = new SharedWriteGate(this.signal, options.busyTimeoutMs, () => this.running);
  }

  /** running and usable */
  get running(): boolean {
    return this.port !== undefined && !this.failed;
  }

  async start(): Promise<void> {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver,
        path: this.options.path,
        busyTimeoutMs: this.options.busyTimeoutMs,
        pragmas: this.options.pragmas,
        port: port2,
        signal: this.signal.buffer,
      },
      transferList: [port2],
      // what a batch allocates lives for that batch only: a small young generation holds it, and the
      // default one (tens of MB, grown to once and kept) would only add to the process's memory
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const cleanup = (): void => {
          port1.off('message', onReady);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        const onReady = (m: Reply): void => {
          cleanup();
          if (m.ok) resolve();
          else reject(new Error(m.error));
        };
        const onError = (err: Error): void => {
          cleanup();
          reject(err);
        };
        const onExit = (code: number): void => {
          cleanup();
          reject(new Error(`store write worker exited with code ${code} before it was ready`));
        };
        port1.on('message', onReady);
        worker.on('error', onError);
        worker.on('exit', onExit);
      });
    } catch (err) {
      port1.close();
      await worker.terminate();
      throw err;
    }
    port1.on('message', (m: Reply) => this.onReply(m));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      this.exited = true;
      if (!this.stopping) this.fail(new Error(`store write worker exited with code ${code}`));
    });
    worker.unref();
    port1.unref();
    this.worker = worker;
    this.port = port1;
  }

  /**
   * Writes a batch in one transaction; `done` runs once it committed or
   * failed. The job's buffers are handed over (unusable here afterwards).
   * Returns the request's id (for `settle`), or null when the worker is not running.
   */
  writeSamples(
    job: SampleBatchJob,
    done: (err: Error | null, result: SampleBatchResult | null) => void,
  ): number | null {
    return this.request({ type: 'samples', job }, jobTransferList(job), (err, reply) =>
      done(err, reply === null ? null : { replaced: reply.replaced ?? 0, newTags: reply.newTags ?? [] }),
    );
  }

  /** Runs one statement with each parameter list (each its own transaction); the rows each changed. */
  run(sql: string, params: readonly (readonly unknown[])[]): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const id = this.request({ type: 'run', sql, params }, [], (err, reply) =>
        err === null ? resolve(reply?.changes ?? []) : reject(err),
      );
      if (id === null) reject(new Error('the store write worker is not running'));
    });
  }

  pragma(pragma: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const id = this.request({ type: 'pragma', pragma }, [], (err) => (err === null ? resolve() : reject(err)));
      if (id === null) reject(new Error('the store write worker is not running'));
    });
  }

  /**
   * Blocks until request `id` has been answered and its callback has run.
   * Returns false when the worker ended without answering (the callback then
   * got an error).
   */
  settle(id: number): boolean {
    while (this.pending.has(id)) {
      const port = this.port;
      if (port === undefined || this.failed) return false;
      const seen = Atomics.load(this.signal, 0);
      const m = receiveMessageOnPort(port);
      if (m !== undefined) {
        this.onReply(m.message as Reply);
        continue;
      }
      if (Atomics.load(this.signal, 1) === 1) {
        this.fail(new Error('store write worker stopped'));
        return false;
      }
      Atomics.wait(this.signal, 0, seen, 1000);
    }
    return true;
  }

  /**
   * Runs `fn` on this thread at a moment when no request of the worker is
   * under way: at once when none is, else right after the last one is
   * answered (before anything can send another). Writes `fn` makes on
   * another connection to the same file then never wait for the worker's
   * write lock, which a batch holds for tens of milliseconds.
   */
  whenIdle(fn: () => void): void {
    if (this.pending.size === 0 || !this.running) fn();
    else this.idle.push(fn);
  }

  /** Answers the requests sent, closes the connection and ends the thread. */
  async stop(): Promise<void> {
    const worker = this.worker;
    const port = this.port;
    if (worker === undefined || port === undefined) return;
    this.stopping = true;
    const exited = this.exited
      ? Promise.resolve()
      : new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // keep the process alive until the worker has closed its connection
    worker.ref();
    port.ref();
    // requests are served in order: every one sent before this is answered before the connection closes
    port.postMessage({ type: 'close' });
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, 10_000, 'timeout').unref());
    const ended = await Promise.race([exited, timeout]);
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      this.onReply(m.message as Reply);
    }
    this.worker = undefined;
    this.port = undefined;
    port.close();
    if (ended === 'timeout') await worker.terminate();
    this.answerAll(new Error('the store write worker was stopped'));
    this.runIdle();
  }

  private request(message: object, transfer: ArrayBuffer[], answer: Answer): number | null {
    const port = this.port;
    if (port === undefined || this.failed) return null;
    const id = this.nextId++;
    this.pending.set(id, answer);
    // an answer on its way keeps the process alive
    if (this.pending.size === 1) port.ref();
    port.postMessage({ ...message, id }, transfer);
    return id;
  }

  private onReply(m: Reply): void {
    const answer = this.pending.get(m.id);
    if (answer === undefined) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.port?.unref();
    if (m.ok) answer(null, m);
    else answer(new WorkerRequestError(m.error, m.code), null);
    if (this.pending.size === 0) this.runIdle();
  }

  private runIdle(): void {
    const waiting = this.idle;
    this.idle = [];
    for (const fn of waiting) {
      try {
        fn();
      } catch (err) {
        this.options.log.error(
          { err: err instanceof Error ? err.message : String(err) },
          'a store write waiting for the worker failed',
        );
      }
    }
  }

  private answerAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const answer of all) answer(err, null);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.options.log.error(
      { err: err.message },
      'the store write worker stopped; the store writes on its own connection from now on',
    );
    this.answerAll(err);
    this.options.onFailure(err);
    this.runIdle();
  }
}
