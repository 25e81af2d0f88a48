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
import { z } from 'zod';
import { ID_PATTERN } from '../../../config/schema.js';
import {
  type AlarmActionResult,
  type AlarmRefusalCode,
  AUTOMATIC_ACTIONS,
  OPERATOR_ACTIONS,
  refusal,
} from '../../core/alarms/index.js';
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
import type { RouteBook } from '../api/route-book.js';
import { instant } from '../api-routes.js';
import { requestUser } from '../auth/index.js';
import type { ApiIssue } from '../contract.js';
import { attachment, CSV_BOM, type CsvCell, csvRow, LocalTimeFormatter } from '../csv.js';
import { HttpError, notFound } from '../http-errors.js';
import type { AlarmAuditRecord, AlarmAuditSource, AlarmSource, ServerDeps } from '../ports.js';
import {
  AlarmActionResponseSchema,
  AlarmAuditResponseSchema,
  AlarmDetailResponseSchema,
  AlarmStatsResponseSchema,
  AlarmsResponseSchema,
} from '../schemas/alarm-schemas.js';
import { doc } from '../schemas/common.js';

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

const RangeQuery = () => ({
  from: doc(instant(), {
    description: 'start: ms since epoch or ISO 8601 with an offset; default 24 h before `to`',
  }).optional(),
  to: doc(instant(), { description: 'end (default now), at most 400 days after `from`' }).optional(),
});

const StatsQuery = z.strictObject(RangeQuery());

const alarmFilter = () => doc(alarmId.optional(), { description: 'only the lines of this alarm' });

const AUDIT_ACTIONS: readonly string[] = [...OPERATOR_ACTIONS, ...AUTOMATIC_ACTIONS];
export const AUDIT_SEARCH_MAX = 100;

/** the history's filters, shared by the table and its CSV */
const AuditFilters = () => ({
  alarmId: alarmFilter(),
  action: doc(
    z
      .string()
      .transform((s) => s.split(',').map((a) => a.trim()))
      .pipe(
        z
          .array(
            z.enum(AUDIT_ACTIONS as [string, ...string[]], {
              message: `must be actions separated by commas, each one of ${AUDIT_ACTIONS.join(', ')}`,
            }),
          )
          .max(AUDIT_ACTIONS.length),
      ),
    { description: `only these actions, separated by commas: ${AUDIT_ACTIONS.join(', ')}` },
  ).optional(),
  user: doc(z.string().trim().min(1, 'must not be empty').max(64, 'is longer than 64 characters'), {
    description: 'only what this user did (without case)',
  }).optional(),
  q: doc(z.string().max(AUDIT_SEARCH_MAX, `is longer than ${AUDIT_SEARCH_MAX} characters`), {
    description:
      "search: lines whose alarm id, user or comment contains this text, or whose alarm's message (English or Chinese) does; without case",
  }).optional(),
});

const AuditCsvQuery = z.strictObject({ ...RangeQuery(), ...AuditFilters() });

