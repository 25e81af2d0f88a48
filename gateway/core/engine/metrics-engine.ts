/**
 * Live OEE, energy and carbon for every machine and line of a plant, computed
 * incrementally: each sample costs a constant amount of work, and everything
 * lands in per-minute accumulators per machine and line. A window's metrics are
 * the sum of its minutes plus what the open state adds up to `now`.
 *
 * Deterministic: the same samples in the same order, with the same `advance`
 * calls, give the same minutes. An `advance(t)` with `t` no later than the next
 * sample's time changes nothing but how soon minutes close, so replaying stored
 * samples (with or without advances) rebuilds the live state.
 */
import { ShiftCalendar } from '../calendar/shift-calendar.js';
import { type Accumulator, addInto, cloneAccumulator, emptyAccumulator } from '../metrics/accumulator.js';
import { CarbonFactors } from '../metrics/carbon-factors.js';
import {
  type LineParams,
  lineMetrics,
  type MachineParams,
  type MetricsPolicy,
  type MetricsRecord,
  machineMetrics,
} from '../metrics/metrics-record.js';
import {
  type CoreSample,
  CoreError,
  type EntityRef,
  floorMinute,
  type LineConfig,
  MINUTE_MS,
  type PlantModel,
} from '../model.js';
import { EnergyChannel } from './energy-channel.js';
import { type MachineEvent, type MachineStatus, MachineTracker } from './machine-tracker.js';
import { type BookTarget, MinuteStore, windowTarget } from './minute-store.js';
import { resolveWindow, type WindowSpec } from './windows.js';

export interface MetricsEngineOptions {
  readonly plant: PlantModel;
  /**
   * The instant the engine starts knowing about (a rebuild passes the start of
   * what it replays). Default: the first sample's or `advance` time.
   * Samples older than the origin are applied at the origin.
   */
  readonly origin?: number;
  /** minutes of per-minute accumulators kept in memory; default 2880 (48 h) */
  readonly retainMinutes?: number;
  /** default `planned` (DOMAIN.md: setup and changeover leave planned production time) */
  readonly setupCountsAs?: MetricsPolicy['setupCountsAs'];
  /** default `output-machine` */
  readonly lineMetrics?: MetricsPolicy['lineMetrics'];
  /** a counter or kWh register silent for longer than this is a data gap; default 300 s */
  readonly counterGapS?: number;
  /** a count above this many times the ideal rate over the elapsed time is flagged as implausible; default 2 */
  readonly implausibleRateFactor?: number;
  /** rejects this long after running resumes from a real stop are start-up rejects; default 600 s */
  readonly startupWindowS?: number;
  /**
   * Minutes the engine does not hold (before its origin, or older than
   * `retainMinutes`), summed over `[from, to)`: persisted rollups. Windows
   * reaching that far back add them in; without it they start at the
   * engine's memory.
   */
  readonly olderMinutes?: (entity: EntityRef, from: number, to: number) => Accumulator | null;
}

/** One closed minute of one entity, for persisting as a rollup. */
export interface MinuteRollup {
  readonly entity: EntityRef;
  /** start of the minute, ms since epoch */
  readonly minute: number;
  readonly acc: Accumulator;
}

export interface EngineStats {
  readonly samples: number;
  /** samples for tags no machine or line uses */
  readonly unusedSamples: number;
  /** samples without a finite timestamp */
  readonly rejectedSamples: number;
  /** events dropped because nobody drained them */
  readonly eventsDropped: number;
}

interface LineEntry {
  readonly config: LineConfig;
  readonly calendar: ShiftCalendar;
  readonly carbon: CarbonFactors;
  readonly store: MinuteStore;
  readonly machineIds: readonly string[];
  meter: EnergyChannel | undefined;
}

interface MachineEntry {
  readonly tracker: MachineTracker;
  readonly store: MinuteStore;
  readonly lineId: string;
  meter: EnergyChannel | undefined;
  readonly params: MachineParams;
  /** meters whose energy this machine's state splits (its own, its line's when it is the output machine) */
  readonly following: EnergyChannel[];
}

type Route = (sample: CoreSample) => MachineEntry;

const DEFAULTS = {
  retainMinutes: 48 * 60,
  counterGapS: 300,
  implausibleRateFactor: 2,
  startupWindowS: 600,
} as const;

/** events held between two `drainEvents` calls at most */
const MAX_EVENTS = 10_000;

/** history is trimmed once it holds this many state changes */
const HISTORY_TRIM_AT = 64;

