/**
 * Alarm routes: the alarms and their state, one alarm with its recent audit
 * lines, alarm system statistics, the audit trail (JSON and a streamed CSV),
 * and the operator actions.
 *
 * An action is always taken in the name of the signed-in user (the request's
 * sign-in, never a field of the body: a body naming a user is refused as an
 * unknown field). A refused action answers with its stable code: unknown
 * alarm 404, no user 401, a missing reason, a comment too long or a bad
 * shelving duration 400, not ready or not recorded 503, any other refusal
 * (already acknowledged, still active, …) 409. The audit trail keeps the
 * refused attempts too.
 */
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ID_PATTERN } from '../../../config/schema.js';
import { type AlarmActionResult, type AlarmRefusalCode, refusal } from '../../core/alarms/index.js';
import {
  ALARM_AUDIT_DEFAULT_LIMIT,
  ALARM_AUDIT_MAX_LIMIT,
  ALARM_DEFAULT_SPAN_MS,
  ALARM_DETAIL_AUDIT_ROWS,
  ALARM_MAX_RANGE_DAYS,
  ALARM_RATE_WINDOW_MS,
  type AlarmActionResponse,
  type AlarmAuditResponse,
  type AlarmDetailResponse,
  type AlarmsResponse,
  type AlarmStatsResponse,
} from './alarm-contract.js';
import { type AlarmViews, auditEntry, changeView } from './alarm-view.js';
import { instant } from '../api-routes.js';
import { requestUser } from '../auth/index.js';
import type { ApiIssue } from '../contract.js';
import { attachment, CSV_BOM, type CsvCell, csvRow, LocalTimeFormatter } from '../csv.js';
import { HttpError, notFound, validate } from '../http-errors.js';
import type { AlarmAuditRecord, AlarmAuditSource, AlarmSource, ServerDeps } from '../ports.js';

const DAY_MS = 86_400_000;
/** audit lines read from the store per page of the CSV */
const CSV_PAGE_ROWS = 2000;
const CHUNK_CHARS = 64 * 1024;

/** HTTP status of each refusal; any other refusal is a conflict with the alarm's state (409) */
const REFUSAL_STATUS: Partial<Record<AlarmRefusalCode, number>> = {
  GL_ERR_ALARM_UNKNOWN: 404,
  GL_ERR_ALARM_USER_REQUIRED: 401,
  GL_ERR_ALARM_REASON_REQUIRED: 400,
  GL_ERR_ALARM_COMMENT_TOO_LONG: 400,
  GL_ERR_ALARM_SHELVE_DURATION: 400,
  GL_ERR_ALARM_NOT_READY: 503,
  GL_ERR_ALARM_STORE: 503,
};

export function refusalStatus(code: AlarmRefusalCode): number {
  return REFUSAL_STATUS[code] ?? 409;
}

const alarmId = z
  .string()
  .max(128, 'is longer than 128 characters')
  .regex(ID_PATTERN, 'is not an alarm id: letters, digits, ".", "_" and "-", starting with a letter');

const IdParams = z.strictObject({ id: alarmId });

const RangeQuery = {
  from: instant.optional(),
  to: instant.optional(),
};

const StatsQuery = z.strictObject(RangeQuery);

const AuditCsvQuery = z.strictObject({ ...RangeQuery, alarmId: alarmId.optional() });

const AuditQuery = z.strictObject({
  ...RangeQuery,
  alarmId: alarmId.optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1, 'must be at least 1')
        .max(ALARM_AUDIT_MAX_LIMIT, `must be at most ${ALARM_AUDIT_MAX_LIMIT}`),
    )
    .optional(),
});

const text = (what: string) =>
  z.string({ error: (iss) => (iss.input === undefined ? `is required: ${what}` : 'must be text') });
const optionalComment = z.string({ error: 'must be text or null' }).nullable().optional();

/** no body, or `{ comment }` */
const CommentBody = z.strictObject({ comment: optionalComment }).optional();
const ShelveBody = z.strictObject({
  reason: text('why the alarm is shelved; it goes on record'),
  durationMinutes: z.number({
    error: (iss) =>
      iss.input === undefined ? 'is required: how long the shelf lasts, in minutes' : 'must be a number of minutes',
  }),
});
const ReasonBody = z.strictObject({ reason: text('why the alarm is taken out of service; it goes on record') });

function badRequest(issues: ApiIssue[]): HttpError {
  const first = issues[0]!;
  const message =
    issues.length === 1 ? `invalid ${first.path}: ${first.message}` : `invalid query: ${issues.length} problems`;
  return new HttpError(400, 'GL_ERR_BAD_REQUEST', message, issues);
}

