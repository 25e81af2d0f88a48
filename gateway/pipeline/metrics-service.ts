/**
 * Keeps the metrics core fed and its results kept: pipeline samples go into
 * the engine, time advances each second, closed minutes are persisted as
 * per-minute rollups, and after a start the engine is rebuilt from the store,
 * so a restart never resets the day's OEE or energy.
 *
 * Rebuild: the engine starts at the earliest instant any window of interest
 * needs (today's site-local midnight, the current and the previous shift's
 * starts, the last hour), is seeded with what each of its tags last said before
 * that, and replays the stored samples since, in slices with a turn of the
 * event loop between them. Samples arriving meanwhile are held and applied
 * after the replay, in order. Windows older than the engine's memory come from
 * the persisted rollups through the same formulas.
 *
 * Constructing does nothing; `start()` rebuilds and starts the timers,
 * `stop()` persists the minutes (the open ones as far as known) and stops
 * them. A failure inside the engine is logged (rate-limited), counted and
 * contained: the samples still reach the store and the dashboard.
 */
import type { PlantConfig } from '../../config/schema.js';
import {
  type Accumulator,
  accumulatorFromJson,
  addInto,
  type CoreSample,
  type EntityRef,
  emptyAccumulator,
  floorMinute,
  type MachineEvent,
  type MachineStatus,
  MetricsEngine,
  type MetricsRecord,
  type MinuteRollup,
  type BaselinePoint,
  type EnergyBaseline,
  expectedKwh,
  fitEnergyBaseline,
  ShiftCalendar,
  startOfLocalDay,
  type WindowSpec,
} from '../core/index.js';
import { LogLimiter } from './log-limiter.js';

/** The parts of the store the service uses (the SQLite store fits). */
export interface MetricsStorePort {
  replay(
    tagIds: readonly string[],
    fromMs: number,
    toMs: number,
    onBatch: (rows: readonly CoreSample[]) => void,
    batchSize?: number,
  ): number;
  latestBefore(tagIds: readonly string[], beforeMs: number): readonly CoreSample[];
  earliestFrom(tagIds: readonly string[], fromMs: number): number | null;
  putMetricsBatch(rows: readonly { entityType: string; entityId: string; minuteTs: number; payload: unknown }[]): void;
  metrics(entityType: string, entityId: string, fromMs: number, toMs: number): { minuteTs: number; payload: unknown }[];
  appendEvents(events: readonly { kind: string; subject: string; payload: unknown; ts: number }[]): number;
  latestEventTs(kinds: readonly string[], beforeMs: number): number | null;
  /**
   * Runs `fn` when the store's own writes are not under way (its writes then
   * never wait for their lock); at once when nothing is being written.
   */
  whenIdle?(fn: () => void): void;
}

export interface MetricsServiceLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface MetricsServiceOptions {
  readonly plant: PlantConfig;
  readonly store: MetricsStorePort;
  readonly log: MetricsServiceLog;
  readonly now?: () => number;
  /** the engine's time moves this often with no samples; default 1000 ms */
  readonly advanceEveryMs?: number;
  /** closed minutes are persisted this often; default 5000 ms */
  readonly persistEveryMs?: number;
  /** a replay never reaches further back than this (the store's raw retention) */
  readonly maxReplayDays?: number;
  /** stored samples replayed per slice before the event loop gets a turn; default one hour of data */
  readonly replaySliceMs?: number;
  /**
   * A tag's last reading before the origin seeds the engine only when it is at
   * most this old (default 10 min: report-on-change data is re-sent at least
   * every minute while the gateway runs). An older one means the gateway was
   * not watching: the first reading after the origin is a fresh baseline, so
   * what a counter gained while nobody watched is not booked into today.
   */
  readonly seedMaxAgeMs?: number;
}

/** What the service hands to sinks each time it persists. */
export interface MetricsOutput {
  /** closed minutes, each with its metrics (OEE, kWh, … over that minute) */
  readonly minutes: readonly { readonly entity: EntityRef; readonly minute: number; readonly record: MetricsRecord }[];
  /** state changes, counter resets and rollovers, oldest first */
  readonly events: readonly MachineEvent[];
}

