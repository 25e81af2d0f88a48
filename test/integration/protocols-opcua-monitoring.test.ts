/**
 * How the OPC UA driver sets up monitoring, seen from the server: one
 * subscription, monitored items and browse paths in batches no larger than
 * the server's operation limits, deadband filters (absolute, and percent of
 * the EURange), and the fall-back to no filter when the server refuses one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateMonitoredItemsRequest,
  CreateSubscriptionRequest,
  DataType,
  nodesets,
  OPCUACertificateManager,
  OPCUAServer,
  TranslateBrowsePathsToNodeIdsRequest,
  Variant,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpcuaDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import type { Driver } from '../../protocols/types.js';
import { freePort } from './peers/free-port.js';
import { recordingContext } from './peers/recording-context.js';

const N = 10;
const values = Array.from({ length: N }, (_, i) => i * 10);
const state = { level: 50, plain: 1, label: 'A' };

interface Seen {
  createMonitoredItems: number[];
  translate: number[];
  createSubscription: number;
}

describe('OPC UA monitoring set-up', () => {
  let server: OPCUAServer;
  let driver: Driver;
  let tmp: string;
  let ns: number;
  const ctx = recordingContext();
  const seen: Seen = { createMonitoredItems: [], translate: [], createSubscription: 0 };
  const counters = () => driver.status().counters as unknown as Record<string, number>;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'gl-opcua-mon-'));
    const port = await freePort();
    server = new OPCUAServer({
      port,
      host: '127.0.0.1',
      hostname: '127.0.0.1',
      nodeset_filename: [nodesets.standard],
      allowAnonymous: true,
      serverCapabilities: {
        operationLimits: { maxMonitoredItemsPerCall: 4, maxNodesPerTranslateBrowsePathsToNodeIds: 3 },
      },
      serverCertificateManager: new OPCUACertificateManager({
        rootFolder: path.join(tmp, 'server'),
        automaticallyAcceptUnknownCertificate: true,
      }),
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace!;
    const own = addressSpace.getOwnNamespace();
    ns = own.index;
    const bench = own.addFolder(addressSpace.rootFolder.objects, { browseName: 'Bench', nodeId: 's=Bench' });
    const common = (name: string) => ({
      componentOf: bench,
      browseName: name,
      nodeId: `s=Bench.${name}`,
      minimumSamplingInterval: 50,
    });
    for (let i = 0; i < N; i++) {
      own.addVariable({
        ...common(`T${i}`),
        dataType: 'Double',
        value: { get: () => new Variant({ dataType: DataType.Double, value: values[i] }) },
      });
    }
    own.addAnalogDataItem({
      ...common('Level'),
      dataType: 'Double',
      engineeringUnitsRange: { low: 0, high: 100 },
      value: { get: () => new Variant({ dataType: DataType.Double, value: state.level }) },
    });
    own.addVariable({
      ...common('Plain'),
      dataType: 'Double',
      value: { get: () => new Variant({ dataType: DataType.Double, value: state.plain }) },
    });
    own.addVariable({
      ...common('Label'),
      dataType: 'String',
      value: { get: () => new Variant({ dataType: DataType.String, value: state.label }) },
    });
    server.on('request', (request) => {
      if (request instanceof CreateMonitoredItemsRequest) {
        seen.createMonitoredItems.push(request.itemsToCreate?.length ?? 0);
      } else if (request instanceof TranslateBrowsePathsToNodeIdsRequest) {
        seen.translate.push(request.browsePaths?.length ?? 0);
      } else if (request instanceof CreateSubscriptionRequest) {
        seen.createSubscription++;
      }
    });
    await server.start();

    const device = OpcuaDevice.parse({
      protocol: 'opcua',
      id: 'bench',
      endpointUrl: `opc.tcp://127.0.0.1:${port}`,
      publishingIntervalMs: 100,
      samplingIntervalMs: 50,
      timeoutMs: 5000,
      tags: [
        ...values.map((_, i) => ({ id: `t${i}`, nodeId: `ns=${ns};s=Bench.T${i}` })),
        ...[0, 1, 2, 3, 4].map((i) => ({ id: `p${i}`, browsePath: `/Objects/${ns}:Bench/${ns}:T${i}` })),
        { id: 'abs', nodeId: `ns=${ns};s=Bench.T9`, serverDeadband: { type: 'absolute', value: 1 } },
        { id: 'pct', nodeId: `ns=${ns};s=Bench.Level`, serverDeadband: { type: 'percent', value: 10 } },
        { id: 'pctNoRange', nodeId: `ns=${ns};s=Bench.Plain`, serverDeadband: { type: 'percent', value: 10 } },
        { id: 'labelAbs', nodeId: `ns=${ns};s=Bench.Label`, serverDeadband: { type: 'absolute', value: 1 } },
        { id: 'slow', nodeId: `ns=${ns};s=Bench.T0`, samplingIntervalMs: 500, queueSize: 3 },
      ],
    });
    driver = createDriver(device, ctx, { dataDir: path.join(tmp, 'client'), backoff: { initialMs: 200, maxMs: 800 } });
    await driver.start();
    const ids = device.tags.map((t) => t.id);
    await ctx.until(() => ids.every((id) => ctx.latest(id)?.quality === 'good'), 30_000, 'a good value for every tag');
  });

  afterAll(async () => {
    await driver?.stop();
    await server?.shutdown(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('uses one subscription and requests no larger than the server allows', () => {
    expect(seen.createSubscription).toBe(1);
    expect(server.engine.currentSubscriptionCount).toBe(1);
    expect(Math.max(...seen.createMonitoredItems)).toBeLessThanOrEqual(4);
    expect(Math.max(...seen.translate)).toBeLessThanOrEqual(3);
    // 5 paths in batches of 3
    expect(seen.translate).toEqual([3, 2]);
    // 15 items with the default parameters, 1 slow one, 4 with a deadband, 2 of them again without
    const created = seen.createMonitoredItems.reduce((a, b) => a + b, 0);
    expect(created).toBe(15 + 1 + 4 + 2);
    expect(seen.createMonitoredItems.length).toBeLessThan(created);
    expect(ctx.latest('p3')?.value).toBe(30);
  });

  it('drops a filter the server refuses, with a warning and a counter, and the tag still reports', async () => {
    expect(counters().filterFallbacks).toBe(2);
    const warnings = ctx.lines.filter((l) => String(l.obj.kind).startsWith('filter-refused'));
    expect(warnings.map((w) => w.level)).toEqual(['warn', 'warn']);
    expect(warnings.flatMap((w) => w.obj.tagIds as string[]).sort()).toEqual(['labelAbs', 'pctNoRange']);
    expect(warnings.map((w) => w.obj.status).sort()).toEqual([
      'BadFilterNotAllowed',
      'BadMonitoredItemFilterUnsupported',
    ]);
    state.plain = 1.5;
    state.label = 'B';
    await ctx.until(
      () => ctx.latest('pctNoRange')?.value === 1.5 && ctx.latest('labelAbs')?.value === 'B',
      10_000,
      'changes without a filter',
    );
  });

  it('lets the server hold back changes inside the deadband', async () => {
    values[9] = 90.4; // inside the absolute deadband of 1
    state.level = 55; // inside 10 % of 0 … 100
    await new Promise((r) => setTimeout(r, 1000));
    values[9] = 92;
    state.level = 70;
    await ctx.until(
      () => ctx.latest('abs')?.value === 92 && ctx.latest('pct')?.value === 70,
      10_000,
      'changes beyond the deadband',
    );
    expect(ctx.of('abs').map((s) => s.value)).not.toContain(90.4);
    expect(ctx.of('pct').map((s) => s.value)).not.toContain(55);
    // the tag on the same variable without a filter saw the small change
    expect(ctx.of('t9').map((s) => s.value)).toContain(90.4);
  });
});
