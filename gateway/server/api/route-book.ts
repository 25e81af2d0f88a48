/**
 * Every route of the API is defined here, once: method, URL, what it is
 * for, its request schemas (params, query, body), its answers by status with
 * their schemas (or media type, for files and text), the errors it may give,
 * and who may call it (from `ROUTE_ACCESS`). The same definitions register
 * the fastify route, check requests and answers, and make the OpenAPI
 * document (`openapi.ts`).
 *
 * Requests: params, then query, then body are checked before the handler
 * runs (400 with every problem and its path, as `validate()` words them);
 * the handler gets only the parsed values.
 *
 * Answers: every JSON body is checked against the schema of its status
 * before it is sent (errors against `ApiError`). One that does not match is
 * a bug of the gateway: it is logged with the route and the problems, and
 * the client gets 500 `GL_ERR_RESPONSE_INVALID` instead of the bad body.
 * What the server builds is closed (`z.strictObject`: a field the contract
 * does not list fails the answer). The health report, which drivers, store,
 * sinks and services put together, is open (`z.object`): the fields the
 * contract lists are checked, and what a part reports beyond them is passed
 * on as it is. The body sent is the body checked.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { accessOf, type RouteAccess } from '../auth/access-control.js';
import type { ApiError } from '../contract.js';
import { issuePath, validate } from '../http-errors.js';
import type { ServerDeps } from '../ports.js';
import { type Answer, ApiErrorSchema } from '../schemas/common.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** An answer with a JSON body, checked against `schema` before it is sent. */
export interface JsonAnswer<S extends z.ZodType = z.ZodType> {
  readonly description: string;
  readonly schema: S;
}

/** An answer that is not JSON (a CSV file, the Prometheus text), or has no body at all (204, a WebSocket's 101). */
export interface OtherAnswer {
  readonly description: string;
  /** the media type of the body; none: no body */
  readonly contentType?: string;
  readonly example?: string;
}

export type AnswerSpec = JsonAnswer | OtherAnswer;

/** A route's successful answers by status (2xx; 101 for a WebSocket upgrade). */
export type Answers = Readonly<Record<number, AnswerSpec>>;

/**
 * Error statuses a route gives beyond those every route of its kind has
 * (400 when it takes input, 401 and 403 by its access, 415 for a state
 * change, 500 always); the text says when.
 */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 426 | 429 | 503;

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What the handler gets: the request's parts, checked and parsed (undefined where the route takes none). */
export interface RouteInput<P, Q, B> {
  readonly params: Parsed<P>;
  readonly query: Parsed<Q>;
  readonly body: Parsed<B>;
}

/** the JSON bodies a route's handler may return, as the contract types them */
export type AnswerBody<A extends Answers> = {
  [K in keyof A]: A[K] extends JsonAnswer<infer S> ? Answer<S> : never;
}[keyof A];

export interface RouteDefinition<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
  A extends Answers,
> {
  readonly method: HttpMethod;
  /** as fastify takes it: `/api/tags/:id/history` */
  readonly url: string;
  /** one line: what the route does */
  readonly summary: string;
  readonly description?: string;
  /** the group it is listed under in the document */
  readonly tag: ApiTag;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  readonly answers: A;
  readonly errors?: Partial<Record<ErrorStatus, string>>;
  /** false: no HEAD route (a download would be read in full only to be thrown away) */
  readonly exposeHeadRoute?: boolean;
  handler(input: RouteInput<P, Q, B>, req: FastifyRequest, reply: FastifyReply): Promise<AnswerBody<A> | FastifyReply>;
}

/** The groups of the document, in its order. */
export const API_TAGS = {
  system: "The gateway's own state: health, Prometheus metrics, this document.",
  plant: 'The plant model, live values (REST and the live WebSocket) and tag history.',
  metrics: 'OEE, energy and carbon of lines and machines; the energy baseline.',
  exports: 'CSV downloads for energy managers and auditors.',
  alarms: 'Alarms, their audit trail and statistics, and the operator actions.',
  'sign-in': 'Signing in and out; the signed-in user.',
  users: 'User management (admins).',
  tokens: 'API tokens for scripts and scrapers.',
} as const;

export type ApiTag = keyof typeof API_TAGS;

