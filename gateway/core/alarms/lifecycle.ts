/**
 * The alarm lifecycle of ISA-18.2 / IEC 62682 as a pure state machine:
 * one function, `step(rule, state, event)`, gives the next state and the
 * record of what happened, or, for an operator action that does not apply,
 * a refusal with a stable code (and the record of the refused attempt: the
 * audit trail keeps those too).
 *
 * The alarm state (`normal`, `active-unacknowledged`, `active-acknowledged`,
 * `returned-unacknowledged`, `latched`) is separate from three modes that
 * hide an alarm: shelved (by an operator, until a given time), suppressed by
 * design (the machine is in a state the rule names) and out of service. A
 * hidden alarm is still evaluated, so showing it again shows its true state.
 *
 * Why a hidden alarm that clears goes straight to normal: nobody was told of
 * it (or the operator chose to hide it), so nobody has to acknowledge or
 * reset it. A returned or latched alarm that gets hidden keeps its state.
 */
import type { SampleValue } from '../model.js';

export const ALARM_STATES = [
  'normal',
  'active-unacknowledged',
  'active-acknowledged',
  'returned-unacknowledged',
  /** cleared and acknowledged, waiting for an operator's reset (latching alarms only) */
  'latched',
] as const;
export type AlarmStateName = (typeof ALARM_STATES)[number];

export type AlarmPriority = 'high' | 'medium' | 'low';

/** What hides an alarm; several may hold at once. */
export type AlarmMode = 'shelved' | 'suppressed' | 'out-of-service';

export const OPERATOR_ACTIONS = [
  'acknowledge',
  'reset',
  'shelve',
  'unshelve',
  'remove-from-service',
  'return-to-service',
] as const;
export type OperatorActionName = (typeof OPERATOR_ACTIONS)[number];

/** Changes the gateway makes by itself. */
export const AUTOMATIC_ACTIONS = ['activate', 'clear', 'shelve-expired', 'suppress', 'unsuppress', 're-alarm'] as const;
export type AutomaticActionName = (typeof AUTOMATIC_ACTIONS)[number];

export type AlarmAction = OperatorActionName | AutomaticActionName;

export interface Acknowledgement {
  readonly user: string;
  readonly at: number;
  readonly comment: string | null;
}

export interface Shelf {
  readonly user: string;
  readonly at: number;
  /** the shelf expires by itself at this time */
  readonly until: number;
  readonly reason: string;
}

export interface OutOfService {
  readonly user: string;
  readonly at: number;
  readonly reason: string;
}

/** Everything the lifecycle keeps about one alarm; persisted as is. */
export interface AlarmState {
  readonly alarmId: string;
  readonly state: AlarmStateName;
  /** activations so far; the current (or last) one's number identifies the alarm event */
  readonly activation: number;
  /** when the current (or last) activation began */
  readonly activeSince: number | null;
  /** when the current (or last) activation cleared; null while active */
  readonly clearedAt: number | null;
  /** the acknowledgement of the current activation */
  readonly acknowledged: Acknowledgement | null;
  readonly shelved: Shelf | null;
  /** suppressed by design (the rule's machine is in one of its `suppressInStates`) */
  readonly suppressed: boolean;
  readonly outOfService: OutOfService | null;
  /** when the current activation was last announced to operators; null while it was never shown */
  readonly announcedAt: number | null;
  /** re-announcements of the current (or last) activation */
  readonly reAlarms: number;
  /** the value when the current activation began (for a rate-of-change alarm, the rate) */
  readonly value: SampleValue;
  /** the last change of anything above */
  readonly since: number;
  /** counts changes: a proposal made from an older version is not applied */
  readonly version: number;
}

/** An alarm's state and modes, as records show them before and after. */
export interface AlarmStatus {
  readonly state: AlarmStateName;
  readonly modes: readonly AlarmMode[];
}

