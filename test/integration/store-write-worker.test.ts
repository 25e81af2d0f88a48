/**
 * The store's write worker: sample batches written from a worker thread land
 * exactly as they do on the store's own connection (samples, duplicates,
 * rollups, the tag dictionary); rows count as written only once committed;
 * a batch in flight is finished by stop() and by flushOne().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore, type SqliteStoreOptions, type StoredSample } from '../../gateway/store/index.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2025, 2, 3, 8, 0, 0);
let dir: string;
const open: SqliteStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'greenline-store-worker-'));
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const log = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

async function started(name: string, over: Partial<SqliteStoreOptions> = {}): Promise<SqliteStore> {
  const s = new SqliteStore({
    path: join(dir, name),
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows: 1000,
    batchMaxDelayMs: 20,
    log: log(),
    pruneFirstDelayMs: 3_600_000,
    ...over,
  });
  open.push(s);
  await s.start();
  return s;
}

const nextTurn = () => new Promise((r) => setImmediate(r));

/** what a store file holds, by tag name, in key order */
function contents(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return {
      samples: db
        .prepare(
          `SELECT t.tag, s.ts, s.value, s.value_text, s.quality, s.reason
           FROM samples s JOIN tags t ON t.id = s.tag_id ORDER BY t.tag, s.ts`,
        )
        .all(),
      rollups: db
        .prepare(
          `SELECT t.tag, r.minute_ts, r.min_value, r.max_value, r.avg_value, r.last_value, r.last_ts,
                  r.sample_count, r.good_count
           FROM rollup_1m r JOIN tags t ON t.id = r.tag_id ORDER BY t.tag, r.minute_ts`,
        )
        .all(),
    };
  } finally {
    db.close();
  }
}

/** three batches of everything a sample can be: kinds, qualities, reasons, duplicates, minute boundaries, new tags */
function batches(): StoredSample[][] {
  const one: StoredSample[] = [];
  for (let i = 0; i < 400; i++) {
    const ts = T0 + i * 377;
    one.push({ tagId: `num${i % 7}`, ts, value: Math.sin(i) * 100, quality: i % 11 === 0 ? 'uncertain' : 'good' });
    if (i % 5 === 0) one.push({ tagId: 'flag', ts, value: i % 10 === 0, quality: 'good' });
    if (i % 9 === 0) one.push({ tagId: 'text', ts, value: `recipe ${i}`, quality: 'good' });
    if (i % 13 === 0) one.push({ tagId: `num${i % 7}`, ts: ts + 1, value: null, quality: 'bad', reason: 'timeout' });
    if (i % 17 === 0)
      one.push({ tagId: 'num1', ts: ts + 2, value: 5, quality: 'stale', reason: 'no update for 3000 ms' });
  }
  // the same tag and millisecond within a batch and across batches: the later one wins
  one.push({ tagId: 'num0', ts: T0, value: 42, quality: 'good' });
  const two: StoredSample[] = [
    { tagId: 'num0', ts: T0, value: 43, quality: 'good' },
    { tagId: 'late', ts: T0 + 3 * MINUTE + 5, value: 1.5, quality: 'good' },
    { tagId: 'late', ts: T0 + 3 * MINUTE + 4, value: -1.5, quality: 'good' },
    { tagId: 'flag', ts: T0 + 10 * MINUTE, value: false, quality: 'uncertain', reason: 'manual' },
  ];
  const three: StoredSample[] = Array.from({ length: 2500 }, (_, i) => ({
    tagId: `many${i % 300}`,
    ts: T0 + 2 * MINUTE + Math.floor(i / 300) * 1000,
    value: i,
    quality: 'good' as const,
  }));
  return [one, two, three];
}

