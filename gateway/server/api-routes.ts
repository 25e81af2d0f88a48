/**
 * The read-only REST API: health, the plant model, the live snapshot and
 * tag history.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ID_PATTERN } from '../../config/schema.js';
import {
  type HealthResponse,
  type HistoryResponse,
  LIVE_WS_PATH,
  type LiveResponse,
  type LiveTagView,
  NO_DATA_REASON,
} from './contract.js';
import { HttpError, notFound, validate } from './http-errors.js';
import type { LiveHub } from './live-hub.js';
import type { PlantIndex } from './plant-index.js';
import type { ServerDeps } from './ports.js';

export const HISTORY_DEFAULT_SPAN_MS = 3_600_000;
export const HISTORY_DEFAULT_POINTS = 600;
export const HISTORY_MAX_POINTS = 5000;

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A point in time: ms since epoch, or an ISO 8601 date-time with an offset (no guessing of time zones). */
export const instant = z.string().transform((text, ctx) => {
  const s = text.trim();
  if (/^\d{1,16}$/.test(s)) return Number(s);
  if (ISO_WITH_OFFSET.test(s)) {
    const ms = Date.parse(s);
    if (!Number.isNaN(ms)) return ms;
  }
  ctx.addIssue({
    code: 'custom',
    message: 'must be ms since epoch or an ISO 8601 date-time with an offset, e.g. 2025-03-01T08:00:00+08:00',
  });
  return z.NEVER;
});

const HistoryParams = z.strictObject({
  id: z.string().regex(ID_PATTERN, 'is not a tag id: letters, digits, ".", "_" and "-", starting with a letter'),
});

const HistoryQuery = z.strictObject({
  from: instant.optional(),
  to: instant.optional(),
  maxPoints: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(
      z.number().int().min(1, 'must be at least 1').max(HISTORY_MAX_POINTS, `must be at most ${HISTORY_MAX_POINTS}`),
    )
    .optional(),
});

export function registerApiRoutes(
  app: FastifyInstance,
  deps: ServerDeps,
  index: PlantIndex,
  hub: LiveHub,
  now: () => number,
): void {
  app.get('/api/health', async (): Promise<HealthResponse> => ({ ...deps.health(), liveHub: hub.counters() }));

  app.get('/api/plant', async () => index.view);

  app.get('/api/live', async (): Promise<LiveResponse> => {
    const latest = new Map(deps.live.snapshot().map((v) => [v.tagId, v]));
    const tags: LiveTagView[] = [];
    for (const t of index.tags.values()) {
      const v = latest.get(t.id);
      latest.delete(t.id);
      tags.push({
        tagId: t.id,
        name: t.name,
        unit: t.unit,
        deviceId: t.deviceId,
        value: v ? v.value : null,
        quality: v ? v.quality : 'bad',
        reason: v ? (v.reason ?? null) : NO_DATA_REASON,
        ts: v ? v.ts : null,
        receivedAt: v ? v.receivedAt : null,
      });
    }
    // values no configured device owns (derived metrics) are listed after the plant's tags
    for (const v of latest.values()) {
      tags.push({
        tagId: v.tagId,
        name: v.tagId,
        unit: null,
        deviceId: null,
        value: v.value,
        quality: v.quality,
        reason: v.reason ?? null,
        ts: v.ts,
        receivedAt: v.receivedAt,
      });
    }
    return { serverTime: now(), tags };
  });

  app.get('/api/tags/:id/history', async (req): Promise<HistoryResponse> => {
    const { id } = validate('params', HistoryParams, req.params);
    const query = validate('query', HistoryQuery, req.query);
    const to = query.to ?? now();
    const from = query.from ?? to - HISTORY_DEFAULT_SPAN_MS;
    if (to <= from) {
      const issue =
        query.to !== undefined
          ? { path: 'query.to', message: 'must be after from' }
          : { path: 'query.from', message: 'must be before to (default: now)' };
      throw new HttpError(400, 'GL_ERR_BAD_REQUEST', `invalid ${issue.path}: ${issue.message}`, [issue]);
    }
    const maxPoints = query.maxPoints ?? HISTORY_DEFAULT_POINTS;
    if (!index.tags.has(id)) throw notFound(`no tag "${id}" in the plant config; GET /api/plant lists the tags`);
    const points = deps.history.history(id, from, to, maxPoints);
    return { tagId: id, from, to, maxPoints, points };
  });

  app.get(LIVE_WS_PATH, async (_req, reply) => {
    reply.code(426).header('upgrade', 'websocket');
    return {
      error: {
        code: 'GL_ERR_UPGRADE_REQUIRED',
        message: `${LIVE_WS_PATH} is a WebSocket endpoint: connect with a WebSocket client`,
      },
    };
  });
}