export const ALARM_REFUSAL_CODES = [
  'GL_ERR_ALARM_UNKNOWN',
  'GL_ERR_ALARM_USER_REQUIRED',
  'GL_ERR_ALARM_REASON_REQUIRED',
  'GL_ERR_ALARM_COMMENT_TOO_LONG',
  'GL_ERR_ALARM_NOTHING_TO_ACKNOWLEDGE',
  'GL_ERR_ALARM_ALREADY_ACKNOWLEDGED',
  'GL_ERR_ALARM_NOT_LATCHING',
  'GL_ERR_ALARM_NOTHING_TO_RESET',
  'GL_ERR_ALARM_STILL_ACTIVE',
  'GL_ERR_ALARM_NOT_ACKNOWLEDGED',
  'GL_ERR_ALARM_ALREADY_SHELVED',
  'GL_ERR_ALARM_NOT_SHELVED',
  'GL_ERR_ALARM_SHELVE_DURATION',
  'GL_ERR_ALARM_OUT_OF_SERVICE',
  'GL_ERR_ALARM_ALREADY_OUT_OF_SERVICE',
  'GL_ERR_ALARM_NOT_OUT_OF_SERVICE',
  /** the service is not started yet */
  'GL_ERR_ALARM_NOT_READY',
  /** the store did not take the record: the action did not happen */
  'GL_ERR_ALARM_STORE',
] as const;
export type AlarmRefusalCode = (typeof ALARM_REFUSAL_CODES)[number];

export interface AlarmRefusal {
  readonly code: AlarmRefusalCode;
  readonly alarmId: string;
  /** says what to do */
  readonly message: string;
}

/** One line of the alarm journal: a state change or an operator's attempt, with its outcome. */
export interface AlarmRecord {
  readonly alarmId: string;
  /** the alarm event (activation) it concerns */
  readonly activation: number;
  readonly at: number;
  readonly action: AlarmAction;
  /** the operator; null for the gateway's own changes */
  readonly user: string | null;
  readonly comment: string | null;
  readonly from: AlarmStatus;
  readonly to: AlarmStatus;
  /** `accepted`, or the refusal code of an operator action that did not apply (then `to` equals `from`) */
  readonly result: 'accepted' | AlarmRefusalCode;
  /** the live hub announces it at once: a new alarm, a re-alarm, an unacknowledged active alarm shown again */
  readonly announce: boolean;
  readonly priority: AlarmPriority;
  /** activate / clear: the value that decided it */
  readonly value?: SampleValue;
  /** shelve: when the shelf expires */
  readonly until?: number;
}

/** What the lifecycle needs of a rule. */
export interface LifecycleRule {
  readonly id: string;
  readonly priority: AlarmPriority;
  readonly latched: boolean;
  /** re-announce an active unacknowledged alarm this often; null: never */
  readonly reAlarmMs: number | null;
}

export interface LifecycleOptions {
  /** the longest shelf an operator may put an alarm on; default 24 h */
  readonly maxShelveMs?: number;
}

export const DEFAULT_MAX_SHELVE_MS = 24 * 3_600_000;
export const MAX_COMMENT_LENGTH = 2000;

type Operator = { readonly at: number; readonly user: string; readonly comment?: string | null };

export type AlarmEvent =
  | { readonly action: 'activate'; readonly at: number; readonly value: SampleValue }
  | { readonly action: 'clear'; readonly at: number; readonly value: SampleValue }
  | { readonly action: 'shelve-expired' | 'suppress' | 'unsuppress' | 're-alarm'; readonly at: number }
  | OperatorEvent;

export type OperatorEvent =
  | (Operator & { readonly action: 'acknowledge' | 'reset' | 'unshelve' | 'return-to-service' })
  /** `comment` is the reason, required */
  | (Operator & { readonly action: 'shelve'; readonly durationMs: number })
  /** `comment` is the reason, required */
  | (Operator & { readonly action: 'remove-from-service' });

export type StepResult =
  | { readonly outcome: 'changed'; readonly state: AlarmState; readonly record: AlarmRecord }
  /** an automatic event that does not apply in this state (e.g. `activate` while active) */
  | { readonly outcome: 'ignored' }
  | { readonly outcome: 'refused'; readonly refusal: AlarmRefusal; readonly record: AlarmRecord };

export function initialAlarmState(alarmId: string, at: number): AlarmState {
  return {
    alarmId,
    state: 'normal',
    activation: 0,
    activeSince: null,
    clearedAt: null,
    acknowledged: null,
    shelved: null,
    suppressed: false,
    outOfService: null,
    announcedAt: null,
    reAlarms: 0,
    value: null,
    since: at,
    version: 0,
  };
}

export const isActiveState = (s: AlarmStateName): boolean =>
  s === 'active-unacknowledged' || s === 'active-acknowledged';

