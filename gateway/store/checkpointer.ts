import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { StoreLog } from './codec.js';

/**
 * Copies the write-ahead log into the database file from a worker thread.
 *
 * A checkpoint writes many pages and syncs the disk; done by the writing
 * connection (SQLite's default) it stalls the event loop, and with it every
 * driver's polling, for as long as the disk takes — long on SD cards and
 * industrial flash. A second connection in a worker runs them instead, so the
 * main thread only appends to the log (no sync with synchronous=NORMAL).
 * The writing connection keeps a large automatic checkpoint as a safety net
 * should the worker fall behind or fail.
 */

// plain JavaScript evaluated in the worker, so it runs the same from TypeScript sources and from the build
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String((e && e.message) || e) });
  }
});
parentPort.postMessage({ ready: true });
`;

export interface CheckpointerOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
  /** how often a checkpoint is requested while there are writes (default 1000) */
  readonly intervalMs?: number;
  readonly log: StoreLog;
  /** called once when the worker fails: the caller falls back to checkpoints on its own connection */
  readonly onFailure: (err: Error) => void;
}

type Reply =
  | { ready: true }
  | { ok: true; busy: number; log: number; checkpointed: number }
  | { ok: false; error: string };

export class Checkpointer {
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private dirty = false;
  private failed = false;
  private exited = false;
  private checkpoints = 0;
  private errors = 0;

  constructor(private readonly options: CheckpointerOptions) {}

  async start(): Promise<void> {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, path: this.options.path, busyTimeoutMs: this.options.busyTimeoutMs },
    });
    this.worker = worker;
    try {
      await new Promise<void>((resolve, reject) => {
        const cleanup = (): void => {
          worker.off('message', onReady);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        const onReady = (m: Reply): void => {
          if (!('ready' in m)) return;
          cleanup();
          resolve();
        };
        const onError = (err: Error): void => {
          cleanup();
          reject(err);
        };
        const onExit = (code: number): void => {
          cleanup();
          reject(new Error(`checkpoint worker exited with code ${code} before it was ready`));
        };
        worker.on('message', onReady);
        worker.on('error', onError);
        worker.on('exit', onExit);
      });
    } catch (err) {
      this.worker = undefined;
      await worker.terminate();
      throw err;
    }
    worker.on('message', (m: Reply) => this.onReply(m));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      this.exited = true;
      if (this.worker !== undefined) this.fail(new Error(`checkpoint worker exited with code ${code}`));
    });
    worker.unref();
    this.timer = setInterval(() => this.request(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** the log has new commits to copy */
  markDirty(): void {
    this.dirty = true;
  }

  stats(): { checkpoints: number; errors: number; running: boolean } {
    return { checkpoints: this.checkpoints, errors: this.errors, running: this.worker !== undefined && !this.failed };
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const worker = this.worker;
    this.worker = undefined;
    if (worker === undefined || this.exited) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // keep the process alive until the worker has closed its connection
    worker.ref();
    worker.postMessage('close');
    // a checkpoint in progress finishes first; never wait forever on a stuck disk
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, 10_000, 'timeout').unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') await worker.terminate();
  }

  private request(): void {
    if (this.worker === undefined || this.failed || this.inFlight || !this.dirty) return;
    this.dirty = false;
    this.inFlight = true;
    this.worker.postMessage('checkpoint');
  }

  private onReply(m: Reply): void {
    if ('ready' in m) return;
    this.inFlight = false;
    if (m.ok) {
      this.checkpoints++;
      // frames left behind (still written meanwhile) are copied next time
      if (m.checkpointed < m.log) this.dirty = true;
    } else {
      this.errors++;
      this.dirty = true;
      if (this.errors === 1 || this.errors % 100 === 0) {
        this.options.log.warn({ err: m.error, errors: this.errors }, 'background checkpoint failed; it is retried');
      }
    }
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.options.log.error(
      { err: err.message },
      'the background checkpoint worker stopped; the store checkpoints on its own connection from now on',
    );
    this.options.onFailure(err);
  }
}
