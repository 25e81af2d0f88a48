/**
 * The alarm routes: alarms as operators see them, the audit trail, alarm
 * system statistics and the answer to an operator action.
 */
import { z } from 'zod';
import { ALARM_STATES } from '../../core/alarms/index.js';
import type {
  AlarmActionResponse,
  AlarmAuditEntry,
  AlarmAuditResponse,
  AlarmChangeView,
  AlarmDetailResponse,
  AlarmItem,
  AlarmsResponse,
  AlarmStatsResponse,
  AlarmStatusView,
} from '../contract.js';
import { doc, epochMs, type Expect, named, nullableEpochMs, type SameShape, sampleValue } from './common.js';

const priority = () => z.enum(['high', 'medium', 'low']);
const mode = () => z.enum(['shelved', 'suppressed', 'out-of-service']);

const AlarmStatusViewSchema = named(
  'AlarmStatusView',
  "An alarm's state and modes before or after a change.",
  z.strictObject({ state: z.enum(ALARM_STATES), modes: z.array(mode()) }),
);

export const AlarmItemSchema = named(
  'AlarmItem',
  "One configured alarm: its rule's description and where its lifecycle stands.",
  z.strictObject({
    id: z.string(),
    kind: doc(z.string(), { description: "the rule's kind: `high`, `low`, `machine-state`, `device-comm-lost`, …" }),
    priority: priority(),
    message: z.strictObject({ en: z.string(), 'zh-Hant': z.string().nullable() }),
    line: z.string().nullable(),
    lineName: z.string().nullable(),
    machine: z.string().nullable(),
    machineName: z.string().nullable(),
    source: doc(z.string(), { description: 'what the rule watches: a tag, device, machine, `line:metric` or signal' }),
    limit: z.number().nullable(),
    unit: z.string().nullable(),
    latching: z.boolean(),
    state: z.enum(ALARM_STATES),
    modes: z.array(mode()),
    hidden: doc(z.boolean(), { description: 'shelved, suppressed or out of service: evaluated, not announced' }),
    conditionActive: z.boolean(),
    activation: z.number(),
    activeSince: nullableEpochMs('when the current (or last) activation began'),
    clearedAt: nullableEpochMs('when it cleared; null while active'),
    since: epochMs("the alarm's last change of state, mode or acknowledgement"),
    value: sampleValue(),
    currentValue: sampleValue(),
    acknowledged: z.strictObject({ user: z.string(), at: epochMs(), comment: z.string().nullable() }).nullable(),
    shelved: z.strictObject({ user: z.string(), at: epochMs(), until: epochMs(), reason: z.string() }).nullable(),
    suppressed: z.boolean(),
    outOfService: z.strictObject({ user: z.string(), at: epochMs(), reason: z.string() }).nullable(),
    reAlarms: z.number(),
  }),
);

export const AlarmsResponseSchema = named(
  'AlarmsResponse',
  'Every configured alarm, in configuration order; empty while the alarms are restored after a start.',
  z.strictObject({
    serverTime: epochMs(),
    ready: z.boolean(),
    timezone: z.string(),
    alarms: z.array(AlarmItemSchema),
  }),
);

const AlarmAuditEntrySchema = named(
  'AlarmAuditEntry',
  "One line of the append-only audit trail: a change, or an operator's attempt and its outcome.",
  z.strictObject({
    id: z.number(),
    ts: epochMs(),
    alarmId: z.string(),
    activation: z.number(),
    action: z.string(),
    user: doc(z.string().nullable(), { description: "the signed-in user; null for the gateway's own changes" }),
    comment: z.string().nullable(),
    from: AlarmStatusViewSchema,
    to: AlarmStatusViewSchema,
    result: doc(z.string(), { description: '`accepted`, or the refusal code of an attempt that did not apply' }),
    value: doc(z.unknown().optional(), { description: 'activate / clear: the value that decided it' }),
    until: epochMs('shelve: when the shelf ends').optional(),
  }),
);

export const AlarmDetailResponseSchema = named(
  'AlarmDetailResponse',
  'One alarm and its latest audit lines, newest first.',
  z.strictObject({
    serverTime: epochMs(),
    timezone: z.string(),
    alarm: AlarmItemSchema,
    audit: z.array(AlarmAuditEntrySchema),
  }),
);