export function modesOf(s: AlarmState): AlarmMode[] {
  const modes: AlarmMode[] = [];
  if (s.shelved !== null) modes.push('shelved');
  if (s.suppressed) modes.push('suppressed');
  if (s.outOfService !== null) modes.push('out-of-service');
  return modes;
}

/** shelved, suppressed or out of service: evaluated, not shown */
export const isHidden = (s: AlarmState): boolean => s.shelved !== null || s.suppressed || s.outOfService !== null;

export const statusOf = (s: AlarmState): AlarmStatus => ({ state: s.state, modes: modesOf(s) });

const REFUSAL_MESSAGES: Record<Exclude<AlarmRefusalCode, 'GL_ERR_ALARM_COMMENT_TOO_LONG'>, string> = {
  GL_ERR_ALARM_UNKNOWN: 'there is no such alarm: check the alarm id against the configured alarms',
  GL_ERR_ALARM_USER_REQUIRED: 'an operator action needs the name of the user who takes it: sign in first',
  GL_ERR_ALARM_REASON_REQUIRED: 'give a reason in the comment: it goes on record',
  GL_ERR_ALARM_NOTHING_TO_ACKNOWLEDGE: 'the alarm is normal: there is nothing to acknowledge',
  GL_ERR_ALARM_ALREADY_ACKNOWLEDGED: 'the alarm is already acknowledged',
  GL_ERR_ALARM_NOT_LATCHING: 'this alarm does not latch: it needs no reset',
  GL_ERR_ALARM_NOTHING_TO_RESET: 'the alarm is normal: there is nothing to reset',
  GL_ERR_ALARM_STILL_ACTIVE: 'the alarm condition is still present: a latched alarm can be reset once it has cleared',
  GL_ERR_ALARM_NOT_ACKNOWLEDGED: 'acknowledge the alarm first, then reset it',
  GL_ERR_ALARM_ALREADY_SHELVED: 'the alarm is already shelved: unshelve it first to shelve it anew',
  GL_ERR_ALARM_NOT_SHELVED: 'the alarm is not shelved',
  GL_ERR_ALARM_SHELVE_DURATION: 'give a shelving duration above 0 and within the allowed maximum',
  GL_ERR_ALARM_OUT_OF_SERVICE: 'the alarm is out of service: return it to service first',
  GL_ERR_ALARM_ALREADY_OUT_OF_SERVICE: 'the alarm is already out of service',
  GL_ERR_ALARM_NOT_OUT_OF_SERVICE: 'the alarm is in service',
  GL_ERR_ALARM_NOT_READY: 'the alarms are still being restored after a start: try again in a moment',
  GL_ERR_ALARM_STORE:
    'the action could not be recorded, so it was not taken: check the store (disk space, permissions) and try again',
};

export function refusal(code: AlarmRefusalCode, alarmId: string, detail?: string): AlarmRefusal {
  const base =
    code === 'GL_ERR_ALARM_COMMENT_TOO_LONG'
      ? `keep the comment within ${MAX_COMMENT_LENGTH} characters`
      : REFUSAL_MESSAGES[code];
  return { code, alarmId, message: detail === undefined ? base : `${base} (${detail})` };
}

/**
 * The lifecycle's one transition function. Pure: the same rule, state and
 * event always give the same result. Events earlier than the state's last
 * change are applied at that time, so an alarm's records never go back in time.
 */