/** `[from, to]` of a query: default the last 24 hours up to now */
function rangeOf(q: { from?: number; to?: number }, now: number): { from: number; to: number } {
  const to = q.to ?? now;
  const from = q.from ?? to - ALARM_DEFAULT_SPAN_MS;
  const issues: ApiIssue[] = [];
  if (to <= from) {
    issues.push(
      q.to !== undefined
        ? { path: 'query.to', message: 'must be after from' }
        : { path: 'query.from', message: 'must be before to (default: now)' },
    );
  } else if (to - from > ALARM_MAX_RANGE_DAYS * DAY_MS) {
    issues.push({ path: 'query.from', message: `the range may span at most ${ALARM_MAX_RANGE_DAYS} days` });
  }
  if (issues.length > 0) throw badRequest(issues);
  return { from, to };
}

/** what a refusal's code says about the body, for the `issues` of a 400 */
function refusalIssue(
  code: AlarmRefusalCode,
  reasonField: 'reason' | 'comment',
  message: string,
): ApiIssue[] | undefined {
  switch (code) {
    case 'GL_ERR_ALARM_REASON_REQUIRED':
      return [{ path: `body.${reasonField}`, message }];
    case 'GL_ERR_ALARM_COMMENT_TOO_LONG':
      return [{ path: `body.${reasonField}`, message }];
    case 'GL_ERR_ALARM_SHELVE_DURATION':
      return [{ path: 'body.durationMinutes', message }];
    default:
      return undefined;
  }
}