/** The energy baseline of a line (ISO 50006) and how the current shift compares with it. */
export interface BaselineReport {
  readonly lineId: string;
  /** the history fitted: [from, to), in periods of periodMs */
  readonly from: number;
  readonly to: number;
  readonly periodMs: number;
  /** periods used, and periods left out (no data for most of it, energy across a data gap, no meter reading) */
  readonly used: number;
  readonly excluded: number;
  /** null with too few usable periods or no spread in production */
  readonly model: EnergyBaseline | null;
  /** the current shift against the model; null without a model or a shift */
  readonly current: {
    readonly from: number;
    readonly asOf: number;
    readonly actualKwh: number;
    readonly expectedKwh: number;
    readonly good: number;
    /** energy performance indicator: actual / expected (below 1 is better than the baseline) */
    readonly enpi: number | null;
  } | null;
}

export interface MetricsServiceStats {
  readonly ready: boolean;
  /** when the rebuild started (the engine's origin) and how long it took */
  readonly rebuild: {
    readonly origin: number | null;
    readonly samples: number;
    readonly durationMs: number | null;
  };
  readonly samples: number;
  readonly minutesPersisted: number;
  /** state changes, counter resets and rollovers logged to the store */
  readonly events: number;
  readonly errors: number;
  readonly lastError: string | null;
}

const HOUR_MS = 3_600_000;
/** the reason on readings the rebuild adds for the time the gateway was not running */
export const GATEWAY_DOWN = 'gateway not running';
/** the event kinds the metrics core logs */
export const EVENT_KINDS: readonly MachineEvent['kind'][] = ['machine-state', 'counter-reset', 'counter-rollover'];
const DAY_MS = 86_400_000;
/** minute rollups kept for a store that refuses writes, at most (two days of 100 machines and lines) */
const MAX_UNSAVED = 2 * 1440 * 100;

/** Every tag a machine or line computes with. */
export function metricsTagIds(plant: PlantConfig): string[] {
  const ids = new Set<string>();
  const add = (id: string | undefined) => {
    if (id !== undefined) ids.add(id);
  };
  for (const line of plant.lines) {
    add(line.energy?.kwhTag);
    add(line.energy?.kwTag);
    for (const m of line.machines) {
      add(m.state?.tag);
      add(m.state?.reasonTag);
      add(m.counters?.total);
      add(m.counters?.good);
      add(m.counters?.reject);
      add(m.energy?.kwhTag);
      add(m.energy?.kwTag);
    }
  }
  return [...ids];
}

/**
 * The earliest instant the live windows need after a start: today's
 * site-local midnight, the start of each line's current and previous shift,
 * and the last hour; on a whole minute.
 */
export function rebuildOrigin(plant: PlantConfig, now: number): number {
  const tz = plant.site.timezone;
  let origin = Math.min(startOfLocalDay(now, tz), floorMinute(now) - HOUR_MS);
  const calendars = new Map(plant.calendars.map((c) => [c.id, c]));
  for (const line of plant.lines) {
    const config = calendars.get(line.calendar);
    if (config === undefined) continue;
    const calendar = new ShiftCalendar(config, tz, { lineId: line.id });
    const current = calendar.shiftAt(now);
    const previous = calendar.previousShift(now);
    if (current !== null) origin = Math.min(origin, current.start);
    if (previous !== null) origin = Math.min(origin, previous.start);
  }
  return floorMinute(origin);
}

export class MetricsService {
  private readonly now: () => number;
  private readonly tagIds: ReadonlySet<string>;
  private engine: MetricsEngine | null = null;
  /** samples that arrived during the rebuild; null once live */
  private held: CoreSample[] | null = [];
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** a persist waits for the store to be idle */
  private persistQueued = false;
  private readonly limiter: LogLimiter;
  private counts = { samples: 0, minutesPersisted: 0, events: 0, errors: 0 };
  private lastError: string | null = null;
  private pendingEvents: MachineEvent[] = [];
  private startedOnce = false;
  /** closed minutes a failed write left behind, written first next time */
  private unsaved: MinuteRollup[] = [];
  private readonly outputs: ((out: MetricsOutput) => void)[] = [];
  private rebuildInfo: { origin: number | null; samples: number; durationMs: number | null } = {
    origin: null,
    samples: 0,
    durationMs: null,
  };