export function step(
  rule: LifecycleRule,
  state: AlarmState,
  event: AlarmEvent,
  options?: LifecycleOptions,
): StepResult {
  const at = Math.max(event.at, state.since);
  const hidden = isHidden(state);
  const change = (
    next: Omit<AlarmState, 'since' | 'version'> & Partial<Pick<AlarmState, 'since' | 'version'>>,
    extra: { announce?: boolean; value?: SampleValue; until?: number } = {},
  ): StepResult => {
    const s: AlarmState = { ...next, since: at, version: state.version + 1 };
    const user = 'user' in event ? event.user.trim() : null;
    const comment = 'user' in event ? normalComment(event.comment) : null;
    return {
      outcome: 'changed',
      state: s,
      record: {
        alarmId: state.alarmId,
        activation: s.activation,
        at,
        action: event.action,
        user,
        comment,
        from: statusOf(state),
        to: statusOf(s),
        result: 'accepted',
        announce: extra.announce ?? false,
        priority: rule.priority,
        ...(extra.value === undefined ? {} : { value: extra.value }),
        ...(extra.until === undefined ? {} : { until: extra.until }),
      },
    };
  };
  /** an alarm shown again while active and unacknowledged is announced anew */
  const reveal = (next: AlarmState): StepResult => {
    const announce = !isHidden(next) && next.state === 'active-unacknowledged';
    return change(announce ? { ...next, announcedAt: at } : next, { announce });
  };

  switch (event.action) {
    case 'activate': {
      if (isActiveState(state.state)) return IGNORED;
      return change(
        {
          ...state,
          state: 'active-unacknowledged',
          activation: state.activation + 1,
          activeSince: at,
          clearedAt: null,
          acknowledged: null,
          announcedAt: hidden ? null : at,
          reAlarms: 0,
          value: event.value,
        },
        { announce: !hidden, value: event.value },
      );
    }
    case 'clear': {
      if (!isActiveState(state.state)) return IGNORED;
      const next: AlarmStateName = hidden
        ? 'normal'
        : state.state === 'active-unacknowledged'
          ? 'returned-unacknowledged'
          : rule.latched
            ? 'latched'
            : 'normal';
      return change({ ...state, state: next, clearedAt: at }, { value: event.value });
    }
    case 'shelve-expired': {
      if (state.shelved === null || at < state.shelved.until) return IGNORED;
      return reveal({ ...state, shelved: null });
    }
    case 'suppress':
      return state.suppressed ? IGNORED : change({ ...state, suppressed: true });
    case 'unsuppress':
      return state.suppressed ? reveal({ ...state, suppressed: false }) : IGNORED;
    case 're-alarm': {
      if (
        state.state !== 'active-unacknowledged' ||
        hidden ||
        rule.reAlarmMs === null ||
        state.announcedAt === null ||
        at < state.announcedAt + rule.reAlarmMs
      ) {
        return IGNORED;
      }
      return change({ ...state, announcedAt: at, reAlarms: state.reAlarms + 1 }, { announce: true });
    }
    default:
      return operatorStep(rule, state, event, at, change, reveal, options);
  }
}

const IGNORED: StepResult = { outcome: 'ignored' };

function operatorStep(
  rule: LifecycleRule,
  state: AlarmState,
  event: OperatorEvent,
  at: number,
  change: (next: AlarmState, extra?: { until?: number }) => StepResult,
  reveal: (next: AlarmState) => StepResult,
  options: LifecycleOptions | undefined,
): StepResult {
  const refuse = (code: AlarmRefusalCode, detail?: string): StepResult => ({
    outcome: 'refused',
    refusal: refusal(code, state.alarmId, detail),
    record: {
      alarmId: state.alarmId,
      activation: state.activation,
      at,
      action: event.action,
      user: typeof event.user === 'string' && event.user.trim() !== '' ? event.user.trim() : null,
      comment: normalComment(event.comment),
      from: statusOf(state),
      to: statusOf(state),
      result: code,
      announce: false,
      priority: rule.priority,
    },
  });
  const user = typeof event.user === 'string' ? event.user.trim() : '';
  if (user === '') return refuse('GL_ERR_ALARM_USER_REQUIRED');
  const comment = normalComment(event.comment);
  if (comment !== null && comment.length > MAX_COMMENT_LENGTH) return refuse('GL_ERR_ALARM_COMMENT_TOO_LONG');

  switch (event.action) {
    case 'acknowledge': {
      const ack: Acknowledgement = { user, at, comment };
      switch (state.state) {
        case 'normal':
          return refuse('GL_ERR_ALARM_NOTHING_TO_ACKNOWLEDGE');
        case 'active-acknowledged':
        case 'latched':
          return refuse('GL_ERR_ALARM_ALREADY_ACKNOWLEDGED');
        case 'active-unacknowledged':
          return change({ ...state, state: 'active-acknowledged', acknowledged: ack });
        case 'returned-unacknowledged':
          return change({ ...state, state: rule.latched ? 'latched' : 'normal', acknowledged: ack });
      }
      break;
    }
    case 'reset': {
      if (state.state === 'latched') return change({ ...state, state: 'normal' });
      if (!rule.latched) return refuse('GL_ERR_ALARM_NOT_LATCHING');
      if (state.state === 'normal') return refuse('GL_ERR_ALARM_NOTHING_TO_RESET');
      if (state.state === 'returned-unacknowledged') return refuse('GL_ERR_ALARM_NOT_ACKNOWLEDGED');
      return refuse('GL_ERR_ALARM_STILL_ACTIVE');
    }
    case 'shelve': {
      if (state.shelved !== null) return refuse('GL_ERR_ALARM_ALREADY_SHELVED');
      if (state.outOfService !== null) return refuse('GL_ERR_ALARM_OUT_OF_SERVICE');
      if (comment === null) return refuse('GL_ERR_ALARM_REASON_REQUIRED');
      const max = options?.maxShelveMs ?? DEFAULT_MAX_SHELVE_MS;
      if (!(Number.isFinite(event.durationMs) && event.durationMs > 0 && event.durationMs <= max)) {
        return refuse('GL_ERR_ALARM_SHELVE_DURATION', `at most ${Math.round(max / 60_000)} min`);
      }
      const until = at + event.durationMs;
      return change({ ...state, shelved: { user, at, until, reason: comment } }, { until });
    }
    case 'unshelve':
      if (state.shelved === null) return refuse('GL_ERR_ALARM_NOT_SHELVED');
      return reveal({ ...state, shelved: null });
    case 'remove-from-service':
      if (state.outOfService !== null) return refuse('GL_ERR_ALARM_ALREADY_OUT_OF_SERVICE');
      if (comment === null) return refuse('GL_ERR_ALARM_REASON_REQUIRED');
      return change({ ...state, outOfService: { user, at, reason: comment } });
    case 'return-to-service':
      if (state.outOfService === null) return refuse('GL_ERR_ALARM_NOT_OUT_OF_SERVICE');
      return reveal({ ...state, outOfService: null });
  }
  return IGNORED;
}