function csvValue(v: unknown): CsvCell {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

export function registerAlarmRoutes(
  app: FastifyInstance,
  deps: ServerDeps,
  views: AlarmViews,
  now: () => number,
): void {
  const timezone = deps.config.site.timezone;
  const siteId = deps.config.site.id;

  const source = (): AlarmSource => {
    if (deps.alarms === undefined) {
      throw new HttpError(503, 'GL_ERR_UNAVAILABLE', 'this gateway keeps no alarms');
    }
    return deps.alarms;
  };
  const audit = (): AlarmAuditSource => {
    if (deps.alarmAudit === undefined) {
      throw new HttpError(503, 'GL_ERR_UNAVAILABLE', 'this gateway keeps no alarm audit trail');
    }
    return deps.alarmAudit;
  };
  const readAudit = (query: Parameters<AlarmAuditSource['auditTrail']>[0]): readonly AlarmAuditRecord[] => {
    try {
      return audit().auditTrail(query);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      deps.log.error({ err: (err as Error).message }, 'the alarm audit trail could not be read');
      throw new HttpError(
        503,
        'GL_ERR_UNAVAILABLE',
        'the alarm audit trail could not be read: the gateway log says why',
      );
    }
  };

  app.get('/api/alarms', async (): Promise<AlarmsResponse> => {
    const alarms = source();
    return {
      serverTime: now(),
      ready: alarms.ready(),
      timezone,
      alarms: alarms.list().map((a) => views.item(a)),
    };
  });

  app.get('/api/alarms/stats', async (req): Promise<AlarmStatsResponse> => {
    const alarms = source();
    const t = now();
    const { from, to } = rangeOf(validate('query', StatsQuery, req.query), t);
    let stats: ReturnType<AlarmSource['stats']>;
    try {
      stats = alarms.stats(from, to);
    } catch (err) {
      deps.log.error({ err: (err as Error).message }, 'alarm statistics could not be read from the store');
      throw new HttpError(503, 'GL_ERR_UNAVAILABLE', 'alarm statistics could not be read: the gateway log says why');
    }
    return { ...stats, serverTime: t, timezone, rateWindowMs: ALARM_RATE_WINDOW_MS };
  });

  app.get('/api/alarms/audit', async (req): Promise<AlarmAuditResponse> => {
    const q = validate('query', AuditQuery, req.query);
    const t = now();
    const { from, to } = rangeOf(q, t);
    const limit = q.limit ?? ALARM_AUDIT_DEFAULT_LIMIT;
    const rows = readAudit({
      from,
      to,
      limit: limit + 1,
      newestFirst: true,
      ...(q.alarmId === undefined ? {} : { alarmId: q.alarmId }),
    });
    return {
      serverTime: t,
      from,
      to,
      alarmId: q.alarmId ?? null,
      limit,
      truncated: rows.length > limit,
      entries: rows.slice(0, limit).map(auditEntry),
    };
  });

  // streamed like the other exports; a client that stops reading holds its download, not the store
  const open = new Set<Readable>();
  app.addHook('preClose', async () => {
    for (const s of open) s.destroy();
  });

  app.get('/api/alarms/audit.csv', { exposeHeadRoute: false }, async (req, reply: FastifyReply) => {
    const q = validate('query', AuditCsvQuery, req.query);
    const { from, to } = rangeOf(q, now());
    const trail = audit();
    // the first page is read before the first byte, so a store that cannot be read answers 503, not half a file
    const first = readAudit({ from, to, limit: CSV_PAGE_ROWS, ...(q.alarmId ? { alarmId: q.alarmId } : {}) });
    const clock = new LocalTimeFormatter(timezone);
    const short = (t: number) => {
      const iso = clock.format(t);
      return `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}`;
    };
    const filename = `greenline-alarm-audit-${siteId}-${q.alarmId ? `${q.alarmId}-` : ''}${short(from)}-${short(to)}.csv`;
    const header = [
      'seq',
      'timestamp',
      'alarm_id',
      'activation',
      'action',
      'user',
      'comment',
      'result',
      'from_state',
      'from_modes',
      'to_state',
      'to_modes',
      'value',
      'shelved_until',
    ];
    const row = (r: AlarmAuditRecord): CsvCell[] => [
      r.id,
      clock.format(r.ts, true),
      r.alarmId,
      r.activation,
      r.action,
      r.user,
      r.comment,
      r.result,
      r.from.state,
      r.from.modes.join(' '),
      r.to.state,
      r.to.modes.join(' '),
      csvValue(r.value),
      r.until === undefined ? null : clock.format(r.until, true),
    ];
    async function* chunks(): AsyncGenerator<string> {
      let out = CSV_BOM + csvRow(header);
      let page = first;
      try {
        for (;;) {
          for (const r of page) {
            out += csvRow(row(r));
            if (out.length >= CHUNK_CHARS) {
              yield out;
              out = '';
            }
          }
          if (page.length < CSV_PAGE_ROWS) break;
          await nextTurn();
          page = trail.auditTrail({
            from,
            to,
            limit: CSV_PAGE_ROWS,
            afterId: page[page.length - 1]!.id,
            ...(q.alarmId ? { alarmId: q.alarmId } : {}),
          });
        }
      } catch (err) {
        deps.log.error(
          { err: err instanceof Error ? err.message : String(err), url: req.url },
          'alarm audit export failed after it started; the client got an incomplete transfer',
        );
        throw err;
      }
      yield out;
    }
    reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', attachment(filename));
    const body = Readable.from(chunks(), { objectMode: false });
    open.add(body);
    body.once('close', () => open.delete(body));
    return reply.send(body);
  });

  app.get('/api/alarms/:id', async (req): Promise<AlarmDetailResponse> => {
    const alarms = source();
    const { id } = validate('params', IdParams, req.params);
    if (!views.has(id)) throw notFound(`no alarm "${id}" in the plant config; GET /api/alarms lists the alarms`);
    const alarm = alarms.get(id);
    if (alarm === null) throw notReady(id);
    const t = now();
    const rows =
      deps.alarmAudit === undefined
        ? []
        : readAudit({
            from: 0,
            to: Number.MAX_SAFE_INTEGER,
            alarmId: id,
            limit: ALARM_DETAIL_AUDIT_ROWS,
            newestFirst: true,
          });
    return { serverTime: t, timezone, alarm: views.item(alarm), audit: rows.map(auditEntry) };
  });

  // ---------- operator actions ----------

  type Act = (alarms: AlarmSource, id: string, user: string, body: unknown) => AlarmActionResult;

  const action = (name: string, reasonField: 'reason' | 'comment', act: Act) => {
    app.post(`/api/alarms/:id/${name}`, async (req: FastifyRequest): Promise<AlarmActionResponse> => {
      const alarms = source();
      const { id } = validate('params', IdParams, req.params);
      // the sign-in is the user: never a name from the body
      const user = requestUser(req)?.username ?? '';
      const result = act(alarms, id, user, req.body);
      if (!result.ok) {
        const status = refusalStatus(result.code);
        throw new HttpError(
          status,
          result.code,
          result.message,
          refusalIssue(result.code, reasonField, result.message),
        );
      }
      return { serverTime: now(), alarm: views.item(result.alarm), change: changeView(result.record) };
    });
  };

  action('acknowledge', 'comment', (alarms, id, user, raw) => {
    const body = validate('body', CommentBody, raw);
    return alarms.acknowledge(id, user, body?.comment ?? null);
  });
  action('shelve', 'reason', (alarms, id, user, raw) => {
    const body = validate('body', ShelveBody, raw);
    return alarms.shelve(id, user, body.reason, body.durationMinutes * 60_000);
  });
  action('unshelve', 'comment', (alarms, id, user, raw) => {
    const body = validate('body', CommentBody, raw);
    return alarms.unshelve(id, user, body?.comment ?? null);
  });
  action('reset', 'comment', (alarms, id, user, raw) => {
    const body = validate('body', CommentBody, raw);
    return alarms.reset(id, user, body?.comment ?? null);
  });
  action('out-of-service', 'reason', (alarms, id, user, raw) => {
    const body = validate('body', ReasonBody, raw);
    return alarms.removeFromService(id, user, body.reason);
  });
  action('return-to-service', 'comment', (alarms, id, user, raw) => {
    const body = validate('body', CommentBody, raw);
    return alarms.returnToService(id, user, body?.comment ?? null);
  });
}

function notReady(id: string): HttpError {
  const r = refusal('GL_ERR_ALARM_NOT_READY', id);
  return new HttpError(503, r.code, r.message);
}
