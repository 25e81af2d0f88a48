/**
 * One machine followed through time: its state (with the microstop decision),
 * its stop reason, its production counters, and the bookings of all of it
 * into per-minute accumulators.
 *
 * Time moves forward only. `advanceTo(t)` books the time up to `t` in the
 * current state; a sample older than the machine's time is applied at the
 * machine's time (it arrived late; what is booked stays booked).
 *
 * An unplanned stop is held back until it is decided: when it ends below the
 * threshold it is a minor stop; when it reaches the threshold it is a stop from
 * its start. `project(end, target)` books the same way into a scratch target
 * without changing anything, so a snapshot shows what `advanceTo(end)` would.
 */
import type { CalendarSegment, ShiftCalendar } from '../calendar/shift-calendar.js';
import type { Accumulator } from '../metrics/accumulator.js';
import type { CounterRoles } from '../metrics/metrics-record.js';
import {
  type CoreSample,
  floorMinute,
  HOUR_MS,
  isUsable,
  type MachineConfig,
  MINUTE_MS,
  type SampleValue,
} from '../model.js';
import { CounterTracker } from '../signals/counter-tracker.js';
import {
  type EnergyClass,
  energyClassOf,
  isSetupReason,
  type MachineStateName,
  StateMapper,
} from '../signals/machine-state.js';
import type { BookTarget, MinuteStore } from './minute-store.js';

export type CounterRole = 'total' | 'good' | 'reject';

/** A count up to this many units above the ideal-rate allowance is sampling jitter, not an implausible jump. */
export const IMPLAUSIBLE_SLACK_UNITS = 2;

export interface MachineStatus {
  readonly machineId: string;
  readonly state: MachineStateName;
  /** the stop reason: the reason tag's text, else the state mapping's reason */
  readonly reason: string | null;
  readonly since: number;
  /** the raw state value, null when there is none */
  readonly raw: string | null;
  /** the raw value is not in the state map */
  readonly unmapped: boolean;
  /** offline because no usable state reading is at hand (none yet, or bad / stale) */
  readonly noData: boolean;
  /** an unplanned stop still below the microstop threshold */
  readonly minorStopPending: boolean;
}

export interface MachineTrackerOptions {
  readonly machine: MachineConfig;
  readonly lineId: string;
  readonly calendar: ShiftCalendar;
  readonly store: MinuteStore;
  readonly origin: number;
  readonly microstopThresholdMs: number;
  readonly startupWindowMs: number;
  readonly counterGapMs: number;
  readonly implausibleRateFactor: number;
  /** engineering units per raw count of a counter tag (its scale), for the rollover range */
  readonly counterScale: (tagId: string) => number;
  /** told of state changes, counter resets and rollovers, in the order they happen */
  readonly onEvent?: (event: MachineEvent) => void;
}

/** Something worth a line in the event log (and a dot on a timeline). */
export type MachineEvent =
  | {
      readonly kind: 'machine-state';
      readonly machineId: string;
      readonly ts: number;
      readonly state: MachineStateName;
      readonly previous: MachineStateName;
      /** the state map's reason (setup, maintenance, …); the reason tag's text follows separately */
      readonly reason: string | null;
      readonly raw: string | null;
      readonly noData: boolean;
    }
  | {
      readonly kind: 'counter-reset' | 'counter-rollover';
      readonly machineId: string;
      readonly ts: number;
      readonly role: 'total' | 'good' | 'reject';
      readonly previous: number;
      readonly value: number;
      /** units counted for it: the new value after a reset, the wrapped difference after a rollover */
      readonly counted: number;
    };

interface CurrentState {
  readonly state: MachineStateName;
  readonly mappingReason: string | null;
  readonly raw: string | null;
  readonly unmapped: boolean;
  readonly noData: boolean;
  readonly since: number;
}

interface CounterChannel {
  readonly tracker: CounterTracker;
  /** a bad or stale reading came since the last good one */
  interrupted: boolean;
  /** the machine's offline count at the last good reading */
  offlineEpoch: number;
}

