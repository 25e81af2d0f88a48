/**
 * The control surface over HTTP + JSON (node:http). Every error answers
 * `{ "error": { "code": "GL_ERR_SIM_…", "message": "…what to do…" } }`.
 */
import http from 'node:http';
import { type SimulatorControl, SimControlError } from './control.js';
import type { CounterName } from './model/machine.js';
import type { DeviceEndpoint, SimDevice } from './servers/device.js';
import { errorMessage } from './servers/device.js';
import { bindWithFallback } from './servers/ports.js';

const MAX_BODY_BYTES = 64 * 1024;

type Body = Record<string, unknown>;
type Handler = (params: string[], body: Body) => unknown;

interface Route {
  readonly method: 'GET' | 'POST';
  readonly pattern: RegExp;
  readonly usage: string;
  readonly handler: Handler;
}

export const CONTROL_ROUTES_HELP = [
  'GET  /state',
  'GET  /devices',
  'POST /machines/:id/fault          {"durationS"?: number, "reason"?: 1|2|3|4}',
  'POST /machines/:id/clear',
  'POST /machines/:id/reject-rate    {"rate": number in [0,1] | null}',
  'POST /machines/:id/rollover       {"counter": "total"|"good"|"reject", "below"?: integer ≥ 1}',
  'POST /machines/:id/reset-counters',
  'POST /machines/:id/override       {"field": string, "value": number | null}',
  'POST /machines/:id/power          {"on": boolean}',
  'POST /devices/:id/stop',
  'POST /devices/:id/start',
  'POST /speed                       {"speed": number}',
] as const;

function routes(control: SimulatorControl): Route[] {
  const seg = '([^/]+)';
  const p = (params: string[], i: number) => decodeURIComponent(params[i] ?? '');
  return [
    { method: 'GET', pattern: /^\/$/, usage: 'GET /', handler: () => ({ routes: CONTROL_ROUTES_HELP }) },
    { method: 'GET', pattern: /^\/state$/, usage: 'GET /state', handler: () => control.state() },
    { method: 'GET', pattern: /^\/devices$/, usage: 'GET /devices', handler: () => ({ devices: control.devices() }) },
    {
      method: 'POST',
      pattern: new RegExp(`^/machines/${seg}/fault$`),
      usage: 'POST /machines/:id/fault',
      handler: (params, body) => {
        const durationS = optionalNumber(body, 'durationS');
        const reason = optionalNumber(body, 'reason');
        return control.fault(p(params, 0), {
          ...(durationS !== undefined ? { durationS } : {}),
          ...(reason !== undefined ? { reason } : {}),
        });
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/machines/${seg}/clear$`),
      usage: 'POST /machines/:id/clear',
      handler: (params) => control.clear(p(params, 0)),
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/machines/${seg}/reject-rate$`),
      usage: 'POST /machines/:id/reject-rate',
      handler: (params, body) => control.setRejectRate(p(params, 0), numberOrNull(body, 'rate')),
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/machines/${seg}/rollover$`),
      usage: 'POST /machines/:id/rollover',
      handler: (params, body) => {
        const counter = body.counter;
        if (typeof counter !== 'string') {
          throw new SimControlError('GL_ERR_SIM_BAD_REQUEST', 'body needs "counter": "total", "good" or "reject"');
        }
        return control.rollover(p(params, 0), counter as CounterName, optionalNumber(body, 'below'));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/machines/${seg}/reset-counters$`),
      usage: 'POST /machines/:id/reset-counters',
      handler: (params) => control.resetCounters(p(params, 0)),
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/machines/${seg}/override$`),
      usage: 'POST /machines/:id/override',
      handler: (params, body) => {
        if (typeof body.field !== 'string') {
          throw new SimControlError(
            'GL_ERR_SIM_BAD_REQUEST',
            'body needs "field": the process value name (see GET /state)',
          );
        }
        return control.override(p(params, 0), body.field, numberOrNull(body, 'value'));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/machines/${seg}/power$`),
      usage: 'POST /machines/:id/power',
      handler: (params, body) => {
        if (typeof body.on !== 'boolean') {
          throw new SimControlError('GL_ERR_SIM_BAD_REQUEST', 'body needs "on": true or false');
        }
        return control.setPower(p(params, 0), body.on);
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/devices/${seg}/stop$`),
      usage: 'POST /devices/:id/stop',
      handler: (params) => control.stopDevice(p(params, 0)),
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/devices/${seg}/start$`),
      usage: 'POST /devices/:id/start',
      handler: (params) => control.startDevice(p(params, 0)),
    },
    {
      method: 'POST',
      pattern: /^\/speed$/,
      usage: 'POST /speed',
      handler: (_params, body) => {
        if (typeof body.speed !== 'number') {
          throw new SimControlError('GL_ERR_SIM_BAD_REQUEST', 'body needs "speed": simulated seconds per real second');
        }
        return { speed: control.setSpeed(body.speed) };
      },
    },
  ];
}

