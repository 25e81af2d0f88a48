import { afterEach, describe, expect, it, vi } from 'vitest';
import { type SampleBatchTarget, SampleWriter, type StoredSample } from '../../gateway/store/index.js';

const log = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

class FakeTarget implements SampleBatchTarget {
  batches: StoredSample[][] = [];
  failing = false;
  writeBatch(rows: readonly StoredSample[]): void {
    if (this.failing) throw new Error('SQLITE_FULL: database or disk is full');
    this.batches.push([...rows]);
  }
  get rows(): StoredSample[] {
    return this.batches.flat();
  }
}

const rows = (n: number, from = 0): StoredSample[] =>
  Array.from({ length: n }, (_, i) => ({ tagId: 't', ts: from + i, value: from + i, quality: 'good' as const }));

afterEach(() => {
  vi.useRealTimers();
});

describe('SampleWriter', () => {
  it('writes after batchMaxDelayMs when the batch is not full', () => {
    vi.useFakeTimers();
    const target = new FakeTarget();
    const w = new SampleWriter(target, { batchMaxRows: 100, batchMaxDelayMs: 200, log: log() });
    w.start();
    w.write(rows(10));
    vi.advanceTimersByTime(199);
    expect(target.batches).toHaveLength(0);
    expect(w.pendingRows).toBe(10);
    vi.advanceTimersByTime(1);
    expect(target.batches.map((b) => b.length)).toEqual([10]);
    expect(w.stats()).toMatchObject({ samplesWritten: 10, pendingRows: 0, batchesWritten: 1 });
  });

  it('writes at once (next turn) when batchMaxRows are buffered, one batch per turn', async () => {
    const target = new FakeTarget();
    const w = new SampleWriter(target, { batchMaxRows: 100, batchMaxDelayMs: 60_000, log: log() });
    w.start();
    w.write(rows(250));
    await new Promise((r) => setImmediate(r));
    expect(target.batches.map((b) => b.length)).toEqual([100]);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // the rest of a backlog follows without waiting for the delay
    expect(target.batches.map((b) => b.length)).toEqual([100, 100, 50]);
    expect(target.rows.map((r) => r.ts)).toEqual(rows(250).map((r) => r.ts));
    w.stop();
  });

  it('stop() flushes everything pending, then counts later writes as dropped', () => {
    const target = new FakeTarget();
    const l = log();
    const w = new SampleWriter(target, { batchMaxRows: 100, batchMaxDelayMs: 60_000, log: l });
    w.start();
    w.write(rows(250));
    w.stop();
    expect(target.rows).toHaveLength(250);
    expect(w.stats()).toMatchObject({ samplesWritten: 250, pendingRows: 0, dropped: 0 });
    w.write(rows(3));
    expect(w.stats().dropped).toBe(3);
    expect(l.error).toHaveBeenCalledTimes(1);
  });

  it('keeps rows when writes fail, retries with backoff, and recovers', () => {
    vi.useFakeTimers();
    const target = new FakeTarget();
    const l = log();
    const w = new SampleWriter(target, { batchMaxRows: 10, batchMaxDelayMs: 100, maxRetryDelayMs: 1000, log: l });
    w.start();
    target.failing = true;
    w.write(rows(5));
    vi.advanceTimersByTime(100);
    expect(w.stats()).toMatchObject({
      writeErrors: 1,
      pendingRows: 5,
      lastError: 'SQLITE_FULL: database or disk is full',
    });
    expect(l.error).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(200 + 400 + 800);
    expect(w.stats().writeErrors).toBe(4);
    target.failing = false;
    vi.advanceTimersByTime(1000);
    expect(target.rows).toHaveLength(5);
    expect(w.stats()).toMatchObject({ samplesWritten: 5, pendingRows: 0, lastError: null, dropped: 0 });
    expect(l.info).toHaveBeenCalledTimes(1);
    w.stop();
  });

  it('bounds memory while the disk is stuck: drops the oldest rows, counts and logs them', () => {
    vi.useFakeTimers();
    const target = new FakeTarget();
    const l = log();
    const w = new SampleWriter(target, { batchMaxRows: 10, batchMaxDelayMs: 100, maxPendingRows: 30, log: l });
    w.start();
    target.failing = true;
    for (let i = 0; i < 5; i++) w.write(rows(10, i * 10));
    expect(w.stats()).toMatchObject({ pendingRows: 30, dropped: 20 });
    expect(l.error.mock.calls.some(([, msg]) => String(msg).startsWith('samples dropped'))).toBe(true);
    target.failing = false;
    w.stop();
    // the newest 30 survive
    expect(target.rows.map((r) => r.ts)).toEqual(rows(30, 20).map((r) => r.ts));
    expect(w.stats()).toMatchObject({ samplesWritten: 30, dropped: 20 });
  });

  it('defaults the cap to 20 × batchMaxRows', () => {
    const target = new FakeTarget();
    const w = new SampleWriter(target, { batchMaxRows: 5, batchMaxDelayMs: 100, log: log() });
    w.write(rows(150));
    expect(w.stats()).toMatchObject({ pendingRows: 100, dropped: 50 });
    w.stop();
  });

  it('counts rows left after a failed final flush as dropped', () => {
    const target = new FakeTarget();
    const l = log();
    const w = new SampleWriter(target, { batchMaxRows: 10, batchMaxDelayMs: 100, log: l });
    w.start();
    w.write(rows(15));
    target.failing = true;
    w.stop();
    expect(w.stats()).toMatchObject({ pendingRows: 0, dropped: 15, samplesWritten: 0 });
    expect(l.error.mock.calls.some(([, msg]) => String(msg).includes('lost'))).toBe(true);
  });

  it('refuses rows SQLite cannot take, so one bad row cannot block a batch forever', () => {
    const target = new FakeTarget();
    const w = new SampleWriter(target, { batchMaxRows: 10, batchMaxDelayMs: 100, log: log() });
    w.write([
      { tagId: 't', ts: Number.NaN, value: 1, quality: 'good' },
      { tagId: 't', ts: 1, value: { x: 1 } as unknown as number, quality: 'good' },
      { tagId: 't', ts: 2, value: 2, quality: 'good' },
    ]);
    expect(w.stats()).toMatchObject({ pendingRows: 1, dropped: 2 });
    w.stop();
    expect(target.rows.map((r) => r.ts)).toEqual([2]);
  });

  it('holds rows written before start() until it starts', async () => {
    const target = new FakeTarget();
    const w = new SampleWriter(target, { batchMaxRows: 10, batchMaxDelayMs: 100, log: log() });
    w.write(rows(3));
    await new Promise((r) => setTimeout(r, 150));
    expect(target.rows).toHaveLength(0);
    w.start();
    await new Promise((r) => setImmediate(r));
    expect(target.rows).toHaveLength(3);
    w.stop();
  });
});
