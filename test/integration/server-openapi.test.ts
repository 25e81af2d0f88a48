/**
 * The API's definitions against what the server does: the OpenAPI document
 * at /api/docs covers every registered route with its parameters, answers,
 * errors and access; real answers of the real server (store, metrics,
 * alarms, sign-in) fit the document's closed schemas; an answer that breaks
 * its schema is never sent; and the README's route table says what the
 * document says.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { PlantConfig } from '../../config/schema.js';
import { RESPONSE_INVALID_MESSAGE } from '../../gateway/server/api/route-book.js';
import type { ApiError, HealthReport, LiveResponse, LiveValue } from '../../gateway/server/contract.js';
import { MemoryLiveSource } from '../../gateway/server/memory-live-source.js';
import type { HistoryPoint, ServerDeps } from '../../gateway/server/ports.js';
import { HistoryResponseSchema, LiveResponseSchema } from '../../gateway/server/schemas/live-schemas.js';
import { createServer } from '../../gateway/server/server.js';
import type { AuthRig, Credential } from './peers/auth-rig.js';
import { RIG_ALARM, ROLE_USERS, startAuthRig } from './peers/auth-rig.js';

type Json = Record<string, unknown>;

interface Operation {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly 'x-greenline-access': string;
  readonly security: readonly Record<string, unknown[]>[];
  readonly parameters?: readonly { name: string; in: string; required: boolean; schema: Json }[];
  readonly requestBody?: { required: boolean; content: Record<string, { schema: Json }> };
  readonly responses: Record<string, { description: string; content?: Record<string, { schema: Json }> }>;
}

interface Document {
  readonly openapi: string;
  readonly info: { title: string; version: string; description: string };
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** `/api/tags/:id/history` → `/api/tags/{id}/history` */
const template = (url: string) => url.replace(/:(\w+)/g, '{$1}');

/** the schema a `$ref` names */
function resolve(doc: Document, schema: Json): Json {
  let s = schema;
  while (typeof s.$ref === 'string') {
    const name = s.$ref.replace('#/components/schemas/', '');
    const found = doc.components.schemas[name];
    if (found === undefined) throw new Error(`unresolved ${s.$ref}`);
    s = found;
  }
  return s;
}

/**
 * A value against a JSON Schema of the document: the keywords the gateway's
 * schemas use (type, enum, const, properties, required, additionalProperties,
 * items, anyOf, oneOf, $ref). Returns every problem with its path.
 */