interface StateChange {
  readonly t: number;
  readonly cls: EnergyClass;
}

type UnplannedAs = 'stop' | 'microstop';

export class MachineTracker {
  readonly id: string;
  readonly lineId: string;
  readonly idealCycleTimeS: number;
  readonly unitMassKg: number | null;
  readonly stateMeasured: boolean;
  readonly counterRoles: CounterRoles | null;
  readonly microstopThresholdMs: number;
  /** the latest instant the machine has been brought to */
  time: number;
  /** every instant before this is booked */
  private accountedUntil: number;
  private readonly store: MinuteStore;
  private readonly calendar: ShiftCalendar;
  private readonly mapper: StateMapper | null;
  private readonly startupWindowMs: number;
  private readonly counterGapMs: number;
  private readonly implausibleRateFactor: number;
  private readonly primaryRole: CounterRole;
  private readonly counters: Partial<Record<CounterRole, CounterChannel>> = {};
  private current: CurrentState;
  private tagReason: string | null = null;
  private known = false;
  /** the unplanned stop in progress; `decided` once it reached the threshold */
  private episode: { readonly start: number; decided: boolean } | null = null;
  private nonRunningSince: number | undefined;
  /** start of the current (or last) running period; -Infinity before any */
  private runningSince = Number.NEGATIVE_INFINITY;
  private startupUntil = Number.NEGATIVE_INFINITY;
  private offlineEpoch = 0;
  /** energy-class changes, oldest first; trimmed to what open energy intervals still need */
  private history: StateChange[];
  private calendarCache: { from: number; to: number; segments: readonly CalendarSegment[] } | undefined;
  private readonly onEvent: ((event: MachineEvent) => void) | undefined;

  constructor(options: MachineTrackerOptions) {
    const m = options.machine;
    this.id = m.id;
    this.onEvent = options.onEvent;
    this.lineId = options.lineId;
    this.idealCycleTimeS = m.idealCycleTimeS;
    this.unitMassKg = m.unitMassKg ?? null;
    this.store = options.store;
    this.calendar = options.calendar;
    this.mapper = m.state === undefined ? null : new StateMapper(m.state);
    this.stateMeasured = this.mapper !== null;
    this.microstopThresholdMs = options.microstopThresholdMs;
    this.startupWindowMs = options.startupWindowMs;
    this.counterGapMs = options.counterGapMs;
    this.implausibleRateFactor = options.implausibleRateFactor;
    this.time = options.origin;
    this.accountedUntil = options.origin;
    // without a state tag the machine is taken as running: its losses show as performance
    this.current =
      this.mapper === null
        ? { state: 'running', mappingReason: null, raw: null, unmapped: false, noData: false, since: options.origin }
        : { state: 'offline', mappingReason: null, raw: null, unmapped: false, noData: true, since: options.origin };
    this.known = this.mapper === null;
    if (this.mapper === null) this.runningSince = options.origin;
    this.history = [{ t: options.origin, cls: energyClassOf(this.current.state) }];
    const c = m.counters;
    if (c === undefined) {
      this.counterRoles = null;
      this.primaryRole = 'total';
    } else {
      this.counterRoles = { total: c.total !== undefined, good: c.good !== undefined, reject: c.reject !== undefined };
      this.primaryRole = c.total !== undefined ? 'total' : 'good';
      for (const role of ['total', 'good', 'reject'] as const) {
        const tagId = c[role];
        if (tagId === undefined) continue;
        this.counters[role] = {
          tracker: new CounterTracker({ width: c.width, scale: options.counterScale(tagId) }),
          interrupted: false,
          offlineEpoch: 0,
        };
      }
    }
  }

  status(): MachineStatus {
    const c = this.current;
    return {
      machineId: this.id,
      state: c.state,
      reason: c.state === 'running' ? null : this.reasonText(),
      since: c.since,
      raw: c.raw,
      unmapped: c.unmapped,
      noData: c.noData,
      minorStopPending: this.episode !== null && !this.episode.decided,
    };
  }

