/**
 * `GET /api/health`, `GET /api/live`, `GET /api/tags/:id/history`.
 *
 * The health report is put together by the gateway's other parts (drivers,
 * store, sinks, metrics, alarms): its objects are open (`z.object`), so the
 * fields the contract lists are checked and what a part reports beyond them
 * (an InfluxDB sink's target and outbox) is passed on. What the server
 * builds itself is closed (`z.strictObject`): a field beyond the contract is
 * a bug.
 */
import { z } from 'zod';
import type {
  HealthResponse,
  HistoryPoint,
  HistoryResponse,
  LiveHubCounters,
  LiveResponse,
  LiveTagView,
} from '../contract.js';
import {
  doc,
  epochMs,
  type Expect,
  liveQuality,
  named,
  nullableEpochMs,
  type SameShape,
  sampleValue,
} from './common.js';

const count = (description: string) => doc(z.number(), { description });

export const LiveHubCountersSchema = named(
  'LiveHubCounters',
  "The live WebSocket hub's counters since the start.",
  z.strictObject({
    clients: count('clients connected now'),
    messagesSent: z.number(),
    skippedSlow: count('flushes skipped for a client that was not reading fast enough (values coalesced, not lost)'),
    badMessages: count('client messages refused'),
    terminated: count('clients closed for a missed ping'),
  }),
);

const DeviceHealthSchema = named(
  'DeviceHealth',
  "A device's connection and counters, as its driver reports them.",
  z.object({
    id: z.string(),
    protocol: z.string(),
    endpoint: z.string(),
    state: doc(z.string(), { description: '`idle`, `connecting`, `connected`, `disconnected`, `stopped`, `failed`' }),
    lastGoodTs: z.number().nullable(),
    lastError: z.string().nullable(),
    counters: z.record(z.string(), z.number()),
    errorsByKind: doc(z.record(z.string(), z.number()).optional(), {
      description: 'failures by kind (`timeout`, `exception-2`, `decode`, …); their sum is `counters.errors`',
    }),
    latencyMs: z
      .object({
        buckets: z.array(z.number()),
        counts: z.array(z.number()),
        count: z.number(),
        sum: z.number(),
      })
      .optional(),
  }),
);

const SinkHealthSchema = named(
  'SinkHealth',
  'A northbound sink (InfluxDB, MQTT): what it holds back, delivered and dropped.',
  z.object({
    name: z.string(),
    backlog: z.number(),
    lastError: z.string().nullable(),
    state: z.string().optional(),
    backlogBytes: z.number().optional(),
    oldestAgeMs: z.number().nullable().optional(),
    sent: z.number().optional(),
    sendRate: z.number().optional(),
    failures: z.number().optional(),
    dropped: z.number().optional(),
    rejected: z.number().optional(),
    alarm: z.object({ active: z.boolean(), since: z.number().nullable(), message: z.string().nullable() }).optional(),
  }),
);

export const HealthResponseSchema = named(
  'HealthResponse',
  "The gateway's health: devices, store, sinks, pipeline, alarms, metrics, and the live hub's counters.",
  z.object({
    status: z.enum(['ok', 'degraded']),
    startedAt: epochMs(),
    now: epochMs(),
    devices: z.array(DeviceHealthSchema),
    store: z.object({
      path: z.string(),
      samplesWritten: z.number(),
      pendingRows: z.number(),
      dropped: z.number(),
      lastError: z.string().nullable(),
    }),
    sinks: z.array(SinkHealthSchema),
    pipeline: z.object({ samplesIn: z.number(), rejected: z.number() }),
    alarms: z
      .object({
        ready: z.boolean(),
        alarms: z.number(),
        active: z.number(),
        unacknowledged: z.number(),
        hidden: z.number(),
        recorded: z.number(),
        storeErrors: z.number(),
        droppedEdges: z.number(),
        errors: z.number(),
        lastError: z.string().nullable(),
        orphans: z.array(z.string()),
      })
      .optional(),
    metrics: z
      .object({
        ready: z.boolean(),
        rebuild: z.object({
          origin: z.number().nullable(),
          samples: z.number(),
          durationMs: z.number().nullable(),
        }),
        samples: z.number(),
        minutesPersisted: z.number(),
        events: z.number(),
        errors: z.number(),
        lastError: z.string().nullable(),
      })
      .optional(),
    liveHub: LiveHubCountersSchema,
  }),
);

export const LiveTagViewSchema = named(
  'LiveTagView',
  "One tag in the live snapshot: its metadata and latest value. A tag that never reported: `value: null`, `quality: 'bad'`, `reason: 'no data yet'`, `ts` and `receivedAt` null.",
  z.strictObject({
    tagId: z.string(),
    name: z.string(),
    unit: z.string().nullable(),
    deviceId: doc(z.string().nullable(), {
      description: 'null for a value the live source reports that no configured device owns',
    }),
    value: sampleValue(),
    quality: liveQuality(),
    reason: z.string().nullable(),
    ts: nullableEpochMs('sample time (device time when given), ms since epoch'),
    receivedAt: nullableEpochMs('when the gateway received it, ms since epoch'),
  }),
);

export const LiveResponseSchema = named(
  'LiveResponse',
  'Every configured tag with its latest value, then values no device owns.',
  z.strictObject({
    serverTime: epochMs("the server's clock, for the client to correct its own"),
    tags: z.array(LiveTagViewSchema),
  }),
);

export const HistoryPointSchema = named(
  'HistoryPoint',
  'One stored reading.',
  z.strictObject({ ts: epochMs(), value: sampleValue(), quality: liveQuality() }),
);

export const HistoryResponseSchema = named(
  'HistoryResponse',
  "A tag's history over [from, to], at most `maxPoints` points.",
  z.strictObject({
    tagId: z.string(),
    from: epochMs(),
    to: epochMs(),
    maxPoints: z.number(),
    points: z.array(HistoryPointSchema),
  }),
);

export type LiveContractChecks = [
  Expect<SameShape<LiveHubCounters, z.output<typeof LiveHubCountersSchema>>>,
  Expect<SameShape<HealthResponse, z.output<typeof HealthResponseSchema>>>,
  Expect<SameShape<LiveTagView, z.output<typeof LiveTagViewSchema>>>,
  Expect<SameShape<LiveResponse, z.output<typeof LiveResponseSchema>>>,
  Expect<SameShape<HistoryPoint, z.output<typeof HistoryPointSchema>>>,
  Expect<SameShape<HistoryResponse, z.output<typeof HistoryResponseSchema>>>,
];
