import { describe, expect, it } from 'vitest';
import type { SampleBatchJob } from '../../gateway/store/batch-insert.js';
import type { StoredSample } from '../../gateway/store/index.js';
import { SampleColumnQueue } from '../../gateway/store/sample-queue.js';

const T0 = Date.UTC(2025, 2, 3, 8, 0, 0);

/** a job read back as rows, the way the executor sees them */
function rowsOf(job: SampleBatchJob) {
  return Array.from({ length: job.rows }, (_, i) => {
    const kind = job.kind[i]! >> 2;
    const value =
      kind === 0
        ? job.value[i]
        : kind === 2
          ? true
          : kind === 3
            ? false
            : kind === 4
              ? job.texts[job.valueText[i]!]
              : null;
    const reason = job.reason[i]! < 0 ? undefined : job.texts[job.reason[i]!];
    return {
      tag: job.tag[i]!,
      ts: job.ts[i]!,
      value,
      quality: job.kind[i]! & 3,
      ...(reason === undefined ? {} : { reason }),
    };
  });
}

describe('SampleColumnQueue', () => {
  it('holds rows in columns and hands out the oldest as a job, new tags by name', () => {
    const known = new Map([['a', 7]]);
    const q = new SampleColumnQueue((t) => known.get(t));
    const rows: StoredSample[] = [
      { tagId: 'a', ts: T0 + 0.4, value: 1.5, quality: 'good' },
      { tagId: 'b', ts: T0 + 1, value: true, quality: 'uncertain', reason: 'manual' },
      { tagId: 'c', ts: T0 + 2, value: 'recipe 7', quality: 'good' },
      { tagId: 'b', ts: T0 + 3, value: null, quality: 'bad', reason: 'timeout' },
      { tagId: 'a', ts: T0 + 4, value: false, quality: 'stale', reason: 'no update for 3000 ms' },
    ];
    for (const r of rows) q.push(r);
    expect(q.length).toBe(5);
    const job = q.batch(4);
    expect(job.newTags).toEqual(['b', 'c']);
    expect(rowsOf(job)).toEqual([
      { tag: 7, ts: T0, value: 1.5, quality: 0 },
      { tag: -1, ts: T0 + 1, value: true, quality: 1, reason: 'manual' },
      { tag: -2, ts: T0 + 2, value: 'recipe 7', quality: 0 },
      { tag: -1, ts: T0 + 3, value: null, quality: 2, reason: 'timeout' },
    ]);
    // a batch is a copy: the rows stay until shifted
    expect(q.length).toBe(5);
    q.shift(4);
    expect(rowsOf(q.batch(1))).toEqual([
      { tag: 7, ts: T0 + 4, value: false, quality: 3, reason: 'no update for 3000 ms' },
    ]);
  });

  it('sends a tag by id once the dictionary has learned it, even for rows that arrived before', () => {
    const known = new Map<string, number>();
    const q = new SampleColumnQueue((t) => known.get(t));
    q.push({ tagId: 'x', ts: T0, value: 1, quality: 'good' });
    expect(q.batch(1).newTags).toEqual(['x']);
    known.set('x', 42);
    q.push({ tagId: 'x', ts: T0 + 1, value: 2, quality: 'good' });
    const job = q.batch(2);
    expect(job.newTags).toEqual([]);
    expect([...job.tag]).toEqual([42, 42]);
  });

  it('grows, moves its rows to the front, and removes rows after the ones being written', () => {
    const q = new SampleColumnQueue(() => 1);
    const row = (i: number): StoredSample =>
      i % 3 === 0
        ? { tagId: 't', ts: T0 + i, value: `v${i}`, quality: 'good' }
        : { tagId: 't', ts: T0 + i, value: i, quality: 'bad', reason: `r${i}` };
    let next = 0;
    for (; next < 3000; next++) q.push(row(next));
    q.shift(1000);
    // more than the columns hold after the shift: they move down, then double
    for (; next < 6000; next++) q.push(row(next));
    expect(q.length).toBe(5000);
    // 10 rows are being written; the 5 after them go
    q.remove(10, 5);
    expect(q.length).toBe(4995);
    const expected = [
      ...Array.from({ length: 10 }, (_, i) => 1000 + i),
      ...Array.from({ length: 4985 }, (_, i) => 1015 + i),
    ];
    const back = rowsOf(q.batch(q.length));
    expect(back.map((r) => r.ts - T0)).toEqual(expected);
    expect(back.map((r) => r.value)).toEqual(expected.map((i) => (i % 3 === 0 ? `v${i}` : i)));
    expect(back.map((r) => r.reason)).toEqual(expected.map((i) => (i % 3 === 0 ? undefined : `r${i}`)));
    q.clear();
    expect(q.length).toBe(0);
  });
});