const AuditQuery = z.strictObject({
  ...RangeQuery(),
  ...AuditFilters(),
  limit: doc(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(
        z
          .number()
          .int()
          .min(1, 'must be at least 1')
          .max(ALARM_AUDIT_MAX_LIMIT, `must be at most ${ALARM_AUDIT_MAX_LIMIT}`),
      ),
    { description: `at most this many lines, 1–${ALARM_AUDIT_MAX_LIMIT}; default ${ALARM_AUDIT_DEFAULT_LIMIT}` },
  ).optional(),
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

export function registerAlarmRoutes(api: RouteBook, deps: ServerDeps, views: AlarmViews, now: () => number): void {
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
  /**
   * The store's filters for a history query. The store keeps no messages, so
   * a search also names the alarms whose message (either language), machine
   * or line contains the text.
   */
  const filtersOf = (q: {
    readonly alarmId?: string | undefined;
    readonly action?: readonly string[] | undefined;
    readonly user?: string | undefined;
    readonly q?: string | undefined;
  }) => {
    const text = q.q?.trim() ?? '';
    const needle = text.toLowerCase();
    const named =
      needle === '' || deps.alarms === undefined
        ? []
        : deps.alarms
            .list()
            .map((a) => views.item(a))
            .filter((a) =>
              [a.message.en, a.message['zh-Hant'], a.machineName, a.lineName].some(
                (t) => t?.toLowerCase().includes(needle) === true,
              ),
            )
            .map((a) => a.id);
    return {
      ...(q.alarmId === undefined ? {} : { alarmId: q.alarmId }),
      ...(q.action === undefined ? {} : { actions: q.action }),
      ...(q.user === undefined ? {} : { user: q.user }),
      ...(text === '' ? {} : { text, textAlarmIds: named }),
    };
  };

  const noAlarms = '`GL_ERR_UNAVAILABLE`: this gateway keeps no alarms.';
  const noAudit = '`GL_ERR_UNAVAILABLE`: no audit trail on this gateway, or it could not be read.';

  api.define({
    method: 'GET',
    url: '/api/alarms',
    tag: 'alarms',
    summary: 'Every configured alarm and its state',
    description:
      'State, modes, priority, message (`en`, `zh-Hant`), line and machine (with names), limit and unit, activation count and times; in configuration order.',
    answers: { 200: { description: 'the alarms', schema: AlarmsResponseSchema } },
    errors: { 503: noAlarms },
    handler: async (): Promise<AlarmsResponse> => {
      const alarms = source();
      return {
        serverTime: now(),
        ready: alarms.ready(),
        timezone,
        alarms: alarms.list().map((a) => views.item(a)),
      };
    },
  });

  api.define({
    method: 'GET',
    url: '/api/alarms/stats',
    tag: 'alarms',
    summary: 'Alarm system performance',
    description:
      'EEMUA 191 / ISA-18.2: alarms per 10 minutes, floods and time in flood, priority mix, bad actors, chattering and standing alarms over [from, to); default the last 24 h.',
    query: StatsQuery,
    answers: { 200: { description: 'the statistics', schema: AlarmStatsResponseSchema } },
    errors: { 503: `${noAlarms} Or the statistics could not be read from the store.` },
    handler: async ({ query }): Promise<AlarmStatsResponse> => {
      const alarms = source();
      const t = now();
      const { from, to } = rangeOf(query, t);
      let stats: ReturnType<AlarmSource['stats']>;
      try {
        stats = alarms.stats(from, to);
      } catch (err) {
        deps.log.error({ err: (err as Error).message }, 'alarm statistics could not be read from the store');
        throw new HttpError(503, 'GL_ERR_UNAVAILABLE', 'alarm statistics could not be read: the gateway log says why');
      }
      return { ...stats, serverTime: t, timezone, rateWindowMs: ALARM_RATE_WINDOW_MS };
    },
  });

  api.define({
    method: 'GET',
    url: '/api/alarms/audit',
    tag: 'alarms',
    summary: 'The alarm audit trail',
    description:
      'Newest first; default the last 24 h. `truncated` when more lines matched than `limit`: narrow the range, or download the CSV. Lines of alarms no longer configured are included.',
    query: AuditQuery,
    answers: { 200: { description: 'the audit lines', schema: AlarmAuditResponseSchema } },
    errors: { 503: noAudit },
    handler: async ({ query: q }): Promise<AlarmAuditResponse> => {
      const t = now();
      const { from, to } = rangeOf(q, t);
      const limit = q.limit ?? ALARM_AUDIT_DEFAULT_LIMIT;
      const rows = readAudit({ from, to, limit: limit + 1, newestFirst: true, ...filtersOf(q) });
      return {
        serverTime: t,
        from,
        to,
        alarmId: q.alarmId ?? null,
        actions: q.action ?? [],
        user: q.user ?? null,
        search: q.q?.trim() || null,
        limit,
        truncated: rows.length > limit,
        entries: rows.slice(0, limit).map(auditEntry),
      };
    },
  });

  // streamed like the other exports; a client that stops reading holds its download, not the store
  const open = new Set<Readable>();
  api.app.addHook('preClose', async () => {
    for (const s of open) s.destroy();
  });

  api.define({
    method: 'GET',
    url: '/api/alarms/audit.csv',
    tag: 'alarms',
    summary: 'The alarm audit trail as CSV',
    description:
      "Oldest first, streamed. The exports' conventions: UTF-8 with a BOM, CRLF, RFC 4180 quoting, formula-safe text, times with the site's offset. Columns: `seq`, `timestamp`, `alarm_id`, `activation`, `action`, `user`, `comment`, `result`, `from_state`, `from_modes`, `to_state`, `to_modes`, `value`, `shelved_until`.",
    query: AuditCsvQuery,
    answers: {
      200: {
        description: 'the file (`content-disposition: attachment`)',
        contentType: 'text/csv; charset=utf-8',
        example:
          '\uFEFFseq,timestamp,alarm_id,activation,action,user,comment,result,from_state,from_modes,to_state,to_modes,value,shelved_until\r\n',
      },
    },
    errors: { 503: noAudit },
    exposeHeadRoute: false,
    handler: async ({ query: q }, req, reply) => {
      const { from, to } = rangeOf(q, now());
      const trail = audit();
      // the first page is read before the first byte, so a store that cannot be read answers 503, not half a file
      const filters = filtersOf(q);
      const first = readAudit({ from, to, limit: CSV_PAGE_ROWS, ...filters });
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
              ...filters,
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
    },
  });

  api.define({
    method: 'GET',
    url: '/api/alarms/:id',
    tag: 'alarms',
    summary: 'One alarm and its latest audit lines',
    description: `The alarm and its latest ${ALARM_DETAIL_AUDIT_ROWS} audit lines, newest first. (An alarm id \`stats\` or \`audit\` is reachable through the list only.)`,
    params: IdParams,
    answers: { 200: { description: 'the alarm', schema: AlarmDetailResponseSchema } },
    errors: {
      404: '`GL_ERR_NOT_FOUND`: no such alarm in the plant config.',
      503: `${noAlarms} \`GL_ERR_ALARM_NOT_READY\`: the alarms are still restored after a start.`,
    },
    handler: async ({ params: { id } }): Promise<AlarmDetailResponse> => {
      const alarms = source();
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
    },
  });

  // ---------- operator actions ----------

  const refusals = {
    400: '`GL_ERR_ALARM_REASON_REQUIRED`, `GL_ERR_ALARM_COMMENT_TOO_LONG`, `GL_ERR_ALARM_SHELVE_DURATION`, with the field in `issues`.',
    404: '`GL_ERR_ALARM_UNKNOWN`: no such alarm.',
    409: "The alarm's state refuses the action: `GL_ERR_ALARM_ALREADY_ACKNOWLEDGED`, `…_NOTHING_TO_ACKNOWLEDGE`, `…_NOT_LATCHING`, `…_NOTHING_TO_RESET`, `…_STILL_ACTIVE`, `…_NOT_ACKNOWLEDGED`, `…_ALREADY_SHELVED`, `…_NOT_SHELVED`, `…_OUT_OF_SERVICE`, `…_ALREADY_OUT_OF_SERVICE`, `…_NOT_OUT_OF_SERVICE`.",
    503: `${noAlarms} \`GL_ERR_ALARM_NOT_READY\` (still restored after a start), \`GL_ERR_ALARM_STORE\` (the action could not be recorded, so it was not taken).`,
  } as const;

  const action = <B extends z.ZodType>(
    name: string,
    summary: string,
    reasonField: 'reason' | 'comment',
    body: B,
    act: (alarms: AlarmSource, id: string, user: string, body: z.output<B>) => AlarmActionResult,
  ) => {
    api.define({
      method: 'POST',
      url: `/api/alarms/:id/${name}`,
      tag: 'alarms',
      summary,
      description:
        'Taken in the name of the signed-in user, never a name from the body (a body with a `user` field is refused). Refused attempts are kept in the audit trail too.',
      params: IdParams,
      body,
      answers: { 200: { description: 'the action was taken', schema: AlarmActionResponseSchema } },
      errors: refusals,
      handler: async ({ params: { id }, body }, req): Promise<AlarmActionResponse> => {
        const alarms = source();
        // the sign-in is the user: never a name from the body
        const user = requestUser(req)?.username ?? '';
        const result = act(alarms, id, user, body as z.output<B>);
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
      },
    });
  };

  action('acknowledge', 'Acknowledge an alarm', 'comment', CommentBody, (alarms, id, user, body) =>
    alarms.acknowledge(id, user, body?.comment ?? null),
  );
  action('shelve', 'Shelve an alarm for a while', 'reason', ShelveBody, (alarms, id, user, body) =>
    alarms.shelve(id, user, body.reason, body.durationMinutes * 60_000),
  );
  action('unshelve', 'Unshelve an alarm', 'comment', CommentBody, (alarms, id, user, body) =>
    alarms.unshelve(id, user, body?.comment ?? null),
  );
  action('reset', 'Reset a latched alarm', 'comment', CommentBody, (alarms, id, user, body) =>
    alarms.reset(id, user, body?.comment ?? null),
  );
  action('out-of-service', 'Take an alarm out of service', 'reason', ReasonBody, (alarms, id, user, body) =>
    alarms.removeFromService(id, user, body.reason),
  );
  action('return-to-service', 'Return an alarm to service', 'comment', CommentBody, (alarms, id, user, body) =>
    alarms.returnToService(id, user, body?.comment ?? null),
  );
}

function notReady(id: string): HttpError {
  const r = refusal('GL_ERR_ALARM_NOT_READY', id);
  return new HttpError(503, r.code, r.message);
}
