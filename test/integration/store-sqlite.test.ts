import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { HealthReport, HistorySource } from '../../gateway/server/ports.js';
import { migrate } from '../../gateway/store/migrations.js';
import {
  LATEST_VERSION,
  MIGRATIONS,
  SqliteStore,
  type SqliteStoreOptions,
  StoreError,
  type StoredSample,
} from '../../gateway/store/index.js';

const DAY = 86_400_000;
const MINUTE = 60_000;
const T0 = Date.UTC(2025, 2, 3, 8, 0, 0);

let dir: string;
const open: SqliteStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'greenline-store-'));
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const log = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

function store(over: Partial<SqliteStoreOptions> = {}): SqliteStore {
  const s = new SqliteStore({
    path: join(dir, 'nested', 'folder', 'greenline.db'),
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows: 1000,
    batchMaxDelayMs: 50,
    log: log(),
    pruneFirstDelayMs: 3_600_000,
    ...over,
  });
  open.push(s);
  return s;
}

async function started(over: Partial<SqliteStoreOptions> = {}): Promise<SqliteStore> {
  const s = store(over);
  await s.start();
  return s;
}

/** writes through the writer and waits until it is on disk */
function writeNow(s: SqliteStore, rows: StoredSample[]): void {
  s.writer.write(rows);
  while (s.writer.pendingRows > 0) if (!s.writer.flushOne()) throw new Error(String(s.stats().lastError));
}

function series(tagId: string, from: number, stepMs: number, n: number, value: (i: number) => number): StoredSample[] {
  return Array.from({ length: n }, (_, i) => ({
    tagId,
    ts: from + i * stepMs,
    value: value(i),
    quality: 'good' as const,
  }));
}