function optionalNumber(body: Body, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw new SimControlError('GL_ERR_SIM_BAD_REQUEST', `"${key}" must be a number`);
  return v;
}

function numberOrNull(body: Body, key: string): number | null {
  if (!(key in body)) {
    throw new SimControlError(
      'GL_ERR_SIM_BAD_REQUEST',
      `body needs "${key}": a number, or null to restore the default`,
    );
  }
  const v = body[key];
  if (v === null) return null;
  if (typeof v !== 'number') throw new SimControlError('GL_ERR_SIM_BAD_REQUEST', `"${key}" must be a number or null`);
  return v;
}

function readBody(req: http.IncomingMessage): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (tooLarge) {
        reject(
          new SimControlError('GL_ERR_SIM_BODY_TOO_LARGE', `request body must be under ${MAX_BODY_BYTES} bytes`, 413),
        );
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') {
        resolve({});
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        reject(
          new SimControlError(
            'GL_ERR_SIM_BAD_JSON',
            `request body is not valid JSON (${errorMessage(err)}); send a JSON object`,
          ),
        );
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        reject(new SimControlError('GL_ERR_SIM_BAD_JSON', 'request body must be a JSON object, e.g. {"rate": 0.05}'));
        return;
      }
      resolve(parsed as Body);
    });
  });
}

function send(res: http.ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

function sendError(res: http.ServerResponse, err: unknown): void {
  if (err instanceof SimControlError) {
    send(res, err.status, { error: { code: err.code, message: err.message } });
  } else {
    send(res, 500, {
      error: {
        code: 'GL_ERR_SIM_INTERNAL',
        message: `internal error: ${errorMessage(err)}; the simulators keep running`,
      },
    });
  }
}

export interface ControlHttpOptions {
  readonly host: string;
  /** 0: a free port. */
  readonly port: number;
  readonly control: SimulatorControl;
}

export class ControlHttpServer implements SimDevice {
  readonly id = 'control';
  private readonly opts: ControlHttpOptions;
  private readonly table: Route[];
  private server: http.Server | null = null;
  private boundPort: number | null = null;
  private fellBack = false;
  private lastError: string | null = null;

  constructor(options: ControlHttpOptions) {
    this.opts = options;
    this.table = routes(options.control);
  }

  get running(): boolean {
    return this.server !== null;
  }

  get url(): string | null {
    return this.boundPort === null ? null : `http://${this.opts.host}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const wanted = this.boundPort ?? this.opts.port;
    try {
      const { port, fellBack } = await bindWithFallback(this.opts.host, wanted, (p) => this.listen(p), {
        acceptsZero: true,
      });
      this.boundPort = port;
      this.fellBack = fellBack || (wanted !== 0 && port !== wanted);
      this.lastError = null;
    } catch (err) {
      this.lastError = errorMessage(err);
      throw err;
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  endpoint(): DeviceEndpoint {
    return {
      id: this.id,
      protocol: 'http',
      description: 'simulator control surface (JSON over HTTP)',
      host: this.opts.host,
      requestedPort: this.opts.port,
      port: this.boundPort,
      url: this.url,
      running: this.running,
      fellBack: this.fellBack,
      error: this.lastError,
    };
  }

  private listen(port: number): Promise<number> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => sendError(res, err));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: this.opts.host }, () => {
        server.removeListener('error', reject);
        server.on('error', () => undefined);
        this.server = server;
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const matching = this.table.filter((r) => r.pattern.test(path));
    if (matching.length === 0) {
      throw new SimControlError(
        'GL_ERR_SIM_NOT_FOUND',
        `no route ${req.method ?? ''} ${path}; the routes are: ${CONTROL_ROUTES_HELP.join('; ')}`,
        404,
      );
    }
    const route = matching.find((r) => r.method === req.method);
    if (!route) {
      res.setHeader('allow', matching.map((r) => r.method).join(', '));
      throw new SimControlError(
        'GL_ERR_SIM_METHOD_NOT_ALLOWED',
        `use ${matching.map((r) => r.usage).join(' or ')}`,
        405,
      );
    }
    const body = req.method === 'POST' ? await readBody(req) : {};
    const params = route.pattern.exec(path)?.slice(1) ?? [];
    const result = await route.handler(params, body);
    send(res, 200, result);
  }
}
