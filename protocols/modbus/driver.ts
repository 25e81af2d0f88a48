/**
 * The Modbus driver: `modbus-tcp`, and `modbus-rtu` over a serial port or
 * over TCP (RTU frames through a serial-to-Ethernet gateway).
 *
 * Per device: one connection (ModbusLink), one reconnect backoff, and one
 * scheduler per poll group. A group's timer fires at its interval; when the
 * previous cycle of that group is still running, the tick is skipped and
 * counted as an overrun (no pile-up). A cycle reads the group's planned
 * blocks and emits one Sample per tag, a batch per block as its answer
 * arrives.
 *
 * Failures, and what the tags show:
 * - connection lost or refused: every tag `bad` / `disconnected`, once per
 *   outage; reconnect with exponential backoff and jitter;
 * - a request unanswered within `timeoutMs`: the block's tags `bad` /
 *   `timeout`; after `timeoutsBeforeReconnect` timeouts in a row the
 *   connection is dropped and re-opened (a half-open socket answers nothing);
 * - a Modbus exception: the block's tags `bad` / `exception N (name)`, other
 *   blocks unaffected;
 * - a value that does not decode (NaN float, short response): that tag `bad` /
 *   `decode error: …`.
 * An answer that arrives after its connection was given up is dropped: the
 * `disconnected` marking went out first, and a later `good` would hide the
 * outage.
 */
import type { ModbusRtuDevice, ModbusTag, ModbusTcpDevice } from '../../config/schema.js';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { DriverError, describeError } from '../errors.js';
import { DriverHealth, badSamples } from '../health.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { TimerSet } from '../timer-set.js';
import type { Driver, DriverContext, DriverStatus, Sample } from '../types.js';
import { decodeRegisters } from './codec.js';
import {
  LinkClosedError,
  type LinkTarget,
  ModbusExceptionError,
  ModbusLink,
  RequestTimeoutError,
  describeTarget,
} from './link.js';
import { BlockPlanError, type ReadBlock, isBitArea, planBlocks, tagWidth } from './planner.js';

export type ModbusDevice = ModbusTcpDevice | ModbusRtuDevice;

export interface ModbusDriverOptions {
  backoff?: BackoffOptions;
  /** timeouts in a row after which the connection is re-opened (default 3) */
  timeoutsBeforeReconnect?: number;
  /** at most one log line per kind per this window, ms (default 30 000) */
  logWindowMs?: number;
}

interface PollGroup {
  readonly name: string;
  readonly intervalMs: number;
  readonly blocks: readonly ReadBlock[];
  running: boolean;
  timer: NodeJS.Timeout | null;
}

/** Where a Modbus device is reached; throws a DriverError when the config leaves it open. */
export function modbusTarget(device: ModbusDevice): LinkTarget {
  if (device.protocol === 'modbus-tcp') return { kind: 'tcp', host: device.host, port: device.port };
  if (device.transport === 'tcp') {
    if (!device.host) {
      throw new DriverError('GL_ERR_DRIVER_CONFIG', device.id, 'RTU over TCP needs `host` (and `port`, default 502)');
    }
    return { kind: 'rtu-tcp', host: device.host, port: device.port ?? 502 };
  }
  if (!device.path) {
    throw new DriverError('GL_ERR_DRIVER_CONFIG', device.id, 'RTU over a serial line needs `path`, e.g. /dev/ttyUSB0');
  }
  return {
    kind: 'rtu-serial',
    path: device.path,
    baudRate: device.baudRate,
    parity: device.parity,
    dataBits: device.dataBits,
    stopBits: device.stopBits,
  };
}

/**
 * The device's read plan per poll group; throws a DriverError listing every
 * tag that cannot be read and every poll group that has no interval.
 */
export function planModbusDevice(device: ModbusDevice): Map<string, { intervalMs: number; blocks: ReadBlock[] }> {
  let blocks: ReadBlock[];
  try {
    blocks = planBlocks(device.tags, {
      unitId: device.unitId,
      maxRegistersPerRead: device.maxRegistersPerRead,
      maxBitsPerRead: device.maxBitsPerRead,
      maxGapRegisters: device.maxGapRegisters,
    });
  } catch (err) {
    if (err instanceof BlockPlanError) throw new DriverError('GL_ERR_MODBUS_PLAN', device.id, err.message);
    throw err;
  }
  const groups = new Map<string, { intervalMs: number; blocks: ReadBlock[] }>();
  const unknown = new Set<string>();
  for (const block of blocks) {
    const intervalMs = device.pollGroups[block.pollGroup];
    if (intervalMs === undefined) {
      unknown.add(block.pollGroup);
      continue;
    }
    let group = groups.get(block.pollGroup);
    if (!group) {
      group = { intervalMs, blocks: [] };
      groups.set(block.pollGroup, group);
    }
    group.blocks.push(block);
  }
  if (unknown.size > 0) {
    throw new DriverError(
      'GL_ERR_DRIVER_CONFIG',
      device.id,
      `poll group(s) ${[...unknown].map((g) => `"${g}"`).join(', ')} have no interval: add them to pollGroups`,
    );
  }
  return groups;
}

