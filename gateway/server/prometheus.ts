/**
 * `GET /metrics`: the gateway's health in the Prometheus text format, for a
 * Prometheus server (or anything that scrapes that format).
 *
 * Everything is read when scraped, nothing in between: one `health()` and one
 * `counters()` call per scrape, shared by every metric of that scrape, so the
 * numbers of one scrape belong together. Driver, store and hub counters are
 * cumulative since the gateway started, so they are Prometheus counters; a
 * restart resets them, which `rate()` reads as a counter reset.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry, validateMetricName } from 'prom-client';
import { ALARM_PRIORITIES, type AlarmPriority, type AlarmStateName, type LiveHubCounters } from './contract.js';
import type { DeviceHealth, HealthReport, ServerDeps } from './ports.js';
import type { RouteBook } from './api/route-book.js';

export const METRICS_PATH = '/metrics';

/** Sign-in counters (`AuthCounters` of the authenticator). */
export interface AuthScrape {
  readonly loginsSucceeded: number;
  readonly loginsFailed: number;
  readonly loginsThrottled: number;
  readonly unauthenticated: number;
  readonly forbidden: number;
}

/** What one scrape reads. */
export interface ScrapeFrame {
  readonly report: HealthReport;
  readonly liveHub: LiveHubCounters;
  /** absent on a server without sign-in */
  readonly auth?: AuthScrape;
  /** every configured alarm as it stands; absent on a gateway without alarms */
  readonly alarms?: readonly AlarmScrape[];
}

/** What the alarm gauges need of an alarm (an `AlarmView` fits). */
export interface AlarmScrape {
  readonly priority: AlarmPriority;
  readonly state: AlarmStateName;
  /** shelved, suppressed or out of service */
  readonly hidden: boolean;
  readonly shelved: object | null;
  readonly outOfService: object | null;
}

type DeviceLabel = 'device' | 'protocol';
type Labels<L extends string> = Partial<Record<L, string | number>>;
type Fill<L extends string> = (frame: ScrapeFrame, put: (labels: Labels<L>, value: number) => void) => void;

/** The states drivers report, plus `failed` for a device the gateway could not build. */
export const DEVICE_STATES: readonly string[] = [
  'idle',
  'connecting',
  'connected',
  'disconnected',
  'stopped',
  'failed',
];

/**
 * Driver counters with their metric names. `errors` is not among them: its
 * split by kind is `greenline_device_errors_total{kind}`, whose sum it is.
 * A counter not listed here is exported as `greenline_device_<snake_case>_total`.
 */
export const DEVICE_COUNTERS: Readonly<Record<string, { readonly name: string; readonly help: string }>> = {
  requests: {
    name: 'greenline_device_requests_total',
    help: 'Requests sent to the device (Modbus reads, OPC UA service calls, MQTT subscribe and publish requests).',
  },
  timeouts: {
    name: 'greenline_device_timeouts_total',
    help: 'Requests that got no answer in time (also counted in greenline_device_errors_total).',
  },
  reconnects: { name: 'greenline_device_reconnects_total', help: 'Connection attempts after the first one.' },
  overruns: {
    name: 'greenline_device_poll_overruns_total',
    help: 'Poll cycles skipped because the previous one was still running.',
  },
  samples: { name: 'greenline_device_samples_total', help: 'Samples the driver emitted, of any quality.' },
  messages: { name: 'greenline_device_messages_total', help: "MQTT messages received on the tags' subscriptions." },
  dropped: {
    name: 'greenline_device_messages_dropped_total',
    help: 'MQTT messages dropped unread because they were larger than maxPayloadBytes.',
  },
  decodeErrors: {
    name: 'greenline_device_decode_errors_total',
    help: 'Payloads or values that did not decode (also counted in greenline_device_errors_total).',
  },
  seqGaps: {
    name: 'greenline_device_sparkplug_seq_gaps_total',
    help: 'Sparkplug B sequence number gaps (also counted in greenline_device_errors_total).',
  },
  rebirthRequests: {
    name: 'greenline_device_sparkplug_rebirth_requests_total',
    help: 'Sparkplug B rebirth requests (NCMD) published.',
  },
  badStatus: {
    name: 'greenline_device_bad_status_total',
    help: 'OPC UA values the server sent with a Bad status code.',
  },
  itemsRefused: {
    name: 'greenline_device_items_refused_total',
    help: 'OPC UA monitored items the server refused (unknown node id, not a variable, ...).',
  },
  pathsUnresolved: {
    name: 'greenline_device_paths_unresolved_total',
    help: 'OPC UA tags whose browse path or namespace did not resolve to a node.',
  },
  filterFallbacks: {
    name: 'greenline_device_filter_fallbacks_total',
    help: 'OPC UA tags whose deadband filter the server refused; they run without it.',
  },
  certificateRejections: {
    name: 'greenline_device_certificate_rejections_total',
    help: 'OPC UA connection attempts refused over the server certificate.',
  },
};

