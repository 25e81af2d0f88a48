/**
 * The gateway's HTTP server: REST API, the live WebSocket hub and the
 * dashboard's files. Building it does no I/O; `start()` listens.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { registerAlarmRoutes } from './alarms/alarm-routes.js';
import { AlarmViews } from './alarms/alarm-view.js';
import { registerDocsRoute } from './api/openapi.js';
import { type DefinedRoute, RouteBook } from './api/route-book.js';
import { registerApiRoutes } from './api-routes.js';
import { type ApiError, LIVE_WS_PATH } from './contract.js';
import { registerDashboard } from './dashboard-files.js';
import { registerExportRoutes } from './export-routes.js';
import { HttpError } from './http-errors.js';
import { LIVE_HUB_DEFAULTS, LiveHub, type UpgradeAuthorizer, allowEveryone, refuseUpgrade } from './live-hub.js';
import { registerMetricsRoutes } from './metrics-routes.js';
import { buildOverview } from './metrics-view.js';
import { buildPlantIndex } from './plant-index.js';
import { type Authenticator, installAccessControl, registerAuthRoutes, type RouteEntry } from './auth/index.js';
import { sessionCookieName } from './auth/cookies.js';
import type { ServerDeps } from './ports.js';
import { registerPrometheusRoute } from './prometheus.js';
import type { TlsMaterial } from './tls.js';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export interface ServerOptions {
  /**
   * Sign-in: every route then checks its access (`auth/access-control.ts`)
   * and the live WebSocket its sign-in. `null` opens everything to everyone:
   * for tests only; the gateway (main.ts) always passes an Authenticator.
   */
  readonly auth: Authenticator | null;
  /** serve HTTPS with this certificate and key (`readTlsFiles`); cookies are then Secure */
  readonly https?: TlsMaterial;
  /** decides whether a live WebSocket may open (default: the sign-in's check; everyone without sign-in) */
  readonly authorizeUpgrade?: UpgradeAuthorizer;
  /** wall clock, ms since epoch (default Date.now) */
  readonly now?: () => number;
  /** live hub tuning; the defaults suit production */
  readonly live?: { readonly slowClientBytes?: number; readonly pingIntervalMs?: number };
}

export interface GreenlineServer {
  /** listens and starts the live hub; `url` is where the server answers */
  start(host: string, port: number): Promise<{ url: string }>;
  /** closes live clients, then the listener; safe to call twice */
  stop(): Promise<void>;
  readonly app: FastifyInstance;
  readonly hub: LiveHub;
  /** every registered route with the access it declares (empty on an open server) */
  routes(): readonly RouteEntry[];
  /** every route of the API as defined: schemas, answers, access (what `GET /api/docs` documents) */
  apiRoutes(): readonly DefinedRoute[];
}

export function createServer(deps: ServerDeps, options: ServerOptions): GreenlineServer {
  if (options?.auth === undefined) {
    throw new Error('createServer needs options.auth: an Authenticator, or null for a server open to everyone (tests)');
  }
  const auth = options.auth;
  const now = options.now ?? Date.now;
  const authorize = options.authorizeUpgrade ?? auth?.authorizeUpgrade ?? allowEveryone;
  const index = buildPlantIndex(deps.config);
  const alarmViews = new AlarmViews(deps.config, index);
  const hub = new LiveHub(index, deps.live, {
    liveMaxHz: deps.config.server.liveMaxHz,
    demo: deps.demo ?? false,
    heartbeatMs: deps.liveHeartbeatMs ?? null,
    slowClientBytes: options.live?.slowClientBytes ?? LIVE_HUB_DEFAULTS.slowClientBytes,
    pingIntervalMs: options.live?.pingIntervalMs ?? LIVE_HUB_DEFAULTS.pingIntervalMs,
    now,
    log: deps.log,
    ...(deps.metrics ? { metricsOverview: (window, t) => buildOverview(deps.config, deps.metrics!, window, t) } : {}),
    ...(deps.alarms ? { alarms: { alarms: deps.alarms, views: alarmViews } } : {}),
  });

  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
  }) as unknown as FastifyInstance;
  const access = auth === null ? null : installAccessControl(app, auth, deps.log);
  const stopWatching = auth?.onChange(() => hub.revalidate());

  // JSON as fastify parses it, but an empty body is no body: `DELETE` and `POST /api/logout` carry
  // the JSON content type (the cross-site defence) with nothing in it
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') return done(null, undefined);
    return parseJson(req, body as string, done);
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });

  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send(err.toBody());
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      const body: ApiError = {
        error: { code: status === 404 ? 'GL_ERR_NOT_FOUND' : 'GL_ERR_BAD_REQUEST', message: err.message },
      };
      return reply.code(status).send(body);
    }
    deps.log.error(
      { err: { message: err.message, code: err.code, stack: err.stack }, method: req.method, url: req.url },
      'request failed',
    );
    const body: ApiError = {
      error: { code: 'GL_ERR_INTERNAL', message: 'internal error: the gateway log has the details' },
    };
    return reply.code(500).send(body);
  });

  const book = new RouteBook(app, deps.log);
  registerApiRoutes(book, deps, index, hub, now);
  registerMetricsRoutes(book, deps, now);
  registerPrometheusRoute(book, deps, hub, auth);
  registerExportRoutes(book, deps, index, now);
  registerAlarmRoutes(book, deps, alarmViews, now);
  if (auth !== null) registerAuthRoutes(book, auth, deps, now);
  registerDocsRoute(book, { cookieName: sessionCookieName(auth?.secureCookies ?? false) });
  registerDashboard(app, deps.dashboardDir);

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void upgrade(req, socket, head);
  });

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (path !== LIVE_WS_PATH)
      return refuseUpgrade(socket, 404, `no WebSocket endpoint at ${path}; use ${LIVE_WS_PATH}`);
    if (!hub.isAccepting) return refuseUpgrade(socket, 503, 'server is not running');
    let decision: Awaited<ReturnType<UpgradeAuthorizer>>;
    try {
      decision = await authorize(req);
    } catch (err) {
      deps.log.error({ err: (err as Error).message }, 'live upgrade authorization failed');
      return refuseUpgrade(socket, 500, 'internal error: the gateway log has the details');
    }
    if (!decision.ok) return refuseUpgrade(socket, decision.status, decision.message);
    hub.handleUpgrade(req, socket, head, {
      remoteAddress: req.socket.remoteAddress ?? null,
      user: decision.user,
      ...(decision.revalidate ? { revalidate: decision.revalidate } : {}),
    });
  }

  let started = false;
  let stopping: Promise<void> | null = null;

  return {
    app,
    hub,
    routes: () => access?.routes() ?? [],
    apiRoutes: () => book.routes(),
    async start(host: string, port: number) {
      if (started) throw new Error('server already started');
      started = true;
      hub.start();
      try {
        await app.listen({ host, port });
      } catch (err) {
        await hub.stop();
        throw err;
      }
      const address = app.server.address() as AddressInfo;
      const shown = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
      const url = `${options.https ? 'https' : 'http'}://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}`;
      deps.log.info({ url, demo: deps.demo ?? false }, 'server listening');
      return { url };
    },
    stop() {
      stopping ??= (async () => {
        stopWatching?.();
        await hub.stop();
        await app.close();
      })();
      return stopping;
    },
  };
}
