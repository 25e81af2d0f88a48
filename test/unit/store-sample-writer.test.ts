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

/** writes off the event loop: a batch is done when the test says so */
class FakeAsyncTarget implements SampleBatchTarget {
  batches: StoredSample[][] = [];
  begun: { rows: StoredSample[]; done: (err: unknown) => void; handle: number }[] = [];
  syncWrites = 0;
  private next = 1;
  beginBatch(rows: readonly StoredSample[], done: (err: unknown) => void): number {
    const handle = this.next++;
    this.begun.push({ rows: [...rows], done, handle });
    return handle;
  }
  writeBatch(rows: readonly StoredSample[]): void {
    this.syncWrites++;
    this.batches.push([...rows]);
  }
  settle(handle: number): void {
    const i = this.begun.findIndex((b) => b.handle === handle);
    if (i >= 0) this.complete(i);
  }
  /** the i-th batch in flight commits, or fails with `err` */
  complete(i = 0, err: unknown = null): void {
    const [b] = this.begun.splice(i, 1);
    if (!b) throw new Error('no batch in flight');
    if (err === null) this.batches.push(b.rows);
    b.done(err);
  }
  get rows(): StoredSample[] {
    return this.batches.flat();
  }
}

const turn = () => new Promise((r) => setImmediate(r));

describe('SampleWriter with a target that writes off the event loop', () => {
  it('has one batch in flight at a time, and counts rows as written only once it committed', async () => {
    const target = new FakeAsyncTarget();
    const w = new SampleWriter(target, { batchMaxRows: 100, batchMaxDelayMs: 60_000, log: log() });
    w.start();
    w.write(rows(250));
    await turn();
    expect(target.begun.map((b) => b.rows.length)).toEqual([100]);
    await turn();
    await turn();
    // nothing more while the first is on its way
    expect(target.begun).toHaveLength(1);
    expect(w.stats()).toMatchObject({ samplesWritten: 0, pendingRows: 250 });
    target.complete();
    expect(w.stats()).toMatchObject({ samplesWritten: 100, pendingRows: 150, batchesWritten: 1 });
    // the rest of a backlog follows at once
    await turn();
    expect(target.begun.map((b) => b.rows.length)).toEqual([100]);
    target.complete();
    await turn();
    target.complete();
    expect(target.rows.map((r) => r.ts)).toEqual(rows(250).map((r) => r.ts));
    expect(target.syncWrites).toBe(0);
    w.stop();
  });

  it('lets rows that arrive during a batch wait for the delay, so batches stay large', async () => {
    vi.useFakeTimers();
    const target = new FakeAsyncTarget();
    const w = new SampleWriter(target, { batchMaxRows: 1000, batchMaxDelayMs: 200, log: log() });
    w.start();
    w.write(rows(10));
    await vi.advanceTimersByTimeAsync(200);
    expect(target.begun.map((b) => b.rows.length)).toEqual([10]);
    await vi.advanceTimersByTimeAsync(50);
    w.write(rows(5, 10));
    await vi.advanceTimersByTimeAsync(10);
    target.complete();
    // the 5 arrived at 250 ms: their batch goes at 450 ms, not when the first one is done
    await vi.advanceTimersByTimeAsync(189);
    expect(target.begun).toHaveLength(0);
    w.write(rows(5, 15));
    await vi.advanceTimersByTimeAsync(1);
    expect(target.begun.map((b) => b.rows.length)).toEqual([10]);
    target.complete();
    expect(w.stats()).toMatchObject({ samplesWritten: 20, pendingRows: 0 });
    w.stop();
  });

  it('keeps the rows of a failed batch and retries them after the delay', async () => {
    vi.useFakeTimers();
    const target = new FakeAsyncTarget();
    const l = log();
    const w = new SampleWriter(target, { batchMaxRows: 100, batchMaxDelayMs: 100, log: l });
    w.start();
    w.write(rows(30));
    await vi.advanceTimersByTimeAsync(100);
    target.complete(0, new Error('SQLITE_BUSY: database is locked'));
    expect(w.stats()).toMatchObject({
      writeErrors: 1,
      pendingRows: 30,
      samplesWritten: 0,
      lastError: 'SQLITE_BUSY: database is locked',
    });
    expect(l.error).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(target.begun).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(target.begun.map((b) => b.rows.length)).toEqual([30]);
    target.complete();
    expect(w.stats()).toMatchObject({ samplesWritten: 30, pendingRows: 0, lastError: null, dropped: 0 });
    w.stop();
  });

  it('stop() and flushOne() wait for the batch in flight, then write on their own turn', async () => {
    const target = new FakeAsyncTarget();
    const w = new SampleWriter(target, { batchMaxRows: 100, batchMaxDelayMs: 60_000, log: log() });
    w.start();
    w.write(rows(250));
    await turn();
    expect(w.flushOne()).toBe(true);
    expect(w.stats()).toMatchObject({ samplesWritten: 200, pendingRows: 50 });
    await turn();
    expect(target.begun).toHaveLength(1);
    w.stop();
    expect(w.stats()).toMatchObject({ samplesWritten: 250, pendingRows: 0, dropped: 0 });
    expect(target.rows.map((r) => r.ts)).toEqual(rows(250).map((r) => r.ts));
  });

  it('at its cap drops the oldest rows that are not being written', async () => {
    const target = new FakeAsyncTarget();
    const w = new SampleWriter(target, { batchMaxRows: 10, batchMaxDelayMs: 60_000, maxPendingRows: 30, log: log() });
    w.start();
    w.write(rows(10));
    await turn();
    expect(target.begun).toHaveLength(1);
    w.write(rows(40, 10));
    expect(w.stats()).toMatchObject({ pendingRows: 30, dropped: 20 });
    target.complete();
    w.stop();
    // the batch in flight, then the newest 20
    expect(target.rows.map((r) => r.ts)).toEqual([...rows(10).map((r) => r.ts), ...rows(20, 30).map((r) => r.ts)]);
  });
});
