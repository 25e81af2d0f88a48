/**
 * The OPC UA driver against a node-opcua server: values by subscription,
 * tags by node id, by `nsu=` namespace URI and by browse path, every kind of
 * bad input (unknown node, unsupported type, Bad status, NaN and Infinity,
 * a path that leads nowhere), and the server stopping and coming back on the
 * same port with new node ids behind the same browse path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DataType,
  DataValue,
  OPCUACertificateManager,
  OPCUAServer,
  StatusCodes,
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
  pressure: 2.5,
};

/** Generation 2 is the same plant after a server update: Pressure has a new node id. */
async function startServer(port: number, pkiDir: string, generation: 1 | 2): Promise<OPCUAServer> {
  const server = new OPCUAServer({
    port,
    host: '127.0.0.1',
    hostname: '127.0.0.1',
    nodeset_filename: [nodesets.standard],
    allowAnonymous: true,
    serverCertificateManager: new OPCUACertificateManager({
      rootFolder: path.join(pkiDir, 'server'),
      automaticallyAcceptUnknownCertificate: true,
    }),
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace!;
  const ns = addressSpace.getOwnNamespace();
  const line = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Line', nodeId: 's=Line' });
  const variable = (name: string, dataType: string, get: () => Variant, nodeId = `s=Line.${name}`) =>
    ns.addVariable({
      componentOf: line,
      browseName: name,
      nodeId,
      dataType,
      minimumSamplingInterval: 50,
      value: { get },
    });
  const double = (v: () => number) => () => new Variant({ dataType: DataType.Double, value: v() });
  variable(
    'Temperature',
    'Double',
    double(() => state.temperature),
  );
  variable('Running', 'Boolean', () => new Variant({ dataType: DataType.Boolean, value: state.running }));
  variable('Mode', 'String', () => new Variant({ dataType: DataType.String, value: state.mode }));
  variable('Count', 'Int64', () => new Variant({ dataType: DataType.Int64, value: state.count }));
  variable(
    'Pressure',
    'Double',
    double(() => state.pressure),
    generation === 1 ? 's=Line.Pressure' : 'i=7001',
  );
  variable(
    'Profile',
    'Double',
    () => new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1, 2, 3] }),
  );
  variable('Blob', 'ByteString', () => new Variant({ dataType: DataType.ByteString, value: Buffer.from([1, 2]) }));
  variable(
    'NotANumber',
    'Double',
    double(() => Number.NaN),
  );
  variable(
    'Overflow',
    'Double',
    double(() => Number.POSITIVE_INFINITY),
  );
  ns.addVariable({
    componentOf: line,
    browseName: 'Broken',
    nodeId: 's=Line.Broken',
    dataType: 'Double',
    minimumSamplingInterval: 50,
    value: {
      timestamped_get: () =>
        new DataValue({
          value: new Variant({ dataType: DataType.Double, value: 0 }),
          statusCode: StatusCodes.BadSensorFailure,
          sourceTimestamp: new Date(),
        }),
    },
  });
  await server.start();
  return server;
}

