/**
 * Keeps the plant's alarms: pipeline samples, machine states, device links,
 * metric and system values go into the alarm engine; every change the
 * lifecycle makes and every operator action is written to the store first
 * and applied in memory only once it is on disk, so the audit trail never
 * misses what operators saw. Live listeners hear of each change at once.
 *
 * A change the store refuses is not applied; the engine proposes it again
 * at the next tick (its condition edges wait, at most MAX_EDGES per alarm),
 * so alarms appear as soon as the store takes writes again. An operator
 * action the store refuses did not happen: it answers GL_ERR_ALARM_STORE.
 *
 * After a start the alarm states are read back (active, acknowledged,
 * shelved, latched… as they were), then re-evaluated: each rule's tags are
 * seeded with their last stored reading when it is recent, machines,
 * devices and levels are read, and whatever differs from the restored state
 * changes through the lifecycle like any other change.
 *
 * Constructing does nothing; `start()` restores and starts the timer (delays,
 * shelf expiry, re-alarm, polling), `stop()` stops it. Failures are
 * contained: counted, logged (rate-limited) and visible in `health()`.
 */
import type { PlantConfig } from '../../config/schema.js';
import {
  type AlarmActionOutcome,
  type AlarmActionResult,
  type AlarmActivation,
  type AlarmChange,
  AlarmEngine,
  type AlarmProposal,
  type AlarmRecord,
  type AlarmState,
  type AlarmStatistics,
  type AlarmStatisticsOptions,
  type AlarmView,
  alarmStatistics,
  type DeviceLink,
  type MachineStatusInput,
  type MetricValues,
  metricValueOf,
  type OperatorAction,
  refusal,
} from '../core/alarms/index.js';
import type { CoreSample, EntityRef, WindowSpec } from '../core/index.js';
import { LogLimiter } from './log-limiter.js';

/** The store's alarm tables (gateway/store/alarm-store.ts fits). */
export interface AlarmStorePort {
  /** all of it in one transaction, or nothing and a throw */
  writeAlarmChanges(change: { readonly records: readonly AlarmRecord[]; readonly states: readonly AlarmState[] }): void;
  loadAlarmStates(): AlarmState[];
  /** announced activations that began in [from, to) or were still active at `from` */
  alarmActivations(from: number, to: number): AlarmActivation[];
}

export interface AlarmServiceLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What the system rules watch; a value the gateway does not have is null or left out. */
export interface SystemValues {
  readonly influxBacklogPoints?: number | null;
  /** 1 while the InfluxDB outbox is full (dropping its oldest points) or unusable, else 0 */
  readonly influxOutboxAlarm?: number | null;
  /** the same for the northbound MQTT sink's outbox */
  readonly mqttOutboxAlarm?: number | null;
  readonly storeDiskUsedPercent?: number | null;
}

export interface AlarmServiceOptions {
  /** its `alarms` are the rules */
  readonly plant: Pick<PlantConfig, 'alarms'>;
  readonly store: AlarmStorePort;
  readonly log: AlarmServiceLog;
  readonly now?: () => number;
  /** stored samples the rules are re-evaluated from after a start (the SqliteStore fits) */
  readonly samples?: { latestBefore(tagIds: readonly string[], beforeMs: number): readonly CoreSample[] };
  /** machine states (the MetricsService fits) */
  readonly machines?: { machineStatus(machineId: string): MachineStatusInput | null };
  /** metrics over windows (the MetricsService fits) */
  readonly metrics?: {
    ready(): boolean;
    snapshot(entity: EntityRef, window: WindowSpec, now: number): MetricValues | null;
  };
  /** each running driver's device id and connection state; a device that could not be built as `failed` */
  readonly devices?: () => readonly { readonly id: string; readonly state: string }[];
  readonly system?: () => SystemValues;
  /** machines and devices are read and due changes applied at least this often; default 1000 ms */
  readonly tickMs?: number;
  /** metric and system values are read this often; default 10 000 ms */
  readonly levelEveryMs?: number;
  /** a device still connecting this long after the start, never connected yet, has lost its link; default 15 000 ms */
  readonly deviceGraceMs?: number;
  /** a tag's stored reading seeds the re-evaluation after a start only when at most this old; default 10 min */
  readonly seedMaxAgeMs?: number;
  /** the longest shelf; default 24 h */
  readonly maxShelveMs?: number;
  readonly statistics?: AlarmStatisticsOptions;
  /** false: no timer (tests call `tick()`); default true */
  readonly timers?: boolean;
}

