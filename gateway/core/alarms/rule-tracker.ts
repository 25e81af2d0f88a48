/**
 * Evaluates one alarm rule: from its inputs (samples, a machine's state, a
 * device's link, a metric or system value) to the raw condition, then
 * through the on-delay and off-delay to the alarm condition. Each flip of the
 * alarm condition, and each change of the rule's suppression by design, is
 * queued as an edge with its time; the engine hands the edges to the
 * lifecycle in order, so a condition that comes and goes between two
 * evaluations is still recorded.
 *
 * Inputs that say nothing (a bad or stale reading for a limit, a metric
 * without a value, a device whose driver is not running) hold the condition
 * as it was: the `tag-stale` and `device-comm-lost` rules report bad data.
 */
import type { AlarmRule } from '../../../config/schema.js';
import { type CoreSample, isUsable, type SampleValue } from '../model.js';
import type { MachineStateName } from '../signals/machine-state.js';

/** What the engine needs of a machine's status (the metrics engine's `MachineStatus` fits). */
export interface MachineStatusInput {
  readonly state: MachineStateName;
  /** when the machine entered this state */
  readonly since: number;
}

/** A device's link as the driver reports it; `unknown` holds the condition (driver not running). */
export type DeviceLink = 'up' | 'down' | 'unknown';

export type RuleEdge =
  | { readonly kind: 'condition'; readonly active: boolean; readonly at: number; readonly value: SampleValue }
  | { readonly kind: 'suppression'; readonly on: boolean; readonly at: number };

/** The metrics an alarm can watch, read from a metrics record (a `MetricsRecord` fits). */
export interface MetricValues {
  readonly oee: number | null;
  readonly availability: number | null;
  readonly performance: number | null;
  readonly quality: number | null;
  readonly kwhPerGood: number | null;
  readonly kwhPerTotal: number | null;
  readonly idleEnergyShare: number | null;
}

export type AlarmMetric = Extract<AlarmRule, { kind: 'metric' }>['metric'];

export function metricValueOf(record: MetricValues, metric: AlarmMetric): number | null {
  switch (metric) {
    case 'oee':
      return record.oee;
    case 'availability':
      return record.availability;
    case 'performance':
      return record.performance;
    case 'quality':
      return record.quality;
    case 'kwh-per-good':
      return record.kwhPerGood;
    case 'kwh-per-total':
      return record.kwhPerTotal;
    case 'idle-energy-share':
      return record.idleEnergyShare;
  }
}

/**
 * Discrete comparison: values that read as numbers (numbers, booleans as
 * 1 / 0, numeric strings) compare as numbers, anything else as text; so a
 * coil's `true` equals a configured `1` and `"FAULT"` equals `"FAULT"`.
 */
export function sameValue(a: SampleValue, b: number | boolean | string): boolean {
  if (a === null) return false;
  const na = asNumber(a);
  const nb = asNumber(b);
  if (na !== null && nb !== null) return na === nb;
  return String(a) === String(b);
}

function asNumber(v: number | boolean | string): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const t = v.trim();
  return t !== '' && Number.isFinite(Number(t)) ? Number(t) : null;
}

/**
 * A limit with hysteresis: beyond the limit raises; once raised, the value
 * must come back past the limit by the deadband to clear. Exactly at the
 * limit is not beyond it.
 */
export function beyondLimit(
  value: number,
  direction: 'above' | 'below',
  limit: number,
  deadband: number,
  active: boolean,
): boolean {
  if (direction === 'above') return active ? value > limit - deadband : value > limit;
  return active ? value < limit + deadband : value < limit;
}

const directionOf = (kind: 'high-high' | 'high' | 'low' | 'low-low'): 'above' | 'below' =>
  kind === 'high' || kind === 'high-high' ? 'above' : 'below';

/** edges kept for the lifecycle at most, per rule */
export const MAX_EDGES = 256;

export class RuleTracker {
  readonly rule: AlarmRule;
  private active: boolean;
  private suppressed: boolean;
  private pending: { readonly target: boolean; since: number } | null = null;
  private readonly queue: RuleEdge[] = [];
  private lastEdgeAt = Number.NEGATIVE_INFINITY;
  /** rate of change: the previous usable reading */
  private previous: { readonly value: number; readonly ts: number } | null = null;
  private current: SampleValue = null;
  private readonly onDelayMs: number;
  private readonly offDelayMs: number;
  /** edges dropped because none were taken for too long */
  droppedEdges = 0;

  /** `active` / `suppressed`: where the alarm stands (after a restart, its restored state) */
  constructor(rule: AlarmRule, active: boolean, suppressed: boolean) {
    this.rule = rule;
    this.active = active;
    this.suppressed = suppressed;
    const forMs = rule.kind === 'machine-state' ? rule.forS * 1000 : 0;
    this.onDelayMs = rule.onDelayS * 1000 + forMs;
    this.offDelayMs = rule.offDelayS * 1000;
  }

  /** the alarm condition after the delays */
  get conditionActive(): boolean {
    return this.active;
  }

  /** the latest value the rule looked at (for rate of change: the rate, units per second) */
  get value(): SampleValue {
    return this.current;
  }

  /** edges not yet taken by the lifecycle, oldest first */
  get edges(): readonly RuleEdge[] {
    return this.queue;
  }

  /** drops the first `n` edges (the lifecycle has recorded them) */
  consume(n: number): void {
    this.queue.splice(0, n);
  }

  /** when a running delay ends, if one runs */
  nextDue(): number | null {
    if (this.pending === null) return null;
    return this.pending.since + (this.pending.target ? this.onDelayMs : this.offDelayMs);
  }

