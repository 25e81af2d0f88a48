/**
 * Metrics routes: the overview of every line and machine, one entity, and
 * its per-bucket series, by named window or by range.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ID_PATTERN } from '../../config/schema.js';
import type { EntityRef } from '../core/index.js';
import { instant } from './api-routes.js';
import {
  BASELINE_DEFAULT_DAYS,
  BASELINE_MAX_DAYS,
  type BaselineResponse,
  type EntityMetricsResponse,
  METRICS_SERIES_DEFAULT_POINTS,
  METRICS_SERIES_MAX_POINTS,
  METRICS_WINDOWS,
  type MetricsOverview,
  type MetricsSeriesResponse,
  type MetricsWindowName,
} from './contract.js';
import { HttpError, notFound, validate } from './http-errors.js';
import { buildOverview, buildSeries, windowSpec } from './metrics-view.js';
import type { MetricsSource, ServerDeps } from './ports.js';

/** the longest range one request may ask for */
export const METRICS_MAX_RANGE_MS = 400 * 86_400_000;

const windowName = z.enum(METRICS_WINDOWS as [MetricsWindowName, ...MetricsWindowName[]], {
  error: `must be one of ${METRICS_WINDOWS.join(', ')}`,
});

const WindowQuery = {
  window: windowName.optional(),
  from: instant.optional(),
  to: instant.optional(),
};

const EntityParams = z.strictObject({
  type: z.enum(['machine', 'line'], { error: 'must be machine or line' }),
  id: z.string().regex(ID_PATTERN, 'is not an id: letters, digits, ".", "_" and "-", starting with a letter'),
});

const OverviewQuery = z.strictObject(WindowQuery);
const SeriesQuery = z.strictObject({
  ...WindowQuery,
  maxPoints: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1, 'must be at least 1')
        .max(METRICS_SERIES_MAX_POINTS, `must be at most ${METRICS_SERIES_MAX_POINTS}`),
    )
    .optional(),
});

const BaselineParams = z.strictObject({
  id: z.string().regex(ID_PATTERN, 'is not an id: letters, digits, ".", "_" and "-", starting with a letter'),
});
const BaselineQuery = z.strictObject({
  days: z
    .string()
    .regex(/^\d+$/, 'must be a whole number of days')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(BASELINE_MAX_DAYS, `must be at most ${BASELINE_MAX_DAYS}`))
    .optional(),
});

type Chosen = MetricsWindowName | { from: number; to: number };

function badRequest(path: string, message: string): HttpError {
  return new HttpError(400, 'GL_ERR_BAD_REQUEST', `invalid ${path}: ${message}`, [{ path, message }]);
}

/** `window=…`, or `from` (and `to`, default now); neither: the current shift */
function chooseWindow(q: { window?: MetricsWindowName; from?: number; to?: number }, now: number): Chosen {
  if (q.window !== undefined) {
    if (q.from !== undefined || q.to !== undefined) {
      throw badRequest('query.window', 'give either window or from/to, not both');
    }
    return q.window;
  }
  if (q.from === undefined) {
    if (q.to !== undefined) throw badRequest('query.from', 'is required with to');
    return 'shift';
  }
  const to = q.to ?? now;
  if (to <= q.from) {
    throw q.to !== undefined
      ? badRequest('query.to', 'must be after from')
      : badRequest('query.from', 'must be before to (default: now)');
  }
  if (to - q.from > METRICS_MAX_RANGE_MS) {
    throw badRequest('query.from', `the range may span at most ${METRICS_MAX_RANGE_MS / 86_400_000} days`);
  }
  return { from: q.from, to };
}

export function registerMetricsRoutes(app: FastifyInstance, deps: ServerDeps, now: () => number): void {
  const source = (): MetricsSource => {
    if (deps.metrics === undefined) {
      throw new HttpError(503, 'GL_ERR_UNAVAILABLE', 'metrics are not computed by this gateway');
    }
    return deps.metrics;
  };
  const names = new Map<string, string>();
  for (const line of deps.config.lines) {
    names.set(`line:${line.id}`, line.name);
    for (const m of line.machines) names.set(`machine:${m.id}`, m.name);
  }
  const entityOf = (params: unknown): { entity: EntityRef; name: string } => {
    const { type, id } = validate('params', EntityParams, params);
    const name = names.get(`${type}:${id}`);
    if (name === undefined) {
      throw notFound(`no ${type} "${id}" in the plant config; GET /api/plant lists the lines and machines`);
    }
    return { entity: { type, id }, name };
  };

  app.get('/api/metrics', async (req): Promise<MetricsOverview> => {
    const metrics = source();
    const t = now();
    const chosen = chooseWindow(validate('query', OverviewQuery, req.query), t);
    return buildOverview(deps.config, metrics, chosen, t);
  });

  app.get('/api/metrics/line/:id/baseline', async (req): Promise<BaselineResponse> => {
    const metrics = source();
    const { id } = validate('params', BaselineParams, req.params);
    const { days } = validate('query', BaselineQuery, req.query);
    if (!names.has(`line:${id}`)) {
      throw notFound(`no line "${id}" in the plant config; GET /api/plant lists the lines`);
    }
    if (metrics.baseline === undefined) {
      throw new HttpError(503, 'GL_ERR_UNAVAILABLE', 'this gateway computes no energy baseline');
    }
    const t = now();
    const report = metrics.baseline(id, days ?? BASELINE_DEFAULT_DAYS, t);
    if (report === null) {
      throw new HttpError(503, 'GL_ERR_UNAVAILABLE', 'metrics are being rebuilt from the store; try again shortly');
    }
    return { serverTime: t, ...report };
  });

  app.get('/api/metrics/:type/:id', async (req): Promise<EntityMetricsResponse> => {
    const metrics = source();
    const { entity, name } = entityOf(req.params);
    const t = now();
    const chosen = chooseWindow(validate('query', OverviewQuery, req.query), t);
    const spec = typeof chosen === 'string' ? windowSpec(chosen) : ({ kind: 'range', ...chosen } as const);
    return {
      serverTime: t,
      entity,
      name,
      ready: metrics.ready(),
      status: entity.type === 'machine' ? metrics.machineStatus(entity.id) : null,
      record: metrics.snapshot(entity, spec, t),
    };
  });

  app.get('/api/metrics/:type/:id/series', async (req): Promise<MetricsSeriesResponse> => {
    const metrics = source();
    const { entity } = entityOf(req.params);
    const query = validate('query', SeriesQuery, req.query);
    const t = now();
    const chosen = chooseWindow(query, t);
    let range: { from: number; to: number };
    if (typeof chosen === 'string') {
      const record = metrics.snapshot(entity, windowSpec(chosen), t);
      // no such window now (no shift running, or still rebuilding): an empty series
      range = record ? { from: record.window.from, to: record.window.to } : { from: t, to: t };
    } else range = chosen;
    return buildSeries(metrics, entity, range, t, query.maxPoints ?? METRICS_SERIES_DEFAULT_POINTS);
  });
}