export interface AlarmServiceHealth {
  readonly ready: boolean;
  readonly alarms: number;
  readonly active: number;
  readonly unacknowledged: number;
  readonly hidden: number;
  /** records written to the store */
  readonly recorded: number;
  /** writes the store refused (changes wait and are retried) */
  readonly storeErrors: number;
  /** condition edges dropped while the store refused writes for long */
  readonly droppedEdges: number;
  readonly errors: number;
  readonly lastError: string | null;
  /** stored states of alarms no longer configured */
  readonly orphans: readonly string[];
}

const MAX_HELD = 10_000;

export class AlarmService {
  private readonly now: () => number;
  private readonly limiter: LogLimiter;
  private engine: AlarmEngine | null = null;
  private held: CoreSample[] = [];
  /** the tags some rule evaluates: only their samples are held before the start */
  private readonly tags: ReadonlySet<string>;
  private heldDropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private startedAt = 0;
  private lastLevels = Number.NEGATIVE_INFINITY;
  private readonly everConnected = new Set<string>();
  private readonly listeners = new Set<(change: AlarmChange) => void>();
  private counts = { recorded: 0, storeErrors: 0, errors: 0 };
  private lastError: string | null = null;

  constructor(private readonly options: AlarmServiceOptions) {
    this.now = options.now ?? Date.now;
    this.limiter = new LogLimiter(60_000, this.now);
    this.tags = new Set(options.plant.alarms.flatMap((r) => ('tag' in r && r.tag !== undefined ? [r.tag] : [])));
  }

  /** The pipeline's subscriber: hand it every batch. */
  readonly onSamples = (batch: readonly CoreSample[]): void => {
    if (this.stopped) return;
    const engine = this.engine;
    if (engine === null) {
      for (const s of batch) {
        if (!this.tags.has(s.tagId)) continue;
        if (this.held.length < MAX_HELD) this.held.push(s);
        else this.heldDropped++;
      }
      return;
    }
    this.contain('evaluate', () => {
      const at = this.now();
      this.readMachines(engine, at);
      engine.ingest(batch, at);
    });
    this.flush();
  };

