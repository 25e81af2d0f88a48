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
 *   `timeout`;
 * - a malformed answer (wrong length, unit id or function code, a count that
 *   does not match the request): the block's tags `bad` / `protocol error: …`;
 * - after `failuresBeforeReconnect` timeouts or malformed answers in a row the
 *   connection is dropped and re-opened (a half-open socket answers nothing;
 *   a stream out of step answers nonsense);
 * - a Modbus exception: the block's tags `bad` / `exception N (name)`, other
 *   blocks unaffected. Exceptions 2 (Illegal Data Address) and 3 (Illegal
 *   Data Value) split the block in two and read the halves, down to single
 *   tags, in the same cycle, so only the tags on refused addresses go bad.
 *   What was learned is remembered as a Refusal (see planner.ts) and the
 *   plan re-made around it: a refused tag is reported `bad` each cycle
 *   without being requested. Exception 1 (Illegal Function: the device has
 *   no such area) refuses the area for that unit id. Refusals are tried
 *   again after 10 s, 1 min, then every `reprobeMs`, and after every
 *   reconnect, since a program download to a PLC can add registers. Other exceptions (4 Server Device
 *   Failure, 6 Busy, 10/11 gateway) are taken as passing: the block is read
 *   again next cycle;
 * - a value that does not decode (NaN float, short response): that tag `bad` /
 *   `decode error: …`.
 * Every failure counts in `errors` and under its kind in `errorsByKind`, and
 * logs at most one line per kind per `logWindowMs`.
 * An answer that arrives after its connection was given up is dropped: the
 * `disconnected` marking went out first, and a later `good` would hide the
 * outage.
 */
import type { ModbusRtuDevice, ModbusTag, ModbusTcpDevice } from '../../config/schema.js';
import type { ModbusArea } from '../../config/modbus-address.js';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { DriverError, describeError } from '../errors.js';
import { DriverHealth } from '../health.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { type PeriodicTimer, TimerSet } from '../timer-set.js';
import type { Driver, DriverContext, DriverStatus, Sample } from '../types.js';
import { decodeAt } from './codec.js';
import {
  LinkClosedError,
  type LinkTarget,
  ModbusExceptionError,
  ModbusLink,
  ProtocolError,
  RequestTimeoutError,
  describeTarget,
} from './link.js';
import {
  BlockPlanError,
  type ReadBlock,
  type RefusedTag,
  type Refusal,
  isBitArea,
  planReads,
  refusalBetween,
  refusalOfBlock,
  sameRefusal,
  splitBlock,
  tagWidth,
} from './planner.js';

export type ModbusDevice = ModbusTcpDevice | ModbusRtuDevice;

export interface ModbusDriverOptions {
  backoff?: BackoffOptions;
  /** timeouts or malformed answers in a row after which the connection is re-opened (default 3) */
  failuresBeforeReconnect?: number;
  /** at most one log line per kind per this window, ms (default 30 000) */
  logWindowMs?: number;
  /**
   * how often addresses the device refused are tried again, ms (default 600 000); the first two tries come
   * sooner (10 s, 1 min), and every reconnect tries them all
   */
  reprobeMs?: number;
}

export const DEFAULT_REPROBE_MS = 600_000;

/** One poll group's share of the plan. */
export interface PlannedPollGroup {
  readonly intervalMs: number;
  readonly blocks: ReadBlock[];
  /** tags of the group that no read covers, because the device refused their addresses */
  readonly refused: RefusedTag[];
}

interface PollGroup {
  readonly name: string;
  readonly intervalMs: number;
  blocks: readonly ReadBlock[];
  refused: readonly RefusedTag[];
  running: boolean;
  timer: NodeJS.Timeout | PeriodicTimer | null;
}

interface ReadRange {
  readonly unitId: number;
  readonly area: ModbusArea;
  readonly start: number;
  readonly count: number;
}

/** A Refusal the driver learned, with the read that showed it (tried again to see whether it still holds). */
interface LearnedRefusal {
  readonly refusal: Refusal;
  /** the exception code that taught it */
  readonly code: number;
  readonly probe: ReadRange;
  /** probes that found it still refused */
  probes: number;
  nextProbeAt: number;
  probing: boolean;
}

/**
 * Re-probe delays before the regular `reprobeMs`: a PLC that refuses reads
 * for a few seconds (a program download, STOP mode) is read in full again
 * soon; what stays refused costs a request every `reprobeMs`.
 */
const FIRST_REPROBES_MS = [10_000, 60_000] as const;

/** Longest random delay of a poll schedule's start after a connect, ms. */
const MAX_PHASE_MS = 1000;

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
 * The device's read plan per poll group (in name order), around what the
 * device refused; throws a DriverError listing every tag that cannot be read
 * and every poll group that has no interval.
 */