export const AlarmAuditResponseSchema = named(
  'AlarmAuditResponse',
  'The audit trail, newest first; `truncated` when more lines matched than `limit`.',
  z.strictObject({
    serverTime: epochMs(),
    from: epochMs(),
    to: epochMs(),
    alarmId: z.string().nullable(),
    actions: doc(z.array(z.string()), { description: 'the actions asked for; empty: all' }),
    user: z.string().nullable(),
    search: doc(z.string().nullable(), { description: 'the search text, trimmed; null: no search' }),
    limit: z.number(),
    truncated: z.boolean(),
    entries: z.array(AlarmAuditEntrySchema),
  }),
);

const priorityShare = () => z.strictObject({ count: z.number(), share: z.number().nullable() });

export const AlarmStatsResponseSchema = named(
  'AlarmStatsResponse',
  'Alarm system performance over [from, to) (EEMUA 191, ISA-18.2): rates, floods, priority mix, bad actors, chattering and standing alarms.',
  z.strictObject({
    from: epochMs(),
    to: epochMs(),
    count: z.number(),
    rate: z.strictObject({
      averagePerWindow: z.number(),
      maxPerWindow: z.number(),
      perWindow: z.array(z.number()),
      windowsOverFloodShare: z.number(),
      perHour: z.number(),
      perDay: z.number(),
    }),
    priorities: z.strictObject({ high: priorityShare(), medium: priorityShare(), low: priorityShare() }),
    floods: z.array(
      z.strictObject({
        start: epochMs(),
        end: z.number().nullable(),
        durationMs: z.number(),
        alarms: z.number(),
        peak: z.number(),
      }),
    ),
    floodMs: z.number(),
    floodShare: z.number().nullable(),
    badActors: z.array(z.strictObject({ alarmId: z.string(), count: z.number(), share: z.number() })),
    chattering: z.array(
      z.strictObject({ alarmId: z.string(), activations: z.number(), maxInWindow: z.number(), firstAt: epochMs() }),
    ),
    standing: z.array(z.strictObject({ alarmId: z.string(), since: epochMs(), durationMs: z.number() })),
    serverTime: epochMs(),
    timezone: z.string(),
    rateWindowMs: doc(z.number(), { description: 'the length of each `rate.perWindow` bucket, from `from`' }),
  }),
);

const AlarmChangeViewSchema = named(
  'AlarmChangeView',
  'What one change or operator action recorded.',
  z.strictObject({
    action: z.string(),
    at: epochMs(),
    activation: z.number(),
    user: z.string().nullable(),
    comment: z.string().nullable(),
    from: AlarmStatusViewSchema,
    to: AlarmStatusViewSchema,
    result: z.string(),
    announce: doc(z.boolean(), { description: 'operators should be told now (a new alarm, a re-alarm, …)' }),
  }),
);

export const AlarmActionResponseSchema = named(
  'AlarmActionResponse',
  'The answer to an operator action that was taken: the alarm after it, and what was recorded.',
  z.strictObject({ serverTime: epochMs(), alarm: AlarmItemSchema, change: AlarmChangeViewSchema }),
);

export type AlarmContractChecks = [
  Expect<SameShape<AlarmStatusView, z.output<typeof AlarmStatusViewSchema>>>,
  Expect<SameShape<AlarmItem, z.output<typeof AlarmItemSchema>>>,
  Expect<SameShape<AlarmsResponse, z.output<typeof AlarmsResponseSchema>>>,
  Expect<SameShape<AlarmAuditEntry, z.output<typeof AlarmAuditEntrySchema>>>,
  Expect<SameShape<AlarmDetailResponse, z.output<typeof AlarmDetailResponseSchema>>>,
  Expect<SameShape<AlarmAuditResponse, z.output<typeof AlarmAuditResponseSchema>>>,
  Expect<SameShape<AlarmStatsResponse, z.output<typeof AlarmStatsResponseSchema>>>,
  Expect<SameShape<AlarmChangeView, z.output<typeof AlarmChangeViewSchema>>>,
  Expect<SameShape<AlarmActionResponse, z.output<typeof AlarmActionResponseSchema>>>,
];
