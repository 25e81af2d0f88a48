/**
 * A real server with sign-in on a real store (SQLite in a temporary folder:
 * samples, exports, metrics rebuilt by the metrics service, users), for the
 * sign-in tests, with the alarm service on the same file. Hashes use a cheaper scrypt cost than production so that
 * dozens of sign-ins stay fast; one test checks the production cost.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { PlantConfig, type PlantConfigInput, type Role } from '../../../config/schema.js';
import { AlarmService, MetricsService } from '../../../gateway/pipeline/index.js';
import type { AuthenticatorOptions } from '../../../gateway/server/auth/authenticator.js';
import {
  Authenticator,
  createServer,
  type GreenlineServer,
  MemoryLiveSource,
  type ServerOptions,
  seedAccounts,
} from '../../../gateway/server/index.js';
import type { HealthReport } from '../../../gateway/server/ports.js';
import { AlarmStore, SqliteStore } from '../../../gateway/store/index.js';
import { UserStore } from '../../../gateway/store/user-store.js';

export const FAST_COST = { ln: 10, r: 8, p: 1 } as const;

export const PLANT: PlantConfigInput = {
  site: { id: 'works', name: 'Test Works', timezone: 'Asia/Hong_Kong' },
  areas: [{ id: 'a1', name: 'Assembly' }],
  lines: [
    {
      id: 'L1',
      name: 'Line 1',
      area: 'a1',
      outputMachine: 'M1',
      calendar: 'c1',
      energy: { kwhTag: 'line_kwh' },
      machines: [
        {
          id: 'M1',
          name: 'Press',
          idealCycleTimeS: 2,
          state: { tag: 'm1_state', map: { '0': 'offline', '1': 'running', '2': 'idle' } },
          counters: { total: 'm1_total', good: 'm1_good' },
        },
      ],
    },
  ],
  devices: [
    {
      protocol: 'modbus-tcp',
      id: 'plc1',
      host: '127.0.0.1',
      pollGroups: { default: 500 },
      tags: [
        { id: 'm1_state', address: '40001' },
        { id: 'm1_total', address: '40002', type: 'uint32' },
        { id: 'm1_good', address: '40004', type: 'uint32' },
        { id: 'line_kwh', address: '40006', type: 'float32', unit: 'kWh' },
      ],
    },
  ],
  calendars: [{ id: 'c1', shifts: [{ id: 'day', start: '00:00', end: '23:59' }] }],
  // raised only by a test that feeds the alarm service a reading above the limit
  alarms: [
    {
      id: 'line-kwh-high',
      kind: 'high',
      tag: 'line_kwh',
      limit: 1_000_000,
      line: 'L1',
      priority: 'high',
      message: { en: 'Line 1 energy reading implausible', 'zh-Hant': '一號線電能讀數異常' },
    },
  ],
};

/** the rig's one alarm */
export const RIG_ALARM = 'line-kwh-high';

/** one password for every test user: the rig's users differ by role */
export const PASSWORD = 'correct horse battery';

export const ROLE_USERS: Readonly<Record<Role, string>> = {
  viewer: 'vera',
  operator: 'otto',
  energy: 'enid',
  admin: 'ada',
};

export interface LoggedLine {
  readonly level: string;
  readonly obj: object;
  readonly msg?: string;
}

