/**
 * The gateway side of the Modbus benchmark, run in a child process so its
 * CPU and memory are measured apart from the simulated devices:
 *
 *   node --expose-gc --import tsx test/bench/lib/modbus-runner.ts '<RunnerConfig JSON>'
 *
 * `gateway`: the real drivers (createDriver), with a counting DriverContext
 * or, with `pipeline`, the real Pipeline behind them. `naive`: a per-tag
 * poller on modbus-serial, one request per tag per cycle, one device's
 * requests one after another, as most Node flows poll.
 *
 * Talks to the parent over IPC: `{ type: 'measuring' }` when the warm-up is
 * over, then `{ type: 'result', … }`; exits after the parent's `{ type: 'stop' }`.
 */
import { performance } from 'node:perf_hooks';
import ModbusSerial from 'modbus-serial';
import { ModbusTcpDevice } from '../../../config/schema.js';
import { Pipeline, TagRegistry, type TagInfo } from '../../../gateway/pipeline/index.js';
import { LatencyHistogram, histogramQuantile } from '../../../protocols/health.js';
import { createDriver } from '../../../protocols/index.js';
import { decodeRegisters } from '../../../protocols/modbus/codec.js';
import type { Driver, DriverContext, LatencyHistogramSnapshot, Sample } from '../../../protocols/types.js';
import { benchDevice, benchTags } from './modbus-plant.js';

export interface RunnerConfig {
  readonly mode: 'gateway' | 'naive';
  readonly ports: readonly number[];
  readonly intervalMs: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** gateway mode: drivers emit into the real Pipeline */
  readonly pipeline?: boolean;
}

export interface RunnerResult {
  readonly type: 'result';
  readonly measuredMs: number;
  readonly samples: number;
  readonly goodSamples: number;
  readonly requests: number;
  readonly cycles: number;
  readonly overruns: number;
  readonly errors: number;
  readonly latency: LatencyHistogramSnapshot;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly eventLoopUtilization: number;
  readonly forwarded?: number;
  /** RSS once the modules were loaded, before any device was started (node, tsx, zod, …), MB */
  readonly baselineRssMB: number;
  /** V8 heap in use at the end of the window, MB */
  readonly heapUsedMB: number;
  /** V8 heap still in use after a full collection at the end of the window (live data), MB */
  readonly liveHeapMB: number;
}

interface Totals {
  samples: number;
  good: number;
  requests: number;
  cycles: number;
  overruns: number;
  errors: number;
  forwarded: number;
}

interface Runner {
  totals(): Totals;
  latency(): LatencyHistogramSnapshot;
  stop(): Promise<void>;
}

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };
const send = (msg: object) => process.send?.(msg);

function diffHistograms(a: LatencyHistogramSnapshot, b: LatencyHistogramSnapshot): LatencyHistogramSnapshot {
  return {
    buckets: b.buckets,
    counts: b.counts.map((c, i) => c - (a.counts[i] ?? 0)),
    count: b.count - a.count,
    sum: b.sum - a.sum,
  };
}

function sumHistograms(list: readonly LatencyHistogramSnapshot[]): LatencyHistogramSnapshot {
  const first = list[0] ?? new LatencyHistogram().snapshot();
  const counts = first.buckets.map((_, i) => list.reduce((n, h) => n + (h.counts[i] ?? 0), 0));
  return {
    buckets: first.buckets,
    counts,
    count: list.reduce((n, h) => n + h.count, 0),
    sum: list.reduce((n, h) => n + h.sum, 0),
  };
}

async function gatewayRunner(config: RunnerConfig): Promise<Runner> {
  const counted = { samples: 0, good: 0, forwarded: 0 };
  const devices = config.ports.map((port, i) => ModbusTcpDevice.parse(benchDevice(i, port, config.intervalMs)));
  let emit: (batch: readonly Sample[]) => void = (batch) => {
    counted.samples += batch.length;
    for (let i = 0; i < batch.length; i++) if (batch[i]!.quality === 'good') counted.good++;
  };
  if (config.pipeline) {
    const infos: TagInfo[] = devices.flatMap((d) =>
      d.tags.map((t) => ({
        id: t.id,
        deviceId: d.id,
        protocol: d.protocol,
        name: t.id,
        unit: undefined,
        type: t.type,
        scale: t.scale,
        offset: t.offset,
        deadband: t.deadband,
        references: [],
        enabled: true,
        expectedIntervalMs: config.intervalMs,
        staleAfterMs: undefined,
      })),
    );
    const pipeline = new Pipeline({ registry: new TagRegistry(infos), log: quietLog });
    pipeline.subscribe((batch) => {
      counted.forwarded += batch.length;
    });
    const count = emit;
    emit = (batch) => {
      count(batch);
      pipeline.ingest(batch);
    };
  }
  const ctx: DriverContext = { now: Date.now, log: quietLog, emit: (batch) => emit(batch) };
  const drivers: Driver[] = devices.map((d) => createDriver(d, ctx, { backoff: { initialMs: 200, maxMs: 2000 } }));
  await Promise.all(drivers.map((d) => d.start()));
  const tagsPerDevice = benchTags(0).length;
  return {
    totals() {
      const statuses = drivers.map((d) => d.status());
      return {
        samples: counted.samples,
        good: counted.good,
        requests: statuses.reduce((n, s) => n + s.counters.requests, 0),
        // every completed cycle emits one Sample per tag
        cycles: counted.samples / tagsPerDevice,
        overruns: statuses.reduce((n, s) => n + s.counters.overruns, 0),
        errors: statuses.reduce((n, s) => n + s.counters.errors, 0),
        forwarded: counted.forwarded,
      };
    },
    latency: () => sumHistograms(drivers.map((d) => d.status().latencyMs ?? new LatencyHistogram().snapshot())),
    stop: async () => {
      await Promise.all(drivers.map((d) => d.stop()));
    },
  };
}