  /** a sample of the rule's tag, evaluated at `at` (the gateway's time) */
  sample(s: CoreSample, at: number): void {
    const raw = this.rawOf(s);
    if (raw !== undefined) this.evaluate(raw, at, at);
  }

  /** the raw condition a sample gives; null: it says nothing (held); undefined: ignored altogether */
  private rawOf(s: CoreSample): boolean | null | undefined {
    const rule = this.rule;
    switch (rule.kind) {
      case 'high-high':
      case 'high':
      case 'low':
      case 'low-low': {
        if (!usableNumber(s)) return null;
        this.current = s.value;
        return beyondLimit(s.value, directionOf(rule.kind), rule.limit, rule.deadband, this.active);
      }
      case 'rate-of-change': {
        if (!usableNumber(s)) {
          // the next rate needs two good readings in a row: a gap says nothing about the slope
          this.previous = null;
          return null;
        }
        const prev = this.previous;
        if (prev !== null && s.ts <= prev.ts) return undefined;
        this.previous = { value: s.value, ts: s.ts };
        if (prev === null) return null;
        const rate = Math.abs(s.value - prev.value) / ((s.ts - prev.ts) / 1000);
        this.current = rate;
        return rate > rule.limitPerS;
      }
      case 'equals':
      case 'not-equals': {
        if (!isUsable(s.quality) || s.value === null) return null;
        this.current = s.value;
        const equal = sameValue(s.value, rule.value);
        return rule.kind === 'equals' ? equal : !equal;
      }
      case 'tag-stale':
        this.current = s.quality;
        return s.quality === 'stale' || s.quality === 'bad';
      default:
        return undefined;
    }
  }

  /**
   * The status of a machine this rule follows: for `machine-state` rules the
   * condition (its delay counts from when the machine entered the state), for
   * rules with `suppressInStates` the suppression. Null: not known (held).
   */
  machine(machineId: string, status: MachineStatusInput | null, at: number): void {
    const rule = this.rule;
    if (status === null || rule.machine !== machineId) return;
    if (rule.suppressInStates !== undefined) {
      const on = rule.suppressInStates.includes(status.state);
      if (on !== this.suppressed) {
        this.suppressed = on;
        this.push({ kind: 'suppression', on, at: Math.min(status.since, at) });
      }
    }
    if (rule.kind === 'machine-state') {
      this.current = status.state;
      this.evaluate(status.state === rule.state, Math.min(status.since, at), at, true);
    }
  }

  device(deviceId: string, link: DeviceLink, at: number): void {
    if (this.rule.kind !== 'device-comm-lost' || this.rule.device !== deviceId) return;
    if (link !== 'unknown') this.current = link;
    this.evaluate(link === 'unknown' ? null : link === 'down', at, at);
  }

  /** the current value of the rule's metric (`metric` rules) or signal (`system` rules); null: not known */
  level(value: number | null, at: number): void {
    const rule = this.rule;
    if (rule.kind !== 'metric' && rule.kind !== 'system') return;
    if (value === null || !Number.isFinite(value)) {
      this.evaluate(null, at, at);
      return;
    }
    this.current = value;
    const direction = rule.kind === 'metric' ? rule.when : 'above';
    this.evaluate(beyondLimit(value, direction, rule.limit, rule.deadband, this.active), at, at);
  }

  /** a rule restored suppressed that no longer suppresses by machine state: the suppression ends at `at` */
  releaseStaleSuppression(at: number): void {
    if (this.suppressed && this.rule.suppressInStates === undefined) {
      this.suppressed = false;
      this.push({ kind: 'suppression', on: false, at });
    }
  }

  /** ends the delays that have run out by `at` */
  advance(at: number): void {
    const p = this.pending;
    if (p === null) return;
    const due = p.since + (p.target ? this.onDelayMs : this.offDelayMs);
    if (at < due) return;
    this.pending = null;
    this.active = p.target;
    this.push({ kind: 'condition', active: p.target, at: due, value: this.current });
  }

  /**
   * `raw`: the condition before the delays (null holds it); `since`: when it
   * began. `episode`: `since` marks the start of the input's current state,
   * so a newer one restarts a running delay (a machine that left the state
   * and came back between two looks).
   */
  private evaluate(raw: boolean | null, since: number, at: number, episode = false): void {
    if (raw === null) {
      this.advance(at);
      return;
    }
    if (raw === this.active) {
      this.pending = null;
      return;
    }
    if (this.pending === null || this.pending.target !== raw) this.pending = { target: raw, since };
    else if (episode && since > this.pending.since) this.pending.since = since;
    this.advance(at);
  }

  private push(edge: RuleEdge): void {
    const at = Math.max(edge.at, this.lastEdgeAt);
    this.lastEdgeAt = at;
    this.queue.push({ ...edge, at });
    if (this.queue.length > MAX_EDGES) {
      // nobody takes the edges (the store refuses the records): the oldest activation and
      // its clear go, so the alarm still ends up where its condition is
      const first = this.queue.findIndex((e) => e.kind === 'condition');
      const second = this.queue.findIndex((e, i) => i > first && e.kind === 'condition');
      if (first >= 0 && second > first) {
        this.queue.splice(second, 1);
        this.queue.splice(first, 1);
        this.droppedEdges += 2;
      } else {
        this.queue.shift();
        this.droppedEdges++;
      }
    }
  }
}

function usableNumber(s: CoreSample): s is CoreSample & { readonly value: number } {
  return isUsable(s.quality) && typeof s.value === 'number' && Number.isFinite(s.value);
}