  /** Books the time up to `t` in the current state (an undecided stop waits for its decision). */
  advanceTo(t: number): void {
    if (!(t > this.time)) return;
    const target: BookTarget = (minute) => this.store.bucket(minute);
    const ep = this.episode;
    if (ep !== null && !ep.decided) {
      if (t - ep.start >= this.microstopThresholdMs) {
        ep.decided = true;
        this.store.bucket(floorMinute(ep.start)).stops++;
        this.bookSpan(this.accountedUntil, t, 'stop', target);
        this.accountedUntil = t;
      }
    } else {
      this.bookSpan(this.accountedUntil, t, 'stop', target);
      this.accountedUntil = t;
    }
    this.time = t;
  }

  /** Books, into `target` only, what `advanceTo(end)` would book now; changes nothing. */
  project(end: number, target: BookTarget): void {
    if (!(end > this.accountedUntil)) return;
    const ep = this.episode;
    if (ep !== null && !ep.decided) {
      const asStop = end - ep.start >= this.microstopThresholdMs;
      const acc = target(floorMinute(ep.start));
      if (acc !== undefined) {
        if (asStop) acc.stops++;
        else acc.microstops++;
      }
      this.bookSpan(this.accountedUntil, end, asStop ? 'stop' : 'microstop', target);
    } else {
      this.bookSpan(this.accountedUntil, end, 'stop', target);
    }
  }

  /** The earliest instant whose booking may still change (an undecided stop's start). */
  get openFrom(): number {
    return this.accountedUntil;
  }

  onState(sample: CoreSample): void {
    if (this.mapper === null) return;
    const ts = Math.max(sample.ts, this.time);
    this.advanceTo(ts);
    const usable = isUsable(sample.quality) && sample.value !== null;
    const mapped = usable ? this.mapper.read(sample.value) : null;
    const next: CurrentState =
      mapped === null
        ? { state: 'offline', mappingReason: null, raw: null, unmapped: false, noData: true, since: ts }
        : {
            state: mapped.state,
            mappingReason: mapped.reason,
            raw: mapped.raw,
            unmapped: mapped.unmapped,
            noData: false,
            since: ts,
          };
    const cur = this.current;
    if (next.state === cur.state && next.noData === cur.noData) {
      // the same state with another raw value or reason: the episode goes on
      if (next.unmapped && next.raw !== cur.raw) this.store.bucket(floorMinute(ts)).unmappedStates++;
      this.current = { ...next, since: cur.since };
      return;
    }
    const acc = this.store.bucket(floorMinute(ts));
    const ep = this.episode;
    if (ep !== null) {
      if (!ep.decided) {
        // ended below the threshold: a minor stop
        this.store.bucket(floorMinute(ep.start)).microstops++;
        this.bookSpan(this.accountedUntil, ts, 'microstop', (minute) => this.store.bucket(minute));
        this.accountedUntil = ts;
      }
      this.episode = null;
    }
    if (next.unmapped) acc.unmappedStates++;
    if (next.noData && this.known) acc.gaps++;
    if (next.state === 'offline' && cur.state !== 'offline') this.offlineEpoch++;
    if (next.state === 'unplanned-stop') {
      const decided = this.microstopThresholdMs <= 0;
      this.episode = { start: ts, decided };
      if (decided) acc.stops++;
    }
    if (next.state === 'running') {
      this.runningSince = ts;
      if (this.nonRunningSince !== undefined && ts - this.nonRunningSince >= this.microstopThresholdMs) {
        this.startupUntil = ts + this.startupWindowMs;
      }
      this.nonRunningSince = undefined;
    } else if (cur.state === 'running' || (!this.known && !next.noData)) {
      this.nonRunningSince = ts;
    }
    if (!next.noData) this.known = true;
    this.current = next;
    this.onEvent?.({
      kind: 'machine-state',
      machineId: this.id,
      ts,
      state: next.state,
      previous: cur.state,
      reason: next.mappingReason,
      raw: next.raw,
      noData: next.noData,
    });
    const cls = energyClassOf(next.state);
    if (this.history[this.history.length - 1]!.cls !== cls) this.history.push({ t: ts, cls });
  }