export function planModbusDevice(
  device: ModbusDevice,
  refusals: readonly Refusal[] = [],
): Map<string, PlannedPollGroup> {
  const unknown = new Set<string>();
  for (const tag of device.tags) if (device.pollGroups[tag.pollGroup] === undefined) unknown.add(tag.pollGroup);
  let plan: ReturnType<typeof planReads>;
  try {
    plan = planReads(
      device.tags,
      {
        unitId: device.unitId,
        maxRegistersPerRead: device.maxRegistersPerRead,
        maxBitsPerRead: device.maxBitsPerRead,
        maxGapRegisters: device.maxGapRegisters,
      },
      refusals,
    );
  } catch (err) {
    if (err instanceof BlockPlanError) throw new DriverError('GL_ERR_MODBUS_PLAN', device.id, err.message);
    throw err;
  }
  if (unknown.size > 0) {
    throw new DriverError(
      'GL_ERR_DRIVER_CONFIG',
      device.id,
      `poll group(s) ${[...unknown].map((g) => `"${g}"`).join(', ')} have no interval: add them to pollGroups`,
    );
  }
  const names = [...new Set(device.tags.map((t) => t.pollGroup))].sort();
  const groups = new Map<string, PlannedPollGroup>();
  for (const name of names) groups.set(name, { intervalMs: device.pollGroups[name]!, blocks: [], refused: [] });
  for (const block of plan.blocks) groups.get(block.pollGroup)!.blocks.push(block);
  for (const r of plan.refused) groups.get(r.tag.pollGroup)!.refused.push(r);
  return groups;
}

const where = (r: ReadRange) => ({ unitId: r.unitId, area: r.area, start: r.start, count: r.count });
const describeRange = (r: ReadRange) => `${r.area} ${r.start}+${r.count} (unit ${r.unitId})`;

export class ModbusDriver implements Driver {
  readonly deviceId: string;
  private readonly health: DriverHealth;
  private readonly rlog: RateLimitedLog;
  private readonly timers: TimerSet;
  private readonly backoff: Backoff;
  private readonly failuresBeforeReconnect: number;
  private readonly reprobeMs: number;

  private started = false;
  private stopped = false;
  private groups: PollGroup[] = [];
  private target: LinkTarget | null = null;
  private link: ModbusLink | null = null;
  private connecting: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempts = 0;
  private consecutiveFailures = 0;
  private readonly cycles = new Set<Promise<void>>();
  private learned: LearnedRefusal[] = [];
  private planStale = false;

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
    this.health = new DriverHealth(device.id, device.protocol, endpoint, ctx, { latency: true });
    this.rlog = new RateLimitedLog(ctx.log, {
      windowMs: options.logWindowMs ?? 30_000,
      now: () => ctx.now(),
      bindings: { deviceId: device.id, endpoint },
    });
    this.timers = new TimerSet((err) => this.internalError(err));
    this.backoff = new Backoff(options.backoff);
    this.failuresBeforeReconnect = Math.max(1, options.failuresBeforeReconnect ?? 3);
    this.reprobeMs = Math.max(0, options.reprobeMs ?? DEFAULT_REPROBE_MS);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.target = modbusTarget(this.device);
    const planned = planModbusDevice(this.device);
    this.started = true;
    this.stopped = false;
    this.learned = [];
    this.planStale = false;
    this.groups = [...planned].map(([name, g]) => ({
      name,
      intervalMs: g.intervalMs,
      blocks: g.blocks,
      refused: g.refused,
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
        onRoundTrip: (ms) => this.health.recordLatency(ms),
        signal: abort.signal,
      });
    } catch (err) {
      if (this.stopped) return;
      const reason = this.health.fail(`connect failed: ${describeError(err)}`, 'connect');
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
    this.consecutiveFailures = 0;
    this.health.state = 'connected';
    // the device may have been re-programmed while away: try what it refused before
    for (const l of this.learned) l.nextProbeAt = 0;
    this.startSchedulers();
    // `attempt`: connection attempts since the link last proved healthy (the backoff's count)
    this.rlog.info('connected', { attempt: this.backoff.attempt + 1 }, 'connected to the device');
  }