  constructor(private readonly options: MetricsServiceOptions) {
    this.now = options.now ?? Date.now;
    this.limiter = new LogLimiter(60_000, this.now);
    this.tagIds = new Set(metricsTagIds(options.plant));
  }

  /** The pipeline's subscriber: hand it every batch. */
  readonly onSamples = (batch: readonly CoreSample[]): void => {
    if (this.stopped) return;
    if (this.held !== null) {
      for (const s of batch) if (this.tagIds.has(s.tagId)) this.held.push(s);
      return;
    }
    this.contain('ingest', () => {
      this.engine!.ingestBatch(batch);
      this.counts.samples += batch.length;
    });
  };

  async start(): Promise<void> {
    if (this.startedOnce) return;
    this.startedOnce = true;
    const slice = this.options.replaySliceMs ?? HOUR_MS;
    if (!(Number.isFinite(slice) && slice >= 1000)) {
      throw new Error(`replaySliceMs must be at least 1000 ms, got ${String(slice)}`);
    }
    const started = this.now();
    const { plant, store, log } = this.options;
    const tags = [...this.tagIds];
    let origin = Math.max(
      rebuildOrigin(plant, started),
      floorMinute(started - (this.options.maxReplayDays ?? 7) * DAY_MS),
    );
    // a store that holds nothing before the origin belongs to a gateway that was not installed
    // then: its windows start with its first reading instead of showing hours it never watched
    // as offline (a gateway that was installed and down shows its downtime as no data)
    this.contain('rebuild', () => {
      if (store.latestBefore(tags, origin).length > 0) return;
      const first = store.earliestFrom(tags, origin);
      origin = Math.max(origin, floorMinute(first ?? started));
    });
    const engine = new MetricsEngine({
      plant,
      origin,
      setupCountsAs: plant.setupCountsAs,
      lineMetrics: plant.lineMetrics,
      olderMinutes: (entity, from, to) => this.persisted(entity, from, to),
    });
    let replayed = 0;
    /** per tag, the newest stored reading the engine was given */
    const replayedUntil = new Map<string, number>();
    const ingestStored = (rows: readonly CoreSample[]) => {
      for (const r of rows) replayedUntil.set(r.tagId, Math.max(r.ts, replayedUntil.get(r.tagId) ?? r.ts));
      engine.ingestBatch(rows);
    };
    this.contain('rebuild', () => {
      const seedFrom = origin - (this.options.seedMaxAgeMs ?? 10 * 60_000);
      // a tag read exactly at the origin starts from that reading: what a counter or meter
      // gained before it belongs before the origin
      const atOrigin = new Set(
        store
          .latestBefore(tags, origin + 1)
          .filter((s) => s.ts === origin)
          .map((s) => s.tagId),
      );
      ingestStored(store.latestBefore(tags, origin).filter((s) => s.ts >= seedFrom && !atOrigin.has(s.tagId)));
    });
    for (let from = origin; from <= started && !this.stopped; from += slice) {
      const to = Math.min(from + slice - 1, started);
      this.contain('rebuild', () => {
        replayed += store.replay(tags, from, to, ingestStored);
      });
      await new Promise((r) => setImmediate(r));
    }
    if (this.stopped) return;
    // the replay told again what was logged while it first happened: only newer events are logged
    this.contain('rebuild', () => {
      const logged = store.latestEventTs(EVENT_KINDS, started);
      const replayed = engine.drainEvents();
      this.pendingEvents = logged === null ? replayed : replayed.filter((e) => e.ts > logged);
    });
    this.contain('rebuild', () => {
      // the gateway was not running between its last stored reading and now: its machines
      // had no data then (offline), and what counters gained meanwhile is a gap, counted
      // at the first reading after it
      // (the replay reaches `started` inclusive; a downtime that began before the origin
      // shows from the origin on, not as the seeded state held through it)
      const lastAlive = this.lastStoredTs(store, started + 1);
      if (lastAlive !== null && lastAlive + 1 < started) {
        engine.ingestBatch(
          tags.map((tagId) => ({ tagId, ts: lastAlive + 1, value: null, quality: 'stale', reason: GATEWAY_DOWN })),
        );
      }
    });
    // a held sample the replay already read from the store (stamped before the start, written
    // meanwhile) must not be applied twice: late, it would move a counter back (a reset)
    const held = (this.held ?? []).filter((s) => !(s.ts <= (replayedUntil.get(s.tagId) ?? Number.NaN)));
    this.held = null;
    this.engine = engine;
    this.contain('rebuild', () => {
      engine.ingestBatch(held);
      engine.advance(this.now());
    });
    this.persist();
    this.rebuildInfo = { origin, samples: replayed, durationMs: this.now() - started };
    log.info(
      { origin: new Date(origin).toISOString(), samples: replayed, held: held.length, ms: this.rebuildInfo.durationMs },
      'metrics rebuilt from the store',
    );
    this.timers.push(
      setInterval(() => this.contain('advance', () => engine.advance(this.now())), this.options.advanceEveryMs ?? 1000),
      setInterval(() => this.persistWhenIdle(), this.options.persistEveryMs ?? 5000),
    );
    for (const t of this.timers) t.unref();
  }

