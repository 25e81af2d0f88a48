/**
 * All the alarms of a plant: one rule tracker (evaluation and delays) and one
 * lifecycle state per configured rule.
 *
 * Inputs only evaluate (`ingest`, `machine`, `device`, `level`); the
 * lifecycle moves through proposals: `due(at)` proposes every change that is
 * due (condition edges, suppression, shelf expiry, re-alarm), `act(…)`
 * proposes an operator action. A proposal changes nothing until `commit`, so
 * the caller can write its records first and apply it only once they are
 * safe; one it never commits is proposed again by the next `due`.
 */
import type { AlarmRule } from '../../../config/schema.js';
import { CoreError, type CoreSample, type SampleValue } from '../model.js';
import {
  type AlarmEvent,
  type AlarmRecord,
  type AlarmRefusal,
  type AlarmState,
  initialAlarmState,
  isActiveState,
  isHidden,
  type LifecycleOptions,
  type LifecycleRule,
  type OperatorEvent,
  refusal,
  step,
} from './lifecycle.js';
import { type DeviceLink, type MachineStatusInput, RuleTracker } from './rule-tracker.js';

export interface AlarmEngineOptions extends LifecycleOptions {
  readonly rules: readonly AlarmRule[];
  /** states read back after a restart; those of alarms no longer configured are left out (`orphans`) */
  readonly restored?: readonly AlarmState[];
  /** when the engine starts (the `since` of alarms with no restored state) */
  readonly at: number;
}

/** An alarm as operators see it: its rule's description and its state. */
export interface AlarmView extends AlarmState {
  readonly kind: AlarmRule['kind'];
  readonly priority: AlarmRule['priority'];
  readonly message: AlarmRule['message'];
  readonly line: string | null;
  readonly machine: string | null;
  /** what the rule watches: a tag, device, machine, metric or system signal id */
  readonly source: string;
  readonly latching: boolean;
  /** shelved, suppressed or out of service */
  readonly hidden: boolean;
  /** the evaluated condition now (after the delays); it leads `state` until the change is committed */
  readonly conditionActive: boolean;
  /** the latest value the rule looked at */
  readonly currentValue: SampleValue;
}

/** Changes to apply together; see `AlarmEngine.commit`. */
export interface AlarmProposal {
  /** in the order they happened (by time; one alarm's records in their own order) */
  readonly records: readonly AlarmRecord[];
  /** the new state of each alarm that changed */
  readonly states: readonly AlarmState[];
  /** what `commit` checks (the state it was made from) and takes (condition edges) */
  readonly basis: readonly { readonly alarmId: string; readonly version: number; readonly edges: number }[];
}

export type AlarmActionOutcome =
  | { readonly ok: true; readonly state: AlarmState; readonly record: AlarmRecord; readonly proposal: AlarmProposal }
  /** `proposal` holds the record of the refused attempt (null for an unknown alarm) */
  | { readonly ok: false; readonly refusal: AlarmRefusal; readonly proposal: AlarmProposal | null };

/** One change as listeners hear it: the record and the alarm as it stands after it. */
export interface AlarmChange {
  readonly record: AlarmRecord;
  readonly alarm: AlarmView;
}

/** How an operator action ends: done, with the alarm after it; or refused, with the code and what to do. */
export type AlarmActionResult =
  | { readonly ok: true; readonly alarm: AlarmView; readonly record: AlarmRecord }
  | ({ readonly ok: false; readonly alarm: AlarmView | null } & AlarmRefusal);

/** An operator action on one alarm. Shelve and remove-from-service take their reason as `comment`. */
export type OperatorAction = OperatorEvent & { readonly alarmId: string };

interface Entry {
  readonly rule: AlarmRule;
  readonly lifecycle: LifecycleRule;
  readonly tracker: RuleTracker;
  state: AlarmState;
}

const EMPTY: AlarmProposal = { records: [], states: [], basis: [] };

export class AlarmEngine {
  private readonly entries = new Map<string, Entry>();
  private readonly byTag = new Map<string, Entry[]>();
  private readonly options: LifecycleOptions;
  /** restored states whose alarm is no longer configured */
  readonly orphans: readonly AlarmState[];

