import type Database from 'better-sqlite3';

/**
 * Turn-taking between the store's write worker and the connections of the
 * event loop's thread that write to the same file (events, metrics, alarms,
 * users and sessions).
 *
 * SQLite lets one connection write at a time; one that finds the lock taken
 * sleeps and retries on a schedule of its own (1, 2, 5 … 100 ms), on the
 * thread that asked. A write on the event loop that meets a sample batch
 * being written would stall every driver's polling and every live update
 * for as long as that batch holds the lock, and then some. Instead, a write
 * here first asks for its turn: the worker, which commits its batches in
 * short transactions, pauses before the next one until the write is done,
 * and this thread waits at most for the transaction under way.
 *
 * Locks stay SQLite's: the gate only orders who asks, so a gate that
 * cannot be used (no worker, or one that stopped) just lets writes through.
 */
export interface WriteGate {
  /** runs `fn`, which writes on a connection of this thread, at a moment the worker is not writing */
  exclusive<T>(fn: () => T): T;
}

/** a gate that never waits: for stores without a write worker */
export const OPEN_GATE: WriteGate = Object.freeze({ exclusive: <T>(fn: () => T): T => fn() });

/** slots of the shared Int32Array the two threads take turns with */
export const GATE_WANTED = 2;
export const GATE_WRITING = 3;

/**
 * The worker's side, as plain JavaScript for its source: `createWriteTurn(signal, maxWaitMs)`
 * gives `{ begin, end }` to call around each of its transactions.
 */
export const WRITE_TURN_SOURCE = `
function createWriteTurn(signal, maxWaitMs) {
  return {
    begin() {
      const since = Date.now();
      for (;;) {
        Atomics.store(signal, ${GATE_WRITING}, 1);
        if (Atomics.load(signal, ${GATE_WANTED}) === 0) return;
        // a write of the event loop's thread asked first: let it have the lock
        Atomics.store(signal, ${GATE_WRITING}, 0);
        Atomics.notify(signal, ${GATE_WRITING});
        const left = maxWaitMs - (Date.now() - since);
        // never wait without end on the other thread: SQLite's lock still decides who writes
        if (left <= 0) {
          Atomics.store(signal, ${GATE_WRITING}, 1);
          return;
        }
        Atomics.wait(signal, ${GATE_WANTED}, 1, left);
      }
    },
    end() {
      Atomics.store(signal, ${GATE_WRITING}, 0);
      Atomics.notify(signal, ${GATE_WRITING});
    },
  };
}
`;

/**
 * The event loop's side: asks for the turn, waits until the worker's
 * transaction under way (if any) has committed, runs the write, gives the
 * turn back. Writes inside a write (a transaction's statements) ask once.
 */
export class SharedWriteGate implements WriteGate {
  private depth = 0;
  private waits = 0;
  private waitedMs = 0;
  private longestWaitMs = 0;

  /** `usable()` false: writes go through without asking (the worker is not running) */
  constructor(
    private readonly signal: Int32Array,
    private readonly maxWaitMs: number,
    private readonly usable: () => boolean,
  ) {}

  exclusive<T>(fn: () => T): T {
    if (this.depth > 0 || !this.usable()) return fn();
    const signal = this.signal;
    this.depth++;
    Atomics.store(signal, GATE_WANTED, 1);
    try {
      if (Atomics.load(signal, GATE_WRITING) === 1) this.waitForWorker();
      return fn();
    } finally {
      this.depth--;
      Atomics.store(signal, GATE_WANTED, 0);
      Atomics.notify(signal, GATE_WANTED);
    }
  }

  /** writes that had to wait for a transaction of the worker, and how long they waited */
  stats(): { waits: number; waitedMs: number; longestWaitMs: number } {
    return { waits: this.waits, waitedMs: this.waitedMs, longestWaitMs: this.longestWaitMs };
  }

  private waitForWorker(): void {
    const since = performance.now();
    let left = this.maxWaitMs;
    while (left > 0 && Atomics.load(this.signal, GATE_WRITING) === 1) {
      Atomics.wait(this.signal, GATE_WRITING, 1, left);
      left = this.maxWaitMs - (performance.now() - since);
    }
    const waited = performance.now() - since;
    this.waits++;
    this.waitedMs += waited;
    if (waited > this.longestWaitMs) this.longestWaitMs = waited;
  }
}

/**
 * The connection `db` with every write through `gate`: statements that
 * change the database, transactions, `exec` and `pragma`. Reads go straight
 * through (write-ahead logging lets them run beside the worker's writes).
 */
export function gateWrites(db: Database.Database, gate: WriteGate): Database.Database {
  if (gate === OPEN_GATE) return db;
  return new Proxy(db, {
    get(target, key, proxy) {
      switch (key) {
        case 'prepare':
          return (sql: string) => gateStatement(target.prepare(sql), gate);
        case 'transaction':
          return (fn: (...args: never[]) => unknown) => gateTransaction(target.transaction(fn), gate);
        case 'exec':
          return (sql: string) => {
            gate.exclusive(() => target.exec(sql));
            return proxy;
          };
        case 'pragma':
          return (source: string, options?: Database.PragmaOptions) =>
            gate.exclusive(() => target.pragma(source, options));
        default: {
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        }
      }
    },
  });
}

function gateStatement<S extends Database.Statement>(stmt: S, gate: WriteGate): S {
  if (stmt.readonly) return stmt;
  // INSERT … RETURNING reads its rows with get/all/iterate: those write too
  for (const method of ['run', 'get', 'all'] as const) {
    const call = stmt[method] as (...args: unknown[]) => unknown;
    Object.defineProperty(stmt, method, {
      value: (...args: unknown[]) => gate.exclusive(() => call.apply(stmt, args)),
      configurable: true,
      writable: true,
    });
  }
  return stmt;
}

function gateTransaction<F extends (...args: never[]) => unknown>(
  tx: Database.Transaction<F>,
  gate: WriteGate,
): Database.Transaction<F> {
  const wrap =
    (run: F) =>
    (...args: Parameters<F>) =>
      gate.exclusive(() => run(...args));
  return Object.assign(wrap(tx as unknown as F), {
    default: wrap(tx.default as unknown as F),
    deferred: wrap(tx.deferred as unknown as F),
    immediate: wrap(tx.immediate as unknown as F),
    exclusive: wrap(tx.exclusive as unknown as F),
  }) as unknown as Database.Transaction<F>;
}