const ERRORS_COUNTER = 'errors';

/** `decodeErrors` → `decode_errors`; characters a metric name cannot hold become `_`. */
export function snakeCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toLowerCase();
}

interface BucketSample {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

/**
 * A histogram whose buckets arrive whole (a driver's cumulative snapshot in
 * ms) rather than through `observe`. prom-client formats the text exposition
 * from `getForPromString` when a metric has one (its own Histogram does), and
 * builds `get()` on it as well, so overriding it is the one place to feed it.
 */
class SnapshotHistogram extends Histogram<DeviceLabel> {
  constructor(
    private readonly metricName: string,
    private readonly helpText: string,
    registry: Registry,
    private readonly frame: () => ScrapeFrame,
    private readonly onInvalid: (device: DeviceHealth) => void,
  ) {
    super({ name: metricName, help: helpText, labelNames: ['device', 'protocol'], registers: [registry] });
  }

  async getForPromString() {
    const values: BucketSample[] = [];
    for (const d of this.frame().report.devices) {
      const h = d.latencyMs;
      if (!h) continue;
      if (!isHistogram(h)) {
        this.onInvalid(d);
        continue;
      }
      const labels = deviceLabels(d);
      const bucket = (le: string | number, value: number) =>
        values.push({ labels: { ...labels, le }, sharedLabels: {}, value, metricName: `${this.metricName}_bucket` });
      for (let i = 0; i < h.buckets.length; i++) bucket(h.buckets[i]! / 1000, h.counts[i]!);
      bucket('+Inf', h.count);
      values.push({ labels, sharedLabels: {}, value: h.sum / 1000, metricName: `${this.metricName}_sum` });
      values.push({ labels, sharedLabels: {}, value: h.count, metricName: `${this.metricName}_count` });
    }
    return { name: this.metricName, help: this.helpText, type: 'histogram', values, aggregator: 'sum' };
  }
}

/** bounds ascending and finite, one cumulative count per bound, never decreasing, none above the total */
function isHistogram(h: NonNullable<DeviceHealth['latencyMs']>): boolean {
  if (h.buckets.length !== h.counts.length || !(h.count >= 0) || !Number.isFinite(h.sum)) return false;
  for (let i = 0; i < h.buckets.length; i++) {
    const bound = h.buckets[i]!;
    const n = h.counts[i]!;
    if (!Number.isFinite(bound) || (i > 0 && bound <= h.buckets[i - 1]!)) return false;
    if (!(n >= 0) || n > h.count || (i > 0 && n < h.counts[i - 1]!)) return false;
  }
  return true;
}

const deviceLabels = (d: DeviceHealth): Record<DeviceLabel, string> => ({ device: d.id, protocol: d.protocol });

/**
 * prom-client's gauges named like counters. Prometheus' linter refuses them;
 * each is the sum of the per-type gauge of the same name without `_total`.
 */
const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/**
 * Node's process metrics describe the process, not a server: one set per
 * process, on a registry of their own (never prom-client's global one), made
 * at the first scrape so that building a server starts nothing.
 */
let processRegistry: Registry | null = null;
function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    for (const name of MISNAMED_DEFAULT_METRICS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

export class PrometheusExporter {
  private readonly registry = new Registry();
  /** the frame of the scrape under way; collect callbacks read it */
  private frame: ScrapeFrame | null = null;
  /** metric name → its counter, for the driver counters */
  private readonly deviceCounters = new Map<string, Counter<DeviceLabel>>();
  /** driver counter key → metric name, or null for one that cannot be exported */
  private readonly counterNames = new Map<string, string | null>();
  /** devices whose latency histogram was left out, so each is logged once */
  private readonly invalidHistograms = new Set<string>();

  constructor(
    private readonly read: () => ScrapeFrame,
    private readonly log: ServerDeps['log'],
  ) {
    this.gauge(
      'greenline_start_time_seconds',
      'When the gateway started, seconds since the Unix epoch.',
      [],
      (f, put) => put({}, f.report.startedAt / 1000),
    );
    this.gauge('greenline_uptime_seconds', 'Seconds since the gateway started.', [], (f, put) =>
      put({}, Math.max(0, f.report.now - f.report.startedAt) / 1000),
    );

    this.gauge(
      'greenline_device_connected',
      '1 while the device is connected, else 0.',
      ['device', 'protocol'],
      (f, put) => {
        for (const d of f.report.devices) put(deviceLabels(d), d.state === 'connected' ? 1 : 0);
      },
    );
    this.gauge(
      'greenline_device_state',
      `Connection state of the device: 1 for the state it is in, 0 for the others (${DEVICE_STATES.join(', ')}).`,
      ['device', 'protocol', 'state'],
      (f, put) => {
        for (const d of f.report.devices) {
          const states = DEVICE_STATES.includes(d.state) ? DEVICE_STATES : [...DEVICE_STATES, d.state];
          for (const state of states) put({ ...deviceLabels(d), state }, state === d.state ? 1 : 0);
        }
      },
    );
    this.gauge(
      'greenline_device_last_good_read_timestamp_seconds',
      'Time of the newest good value from the device, seconds since the Unix epoch; absent before the first one.',
      ['device', 'protocol'],
      (f, put) => {
        for (const d of f.report.devices) if (d.lastGoodTs !== null) put(deviceLabels(d), d.lastGoodTs / 1000);
      },
    );
    this.gauge(
      'greenline_device_last_good_read_age_seconds',
      'Seconds since the newest good value from the device; absent before the first one.',
      ['device', 'protocol'],
      (f, put) => {
        for (const d of f.report.devices) {
          if (d.lastGoodTs !== null) put(deviceLabels(d), Math.max(0, f.report.now - d.lastGoodTs) / 1000);
        }
      },
    );
    this.counter(
      'greenline_device_errors_total',
      'Device failures by kind (connect, disconnected, timeout, exception-N, protocol, decode, ...); their sum is every error of the device.',
      ['device', 'protocol', 'kind'],
      (f, put) => {
        for (const d of f.report.devices) {
          const byKind: Record<string, number> = { ...d.errorsByKind };
          let classified = 0;
          for (const n of Object.values(byKind)) if (Number.isFinite(n)) classified += n;
          // errors counted without a kind go to `other`, so the kinds still add up to the device's errors
          const rest = (d.counters[ERRORS_COUNTER] ?? 0) - classified;
          if (rest > 0) byKind.other = (byKind.other ?? 0) + rest;
          for (const [kind, n] of Object.entries(byKind)) put({ ...deviceLabels(d), kind }, n);
        }
      },
    );
    for (const key of Object.keys(DEVICE_COUNTERS)) this.counterName(key);
    new SnapshotHistogram(
      'greenline_device_request_duration_seconds',
      'Request round trips to the device, answers only (Modbus reads, OPC UA service calls, MQTT connect and subscribe).',
      this.registry,
      () => this.current(),
      (d) => {
        if (this.invalidHistograms.has(d.id)) return;
        this.invalidHistograms.add(d.id);
        this.log.warn({ device: d.id }, 'latency histogram left out of /metrics: its buckets do not add up');
      },
    );

    this.counter('greenline_store_samples_written_total', 'Samples written to the store.', [], (f, put) =>
      put({}, f.report.store.samplesWritten),
    );
    this.gauge('greenline_store_pending_rows', 'Rows waiting to be written to the store.', [], (f, put) =>
      put({}, f.report.store.pendingRows),
    );
    this.counter(
      'greenline_store_dropped_rows_total',
      'Rows the store dropped: its buffer was full while writes failed, or it was stopped.',
      [],
      (f, put) => put({}, f.report.store.dropped),
    );
    this.gauge(
      'greenline_store_error',
      '1 while the store reports an error (its last write or clean-up failed), else 0.',
      [],
      (f, put) => put({}, f.report.store.lastError === null ? 0 : 1),
    );

    this.counter(
      'greenline_pipeline_samples_received_total',
      'Samples handed to the pipeline by the drivers, rejected ones included.',
      [],
      (f, put) => put({}, f.report.pipeline.samplesIn),
    );
    this.counter(
      'greenline_pipeline_samples_rejected_total',
      'Samples the pipeline rejected: unknown tag ids and malformed samples.',
      [],
      (f, put) => put({}, f.report.pipeline.rejected),
    );

    this.gauge(
      'greenline_metrics_ready',
      '1 once the metrics core is rebuilt from the store and serving, else 0.',
      [],
      (f, put) => {
        if (f.report.metrics) put({}, f.report.metrics.ready ? 1 : 0);
      },
    );
    this.counter('greenline_metrics_samples_total', 'Samples the metrics core computed with.', [], (f, put) => {
      if (f.report.metrics) put({}, f.report.metrics.samples);
    });
    this.counter(
      'greenline_metrics_rollups_persisted_total',
      'Per-minute machine and line rollups written to the store.',
      [],
      (f, put) => {
        if (f.report.metrics) put({}, f.report.metrics.minutesPersisted);
      },
    );
    this.counter(
      'greenline_metrics_events_total',
      'Machine state changes, counter resets and rollovers logged.',
      [],
      (f, put) => {
        if (f.report.metrics) put({}, f.report.metrics.events);
      },
    );
    this.counter(
      'greenline_metrics_errors_total',
      'Failures inside the metrics core (contained; samples still reach the store).',
      [],
      (f, put) => {
        if (f.report.metrics) put({}, f.report.metrics.errors);
      },
    );
    this.gauge(
      'greenline_metrics_rebuild_duration_seconds',
      'How long the last rebuild from the store took.',
      [],
      (f, put) => {
        const ms = f.report.metrics?.rebuild.durationMs;
        if (ms !== undefined && ms !== null) put({}, ms / 1000);
      },
    );

    this.gauge('greenline_sink_backlog', 'Points waiting to be sent by the sink.', ['sink'], (f, put) => {
      for (const s of f.report.sinks) put({ sink: s.name }, s.backlog);
    });
    this.gauge('greenline_sink_error', '1 while the sink reports an error, else 0.', ['sink'], (f, put) => {
      for (const s of f.report.sinks) put({ sink: s.name }, s.lastError === null ? 0 : 1);
    });

    this.gauge(
      'greenline_sink_backlog_bytes',
      "The sink's backlog on disk, as its quota counts it.",
      ['sink'],
      (f, put) => {
        for (const s of f.report.sinks) if (s.backlogBytes !== undefined) put({ sink: s.name }, s.backlogBytes);
      },
    );
    this.gauge(
      'greenline_sink_oldest_age_seconds',
      'How long the oldest point waiting in the backlog has waited (0 when none waits).',
      ['sink'],
      (f, put) => {
        for (const s of f.report.sinks) {
          if (s.oldestAgeMs !== undefined) put({ sink: s.name }, (s.oldestAgeMs ?? 0) / 1000);
        }
      },
    );
    this.gauge('greenline_sink_send_rate', 'Points delivered per second, recent.', ['sink'], (f, put) => {
      for (const s of f.report.sinks) if (s.sendRate !== undefined) put({ sink: s.name }, s.sendRate);
    });
    this.counter('greenline_sink_sent_total', 'Points the receiver acknowledged.', ['sink'], (f, put) => {
      for (const s of f.report.sinks) if (s.sent !== undefined) put({ sink: s.name }, s.sent);
    });
    this.counter('greenline_sink_failures_total', 'Failed send attempts.', ['sink'], (f, put) => {
      for (const s of f.report.sinks) if (s.failures !== undefined) put({ sink: s.name }, s.failures);
    });
    this.counter(
      'greenline_sink_dropped_total',
      'Points dropped, oldest first, because the backlog reached its quota.',
      ['sink'],
      (f, put) => {
        for (const s of f.report.sinks) if (s.dropped !== undefined) put({ sink: s.name }, s.dropped);
      },
    );
    this.counter(
      'greenline_sink_rejected_total',
      'Points the receiver refused as bad, dropped.',
      ['sink'],
      (f, put) => {
        for (const s of f.report.sinks) if (s.rejected !== undefined) put({ sink: s.name }, s.rejected);
      },
    );
    this.gauge(
      'greenline_sink_alarm',
      '1 while the sink raises its alarm condition (quota reached, outbox unusable), else 0.',
      ['sink'],
      (f, put) => {
        for (const s of f.report.sinks) if (s.alarm !== undefined) put({ sink: s.name }, s.alarm.active ? 1 : 0);
      },
    );

    this.gauge('greenline_live_clients', 'Dashboards connected to the live WebSocket now.', [], (f, put) =>
      put({}, f.liveHub.clients),
    );
    this.counter('greenline_live_messages_sent_total', 'Messages sent to live clients.', [], (f, put) =>
      put({}, f.liveHub.messagesSent),
    );
    this.counter(
      'greenline_live_skipped_slow_total',
      'Flushes skipped because a client was not reading fast enough (its values were coalesced, not lost).',
      [],
      (f, put) => put({}, f.liveHub.skippedSlow),
    );
    this.counter(
      'greenline_live_bad_messages_total',
      'Client messages refused (invalid JSON, unknown type, bad fields).',
      [],
      (f, put) => put({}, f.liveHub.badMessages),
    );
    this.counter(
      'greenline_live_clients_terminated_total',
      'Live clients closed because they missed a ping.',
      [],
      (f, put) => put({}, f.liveHub.terminated),
    );
    const byPriority = (name: string, help: string, counts: (a: AlarmScrape) => boolean) =>
      this.gauge(name, help, ['priority'], (f, put) => {
        if (!f.alarms) return;
        const n: Record<AlarmPriority, number> = { high: 0, medium: 0, low: 0 };
        for (const a of f.alarms) if (counts(a)) n[a.priority]++;
        for (const p of ALARM_PRIORITIES) put({ priority: p }, n[p]);
      });
    byPriority(
      'greenline_alarms_active',
      'Alarms whose condition is present, shown to operators (acknowledged or not), by priority.',
      (a) => !a.hidden && (a.state === 'active-unacknowledged' || a.state === 'active-acknowledged'),
    );
    byPriority(
      'greenline_alarms_unacknowledged',
      'Alarms waiting for an acknowledgement (active, or returned to normal unacknowledged), shown to operators, by priority.',
      (a) => !a.hidden && (a.state === 'active-unacknowledged' || a.state === 'returned-unacknowledged'),
    );
    byPriority('greenline_alarms_shelved', 'Alarms an operator has shelved, by priority.', (a) => a.shelved !== null);
    byPriority(
      'greenline_alarms_out_of_service',
      'Alarms taken out of service (evaluated, never announced), by priority.',
      (a) => a.outOfService !== null,
    );
    this.gauge(
      'greenline_alarms_ready',
      '1 once the alarms are restored from the store and evaluated, else 0.',
      [],
      (f, put) => {
        if (f.report.alarms) put({}, f.report.alarms.ready ? 1 : 0);
      },
    );
    this.counter(
      'greenline_auth_logins_total',
      'Sign-ins by result: success, failure (wrong username or password), throttled (refused unchecked after too many failures).',
      ['result'],
      (f, put) => {
        if (!f.auth) return;
        put({ result: 'success' }, f.auth.loginsSucceeded);
        put({ result: 'failure' }, f.auth.loginsFailed);
        put({ result: 'throttled' }, f.auth.loginsThrottled);
      },
    );
    this.counter(
      'greenline_auth_refused_total',
      'Requests and live connections refused: 401 without a valid sign-in, 403 without the capability.',
      ['status'],
      (f, put) => {
        if (!f.auth) return;
        put({ status: '401' }, f.auth.unauthenticated);
        put({ status: '403' }, f.auth.forbidden);
      },
    );
  }

  /** `text/plain; version=0.0.4; charset=utf-8` */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of every metric, read now. */
  async scrape(): Promise<string> {
    const frame = this.read();
    for (const d of frame.report.devices) for (const key of Object.keys(d.counters)) this.counterName(key);
    this.frame = frame;
    let own: Promise<string>;
    try {
      // every collect callback runs synchronously inside this call, so the frame is theirs alone
      own = this.registry.metrics();
    } finally {
      this.frame = null;
    }
    const [gateway, node] = await Promise.all([own, processMetrics().metrics()]);
    return `${gateway}\n${node}`;
  }

  private current(): ScrapeFrame {
    return this.frame ?? this.read();
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[], fill: Fill<L>): void {
    const exporter = this;
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        fill(exporter.current(), (labels, value) => this.set(labels, value));
      },
    });
  }

  /** A counter set from cumulative numbers at each scrape; negative or non-finite numbers are left out. */
  private counter<L extends string>(name: string, help: string, labelNames: readonly L[], fill: Fill<L>): void {
    const exporter = this;
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        fill(exporter.current(), (labels, value) => {
          if (Number.isFinite(value) && value >= 0) this.inc(labels, value);
        });
      },
    });
  }

  /** The metric name of a driver counter, registering its counter the first time it is seen. */
  private counterName(key: string): string | null {
    const known = this.counterNames.get(key);
    if (known !== undefined) return known;
    let name: string | null = null;
    if (key !== ERRORS_COUNTER) {
      const listed = Object.hasOwn(DEVICE_COUNTERS, key) ? DEVICE_COUNTERS[key] : undefined;
      const candidate = listed?.name ?? `greenline_device_${snakeCase(key)}_total`;
      const taken = this.registry.getSingleMetric(candidate) !== undefined && !this.deviceCounters.has(candidate);
      if (validateMetricName(candidate) && !taken) {
        name = candidate;
        if (!this.deviceCounters.has(name)) this.registerDeviceCounter(name, listed?.help ?? `Driver counter ${key}.`);
      } else {
        this.log.warn(
          { counter: key, metric: candidate },
          'driver counter left out of /metrics: its name is not usable',
        );
      }
    }
    this.counterNames.set(key, name);
    return name;
  }

  private registerDeviceCounter(name: string, help: string): void {
    const exporter = this;
    const counter = new Counter<DeviceLabel>({
      name,
      help,
      labelNames: ['device', 'protocol'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const d of exporter.current().report.devices) {
          // several keys may share a name (`fooBar`, `foo_bar`): their numbers add up
          for (const [key, value] of Object.entries(d.counters)) {
            if (exporter.counterNames.get(key) !== name || !Number.isFinite(value) || value < 0) continue;
            this.inc(deviceLabels(d), value);
          }
        }
      },
    });
    this.deviceCounters.set(name, counter);
  }
}