  /** Persists the closed minutes and, as far as known, the open ones; stops the timers. The store must be open. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const engine = this.engine;
    if (engine !== null) {
      this.contain('advance', () => engine.advance(this.now()));
      this.persist();
      // the minutes still open are kept as far as they are known: a later run that does not
      // replay them reads them back; one that does writes them again, whole
      this.contain('persist', () => {
        const open = engine.openMinutes();
        if (open.length === 0) return;
        this.options.store.putMetricsBatch(
          open.map((m) => ({ entityType: m.entity.type, entityId: m.entity.id, minuteTs: m.minute, payload: m.acc })),
        );
        this.counts.minutesPersisted += open.length;
      });
    }
  }

  /**
   * Called after each persist with what was persisted. After a restart the
   * rebuilt minutes are handed out again (same entity and minute: a sink
   * keyed by them overwrites, it does not duplicate).
   */
  onOutput(listener: (out: MetricsOutput) => void): void {
    this.outputs.push(listener);
  }

  ready(): boolean {
    return this.engine !== null;
  }

  snapshot(entity: EntityRef, window: WindowSpec, now: number): MetricsRecord | null {
    if (this.engine === null) return null;
    return this.engine.snapshot(entity, window, Math.max(now, this.engine.time ?? now));
  }

  /**
   * Fits E = c + m·units on the line's past hours (its own meter, its good
   * units) over `days` days before the current hour. An hour counts when it
   * is an operating hour with data: covered for at least 90 %, offline or
   * without data for at most 10 %, energy measured (above 0) and none of it
   * across a data gap.
   */
  baseline(lineId: string, days: number, now: number): BaselineReport | null {
    if (this.engine === null) return null;
    const entity: EntityRef = { type: 'line', id: lineId };
    const to = Math.floor(now / HOUR_MS) * HOUR_MS;
    const from = to - Math.round(days * 24) * HOUR_MS;
    const points: BaselinePoint[] = [];
    let excluded = 0;
    for (let t = from; t < to; t += HOUR_MS) {
      const r = this.engine.snapshot(entity, { kind: 'range', from: t, to: t + HOUR_MS }, now);
      const usable =
        r !== null &&
        r.kwh !== null &&
        r.kwh > 0 &&
        r.good !== null &&
        r.elapsedMs >= 0.9 * HOUR_MS &&
        r.states.offline <= 0.1 * HOUR_MS &&
        r.dataQuality.gapKwh === 0;
      if (usable) points.push({ units: r.good!, kwh: r.kwh! });
      else excluded++;
    }
    const model = fitEnergyBaseline(points);
    let current: BaselineReport['current'] = null;
    const shift = this.engine.snapshot(entity, { kind: 'current-shift' }, now);
    if (model !== null && shift !== null && shift.kwh !== null && shift.good !== null) {
      const expected = expectedKwh(model, shift.elapsedMs / HOUR_MS, shift.good);
      current = {
        from: shift.window.from,
        asOf: shift.window.asOf,
        actualKwh: shift.kwh,
        expectedKwh: expected,
        good: shift.good,
        enpi: expected > 0 ? shift.kwh / expected : null,
      };
    }
    return { lineId, from, to, periodMs: HOUR_MS, used: points.length, excluded, model, current };
  }

  machineStatus(machineId: string): MachineStatus | null {
    return this.engine?.machineStatus(machineId) ?? null;
  }

