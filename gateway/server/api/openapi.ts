/**
 * The OpenAPI 3.1 document of the API, made from the route definitions
 * (`route-book.ts`) and served at `GET /api/docs`. Schemas are the routes'
 * zod schemas as JSON Schema 2020-12 (the dialect of OpenAPI 3.1): requests
 * as they are sent (`io: 'input'`: a time is text), answers as they are
 * sent back. Named schemas become `#/components/schemas/<name>`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { RouteAccess } from '../auth/access-control.js';
import { rolesWith } from '../auth/permissions.js';
import { ApiErrorSchema, apiDocs } from '../schemas/common.js';
import { API_TAGS, type DefinedRoute, type ErrorStatus, type RouteBook } from './route-book.js';

export const DOCS_PATH = '/api/docs';

type Json = Record<string, unknown>;

export interface OpenApiOptions {
  /** the session cookie's name (`__Host-greenline_session` under TLS) */
  readonly cookieName: string;
  /** the gateway's version; default: the package's */
  readonly version?: string;
}

const INFO_DESCRIPTION = `The HTTP API of a greenline monitoring gateway: the plant, live values and history, OEE, energy and carbon metrics, alarms, CSV exports, sign-in, users and API tokens.

**Sign-in.** A browser signs in with \`POST /api/login\` and gets the session cookie; scripts send an API token (\`POST /api/tokens\`) as \`Authorization: Bearer glt_…\`. Each operation says who may call it (\`x-greenline-access\`): \`public\` (anyone), \`signed-in\` (any sign-in), \`account\` (a password sign-in, not a token), or a capability (\`read\`, \`alarms.act\`, \`alarms.manage\`, \`export\`, \`users.manage\`) that the caller's role must hold. State changes (POST, PUT, PATCH, DELETE) are sent as \`application/json\`, even without a body.

**Errors** are JSON \`{ "error": { "code", "message", "issues"? } }\` with a stable \`GL_ERR_*\` code; a bad request lists every problem with its field (\`query.maxPoints\`, \`body.reason\`). Every answer is checked against the schema below before it is sent: one that does not match is a bug of the gateway, answered with 500 \`GL_ERR_RESPONSE_INVALID\` and logged.

**Times** are ms since epoch; in a query they may also be ISO 8601 date-times with an offset (\`2025-03-01T08:00:00+08:00\`). A \`GET\` also answers \`HEAD\`, except the downloads. Paths outside \`/api\` and \`/metrics\` serve the dashboard's files and are not listed.`;

/** The document of a book's routes, built on the first request and kept. */
export function registerDocsRoute(book: RouteBook, options: OpenApiOptions): void {
  let document: Json | null = null;
  book.define({
    method: 'GET',
    url: DOCS_PATH,
    tag: 'system',
    summary: 'This OpenAPI 3.1 document',
    description: 'Every route of this gateway with its parameters, bodies, answers, errors and access.',
    answers: { 200: { description: 'the OpenAPI document', schema: OpenApiDocumentSchema } },
    handler: async () => {
      document ??= openApiDocument(book.routes(), options);
      return document as z.output<typeof OpenApiDocumentSchema>;
    },
  });
}

export const OpenApiDocumentSchema = z.looseObject({
  openapi: z.literal('3.1.0'),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  components: z.looseObject({ schemas: z.record(z.string(), z.unknown()) }),
});

export function openApiDocument(routes: readonly DefinedRoute[], options: OpenApiOptions): Json {
  const schemas: Record<string, unknown> = {};
  const convert = (schema: z.ZodType, io: 'input' | 'output') => absorb(schemas, schema, io);
  const errorRef = convert(ApiErrorSchema, 'output');

  const paths: Record<string, Record<string, unknown>> = {};
  const operationIds = new Set<string>();
  for (const route of routes) {
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    const operationId = operationIdOf(route);
    if (operationIds.has(operationId)) throw new Error(`two routes make the operation id ${operationId}`);
    operationIds.add(operationId);
    const parameters = [
      ...(route.params ? parametersOf(convert(route.params, 'input'), 'path') : []),
      ...(route.query ? parametersOf(convert(route.query, 'input'), 'query') : []),
    ];
    const operation: Json = {
      operationId,
      tags: [route.tag],
      summary: route.summary,
      description: [route.description, accessSentence(route.access)].filter(Boolean).join('\n\n'),
      'x-greenline-access': route.access,
      security: securityOf(route.access),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: !route.body.safeParse(undefined).success,
              content: { 'application/json': { schema: convert(route.body, 'input') } },
            },
          }
        : {}),
      responses: responsesOf(route, convert, errorRef),
    };
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'greenline gateway API',
      version: options.version ?? packageVersion(),
      description: INFO_DESCRIPTION,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: Object.entries(API_TAGS).map(([name, description]) => ({ name, description })),
    security: [{ sessionCookie: [] }, { bearerToken: [] }],
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: options.cookieName,
          description: 'The session a password sign-in (`POST /api/login`) sets: HttpOnly, SameSite=Strict.',
        },
        bearerToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API token (`POST /api/tokens`): `Authorization: Bearer glt_…`. Never manages users.',
        },
      },
    },
  };
}