function conform(doc: Document, schema: Json, value: unknown, path = '$'): string[] {
  const s = resolve(doc, schema);
  const problems: string[] = [];
  const typeOf = (v: unknown) =>
    v === null
      ? 'null'
      : Array.isArray(v)
        ? 'array'
        : typeof v === 'number'
          ? Number.isInteger(v)
            ? 'integer'
            : 'number'
          : typeof v;
  if (s.anyOf || s.oneOf) {
    const options = (s.anyOf ?? s.oneOf) as Json[];
    if (!options.some((o) => conform(doc, o, value, path).length === 0)) problems.push(`${path}: fits no option`);
    return problems;
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) {
      return [`${path}: ${t}, expected ${types.join(' or ')}`];
    }
  }
  if (s.enum !== undefined && !(s.enum as unknown[]).includes(value)) problems.push(`${path}: not in enum`);
  if (s.const !== undefined && s.const !== value) problems.push(`${path}: not ${String(s.const)}`);
  if (Array.isArray(value) && s.items) {
    value.forEach((item, i) => problems.push(...conform(doc, s.items as Json, item, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Json;
    const props = (s.properties ?? {}) as Record<string, Json>;
    for (const key of (s.required ?? []) as string[]) if (!(key in obj)) problems.push(`${path}.${key}: missing`);
    for (const [key, v] of Object.entries(obj)) {
      if (props[key] !== undefined) problems.push(...conform(doc, props[key], v, `${path}.${key}`));
      else if (s.additionalProperties === false) problems.push(`${path}.${key}: not in the schema`);
      else if (typeof s.additionalProperties === 'object') {
        problems.push(...conform(doc, s.additionalProperties as Json, v, `${path}.${key}`));
      }
    }
  }
  return problems;
}

/** every object schema reachable from `schema` that has properties: is it closed? */
function openObjects(doc: Document, schema: Json, seen = new Set<Json>(), path = '$'): string[] {
  const s = resolve(doc, schema);
  if (seen.has(s)) return [];
  seen.add(s);
  const out: string[] = [];
  if (s.properties !== undefined && s.additionalProperties !== false) out.push(path);
  for (const [key, sub] of Object.entries((s.properties ?? {}) as Record<string, Json>)) {
    out.push(...openObjects(doc, sub, seen, `${path}.${key}`));
  }
  if (s.items) out.push(...openObjects(doc, s.items as Json, seen, `${path}[]`));
  if (typeof s.additionalProperties === 'object') {
    out.push(...openObjects(doc, s.additionalProperties as Json, seen, `${path}{}`));
  }
  for (const sub of [...((s.anyOf ?? []) as Json[]), ...((s.oneOf ?? []) as Json[])]) {
    out.push(...openObjects(doc, sub, seen, path));
  }
  return out;
}

/** objects of a zod schema that let unknown fields pass (strip or keep them) instead of refusing them */
function looseObjects(schema: z.ZodType, path = '$', seen = new Set<z.ZodType>()): string[] {
  if (seen.has(schema)) return [];
  seen.add(schema);
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const inner = (key: string, at = path) => looseObjects(def[key] as z.ZodType, at, seen);
  switch (def.type) {
    case 'object': {
      const catchall = def.catchall as z.ZodType | undefined;
      const own = catchall?._zod.def.type === 'never' ? [] : [path];
      const shape = def.shape as Record<string, z.ZodType>;
      return [...own, ...Object.entries(shape).flatMap(([k, v]) => looseObjects(v, `${path}.${k}`, seen))];
    }
    case 'array':
      return inner('element', `${path}[]`);
    case 'record':
      return inner('valueType', `${path}{}`);
    case 'optional':
    case 'nullable':
      return inner('innerType');
    case 'union':
      return (def.options as z.ZodType[]).flatMap((o) => looseObjects(o, path, seen));
    default:
      return [];
  }
}

function eachRef(value: unknown, visit: (ref: string) => void): void {
  if (Array.isArray(value)) for (const v of value) eachRef(v, visit);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') visit(v);
      else eachRef(v, visit);
    }
  }
}

interface Row {
  readonly method: string;
  readonly url: string;
  readonly query: readonly string[];
  readonly access: string;
  readonly answer: string;
}

