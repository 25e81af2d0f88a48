import { describe, expect, it } from 'vitest';
import { LiveJournal } from '../../gateway/server/live-journal.js';
import type { LiveValue } from '../../gateway/server/ports.js';

const v = (tagId: string, value: LiveValue['value'], extra: Partial<LiveValue> = {}): LiveValue => ({
  tagId,
  value,
  quality: 'good',
  ts: 1000,
  receivedAt: 1001,
  ...extra,
});
const ids = (values: readonly LiveValue[] | null) => values?.map((x) => `${x.tagId}=${String(x.value)}`) ?? null;

describe('LiveJournal', () => {
  it('gives the latest value of each tag changed since a position, in the order of their latest change', () => {
    const j = new LiveJournal(1000);
    j.record([v('a', 1), v('b', 1)]);
    const served = j.end;
    expect(served).toBe(2);
    j.record([v('a', 2), v('c', 1), v('a', 3)]);
    expect(ids(j.since(0, null))).toEqual(['b=1', 'c=1', 'a=3']);
    expect(ids(j.since(served, null))).toEqual(['c=1', 'a=3']);
    expect(ids(j.since(j.end, null))).toEqual([]);
    expect(j.countSince(served, null)).toBe(2);
  });

  it('filters by the tags a client follows', () => {
    const j = new LiveJournal(1000);
    j.record([v('a', 1), v('b', 1), v('c', 1)]);
    const follows = (t: string) => t !== 'b';
    expect(ids(j.since(0, follows))).toEqual(['a=1', 'c=1']);
    expect(j.countSince(0, follows)).toBe(2);
    expect(ids(j.latest(follows))).toEqual(['a=1', 'c=1']);
  });

  it('keeps the quality, times and reason of the latest change, and drops a reason that went away', () => {
    const j = new LiveJournal(1000);
    j.record([v('a', null, { quality: 'bad', reason: 'timeout', ts: 5, receivedAt: 6 })]);
    expect(j.since(0, null)).toEqual([
      { tagId: 'a', value: null, quality: 'bad', reason: 'timeout', ts: 5, receivedAt: 6 },
    ]);
    j.record([v('a', 7)]);
    expect(j.since(0, null)).toEqual([{ tagId: 'a', value: 7, quality: 'good', ts: 1000, receivedAt: 1001 }]);
  });

  it('answers null for positions it dropped, so the caller sends the latest of every tag instead', () => {
    const j = new LiveJournal(10);
    for (let i = 0; i < 11; i++) j.record([v(`t${i % 4}`, i)]);
    // past 10 positions it keeps the newest half
    expect(j.length).toBe(5);
    expect(j.since(0, null)).toBeNull();
    expect(j.countSince(0, null)).toBe(4);
    // positions 6–10 hold t2=6, t3=7, t0=8, t1=9, t2=10; t2's latest change supersedes its earlier one
    expect(ids(j.since(6, null))).toEqual(['t3=7', 't0=8', 't1=9', 't2=10']);
    expect(ids(j.latest(null))).toEqual(['t0=8', 't1=9', 't2=10', 't3=7']);
  });

  it('trims what every client has had, in halves or more, and keeps positions absolute', () => {
    const j = new LiveJournal(1000);
    j.record([v('a', 1), v('b', 1), v('c', 1), v('d', 1)]);
    j.trim(1);
    expect(j.length).toBe(4);
    j.trim(2);
    expect(j.length).toBe(2);
    expect(j.since(1, null)).toBeNull();
    expect(ids(j.since(2, null))).toEqual(['c=1', 'd=1']);
    j.record([v('c', 2)]);
    expect(j.end).toBe(5);
    expect(ids(j.since(3, null))).toEqual(['d=1', 'c=2']);
    j.trim(99);
    expect(j.length).toBe(0);
    expect(ids(j.since(5, null))).toEqual([]);
  });
});