describe('OPC UA driver against a node-opcua server', () => {
  let server: OPCUAServer | null = null;
  let driver: Driver;
  let port: number;
  let tmp: string;
  const ctx = recordingContext();
  const GOOD = ['temperature', 'running', 'mode', 'count', 'modeByUri', 'pressure'];
  const BAD = ['profile', 'blob', 'broken', 'nan', 'inf', 'bogus', 'nowhere'];
  const IDS = [...GOOD, ...BAD];
  const counters = () => driver.status().counters as unknown as Record<string, number>;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'gl-opcua-'));
    port = await freePort();
    server = await startServer(port, tmp, 1);
    const ownNs = server.engine.addressSpace!.getOwnNamespace();
    const ns = ownNs.index;
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
        { id: 'modeByUri', nodeId: `nsu=${ownNs.namespaceUri};s=Line.Mode` },
        { id: 'pressure', browsePath: `/Objects/${ns}:Line/${ns}:Pressure` },
        { id: 'profile', nodeId: `ns=${ns};s=Line.Profile` },
        { id: 'blob', nodeId: `ns=${ns};s=Line.Blob` },
        { id: 'broken', nodeId: `ns=${ns};s=Line.Broken` },
        { id: 'nan', nodeId: `ns=${ns};s=Line.NotANumber` },
        { id: 'inf', nodeId: `ns=${ns};s=Line.Overflow` },
        { id: 'bogus', nodeId: `ns=${ns};s=Line.DoesNotExist` },
        { id: 'nowhere', browsePath: `/Objects/${ns}:Line/${ns}:Nope` },
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

  it('receives values by node id, namespace URI and browse path', async () => {
    await ctx.until(() => IDS.every((id) => ctx.latest(id) !== undefined), 20_000, 'a first value for every tag');
    expect(ctx.latest('temperature')).toMatchObject({ value: 21.5, quality: 'good' });
    expect(ctx.latest('running')).toMatchObject({ value: true, quality: 'good' });
    expect(ctx.latest('mode')).toMatchObject({ value: 'AUTO', quality: 'good' });
    expect(ctx.latest('count')).toMatchObject({ value: -5, quality: 'good' });
    expect(ctx.latest('modeByUri')).toMatchObject({ value: 'AUTO', quality: 'good' });
    expect(ctx.latest('pressure')).toMatchObject({ value: 2.5, quality: 'good' });
    const ts = ctx.latest('temperature')!.ts;
    expect(Math.abs(ts - Date.now())).toBeLessThan(10_000);
    const status = driver.status();
    expect(status.state).toBe('connected');
    expect(status.endpoint).toBe(`opc.tcp://127.0.0.1:${port}`);
    expect(server!.engine.currentSessionCount).toBe(1);
    expect(server!.engine.currentSubscriptionCount).toBe(1);
  });

  it('makes each bad input a bad sample with its reason and a counter, the rest flowing', async () => {
    const reasons = {
      profile: 'decode error: unsupported type (Array of Double)',
      blob: 'decode error: unsupported type (ByteString)',
      broken: 'BadSensorFailure',
      nan: 'decode error: NaN',
      inf: 'decode error: Infinity',
      bogus: 'BadNodeIdUnknown',
      nowhere: 'browse path not found (BadNoMatch)',
    };
    for (const [id, reason] of Object.entries(reasons)) {
      expect(ctx.latest(id), id).toMatchObject({ value: null, quality: 'bad', reason });
    }
    const c = counters();
    expect(c.decodeErrors).toBeGreaterThanOrEqual(4);
    expect(c.badStatus).toBeGreaterThanOrEqual(1);
    expect(c.itemsRefused).toBe(1);
    expect(c.pathsUnresolved).toBe(1);
    expect(c.errors).toBeGreaterThanOrEqual(7);
    // one warning per tag, not one per notification
    const warned = ctx.lines.filter((l) => l.level === 'warn' && l.obj.tagId === 'nan');
    expect(warned).toHaveLength(1);
  });

  it('follows value changes and keeps re-sending steady values', async () => {
    const before = ctx.of('running').length;
    state.temperature = 23.25;
    state.mode = 'MANUAL';
    await ctx.until(
      () => ctx.latest('temperature')?.value === 23.25 && ctx.latest('mode')?.value === 'MANUAL',
      5000,
      'the changed values',
    );
    await ctx.until(() => ctx.of('running').length >= before + 2, 10_000, 're-sent steady values');
    // re-sent unchanged: same value, same source timestamp
    const running = ctx.of('running').slice(-2);
    expect(running[1]).toEqual(running[0]);
  });

  it('marks tags disconnected when the server stops, and after a restart resolves browse paths again', async () => {
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
    state.pressure = 3.75;
    server = await startServer(port, tmp, 2);
    await ctx.until(
      () => ctx.latest('temperature')?.value === 30 && ctx.latest('pressure')?.value === 3.75,
      20_000,
      'values after the restart',
    );
    expect(ctx.latest('temperature')?.quality).toBe('good');
    expect(ctx.latest('pressure')?.quality).toBe('good');
    expect(ctx.latest('bogus')?.reason).toBe('BadNodeIdUnknown');
    expect(driver.status().state).toBe('connected');
    expect(driver.status().counters.reconnects).toBeGreaterThan(0);
    // one session and one subscription, however many reconnection attempts it took
    await new Promise((r) => setTimeout(r, 500));
    expect(server.engine.currentSessionCount).toBe(1);
    expect(server.engine.currentSubscriptionCount).toBe(1);
  });
});
