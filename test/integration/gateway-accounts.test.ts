/**
 * Accounts as the composition root makes them (gateway/main.ts): the
 * first-run admin, users from the config, the demo accounts, and HTTPS,
 * through real starts of the gateway on a real store, signed in over HTTP.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PlantConfig, type PlantConfigInput } from '../../config/schema.js';
import { type Gateway, startGateway } from '../../gateway/main.js';
import { DEMO_ACCOUNTS } from '../../gateway/server/auth/demo-accounts.js';
import { FAST_COST, PLANT } from './peers/auth-rig.js';

let dir: string;
let dashboardDir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gl-accounts-'));
  dashboardDir = join(dir, 'dashboard');
  execFileSync('mkdir', ['-p', dashboardDir]);
  writeFileSync(join(dashboardDir, 'index.html'), '<!doctype html><title>greenline</title>');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly gateway: Gateway;
  readonly announced: string[];
  readonly log: string[];
}

/** the plant, its devices off: these tests are about accounts */
function plant(store: string, extra: Partial<PlantConfigInput> = {}): PlantConfig {
  return PlantConfig.parse({
    ...PLANT,
    devices: PLANT.devices.map((d) => ({ ...d, enabled: false })),
    store: { path: join(dir, store) },
    ...extra,
  });
}

async function start(config: PlantConfig): Promise<Run> {
  const announced: string[] = [];
  const log: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => log.push(line) });
  const gateway = await startGateway({
    config,
    dashboardDir,
    port: 0,
    host: '127.0.0.1',
    log: logger,
    dataDir: join(dir, 'data'),
    announce: (text) => announced.push(text),
    auth: { cost: FAST_COST },
  });
  return { gateway, announced, log };
}

