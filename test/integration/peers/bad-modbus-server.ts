/**
 * A Modbus TCP server on a raw `net` socket that can misbehave on purpose:
 * truncated frames, a wrong byte count, transaction id, unit id or function
 * code, garbage, answers after the client's timeout, a connection closed in
 * the middle of a frame. With `mode: 'ok'` it is a plain, fast server (reads
 * of coils, discrete inputs, holding and input registers, FC 1–4), used by
 * the tests and by the driver benchmark.
 *
 * Reads beyond the data, or of an address listed in `holes`, answer
 * exception 2; longer than `maxRegistersPerRead` exception 3; other function
 * codes exception 1. `exception` overrides that per request.
 */
import net from 'node:net';

export type Misbehaviour =
  /** answers correctly */
  | 'ok'
  /** the first half of the answer, then nothing (the MBAP header promises more) */
  | 'truncated'
  /** the byte count claims one register more than the answer holds */
  | 'wrong-byte-count'
  /** the answer carries another transaction id */
  | 'wrong-transaction-id'
  /** the answer carries another function code (4 for 3, 3 for 4, …) */
  | 'wrong-function-code'
  /** the answer carries another unit id */
  | 'wrong-unit-id'
  /** random bytes instead of the answer */
  | 'garbage'
  /** the right answer, `lateMs` later */
  | 'late'
  /** the first half of the answer, then the connection is closed */
  | 'close-mid-frame'
  /** no answer at all */
  | 'silent';

export interface BadModbusServerOptions {
  /** holding registers: how many (all 0), or their contents */
  holdingRegisters?: number | readonly number[];
  /** input registers: how many (all 0), or their contents; default: none (any read answers exception 2) */
  inputRegisters?: number | readonly number[];
  /** coils (all off) */
  coils?: number;
  /** discrete inputs (all off) */
  discreteInputs?: number;
  /** holding-register [start, count] ranges that do not exist: reads covering them answer exception 2 */
  holes?: ReadonlyArray<readonly [number, number]>;
  /** longer register reads answer exception 3 (default 125) */
  maxRegistersPerRead?: number;
  /** an exception code for a request, or undefined to serve it normally */
  exception?: (fc: number, start: number, count: number, unitId: number) => number | undefined;
  /** called before a read (FC 1–4) is answered, e.g. to move the values it reads */
  onRead?: (fc: number, start: number, count: number, unitId: number) => void;
  mode?: Misbehaviour;
  /** delay of `late` answers, ms (default 1000) */
  lateMs?: number;
  /** close each connection after this many answers (0: right after accepting it); default never */
  closeAfterAnswers?: number;
  port?: number;
}

const MBAP = 7; // transaction id, protocol id, length, unit id