  constructor(options: AlarmEngineOptions) {
    this.options = options.maxShelveMs === undefined ? {} : { maxShelveMs: options.maxShelveMs };
    const restored = new Map((options.restored ?? []).map((s) => [s.alarmId, s]));
    for (const rule of options.rules) {
      if (this.entries.has(rule.id)) {
        throw new CoreError('GL_ERR_CORE_CONFIG', `alarm id "${rule.id}" is used twice: alarm ids must be unique`);
      }
      const state = restored.get(rule.id) ?? initialAlarmState(rule.id, options.at);
      const entry: Entry = {
        rule,
        lifecycle: {
          id: rule.id,
          priority: rule.priority,
          latched: rule.latched,
          reAlarmMs: rule.reAlarmS === undefined ? null : rule.reAlarmS * 1000,
        },
        tracker: new RuleTracker(rule, isActiveState(state.state), state.suppressed),
        state,
      };
      entry.tracker.releaseStaleSuppression(options.at);
      this.entries.set(rule.id, entry);
      if ('tag' in rule && rule.tag !== undefined) {
        const list = this.byTag.get(rule.tag) ?? [];
        list.push(entry);
        this.byTag.set(rule.tag, list);
      }
    }
    this.orphans = [...restored.values()].filter((s) => !this.entries.has(s.alarmId));
  }

  /** tags some rule evaluates */
  tags(): string[] {
    return [...this.byTag.keys()];
  }

  /** machines whose status some rule needs (machine-state rules, suppression by machine state) */
  machines(): string[] {
    const ids = new Set<string>();
    for (const { rule } of this.entries.values()) {
      if (rule.machine !== undefined && (rule.kind === 'machine-state' || rule.suppressInStates !== undefined)) {
        ids.add(rule.machine);
      }
    }
    return [...ids];
  }

  devices(): string[] {
    const ids = new Set<string>();
    for (const { rule } of this.entries.values()) if (rule.kind === 'device-comm-lost') ids.add(rule.device);
    return [...ids];
  }

  /** the rules that watch a metric or a system signal: the caller passes their values to `level` */
  levelRules(): Extract<AlarmRule, { kind: 'metric' | 'system' }>[] {
    const out: Extract<AlarmRule, { kind: 'metric' | 'system' }>[] = [];
    for (const { rule } of this.entries.values()) if (rule.kind === 'metric' || rule.kind === 'system') out.push(rule);
    return out;
  }

  /** Samples, evaluated at `at` (the gateway's time; rates of change use the samples' own times). */
  ingest(samples: readonly CoreSample[], at: number): void {
    for (const s of samples) {
      const entries = this.byTag.get(s.tagId);
      if (entries === undefined) continue;
      for (const e of entries) e.tracker.sample(s, at);
    }
  }

  machine(machineId: string, status: MachineStatusInput | null, at: number): void {
    for (const e of this.entries.values()) e.tracker.machine(machineId, status, at);
  }

  device(deviceId: string, link: DeviceLink, at: number): void {
    for (const e of this.entries.values()) e.tracker.device(deviceId, link, at);
  }

  /** the current value of a `metric` or `system` rule's input; null: not known */
  level(alarmId: string, value: number | null, at: number): void {
    this.entries.get(alarmId)?.tracker.level(value, at);
  }

  /**
   * Every change due by `at`, per alarm in time order: condition and
   * suppression edges, with a shelf expiring in between at its time, then
   * a re-alarm. Changes nothing; `commit` applies it.
   */
  due(at: number): AlarmProposal {
    const records: AlarmRecord[] = [];
    const states: AlarmState[] = [];
    const basis: { alarmId: string; version: number; edges: number }[] = [];
    for (const e of this.entries.values()) {
      e.tracker.advance(at);
      let state = e.state;
      const apply = (event: AlarmEvent) => {
        const r = step(e.lifecycle, state, event, this.options);
        if (r.outcome === 'changed') {
          state = r.state;
          records.push(r.record);
        }
      };
      const expireBefore = (t: number) => {
        if (state.shelved !== null && state.shelved.until <= t)
          apply({ action: 'shelve-expired', at: state.shelved.until });
      };
      const edges = e.tracker.edges;
      for (const edge of edges) {
        expireBefore(edge.at);
        if (edge.kind === 'condition') {
          apply({ action: edge.active ? 'activate' : 'clear', at: edge.at, value: edge.value });
        } else {
          apply({ action: edge.on ? 'suppress' : 'unsuppress', at: edge.at });
        }
      }
      expireBefore(at);
      apply({ action: 're-alarm', at });
      if (state !== e.state || edges.length > 0) {
        basis.push({ alarmId: e.rule.id, version: e.state.version, edges: edges.length });
        if (state !== e.state) states.push(state);
      }
    }
    // oldest first across alarms (a stable sort: each alarm's own records are already in order)
    records.sort((a, b) => a.at - b.at);
    return basis.length === 0 ? EMPTY : { records, states, basis };
  }

