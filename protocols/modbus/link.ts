/**
 * One connection to one Modbus device, over modbus-serial, with the guards
 * that library needs:
 *
 * - its connect callback may fire more than once or not at all, and a
 *   connect may throw synchronously: `open()` settles exactly once, with its
 *   own deadline, and destroys the client on any failure (a TCP connect that
 *   timed out keeps trying in the background otherwise);
 * - a request on a dead socket may never settle (closing the client cancels
 *   its timers without calling back): every request here has its own
 *   deadline, and `close()` rejects whatever is still pending;
 * - a socket error is not always reported as a `close`: a request failing
 *   with "Port Not Open" also counts as the link being lost;
 * - `close()` on a TCP port whose socket already failed never calls back:
 *   TCP links are destroyed instead, serial ports closed with a deadline;
 * - it keeps every settled transaction until its id comes round again: each
 *   read removes its own (see TransactionTable).
 *
 * `modbus-rtu` over TCP (`transport: tcp`) uses RTU frames with CRC on a raw
 * TCP stream, as serial-to-Ethernet gateways in transparent mode expect
 * (modbus-serial's TelnetPort). modbus-serial's "TcpRTUBuffered" port sends
 * Modbus TCP (MBAP) frames, which such gateways do not understand.
 */
import ModbusSerial from 'modbus-serial';
import type { ModbusArea } from '../../config/modbus-address.js';
import { describeError } from '../errors.js';

type ModbusClient = InstanceType<typeof ModbusSerial.default>;
const ModbusClientClass = ModbusSerial.default;

export type LinkTarget =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu-tcp'; host: string; port: number }
  | {
      kind: 'rtu-serial';
      path: string;
      baudRate: number;
      parity: 'none' | 'even' | 'odd';
      dataBits: 7 | 8;
      stopBits: 1 | 2;
    };

export interface LinkOptions {
  /** per request and for the connection attempt, ms */
  timeoutMs: number;
  /** requests in flight at once (RTU: always 1) */
  maxInFlight: number;
  /** called once when the connection goes away by itself (not after close()) */
  onLost: (reason: string) => void;
  /** each answered request's round trip (data or exception), ms */
  onRoundTrip?: (ms: number) => void;
  signal?: AbortSignal;
}

/** The connection is gone; the request was not answered. */
export class LinkClosedError extends Error {
  constructor(message = 'disconnected') {
    super(message);
    this.name = 'LinkClosedError';
  }
}

export class RequestTimeoutError extends Error {
  constructor() {
    super('timeout');
    this.name = 'RequestTimeoutError';
  }
}

/**
 * The device answered, but not with a well-formed answer to the request: a
 * wrong length, unit id or function code, a bad CRC, an answer that does not
 * hold the registers asked for. The byte stream may be out of step.
 */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(`protocol error: ${message}`);
    this.name = 'ProtocolError';
  }
}

export const MODBUS_EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export class ModbusExceptionError extends Error {
  constructor(readonly exceptionCode: number) {
    super(`exception ${exceptionCode} (${MODBUS_EXCEPTION_NAMES[exceptionCode] ?? 'unknown exception'})`);
    this.name = 'ModbusExceptionError';
  }
}

/** Time allowed beyond the library's own request timeout before this layer gives up. */
const DEADLINE_GRACE_MS = 250;
const SERIAL_CLOSE_DEADLINE_MS = 1000;

export function describeTarget(target: LinkTarget): string {
  switch (target.kind) {
    case 'tcp':
      return `modbus-tcp://${target.host}:${target.port}`;
    case 'rtu-tcp':
      return `modbus-rtu+tcp://${target.host}:${target.port}`;
    case 'rtu-serial': {
      const parity = target.parity === 'none' ? 'N' : target.parity === 'even' ? 'E' : 'O';
      return `modbus-rtu:${target.path}?${target.baudRate}-${target.dataBits}${parity}${target.stopBits}`;
    }
  }
}