export class BadModbusServer {
  mode: Misbehaviour;
  lateMs: number;
  closeAfterAnswers: number | undefined;
  exception: BadModbusServerOptions['exception'];
  onRead: BadModbusServerOptions['onRead'];
  readonly holdingRegisters: Uint16Array;
  readonly inputRegisters: Uint16Array;
  readonly coils: Uint8Array;
  readonly discreteInputs: Uint8Array;
  readonly holes: Array<readonly [number, number]>;
  maxRegistersPerRead: number;
  /** requests received, answered or not */
  requests = 0;
  /** connections accepted */
  connections = 0;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: net.Server,
    options: BadModbusServerOptions,
  ) {
    this.mode = options.mode ?? 'ok';
    this.lateMs = options.lateMs ?? 1000;
    this.closeAfterAnswers = options.closeAfterAnswers;
    this.exception = options.exception;
    this.onRead = options.onRead;
    this.holdingRegisters = registers(options.holdingRegisters ?? 0);
    this.inputRegisters = registers(options.inputRegisters ?? 0);
    this.coils = new Uint8Array(options.coils ?? 0);
    this.discreteInputs = new Uint8Array(options.discreteInputs ?? 0);
    this.holes = [...(options.holes ?? [])];
    this.maxRegistersPerRead = options.maxRegistersPerRead ?? 125;
  }

  static async start(options: BadModbusServerOptions = {}): Promise<BadModbusServer> {
    const server = net.createServer();
    const self = new BadModbusServer(server, options);
    server.on('connection', (socket) => self.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return self;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** open client connections */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** writes registers from `at` on */
  set(at: number, values: readonly number[]): void {
    this.holdingRegisters.set(values, at);
  }

  /** closes every client connection (the server keeps listening) */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (this.closeAfterAnswers === 0) {
      socket.destroy();
      return;
    }
    let pending: Buffer = Buffer.alloc(0);
    let answers = 0;
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= MBAP + 1) {
        const length = pending.readUInt16BE(4);
        if (length < 2 || length > 254) {
          // not Modbus: a server would drop such a client
          socket.destroy();
          return;
        }
        if (pending.length < 6 + length) break;
        const frame = pending.subarray(0, 6 + length);
        pending = pending.subarray(6 + length);
        this.requests++;
        this.answer(socket, frame);
        answers++;
        if (this.closeAfterAnswers !== undefined && answers >= this.closeAfterAnswers) {
          socket.end();
          return;
        }
      }
    });
  }

  private answer(socket: net.Socket, frame: Buffer): void {
    const tid = frame.readUInt16BE(0);
    const unitId = frame[6]!;
    const fc = frame[7]!;
    const start = frame.length >= 12 ? frame.readUInt16BE(8) : 0;
    const count = frame.length >= 12 ? frame.readUInt16BE(10) : 0;
    let reply = this.reply(tid, unitId, fc, start, count);

    switch (this.mode) {
      case 'ok':
        break;
      case 'silent':
        return;
      case 'truncated':
        reply = reply.subarray(0, Math.max(MBAP + 1, reply.length >> 1));
        break;
      case 'close-mid-frame':
        socket.end(reply.subarray(0, Math.max(MBAP + 1, reply.length >> 1)));
        return;
      case 'wrong-byte-count':
        if (!(reply[7]! & 0x80)) reply[8] = (reply[8]! + 2) & 0xff;
        break;
      case 'wrong-transaction-id':
        reply.writeUInt16BE((tid + 77) & 0xffff, 0);
        break;
      case 'wrong-function-code':
        reply[7] = fc === 3 ? 4 : 3;
        break;
      case 'wrong-unit-id':
        reply[6] = (unitId + 1) & 0xff;
        break;
      case 'garbage': {
        const junk = Buffer.alloc(5 + Math.floor(Math.random() * 40));
        for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(Math.random() * 256);
        reply = junk;
        break;
      }
      case 'late': {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (!socket.destroyed) socket.write(reply);
        }, this.lateMs);
        this.timers.add(timer);
        return;
      }
    }
    if (!socket.destroyed) socket.write(reply);
  }

  private reply(tid: number, unitId: number, fc: number, start: number, count: number): Buffer {
    const forced = this.exception?.(fc, start, count, unitId);
    if (forced !== undefined) return exceptionFrame(tid, unitId, fc, forced);
    if (fc >= 1 && fc <= 4) this.onRead?.(fc, start, count, unitId);
    switch (fc) {
      case 1:
      case 2: {
        const bits = fc === 1 ? this.coils : this.discreteInputs;
        if (count < 1 || count > 2000) return exceptionFrame(tid, unitId, fc, 3);
        if (start + count > bits.length) return exceptionFrame(tid, unitId, fc, 2);
        const bytes = (count + 7) >> 3;
        const out = header(tid, unitId, fc, 3 + bytes);
        out[8] = bytes;
        out.fill(0, 9);
        for (let i = 0; i < count; i++) if (bits[start + i]) out[9 + (i >> 3)]! |= 1 << (i & 7);
        return out;
      }
      case 3:
      case 4: {
        const regs = fc === 3 ? this.holdingRegisters : this.inputRegisters;
        if (count < 1 || count > this.maxRegistersPerRead) return exceptionFrame(tid, unitId, fc, 3);
        if (start + count > regs.length) return exceptionFrame(tid, unitId, fc, 2);
        if (fc === 3 && this.holes.some(([s, n]) => start < s + n && s < start + count)) {
          return exceptionFrame(tid, unitId, fc, 2);
        }
        const out = header(tid, unitId, fc, 3 + 2 * count);
        out[8] = 2 * count;
        for (let i = 0; i < count; i++) out.writeUInt16BE(regs[start + i]!, 9 + 2 * i);
        return out;
      }
      default:
        return exceptionFrame(tid, unitId, fc, 1);
    }
  }
}

function registers(spec: number | readonly number[]): Uint16Array {
  return typeof spec === 'number' ? new Uint16Array(spec) : Uint16Array.from(spec);
}

/** MBAP header + unit id + function code; `pduLength` counts from the unit id on */
function header(tid: number, unitId: number, fc: number, pduLength: number): Buffer {
  const out = Buffer.allocUnsafe(6 + pduLength);
  out.writeUInt16BE(tid, 0);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(pduLength, 4);
  out[6] = unitId;
  out[7] = fc;
  return out;
}

function exceptionFrame(tid: number, unitId: number, fc: number, code: number): Buffer {
  const out = header(tid, unitId, fc | 0x80, 3);
  out[8] = code;
  return out;
}