  onReason(sample: CoreSample): void {
    if (this.mapper === null) return;
    this.advanceTo(Math.max(sample.ts, this.time));
    this.tagReason = isUsable(sample.quality) ? this.mapper.reasonText(sample.value) : null;
  }

  onCounter(role: CounterRole, sample: CoreSample): void {
    const channel = this.counters[role];
    if (channel === undefined) return;
    const ts = Math.max(sample.ts, this.time);
    this.advanceTo(ts);
    const value: SampleValue = sample.value;
    if (!isUsable(sample.quality) || typeof value !== 'number' || !Number.isFinite(value)) {
      if (!channel.interrupted && channel.tracker.value !== undefined) {
        channel.interrupted = true;
        this.store.bucket(countMinute(ts)).gaps++;
      }
      return;
    }
    const previous = channel.tracker.value;
    const u = channel.tracker.update(value, ts);
    if ((u.event === 'reset' || u.event === 'rollover') && previous !== undefined) {
      this.onEvent?.({
        kind: u.event === 'reset' ? 'counter-reset' : 'counter-rollover',
        machineId: this.id,
        ts,
        role,
        previous,
        value,
        counted: u.delta,
      });
    }
    if (u.event === 'baseline') {
      channel.interrupted = false;
      channel.offlineEpoch = this.offlineEpoch;
      return;
    }
    // a reading reports what was made before it: a count read at 10:45:00.000 belongs to 10:44
    const acc = this.store.bucket(countMinute(ts));
    const elapsed = u.previousTs === undefined ? 0 : ts - u.previousTs;
    // a counter has nothing to say while the machine does not run: silence counts from the later
    // of the previous reading and the start of the current run
    const silent = ts - Math.max(u.previousTs ?? ts, this.runningSince) > this.counterGapMs;
    if (silent && !channel.interrupted) acc.gaps++;
    const acrossGap = channel.interrupted || silent || channel.offlineEpoch !== this.offlineEpoch;
    if (u.event === 'reset') acc.resets++;
    if (u.event === 'rollover') acc.rollovers++;
    const delta = u.delta;
    if (delta > 0) {
      acc[role] += delta;
      if (ts < this.startupUntil) {
        if (role === 'total') acc.startupTotal += delta;
        else if (role === 'good') acc.startupGood += delta;
        else acc.startupReject += delta;
      }
      if (acrossGap && role === this.primaryRole) acc.gapUnits += delta;
      const allowed = (this.implausibleRateFactor * elapsed) / (this.idealCycleTimeS * 1000) + IMPLAUSIBLE_SLACK_UNITS;
      if (delta > allowed) acc.implausibleJumps++;
    }
    channel.interrupted = false;
    channel.offlineEpoch = this.offlineEpoch;
  }