function classify(err: unknown): Error {
  if (err instanceof LinkClosedError || err instanceof RequestTimeoutError || err instanceof ModbusExceptionError)
    return err;
  const e = (err ?? {}) as { modbusCode?: unknown; name?: unknown; errno?: unknown; message?: unknown };
  if (typeof e.modbusCode === 'number') return new ModbusExceptionError(e.modbusCode);
  if (e.name === 'TransactionTimedOutError' || e.errno === 'ETIMEDOUT') return new RequestTimeoutError();
  if (e.name === 'PortNotOpenError' || e.message === 'Port Not Open') return new LinkClosedError('port not open');
  // everything else the library reports is about the answer: a length, address or code that does
  // not match, a bad CRC, a frame too short to parse
  return new ProtocolError(describeError(err));
}

/** Why an answer cannot be the one asked for; null when it can. */
function answerProblem(area: ModbusArea, count: number, data: unknown): string | null {
  if (!Array.isArray(data)) return 'the answer holds no values';
  if (area === 'coil' || area === 'discrete-input') {
    // bits come in whole bytes: up to 7 beyond the count are padding
    return data.length >= count && data.length < count + 8
      ? null
      : `the answer holds ${data.length} bits, not the ${count} asked for`;
  }
  return data.length === count ? null : `the answer holds ${data.length} registers, not the ${count} asked for`;
}

/**
 * modbus-serial keeps every Modbus TCP transaction, with its callbacks, until
 * its transaction id comes round again 256 requests later: long enough for
 * the garbage collector to move them to the old generation, where they pile
 * up until a full collection (tens of MB at thousands of requests a second).
 * The link removes its own transaction once settled; an answer that still
 * arrives for it is then ignored, as the library ignores unknown ids.
 */
interface TransactionTable {
  readonly table: Record<number, unknown>;
  readonly port: { _transactionIdWrite?: number };
}

function transactionsOf(client: ModbusClient): TransactionTable | undefined {
  const internals = client as unknown as {
    _transactions?: Record<number, unknown>;
    _port?: { _transactionIdWrite?: number };
  };
  const table = internals._transactions;
  const port = internals._port;
  if (!table || typeof table !== 'object' || !port || typeof port._transactionIdWrite !== 'number') return undefined;
  return { table, port };
}

export class ModbusLink {
  private closed = false;
  private lostReported = false;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly pending = new Set<(err: Error) => void>();
  private transactions: TransactionTable | undefined;

  private constructor(
    private readonly client: ModbusClient,
    private readonly target: LinkTarget,
    private readonly options: LinkOptions,
  ) {}