describe('SqliteStore schema', () => {
  it('satisfies the server ports structurally', () => {
    expectTypeOf<SqliteStore>().toExtend<HistorySource>();
    expectTypeOf<ReturnType<SqliteStore['stats']>>().toExtend<HealthReport['store']>();
  });

  it('creates folders, uses WAL, and records the migrations once (opening twice is a no-op)', async () => {
    const a = await started();
    await a.stop();
    const b = await started();
    await b.stop();
    const db = new Database(join(dir, 'nested', 'folder', 'greenline.db'), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
      expect(versions).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      expect(tables).toEqual(
        expect.arrayContaining([
          'alarm_activations',
          'alarm_audit',
          'alarm_state',
          'events',
          'metrics_1m',
          'rollup_1m',
          'samples',
          'schema_migrations',
          'tags',
        ]),
      );
    } finally {
      db.close();
    }
  });

  it('refuses a database written by a newer version with GL_ERR_STORE_SCHEMA_NEWER', async () => {
    const a = await started();
    await a.stop();
    const db = new Database(a.path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      LATEST_VERSION + 1,
      'future',
      0,
    );
    db.close();
    const b = store();
    const err = await b.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('GL_ERR_STORE_SCHEMA_NEWER');
    expect((err as Error).message).toMatch(
      new RegExp(`schema version ${LATEST_VERSION + 1}.*newer greenline.*store\\.path`),
    );
  });

  it('upgrades a version 4 store: its minute rollups keep their values, keyed (minute, tag), and go on merging', async () => {
    const path = join(dir, 'v4.db');
    const old = new Database(path);
    migrate(
      old,
      path,
      T0,
      MIGRATIONS.filter((m) => m.version <= 4),
    );
    old.prepare("INSERT INTO tags (id, tag) VALUES (1, 'press.temp'), (2, 'press.rate')").run();
    const put = old.prepare(`INSERT INTO rollup_1m (tag_id, minute_ts, min_value, max_value, avg_value, last_value,
      last_ts, sample_count, good_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (let i = 0; i < 3; i++) {
      put.run(1, T0 + i * MINUTE, 10 + i, 20 + i, 15 + i, 12 + i, T0 + i * MINUTE + 59_000, 60, 60);
      put.run(2, T0 + i * MINUTE, null, null, null, null, null, 60, 0);
    }
    old.close();

    const s = await started({ path });
    expect(s.rollups('press.temp', T0, T0 + 2 * MINUTE)).toEqual([
      { minuteTs: T0, min: 10, max: 20, avg: 15, last: 12, lastTs: T0 + 59_000, count: 60, goodCount: 60 },
      {
        minuteTs: T0 + MINUTE,
        min: 11,
        max: 21,
        avg: 16,
        last: 13,
        lastTs: T0 + MINUTE + 59_000,
        count: 60,
        goodCount: 60,
      },
      {
        minuteTs: T0 + 2 * MINUTE,
        min: 12,
        max: 22,
        avg: 17,
        last: 14,
        lastTs: T0 + 2 * MINUTE + 59_000,
        count: 60,
        goodCount: 60,
      },
    ]);
    expect(s.rollups('press.rate', T0, T0 + 2 * MINUTE).map((r) => [r.count, r.goodCount, r.avg])).toEqual([
      [60, 0, null],
      [60, 0, null],
      [60, 0, null],
    ]);
    // a late sample of an upgraded minute merges into it
    writeNow(s, [{ tagId: 'press.temp', ts: T0 + 2 * MINUTE + 59_500, value: 50, quality: 'good' }]);
    expect(s.rollups('press.temp', T0 + 2 * MINUTE, T0 + 2 * MINUTE)).toEqual([
      {
        minuteTs: T0 + 2 * MINUTE,
        min: 12,
        max: 50,
        avg: (17 * 60 + 50) / 61,
        last: 50,
        lastTs: T0 + 2 * MINUTE + 59_500,
        count: 61,
        goodCount: 61,
      },
    ]);
    await s.stop();

    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get()).toBe(LATEST_VERSION);
      // the table's key leads with the minute; a tag's range goes through its own index
      const pk = db.prepare("SELECT name FROM pragma_index_list('rollup_1m') WHERE origin = 'pk'").pluck().get();
      const key = db.prepare('SELECT name FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno').pluck().all(pk);
      expect(key).toEqual(['minute_ts', 'tag_id']);
      // the store reads a tag's range INDEXED BY it (the planner may prefer the key on a short range)
      const tagIndex = db.prepare("SELECT name FROM pragma_index_info('rollup_1m_tag') ORDER BY seqno").pluck().all();
      expect(tagIndex).toEqual(['tag_id', 'minute_ts']);
      expect(db.prepare('SELECT count(*) FROM rollup_1m').pluck().get()).toBe(6);
    } finally {
      db.close();
    }
  });

  it('reports a file that is not a database with GL_ERR_STORE_OPEN', async () => {
    const path = join(dir, 'not-a-db.db');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, 'this is a text file, not SQLite, and it is long enough to have a header'.repeat(20));
    const err = await store({ path })
      .start()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((err as StoreError).code).toBe('GL_ERR_STORE_OPEN');
  });

  it('throws GL_ERR_STORE_NOT_STARTED before start()', () => {
    expect(() => store().history('t', 0, 1, 10)).toThrow(expect.objectContaining({ code: 'GL_ERR_STORE_NOT_STARTED' }));
  });
});

describe('SqliteStore samples', () => {
  it('round-trips numbers, booleans, strings and bad quality with its reason', async () => {
    const s = await started();
    const rows: StoredSample[] = [
      { tagId: 'temp', ts: T0, value: 21.5, quality: 'good' },
      { tagId: 'temp', ts: T0 + 1000, value: -3, quality: 'uncertain', reason: 'sensor calibrating' },
      { tagId: 'temp', ts: T0 + 2000, value: null, quality: 'bad', reason: 'timeout' },
      { tagId: 'temp', ts: T0 + 3000, value: 22, quality: 'stale', reason: 'no update for 3000 ms' },
      { tagId: 'run', ts: T0, value: true, quality: 'good' },
      { tagId: 'run', ts: T0 + 1000, value: false, quality: 'good' },
      { tagId: 'recipe', ts: T0, value: 'true', quality: 'good' },
      { tagId: 'recipe', ts: T0 + 1000, value: '', quality: 'good' },
    ];
    writeNow(s, rows);
    const back = [
      ...s.rawSamples('temp', T0, T0 + 9999),
      ...s.rawSamples('run', T0, T0 + 9999),
      ...s.rawSamples('recipe', T0, T0 + 9999),
    ];
    expect(back).toEqual(rows);
    expect(s.history('run', T0, T0 + 9999, 100)).toEqual([
      { ts: T0, value: true, quality: 'good' },
      { ts: T0 + 1000, value: false, quality: 'good' },
    ]);
    expect(s.history('nope', T0, T0 + 9999, 100)).toEqual([]);
    expect(s.stats()).toMatchObject({ samplesWritten: 8, pendingRows: 0, dropped: 0, lastError: null });
  });

  it('keeps the later sample for the same tag and millisecond, and counts it', async () => {
    const s = await started();
    writeNow(s, [{ tagId: 'a', ts: T0, value: 1, quality: 'good' }]);
    writeNow(s, [
      { tagId: 'a', ts: T0, value: 2, quality: 'good' },
      { tagId: 'a', ts: T0 + 1, value: 3, quality: 'good' },
      { tagId: 'a', ts: T0 + 1, value: 4, quality: 'bad', reason: 'x' },
    ]);
    expect(s.rawSamples('a', T0, T0 + 10)).toEqual([
      { tagId: 'a', ts: T0, value: 2, quality: 'good' },
      { tagId: 'a', ts: T0 + 1, value: 4, quality: 'bad', reason: 'x' },
    ]);
    expect(s.stats().duplicatesReplaced).toBe(2);
  });

  it('stop() flushes pending rows, and a reopened store has them', async () => {
    const s = await started({ batchMaxRows: 100_000, batchMaxDelayMs: 60_000 });
    s.writer.write(series('p', T0, 1000, 5000, (i) => i));
    expect(s.stats().pendingRows).toBe(5000);
    await s.stop();
    expect(s.stats()).toMatchObject({ pendingRows: 0, samplesWritten: 5000, dropped: 0 });
    expect(existsSync(`${s.path}-wal`)).toBe(false);
    const again = await started();
    const back = again.rawSamples('p', T0, T0 + 5000 * 1000);
    expect(back).toHaveLength(5000);
    expect(back.at(-1)).toEqual({ tagId: 'p', ts: T0 + 4999 * 1000, value: 4999, quality: 'good' });
  });

  it('flushes on its own after batchMaxDelayMs', async () => {
    const s = await started({ batchMaxDelayMs: 20 });
    s.writer.write(series('p', T0, 1000, 10, (i) => i));
    await vi.waitFor(() => expect(s.stats().pendingRows).toBe(0), { timeout: 2000, interval: 10 });
    expect(s.rawSamples('p', T0, T0 + 10_000)).toHaveLength(10);
  });
});

describe('SqliteStore rollups', () => {
  it('maintains min/max/avg/last/count per tag-minute across batches, good values only', async () => {
    const s = await started();
    const m = T0 + 5 * MINUTE;
    writeNow(s, [
      { tagId: 'p', ts: m + 1000, value: 4, quality: 'good' },
      { tagId: 'p', ts: m + 5000, value: 10, quality: 'good' },
      { tagId: 'p', ts: m + 2000, value: 1, quality: 'good' },
      { tagId: 'p', ts: m + 3000, value: 100, quality: 'bad', reason: 'spike' },
      { tagId: 'p', ts: m + 61_000, value: 7, quality: 'good' },
      { tagId: 'flag', ts: m + 1000, value: true, quality: 'good' },
    ]);
    // a second batch for the same minute, one of them older than the minute's last
    writeNow(s, [
      { tagId: 'p', ts: m + 59_999, value: 5, quality: 'good' },
      { tagId: 'p', ts: m + 4000, value: -2, quality: 'good' },
      { tagId: 'p', ts: m + 30_000, value: null, quality: 'bad', reason: 'timeout' },
    ]);
    expect(s.rollups('p', m, m + MINUTE)).toEqual([
      {
        minuteTs: m,
        min: -2,
        max: 10,
        avg: (4 + 10 + 1 + 5 - 2) / 5,
        last: 5,
        lastTs: m + 59_999,
        count: 6,
        goodCount: 5,
      },
      { minuteTs: m + MINUTE, min: 7, max: 7, avg: 7, last: 7, lastTs: m + 61_000, count: 1, goodCount: 1 },
    ]);
    expect(s.rollups('flag', m, m + MINUTE)).toEqual([]);
  });
});

describe('SqliteStore history', () => {
  it('returns raw points when they fit in maxPoints', async () => {
    const s = await started();
    writeNow(
      s,
      series('p', T0, 1000, 100, (i) => i),
    );
    const pts = s.history('p', T0 + 10_000, T0 + 19_000, 10);
    expect(pts).toEqual(
      Array.from({ length: 10 }, (_, i) => ({ ts: T0 + (10 + i) * 1000, value: 10 + i, quality: 'good' })),
    );
  });

  it('averages raw samples in buckets for a short range with too many points', async () => {
    const s = await started();
    writeNow(
      s,
      series('p', T0, 100, 600, (i) => i),
    ); // one minute at 10 Hz
    const pts = s.history('p', T0, T0 + 59_999, 60);
    expect(pts).toHaveLength(60);
    expect(pts[0]).toEqual({ ts: T0, value: 4.5, quality: 'good' });
    expect(pts[59]).toEqual({ ts: T0 + 59_000, value: 594.5, quality: 'good' });
  });

  it('returns at most maxPoints from the rollups for a 30-day range', async () => {
    const s = await started({ batchMaxRows: 50_000 });
    // 30 days, one sample every 30 s: 86 400 samples
    const from = T0;
    const to = T0 + 30 * DAY - 1;
    writeNow(
      s,
      series('p', from, 30_000, 86_400, (i) => Math.floor(i / 2880)),
    );
    writeNow(
      s,
      series('b', from, 30_000, 86_400, (i) => i % 2).map((r) => ({ ...r, value: r.value === 1 })),
    );
    for (const maxPoints of [1000, 500, 97, 1]) {
      const pts = s.history('p', from, to, maxPoints);
      expect(pts.length).toBeLessThanOrEqual(maxPoints);
      expect(pts.length).toBeGreaterThan(maxPoints * 0.9);
      for (let i = 1; i < pts.length; i++) expect(pts[i]?.ts).toBeGreaterThan(pts[i - 1]?.ts as number);
      expect(pts.every((p) => p.quality === 'good' && typeof p.value === 'number')).toBe(true);
    }
    // bucket = 1 day (1440 minutes) at maxPoints 30: each day holds one value, the day number
    const daily = s.history('p', from, to, 30);
    expect(daily.map((p) => p.value)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(daily[1]?.ts).toBe(from + DAY);
    // booleans have no rollups: bucketed raw, last value per bucket
    const flags = s.history('b', from, to, 1000);
    expect(flags.length).toBeLessThanOrEqual(1000);
    expect(flags.every((p) => typeof p.value === 'boolean')).toBe(true);
  });

  it('marks a rollup bucket without good values as bad', async () => {
    const s = await started();
    writeNow(s, [
      { tagId: 'p', ts: T0, value: 1, quality: 'good' },
      { tagId: 'p', ts: T0 + 10 * MINUTE, value: 99, quality: 'bad', reason: 'overrange' },
      { tagId: 'p', ts: T0 + 10 * MINUTE + 1, value: 98, quality: 'bad', reason: 'overrange' },
      { tagId: 'p', ts: T0 + 10 * MINUTE + 2, value: 97, quality: 'bad', reason: 'overrange' },
    ]);
    expect(s.history('p', T0, T0 + 20 * MINUTE - 1, 2)).toEqual([
      { ts: T0, value: 1, quality: 'good' },
      { ts: T0 + 10 * MINUTE, value: null, quality: 'bad' },
    ]);
  });
});

describe('SqliteStore retention', () => {
  it('prunes raw after rawRetentionDays and rollups, events and metrics after rollupRetentionDays, in chunks', async () => {
    const s = await started({ rawRetentionDays: 2, rollupRetentionDays: 5, pruneChunkRows: 100 });
    const now = T0 + 10 * DAY;
    // one sample per hour for 10 days, two tags
    writeNow(s, [...series('a', T0, 3_600_000, 240, (i) => i), ...series('b', T0, 3_600_000, 240, (i) => i)]);
    for (let d = 0; d < 10; d++) {
      s.appendEvent('alarm.raised', 'm1', { day: d }, T0 + d * DAY);
      s.putMetrics('machine', 'm1', T0 + d * DAY, { oee: d / 10 });
    }
    const result = await s.pruneOnce(now);
    expect(result).toEqual({
      rawDeleted: 2 * 192,
      rollupsDeleted: 2 * 120,
      eventsDeleted: 5,
      metricsDeleted: 5,
      complete: true,
    });
    expect(s.rawSamples('a', 0, now)[0]?.ts).toBe(now - 2 * DAY);
    expect(s.rollups('b', 0, now)[0]?.minuteTs).toBe(now - 5 * DAY);
    expect(s.events(0, now).map((e) => (e.payload as { day: number }).day)).toEqual([5, 6, 7, 8, 9]);
    expect(s.metrics('machine', 'm1', 0, now)).toHaveLength(5);
    expect(s.stats().lastPruneAt).toBe(now);
    // a second run finds nothing to delete
    expect(await s.pruneOnce(now)).toMatchObject({ rawDeleted: 0, rollupsDeleted: 0, complete: true });
    // history before the raw horizon comes from rollups, not from the few raw rows left
    const pts = s.history('a', T0, now, 1000);
    expect(pts[0]?.ts).toBe(now - 5 * DAY);
  });

  it('runs on its timer and stops with the store', async () => {
    const s = await started({ rawRetentionDays: 1, pruneFirstDelayMs: 10, now: () => T0 + 3 * DAY });
    writeNow(
      s,
      series('a', T0, 3_600_000, 72, (i) => i),
    );
    await vi.waitFor(() => expect(s.stats().lastPruneAt).toBe(T0 + 3 * DAY), { timeout: 2000, interval: 10 });
    expect(s.rawSamples('a', 0, T0 + 3 * DAY)).toHaveLength(24);
  });
});

describe('SqliteStore events and metrics', () => {
  it('appends events and reads them back by time and kind', async () => {
    const s = await started();
    const id1 = s.appendEvent('alarm.raised', 'line1.m1.temp-high', { value: 92.5, limit: 90 }, T0);
    const id2 = s.appendEvent('alarm.ack', 'line1.m1.temp-high', { user: 'mei', comment: 'fan replaced' }, T0 + 1000);
    s.appendEvent('config.changed', 'plant', null, T0 + 2000);
    expect(id2).toBeGreaterThan(id1);
    expect(s.events(T0, T0 + 5000).map((e) => e.kind)).toEqual(['alarm.raised', 'alarm.ack', 'config.changed']);
    expect(s.events(T0, T0 + 5000, ['alarm.ack'])).toEqual([
      {
        id: id2,
        ts: T0 + 1000,
        kind: 'alarm.ack',
        subject: 'line1.m1.temp-high',
        payload: { user: 'mei', comment: 'fan replaced' },
      },
    ]);
    expect(s.events(T0 + 1, T0 + 1999)).toHaveLength(1);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => s.appendEvent('x', 'y', circular, T0)).toThrow(
      expect.objectContaining({ code: 'GL_ERR_STORE_ARGUMENT' }),
    );
  });

  it('keeps one metrics row per entity and minute', async () => {
    const s = await started();
    s.putMetrics('line', 'line1', T0 + 5000, { oee: 0.5 });
    s.putMetrics('line', 'line1', T0 + 30_000, { oee: 0.6 });
    s.putMetrics('line', 'line1', T0 + MINUTE, { oee: 0.7 });
    s.putMetrics('line', 'line2', T0, { oee: 0.1 });
    expect(s.metrics('line', 'line1', T0, T0 + MINUTE)).toEqual([
      { minuteTs: T0, payload: { oee: 0.6 } },
      { minuteTs: T0 + MINUTE, payload: { oee: 0.7 } },
    ]);
  });
});

describe('replay', () => {
  it('merges several tags in time order, in batches, within the range', async () => {
    const s = await started();
    writeNow(s, [
      ...series('a', T0, 1000, 50, (i) => i),
      ...series('b', T0 + 500, 1000, 50, (i) => 100 + i),
      ...series('c', T0, 1000, 50, (i) => -i),
    ]);
    const seen: { tagId: string; ts: number; value: unknown }[] = [];
    const batches: number[] = [];
    const n = s.replay(
      ['a', 'b', 'unknown-tag'],
      T0 + 10_000,
      T0 + 19_999,
      (rows) => {
        batches.push(rows.length);
        seen.push(...rows.map((r) => ({ tagId: r.tagId, ts: r.ts, value: r.value })));
      },
      7,
    );
    expect(n).toBe(20);
    expect(batches).toEqual([7, 7, 6]);
    expect(seen.slice(0, 3)).toEqual([
      { tagId: 'a', ts: T0 + 10_000, value: 10 },
      { tagId: 'b', ts: T0 + 10_500, value: 110 },
      { tagId: 'a', ts: T0 + 11_000, value: 11 },
    ]);
    expect(seen.every((r, i) => i === 0 || r.ts >= seen[i - 1]!.ts)).toBe(true);
    expect(seen.some((r) => r.tagId === 'c')).toBe(false);
    expect(s.replay(['nothing'], T0, T0 + DAY, () => undefined)).toBe(0);
  });
});