export class MetricsEngine {
  readonly policy: MetricsPolicy;
  private readonly plant: PlantModel;
  private readonly retainMs: number;
  private readonly counterGapMs: number;
  private readonly implausibleRateFactor: number;
  private readonly startupWindowMs: number;
  private readonly olderMinutes: MetricsEngineOptions['olderMinutes'];
  private readonly tagInfo = new Map<string, { type: string | undefined; scale: number }>();
  private readonly lines = new Map<string, LineEntry>();
  private readonly machines = new Map<string, MachineEntry>();
  private readonly routes = new Map<string, Route[]>();
  private started = false;
  private originTs: number | undefined;
  private timeTs: number | undefined;
  private drainedUntil: number | undefined;
  private prunedAt = Number.NEGATIVE_INFINITY;
  private readonly counts = { samples: 0, unusedSamples: 0, rejectedSamples: 0, eventsDropped: 0 };
  private events: MachineEvent[] = [];

  constructor(options: MetricsEngineOptions) {
    this.plant = options.plant;
    const positive = (name: string, v: number | undefined, fallback: number) => {
      const value = v ?? fallback;
      if (!(Number.isFinite(value) && value > 0)) {
        throw new CoreError('GL_ERR_CORE_OPTION', `${name} must be a positive number, got ${String(v)}`);
      }
      return value;
    };
    this.retainMs = positive('retainMinutes', options.retainMinutes, DEFAULTS.retainMinutes) * MINUTE_MS;
    this.counterGapMs = positive('counterGapS', options.counterGapS, DEFAULTS.counterGapS) * 1000;
    this.implausibleRateFactor = positive(
      'implausibleRateFactor',
      options.implausibleRateFactor,
      DEFAULTS.implausibleRateFactor,
    );
    this.startupWindowMs = positive('startupWindowS', options.startupWindowS, DEFAULTS.startupWindowS) * 1000;
    this.olderMinutes = options.olderMinutes;
    this.policy = {
      oeeCap: this.plant.oeeCap,
      setupCountsAs: options.setupCountsAs ?? 'planned',
      lineMetrics: options.lineMetrics ?? 'output-machine',
    };
    for (const device of this.plant.devices ?? []) {
      for (const tag of device.tags) this.tagInfo.set(tag.id, { type: tag.type, scale: tag.scale });
    }
    if (options.origin !== undefined) this.start(options.origin);
  }

  /** The instant the engine started knowing about; undefined before the first sample or advance. */
  get origin(): number | undefined {
    return this.originTs;
  }

  /** The latest instant seen (sample or advance). */
  get time(): number | undefined {
    return this.timeTs;
  }

  get stats(): EngineStats {
    return { ...this.counts };
  }

  /** Every machine and line, lines first. */
  entities(): EntityRef[] {
    const out: EntityRef[] = this.plant.lines.map((l) => ({ type: 'line', id: l.id }));
    for (const l of this.plant.lines) for (const m of l.machines) out.push({ type: 'machine', id: m.id });
    return out;
  }

  ingest(sample: CoreSample): void {
    this.counts.samples++;
    if (!Number.isFinite(sample.ts)) {
      this.counts.rejectedSamples++;
      return;
    }
    this.start(sample.ts);
    const routes = this.routes.get(sample.tagId);
    if (routes === undefined) {
      this.counts.unusedSamples++;
      return;
    }
    // the engine knows nothing before its origin: an older reading counts as taken at the origin
    const s = sample.ts < this.originTs! ? { ...sample, ts: this.originTs! } : sample;
    for (const route of routes) this.settle(route(s));
    this.moveTime(s.ts);
  }

  ingestBatch(samples: readonly CoreSample[]): void {
    for (const s of samples) this.ingest(s);
  }

  /** Time passes with no samples: every machine's state accumulates up to `now`. */
  advance(now: number): void {
    if (!Number.isFinite(now)) return;
    this.start(now);
    for (const m of this.machines.values()) {
      m.tracker.advanceTo(now);
      this.settle(m);
    }
    this.moveTime(now);
  }

  /** The state of a machine now; null before the engine has seen any time. */
  machineStatus(machineId: string): MachineStatus | null {
    if (!this.started) {
      if (!this.plant.lines.some((l) => l.machines.some((m) => m.id === machineId))) this.machineEntry(machineId);
      return null;
    }
    return this.machineEntry(machineId).tracker.status();
  }