  /** Connects; rejects on failure, timeout or abort (and leaves nothing open). */
  static async open(target: LinkTarget, options: LinkOptions): Promise<ModbusLink> {
    const client = new ModbusClientClass();
    const link = new ModbusLink(client, target, {
      ...options,
      maxInFlight: target.kind === 'tcp' ? Math.max(1, options.maxInFlight) : 1,
    });
    // An 'error' event with no listener would throw out of the library.
    client.on('error', (err: unknown) => link.lost(`port error: ${describeError(err)}`));
    client.setTimeout(options.timeoutMs);

    try {
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        const settle = (err?: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          if (err) reject(err instanceof Error ? err : new Error(describeError(err)));
          else resolve();
        };
        const onAbort = () => settle(new LinkClosedError('stopped'));
        const timer = setTimeout(
          () => settle(new Error(`connect timed out after ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
        if (options.signal?.aborted) return onAbort();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        // The library passes `had_error` booleans as well as Errors to this callback.
        const callback = (err?: unknown) => settle(err === false ? undefined : err);
        try {
          switch (target.kind) {
            case 'tcp':
              client.connectTCP(target.host, { port: target.port }, callback);
              break;
            case 'rtu-tcp':
              client.connectTelnet(target.host, { port: target.port }, callback);
              break;
            case 'rtu-serial':
              client.connectRTUBuffered(
                target.path,
                {
                  baudRate: target.baudRate,
                  parity: target.parity,
                  dataBits: target.dataBits,
                  stopBits: target.stopBits,
                },
                callback,
              );
              break;
          }
        } catch (err) {
          settle(err);
        }
      });
      if (!client.isOpen) throw new Error('connection closed while opening');
    } catch (err) {
      link.closed = true;
      await link.release();
      throw err;
    }
    client.on('close', () => link.lost('connection closed by the device'));
    link.transactions = transactionsOf(client);
    return link;
  }

  get isOpen(): boolean {
    return !this.closed && this.client.isOpen;
  }

  /** Reads registers (number[]) or bits (boolean[]). Rejects with the errors above. */
  async read(unitId: number, area: ModbusArea, start: number, count: number): Promise<number[] | boolean[]> {
    await this.acquire();
    if (this.closed) {
      this.releaseSlot();
      throw new LinkClosedError();
    }
    let request: Promise<{ data: number[] | boolean[] }>;
    const sentAt = performance.now();
    const transactions = this.transactions;
    const tid = transactions?.port._transactionIdWrite;
    try {
      this.client.setID(unitId);
      switch (area) {
        case 'coil':
          request = this.client.readCoils(start, count);
          break;
        case 'discrete-input':
          request = this.client.readDiscreteInputs(start, count);
          break;
        case 'input-register':
          request = this.client.readInputRegisters(start, count);
          break;
        case 'holding-register':
          request = this.client.readHoldingRegisters(start, count);
          break;
      }
    } catch (err) {
      this.releaseSlot();
      throw this.noteFailure(classify(err));
    }
    const entry = tid === undefined ? undefined : transactions?.table[tid];
    return new Promise<number[] | boolean[]>((resolve, reject) => {
      let done = false;
      const finish = (err: Error | null, data?: number[] | boolean[]) => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        if (entry !== undefined && transactions!.table[tid!] === entry) delete transactions!.table[tid!];
        this.pending.delete(finish);
        this.releaseSlot();
        if (err) reject(this.noteFailure(err));
        else resolve(data ?? []);
      };
      const deadline = setTimeout(() => finish(new RequestTimeoutError()), this.options.timeoutMs + DEADLINE_GRACE_MS);
      this.pending.add(finish);
      request.then(
        (res) => {
          if (done) return;
          this.roundTrip(sentAt);
          const problem = answerProblem(area, count, res?.data);
          if (problem) finish(new ProtocolError(problem));
          else finish(null, res.data);
        },
        (err: unknown) => {
          if (done) return;
          const error = classify(err);
          if (error instanceof ModbusExceptionError) this.roundTrip(sentAt);
          finish(error);
        },
      );
    });
  }

  /** Closes the connection; rejects pending requests. Idempotent; never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }

  private roundTrip(sentAt: number): void {
    const report = this.options.onRoundTrip;
    if (!report) return;
    try {
      report(performance.now() - sentAt);
    } catch {
      // bookkeeping must not fail a read
    }
  }

  private noteFailure(err: Error): Error {
    if (err instanceof LinkClosedError && !this.closed) this.lost(err.message);
    return err;
  }

  private lost(reason: string): void {
    if (this.closed || this.lostReported) return;
    this.lostReported = true;
    try {
      this.options.onLost(reason);
    } catch {
      // the owner's handler must not break the library's event dispatch
    }
  }

  private async release(): Promise<void> {
    for (const finish of [...this.pending]) finish(new LinkClosedError());
    for (const wake of this.waiting.splice(0)) wake();
    const client = this.client;
    if (this.target.kind === 'rtu-serial') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SERIAL_CLOSE_DEADLINE_MS);
        timer.unref();
        try {
          client.close(() => {
            clearTimeout(timer);
            resolve();
          });
        } catch {
          clearTimeout(timer);
          resolve();
        }
      });
    } else {
      try {
        client.destroy(() => {});
      } catch {
        // already gone
      }
    }
  }

  private acquire(): Promise<void> {
    if (this.closed || this.inFlight < this.options.maxInFlight) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.waiting.push(() => {
        this.inFlight++;
        resolve();
      });
    });
  }

  private releaseSlot(): void {
    this.inFlight--;
    const next = this.waiting.shift();
    if (next) next();
  }
}