function normalComment(comment: string | null | undefined): string | null {
  if (typeof comment !== 'string') return null;
  const trimmed = comment.trim();
  return trimmed === '' ? null : trimmed;
}

/**
 * What must hold of every alarm state; an empty list when it does. The
 * property tests drive random samples and actions through the engine and
 * check this after each step.
 */
export function alarmStateProblems(state: AlarmState, rule: Pick<LifecycleRule, 'latched'>): string[] {
  const problems: string[] = [];
  const fail = (m: string) => problems.push(m);
  if (!(ALARM_STATES as readonly string[]).includes(state.state)) fail(`unknown state ${String(state.state)}`);
  if (!Number.isInteger(state.activation) || state.activation < 0) fail('activation is not a count');
  if (state.state !== 'normal' && state.activation < 1) fail(`${state.state} without an activation`);
  if (isActiveState(state.state)) {
    if (state.activeSince === null) fail('active without activeSince');
    if (state.clearedAt !== null) fail('active yet cleared');
  } else if (state.state !== 'normal' && state.clearedAt === null) {
    fail(`${state.state} without clearedAt`);
  }
  const acked = state.state === 'active-acknowledged' || state.state === 'latched';
  if (acked && state.acknowledged === null) fail(`${state.state} without an acknowledgement`);
  if ((state.state === 'active-unacknowledged' || state.state === 'returned-unacknowledged') && state.acknowledged) {
    fail(`${state.state} yet acknowledged`);
  }
  if (state.acknowledged !== null && state.acknowledged.user.trim() === '') fail('acknowledged without a user');
  if (state.state === 'latched' && !rule.latched) fail('latched, but the rule does not latch');
  if (state.shelved !== null) {
    if (state.shelved.user.trim() === '') fail('shelved without a user');
    if (state.shelved.reason.trim() === '') fail('shelved without a reason');
    if (!(state.shelved.until > state.shelved.at)) fail('shelf expires before it began');
  }
  if (state.outOfService !== null) {
    if (state.outOfService.user.trim() === '') fail('out of service without a user');
    if (state.outOfService.reason.trim() === '') fail('out of service without a reason');
  }
  if (!Number.isInteger(state.reAlarms) || state.reAlarms < 0) fail('reAlarms is not a count');
  if (state.reAlarms > 0 && state.activation < 1) fail('re-alarmed without an activation');
  if (!Number.isInteger(state.version) || state.version < 0) fail('version is not a count');
  return problems;
}
