import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PlantConfig, type PlantConfigInput } from '../../config/schema.js';
import { LiveTable, Pipeline, StaleWatchdog, TagRegistry } from '../../gateway/pipeline/index.js';
import { SqliteStore } from '../../gateway/store/index.js';

const input: PlantConfigInput = {
  site: { id: 'site', name: 'Site', timezone: 'Asia/Hong_Kong' },
  areas: [{ id: 'a1', name: 'Area 1' }],
  lines: [
    {
      id: 'line1',
      name: 'Line 1',
      area: 'a1',
      outputMachine: 'm1',
      calendar: 'cal',
      machines: [{ id: 'm1', name: 'Press', idealCycleTimeS: 10, counters: { total: 'm1.total', good: 'm1.good' } }],
    },
  ],
  devices: [
    {
      protocol: 'modbus-tcp',
      id: 'plc1',
      host: '127.0.0.1',
      pollGroups: { default: 100 },
      tags: [
        { id: 'm1.total', address: 'hr:0', type: 'uint32' },
        { id: 'm1.good', address: 'hr:2', type: 'uint32' },
        { id: 'm1.temp', address: 'hr:4', type: 'int16', scale: 0.1, deadband: 0.5 },
      ],
    },
  ],
  calendars: [{ id: 'cal', shifts: [{ id: 's1', start: '07:00', end: '19:00' }] }],
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'greenline-pipeline-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const log = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

describe('pipeline → live table and store', () => {
  it('stores scaled, report-on-change values and stale marks; live shows the latest', async () => {
    const config = PlantConfig.parse(input);
    const registry = TagRegistry.fromConfig(config);
    const pipeline = new Pipeline({ registry, log: log() });
    const live = new LiveTable({ log: log() });
    const store = new SqliteStore({ ...config.store, path: join(dir, 'data', 'greenline.db'), log: log() });
    const watchdog = new StaleWatchdog({ registry, pipeline, log: log(), minStaleAfterMs: 0, checkIntervalMs: 20 });

    await store.start();
    pipeline.subscribe(live.update, 'live');
    pipeline.subscribe(store.writer.write, 'store');

    const t0 = Date.now();
    const emit = pipeline.ingest;
    emit([
      { tagId: 'm1.total', ts: t0, value: 100, quality: 'good' },
      { tagId: 'm1.temp', ts: t0, value: 250, quality: 'good' },
    ]);
    emit([
      { tagId: 'm1.total', ts: t0 + 1, value: 101, quality: 'good' },
      { tagId: 'm1.temp', ts: t0 + 1, value: 253, quality: 'good' }, // 25.3: within 0.5 of 25.0
    ]);
    emit([{ tagId: 'ghost', ts: t0 + 1, value: 1, quality: 'good' }]);
    // started after the samples, so a slow machine cannot mark them stale in between
    watchdog.start();

    // m1.good never reports and everything goes quiet: all three are marked stale after 3 × 100 ms
    await vi.waitFor(() => expect(live.get('m1.temp')?.quality).toBe('stale'), { timeout: 3000, interval: 20 });
    await vi.waitFor(() => expect(live.get('m1.good')?.quality).toBe('stale'), { timeout: 3000, interval: 20 });
    watchdog.stop();
    await store.stop();

    expect(pipeline.stats()).toMatchObject({ samplesIn: 5, rejected: 1, suppressedByDeadband: 1, staleMarked: 3 });
    expect(live.get('m1.temp')).toMatchObject({ value: 25, quality: 'stale', reason: 'no update for 300 ms' });
    expect(live.get('m1.total')?.value).toBe(101);

    const again = new SqliteStore({ ...config.store, path: join(dir, 'data', 'greenline.db'), log: log() });
    await again.start();
    try {
      const temp = again.rawSamples('m1.temp', t0 - 1, Date.now() + 1);
      expect(temp.map((r) => [r.value, r.quality])).toEqual([
        [25, 'good'],
        [25, 'stale'],
      ]);
      expect(again.rawSamples('m1.total', t0 - 1, t0 + 1).map((r) => r.value)).toEqual([100, 101]);
      expect(again.rawSamples('m1.good', 0, Date.now() + 1)).toMatchObject([{ value: null, quality: 'stale' }]);
      expect(again.history('m1.total', t0 - 1, t0 + 1, 10)).toEqual([
        { ts: t0, value: 100, quality: 'good' },
        { ts: t0 + 1, value: 101, quality: 'good' },
      ]);
    } finally {
      await again.stop();
    }
  });

  it('checkpoints the write-ahead log in the background', async () => {
    const store = new SqliteStore({
      path: join(dir, 'bg.db'),
      rawRetentionDays: 30,
      rollupRetentionDays: 730,
      batchMaxRows: 1000,
      batchMaxDelayMs: 10,
      log: log(),
    });
    await store.start();
    try {
      expect(store.stats().backgroundCheckpoints).toBe(0);
      const t0 = Date.now();
      store.writer.write(
        Array.from({ length: 5000 }, (_, i) => ({
          tagId: `t${i % 50}`,
          ts: t0 + i,
          value: i,
          quality: 'good' as const,
        })),
      );
      await vi.waitFor(() => expect(store.stats().backgroundCheckpoints).toBeGreaterThan(0), {
        timeout: 5000,
        interval: 50,
      });
      expect(store.stats().samplesWritten).toBe(5000);
    } finally {
      await store.stop();
    }
  });
});
