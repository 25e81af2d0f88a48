/**
 * Metrics as the API and the live hub show them: windows by name, the
 * overview of every line and machine, and the per-bucket series for charts.
 */
import type { PlantConfig } from '../../config/schema.js';
import type { EntityRef, MetricsRecord, WindowSpec } from '../core/index.js';
import {
  type LineMetricsView,
  METRICS_SERIES_DEFAULT_POINTS,
  type MetricsOverview,
  type MetricsPoint,
  type MetricsSeriesResponse,
  type MetricsWindowName,
} from './contract.js';
import type { MetricsSource } from './ports.js';

const MINUTE_MS = 60_000;

export function windowSpec(name: MetricsWindowName): WindowSpec {
  switch (name) {
    case 'shift':
      return { kind: 'current-shift' };
    case 'prev-shift':
      return { kind: 'previous-shift' };
    case 'hour':
      return { kind: 'last-hour' };
    case 'today':
      return { kind: 'today' };
  }
}

export function buildOverview(
  config: PlantConfig,
  metrics: MetricsSource,
  window: MetricsWindowName | { from: number; to: number },
  now: number,
): MetricsOverview {
  const spec: WindowSpec = typeof window === 'string' ? windowSpec(window) : { kind: 'range', ...window };
  const lines: LineMetricsView[] = config.lines.map((line) => ({
    id: line.id,
    name: line.name,
    area: line.area,
    outputMachine: line.outputMachine,
    record: metrics.snapshot({ type: 'line', id: line.id }, spec, now),
    machines: line.machines.map((m) => ({
      id: m.id,
      name: m.name,
      status: metrics.machineStatus(m.id),
      record: metrics.snapshot({ type: 'machine', id: m.id }, spec, now),
    })),
  }));
  return {
    serverTime: now,
    window: typeof window === 'string' ? window : 'range',
    timezone: config.site.timezone,
    ready: metrics.ready(),
    lines,
  };
}

function point(from: number, to: number, r: MetricsRecord | null): MetricsPoint {
  return {
    from,
    to,
    availability: r?.availability ?? null,
    performance: r?.performance ?? null,
    quality: r?.quality ?? null,
    oee: r?.oee ?? null,
    total: r?.total ?? null,
    good: r?.good ?? null,
    reject: r?.reject ?? null,
    plannedMs: r?.plannedMs ?? 0,
    runMs: r?.runMs ?? 0,
    stopMs: r?.stopMs ?? 0,
    kwh: r?.kwh ?? null,
    kwhPerGood: r?.kwhPerGood ?? null,
    kgCO2e: r?.kgCO2e.location ?? null,
    kgCO2eMarket: r?.kgCO2e.market ?? null,
  };
}

/**
 * The window cut into buckets of whole minutes, at most `maxPoints` of them,
 * up to now; each bucket's figures are the window formulas over its minutes.
 */
export function buildSeries(
  metrics: MetricsSource,
  entity: EntityRef,
  range: { from: number; to: number },
  now: number,
  maxPoints = METRICS_SERIES_DEFAULT_POINTS,
): MetricsSeriesResponse {
  const from = Math.floor(range.from / MINUTE_MS) * MINUTE_MS;
  // an empty range (no such window now) has no points, even inside one minute
  const to = range.to > range.from ? Math.ceil(Math.min(range.to, now) / MINUTE_MS) * MINUTE_MS : from;
  const span = Math.max(0, to - from);
  const bucketMs = Math.max(1, Math.ceil(span / maxPoints / MINUTE_MS)) * MINUTE_MS;
  const points: MetricsPoint[] = [];
  for (let b = from; b < to; b += bucketMs) {
    const end = Math.min(b + bucketMs, to);
    points.push(point(b, end, metrics.snapshot(entity, { kind: 'range', from: b, to: end }, now)));
  }
  return {
    serverTime: now,
    entity,
    from,
    to: Math.max(from, Math.ceil(range.to / MINUTE_MS) * MINUTE_MS),
    bucketMs,
    points,
  };
}
