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
 *   TCP links are destroyed instead, serial ports closed with a deadline.
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
  return new Error(describeError(err));
}

export class ModbusLink {
  private closed = false;
  private lostReported = false;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly pending = new Set<(err: Error) => void>();

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
    return new Promise<number[] | boolean[]>((resolve, reject) => {
      let done = false;
      const finish = (err: Error | null, data?: number[] | boolean[]) => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        this.pending.delete(finish);
        this.releaseSlot();
        if (err) reject(this.noteFailure(err));
        else resolve(data ?? []);
      };
      const deadline = setTimeout(() => finish(new RequestTimeoutError()), this.options.timeoutMs + DEADLINE_GRACE_MS);
      this.pending.add(finish);
      request.then(
        (res) => finish(null, res.data),
        (err: unknown) => finish(classify(err)),
      );
    });
  }

  /** Closes the connection; rejects pending requests. Idempotent; never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
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