async function login(url: string, username: string, password: string): Promise<number> {
  const res = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('accounts at start', () => {
  it('creates an admin with a random password on the first start, shown once and never logged', async () => {
    const config = plant('first.db');
    const first = await start(config);
    let password: string;
    try {
      expect(first.announced).toHaveLength(1);
      const m = /username\s+admin\s*\n.*password\s+(\S+)/.exec(first.announced[0]!);
      expect(m).not.toBeNull();
      password = m![1]!;
      expect(password).toMatch(/^([a-z2-9]{4}-){4}[a-z2-9]{4}$/);
      expect(first.log.join('\n')).not.toContain(password);
      expect(first.log.join('\n')).toContain('its password was shown once on the console');
      expect(await login(first.gateway.url, 'admin', password)).toBe(200);
    } finally {
      await first.gateway.stop();
    }
    const second = await start(config);
    try {
      expect(second.announced).toEqual([]);
      expect(second.log.join('\n')).not.toContain('first start');
      expect(await login(second.gateway.url, 'admin', password)).toBe(200);
    } finally {
      await second.gateway.stop();
    }
    // a second, fresh store gets a different password
    const other = await start(plant('first-other.db'));
    try {
      expect(other.announced[0]).not.toContain(password);
    } finally {
      await other.gateway.stop();
    }
  });

  it('lets no documented or common password into a real plant', async () => {
    const run = await start(plant('real.db'));
    try {
      const tries: [string, string][] = [
        ...DEMO_ACCOUNTS.map((a): [string, string] => [a.username, a.password]),
        ['admin', 'admin'],
        ['admin', 'password'],
        ['admin', 'greenline'],
        ['admin', 'changeme'],
      ];
      for (const [username, password] of tries) {
        expect(await login(run.gateway.url, username, password), `${username} / ${password}`).toBe(401);
      }
      const info = await (await fetch(`${run.gateway.url}/api/login`)).json();
      expect(info).toEqual({ demoAccounts: [] });
      // and nothing is readable without signing in
      expect((await fetch(`${run.gateway.url}/api/plant`)).status).toBe(401);
      expect((await fetch(`${run.gateway.url}/metrics`)).status).toBe(401);
    } finally {
      await run.gateway.stop();
    }
  });

  it('creates config users that are missing and leaves existing ones as they are', async () => {
    const users = [{ username: 'kim', role: 'energy' as const, password: 'kim password 1' }];
    const first = await start(plant('config-users.db', { users }));
    try {
      expect(first.announced).toEqual([]); // users exist: no first-run admin
      expect(first.log.join('\n')).toContain('no enabled admin');
      expect(await login(first.gateway.url, 'kim', 'kim password 1')).toBe(200);
    } finally {
      await first.gateway.stop();
    }
    const changed = [{ username: 'kim', role: 'energy' as const, password: 'kim password 2' }];
    const second = await start(plant('config-users.db', { users: changed }));
    try {
      expect(await login(second.gateway.url, 'kim', 'kim password 1')).toBe(200);
      expect(await login(second.gateway.url, 'kim', 'kim password 2')).toBe(401);
      expect(second.log.join('\n')).not.toContain('kim password');
    } finally {
      await second.gateway.stop();
    }
  });

  it('has the demo accounts only while server.demoAccounts is on, and says so', async () => {
    const demoConfig = plant('demo.db', { server: { demoAccounts: true } });
    const demo = await start(demoConfig);
    try {
      expect(demo.announced).toHaveLength(1);
      expect(demo.announced[0]).toMatch(/DEMO ACCOUNTS ARE ON/);
      for (const a of DEMO_ACCOUNTS) {
        expect(demo.announced[0]).toContain(a.password);
        expect(await login(demo.gateway.url, a.username, a.password), a.username).toBe(200);
      }
      expect(demo.log.join('\n')).toContain('DEMO ACCOUNTS ARE ON');
      const info = (await (await fetch(`${demo.gateway.url}/api/login`)).json()) as { demoAccounts: unknown[] };
      expect(info.demoAccounts).toEqual(DEMO_ACCOUNTS);
    } finally {
      await demo.gateway.stop();
    }
    // the same store under a real config: the demo accounts are gone
    const real = await start(plant('demo.db'));
    try {
      for (const a of DEMO_ACCOUNTS)
        expect(await login(real.gateway.url, a.username, a.password), a.username).toBe(401);
      expect(real.log.join('\n')).toContain('demo accounts removed');
      // no users were left, so this start made the first-run admin
      expect(real.announced).toHaveLength(1);
      expect(real.announced[0]).toContain('first start');
    } finally {
      await real.gateway.stop();
    }
  });
});

describe('HTTPS', () => {
  let cert: Buffer;
  let certFile: string;
  let keyFile: string;

  beforeAll(() => {
    certFile = join(dir, 'cert.pem');
    keyFile = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(certFile);
  });

  function call(
    url: string,
    options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, ca: cert }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end(options.body);
    });
  }

  it('serves over TLS with Secure, __Host- cookies and a wss live socket', async () => {
    const run = await start(plant('tls.db', { server: { tls: { certFile, keyFile }, demoAccounts: true } }));
    try {
      expect(run.gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await call(`${run.gateway.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'viewer', password: 'viewer-demo' }),
      });
      expect(res.status).toBe(200);
      const set = String(res.headers['set-cookie']);
      expect(set).toMatch(
        /^__Host-greenline_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/,
      );
      const cookie = set.split(';')[0]!;
      const plantView = await call(`${run.gateway.url}/api/plant`, { headers: { cookie } });
      expect(plantView.status).toBe(200);
      // the plain-HTTP cookie name means nothing here
      const plainName = await call(`${run.gateway.url}/api/plant`, {
        headers: { cookie: cookie.replace('__Host-', '') },
      });
      expect(plainName.status).toBe(401);
      const ws = new WebSocket(`${run.gateway.url.replace('https', 'wss')}/api/live/ws`, {
        ca: cert,
        headers: { cookie },
      });
      const hello = await new Promise<string>((resolve, reject) => {
        ws.once('message', (m) => resolve(String(m)));
        ws.once('error', reject);
      });
      expect(JSON.parse(hello)).toMatchObject({ type: 'hello' });
      ws.close();
    } finally {
      await run.gateway.stop();
    }
  });

  it('names the file when a certificate or key cannot be used', async () => {
    const missing = join(dir, 'missing.pem');
    await expect(start(plant('tls-bad.db', { server: { tls: { certFile: missing, keyFile } } }))).rejects.toThrow(
      `cannot read server.tls.certFile ${missing}`,
    );
    await expect(start(plant('tls-bad.db', { server: { tls: { certFile, keyFile: missing } } }))).rejects.toThrow(
      `cannot read server.tls.keyFile ${missing}`,
    );
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a key');
    await expect(start(plant('tls-bad.db', { server: { tls: { certFile, keyFile: garbage } } }))).rejects.toThrow(
      new RegExp(`cannot use server.tls.certFile .* with server.tls.keyFile ${garbage}`),
    );
  });
});
