/**
 * Metrics routes: the overview of every line and machine, one entity, and
 * its per-bucket series, by named window or by range.
 */
import { z } from 'zod';
import { ID_PATTERN } from '../../config/schema.js';
import type { RouteBook } from './api/route-book.js';
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
  type EntityRef,
} from './contract.js';
import { HttpError, notFound } from './http-errors.js';
import { buildOverview, buildSeries, windowSpec } from './metrics-view.js';
import type { MetricsSource, ServerDeps } from './ports.js';
import { doc } from './schemas/common.js';
import {
  BaselineResponseSchema,
  EntityMetricsResponseSchema,
  MetricsOverviewSchema,
  MetricsSeriesResponseSchema,
} from './schemas/metrics-schemas.js';

/** the longest range one request may ask for */
export const METRICS_MAX_RANGE_MS = 400 * 86_400_000;

const windowName = () =>
  doc(
    z.enum(METRICS_WINDOWS as [MetricsWindowName, ...MetricsWindowName[]], {
      error: `must be one of ${METRICS_WINDOWS.join(', ')}`,
    }),
    { description: 'a named window (default `shift`); or give `from` (and `to`) for a range, not both' },
  );

const WindowQuery = () => ({
  window: windowName().optional(),
  from: doc(instant(), { description: 'start of a range: ms since epoch or ISO 8601 with an offset' }).optional(),
  to: doc(instant(), { description: 'end of a range (default now), at most 400 days after `from`' }).optional(),
});

const EntityParams = z.strictObject({
  type: z.enum(['machine', 'line'], { error: 'must be machine or line' }),
  id: z.string().regex(ID_PATTERN, 'is not an id: letters, digits, ".", "_" and "-", starting with a letter'),
});

const OverviewQuery = z.strictObject(WindowQuery());
const SeriesQuery = z.strictObject({
  ...WindowQuery(),
  maxPoints: doc(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(
        z
          .number()
          .int()
          .min(1, 'must be at least 1')
          .max(METRICS_SERIES_MAX_POINTS, `must be at most ${METRICS_SERIES_MAX_POINTS}`),
      ),
    {
      description: `at most this many buckets, 1–${METRICS_SERIES_MAX_POINTS}; default ${METRICS_SERIES_DEFAULT_POINTS}`,
    },
  ).optional(),
});

const BaselineParams = z.strictObject({
  id: z.string().regex(ID_PATTERN, 'is not an id: letters, digits, ".", "_" and "-", starting with a letter'),
});
const BaselineQuery = z.strictObject({
  days: doc(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number of days')
      .transform(Number)
      .pipe(
        z.number().int().min(1, 'must be at least 1').max(BASELINE_MAX_DAYS, `must be at most ${BASELINE_MAX_DAYS}`),
      ),
    { description: `past days the baseline is fitted on, 1–${BASELINE_MAX_DAYS}; default ${BASELINE_DEFAULT_DAYS}` },
  ).optional(),
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

export function registerMetricsRoutes(api: RouteBook, deps: ServerDeps, now: () => number): void {
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
  const nameOf = ({ type, id }: z.output<typeof EntityParams>): string => {
    const name = names.get(`${type}:${id}`);
    if (name === undefined) {
      throw notFound(`no ${type} "${id}" in the plant config; GET /api/plant lists the lines and machines`);
    }
    return name;
  };
  const unavailable = '`GL_ERR_UNAVAILABLE`: this gateway computes no metrics.';
  const unknownEntity = '`GL_ERR_NOT_FOUND`: no such machine or line in the plant config.';

  api.define({
    method: 'GET',
    url: '/api/metrics',
    tag: 'metrics',
    summary: 'Every line and machine over a window',
    description:
      'Each line (its `MetricsRecord`) with its machines (state now and `MetricsRecord`). `ready: false` while metrics are rebuilt after a start (records null).',
    query: OverviewQuery,
    answers: { 200: { description: 'the overview', schema: MetricsOverviewSchema } },
    errors: { 503: unavailable },
    handler: async ({ query }): Promise<MetricsOverview> => {
      const metrics = source();
      const t = now();
      return buildOverview(deps.config, metrics, chooseWindow(query, t), t);
    },
  });

  api.define({
    method: 'GET',
    url: '/api/metrics/line/:id/baseline',
    tag: 'metrics',
    summary: "A line's energy baseline and the current shift's EnPI",
    description:
      'ISO 50006: E = c + m·units fitted by least squares on the past operating hours of the line; the current shift is compared with it (actual / expected kWh).',
    params: BaselineParams,
    query: BaselineQuery,
    answers: { 200: { description: 'the baseline', schema: BaselineResponseSchema } },
    errors: {
      404: '`GL_ERR_NOT_FOUND`: no such line in the plant config.',
      503: '`GL_ERR_UNAVAILABLE`: no metrics or no baseline on this gateway, or metrics still rebuilt after a start.',
    },
    handler: async ({ params: { id }, query: { days } }): Promise<BaselineResponse> => {
      const metrics = source();
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
    },
  });

  api.define({
    method: 'GET',
    url: '/api/metrics/:type/:id',
    tag: 'metrics',
    summary: 'One machine or line over a window',
    params: EntityParams,
    query: OverviewQuery,
    answers: { 200: { description: 'its state now and its record', schema: EntityMetricsResponseSchema } },
    errors: { 404: unknownEntity, 503: unavailable },
    handler: async ({ params, query }): Promise<EntityMetricsResponse> => {
      const metrics = source();
      const name = nameOf(params);
      const entity: EntityRef = { type: params.type, id: params.id };
      const t = now();
      const chosen = chooseWindow(query, t);
      const spec = typeof chosen === 'string' ? windowSpec(chosen) : ({ kind: 'range', ...chosen } as const);
      return {
        serverTime: t,
        entity,
        name,
        ready: metrics.ready(),
        status: entity.type === 'machine' ? metrics.machineStatus(entity.id) : null,
        record: metrics.snapshot(entity, spec, t),
      };
    },
  });

  api.define({
    method: 'GET',
    url: '/api/metrics/:type/:id/series',
    tag: 'metrics',
    summary: 'A window cut into buckets, for charts',
    description:
      'Buckets of whole minutes (at most `maxPoints`), each with OEE, A, P, Q, counts, times, kWh, kWh per good unit and kg CO2e. A named window that does not exist now (no shift running) gives no points.',
    params: EntityParams,
    query: SeriesQuery,
    answers: { 200: { description: 'the series', schema: MetricsSeriesResponseSchema } },
    errors: { 404: unknownEntity, 503: unavailable },
    handler: async ({ params, query }): Promise<MetricsSeriesResponse> => {
      const metrics = source();
      nameOf(params);
      const entity: EntityRef = { type: params.type, id: params.id };
      const t = now();
      const chosen = chooseWindow(query, t);
      let range: { from: number; to: number };
      if (typeof chosen === 'string') {
        const record = metrics.snapshot(entity, windowSpec(chosen), t);
        // no such window now (no shift running, or still rebuilding): an empty series
        range = record ? { from: record.window.from, to: record.window.to } : { from: t, to: t };
      } else range = chosen;
      return buildSeries(metrics, entity, range, t, query.maxPoints ?? METRICS_SERIES_DEFAULT_POINTS);
    },
  });
}