/** `GET /api/alarms/:id/acknowledge` → `getAlarmsByIdAcknowledge`; `GET /metrics` → `getMetricsText` */
function operationIdOf(route: DefinedRoute): string {
  const words = route.url
    .split('/')
    .filter((s) => s !== '' && s !== 'api')
    .map((s) => (s.startsWith(':') ? `by-${s.slice(1)}` : s))
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter((s) => s !== '');
  if (!route.url.startsWith('/api/')) words.push('text');
  return route.method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/**
 * One zod schema as JSON Schema: named parts (`named()`) move to the
 * components and are referred to; the root of a named schema becomes a
 * reference too.
 */
function absorb(components: Record<string, unknown>, schema: z.ZodType, io: 'input' | 'output'): Json {
  const json = z.toJSONSchema(schema, {
    metadata: apiDocs,
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
    // an open object (`z.object`, the health report) passes on fields it does not list: say so
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema._zod.def.type === 'object' && zodSchema._zod.def.catchall === undefined) {
        delete jsonSchema.additionalProperties;
      }
    },
  }) as Json;
  const { $schema: _dialect, $defs, ...root } = json;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, '#/components/schemas/') : rewrite(v);
    }
    return out;
  };
  for (const [id, def] of Object.entries(($defs ?? {}) as Json)) {
    const rewritten = rewrite(def);
    const known = components[id];
    if (known !== undefined && !isDeepStrictEqual(known, rewritten)) {
      throw new Error(`two different schemas are named ${id} (${io})`);
    }
    components[id] = rewritten;
  }
  return rewrite(root) as Json;
}

/** an object schema's properties as OpenAPI parameters */
function parametersOf(object: Json, where: 'path' | 'query'): Json[] {
  const properties = (object.properties ?? {}) as Record<string, Json>;
  const required = new Set((object.required ?? []) as string[]);
  return Object.entries(properties).map(([name, schema]) => {
    const { description, example, ...rest } = schema;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description === undefined ? {} : { description }),
      ...(example === undefined ? {} : { example }),
      schema: rest,
    };
  });
}

function securityOf(access: RouteAccess): Json[] {
  if (access === 'public') return [];
  // a token never signs in to one's own account, nor manages users
  if (access === 'account' || access === 'users.manage') return [{ sessionCookie: [] }];
  return [{ sessionCookie: [] }, { bearerToken: [] }];
}

export function accessSentence(access: RouteAccess): string {
  switch (access) {
    case 'public':
      return 'Access: anyone; no sign-in needed.';
    case 'signed-in':
      return 'Access: any valid sign-in, a session or an API token.';
    case 'account':
      return 'Access: signed in with a password (the session cookie), any role; an API token may not.';
    default: {
      const roles = rolesWith(access).join(', ');
      const tokens = access === 'users.manage' ? ' An API token never may.' : '';
      return `Access: the \`${access}\` capability (roles: ${roles}).${tokens}`;
    }
  }
}

const STANDARD_ERRORS: Record<400 | 401 | 403 | 415 | 500, string> = {
  400: '`GL_ERR_BAD_REQUEST`: a parameter or the body is wrong; `issues` lists every problem with its field.',
  401: '`GL_ERR_UNAUTHENTICATED`: no valid sign-in (with `www-authenticate: Bearer realm="greenline"`).',
  403: "`GL_ERR_FORBIDDEN`: the sign-in's role lacks what the route needs.",
  415: '`GL_ERR_UNSUPPORTED_MEDIA_TYPE`: a state change not sent as `application/json`.',
  500: '`GL_ERR_INTERNAL` (the log has the details), or `GL_ERR_RESPONSE_INVALID`: the gateway built an answer that breaks this document, and sent this error instead.',
};

function responsesOf(
  route: DefinedRoute,
  convert: (schema: z.ZodType, io: 'input' | 'output') => Json,
  errorRef: Json,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(route.answers)) {
    if ('schema' in spec) {
      out[status] = {
        description: spec.description,
        content: { 'application/json': { schema: convert(spec.schema, 'output') } },
      };
    } else if (spec.contentType !== undefined) {
      const media: Json = { schema: { type: 'string' } };
      if (spec.example !== undefined) media.example = spec.example;
      out[status] = { description: spec.description, content: { [spec.contentType]: media } };
    } else out[status] = { description: spec.description };
  }
  const errors = new Map<number, string[]>();
  const add = (status: number, text: string | undefined) => {
    if (text !== undefined) errors.set(status, [...(errors.get(status) ?? []), text]);
  };
  if (route.params || route.query || route.body) add(400, STANDARD_ERRORS[400]);
  if (route.access !== 'public') add(401, STANDARD_ERRORS[401]);
  if (route.access !== 'public' && route.access !== 'signed-in') add(403, STANDARD_ERRORS[403]);
  if (route.method !== 'GET') add(415, STANDARD_ERRORS[415]);
  for (const [status, text] of Object.entries(route.errors) as [string, string][]) {
    add(Number(status) as ErrorStatus, text);
  }
  add(500, STANDARD_ERRORS[500]);
  for (const status of [...errors.keys()].sort((a, b) => a - b)) {
    out[String(status)] = {
      description: errors.get(status)!.join(' '),
      content: { 'application/json': { schema: errorRef } },
    };
  }
  return out;
}

/** the version in the gateway's package.json, found from this file whether it runs from source or dist/ */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const pkg = JSON.parse(readFileSync(resolve(dir, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