  /**
   * Polls every group now, then at its interval. The interval starts at a
   * random phase (within the interval, at most a second), so that devices
   * that connected together (a gateway start, a switch back up) do not all
   * poll in the same millisecond for ever after.
   */
  private startSchedulers(): void {
    for (const group of this.groups) {
      this.timers.clear(group.timer);
      const phase = Math.floor(Math.random() * Math.min(group.intervalMs, MAX_PHASE_MS));
      group.timer = this.timers.timeout(group.intervalMs + phase, () => {
        group.timer = this.timers.interval(group.intervalMs, () => this.tick(group));
        this.tick(group);
      });
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
    this.health.fail(reason, 'disconnected');
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
    const now = this.ctx.now();
    if (group.refused.length > 0) {
      const refused: Sample[] = [];
      for (const r of group.refused) {
        refused.push({ tagId: r.tag.id, ts: now, value: null, quality: 'bad', reason: r.refusal.reason });
      }
      this.health.emit(refused);
    }
    const reads: Array<Promise<unknown>> = [];
    for (const block of group.blocks) reads.push(this.readTopBlock(block, link));
    for (const learned of this.learned) {
      if (!learned.probing && learned.nextProbeAt <= now) reads.push(this.probe(learned, link));
    }
    await Promise.all(reads);
    if (this.planStale) this.replan();
  }

  private async readTopBlock(block: ReadBlock, link: ModbusLink): Promise<void> {
    const samples: Sample[] = [];
    await this.readBlock(block, link, samples);
    if (this.link === link && !this.stopped) this.health.emit(samples);
  }

  /**
   * Reads a block and appends a Sample per tag to `out`; on exception 2 or 3
   * reads its halves instead. Resolves true when the block was read whole.
   */
  private async readBlock(block: ReadBlock, link: ModbusLink, out: Sample[]): Promise<boolean> {
    let data: number[] | boolean[];
    this.health.counters.requests++;
    try {
      data = await link.read(block.unitId, block.area, block.start, block.count);
    } catch (err) {
      return this.blockFailed(block, link, err, out);
    }
    if (this.link !== link) return false;
    this.consecutiveFailures = 0;
    this.backoff.reset();
    const ts = this.ctx.now();
    for (const { tag, at } of block.tags) out.push(this.decodeTag(tag, at, data, ts));
    return true;
  }

  private async blockFailed(block: ReadBlock, link: ModbusLink, err: unknown, out: Sample[]): Promise<boolean> {
    const reason = this.requestFailed(block, link, err);
    if (reason === null) return false;
    if (err instanceof ModbusExceptionError) {
      const code = err.exceptionCode;
      if (code === 2 || code === 3) {
        const halves = splitBlock(block);
        if (halves === null) {
          this.learn(refusalOfBlock(block, reason), code, block, block.tags);
        } else {
          const [left, right] = halves;
          const [leftOk, rightOk] = await Promise.all([
            this.readBlock(left, link, out),
            this.readBlock(right, link, out),
          ]);
          if (leftOk && rightOk && this.link === link) {
            this.learn(refusalBetween(left, right, reason), code, block, []);
          }
          return false;
        }
      } else if (code === 1) {
        const first = block.tags[0]!;
        const probe = { ...where(block), start: block.start + first.at, count: tagWidth(first.tag) };
        this.learn(
          { kind: 'area', unitId: block.unitId, area: block.area, start: 0, count: 0, reason },
          code,
          probe,
          block.tags,
        );
      }
    }
    const ts = this.ctx.now();
    for (const { tag } of block.tags) out.push({ tagId: tag.id, ts, value: null, quality: 'bad', reason });
    if (this.consecutiveFailures >= this.failuresBeforeReconnect && this.link === link) {
      // these tags failed before the link was given up: say so, in that order
      this.health.emit(out.splice(0));
      this.onLinkLost(link, `${this.consecutiveFailures} requests in a row failed (${reason})`);
    }
    return false;
  }

  /**
   * Counts and logs a failed request. Returns the reason to show on its tags,
   * or null when there is nothing to show (the link is gone: its tags are
   * marked disconnected instead).
   */
  private requestFailed(range: ReadRange, link: ModbusLink, err: unknown): string | null {
    if (err instanceof LinkClosedError || this.link !== link) return null;
    const at = describeRange(range);
    if (err instanceof RequestTimeoutError) {
      this.consecutiveFailures++;
      this.health.counters.timeouts++;
      this.health.fail(`timeout reading ${at}`, 'timeout');
      this.rlog.warn('timeout', { ...where(range), timeoutMs: this.device.timeoutMs }, 'no answer within the timeout');
      return 'timeout';
    }
    if (err instanceof ModbusExceptionError) {
      // the device answered, so the link is healthy
      this.consecutiveFailures = 0;
      this.health.fail(`${err.message} reading ${at}`, `exception-${err.exceptionCode}`);
      this.rlog.warn(
        `exception-${err.exceptionCode}`,
        { ...where(range), exception: err.message },
        'the device refused a read',
      );
      return err.message;
    }
    this.consecutiveFailures++;
    const reason = err instanceof ProtocolError ? err.message : `protocol error: ${describeError(err)}`;
    this.health.fail(`${reason} reading ${at}`, 'protocol');
    this.rlog.warn('protocol-error', { ...where(range), err: reason }, 'a malformed answer');
    return reason;
  }

  /** Remembers a Refusal; the plan is re-made around it at the end of the cycle. */
  private learn(refusal: Refusal, code: number, probe: ReadRange, tags: ReadBlock['tags']): void {
    if (this.learned.some((l) => sameRefusal(l.refusal, refusal))) return;
    this.learned.push({
      refusal,
      code,
      probe: where(probe),
      probes: 0,
      nextProbeAt: this.ctx.now() + this.reprobeDelay(0),
      probing: false,
    });
    this.planStale = true;
    const what =
      refusal.kind === 'area'
        ? `${refusal.area} (unit ${refusal.unitId})`
        : refusal.kind === 'boundary'
          ? `${refusal.area} reads across ${refusal.start} (unit ${refusal.unitId})`
          : describeRange(refusal);
    this.rlog.warn(
      `refused:${refusal.kind}:${refusal.unitId}:${refusal.area}:${refusal.start}+${refusal.count}`,
      {
        refusal: refusal.kind,
        ...where(refusal),
        reason: refusal.reason,
        tags: tags.map((t) => t.tag.id),
        reprobeMs: this.reprobeMs,
      },
      `the device refuses ${what}: planned around it, tried again after reprobeMs and on reconnect`,
    );
  }

  /** Reads what a Refusal ruled out; when the device answers, the Refusal is forgotten and the plan re-made. */
  private async probe(learned: LearnedRefusal, link: ModbusLink): Promise<void> {
    learned.probing = true;
    const range = learned.probe;
    this.health.counters.requests++;
    const forget = (why: string) => {
      this.learned = this.learned.filter((l) => l !== learned);
      this.planStale = true;
      this.rlog.info(
        `accepted:${describeRange(range)}`,
        { ...where(range), was: learned.refusal.reason, now: why },
        'the device answers differently to a read it refused before: planned in again',
      );
    };
    try {
      await link.read(range.unitId, range.area, range.start, range.count);
      if (this.link !== link) return;
      this.consecutiveFailures = 0;
      forget('answered');
    } catch (err) {
      learned.nextProbeAt = this.ctx.now() + this.reprobeDelay(++learned.probes);
      if (err instanceof ModbusExceptionError) {
        this.consecutiveFailures = 0;
        // another exception (an area that exists now, but not at this address): the next cycles learn it anew
        if (err.exceptionCode !== learned.code && this.link === link) forget(err.message);
        return;
      }
      const reason = this.requestFailed(range, link, err);
      if (reason !== null && this.consecutiveFailures >= this.failuresBeforeReconnect && this.link === link) {
        this.onLinkLost(link, `${this.consecutiveFailures} requests in a row failed (${reason})`);
      }
    } finally {
      learned.probing = false;
    }
  }

  /** ms until the next probe of a Refusal that `probes` probes found still refused */
  private reprobeDelay(probes: number): number {
    return Math.min(this.reprobeMs, FIRST_REPROBES_MS[probes] ?? this.reprobeMs);
  }

  private replan(): void {
    this.planStale = false;
    const planned = planModbusDevice(
      this.device,
      this.learned.map((l) => l.refusal),
    );
    for (const group of this.groups) {
      const p = planned.get(group.name);
      group.blocks = p?.blocks ?? [];
      group.refused = p?.refused ?? [];
    }
  }

  private decodeTag(tag: ModbusTag, at: number, data: number[] | boolean[], ts: number): Sample {
    if (isBitArea(tag.address.area)) {
      const bit = data[at];
      if (typeof bit === 'boolean') return { tagId: tag.id, ts, value: bit, quality: 'good' };
      return this.decodeFailed(tag, ts, `decode error: no bit ${at} in the response`);
    }
    const result = decodeAt(
      data as number[],
      at,
      tag.type,
      tag.wordOrder ?? this.device.wordOrder,
      tag.address.bit,
      tag.length,
    );
    if (result.ok) return { tagId: tag.id, ts, value: result.value, quality: 'good' };
    return this.decodeFailed(tag, ts, result.reason);
  }

  private decodeFailed(tag: ModbusTag, ts: number, reason: string): Sample {
    this.health.fail(`tag ${tag.id}: ${reason}`, 'decode');
    this.rlog.warn(`decode:${tag.id}`, { tagId: tag.id, address: tag.address.text, reason }, 'a value did not decode');
    return { tagId: tag.id, ts, value: null, quality: 'bad', reason };
  }

  private internalError(err: unknown): void {
    this.health.fail(err, 'internal');
    this.rlog.error('internal', { err: describeError(err) }, 'unexpected error in the Modbus driver');
  }
}

/** The same driver; the name the gateway's wiring has used for Modbus TCP. */
export { ModbusDriver as ModbusTcpDriver };