  /**
   * Metrics of a machine or line over a window, as of `now` (not before the
   * engine's own time). Reads only: nothing changes. Null when the window does
   * not exist (current shift between shifts) or the engine has seen nothing yet.
   */
  snapshot(entity: EntityRef, window: WindowSpec, now: number): MetricsRecord | null {
    if (!this.started) return null;
    if (entity.type === 'machine') {
      const m = this.machineEntry(entity.id);
      const line = this.lineEntry(m.lineId);
      const win = resolveWindow(window, now, line.calendar);
      if (win === null) return null;
      const end = Math.max(win.from, Math.min(win.to, Math.max(now, m.tracker.time)));
      const acc = this.machineWindow(m, win.from, end);
      return machineMetrics({ ...win, asOf: end }, acc, m.params, this.policy);
    }
    const line = this.lineEntry(entity.id);
    const win = resolveWindow(window, now, line.calendar);
    if (win === null) return null;
    const machines = line.machineIds.map((id) => this.machineEntry(id));
    const latest = Math.max(...machines.map((m) => m.tracker.time));
    const end = Math.max(win.from, Math.min(win.to, Math.max(now, latest)));
    const lineAcc = line.store.sumInto(emptyAccumulator(), Math.max(win.from, this.retainedFrom()), end);
    this.addOlder(entity, win.from, end, lineAcc);
    line.meter?.project(end, windowTarget(lineAcc, win.from, end));
    const lineParams: LineParams = {
      id: line.config.id,
      outputMachineId: line.config.outputMachine,
      hasMeter: line.config.energy !== undefined,
      carbon: { hasLocation: line.carbon.hasLocation, hasMarket: line.carbon.hasMarket },
    };
    return lineMetrics(
      { ...win, asOf: end },
      lineAcc,
      lineParams,
      machines.map((m) => ({ acc: this.machineWindow(m, win.from, end), params: m.params })),
      this.policy,
    );
  }

  /**
   * State changes, counter resets and rollovers since the last call, oldest
   * first. At most MAX_EVENTS are held between calls; older ones beyond that
   * are dropped and counted in `stats.eventsDropped`.
   */
  drainEvents(): MachineEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  private record(event: MachineEvent): void {
    if (this.events.length >= MAX_EVENTS) {
      this.events.shift();
      this.counts.eventsDropped++;
    }
    this.events.push(event);
  }

  /**
   * Minutes that can no longer change and were not handed out yet, oldest
   * first, for persisting as rollups. A minute closes once every machine has
   * been booked past it (an unplanned stop still below the microstop threshold
   * holds its minutes open) and no meter reading can still be spread into it.
   */
  drainClosedMinutes(): MinuteRollup[] {
    if (!this.started) return [];
    const until = this.closedUntil();
    const from = this.drainedUntil!;
    if (until <= from) return [];
    const out: MinuteRollup[] = [];
    for (const [id, line] of this.lines) {
      for (const [minute, acc] of line.store.between(from, until)) {
        out.push({ entity: { type: 'line', id }, minute, acc: cloneAccumulator(acc) });
      }
    }
    for (const [id, m] of this.machines) {
      for (const [minute, acc] of m.store.between(from, until)) {
        out.push({ entity: { type: 'machine', id }, minute, acc: cloneAccumulator(acc) });
      }
    }
    this.drainedUntil = until;
    return out.sort((a, b) => a.minute - b.minute);
  }

  /**
   * The minutes not handed out yet, up to the engine's time, as a snapshot
   * shows them (an undecided stop as a minor stop): what a stop persists, so
   * that what is known is kept. They stay open: a run that replays them later
   * hands them out again, whole.
   */
  openMinutes(): MinuteRollup[] {
    if (!this.started) return [];
    const from = this.drainedUntil!;
    const end = this.timeTs!;
    const out: MinuteRollup[] = [];
    const collect = (entity: EntityRef, store: MinuteStore, project: (target: BookTarget) => void) => {
      const minutes = new Map<number, Accumulator>();
      for (const [minute, acc] of store.between(from, end)) minutes.set(minute, cloneAccumulator(acc));
      project((minute) => {
        if (minute < from || minute >= end) return undefined;
        let acc = minutes.get(minute);
        if (acc === undefined) {
          acc = emptyAccumulator();
          minutes.set(minute, acc);
        }
        return acc;
      });
      for (const [minute, acc] of minutes) out.push({ entity, minute, acc });
    };
    for (const [id, line] of this.lines) {
      collect({ type: 'line', id }, line.store, (target) => line.meter?.project(end, target));
    }
    for (const [id, m] of this.machines) {
      collect({ type: 'machine', id }, m.store, (target) => {
        m.tracker.project(end, target);
        m.meter?.project(end, target);
      });
    }
    return out.sort((a, b) => a.minute - b.minute);
  }

