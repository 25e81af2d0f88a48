/**
 * CSV exports: energy and carbon by site-local period, for energy managers
 * and their auditors, and tag history (raw samples or minute rollups).
 *
 * Streamed: rows are written as the store hands them over, page by page, and
 * the next page is read only once the client has taken the previous ones
 * (the reply's backpressure), so a year of data never sits in memory. Every
 * query field is checked before the first byte: after it, a failure can only
 * cut the response short (the client sees an incomplete transfer, never a
 * file that looks whole).
 *
 * They need the `export` capability (`ROUTE_ACCESS`).
 */
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ID_PATTERN } from '../../config/schema.js';
import { ceilMinute, dayNumberOf, floorMinute, instantOf } from '../core/index.js';
import type { RouteBook } from './api/route-book.js';
import type { ApiIssue } from './contract.js';
import { attachment, CSV_BOM, type CsvCell, csvRow, LocalTimeFormatter } from './csv.js';
import { EnergyExporter, type EnergyExportRequest } from './energy-export.js';
import { HttpError, notFound } from './http-errors.js';
import type { PlantIndex } from './plant-index.js';
import type { ExportSource, ServerDeps } from './ports.js';
import { doc } from './schemas/common.js';

/** the longest range one export may span: a reporting year with room on both sides */
export const EXPORT_MAX_RANGE_DAYS = 400;
export const EXPORT_MAX_TAGS = 100;
const DAY_MS = 86_400_000;
/** text gathered before it is handed to the reply */
const CHUNK_CHARS = 64 * 1024;
/** work done between two turns of the event loop at most, ms */
const SLICE_MS = 10;

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_HINT =
  'must be a site-local date YYYY-MM-DD, ms since epoch or an ISO 8601 date-time with an offset, e.g. 2025-03-01T08:00:00+08:00';

const required = (what: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? `is required: ${what}` : Array.isArray(iss.input) ? 'must be given once' : what;

/**
 * A time field. A bare date is site-local: as `from` the start of that day,
 * as `to` its end (the start of the next day), so `from=2025-01-01&to=2025-12-31`
 * is the whole year.
 */
function timeField(timeZone: string, edge: 'from' | 'to') {
  const field = z.string({ error: required(TIME_HINT) }).transform((text, ctx) => {
    const s = text.trim();
    if (/^\d{1,16}$/.test(s)) return Number(s);
    const date = DATE.exec(s);
    if (date !== null) {
      const day = dayNumberOf(s);
      // 2025-02-30 is not a date: the day number must come back as the same text
      if (new Date(day * DAY_MS).toISOString().slice(0, 10) === s) {
        return instantOf(edge === 'from' ? day : day + 1, 0, timeZone);
      }
    } else if (ISO_WITH_OFFSET.test(s)) {
      const ms = Date.parse(s);
      if (!Number.isNaN(ms)) return ms;
    }
    ctx.addIssue({ code: 'custom', message: TIME_HINT });
    return z.NEVER;
  });
  return doc(field, {
    description:
      edge === 'from'
        ? 'start (included): a site-local date YYYY-MM-DD (its start), ms since epoch or ISO 8601 with an offset; in the past'
        : 'end (excluded): a site-local date YYYY-MM-DD (its end, so the day is included), ms since epoch or ISO 8601 with an offset; at most 400 days after `from`',
    example: edge === 'from' ? '2025-01-01' : '2025-12-31',
  });
}

const idField = (what: string) =>
  z
    .string({ error: (iss) => (Array.isArray(iss.input) ? 'must be given once' : `must be a ${what} id`) })
    .regex(ID_PATTERN, `is not a ${what} id: letters, digits, ".", "_" and "-", starting with a letter`);

function badRequest(issues: ApiIssue[]): HttpError {
  const first = issues[0]!;
  const message =
    issues.length === 1 ? `invalid ${first.path}: ${first.message}` : `invalid query: ${issues.length} problems`;
  return new HttpError(400, 'GL_ERR_BAD_REQUEST', message, issues);
}

/** the checks of a range both exports share; problems are added to `issues` */
function checkRange(from: number, to: number, now: number, issues: ApiIssue[]): void {
  if (to <= from) issues.push({ path: 'query.to', message: 'must be after from' });
  else if (to - from > EXPORT_MAX_RANGE_DAYS * DAY_MS) {
    issues.push({ path: 'query.to', message: `the range may span at most ${EXPORT_MAX_RANGE_DAYS} days` });
  }
  if (from >= now) issues.push({ path: 'query.from', message: 'must be in the past' });
}

/** gives the event loop a turn once `SLICE_MS` of work has passed since the last one */
function pacer(): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    const t = performance.now();
    if (t - last < SLICE_MS) return undefined;
    last = t;
    return nextTurn();
  };
}

