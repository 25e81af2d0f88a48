/**
 * What the health page shows, decided without the DOM: each device with its
 * connection, the age of its last good read, its counters and latency
 * percentiles, and what is wrong with it; the store, the sinks, the metrics
 * core and the live hub, likewise. A counter that rose since the previous
 * report is a problem happening now.
 */
import type { HealthResponse, PlantView } from '../../../gateway/server/contract.js';

type DeviceHealth = HealthResponse['devices'][number];
type SinkHealth = HealthResponse['sinks'][number];

export interface Quantile {
  /** ms */
  readonly ms: number;
  /** beyond the histogram's last bound: at least `ms` */
  readonly above: boolean;
}

/**
 * A quantile of a cumulative histogram, as Prometheus's `histogram_quantile`
 * estimates it: linear within the bucket that holds the rank; a rank above
 * the last bound gives that bound. Null without observations.
 */
export function latencyQuantile(hist: DeviceHealth['latencyMs'] | undefined, q: number): Quantile | null {
  if (!hist || hist.count <= 0 || hist.buckets.length === 0) return null;
  const rank = q * hist.count;
  for (let i = 0; i < hist.buckets.length; i++) {
    const upTo = hist.counts[i] ?? 0;
    if (upTo >= rank && upTo > 0) {
      const lower = i === 0 ? 0 : hist.buckets[i - 1]!;
      const before = i === 0 ? 0 : (hist.counts[i - 1] ?? 0);
      const upper = hist.buckets[i]!;
      const inBucket = upTo - before;
      const ms = inBucket > 0 ? lower + ((upper - lower) * (rank - before)) / inBucket : upper;
      return { ms, above: false };
    }
  }
  return { ms: hist.buckets[hist.buckets.length - 1]!, above: true };
}

export type DeviceProblem = 'disabled' | 'not-connected' | 'no-read-yet' | 'read-old' | 'errors-rising' | 'last-error';

export type Counter = 'requests' | 'errors' | 'timeouts' | 'reconnects' | 'overruns' | 'samples';
export const DEVICE_COUNTERS: readonly Counter[] = [
  'requests',
  'errors',
  'timeouts',
  'reconnects',
  'overruns',
  'samples',
];
/** counters whose rise is trouble */
const TROUBLE: readonly Counter[] = ['errors', 'timeouts', 'reconnects', 'overruns'];

export interface DeviceRow {
  readonly id: string;
  readonly name: string;
  readonly protocol: string;
  readonly endpoint: string | null;
  /** `connected`, `connecting`, `disconnected`, `failed`, … ; `disabled` when the config turns it off */
  readonly state: string;
  readonly lastGoodAgeMs: number | null;
  /** older than this, the last good read is late */
  readonly lateAfterMs: number;
  readonly counters: Readonly<Record<Counter, number | null>>;
  /** counters that rose since the previous report */
  readonly rising: ReadonlySet<Counter>;
  readonly errorsByKind: readonly (readonly [string, number])[];
  readonly p50: Quantile | null;
  readonly p99: Quantile | null;
  readonly lastError: string | null;
  readonly problems: readonly DeviceProblem[];
}

/** three expected intervals of the device's slowest tag, and never less than 10 s */
function lateAfter(plant: PlantView | null, deviceId: string): number {
  const tags = plant?.devices.find((d) => d.id === deviceId)?.tags ?? [];
  const slowest = tags.reduce((m, t) => Math.max(m, t.expectedIntervalMs), 0);
  return Math.max(10_000, 3 * slowest);
}