  async start(): Promise<void> {
    if (this.engine !== null || this.stopped) return;
    const { store, log, plant } = this.options;
    const at = this.now();
    this.startedAt = at;
    let restored: AlarmState[] = [];
    this.contain('restore', () => {
      restored = store.loadAlarmStates();
    });
    const engine = new AlarmEngine({
      rules: plant.alarms,
      restored,
      at,
      ...(this.options.maxShelveMs === undefined ? {} : { maxShelveMs: this.options.maxShelveMs }),
    });
    if (engine.orphans.length > 0) {
      log.warn(
        { alarms: engine.orphans.map((s) => s.alarmId) },
        'stored alarm states of alarms no longer configured are kept in the store but not shown',
      );
    }
    // re-evaluate: what the tags last said (when recent), then what arrived meanwhile
    this.contain('evaluate', () => {
      const samples = this.options.samples;
      if (samples === undefined) return;
      const seedFrom = at - (this.options.seedMaxAgeMs ?? 10 * 60_000);
      engine.ingest(
        samples.latestBefore(engine.tags(), at + 1).filter((s) => s.ts >= seedFrom),
        at,
      );
    });
    const held = this.held;
    this.held = [];
    this.engine = engine;
    this.contain('evaluate', () => {
      this.readMachines(engine, at);
      engine.ingest(held, at);
    });
    if (this.heldDropped > 0) {
      log.warn({ dropped: this.heldDropped }, 'samples that arrived before the alarms were restored were dropped');
    }
    this.tick();
    const active = engine.list().filter((a) => a.state !== 'normal').length;
    log.info({ alarms: engine.list().length, restored: restored.length, notNormal: active }, 'alarms restored');
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Reads machines, devices and (every `levelEveryMs`) metric and system
   * values, then applies whatever is due. The timer calls it; tests call it
   * with a fake clock.
   */
  tick(): void {
    const engine = this.engine;
    if (engine === null || this.stopped) return;
    const at = this.now();
    this.contain('evaluate', () => {
      this.readMachines(engine, at);
      this.readDevices(engine, at);
      if (at - this.lastLevels >= (this.options.levelEveryMs ?? 10_000)) {
        this.lastLevels = at;
        this.readLevels(engine, at);
      }
    });
    this.flush();
    this.arm();
  }

  ready(): boolean {
    return this.engine !== null;
  }

  /** every configured alarm with its state, in configuration order */
  list(): AlarmView[] {
    return this.engine?.list() ?? [];
  }

  get(alarmId: string): AlarmView | null {
    return this.engine?.view(alarmId) ?? null;
  }

  acknowledge(alarmId: string, user: string, comment?: string | null): AlarmActionResult {
    return this.act({ action: 'acknowledge', alarmId, user, comment: comment ?? null, at: this.now() });
  }

  /** `reason` is required; the shelf expires by itself after `durationMs` */
  shelve(alarmId: string, user: string, reason: string, durationMs: number): AlarmActionResult {
    return this.act({ action: 'shelve', alarmId, user, comment: reason, durationMs, at: this.now() });
  }

  unshelve(alarmId: string, user: string, comment?: string | null): AlarmActionResult {
    return this.act({ action: 'unshelve', alarmId, user, comment: comment ?? null, at: this.now() });
  }

  reset(alarmId: string, user: string, comment?: string | null): AlarmActionResult {
    return this.act({ action: 'reset', alarmId, user, comment: comment ?? null, at: this.now() });
  }

  /** `reason` is required */
  removeFromService(alarmId: string, user: string, reason: string): AlarmActionResult {
    return this.act({ action: 'remove-from-service', alarmId, user, comment: reason, at: this.now() });
  }

  returnToService(alarmId: string, user: string, comment?: string | null): AlarmActionResult {
    return this.act({ action: 'return-to-service', alarmId, user, comment: comment ?? null, at: this.now() });
  }

  /** Alarm system performance over [from, to) from the stored activations. */
  stats(from: number, to: number): AlarmStatistics {
    const options = this.options.statistics ?? {};
    const lookBack = options.rateWindowMs ?? 10 * 60_000;
    return alarmStatistics(this.options.store.alarmActivations(from - lookBack, to), from, to, options);
  }

  /** Hears every change right after it is recorded, in order; returns the unsubscribe. */
  subscribe(listener: (change: AlarmChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  health(): AlarmServiceHealth {
    const list = this.list();
    return {
      ready: this.ready(),
      alarms: list.length,
      active: list.filter((a) => a.state === 'active-unacknowledged' || a.state === 'active-acknowledged').length,
      unacknowledged: list.filter((a) => a.state === 'active-unacknowledged' || a.state === 'returned-unacknowledged')
        .length,
      hidden: list.filter((a) => a.hidden).length,
      ...this.counts,
      droppedEdges: this.engine?.droppedEdges() ?? 0,
      lastError: this.lastError,
      orphans: this.engine?.orphans.map((s) => s.alarmId) ?? [],
    };
  }

  private act(action: OperatorAction): AlarmActionResult {
    const engine = this.engine;
    if (engine === null) return { ok: false, alarm: null, ...refusal('GL_ERR_ALARM_NOT_READY', action.alarmId) };
    // the action meets the alarm as it is now: what is due goes first
    this.flush();
    let outcome: AlarmActionOutcome;
    try {
      outcome = engine.act(action);
    } catch (err) {
      this.failed('act', err);
      return { ok: false, alarm: engine.view(action.alarmId), ...refusal('GL_ERR_ALARM_STORE', action.alarmId) };
    }
    const written = outcome.proposal === null || this.record(engine, outcome.proposal);
    if (!outcome.ok) return { ok: false, alarm: engine.view(action.alarmId), ...outcome.refusal };
    if (!written) {
      return { ok: false, alarm: engine.view(action.alarmId), ...refusal('GL_ERR_ALARM_STORE', action.alarmId) };
    }
    this.arm();
    return { ok: true, alarm: engine.view(action.alarmId)!, record: outcome.record };
  }

  /** applies what is due, once it is on record */
  private flush(): void {
    const engine = this.engine;
    if (engine === null) return;
    let proposal: AlarmProposal | null = null;
    this.contain('evaluate', () => {
      proposal = engine.due(this.now());
    });
    if (proposal !== null) this.record(engine, proposal);
  }

  /** writes, then commits, then tells the listeners; false when the store refused */
  private record(engine: AlarmEngine, proposal: AlarmProposal): boolean {
    if (proposal.basis.length === 0) return true;
    if (proposal.records.length > 0 || proposal.states.length > 0) {
      try {
        this.options.store.writeAlarmChanges({ records: proposal.records, states: proposal.states });
      } catch (err) {
        this.counts.storeErrors++;
        this.failed('store', err);
        return false;
      }
      this.counts.recorded += proposal.records.length;
    }
    engine.commit(proposal);
    for (const record of proposal.records) {
      const alarm = engine.view(record.alarmId);
      if (alarm === null) continue;
      for (const listener of this.listeners) {
        try {
          listener({ record, alarm });
        } catch (err) {
          this.failed('listener', err);
        }
      }
    }
    return true;
  }

  private readMachines(engine: AlarmEngine, at: number): void {
    const machines = this.options.machines;
    if (machines === undefined) return;
    for (const id of engine.machines()) engine.machine(id, machines.machineStatus(id), at);
  }

  private readDevices(engine: AlarmEngine, at: number): void {
    const devices = this.options.devices;
    if (devices === undefined) return;
    const wanted = new Set(engine.devices());
    if (wanted.size === 0) return;
    const grace = this.options.deviceGraceMs ?? 15_000;
    for (const d of devices()) {
      if (!wanted.has(d.id)) continue;
      if (d.state === 'connected') this.everConnected.add(d.id);
      engine.device(d.id, this.linkOf(d.id, d.state, at - this.startedAt < grace), at);
    }
  }

  private linkOf(deviceId: string, state: string, inGrace: boolean): DeviceLink {
    switch (state) {
      case 'connected':
        return 'up';
      case 'disconnected':
      case 'failed':
        return 'down';
      case 'connecting':
        // the first connection after a start gets its chance; a reconnect means the link was lost
        return inGrace && !this.everConnected.has(deviceId) ? 'unknown' : 'down';
      default:
        return 'unknown';
    }
  }

  private readLevels(engine: AlarmEngine, at: number): void {
    const { metrics, system } = this.options;
    const systemValues = system?.() ?? {};
    for (const rule of engine.levelRules()) {
      if (rule.kind === 'system') {
        const v =
          rule.signal === 'influx-backlog-points'
            ? systemValues.influxBacklogPoints
            : rule.signal === 'influx-outbox-alarm'
              ? systemValues.influxOutboxAlarm
              : rule.signal === 'mqtt-outbox-alarm'
                ? systemValues.mqttOutboxAlarm
                : systemValues.storeDiskUsedPercent;
        engine.level(rule.id, v ?? null, at);
        continue;
      }
      if (metrics === undefined || !metrics.ready()) continue;
      const entity: EntityRef =
        rule.machine !== undefined ? { type: 'machine', id: rule.machine } : { type: 'line', id: rule.line! };
      const record = metrics.snapshot(entity, { kind: rule.window }, at);
      engine.level(rule.id, record === null ? null : metricValueOf(record, rule.metric), at);
    }
  }

  /** the timer: the next tick, or sooner when a delay, a shelf or a re-alarm falls due */
  private arm(): void {
    if (this.options.timers === false || this.stopped || this.engine === null) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const now = this.now();
    const tickMs = this.options.tickMs ?? 1000;
    const due = this.engine.nextDue();
    // due already: the store refused it just now, so it waits for the next tick
    const wait = due === null || due <= now ? tickMs : Math.min(tickMs, due - now);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, wait);
    this.timer.unref();
  }

  private contain(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.failed(what, err);
    }
  }

  private failed(what: string, err: unknown): void {
    this.counts.errors++;
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = `${what}: ${message}`;
    const held = this.limiter.take(what);
    if (held !== null) {
      this.options.log.error(
        { err: message, what, heldBack: held },
        what === 'store'
          ? 'alarm changes could not be recorded; they are applied once the store takes them'
          : what === 'restore'
            ? 'stored alarm states could not be read: alarms start from normal and are evaluated anew'
            : 'alarm evaluation failed; samples still reach the store and the dashboard',
      );
    }
  }
}
