/**
 * The MQTT driver's connection options against mosquitto: TLS with a CA made
 * here by openssl (server certificate only, and mutual TLS), refused
 * certificates, unreadable files, and persistent sessions that keep QoS 1
 * messages while the gateway is away.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type MqttClient, connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import type { Driver } from '../../protocols/types.js';
import { freePort, waitForPort } from './peers/free-port.js';
import { MOSQUITTO_BIN, type MosquittoPeer, startMosquitto } from './peers/mosquitto.js';
import { type RecordingContext, deepFreeze, recordingContext } from './peers/recording-context.js';

interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
}

/** A throwaway CA, a server certificate for 127.0.0.1 / localhost and a client certificate (EC P-256, 1 day). */
function makePki(): Pki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gl-mqtt-tls-'));
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=greenline test CA',
  );
  openssl('req', '-x509', ...ecKey, '-keyout', 'other.key', '-out', 'other.crt', '-days', '1', '-subj', '/CN=other CA');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('req', ...ecKey, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '1',
    '-extfile',
    'server.ext',
  );
  openssl('req', ...ecKey, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=greenline-gateway');
  openssl(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '1',
  );
  // mosquitto started as root drops to its own user: let it read the files (throwaway test keys)
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) chmodSync(f(name), 0o644);
  return {
    dir,
    ca: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    otherCa: f('other.crt'),
  };
}

interface TlsBroker {
  serverOnly: number;
  mutual: number;
  stop(): Promise<void>;
}

/** mosquitto with two TLS listeners: server certificate only, and client certificate required. */
async function startTlsMosquitto(pki: Pki): Promise<TlsBroker> {
  const serverOnly = await freePort();
  const mutual = await freePort();
  const conf = path.join(pki.dir, 'mosquitto.conf');
  const tls = [`cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`];
  writeFileSync(
    conf,
    [
      'per_listener_settings true',
      `listener ${serverOnly} 127.0.0.1`,
      'allow_anonymous true',
      ...tls,
      `listener ${mutual} 127.0.0.1`,
      'allow_anonymous true',
      ...tls,
      'require_certificate true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  );
  let stderr = '';
  const proc = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${stderr.trim()}`))),
  );
  exited.catch(() => {});
  await Promise.race([Promise.all([waitForPort(serverOnly, 5000), waitForPort(mutual, 5000)]), exited]);
  return {
    serverOnly,
    mutual,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => proc.kill('SIGKILL'), 2000);
        proc.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        proc.kill('SIGTERM');
      });
    },
  };
}

describe('MQTT over TLS (mosquitto, a CA made by openssl)', () => {
  let pki: Pki;
  let broker: TlsBroker;
  const drivers: Driver[] = [];

  const start = async (url: string, tls: Record<string, unknown>, ctx: RecordingContext) => {
    const device = MqttDevice.parse({
      protocol: 'mqtt',
      id: `tls${drivers.length}`,
      url,
      tls,
      tags: [{ id: 'temp', topic: 'tls/temp', jsonPath: 'v' }],
    });
    const driver = createDriver(deepFreeze(device), ctx, { backoff: { initialMs: 200, maxMs: 400 } });
    drivers.push(driver);
    await driver.start();
    return driver;
  };

  const publishOverTls = async (port: number, payload: string) => {
    const pub = await connectAsync(`mqtts://127.0.0.1:${port}`, {
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
      reconnectPeriod: 0,
    });
    try {
      await pub.publishAsync('tls/temp', payload, { qos: 1 });
    } finally {
      await pub.endAsync();
    }
  };

  beforeAll(async () => {
    pki = makePki();
    broker = await startTlsMosquitto(pki);
  });

  afterAll(async () => {
    for (const d of drivers) await d.stop();
    await broker?.stop();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('connects with the CA file and reads values', async () => {
    const ctx = recordingContext();
    const driver = await start(`mqtts://127.0.0.1:${broker.serverOnly}`, { ca: pki.ca }, ctx);
    await ctx.until(() => driver.status().state === 'connected', 10_000, 'the TLS connection');
    await new Promise((r) => setTimeout(r, 200));
    await publishOverTls(broker.serverOnly, '{"v": 19.5}');
    await ctx.until(() => ctx.latest('temp')?.value === 19.5, 5000, 'a value over TLS');
    expect(driver.status().endpoint).toBe(`mqtts://127.0.0.1:${broker.serverOnly}`);
  });

  it('refuses a broker certificate its CA did not sign, unless told not to check', async () => {
    const ctx = recordingContext();
    const driver = await start(`mqtts://127.0.0.1:${broker.serverOnly}`, { ca: pki.otherCa }, ctx);
    await ctx.until(() => driver.status().counters.errors >= 1, 10_000, 'the refused certificate');
    expect(driver.status().state).not.toBe('connected');
    expect(driver.status().lastError).toMatch(/^connect failed: .*(certificate|self.signed)/i);
    expect(ctx.latest('temp')).toMatchObject({ quality: 'bad', reason: 'disconnected' });

    const lax = recordingContext();
    const trusting = await start(`mqtts://127.0.0.1:${broker.serverOnly}`, { rejectUnauthorized: false }, lax);
    await lax.until(() => trusting.status().state === 'connected', 10_000, 'the unchecked connection');
  });

  it('presents a client certificate where the broker requires one', async () => {
    const ctx = recordingContext();
    const url = `mqtts://127.0.0.1:${broker.mutual}`;
    const driver = await start(url, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }, ctx);
    await ctx.until(() => driver.status().state === 'connected', 10_000, 'mutual TLS');
    await new Promise((r) => setTimeout(r, 200));
    await publishOverTls(broker.mutual, '{"v": 7}');
    await ctx.until(() => ctx.latest('temp')?.value === 7, 5000, 'a value over mutual TLS');

    const without = recordingContext();
    const refused = await start(url, { ca: pki.ca }, without);
    await without.until(() => refused.status().counters.errors >= 1, 10_000, 'the refusal');
    expect(refused.status().state).not.toBe('connected');
  });

  it('a TLS file that cannot be read fails the attempt with its name, and is tried again', async () => {
    const ctx = recordingContext();
    const missing = path.join(pki.dir, 'missing-ca.crt');
    const driver = await start(`mqtts://127.0.0.1:${broker.serverOnly}`, { ca: missing }, ctx);
    await ctx.until(() => driver.status().counters.reconnects >= 1, 10_000, 'a second attempt');
    expect(driver.status().lastError).toContain(`cannot read tls.ca "${missing}"`);
    expect(ctx.latest('temp')).toMatchObject({ quality: 'bad', reason: 'disconnected' });
  });
});