export class ModbusDriver implements Driver {
  readonly deviceId: string;
  private readonly health: DriverHealth;
  private readonly rlog: RateLimitedLog;
  private readonly timers: TimerSet;
  private readonly backoff: Backoff;
  private readonly timeoutsBeforeReconnect: number;

  private started = false;
  private stopped = false;
  private groups: PollGroup[] = [];
  private target: LinkTarget | null = null;
  private link: ModbusLink | null = null;
  private connecting: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempts = 0;
  private consecutiveTimeouts = 0;
  private readonly cycles = new Set<Promise<void>>();

  constructor(
    private readonly device: ModbusDevice,
    private readonly ctx: DriverContext,
    options: ModbusDriverOptions = {},
  ) {
    this.deviceId = device.id;
    let endpoint: string;
    try {
      endpoint = describeTarget(modbusTarget(device));
    } catch {
      endpoint = `${device.protocol}://?`;
    }
    this.health = new DriverHealth(device.id, device.protocol, endpoint, ctx);
    this.rlog = new RateLimitedLog(ctx.log, {
      windowMs: options.logWindowMs ?? 30_000,
      now: () => ctx.now(),
      bindings: { deviceId: device.id, endpoint },
    });
    this.timers = new TimerSet((err) => this.internalError(err));
    this.backoff = new Backoff(options.backoff);
    this.timeoutsBeforeReconnect = Math.max(1, options.timeoutsBeforeReconnect ?? 3);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.target = modbusTarget(this.device);
    const planned = planModbusDevice(this.device);
    this.started = true;
    this.stopped = false;
    this.groups = [...planned].map(([name, g]) => ({
      name,
      intervalMs: g.intervalMs,
      blocks: g.blocks,
      running: false,
      timer: null,
    }));
    this.health.state = 'connecting';
    this.timers.timeout(0, () => this.connect());
  }

  async stop(): Promise<void> {
    if (!this.started) {
      this.health.state = 'stopped';
      return;
    }
    this.stopped = true;
    this.started = false;
    this.timers.clearAll();
    this.reconnectTimer = null;
    this.abort?.abort();
    const link = this.link;
    this.link = null;
    if (link) await link.close();
    if (this.connecting) await this.connecting;
    await Promise.allSettled([...this.cycles]);
    this.health.state = 'stopped';
  }

  status(): DriverStatus {
    return this.health.snapshot();
  }

  private connect(): Promise<void> | undefined {
    if (this.stopped || !this.started || this.link || this.connecting || !this.target) return undefined;
    const attempt = this.openLink(this.target).finally(() => {
      this.connecting = null;
    });
    this.connecting = attempt;
    return attempt;
  }

  private async openLink(target: LinkTarget): Promise<void> {
    if (this.attempts++ > 0) this.health.counters.reconnects++;
    this.health.state = 'connecting';
    const abort = new AbortController();
    this.abort = abort;
    let link: ModbusLink;
    try {
      link = await ModbusLink.open(target, {
        timeoutMs: this.device.timeoutMs,
        maxInFlight: this.device.protocol === 'modbus-tcp' ? this.device.maxInFlight : 1,
        onLost: (reason) => this.onLinkLost(link, reason),
        signal: abort.signal,
      });
    } catch (err) {
      if (this.stopped) return;
      const reason = this.health.fail(`connect failed: ${describeError(err)}`);
      this.health.state = 'disconnected';
      this.rlog.warn(
        'connect-failed',
        { err: reason, attempt: this.backoff.attempt + 1 },
        'cannot connect to the device',
      );
      this.markDisconnected();
      this.scheduleReconnect();
      return;
    } finally {
      if (this.abort === abort) this.abort = null;
    }
    if (this.stopped) {
      await link.close();
      return;
    }
    this.link = link;
    this.consecutiveTimeouts = 0;
    this.health.state = 'connected';
    this.startSchedulers();
    // `attempt`: connection attempts since the link last proved healthy (the backoff's count)
    this.rlog.info('connected', { attempt: this.backoff.attempt + 1 }, 'connected to the device');
  }

  /** Polls every group now, then at its interval: the schedule starts with the connection. */
  private startSchedulers(): void {
    for (const group of this.groups) {
      this.timers.clear(group.timer);
      group.timer = this.timers.interval(group.intervalMs, () => this.tick(group));
      this.tick(group);
    }
  }

  private stopSchedulers(): void {
    for (const group of this.groups) {
      this.timers.clear(group.timer);
      group.timer = null;
    }
  }

  private onLinkLost(link: ModbusLink, reason: string): void {
    if (this.link !== link || this.stopped) return;
    this.link = null;
    this.stopSchedulers();
    void link.close();
    this.health.fail(reason);
    this.health.state = 'disconnected';
    this.rlog.warn('connection-lost', { reason }, 'connection to the device lost');
    this.markDisconnected();
    this.scheduleReconnect();
  }

  private markDisconnected(): void {
    this.health.markDisconnected(this.tagIds());
  }