  /**
   * Minutes starting before this instant are final: state is booked from each
   * machine's open point on, meter energy from each meter's, and readings land
   * no earlier than the minute holding the instant before their machine's time.
   */
  closedUntil(): number {
    if (!this.started) return Number.NEGATIVE_INFINITY;
    let open = Number.POSITIVE_INFINITY;
    let readings = Number.POSITIVE_INFINITY;
    for (const m of this.machines.values()) {
      open = Math.min(open, m.tracker.openFrom);
      readings = Math.min(readings, m.tracker.time - 1);
      for (const ch of m.following) {
        const from = ch.openFrom();
        if (from !== undefined) open = Math.min(open, from);
      }
    }
    return Math.max(this.drainedUntil ?? Number.NEGATIVE_INFINITY, floorMinute(Math.min(open, readings)));
  }

  /**
   * The oldest minute a window may use: a fixed distance behind the engine's
   * time, whether or not older minutes were pruned yet, so an answer never
   * depends on when pruning ran.
   */
  private retainedFrom(): number {
    return floorMinute(this.timeTs ?? Number.NEGATIVE_INFINITY) - this.retainMs;
  }

  /** Adds the persisted minutes of `[from, end)` the engine does not hold (before its memory starts). */
  private addOlder(entity: EntityRef, from: number, end: number, acc: Accumulator): void {
    if (this.olderMinutes === undefined || this.originTs === undefined) return;
    const memoryFrom = Math.max(this.retainedFrom(), floorMinute(this.originTs));
    const to = Math.min(memoryFrom, end);
    if (to <= from) return;
    const older = this.olderMinutes(entity, from, to);
    if (older !== null) addInto(acc, older);
  }

  private machineWindow(m: MachineEntry, from: number, end: number): Accumulator {
    const acc = m.store.sumInto(emptyAccumulator(), Math.max(from, this.retainedFrom()), end);
    this.addOlder({ type: 'machine', id: m.params.id }, from, end, acc);
    const target = windowTarget(acc, from, end);
    m.tracker.project(end, target);
    m.meter?.project(end, target);
    return acc;
  }

  private machineEntry(id: string): MachineEntry {
    const m = this.machines.get(id);
    if (m === undefined) {
      throw new CoreError(
        'GL_ERR_CORE_UNKNOWN_ENTITY',
        `no machine "${id}" in the plant model: use a machine id from the config`,
      );
    }
    return m;
  }

  private lineEntry(id: string): LineEntry {
    const l = this.lines.get(id);
    if (l === undefined) {
      throw new CoreError(
        'GL_ERR_CORE_UNKNOWN_ENTITY',
        `no line "${id}" in the plant model: use a line id from the config`,
      );
    }
    return l;
  }

  /** After a machine moved: held kW is booked up to its time, and its state history is trimmed. */
  private settle(m: MachineEntry): void {
    let keepFrom = m.tracker.time;
    for (const ch of m.following) {
      ch.progress(m.tracker.time);
      const open = ch.openFrom();
      if (open !== undefined) keepFrom = Math.min(keepFrom, open);
    }
    m.tracker.trimHistory(keepFrom, HISTORY_TRIM_AT);
  }

  private moveTime(t: number): void {
    if (this.timeTs === undefined || t > this.timeTs) this.timeTs = t;
    const now = this.timeTs;
    // prune at most every few minutes: a scan of the minutes held
    if (now - this.prunedAt >= 10 * MINUTE_MS) {
      this.prunedAt = now;
      const before = this.retainedFrom();
      for (const l of this.lines.values()) l.store.prune(before);
      for (const m of this.machines.values()) m.store.prune(before);
    }
  }