describe('MQTT persistent sessions (mosquitto)', () => {
  let broker: MosquittoPeer;
  let publisher: MqttClient;

  beforeAll(async () => {
    broker = await startMosquitto();
    publisher = await connectAsync(broker.url, { reconnectPeriod: 0 });
  });

  afterAll(async () => {
    await publisher?.endAsync(true);
    await broker?.stop();
  });

  const run = async (cleanSession: boolean, clientId: string, topic: string) => {
    const device = MqttDevice.parse({
      protocol: 'mqtt',
      id: 'session',
      url: broker.url,
      clientId,
      cleanSession,
      sessionExpirySeconds: 600,
      qos: 1,
      tags: [{ id: 'count', topic, type: 'uint32' }],
    });
    const first = recordingContext();
    const a = createDriver(device, first);
    await a.start();
    await first.until(() => a.status().state === 'connected', 5000, 'the first connection');
    await publisher.publishAsync(topic, '1', { qos: 1 });
    await first.until(() => first.latest('count')?.value === 1, 3000, 'the first value');
    await a.stop();

    // published while the gateway is away
    await publisher.publishAsync(topic, '2', { qos: 1 });

    const second = recordingContext();
    const b = createDriver(device, second);
    await b.start();
    try {
      await second.until(() => b.status().state === 'connected', 5000, 'the second connection');
      await new Promise((r) => setTimeout(r, 500));
      await publisher.publishAsync(topic, '3', { qos: 1 });
      await second.until(() => second.latest('count')?.value === 3, 3000, 'a value after the restart');
      return second.of('count').map((s) => s.value);
    } finally {
      await b.stop();
    }
  };

  it('cleanSession false: QoS 1 messages sent while away arrive on reconnect', async () => {
    expect(await run(false, 'greenline-persistent-test', 'session/persistent')).toEqual([2, 3]);
  });

  it('cleanSession true: they do not', async () => {
    expect(await run(true, 'greenline-clean-test', 'session/clean')).toEqual([3]);
  });
});