  private *tagIds(): Iterable<string> {
    for (const tag of this.device.tags) yield tag.id;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoff.next();
    this.reconnectTimer = this.timers.timeout(delay, () => {
      this.reconnectTimer = null;
      return this.connect();
    });
  }

  private tick(group: PollGroup): void {
    const link = this.link;
    if (this.stopped || !link) return;
    if (group.running) {
      this.health.counters.overruns++;
      this.rlog.warn(
        `overrun:${group.name}`,
        { pollGroup: group.name, intervalMs: group.intervalMs },
        'poll cycle still running at the next tick: skipped (interval too short for this device?)',
      );
      return;
    }
    group.running = true;
    const cycle = this.pollGroup(group, link)
      .catch((err: unknown) => this.internalError(err))
      .finally(() => {
        group.running = false;
        this.cycles.delete(cycle);
      });
    this.cycles.add(cycle);
  }

  private async pollGroup(group: PollGroup, link: ModbusLink): Promise<void> {
    await Promise.all(
      group.blocks.map(async (block) => {
        const samples = await this.readBlock(block, link);
        if (this.link === link && !this.stopped) this.health.emit(samples);
      }),
    );
  }

  private async readBlock(block: ReadBlock, link: ModbusLink): Promise<Sample[]> {
    let data: number[] | boolean[];
    this.health.counters.requests++;
    try {
      data = await link.read(block.unitId, block.area, block.start, block.count);
    } catch (err) {
      return this.blockFailed(block, link, err);
    }
    if (this.link !== link) return [];
    this.consecutiveTimeouts = 0;
    this.backoff.reset();
    const ts = this.ctx.now();
    return block.tags.map(({ tag, at }) => this.decodeTag(tag, at, data, ts));
  }

  private blockFailed(block: ReadBlock, link: ModbusLink, err: unknown): Sample[] {
    if (err instanceof LinkClosedError || this.link !== link) return [];
    const ts = this.ctx.now();
    const where = { unitId: block.unitId, area: block.area, start: block.start, count: block.count };
    if (err instanceof RequestTimeoutError) {
      this.health.counters.timeouts++;
      this.health.fail(`timeout reading ${block.area} ${block.start}+${block.count} (unit ${block.unitId})`);
      this.rlog.warn('timeout', { ...where, timeoutMs: this.device.timeoutMs }, 'no answer within the timeout');
      const timedOut = badSamples(
        block.tags.map((t) => t.tag.id),
        ts,
        'timeout',
      );
      if (++this.consecutiveTimeouts >= this.timeoutsBeforeReconnect) {
        // these tags timed out before the link was given up: say so, in that order
        this.health.emit(timedOut);
        this.onLinkLost(link, `${this.consecutiveTimeouts} requests in a row timed out`);
        return [];
      }
      return timedOut;
    }
    this.consecutiveTimeouts = 0;
    if (err instanceof ModbusExceptionError) {
      // The device answered, so the link is healthy. Splitting a block that
      // an Illegal Data Address exception rejects belongs here.
      this.health.fail(`${err.message} reading ${block.area} ${block.start}+${block.count} (unit ${block.unitId})`);
      this.rlog.warn(
        `exception-${err.exceptionCode}`,
        { ...where, exception: err.message },
        'the device refused a read',
      );
      return badSamples(
        block.tags.map((t) => t.tag.id),
        ts,
        err.message,
      );
    }
    const reason = `protocol error: ${describeError(err)}`;
    this.health.fail(reason);
    this.rlog.warn('protocol-error', { ...where, err: describeError(err) }, 'a read failed');
    return badSamples(
      block.tags.map((t) => t.tag.id),
      ts,
      reason,
    );
  }

  private decodeTag(tag: ModbusTag, at: number, data: number[] | boolean[], ts: number): Sample {
    if (isBitArea(tag.address.area)) {
      const bit = data[at];
      if (typeof bit === 'boolean') return { tagId: tag.id, ts, value: bit, quality: 'good' };
      return this.decodeFailed(tag, ts, `decode error: no bit ${at} in the response`);
    }
    const registers = data.slice(at, at + tagWidth(tag)) as number[];
    const result = decodeRegisters(registers, tag.type, tag.wordOrder ?? this.device.wordOrder, {
      bit: tag.address.bit,
      length: tag.length,
    });
    if (result.ok) return { tagId: tag.id, ts, value: result.value, quality: 'good' };
    return this.decodeFailed(tag, ts, result.reason);
  }

  private decodeFailed(tag: ModbusTag, ts: number, reason: string): Sample {
    this.health.fail(`tag ${tag.id}: ${reason}`);
    this.rlog.warn(`decode:${tag.id}`, { tagId: tag.id, address: tag.address.text, reason }, 'a value did not decode');
    return { tagId: tag.id, ts, value: null, quality: 'bad', reason };
  }

  private internalError(err: unknown): void {
    this.health.fail(err);
    this.rlog.error('internal', { err: describeError(err) }, 'unexpected error in the Modbus driver');
  }
}

/** The same driver; the name the gateway's wiring has used for Modbus TCP. */
export { ModbusDriver as ModbusTcpDriver };