/** the rows of the REST table: `| \`GET /api/x?a=&b=\`, \`…/y\` | access | answer |` */
function rows(): Row[] {
  const readme = readFileSync(new URL('../../gateway/server/README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('| route | access | answer |'));
  const out: Row[] = [];
  for (const line of table.split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [, routeCell, accessCell, answer] = line.split(/\s*\|\s*/);
    const routes = [...routeCell!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const [method, first] = routes[0]!.split(' ') as [string, string];
    const [firstPath, firstQuery = ''] = first.split('?');
    for (const r of routes) {
      const [path, query = ''] = r.startsWith('…/')
        ? [firstPath!.replace(/\/[^/]+$/, r.slice(1)), '']
        : r.split(' ')[1]!.split('?');
      out.push({
        method,
        url: path!,
        query: [...(r === routes[0] ? firstQuery : query).matchAll(/(\w+)=/g)].map((m) => m[1]!),
        access: accessCell!,
        answer: answer!,
      });
    }
  }
  return out;
}

describe('the OpenAPI document and the answers of a real server', () => {
  let rig: AuthRig;
  let doc: Document;
  let admin: Credential;
  const now = Date.now();

  beforeAll(async () => {
    rig = await startAuthRig();
    admin = { cookie: await rig.login(ROLE_USERS.admin) };
    // something to answer with: stored samples, live values, an alarm that went off and was acknowledged
    rig.store.writer.write(
      Array.from({ length: 30 }, (_, i) => ({
        tagId: 'm1_total',
        ts: now - (30 - i) * 60_000,
        value: i * 10,
        quality: 'good' as const,
      })),
    );
    while (rig.store.writer.pendingRows > 0) if (!rig.store.writer.flushOne()) throw new Error('store refused');
    rig.live.push([
      { tagId: 'm1_state', value: 1, quality: 'good', ts: now, receivedAt: now },
      { tagId: 'line_kwh', value: 12.5, quality: 'uncertain', ts: now, receivedAt: now, reason: 'meter warming up' },
      { tagId: 'derived_oee', value: 0.8, quality: 'good', ts: now, receivedAt: now },
    ]);
    rig.alarms.onSamples([{ tagId: 'line_kwh', ts: now, value: 2_000_000, quality: 'good' }]);
    rig.alarms.acknowledge(RIG_ALARM, ROLE_USERS.operator, 'seen');
    const res = await rig.call('/api/docs', { credential: { cookie: await rig.login(ROLE_USERS.viewer) } });
    expect(res.status).toBe(200);
    doc = (await res.json()) as Document;
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('serves an OpenAPI 3.1 document to readers, not to anonymous callers', async () => {
    expect((await rig.call('/api/docs')).status).toBe(401);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('greenline gateway API');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.info.description).toContain('x-greenline-access');
    expect(doc.components.securitySchemes).toEqual({
      sessionCookie: expect.objectContaining({ type: 'apiKey', in: 'cookie', name: 'greenline_session' }),
      bearerToken: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
  });

  it('is structurally sound: methods, operation ids, parameters, responses and every $ref', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      expect(path, path).toMatch(/^\/[A-Za-z0-9/._{}-]*$/);
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(METHODS, where).toContain(method);
        expect(op.operationId, where).toMatch(/^[a-z][A-Za-z0-9]+$/);
        expect(ids.has(op.operationId), `${where}: operationId ${op.operationId} twice`).toBe(false);
        ids.add(op.operationId);
        expect(op.summary, where).not.toBe('');
        const params = op.parameters ?? [];
        for (const p of params) {
          expect(['path', 'query'], where).toContain(p.in);
          expect(p.schema, `${where} ${p.name}`).toBeTypeOf('object');
          if (p.in === 'path') expect(p.required, `${where} ${p.name}`).toBe(true);
        }
        expect(new Set(params.map((p) => `${p.in} ${p.name}`)).size, `${where}: a parameter twice`).toBe(params.length);
        // the path's {names} are exactly its path parameters
        expect(
          params.filter((p) => p.in === 'path').map((p) => p.name),
          where,
        ).toEqual(inPath);
        for (const requirement of op.security) {
          for (const scheme of Object.keys(requirement)) {
            expect(doc.components.securitySchemes[scheme], `${where}: ${scheme}`).toBeDefined();
          }
        }
        expect(Object.keys(op.responses).length, where).toBeGreaterThan(0);
        for (const [status, r] of Object.entries(op.responses)) {
          expect(status, where).toMatch(/^[1-5]\d\d$/);
          expect(r.description, `${where} ${status}`).not.toBe('');
        }
      }
    }
    eachRef(doc, (ref) => {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
    });
  });

  it('lists every registered route with its access, a success answer and the errors its input and access bring', () => {
    const registered = rig.server
      .routes()
      // HEAD answers as GET; `GET /*` is the dashboard's files, not the API
      .filter((r) => r.method !== 'HEAD' && r.url !== '/*');
    expect(registered.length).toBeGreaterThan(30);
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    for (const route of registered) {
      const key = `${route.method} ${template(route.url)}`;
      expect(documented.has(key), `${key} is not in the document`).toBe(true);
      documented.delete(key);
      const op = doc.paths[template(route.url)]![route.method.toLowerCase()]!;
      // fastify's `:params` are the operation's path parameters, in order
      expect(
        (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        key,
      ).toEqual([...route.url.matchAll(/:(\w+)/g)].map((m) => m[1]));
      expect(op['x-greenline-access'], key).toBe(route.access);
      expect(op.description, key).toContain('Access:');
      const statuses = Object.keys(op.responses).map(Number);
      const success = route.url === '/api/live/ws' ? [101] : statuses.filter((s) => s >= 200 && s < 300);
      expect(success.length, `${key}: no success answer`).toBeGreaterThan(0);
      expect(statuses, key).toContain(500);
      if ((op.parameters ?? []).length > 0 || op.requestBody) expect(statuses, `${key}: no 400`).toContain(400);
      if (route.access === 'public') expect(op.security, key).toEqual([]);
      else {
        expect(statuses, `${key}: no 401`).toContain(401);
        expect(op.security.length, key).toBeGreaterThan(0);
      }
      if (route.access !== 'public' && route.access !== 'signed-in') expect(statuses, `${key}: no 403`).toContain(403);
      if (route.method !== 'GET') expect(statuses, `${key}: no 415`).toContain(415);
      for (const status of statuses.filter((s) => s >= 400)) {
        expect(op.responses[status]!.content?.['application/json']?.schema, `${key} ${status}`).toEqual({
          $ref: '#/components/schemas/ApiError',
        });
      }
    }
    // and nothing is documented that the server does not have
    expect([...documented]).toEqual([]);
    // tokens never manage users nor act on one's own account
    expect(doc.paths['/api/users']!.get!.security).toEqual([{ sessionCookie: [] }]);
    expect(doc.paths['/api/tokens']!.post!.security).toEqual([{ sessionCookie: [] }]);
    expect(doc.paths['/api/plant']!.get!.security).toEqual([{ sessionCookie: [] }, { bearerToken: [] }]);
  });

  it('describes non-JSON answers by their media type', () => {
    const csv = doc.paths['/api/export/energy.csv']!.get!.responses['200']!;
    expect(Object.keys(csv.content!)).toEqual(['text/csv; charset=utf-8']);
    const prometheus = doc.paths['/metrics']!.get!.responses['200']!;
    expect(Object.keys(prometheus.content!)).toEqual(['text/plain; version=0.0.4; charset=utf-8']);
    const ws = doc.paths['/api/live/ws']!.get!;
    expect(ws.responses['101']!.content).toBeUndefined();
    expect(Object.keys(ws.responses)).toContain('426');
    // a query time is sent as text: the request schemas are the input side
    const history = doc.paths['/api/tags/{id}/history']!.get!;
    expect(history.parameters!.find((p) => p.name === 'from')!.schema).toEqual({ type: 'string' });
    expect(doc.paths['/api/alarms/{id}/acknowledge']!.post!.requestBody!.required).toBe(false);
    expect(doc.paths['/api/alarms/{id}/shelve']!.post!.requestBody!.required).toBe(true);
  });

  /** a path to call for each GET route with a JSON answer */
  const SAMPLE_PATHS: Record<string, string> = {
    '/api/health': '/api/health',
    '/api/docs': '/api/docs',
    '/api/plant': '/api/plant',
    '/api/live': '/api/live',
    '/api/tags/:id/history': `/api/tags/m1_total/history?from=${now - 3_600_000}&to=${now + 1}`,
    '/api/metrics': '/api/metrics?window=today',
    '/api/metrics/line/:id/baseline': '/api/metrics/line/L1/baseline',
    '/api/metrics/:type/:id': '/api/metrics/machine/M1',
    '/api/metrics/:type/:id/series': '/api/metrics/line/L1/series?window=hour',
    '/api/alarms': '/api/alarms',
    '/api/alarms/stats': '/api/alarms/stats',
    '/api/alarms/audit': '/api/alarms/audit',
    '/api/alarms/:id': `/api/alarms/${RIG_ALARM}`,
    '/api/login': '/api/login',
    '/api/me': '/api/me',
    '/api/users': '/api/users',
    '/api/tokens': '/api/tokens',
  };

  it('answers every JSON GET route with a body that fits its closed, documented schema', async () => {
    const jsonGets = rig.server
      .apiRoutes()
      .filter((r) => r.method === 'GET' && r.answers[200] !== undefined && 'schema' in r.answers[200]);
    expect(jsonGets.map((r) => r.url).sort()).toEqual(Object.keys(SAMPLE_PATHS).sort());
    for (const route of jsonGets) {
      const res = await rig.call(SAMPLE_PATHS[route.url]!, { credential: admin });
      const body = (await res.json()) as unknown;
      expect(res.status, `${route.url}: ${JSON.stringify(body)}`).toBe(200);
      // the zod schema takes the body as it is: nothing was left out on the way
      const spec = route.answers[200]!;
      if (!('schema' in spec)) throw new Error('not JSON');
      const parsed = spec.schema.safeParse(body);
      expect(parsed.success, route.url).toBe(true);
      expect(parsed.data, route.url).toEqual(body);
      // and the document's JSON Schema takes it, and is closed where the contract is
      const schema = doc.paths[template(route.url)]!.get!.responses['200']!.content!['application/json']!.schema;
      expect(conform(doc, schema, body), route.url).toEqual([]);
      // closed where the server builds the answer; the health report's own objects are open (but its liveHub)
      const open = openObjects(doc, schema);
      if (route.url === '/api/health')
        expect(
          open.filter((p) => p.startsWith('$.liveHub')),
          route.url,
        ).toEqual([]);
      else if (route.url !== '/api/docs') expect(open, route.url).toEqual([]);
    }
  });

  it('refuses a field beyond the contract in every object the server builds; only the health report is open', () => {
    for (const route of rig.server.apiRoutes()) {
      for (const [status, spec] of Object.entries(route.answers)) {
        if (!('schema' in spec) || route.url === '/api/docs') continue;
        const loose = looseObjects(spec.schema);
        if (route.url === '/api/health') {
          // what drivers, store, sinks and services report: open, and what they add is left out
          expect(loose, route.url).toContain('$');
          expect(
            loose.filter((p) => p.startsWith('$.liveHub')),
            route.url,
          ).toEqual([]);
        } else expect(loose, `${route.method} ${route.url} ${status}`).toEqual([]);
      }
    }
  });

  it('answers with real data: the alarm that went off, stored points, a value no device owns', async () => {
    const res = await rig.call(`/api/alarms/${RIG_ALARM}`, { credential: admin });
    const body = (await res.json()) as { alarm: { state: string }; audit: unknown[] };
    expect(body.alarm.state).toBe('active-acknowledged');
    expect(body.audit.length).toBeGreaterThan(0);
    const history = await rig.call(SAMPLE_PATHS['/api/tags/:id/history']!, { credential: admin });
    expect(((await history.json()) as { points: unknown[] }).points.length).toBeGreaterThan(0);
    const live = (await (await rig.call('/api/live', { credential: admin })).json()) as LiveResponse;
    expect(live.tags.find((t) => t.tagId === 'derived_oee')).toMatchObject({ deviceId: null, value: 0.8 });
  });

  describe("the README's route table", () => {
    it('names every route of the document with its access, and no other', () => {
      const listed = rows();
      expect(listed.length).toBeGreaterThan(30);
      const documented = new Set<string>();
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
      }
      for (const row of listed) {
        const key = `${row.method} ${template(row.url)}`;
        const op = doc.paths[template(row.url)]?.[row.method.toLowerCase()];
        expect(op, `${key} is in the README, not in the document`).toBeDefined();
        expect(row.access, key).toBe(op!['x-greenline-access']);
        documented.delete(key);
      }
      expect([...documented], 'in the document, not in the README').toEqual([]);
    });

    it('names query fields, bodies and answer types as the document has them', () => {
      for (const row of rows()) {
        const key = `${row.method} ${row.url}`;
        const op = doc.paths[template(row.url)]![row.method.toLowerCase()]!;
        const queryNames = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
        for (const name of row.query) expect(queryNames, `${key}: query ${name}`).toContain(name);
        const [request, result = ''] = row.method === 'GET' ? ['', row.answer] : row.answer.split('→');
        const body = /`\{ ([^}]*) \}`/.exec(request!);
        if (body !== null) {
          const schema = resolve(doc, op.requestBody!.content['application/json']!.schema);
          const anyOf = request!.includes('any of');
          const fields = body[1]!.split(',').map((f) => f.trim());
          const required = new Set((schema.required ?? []) as string[]);
          expect(fields.map((f) => f.replace('?', '')).sort(), key).toEqual(
            Object.keys(schema.properties as Json).sort(),
          );
          for (const f of fields)
            expect(required.has(f.replace('?', '')), `${key}: ${f}`).toBe(!f.endsWith('?') && !anyOf);
        }
        const status = /^\s*(\d{3})\b/.exec(result)?.[1];
        const success = Object.keys(op.responses).filter((s) => /^[12]/.test(s));
        if (status !== undefined) expect(success, key).toContain(status);
        const type = [...result.matchAll(/`([A-Z][A-Za-z]+)`/g)][0]?.[1];
        if (type !== undefined) {
          const refs = success.map((s) => op.responses[s]!.content?.['application/json']?.schema.$ref);
          expect(refs, key).toContain(`#/components/schemas/${type}`);
        }
      }
    });
  });
});

// ---------- answers that break their schema ----------

const config = PlantConfig.parse({
  site: { id: 'works', name: 'Test Works', timezone: 'Asia/Hong_Kong' },
  areas: [{ id: 'a1', name: 'Assembly' }],
  lines: [
    {
      id: 'L1',
      name: 'Line 1',
      area: 'a1',
      outputMachine: 'M1',
      calendar: 'c1',
      machines: [{ id: 'M1', name: 'Press', idealCycleTimeS: 2, counters: { total: 'm1_total', good: 'm1_good' } }],
    },
  ],
  devices: [
    {
      protocol: 'modbus-tcp',
      id: 'plc1',
      host: '10.0.0.5',
      pollGroups: { default: 500 },
      tags: [
        { id: 'm1_total', address: '40002', type: 'uint32' },
        { id: 'm1_good', address: '40004', type: 'uint32' },
      ],
    },
  ],
  calendars: [{ id: 'c1', shifts: [{ id: 'day', start: '08:00', end: '17:00' }] }],
});

const NOW = Date.parse('2025-03-01T08:00:00Z');

const goodHealth: HealthReport = {
  status: 'ok',
  startedAt: NOW - 60_000,
  now: NOW,
  devices: [
    {
      id: 'plc1',
      protocol: 'modbus-tcp',
      endpoint: '10.0.0.5:502',
      state: 'connected',
      lastGoodTs: NOW,
      lastError: null,
      counters: { requests: 10 },
    },
  ],
  store: { path: 'data/greenline.db', samplesWritten: 5, pendingRows: 0, dropped: 0, lastError: null },
  sinks: [],
  pipeline: { samplesIn: 5, rejected: 0 },
};

function openServer(overrides: Partial<ServerDeps>) {
  const dir = mkdtempSync(join(tmpdir(), 'gl-openapi-'));
  const logged: { level: string; obj: Json; msg?: string }[] = [];
  const server = createServer(
    {
      config,
      live: new MemoryLiveSource(),
      health: () => goodHealth,
      history: { history: () => [] },
      dashboardDir: join(dir, 'none'),
      log: {
        info: (obj, msg) => logged.push({ level: 'info', obj: obj as Json, msg }),
        warn: (obj, msg) => logged.push({ level: 'warn', obj: obj as Json, msg }),
        error: (obj, msg) => logged.push({ level: 'error', obj: obj as Json, msg }),
      },
      ...overrides,
    },
    { auth: null, now: () => NOW },
  );
  return {
    server,
    logged,
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('an answer that breaks its schema', () => {
  it('is not sent: 500 GL_ERR_RESPONSE_INVALID, and the route and the problems are logged', async () => {
    const broken = {
      ...goodHealth,
      status: 'fine',
      store: { path: '/secret/place.db' },
    } as unknown as HealthReport;
    const { server, logged, close } = openServer({ health: () => broken });
    try {
      const res = await server.app.inject({ method: 'GET', url: '/api/health' });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ error: { code: 'GL_ERR_RESPONSE_INVALID', message: RESPONSE_INVALID_MESSAGE } });
      expect(res.body).not.toContain('/secret/place.db');
      expect(res.headers['cache-control']).toBe('no-store');
      const line = logged.find((l) => l.level === 'error' && /does not match its schema/.test(l.msg ?? ''));
      expect(line?.obj).toMatchObject({ method: 'GET', route: '/api/health', status: 200 });
      const paths = (line!.obj.issues as { path: string }[]).map((i) => i.path);
      expect(paths).toEqual(
        expect.arrayContaining(['response.status', 'response.store.samplesWritten', 'response.store.lastError']),
      );
    } finally {
      await close();
    }
  });

  it('catches a wrong value deep inside a large answer, and a field a closed object does not list', async () => {
    const live = new MemoryLiveSource();
    const { server, logged, close } = openServer({ live });
    try {
      live.push([
        { tagId: 'm1_total', value: 3, quality: 'excellent', ts: NOW, receivedAt: NOW } as unknown as LiveValue,
      ]);
      const res = await server.app.inject({ method: 'GET', url: '/api/live' });
      expect(res.statusCode).toBe(500);
      expect((res.json() as ApiError).error.code).toBe('GL_ERR_RESPONSE_INVALID');
      expect(logged.at(-1)!.obj.issues).toEqual([{ path: 'response.tags[0].quality', message: expect.any(String) }]);
      const history: HistoryPoint[] = [{ ts: NOW, value: 1, quality: 'good', note: 'internal' } as HistoryPoint];
      const other = openServer({ history: { history: () => history } });
      try {
        const h = await other.server.app.inject({ method: 'GET', url: '/api/tags/m1_total/history' });
        expect(h.statusCode).toBe(500);
        expect(h.body).not.toContain('internal');
        expect(other.logged.at(-1)!.obj.issues).toEqual([
          { path: 'response.points[0]', message: expect.stringContaining('note') },
        ]);
      } finally {
        await other.close();
      }
    } finally {
      await close();
    }
  });

  it('checks what the health report lists and passes on what other parts of the gateway add to it', async () => {
    // what main.ts hands over for a device that failed to start carries its error too
    const failed = { ...goodHealth.devices[0]!, error: 'connect ECONNREFUSED 10.0.0.5:502' };
    const sink = { name: 'influxdb', backlog: 3, lastError: null, reachable: true, outboxMaxBytes: 1024 };
    const extra: HealthReport = { ...goodHealth, devices: [failed], sinks: [sink] };
    const { server, close } = openServer({ health: () => extra });
    try {
      const res = await server.app.inject({ method: 'GET', url: '/api/health' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ devices: [failed], sinks: [sink] });
      const wrong = { ...sink, backlog: 'three' } as unknown as HealthReport['sinks'][number];
      const bad = openServer({ health: () => ({ ...goodHealth, sinks: [wrong] }) });
      try {
        const r = await bad.server.app.inject({ method: 'GET', url: '/api/health' });
        expect(r.statusCode).toBe(500);
        expect(bad.logged.at(-1)!.obj.issues).toEqual([
          { path: 'response.sinks[0].backlog', message: expect.any(String) },
        ]);
      } finally {
        await bad.close();
      }
    } finally {
      await close();
    }
  });

  it('keeps request errors as they were: every problem with its field', async () => {
    const { server, close } = openServer({});
    try {
      const res = await server.app.inject({ method: 'GET', url: '/api/tags/m1_total/history?maxPoints=0&x=1' });
      expect(res.statusCode).toBe(400);
      const { error } = res.json() as ApiError;
      expect(error.code).toBe('GL_ERR_BAD_REQUEST');
      expect(error.message).toBe('invalid query: 2 problems');
      expect(error.issues).toHaveLength(2);
      expect(error.issues).toEqual(
        expect.arrayContaining([
          { path: 'query', message: expect.stringContaining('"x"') },
          { path: 'query.maxPoints', message: 'must be at least 1' },
        ]),
      );
      const one = await server.app.inject({ method: 'GET', url: '/api/tags/m1_total/history?maxPoints=9000' });
      expect(one.json()).toEqual({
        error: {
          code: 'GL_ERR_BAD_REQUEST',
          message: 'invalid query.maxPoints: must be at most 5000',
          issues: [{ path: 'query.maxPoints', message: 'must be at most 5000' }],
        },
      });
      const unknown = await server.app.inject({ method: 'GET', url: '/api/tags/nope/history' });
      expect(unknown.statusCode).toBe(404);
    } finally {
      await close();
    }
  });
});

// ---------- what checking answers costs ----------

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timed(fn: () => void, runs: number): number {
  fn();
  fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

describe('the cost of checking answers', () => {
  it('stays small for /api/live with 10 000 tags and a history of 5 000 points', async () => {
    const values: LiveValue[] = Array.from({ length: 10_000 }, (_, i) => ({
      tagId: `t${i}`,
      value: i % 7 === 0 ? null : i % 11 === 0 ? 'text' : i * 0.5,
      quality: i % 13 === 0 ? 'stale' : 'good',
      ts: NOW - i,
      receivedAt: NOW,
      ...(i % 13 === 0 ? { reason: 'no answer for 3 intervals' } : {}),
    }));
    const points: HistoryPoint[] = Array.from({ length: 5000 }, (_, i) => ({
      ts: NOW - (5000 - i) * 1000,
      value: i * 0.25,
      quality: 'good',
    }));
    const live = new MemoryLiveSource();
    live.push(values);
    const { server, close } = openServer({ live, history: { history: () => points } });
    try {
      const liveRes = await server.app.inject({ method: 'GET', url: '/api/live' });
      expect(liveRes.statusCode).toBe(200);
      const liveBody = liveRes.json() as LiveResponse;
      expect(liveBody.tags.length).toBe(10_002);
      const historyRes = await server.app.inject({ method: 'GET', url: '/api/tags/m1_total/history?maxPoints=5000' });
      expect(historyRes.statusCode).toBe(200);
      const historyBody = historyRes.json() as unknown;

      const liveCheck = timed(() => LiveResponseSchema.safeParse(liveBody), 20);
      const liveJson = timed(() => JSON.stringify(liveBody), 20);
      const historyCheck = timed(() => HistoryResponseSchema.safeParse(historyBody), 20);
      const historyJson = timed(() => JSON.stringify(historyBody), 20);
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await server.app.inject({ method: 'GET', url: '/api/live' });
        samples.push(performance.now() - t);
      }
      console.log(
        `answer checks: /api/live 10 000 tags ${liveCheck.toFixed(2)} ms (JSON.stringify ${liveJson.toFixed(2)} ms, whole request ${median(samples).toFixed(1)} ms); ` +
          `history 5 000 points ${historyCheck.toFixed(2)} ms (JSON.stringify ${historyJson.toFixed(2)} ms)`,
      );
      // the check is the same order as serializing the answer: well under a frame of the dashboard
      expect(liveCheck).toBeLessThan(50);
      expect(historyCheck).toBeLessThan(25);
    } finally {
      await close();
    }
  });
});