/** A route as defined, with the access the table gives it. */
export interface DefinedRoute {
  readonly method: HttpMethod;
  readonly url: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: ApiTag;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly answers: Answers;
  readonly errors: Partial<Record<ErrorStatus, string>>;
  readonly access: RouteAccess;
}

/** problems of an invalid answer kept in the log line: enough to find the bug, not a copy of a large body */
const LOGGED_ISSUES = 20;

export const RESPONSE_INVALID_MESSAGE = 'the gateway built an answer it may not send: the gateway log has the details';

export class RouteBook {
  private readonly defined: DefinedRoute[] = [];
  private readonly byRoute = new Map<string, DefinedRoute>();

  constructor(
    readonly app: FastifyInstance,
    private readonly log: ServerDeps['log'],
  ) {
    app.addHook('preSerialization', async (req, reply, payload) => this.checkAnswer(req, reply, payload));
  }

  /** every route defined so far, in order */
  routes(): readonly DefinedRoute[] {
    return this.defined;
  }

  define<
    P extends z.ZodType | undefined = undefined,
    Q extends z.ZodType | undefined = undefined,
    B extends z.ZodType | undefined = undefined,
    A extends Answers = Answers,
  >(def: RouteDefinition<P, Q, B, A>): void {
    const access = accessOf(def.method, def.url);
    if (access === null) {
      throw new Error(`${def.method} ${def.url} has no access rule: add it to ROUTE_ACCESS (auth/access-control.ts)`);
    }
    const key = `${def.method} ${def.url}`;
    if (this.byRoute.has(key)) throw new Error(`${key} is defined twice`);
    const route: DefinedRoute = {
      method: def.method,
      url: def.url,
      summary: def.summary,
      tag: def.tag,
      answers: def.answers,
      errors: def.errors ?? {},
      access,
      ...(def.description === undefined ? {} : { description: def.description }),
      ...(def.params === undefined ? {} : { params: def.params }),
      ...(def.query === undefined ? {} : { query: def.query }),
      ...(def.body === undefined ? {} : { body: def.body }),
    };
    this.defined.push(route);
    this.byRoute.set(key, route);
    const { params, query, body } = def;
    this.app.route({
      method: def.method,
      url: def.url,
      ...(def.exposeHeadRoute === undefined ? {} : { exposeHeadRoute: def.exposeHeadRoute }),
      handler: async (req, reply) => {
        const input = {
          params: params === undefined ? undefined : validate('params', params, req.params),
          query: query === undefined ? undefined : validate('query', query, req.query),
          body: body === undefined ? undefined : validate('body', body, req.body),
        } as RouteInput<P, Q, B>;
        return def.handler(input, req, reply);
      },
    });
  }

  /** the body to send: the answer as it was, or a 500 in place of one that breaks its schema */
  private checkAnswer(req: FastifyRequest, reply: FastifyReply, payload: unknown): unknown {
    const status = reply.statusCode;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route = this.byRoute.get(`${method} ${req.routeOptions.url}`);
    let schema: z.ZodType;
    if (status >= 400) schema = ApiErrorSchema;
    else if (route === undefined) return payload;
    else {
      const spec = route.answers[status];
      if (spec === undefined || !('schema' in spec)) {
        return this.refuse(req, reply, route, status, [
          { path: 'response', message: `no JSON answer is defined for status ${status}` },
        ]);
      }
      schema = spec.schema;
    }
    const result = schema.safeParse(payload);
    if (result.success) return payload;
    const issues = result.error.issues.map((i) => ({ path: issuePath('response', i.path), message: i.message }));
    return this.refuse(req, reply, route, status, issues);
  }

  private refuse(
    req: FastifyRequest,
    reply: FastifyReply,
    route: DefinedRoute | undefined,
    status: number,
    issues: readonly { path: string; message: string }[],
  ): ApiError {
    this.log.error(
      {
        method: req.method,
        route: route?.url ?? req.routeOptions.url ?? null,
        url: req.url,
        status,
        issues: issues.slice(0, LOGGED_ISSUES),
        issueCount: issues.length,
      },
      'answer does not match its schema: a 500 was sent in its place',
    );
    reply.code(500);
    return { error: { code: 'GL_ERR_RESPONSE_INVALID', message: RESPONSE_INVALID_MESSAGE } };
  }
}
