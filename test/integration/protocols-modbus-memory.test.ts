/**
 * A device that drops the connection after every answer, 1 000 times in a
 * row: the driver's heap stays flat and, once stopped, it leaves no sockets
 * or timers behind.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusTcpDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import type { Driver, DriverContext, Sample } from '../../protocols/types.js';
import { BadModbusServer } from './peers/bad-modbus-server.js';
import { deepFreeze } from './peers/recording-context.js';

const CYCLES = 1000;
const WARM_UP = 100;
const MAX_GROWTH_BYTES = 5 * 1024 * 1024;

/** The real `gc` when node runs with --expose-gc; otherwise exposed at run time. */
function exposeGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose_gc');
  return vm.runInNewContext('gc') as () => void;
}

async function settledHeap(gc: () => void): Promise<number> {
  let used = Number.POSITIVE_INFINITY;
  // several rounds: finalizers and weak callbacks free more on the next pass
  for (let i = 0; i < 6; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
    used = Math.min(used, process.memoryUsage().heapUsed);
  }
  return used;
}

/** Active handles by type ('TCPSocketWrap', 'Timeout', …) */
function resources(): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) out.set(r, (out.get(r) ?? 0) + 1);
  return out;
}

/** Keeps the last sample per tag only: the test measures the driver, not a growing log. */
function countingContext(): DriverContext & { samples: number; latest: Map<string, Sample> } {
  const latest = new Map<string, Sample>();
  const ctx = {
    samples: 0,
    latest,
    now: () => Date.now(),
    log: { debug() {}, info() {}, warn() {}, error() {} },
    emit(batch: readonly Sample[]) {
      ctx.samples += batch.length;
      for (const s of batch) latest.set(s.tagId, s);
    },
  };
  return ctx;
}

describe('1 000 disconnect/reconnect cycles', () => {
  let server: BadModbusServer;
  let driver: Driver | undefined;
  const gc = exposeGc();
  let before: Map<string, number>;

  beforeAll(async () => {
    server = await BadModbusServer.start({ holdingRegisters: Array.from({ length: 40 }, (_, i) => i) });
    // one answer per connection, then the server hangs up
    server.closeAfterAnswers = 1;
    before = resources();
  });

  afterAll(async () => {
    await driver?.stop();
    await server?.stop();
  });

  it('keeps the heap flat and leaves no handles behind', async () => {
    const device = deepFreeze(
      ModbusTcpDevice.parse({
        protocol: 'modbus-tcp',
        id: 'flappy',
        host: '127.0.0.1',
        port: server.port,
        timeoutMs: 500,
        pollGroups: { default: 1000, slow: 5000 },
        tags: [
          ...Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, address: `hr:${i * 2}`, type: 'float32' })),
          { id: 'far', address: 'hr:35', pollGroup: 'slow' },
          // refused by the server (beyond its data): a Refusal that is re-probed on every reconnect
          { id: 'missing', address: 'hr:100' },
        ],
      }),
    );
    const ctx = countingContext();
    driver = createDriver(device, ctx, { backoff: { initialMs: 1, maxMs: 2 } });
    await driver.start();

    const waitFor = async (connections: number) => {
      const deadline = Date.now() + 30_000;
      while (server.connections < connections) {
        if (Date.now() > deadline) throw new Error(`only ${server.connections} connections after 30 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };

    await waitFor(WARM_UP);
    const heapBefore = await settledHeap(gc);
    const started = Date.now();
    await waitFor(WARM_UP + CYCLES);
    const elapsed = Date.now() - started;
    const heapAfter = await settledHeap(gc);

    const status = driver.status();
    expect(status.counters.reconnects).toBeGreaterThanOrEqual(WARM_UP + CYCLES - 1);
    expect(ctx.latest.get('t0')?.quality).toBeDefined();
    expect(ctx.samples).toBeGreaterThan(CYCLES);
    // measured after forced collections on both sides
    expect(
      heapAfter - heapBefore,
      `heap ${heapBefore} → ${heapAfter} over ${CYCLES} cycles in ${elapsed} ms`,
    ).toBeLessThan(MAX_GROWTH_BYTES);

    await driver.stop();
    driver = undefined;
    server.dropConnections();
    // sockets close on the next turns of the event loop
    const deadline = Date.now() + 2000;
    let after = resources();
    const settled = () =>
      (after.get('TCPSocketWrap') ?? 0) <= (before.get('TCPSocketWrap') ?? 0) &&
      (after.get('Timeout') ?? 0) <= (before.get('Timeout') ?? 0);
    while (!settled() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      after = resources();
    }
    expect(after.get('TCPSocketWrap') ?? 0).toBeLessThanOrEqual(before.get('TCPSocketWrap') ?? 0);
    expect(after.get('Timeout') ?? 0).toBeLessThanOrEqual(before.get('Timeout') ?? 0);
  });
});