describe('SqliteStore write worker', () => {
  it('writes from the worker exactly what its own connection writes', async () => {
    const inWorker = await started('worker.db');
    const onLoop = await started('loop.db', { backgroundWrites: false });
    expect(inWorker.stats().backgroundWrites).toBe(true);
    expect(onLoop.stats().backgroundWrites).toBe(false);

    for (const batch of batches()) {
      inWorker.writer.write(batch);
      // one at a time, so both stores see the same batches in the same order
      await vi.waitFor(() => expect(inWorker.stats().pendingRows).toBe(0), { timeout: 5000, interval: 5 });
      onLoop.writer.write(batch);
      while (onLoop.writer.pendingRows > 0) expect(onLoop.writer.flushOne()).toBe(true);
    }
    // the dictionary cache learned the worker's new tags: the reads find them
    expect(inWorker.rawSamples('late', T0, T0 + 10 * MINUTE)).toEqual(onLoop.rawSamples('late', T0, T0 + 10 * MINUTE));
    expect(inWorker.rollups('many7', T0, T0 + 10 * MINUTE)).toEqual(onLoop.rollups('many7', T0, T0 + 10 * MINUTE));
    expect(inWorker.stats()).toMatchObject({
      samplesWritten: onLoop.stats().samplesWritten,
      duplicatesReplaced: onLoop.stats().duplicatesReplaced,
      dropped: 0,
    });
    expect(inWorker.stats().duplicatesReplaced).toBeGreaterThan(0);

    await inWorker.stop();
    await onLoop.stop();
    const a = contents(inWorker.path);
    const b = contents(onLoop.path);
    expect(a.samples.length).toBeGreaterThan(3000);
    expect(a.rollups.length).toBeGreaterThan(300);
    expect(a).toEqual(b);
  });

  it('counts rows as written only once their batch has committed', async () => {
    const s = await started('pending.db', { batchMaxRows: 1000, batchMaxDelayMs: 60_000 });
    s.writer.write(Array.from({ length: 1000 }, (_, i) => ({ tagId: 'p', ts: T0 + i, value: i, quality: 'good' })));
    await nextTurn();
    // the full batch is on its way to the worker: still pending here
    expect(s.stats()).toMatchObject({ samplesWritten: 0, pendingRows: 1000 });
    await vi.waitFor(() => expect(s.stats().samplesWritten).toBe(1000), { timeout: 5000, interval: 5 });
    expect(s.stats().pendingRows).toBe(0);
    expect(s.rawSamples('p', T0, T0 + 999)).toHaveLength(1000);
  });

  it('flushOne() waits for the batch in flight, then writes the next one on its own turn', async () => {
    const s = await started('flush.db', { batchMaxRows: 1000, batchMaxDelayMs: 60_000 });
    s.writer.write(Array.from({ length: 2500 }, (_, i) => ({ tagId: 'p', ts: T0 + i, value: i, quality: 'good' })));
    await nextTurn();
    expect(s.writer.flushOne()).toBe(true);
    expect(s.stats().samplesWritten).toBe(2000);
    expect(s.rawSamples('p', T0, T0 + 9999)).toHaveLength(2000);
  });

  it('stop() finishes the batch in flight and writes the rest: a reopened store has every row', async () => {
    const s = await started('stop.db', { batchMaxRows: 1000, batchMaxDelayMs: 60_000 });
    s.writer.write(
      Array.from({ length: 4321 }, (_, i) => ({ tagId: `t${i % 9}`, ts: T0 + i, value: i, quality: 'good' })),
    );
    await nextTurn();
    await s.stop();
    expect(s.stats()).toMatchObject({ samplesWritten: 4321, pendingRows: 0, dropped: 0 });
    const again = await started('stop.db');
    let n = 0;
    for (let t = 0; t < 9; t++) n += again.rawSamples(`t${t}`, T0, T0 + 9999).length;
    expect(n).toBe(4321);
  });

  it('applies retention from the worker', async () => {
    const s = await started('prune.db');
    const now = T0 + 40 * 86_400_000;
    s.writer.write([
      ...Array.from({ length: 30 }, (_, i) => ({ tagId: 'old', ts: T0 + i, value: i, quality: 'good' as const })),
      { tagId: 'new', ts: now - 1000, value: 1, quality: 'good' },
    ]);
    await vi.waitFor(() => expect(s.stats().pendingRows).toBe(0), { timeout: 5000, interval: 5 });
    const r = await s.pruneOnce(now);
    expect(r).toMatchObject({ rawDeleted: 30, complete: true });
    expect(s.rawSamples('old', T0, now)).toEqual([]);
    expect(s.rawSamples('new', T0, now)).toHaveLength(1);
  });
});
