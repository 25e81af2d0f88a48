/**
 * The OPC UA driver against a node-opcua server: values by subscription,
 * an unknown node id, unsupported types, the server stopping and coming back
 * on the same port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  Variant,
  VariantArrayType,
  nodesets,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpcuaDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import type { Driver } from '../../protocols/types.js';
import { freePort } from './peers/free-port.js';
import { deepFreeze, recordingContext } from './peers/recording-context.js';

const state = {
  temperature: 21.5,
  running: true,
  mode: 'AUTO',
  count: -5,
};

async function startServer(port: number, pkiDir: string): Promise<OPCUAServer> {
  const server = new OPCUAServer({
    port,
    host: '127.0.0.1',
    hostname: '127.0.0.1',
    nodeset_filename: [nodesets.standard],
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
    allowAnonymous: true,
    userManager: {
      isValidUser: (user: string, password: string) => user === 'operator' && password === 'line-2-secret',
    },
    serverCertificateManager: new OPCUACertificateManager({
      rootFolder: path.join(pkiDir, 'server'),
      automaticallyAcceptUnknownCertificate: true,
    }),
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace!;
  const ns = addressSpace.getOwnNamespace();
  const line = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Line' });
  const variable = (name: string, dataType: string, get: () => Variant) =>
    ns.addVariable({
      componentOf: line,
      browseName: name,
      nodeId: `s=Line.${name}`,
      dataType,
      minimumSamplingInterval: 50,
      value: { get },
    });
  variable('Temperature', 'Double', () => new Variant({ dataType: DataType.Double, value: state.temperature }));
  variable('Running', 'Boolean', () => new Variant({ dataType: DataType.Boolean, value: state.running }));
  variable('Mode', 'String', () => new Variant({ dataType: DataType.String, value: state.mode }));
  variable('Count', 'Int64', () => new Variant({ dataType: DataType.Int64, value: state.count }));
  variable(
    'Profile',
    'Double',
    () => new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1, 2, 3] }),
  );
  await server.start();
  return server;
}

describe('OPC UA driver against a node-opcua server', () => {
  let server: OPCUAServer | null = null;
  let driver: Driver;
  let port: number;
  let tmp: string;
  const ctx = recordingContext();
  const IDS = ['temperature', 'running', 'mode', 'count', 'profile', 'bogus'];

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'gl-opcua-'));
    port = await freePort();
    server = await startServer(port, tmp);
    const ns = server.engine.addressSpace!.getOwnNamespace().index;
    const device = OpcuaDevice.parse({
      protocol: 'opcua',
      id: 'cnc1',
      endpointUrl: `opc.tcp://127.0.0.1:${port}`,
      publishingIntervalMs: 100,
      samplingIntervalMs: 50,
      timeoutMs: 3000,
      tags: [
        { id: 'temperature', nodeId: `ns=${ns};s=Line.Temperature` },
        { id: 'running', nodeId: `ns=${ns};s=Line.Running`, samplingIntervalMs: 100 },
        { id: 'mode', nodeId: `ns=${ns};s=Line.Mode` },
        { id: 'count', nodeId: `ns=${ns};s=Line.Count` },
        { id: 'profile', nodeId: `ns=${ns};s=Line.Profile` },
        { id: 'bogus', nodeId: `ns=${ns};s=Line.DoesNotExist` },
      ],
    });
    driver = createDriver(deepFreeze(device), ctx, {
      dataDir: path.join(tmp, 'client'),
      backoff: { initialMs: 200, maxMs: 800 },
    });
    await driver.start();
  });

  afterAll(async () => {
    await driver?.stop();
    await server?.shutdown(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('receives values by subscription; an unknown node id is bad, the rest fine', async () => {
    await ctx.until(() => IDS.every((id) => ctx.latest(id) !== undefined), 20_000, 'a first value for every tag');
    expect(ctx.latest('temperature')).toMatchObject({ value: 21.5, quality: 'good' });
    expect(ctx.latest('running')).toMatchObject({ value: true, quality: 'good' });
    expect(ctx.latest('mode')).toMatchObject({ value: 'AUTO', quality: 'good' });
    expect(ctx.latest('count')).toMatchObject({ value: -5, quality: 'good' });
    expect(ctx.latest('profile')).toMatchObject({
      value: null,
      quality: 'bad',
      reason: 'decode error: unsupported type (Array of Double)',
    });
    expect(ctx.latest('bogus')).toMatchObject({ value: null, quality: 'bad', reason: 'BadNodeIdUnknown' });
    const ts = ctx.latest('temperature')!.ts;
    expect(Math.abs(ts - Date.now())).toBeLessThan(10_000);
    const status = driver.status();
    expect(status.state).toBe('connected');
    expect(status.endpoint).toBe(`opc.tcp://127.0.0.1:${port}`);
  });

  it('follows value changes', async () => {
    state.temperature = 23.25;
    state.mode = 'MANUAL';
    await ctx.until(
      () => ctx.latest('temperature')?.value === 23.25 && ctx.latest('mode')?.value === 'MANUAL',
      5000,
      'the changed values',
    );
  });

  it('signs in with a user name over an encrypted channel; a wrong password shows as a connection error', async () => {
    const ns = server!.engine.addressSpace!.getOwnNamespace().index;
    const make = (password: string) =>
      OpcuaDevice.parse({
        protocol: 'opcua',
        id: `user-${password.length}`,
        endpointUrl: `opc.tcp://127.0.0.1:${port}`,
        // a password travels only on an encrypted channel
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Basic256Sha256',
        auth: { type: 'username', username: 'operator', password },
        publishingIntervalMs: 100,
        timeoutMs: 3000,
        tags: [{ id: 'temperature', nodeId: `ns=${ns};s=Line.Temperature` }],
      });
    const good = recordingContext();
    const bad = recordingContext();
    const drivers = [
      createDriver(make('line-2-secret'), good, { dataDir: path.join(tmp, 'client'), backoff: { initialMs: 5000 } }),
      createDriver(make('wrong'), bad, { dataDir: path.join(tmp, 'client'), backoff: { initialMs: 5000 } }),
    ];
    try {
      await Promise.all(drivers.map((d) => d.start()));
      await good.until(() => good.latest('temperature')?.quality === 'good', 10_000, 'a value with user sign-in');
      await bad.until(() => bad.latest('temperature')?.reason === 'disconnected', 10_000, 'the refused sign-in');
      expect(drivers[1]!.status().lastError).toMatch(
        /BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid/,
      );
    } finally {
      await Promise.all(drivers.map((d) => d.stop()));
    }
  });

  it('marks tags disconnected when the server stops, and recovers when it is back on the same port', async () => {
    const before = ctx.samples.length;
    await server!.shutdown(0);
    server = null;
    await ctx.until(() => IDS.every((id) => ctx.latest(id)?.reason === 'disconnected'), 10_000, 'disconnected tags');
    await new Promise((r) => setTimeout(r, 500));
    for (const id of IDS) {
      expect(
        ctx.samples.slice(before).filter((s) => s.tagId === id && s.reason === 'disconnected'),
        id,
      ).toHaveLength(1);
    }
    expect(driver.status().state).not.toBe('connected');

    state.temperature = 30;
    server = await startServer(port, tmp);
    await ctx.until(() => ctx.latest('temperature')?.value === 30, 20_000, 'values after the restart');
    expect(ctx.latest('temperature')?.quality).toBe('good');
    expect(ctx.latest('bogus')?.reason).toBe('BadNodeIdUnknown');
    expect(driver.status().state).toBe('connected');
    expect(driver.status().counters.reconnects).toBeGreaterThan(0);
  });
});