export interface AuthRig {
  readonly url: string;
  readonly server: GreenlineServer;
  readonly auth: Authenticator;
  readonly users: UserStore;
  readonly store: SqliteStore;
  readonly live: MemoryLiveSource;
  readonly alarms: AlarmService;
  readonly alarmStore: AlarmStore;
  readonly logged: LoggedLine[];
  readonly dir: string;
  /** signs in and returns the `Cookie` header value */
  login(username: string, password?: string): Promise<string>;
  /** a fetch with the cookie or bearer token given */
  call(
    path: string,
    init?: { method?: string; credential?: Credential; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  /** opens the live socket; resolves with `open` or the refusal's status */
  openLive(credential?: Credential, headers?: Record<string, string>): Promise<LiveAttempt>;
  close(): Promise<void>;
}

export type Credential = { readonly cookie: string } | { readonly token: string } | null;

export type LiveAttempt = { readonly status: 'open'; readonly ws: WebSocket } | { readonly status: number };

export interface RigOptions {
  readonly now?: () => number;
  readonly auth?: Partial<Pick<AuthenticatorOptions, 'idleMs' | 'absoluteMs' | 'limits' | 'cost' | 'demoAccounts'>>;
  readonly server?: Partial<Omit<ServerOptions, 'auth'>>;
  readonly plant?: Partial<PlantConfigInput>;
  /** a folder to keep the store in (a restart on the same data); kept at close. Default: a new one, removed */
  readonly dir?: string;
}

export function credentialHeaders(c: Credential | undefined): Record<string, string> {
  if (!c) return {};
  return 'cookie' in c ? { cookie: c.cookie } : { authorization: `Bearer ${c.token}` };
}

/** `name=value` of the cookie a response sets */
export function cookieOf(res: Response): string {
  const set = res.headers.get('set-cookie');
  if (!set) throw new Error(`no set-cookie in the answer (${res.status})`);
  return set.split(';')[0]!;
}

export async function startAuthRig(options: RigOptions = {}): Promise<AuthRig> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'gl-auth-'));
  const dashboardDir = join(dir, 'dashboard');
  mkdirSync(join(dashboardDir, 'assets'), { recursive: true });
  writeFileSync(join(dashboardDir, 'index.html'), '<!doctype html><title>greenline</title><div id="app"></div>');
  writeFileSync(join(dashboardDir, 'assets', 'index-abc123.js'), 'console.log(1)');
  const dbPath = join(dir, 'greenline.db');
  const config = PlantConfig.parse({
    ...PLANT,
    ...options.plant,
    store: { path: dbPath },
    users: Object.entries(ROLE_USERS).map(([role, username]) => ({ username, role, password: PASSWORD })),
  });
  const logged: LoggedLine[] = [];
  const log = {
    debug: (obj: object, msg?: string) => logged.push({ level: 'debug', obj, msg }),
    info: (obj: object, msg?: string) => logged.push({ level: 'info', obj, msg }),
    warn: (obj: object, msg?: string) => logged.push({ level: 'warn', obj, msg }),
    error: (obj: object, msg?: string) => logged.push({ level: 'error', obj, msg }),
    child: () => log,
  };
  const store = new SqliteStore({ ...config.store, log, backgroundCheckpoints: false });
  await store.start();
  const users = new UserStore({ path: dbPath });
  users.start();
  const auth = new Authenticator({
    store: users,
    log,
    cost: FAST_COST,
    ...(options.now ? { now: options.now } : {}),
    ...options.auth,
  });
  await seedAccounts({
    store: users,
    users: config.users,
    demoAccounts: options.auth?.demoAccounts ?? [],
    hashPassword: (p) => auth.hashPassword(p),
    log,
    announce: () => undefined,
  });
  const metrics = new MetricsService({ plant: config, store, log });
  await metrics.start();
  const alarmStore = new AlarmStore({ path: dbPath });
  alarmStore.start();
  const alarms = new AlarmService({
    plant: config,
    store: alarmStore,
    samples: store,
    machines: metrics,
    metrics,
    log,
  });
  await alarms.start();
  const live = new MemoryLiveSource();
  const health = (): HealthReport => ({
    status: 'ok',
    startedAt: 0,
    now: Date.now(),
    devices: [],
    store: { path: dbPath, samplesWritten: 0, pendingRows: 0, dropped: 0, lastError: null },
    sinks: [],
    pipeline: { samplesIn: 0, rejected: 0 },
  });
  const server = createServer(
    {
      config,
      live,
      health,
      history: store,
      exports: store,
      metrics,
      alarms,
      alarmAudit: alarmStore,
      dashboardDir,
      log,
      demo: false,
    },
    { auth, ...(options.now ? { now: options.now } : {}), ...options.server },
  );
  const { url } = await server.start('127.0.0.1', 0);
  const sockets: WebSocket[] = [];

  const call: AuthRig['call'] = (path, init = {}) => {
    const headers: Record<string, string> = { ...credentialHeaders(init.credential), ...init.headers };
    const method = init.method ?? 'GET';
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    // state changes go as JSON, as the dashboard sends them (the cross-site defence asks for it)
    if (method !== 'GET' && method !== 'HEAD') headers['content-type'] ??= 'application/json';
    return fetch(url + path, { method, headers, body, redirect: 'manual' });
  };

  return {
    url,
    server,
    auth,
    users,
    store,
    live,
    alarms,
    alarmStore,
    logged,
    dir,
    call,
    async login(username, password = PASSWORD) {
      const res = await call('/api/login', { method: 'POST', body: { username, password } });
      if (res.status !== 200) throw new Error(`sign-in of ${username} failed: ${res.status} ${await res.text()}`);
      return cookieOf(res);
    },
    openLive(credential = null, headers = {}) {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/live/ws`, {
        headers: { ...credentialHeaders(credential), ...headers },
      });
      sockets.push(ws);
      return new Promise<LiveAttempt>((resolve, reject) => {
        ws.once('open', () => resolve({ status: 'open', ws }));
        ws.once('unexpected-response', (_req, res) => {
          resolve({ status: res.statusCode ?? 0 });
          res.resume();
          ws.terminate();
        });
        ws.once('error', (err) => reject(err));
      });
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      await server.stop();
      alarms.stop();
      alarmStore.stop();
      metrics.stop();
      users.stop();
      await store.stop();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}
