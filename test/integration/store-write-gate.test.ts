/**
 * Writes of the event loop's connections and the write worker's batches
 * take turns: a batch is written as short transactions, a write here runs
 * between two of them (not after the whole batch), and a batch that failed
 * part-way and is written again stores and counts each sample once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSampleBatchExecutor } from '../../gateway/store/batch-insert.js';
import { AlarmStore, SqliteStore, type StoredSample } from '../../gateway/store/index.js';
import { migrate } from '../../gateway/store/migrations.js';
import { SampleColumnQueue } from '../../gateway/store/sample-queue.js';
import { UserStore } from '../../gateway/store/user-store.js';

const T0 = Date.UTC(2025, 2, 3, 8, 0, 0);
let dir: string;
const stops: (() => unknown)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'greenline-write-gate-'));
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
});

const log = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

/** `tags` tags × `perTag` samples a second apart, numbers */
function plant(tags: number, perTag: number): StoredSample[] {
  const rows: StoredSample[] = [];
  for (let k = 0; k < perTag; k++)
    for (let t = 0; t < tags; t++) rows.push({ tagId: `m${t}.v`, ts: T0 + k * 1000, value: t + k, quality: 'good' });
  return rows;
}

const count = (path: string, sql: string): number => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
};

describe('the store write gate', () => {
  it('runs a write of this thread between two transactions of a batch, not after the whole batch', async () => {
    const path = join(dir, 'gate.db');
    const store = new SqliteStore({
      path,
      rawRetentionDays: 30,
      rollupRetentionDays: 730,
      batchMaxRows: 300_000,
      batchMaxDelayMs: 1,
      log: log(),
      pruneFirstDelayMs: 3_600_000,
    });
    await store.start();
    stops.push(() => store.stop());
    expect(store.stats().backgroundWrites).toBe(true);
    const alarms = new AlarmStore({ path, writeGate: store.writeGate });
    alarms.start();
    stops.push(() => alarms.stop());
    const users = new UserStore({ path, writeGate: store.writeGate });
    users.start();
    stops.push(() => users.stop());

    const total = 240_000;
    store.writer.write(plant(4000, total / 4000));
    // the worker has committed its first transactions of the batch
    await vi.waitFor(() => expect(count(path, 'SELECT count(*) FROM samples')).toBeGreaterThan(0), {
      timeout: 10_000,
      interval: 1,
    });
    expect(store.stats().samplesWritten).toBe(0);

    let storedWhenWritten = -1;
    store.writeGate.exclusive(() => {
      store.appendEvent('config.change', 'line1', { by: 'test' }, T0);
      // a write inside one asks once (no second wait, no deadlock)
      alarms.writeAlarmChanges({ records: [], states: [] });
      // the worker waits while this runs: what is stored cannot change under it
      storedWhenWritten = count(path, 'SELECT count(*) FROM samples');
      expect(count(path, 'SELECT count(*) FROM samples')).toBe(storedWhenWritten);
    });
    expect(storedWhenWritten).toBeGreaterThan(0);
    expect(storedWhenWritten).toBeLessThan(total);

    // a write outside exclusive() asks for its turn by itself
    const user = users.createUser({
      username: 'mei',
      displayName: null,
      role: 'operator',
      passwordHash: 'x',
      origin: 'admin',
    });
    expect(user?.username).toBe('mei');
    expect(count(path, 'SELECT count(*) FROM samples')).toBeLessThan(total);

    await vi.waitFor(() => expect(store.stats().samplesWritten).toBe(total), { timeout: 30_000, interval: 10 });
    expect(count(path, 'SELECT count(*) FROM samples')).toBe(total);
    expect(count(path, 'SELECT sum(sample_count) FROM rollup_1m')).toBe(total);
    expect(count(path, "SELECT count(*) FROM events WHERE kind = 'config.change'")).toBe(1);
  });

  it('stores and counts each sample once when a batch that failed part-way is written again', () => {
    const db = new Database(':memory:');
    migrate(db, ':memory:', T0);
    let turns = 0;
    let failAt = 4;
    const executor = createSampleBatchExecutor(db, {
      chunkRows: 100,
      turn: {
        begin() {
          turns++;
          if (turns === failAt) throw new Error('disk full');
        },
        end() {},
      },
    });
    const queue = new SampleColumnQueue(() => undefined);
    const rows = plant(40, 25);
    for (const row of rows) queue.push(row);

    // the tags and two chunks of 100 rows committed, then the third failed
    expect(() => executor.write(queue.batch(rows.length))).toThrow('disk full');
    expect(db.prepare('SELECT count(*) FROM samples').pluck().get()).toBe(200);
    expect(db.prepare('SELECT count(*) FROM tags').pluck().get()).toBe(40);

    failAt = -1;
    const again = executor.write(queue.batch(rows.length));
    expect(again.replaced).toBe(0);
    expect(again.newTags).toHaveLength(40);
    expect(db.prepare('SELECT count(*) FROM samples').pluck().get()).toBe(rows.length);
    const rollups = db
      .prepare('SELECT sample_count, good_count, min_value, max_value, avg_value FROM rollup_1m WHERE tag_id = ?')
      .all(again.newTags.find(([tag]) => tag === 'm0.v')![1]);
    // m0.v: values 0…24, all in the first minute (25 samples a second apart)
    expect(rollups).toEqual([{ sample_count: 25, good_count: 25, min_value: 0, max_value: 24, avg_value: 12 }]);
    expect(db.prepare('SELECT sum(sample_count) FROM rollup_1m').pluck().get()).toBe(rows.length);

    // a sample at a stored tag and millisecond with another value still replaces it
    const change = new SampleColumnQueue(() => undefined);
    change.push({ tagId: 'm0.v', ts: T0, value: 99, quality: 'good' });
    expect(executor.write(change.batch(1)).replaced).toBe(1);
    db.close();
  });
});