/**
 * The text of a file: BOM and header first, then the rows, handed over in
 * chunks of about CHUNK_CHARS; a chunk is produced only when the reply asks
 * for more.
 */
async function* csvChunks(
  header: readonly string[],
  rows: AsyncIterable<readonly CsvCell[]>,
  onError: (err: unknown) => void,
): AsyncGenerator<string> {
  let text = CSV_BOM + csvRow(header);
  try {
    for await (const row of rows) {
      text += csvRow(row);
      if (text.length >= CHUNK_CHARS) {
        yield text;
        text = '';
      }
    }
  } catch (err) {
    onError(err);
    throw err;
  }
  yield text;
}

export function registerExportRoutes(api: RouteBook, deps: ServerDeps, index: PlantIndex, now: () => number): void {
  const timeZone = deps.config.site.timezone;
  const siteId = deps.config.site.id;
  const exporter = new EnergyExporter(deps.config);
  const lineIds = deps.config.lines.map((l) => l.id);
  const lineOfMachine = new Map<string, string>();
  for (const l of deps.config.lines) for (const m of l.machines) lineOfMachine.set(m.id, l.id);

  const source = (): ExportSource => {
    if (deps.exports === undefined) {
      throw new HttpError(503, 'GL_ERR_UNAVAILABLE', 'exports read the store, which this gateway runs without');
    }
    return deps.exports;
  };

  const EnergyQuery = z.strictObject({
    from: timeField(timeZone, 'from'),
    to: timeField(timeZone, 'to'),
    period: doc(z.enum(['hour', 'day', 'month'], { error: required('hour, day or month') }), {
      description: "one row per entity and site-local period (the site's time zone)",
    }),
    level: doc(z.enum(['site', 'line', 'machine'], { error: required('site, line or machine') }), {
      description:
        '`site`: one row, the sum of its lines; `line`: every line (or `line=`); `machine`: every machine (or those of `line=`, or `machine=`)',
    }),
    line: doc(idField('line').optional(), { description: 'one line (with level `line` or `machine`)' }),
    machine: doc(idField('machine').optional(), { description: 'one machine (with level `machine`)' }),
  });

  const TagsQuery = z.strictObject({
    tags: doc(
      z
        .string({ error: required('tag ids separated by commas') })
        .transform((text) => [
          ...new Set(
            text
              .split(',')
              .map((t) => t.trim())
              .filter((t) => t !== ''),
          ),
        ])
        .pipe(
          z
            .array(
              z
                .string()
                .regex(ID_PATTERN, 'is not a tag id: letters, digits, ".", "_" and "-", starting with a letter'),
            )
            .min(1, 'list at least one tag id, separated by commas')
            .max(EXPORT_MAX_TAGS, `lists more than ${EXPORT_MAX_TAGS} tags: export them in several files`),
        ),
      { description: `up to ${EXPORT_MAX_TAGS} tag ids, separated by commas`, example: 'line_kwh,m1_total' },
    ),
    from: timeField(timeZone, 'from'),
    to: timeField(timeZone, 'to'),
    resolution: doc(z.enum(['raw', '1m'], { error: required('raw or 1m') }), {
      description: '`raw`: every stored sample; `1m`: minute rollups (min, max, avg, last, counts)',
    }),
  });

  const clock = new LocalTimeFormatter(timeZone);
  /** `2025-03-01-2025-03-31` when the range is whole site-local days, else `2025-03-01T0800-2025-03-01T1600` */
  const rangeName = (from: number, to: number) => {
    const f = clock.format(from);
    const t = clock.format(to);
    if (f.slice(11, 19) === '00:00:00' && t.slice(11, 19) === '00:00:00') {
      return `${f.slice(0, 10)}-${clock.format(to - 1).slice(0, 10)}`;
    }
    const short = (iso: string) => `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}`;
    return `${short(f)}-${short(t)}`;
  };

  // a client that stops reading holds its export open: closing the server cuts them short rather than wait
  const open = new Set<Readable>();
  api.app.addHook('preClose', async () => {
    for (const s of open) s.destroy();
  });

  const stream = (
    reply: FastifyReply,
    filename: string,
    header: readonly string[],
    rows: AsyncIterable<readonly CsvCell[]>,
    url: string,
  ) => {
    const onError = (err: unknown) =>
      deps.log.error(
        { err: err instanceof Error ? err.message : String(err), url },
        'export failed after it started; the client got an incomplete transfer',
      );
    reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', attachment(filename));
    const body = Readable.from(csvChunks(header, rows, onError), { objectMode: false });
    open.add(body);
    body.once('close', () => open.delete(body));
    return reply.send(body);
  };

  const unavailable = '`GL_ERR_UNAVAILABLE`: exports read the store, which this gateway runs without.';
  const csvNote =
    "UTF-8 with a byte order mark, CRLF, comma-separated, RFC 4180 quoting; numbers with a dot and never an exponent; times ISO 8601 with the site's offset; text that a spreadsheet would run as a formula gets a leading apostrophe. Streamed: once the first byte is out, a failure can only cut the transfer.";

  // no HEAD: fastify would read the whole export only to throw it away
  api.define({
    method: 'GET',
    url: '/api/export/energy.csv',
    tag: 'exports',
    summary: 'Energy and carbon by site-local period (CSV)',
    description: `One row per entity and period, periods oldest first, entities in config order: kWh and its basis, units produced, kWh per unit, and per carbon method (location, market) the factor in force, its source and year, kg and t CO2e and kg CO2e per unit. Figures come from the persisted minute rollups and equal \`GET /api/metrics/:type/:id?from=&to=\` for the same range. ${csvNote}`,
    query: EnergyQuery,
    answers: {
      200: {
        description: 'the file (`content-disposition: attachment; filename="greenline-energy-<site>-<from>-<to>.csv"`)',
        contentType: 'text/csv; charset=utf-8',
      },
    },
    errors: {
      404: '`GL_ERR_NOT_FOUND`: no such line or machine in the plant config.',
      503: unavailable,
    },
    exposeHeadRoute: false,
    handler: async ({ query: q }, req, reply) => {
      const store = source();
      const t = now();
      const issues: ApiIssue[] = [];
      checkRange(q.from, q.to, t, issues);
      if (q.level === 'site') {
        if (q.line !== undefined) issues.push({ path: 'query.line', message: 'is not used with level=site' });
        if (q.machine !== undefined) issues.push({ path: 'query.machine', message: 'is not used with level=site' });
      } else if (q.level === 'line' && q.machine !== undefined) {
        issues.push({ path: 'query.machine', message: 'is not used with level=line; use level=machine' });
      }
      if (q.line !== undefined && q.machine !== undefined) {
        const on = lineOfMachine.get(q.machine);
        if (on !== undefined && lineIds.includes(q.line) && on !== q.line) {
          issues.push({ path: 'query.machine', message: `is not on line "${q.line}" (it is on "${on}")` });
        }
      }
      if (issues.length > 0) throw badRequest(issues);
      if (q.line !== undefined && !lineIds.includes(q.line)) {
        throw notFound(`no line "${q.line}" in the plant config; GET /api/plant lists the lines`);
      }
      if (q.machine !== undefined && !lineOfMachine.has(q.machine)) {
        throw notFound(`no machine "${q.machine}" in the plant config; GET /api/plant lists the machines`);
      }

      const from = floorMinute(q.from);
      // minutes are persisted once closed: nothing lies beyond now
      const to = Math.min(ceilMinute(q.to), ceilMinute(t));
      const lines = q.line !== undefined ? [q.line] : lineIds;
      const machines = deps.config.lines
        .filter((l) => lines.includes(l.id))
        .flatMap((l) => l.machines.map((m) => m.id))
        .filter((id) => q.machine === undefined || id === q.machine);
      const request: EnergyExportRequest = {
        from,
        to,
        period: q.period,
        level: q.level,
        lineIds: q.level === 'machine' ? [...new Set(machines.map((id) => lineOfMachine.get(id)!))] : lines,
        machineIds: q.level === 'machine' ? machines : [],
      };
      return stream(
        reply,
        `greenline-energy-${siteId}-${rangeName(q.from, q.to)}.csv`,
        exporter.header(request),
        exporter.rows(store, request, pacer()),
        req.url,
      );
    },
  });

  api.define({
    method: 'GET',
    url: '/api/export/tags.csv',
    tag: 'exports',
    summary: 'Raw samples or minute rollups of tags (CSV)',
    description: `Rows of all tags merged in time order, ties by tag id. \`raw\`: \`timestamp\`, \`tag\`, \`value\`, \`quality\`, \`reason\`; \`1m\`: \`minute_start\`, \`tag\`, \`min\`, \`max\`, \`avg\`, \`last\`, \`count\`, \`good_count\`. ${csvNote}`,
    query: TagsQuery,
    answers: {
      200: {
        description: 'the file (`content-disposition: attachment; filename="greenline-tags-<site>-<from>-<to>.csv"`)',
        contentType: 'text/csv; charset=utf-8',
      },
    },
    errors: { 404: '`GL_ERR_NOT_FOUND`: a tag that is not in the plant config.', 503: unavailable },
    exposeHeadRoute: false,
    handler: async ({ query: q }, req, reply) => {
      const store = source();
      const issues: ApiIssue[] = [];
      checkRange(q.from, q.to, now(), issues);
      if (issues.length > 0) throw badRequest(issues);
      const unknown = q.tags.filter((id) => !index.tags.has(id));
      if (unknown.length > 0) {
        throw notFound(
          `no tag ${unknown.map((id) => `"${id}"`).join(', ')} in the plant config; GET /api/plant lists the tags`,
        );
      }
      const filename = `greenline-tags-${siteId}-${rangeName(q.from, q.to)}.csv`;
      const rowsClock = new LocalTimeFormatter(timeZone);
      const pause = pacer();
      // [from, to): the store's ranges are inclusive
      const last = Math.ceil(q.to) - 1;
      if (q.resolution === 'raw') {
        async function* raw(): AsyncGenerator<CsvCell[]> {
          for (const page of store.rawSamplePages(q.tags, q.from, last)) {
            for (const r of page) yield [rowsClock.format(r.ts, true), r.tagId, r.value, r.quality, r.reason ?? null];
            await pause();
          }
        }
        return stream(reply, filename, ['timestamp', 'tag', 'value', 'quality', 'reason'], raw(), req.url);
      }
      async function* minutes(): AsyncGenerator<CsvCell[]> {
        for (const page of store.rollupPages(q.tags, q.from, last)) {
          for (const r of page) {
            yield [rowsClock.format(r.minuteTs), r.tagId, r.min, r.max, r.avg, r.last, r.count, r.goodCount];
          }
          await pause();
        }
      }
      return stream(
        reply,
        filename,
        ['minute_start', 'tag', 'min', 'max', 'avg', 'last', 'count', 'good_count'],
        minutes(),
        req.url,
      );
    },
  });
}
