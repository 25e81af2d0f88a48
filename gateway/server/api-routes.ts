/**
 * The read-only REST API: health, the plant model, the live snapshot and
 * tag history.
 */
import { z } from 'zod';
import { ID_PATTERN } from '../../config/schema.js';
import type { RouteBook } from './api/route-book.js';
import {
  type ApiError,
  type HealthResponse,
  type HistoryResponse,
  LIVE_WS_PATH,
  type LiveResponse,
  type LiveTagView,
  NO_DATA_REASON,
} from './contract.js';
import { HttpError, notFound } from './http-errors.js';
import type { LiveHub } from './live-hub.js';
import type { PlantIndex } from './plant-index.js';
import type { ServerDeps } from './ports.js';
import { doc } from './schemas/common.js';
import { HealthResponseSchema, HistoryResponseSchema, LiveResponseSchema } from './schemas/live-schemas.js';
import { PlantViewSchema } from './schemas/plant-schemas.js';

export const HISTORY_DEFAULT_SPAN_MS = 3_600_000;
export const HISTORY_DEFAULT_POINTS = 600;
export const HISTORY_MAX_POINTS = 5000;

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A point in time: ms since epoch, or an ISO 8601 date-time with an offset (no guessing of time zones). */
export const instant = () =>
  doc(instantText(), {
    description: 'ms since epoch, or an ISO 8601 date-time with an offset',
    example: '2025-03-01T08:00:00+08:00',
  });

const instantText = () =>
  z.string().transform((text, ctx) => {
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
  from: instant().optional(),
  to: instant().optional(),
  maxPoints: doc(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(
        z.number().int().min(1, 'must be at least 1').max(HISTORY_MAX_POINTS, `must be at most ${HISTORY_MAX_POINTS}`),
      ),
    { description: `at most this many points, 1–${HISTORY_MAX_POINTS}; default ${HISTORY_DEFAULT_POINTS}` },
  ).optional(),
});

export function registerApiRoutes(
  api: RouteBook,
  deps: ServerDeps,
  index: PlantIndex,
  hub: LiveHub,
  now: () => number,
): void {
  api.define({
    method: 'GET',
    url: '/api/health',
    tag: 'system',
    summary: "The gateway's health",
    description:
      'Devices (state, last good read, counters, errors by kind, latency), the store, the sinks, the pipeline, the alarm service, the metrics core, and the live hub counters.',
    answers: { 200: { description: 'the health report', schema: HealthResponseSchema } },
    handler: async (): Promise<HealthResponse> => ({ ...deps.health(), liveHub: hub.counters() }),
  });

  api.define({
    method: 'GET',
    url: '/api/plant',
    tag: 'plant',
    summary: 'The plant model',
    description:
      'Site, areas, lines (with the emission factors of their carbon tables) with their machines, devices with their tags. Built from an allow-list: no hosts, URLs, user names or passwords.',
    answers: { 200: { description: 'the plant', schema: PlantViewSchema } },
    handler: async () => index.view,
  });

  api.define({
    method: 'GET',
    url: '/api/live',
    tag: 'plant',
    summary: 'Every tag with its latest value',
    description: `A tag that never reported: \`value: null\`, \`quality: 'bad'\`, \`reason: '${NO_DATA_REASON}'\`, \`ts: null\`. Values from the live source that no device owns follow, with \`deviceId: null\`.`,
    answers: { 200: { description: 'the live snapshot', schema: LiveResponseSchema } },
    handler: async (): Promise<LiveResponse> => {
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
    },
  });

  api.define({
    method: 'GET',
    url: '/api/tags/:id/history',
    tag: 'plant',
    summary: "A tag's stored history",
    description: `At most \`maxPoints\` points between \`from\` and \`to\` (default: the last hour); \`to\` must be after \`from\`.`,
    params: HistoryParams,
    query: HistoryQuery,
    answers: { 200: { description: 'the points, oldest first', schema: HistoryResponseSchema } },
    errors: { 404: '`GL_ERR_NOT_FOUND`: no such tag in the plant config.' },
    handler: async ({ params: { id }, query }): Promise<HistoryResponse> => {
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
    },
  });

  api.define({
    method: 'GET',
    url: LIVE_WS_PATH,
    tag: 'plant',
    summary: 'The live WebSocket',
    description: `Upgrade to a WebSocket (\`ws:\`, or \`wss:\` under TLS); a browser's \`Origin\` must name the host it connects to. JSON text messages. Client → server: \`{ "type": "subscribe", "tags": [ids] | "*", "lines"?, "machines"? }\`, \`unsubscribe\` alike, \`{ "type": "metrics", "window": "shift" | "prev-shift" | "hour" | "today" | null }\`, \`{ "type": "alarms", "follow": true | false }\`. Server → client: \`hello\`, \`snapshot\` and \`delta\` (arrays of live values), \`metrics\` (a \`MetricsOverview\`), \`alarms\` and \`alarm\` (\`AlarmItem\`s and changes), \`error\`. A connection whose sign-in ends is closed with code 4401.`,
    answers: { 101: { description: 'Switching Protocols: the live socket is open' } },
    errors: { 426: '`GL_ERR_UPGRADE_REQUIRED`: a plain GET; connect with a WebSocket client.' },
    handler: async (_input, _req, reply) => {
      const body: ApiError = {
        error: {
          code: 'GL_ERR_UPGRADE_REQUIRED',
          message: `${LIVE_WS_PATH} is a WebSocket endpoint: connect with a WebSocket client`,
        },
      };
      return reply.code(426).header('upgrade', 'websocket').send(body);
    },
  });
}