  /** Builds the trackers once the origin is known. */
  private start(origin: number): void {
    if (this.started) return;
    this.started = true;
    this.originTs = origin;
    this.timeTs = origin;
    this.drainedUntil = floorMinute(origin);
    const plant = this.plant;
    const tz = plant.site.timezone;
    const calendars = new Map(plant.calendars.map((c) => [c.id, c]));
    const tables = new Map(plant.carbonTables.map((t) => [t.id, t]));
    for (const line of plant.lines) {
      const calendarConfig = calendars.get(line.calendar);
      if (calendarConfig === undefined) {
        throw new CoreError(
          'GL_ERR_CORE_CONFIG',
          `line "${line.id}" names calendar "${line.calendar}", which the plant model does not declare`,
        );
      }
      const tableIds = line.carbonTables ?? plant.site.carbonTables;
      const lineTables = tableIds.map((id) => {
        const t = tables.get(id);
        if (t === undefined) {
          throw new CoreError(
            'GL_ERR_CORE_CONFIG',
            `line "${line.id}" uses carbon table "${id}", which the plant model does not declare`,
          );
        }
        return t;
      });
      const calendar = new ShiftCalendar(calendarConfig, tz, { lineId: line.id });
      const carbon = new CarbonFactors(lineTables, tz);
      const entry: LineEntry = {
        config: line,
        calendar,
        carbon,
        store: new MinuteStore(),
        machineIds: line.machines.map((m) => m.id),
        meter: undefined,
      };
      this.lines.set(line.id, entry);
      for (const mc of line.machines) {
        const store = new MinuteStore();
        const tracker = new MachineTracker({
          machine: mc,
          lineId: line.id,
          calendar,
          store,
          origin,
          microstopThresholdMs: (mc.microstopThresholdS ?? plant.microstopThresholdS) * 1000,
          startupWindowMs: this.startupWindowMs,
          counterGapMs: this.counterGapMs,
          implausibleRateFactor: this.implausibleRateFactor,
          counterScale: (tagId) => this.tagInfo.get(tagId)?.scale ?? 1,
          onEvent: (event) => this.record(event),
        });
        const m: MachineEntry = {
          tracker,
          store,
          lineId: line.id,
          meter: undefined,
          following: [],
          params: {
            id: mc.id,
            idealCycleTimeS: mc.idealCycleTimeS,
            counters: tracker.counterRoles,
            hasMeter: mc.energy !== undefined,
            stateMeasured: tracker.stateMeasured,
            unitMassKg: mc.unitMassKg ?? null,
            carbon: { hasLocation: carbon.hasLocation, hasMarket: carbon.hasMarket },
          },
        };
        this.machines.set(mc.id, m);
        if (mc.state !== undefined) {
          this.route(mc.state.tag, (s) => {
            tracker.onState(s);
            return m;
          });
          if (mc.state.reasonTag !== undefined) {
            this.route(mc.state.reasonTag, (s) => {
              tracker.onReason(s);
              return m;
            });
          }
        }
        for (const role of ['total', 'good', 'reject'] as const) {
          const tagId = mc.counters?.[role];
          if (tagId === undefined) continue;
          this.route(tagId, (s) => {
            tracker.onCounter(role, s);
            return m;
          });
        }
        if (mc.energy !== undefined) {
          const meter = this.energyChannel(mc.energy, store, tracker, carbon);
          m.meter = meter;
          m.following.push(meter);
          this.route(meterTag(mc.energy), (s) => {
            meter.onSample(s);
            return m;
          });
        }
      }
      if (line.energy !== undefined) {
        const output = this.machines.get(line.outputMachine) ?? this.machines.get(line.machines[0]!.id)!;
        const meter = this.energyChannel(line.energy, entry.store, output.tracker, carbon);
        entry.meter = meter;
        output.following.push(meter);
        this.route(meterTag(line.energy), (s) => {
          meter.onSample(s);
          return output;
        });
      }
    }
  }

  private energyChannel(
    energy: NonNullable<LineConfig['energy']>,
    store: MinuteStore,
    follows: MachineTracker,
    carbon: CarbonFactors,
  ): EnergyChannel {
    const tagId = meterTag(energy);
    const info = this.tagInfo.get(tagId);
    return new EnergyChannel({
      kind: energy.kwhTag !== undefined ? 'kwh' : 'kw',
      store,
      follows,
      carbon,
      maxIntegrationGapMs: energy.maxIntegrationGapS * 1000,
      counterGapMs: this.counterGapMs,
      registerWidth: registerWidth(info?.type),
      registerScale: info?.scale ?? 1,
    });
  }

  private route(tagId: string, route: Route): void {
    const list = this.routes.get(tagId);
    if (list === undefined) this.routes.set(tagId, [route]);
    else list.push(route);
  }
}

function meterTag(energy: NonNullable<LineConfig['energy']>): string {
  return (energy.kwhTag ?? energy.kwTag)!;
}

/** Integer registers roll over at their width; floating-point ones (and unknown types) do not. */
function registerWidth(type: string | undefined): 16 | 32 | 64 | 'float' {
  switch (type) {
    case 'int16':
    case 'uint16':
      return 16;
    case 'int32':
    case 'uint32':
      return 32;
    case 'int64':
    case 'uint64':
      return 64;
    default:
      return 'float';
  }
}