  /** The energy class at instant `t` (from the retained history; after the machine's time, the current one). */
  energyClassAt(t: number): EnergyClass {
    const h = this.history;
    let lo = 0;
    let hi = h.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (h[mid]!.t <= t) lo = mid;
      else hi = mid - 1;
    }
    return h[lo]!.cls;
  }

  /** The first energy-class change after `t`, or +Infinity. */
  nextClassChangeAfter(t: number): number {
    const h = this.history;
    let lo = 0;
    let hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (h[mid]!.t <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo < h.length ? h[lo]!.t : Number.POSITIVE_INFINITY;
  }

  /**
   * Forgets state history before `keepFrom` (the class in force at `keepFrom`
   * stays known), once it holds at least `minLength` changes.
   */
  trimHistory(keepFrom: number, minLength = 0): void {
    const h = this.history;
    if (h.length < minLength) return;
    let i = 0;
    while (i + 1 < h.length && h[i + 1]!.t <= keepFrom) i++;
    if (i > 0) this.history = h.slice(i);
  }

  private reasonText(): string | null {
    return this.tagReason ?? this.current.mappingReason;
  }

  /** Books `[from, to)` in the current state, cut at calendar changes and minute boundaries. */
  private bookSpan(from: number, to: number, unplannedAs: UnplannedAs, target: BookTarget): void {
    if (!(to > from)) return;
    const c = this.current;
    const setup = c.state === 'planned-stop' && (isSetupReason(c.mappingReason) || isSetupReason(this.tagReason));
    let reasonKey: string | null = null;
    if (c.state !== 'running') {
      const kind =
        c.state === 'unplanned-stop'
          ? unplannedAs
          : c.state === 'planned-stop'
            ? setup
              ? 'setup'
              : 'planned-stop'
            : c.state === 'idle'
              ? 'idle'
              : 'offline';
      const reason =
        c.state === 'offline'
          ? c.noData
            ? 'no data'
            : c.unmapped
              ? `unmapped value ${c.raw}`
              : (this.reasonText() ?? '')
          : (this.reasonText() ?? '');
      reasonKey = `${kind}|${reason}`;
    }
    for (const seg of this.calendarSegments(from, to)) {
      let a = seg.from;
      while (a < seg.to) {
        const minute = floorMinute(a);
        const b = Math.min(seg.to, minute + MINUTE_MS);
        const acc = target(minute);
        if (acc !== undefined) bookPiece(acc, b - a, seg.status, c.state, unplannedAs, setup, reasonKey);
        a = b;
      }
    }
  }

  private calendarSegments(from: number, to: number): CalendarSegment[] {
    let cache = this.calendarCache;
    if (cache === undefined || from < cache.from || to > cache.to) {
      // look a couple of hours ahead: most bookings are short and fall in it
      const start = Math.floor(from / HOUR_MS) * HOUR_MS;
      const end = Math.max(to, start + 3 * HOUR_MS);
      cache = { from: start, to: end, segments: this.calendar.segments(start, end) };
      this.calendarCache = cache;
    }
    const out: CalendarSegment[] = [];
    for (const s of cache.segments) {
      if (s.to <= from || s.from >= to) continue;
      out.push({ ...s, from: Math.max(s.from, from), to: Math.min(s.to, to) });
    }
    return out;
  }
}

/** The minute a reading at `ts` is booked in: the one holding the instant just before it. */
export function countMinute(ts: number): number {
  return floorMinute(ts - 1);
}

function bookPiece(
  acc: Accumulator,
  ms: number,
  calendar: CalendarSegment['status'],
  state: MachineStateName,
  unplannedAs: UnplannedAs,
  setup: boolean,
  reasonKey: string | null,
): void {
  acc.coveredMs += ms;
  if (calendar !== 'off-shift') acc.shiftMs += ms;
  if (calendar === 'break') acc.breakMs += ms;
  else if (calendar === 'planned-stop') acc.calendarStopMs += ms;
  switch (state) {
    case 'running':
      acc.runningMs += ms;
      break;
    case 'idle':
      acc.idleMs += ms;
      break;
    case 'unplanned-stop':
      acc.unplannedStopMs += ms;
      break;
    case 'planned-stop':
      acc.plannedStopMs += ms;
      break;
    case 'offline':
      acc.offlineMs += ms;
      break;
  }
  if (calendar !== 'planned') return;
  switch (state) {
    case 'running':
      acc.pRunningMs += ms;
      break;
    case 'idle':
      acc.pIdleMs += ms;
      break;
    case 'unplanned-stop':
      if (unplannedAs === 'stop') acc.pStopMs += ms;
      else acc.pMicrostopMs += ms;
      break;
    case 'planned-stop':
      if (setup) acc.pSetupMs += ms;
      else acc.pPlannedStopMs += ms;
      break;
    case 'offline':
      acc.pOfflineMs += ms;
      break;
  }
  if (reasonKey !== null) acc.reasons[reasonKey] = (acc.reasons[reasonKey] ?? 0) + ms;
}