  /**
   * An operator action, proposed against the committed state (call `due`
   * and commit first, so it meets the alarm as it is now).
   */
  act(action: OperatorAction): AlarmActionOutcome {
    const e = this.entries.get(action.alarmId);
    if (e === undefined) {
      return { ok: false, refusal: refusal('GL_ERR_ALARM_UNKNOWN', action.alarmId), proposal: null };
    }
    const { alarmId: _, ...event } = action;
    const r = step(e.lifecycle, e.state, event, this.options);
    const basis = [{ alarmId: e.rule.id, version: e.state.version, edges: 0 }];
    if (r.outcome === 'changed') {
      return {
        ok: true,
        state: r.state,
        record: r.record,
        proposal: { records: [r.record], states: [r.state], basis },
      };
    }
    if (r.outcome === 'refused') {
      return { ok: false, refusal: r.refusal, proposal: { records: [r.record], states: [], basis } };
    }
    return { ok: false, refusal: refusal('GL_ERR_ALARM_UNKNOWN', action.alarmId), proposal: null };
  }

  /**
   * Applies a proposal made from the current states. Throws (changing
   * nothing) when an alarm changed since the proposal was made.
   */
  commit(proposal: AlarmProposal): void {
    for (const b of proposal.basis) {
      const e = this.entries.get(b.alarmId);
      if (e === undefined || e.state.version !== b.version || e.tracker.edges.length < b.edges) {
        throw new CoreError(
          'GL_ERR_CORE_OPTION',
          `alarm proposal for "${b.alarmId}" is out of date: make a new one with due() or act()`,
        );
      }
    }
    for (const b of proposal.basis) this.entries.get(b.alarmId)!.tracker.consume(b.edges);
    for (const s of proposal.states) this.entries.get(s.alarmId)!.state = s;
  }

  /** The earliest time something becomes due by itself (a delay ends, a shelf expires, a re-alarm); null: nothing. */
  nextDue(): number | null {
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.entries.values()) {
      if (e.tracker.edges.length > 0) return Number.NEGATIVE_INFINITY;
      const d = e.tracker.nextDue();
      if (d !== null) next = Math.min(next, d);
      const s = e.state;
      if (s.shelved !== null) next = Math.min(next, s.shelved.until);
      if (
        e.lifecycle.reAlarmMs !== null &&
        s.state === 'active-unacknowledged' &&
        !isHidden(s) &&
        s.announcedAt !== null
      ) {
        next = Math.min(next, s.announcedAt + e.lifecycle.reAlarmMs);
      }
    }
    return next === Number.POSITIVE_INFINITY ? null : next;
  }

  state(alarmId: string): AlarmState | null {
    return this.entries.get(alarmId)?.state ?? null;
  }

  view(alarmId: string): AlarmView | null {
    const e = this.entries.get(alarmId);
    return e === undefined ? null : viewOf(e);
  }

  /** every configured alarm, in configuration order */
  list(): AlarmView[] {
    return [...this.entries.values()].map(viewOf);
  }

  /** condition edges dropped because the lifecycle did not take them for too long */
  droppedEdges(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.tracker.droppedEdges;
    return n;
  }
}

function viewOf(e: Entry): AlarmView {
  const rule = e.rule;
  return {
    ...e.state,
    kind: rule.kind,
    priority: rule.priority,
    message: rule.message,
    line: rule.line ?? null,
    machine: rule.machine ?? null,
    source: sourceOf(rule),
    latching: rule.latched,
    hidden: isHidden(e.state),
    conditionActive: e.tracker.conditionActive,
    currentValue: e.tracker.value,
  };
}

function sourceOf(rule: AlarmRule): string {
  switch (rule.kind) {
    case 'device-comm-lost':
      return rule.device;
    case 'machine-state':
      return rule.machine;
    case 'metric':
      return `${rule.machine ?? rule.line ?? ''}:${rule.metric}`;
    case 'system':
      return rule.signal;
    default:
      return rule.tag;
  }
}