  stats(): MetricsServiceStats {
    return {
      ready: this.ready(),
      rebuild: { ...this.rebuildInfo },
      ...this.counts,
      lastError: this.lastError,
    };
  }

  /** the newest stored reading of any tag before `before`: when the gateway last ran */
  private lastStoredTs(store: MetricsStorePort, before: number): number | null {
    const all = new Set<string>(this.tagIds);
    for (const d of this.options.plant.devices) for (const t of d.tags) all.add(t.id);
    let last: number | null = null;
    for (const row of store.latestBefore([...all], before)) if (last === null || row.ts > last) last = row.ts;
    return last;
  }

  /**
   * A persist on the timer waits until the store has committed the batch of
   * samples it may be writing: a write of its own meanwhile would hold the
   * event loop until that batch is done.
   */
  private persistWhenIdle(): void {
    const { store } = this.options;
    if (store.whenIdle === undefined) {
      this.persist();
      return;
    }
    if (this.persistQueued) return;
    this.persistQueued = true;
    store.whenIdle(() => {
      this.persistQueued = false;
      if (!this.stopped) this.persist();
    });
  }

  private persist(): void {
    const engine = this.engine;
    if (engine === null) return;
    let events: MachineEvent[] = [];
    let minutes: MinuteRollup[] = [];
    this.contain('persist', () => {
      // events the store refused stay pending (bounded) until they are written
      const all = [...this.pendingEvents, ...engine.drainEvents()];
      this.pendingEvents = all.length > MAX_UNSAVED ? all.slice(all.length - MAX_UNSAVED) : all;
      if (this.pendingEvents.length === 0) return;
      this.options.store.appendEvents(
        this.pendingEvents.map(({ kind, machineId, ts, ...payload }) => ({ kind, subject: machineId, ts, payload })),
      );
      events = this.pendingEvents;
      this.counts.events += events.length;
      this.pendingEvents = [];
    });
    this.contain('persist', () => {
      minutes = engine.drainClosedMinutes();
      // the engine hands a minute out once: one the store refused stays here until it is written
      const batch = this.unsaved.length === 0 ? minutes : [...this.unsaved, ...minutes];
      this.unsaved = batch.length > MAX_UNSAVED ? batch.slice(batch.length - MAX_UNSAVED) : batch;
      if (batch.length > MAX_UNSAVED && this.limiter.take('persist-dropped') !== null) {
        this.options.log.warn(
          { dropped: batch.length - MAX_UNSAVED },
          'the store refused metrics for too long: the oldest minutes were dropped',
        );
      }
      if (this.unsaved.length === 0) return;
      this.options.store.putMetricsBatch(
        this.unsaved.map((m) => ({
          entityType: m.entity.type,
          entityId: m.entity.id,
          minuteTs: m.minute,
          payload: m.acc,
        })),
      );
      this.counts.minutesPersisted += this.unsaved.length;
      this.unsaved = [];
    });
    if (this.outputs.length === 0 || (events.length === 0 && minutes.length === 0)) return;
    this.contain('output', () => {
      const now = Math.max(this.now(), engine.time ?? 0);
      const out: MetricsOutput = {
        events,
        minutes: minutes.flatMap((m) => {
          const record = engine.snapshot(m.entity, { kind: 'range', from: m.minute, to: m.minute + 60_000 }, now);
          return record === null ? [] : [{ entity: m.entity, minute: m.minute, record }];
        }),
      };
      for (const listener of this.outputs) listener(out);
    });
  }

  private persisted(entity: EntityRef, from: number, to: number): Accumulator | null {
    const rows = this.options.store.metrics(entity.type, entity.id, from, to - 1);
    if (rows.length === 0) return null;
    const acc = emptyAccumulator();
    for (const row of rows) {
      const a = accumulatorFromJson(row.payload);
      if (a !== null) addInto(acc, a);
    }
    return acc;
  }

  private contain(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.counts.errors++;
      const message = (err as Error).message ?? String(err);
      this.lastError = `${what}: ${message}`;
      const held = this.limiter.take(what);
      if (held !== null) {
        this.options.log.error(
          { err: message, what, heldBack: held },
          'metrics computation failed; samples still reach the store and the dashboard',
        );
      }
    }
  }
}