async function naiveRunner(config: RunnerConfig): Promise<Runner> {
  const ModbusRTU = ModbusSerial.default;
  const totals: Totals = { samples: 0, good: 0, requests: 0, cycles: 0, overruns: 0, errors: 0, forwarded: 0 };
  const histogram = new LatencyHistogram();
  const timers: NodeJS.Timeout[] = [];
  const clients: Array<InstanceType<typeof ModbusRTU>> = [];
  await Promise.all(
    config.ports.map(async (port, device) => {
      const client = new ModbusRTU();
      clients.push(client);
      await client.connectTCP('127.0.0.1', { port });
      client.setID(1);
      client.setTimeout(1000);
      const tags = benchTags(device);
      let running = false;
      const poll = async () => {
        for (const tag of tags) {
          const t0 = performance.now();
          try {
            totals.requests++;
            let sample: Sample;
            if (tag.area === 'coil') {
              const res = await client.readCoils(tag.offset, 1);
              sample = { tagId: tag.id, ts: Date.now(), value: res.data[0] === true, quality: 'good' };
            } else {
              const res =
                tag.area === 'hr'
                  ? await client.readHoldingRegisters(tag.offset, tag.width)
                  : await client.readInputRegisters(tag.offset, tag.width);
              const decoded = decodeRegisters(res.data, tag.type);
              sample = decoded.ok
                ? { tagId: tag.id, ts: Date.now(), value: decoded.value, quality: 'good' }
                : { tagId: tag.id, ts: Date.now(), value: null, quality: 'bad', reason: decoded.reason };
            }
            histogram.observe(performance.now() - t0);
            totals.samples++;
            if (sample.quality === 'good') totals.good++;
          } catch {
            totals.errors++;
          }
        }
        totals.cycles++;
      };
      const tick = () => {
        if (running) {
          totals.overruns++;
          return;
        }
        running = true;
        poll().finally(() => {
          running = false;
        });
      };
      timers.push(setInterval(tick, config.intervalMs));
      tick();
    }),
  );
  return {
    totals: () => ({ ...totals }),
    latency: () => histogram.snapshot(),
    stop: async () => {
      for (const t of timers) clearInterval(t);
      await Promise.all(clients.map((c) => new Promise<void>((r) => c.close(() => r()))));
    },
  };
}

/** heap after a full collection; NaN unless node runs with --expose-gc */
function liveHeapMB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as RunnerConfig;
  const baselineRssMB = process.memoryUsage().rss / 2 ** 20;
  const runner = config.mode === 'naive' ? await naiveRunner(config) : await gatewayRunner(config);
  await new Promise((r) => setTimeout(r, config.warmupMs));

  const t0 = runner.totals();
  const h0 = runner.latency();
  const elu0 = performance.eventLoopUtilization();
  const started = performance.now();
  send({ type: 'measuring' });
  await new Promise((r) => setTimeout(r, config.measureMs));
  const t1 = runner.totals();
  const h1 = runner.latency();
  const measuredMs = performance.now() - started;
  const elu = performance.eventLoopUtilization(elu0);
  const latency = diffHistograms(h0, h1);
  const result: RunnerResult = {
    type: 'result',
    measuredMs,
    samples: t1.samples - t0.samples,
    goodSamples: t1.good - t0.good,
    requests: t1.requests - t0.requests,
    cycles: t1.cycles - t0.cycles,
    overruns: t1.overruns - t0.overruns,
    errors: t1.errors - t0.errors,
    latency,
    p50Ms: histogramQuantile(latency, 0.5),
    p99Ms: histogramQuantile(latency, 0.99),
    eventLoopUtilization: elu.utilization,
    ...(config.pipeline ? { forwarded: t1.forwarded - t0.forwarded } : {}),
    baselineRssMB,
    heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
    liveHeapMB: liveHeapMB(),
  };
  send(result);
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    process.once('disconnect', () => resolve());
  });
  await runner.stop();
  process.disconnect?.();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