function counter(d: DeviceHealth | undefined, name: Counter): number | null {
  const v = d?.counters[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Every device of the plant (in its order), then any the gateway reports that the plant does not list. */
export function deviceRows(
  health: HealthResponse,
  plant: PlantView | null,
  previous: HealthResponse | null,
): DeviceRow[] {
  const byId = new Map(health.devices.map((d) => [d.id, d]));
  const before = new Map((previous?.devices ?? []).map((d) => [d.id, d]));
  const ids = [...(plant?.devices.map((d) => d.id) ?? [])];
  for (const d of health.devices) if (!ids.includes(d.id)) ids.push(d.id);
  return ids.map((id) => {
    const d = byId.get(id);
    const conf = plant?.devices.find((x) => x.id === id);
    const enabled = conf?.enabled ?? true;
    const counters = Object.fromEntries(DEVICE_COUNTERS.map((c) => [c, counter(d, c)])) as Record<
      Counter,
      number | null
    >;
    const rising = new Set<Counter>();
    const prev = before.get(id);
    if (prev) {
      for (const c of TROUBLE) {
        const now = counters[c];
        const then = counter(prev, c);
        if (now !== null && then !== null && now > then) rising.add(c);
      }
    }
    const state = !enabled && !d ? 'disabled' : (d?.state ?? 'unknown');
    const lastGoodAgeMs = d?.lastGoodTs != null ? Math.max(0, health.now - d.lastGoodTs) : null;
    const late = lateAfter(plant, id);
    const problems: DeviceProblem[] = [];
    if (!enabled) problems.push('disabled');
    else {
      if (state !== 'connected') problems.push('not-connected');
      if (lastGoodAgeMs === null) problems.push('no-read-yet');
      else if (lastGoodAgeMs > late) problems.push('read-old');
      if (rising.size > 0) problems.push('errors-rising');
      if (d?.lastError) problems.push('last-error');
    }
    const byKind = Object.entries(d?.errorsByKind ?? {})
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]);
    return {
      id,
      name: conf?.name ?? id,
      protocol: d?.protocol ?? conf?.protocol ?? '',
      endpoint: d?.endpoint ?? null,
      state,
      lastGoodAgeMs,
      lateAfterMs: late,
      counters,
      rising,
      errorsByKind: byKind,
      p50: latencyQuantile(d?.latencyMs, 0.5),
      p99: latencyQuantile(d?.latencyMs, 0.99),
      lastError: d?.lastError ?? null,
      problems,
    };
  });
}

export type StoreProblem = 'error' | 'dropped' | 'dropping' | 'backlog';

/** rows waiting longer than a few write batches are a backlog */
const PENDING_BACKLOG = 10_000;

export function storeProblems(health: HealthResponse, previous: HealthResponse | null): StoreProblem[] {
  const s = health.store;
  const out: StoreProblem[] = [];
  if (s.lastError) out.push('error');
  if (previous && s.dropped > previous.store.dropped) out.push('dropping');
  else if (s.dropped > 0) out.push('dropped');
  if (s.pendingRows > PENDING_BACKLOG) out.push('backlog');
  return out;
}

export type SinkProblem = 'error' | 'alarm' | 'dropped' | 'rejected' | 'not-running';

export function sinkProblems(sink: SinkHealth): SinkProblem[] {
  const out: SinkProblem[] = [];
  if (sink.state !== undefined && sink.state !== 'running') out.push('not-running');
  if (sink.lastError) out.push('error');
  if (sink.alarm?.active) out.push('alarm');
  if ((sink.dropped ?? 0) > 0) out.push('dropped');
  if ((sink.rejected ?? 0) > 0) out.push('rejected');
  return out;
}

export type MetricsProblem = 'not-ready' | 'errors' | 'error';

export function metricsProblems(health: HealthResponse): MetricsProblem[] {
  const m = health.metrics;
  if (!m) return [];
  const out: MetricsProblem[] = [];
  if (!m.ready) out.push('not-ready');
  if (m.errors > 0) out.push('errors');
  if (m.lastError) out.push('error');
  return out;
}

export type HubProblem = 'slow-clients' | 'bad-messages' | 'terminated';

export function hubProblems(health: HealthResponse, previous: HealthResponse | null): HubProblem[] {
  if (!previous) return [];
  const now = health.liveHub;
  const then = previous.liveHub;
  const out: HubProblem[] = [];
  if (now.skippedSlow > then.skippedSlow) out.push('slow-clients');
  if (now.badMessages > then.badMessages) out.push('bad-messages');
  if (now.terminated > then.terminated) out.push('terminated');
  return out;
}

/** how many things need a look: devices with a problem (disabled ones aside) and the rest */
export function problemCount(health: HealthResponse, plant: PlantView | null, previous: HealthResponse | null): number {
  const devices = deviceRows(health, plant, previous).filter((d) => d.problems.some((p) => p !== 'disabled')).length;
  return (
    devices +
    (storeProblems(health, previous).length > 0 ? 1 : 0) +
    health.sinks.filter((s) => sinkProblems(s).length > 0).length +
    (metricsProblems(health).length > 0 ? 1 : 0)
  );
}
