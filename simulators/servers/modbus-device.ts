/**
 * A Modbus TCP device on modbus-serial's ServerTCP. Values come from the
 * register banks at request time; unmapped addresses answer exception 2 and
 * writes answer exception 1, because the simulated devices are read-only.
 */
import { ServerTCP } from 'modbus-serial';
import type { DeviceEndpoint, SimDevice } from './device.js';
import { errorMessage } from './device.js';
import { bindWithFallback } from './ports.js';
import { type BitBank, ModbusException, ModbusExceptionCode, type RegisterBank } from './registers.js';

export interface ModbusDeviceOptions {
  readonly id: string;
  readonly description: string;
  readonly host: string;
  /** 0: a free port. */
  readonly port: number;
  readonly unitId?: number;
  readonly holding?: RegisterBank;
  readonly input?: RegisterBank;
  readonly coils?: BitBank;
  readonly discreteInputs?: BitBank;
}

export interface ModbusDeviceStats {
  requests: number;
  exceptions: number;
}

export class ModbusDeviceServer implements SimDevice {
  readonly id: string;
  readonly unitId: number;
  readonly stats: ModbusDeviceStats = { requests: 0, exceptions: 0 };
  private readonly opts: ModbusDeviceOptions;
  private server: ServerTCP | null = null;
  private boundPort: number | null = null;
  private fellBack = false;
  private lastError: string | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: ModbusDeviceOptions) {
    this.opts = options;
    this.id = options.id;
    this.unitId = options.unitId ?? 1;
  }

  get running(): boolean {
    return this.server !== null;
  }

  get port(): number | null {
    return this.boundPort;
  }

  start(): Promise<void> {
    return this.serial(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serial(() => this.doStop());
  }

  endpoint(): DeviceEndpoint {
    return {
      id: this.id,
      protocol: 'modbus-tcp',
      description: this.opts.description,
      host: this.opts.host,
      requestedPort: this.opts.port,
      port: this.boundPort,
      url: this.boundPort === null ? null : `modbus-tcp://${this.opts.host}:${this.boundPort} unit ${this.unitId}`,
      unitId: this.unitId,
      running: this.running,
      fellBack: this.fellBack,
      error: this.lastError,
    };
  }

  private serial(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(op);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async doStart(): Promise<void> {
    if (this.server) return;
    // A restarted device comes back on the port it had, so clients reconnect.
    const wanted = this.boundPort ?? this.opts.port;
    try {
      const { port, fellBack } = await bindWithFallback(this.opts.host, wanted, (p) => this.listen(p), {
        acceptsZero: false,
      });
      this.boundPort = port;
      this.fellBack = this.fellBack || fellBack || (wanted !== 0 && port !== wanted);
      this.lastError = null;
    } catch (err) {
      this.lastError = errorMessage(err);
      throw err;
    }
  }

  private listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = new ServerTCP(this.vector(), { host: this.opts.host, port, unitID: this.unitId });
      const onError = (err: Error) => {
        server.removeListener('initialized', onReady);
        server.close(() => undefined);
        reject(err);
      };
      const onReady = () => {
        server.removeListener('serverError', onError);
        // Clients that vanish mid-request must not take the device down.
        server.on('serverError', () => undefined);
        server.on('socketError', () => undefined);
        server.on('error', () => undefined);
        this.server = server;
        resolve(port);
      };
      server.once('serverError', onError);
      server.once('initialized', onReady);
    });
  }

  private doStop(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.server = null;
    return new Promise((resolve) => server.close(() => resolve()));
  }

  /** The ServerTCP vector: synchronous getters that throw ModbusException. */
  private vector(): Record<string, unknown> {
    const { holding, input, coils, discreteInputs } = this.opts;
    const counted = <T>(fn: () => T): T => {
      this.stats.requests++;
      try {
        return fn();
      } catch (err) {
        this.stats.exceptions++;
        throw err;
      }
    };
    const regs = (bank: RegisterBank | undefined, addr: number, len: number): number[] => {
      if (!bank) throw new ModbusException(ModbusExceptionCode.illegalDataAddress, 'no registers of this kind');
      return bank.read(addr, len);
    };
    const bit = (bank: BitBank | undefined, addr: number): boolean => {
      if (!bank) throw new ModbusException(ModbusExceptionCode.illegalDataAddress, 'no bits of this kind');
      return bank.read(addr);
    };
    const readOnly = (): never => {
      this.stats.exceptions++;
      throw new ModbusException(ModbusExceptionCode.illegalFunction, 'the simulated device is read-only');
    };
    // Single-register reads (quantity 1) go to the get*Register callbacks, longer ones to getMultiple*.
    return {
      getHoldingRegister: (addr: number) => counted(() => regs(holding, addr, 1)[0]),
      getMultipleHoldingRegisters: (addr: number, len: number) => counted(() => regs(holding, addr, len)),
      getInputRegister: (addr: number) => counted(() => regs(input, addr, 1)[0]),
      getMultipleInputRegisters: (addr: number, len: number) => counted(() => regs(input, addr, len)),
      // modbus-serial calls these once per bit; the first error answers the request.
      getCoil: (addr: number) => bit(coils, addr),
      getDiscreteInput: (addr: number) => bit(discreteInputs, addr),
      setCoil: (_addr: number, _value: boolean, _unit: number) => readOnly(),
      setRegister: (_addr: number, _value: number, _unit: number) => readOnly(),
      setRegisterArray: (_addr: number, _value: number[], _unit: number) => readOnly(),
      setCoilArray: (_addr: number, _value: boolean[], _unit: number) => readOnly(),
    };
  }
}