/** Serves `GET /metrics` from the server's health report and live hub, read at each scrape. */
export function registerPrometheusRoute(
  api: RouteBook,
  deps: Pick<ServerDeps, 'health' | 'log' | 'alarms'>,
  hub: { counters(): LiveHubCounters },
  auth: { counters(): AuthScrape } | null = null,
): PrometheusExporter {
  const exporter = new PrometheusExporter(
    () => ({
      report: deps.health(),
      liveHub: hub.counters(),
      ...(auth ? { auth: auth.counters() } : {}),
      ...(deps.alarms ? { alarms: deps.alarms.list() } : {}),
    }),
    deps.log,
  );
  api.define({
    method: 'GET',
    url: METRICS_PATH,
    tag: 'system',
    summary: "The gateway's health for Prometheus",
    description:
      'The Prometheus text format: devices, store, pipeline, metrics core, sinks, live hub, alarms and sign-ins, then the process metrics. Read at each scrape. For a Prometheus scrape job, make a `viewer` API token and send it as a bearer token.',
    answers: {
      200: {
        description: 'the metrics',
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
        example:
          '# HELP greenline_device_connected 1 while the device is connected, else 0.\n# TYPE greenline_device_connected gauge\n',
      },
    },
    handler: async (_input, _req, reply) => {
      const text = await exporter.scrape();
      return reply.header('content-type', exporter.contentType).header('cache-control', 'no-store').send(text);
    },
  });
  return exporter;
}
