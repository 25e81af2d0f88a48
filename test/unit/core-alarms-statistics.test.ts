import { describe, expect, it } from 'vitest';
import { type AlarmActivation, alarmStatistics, findFloods } from '../../gateway/core/alarms/index.js';

const T = Date.UTC(2025, 2, 4, 0, 0, 0);
const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;

const act = (
  alarmId: string,
  at: number,
  priority: AlarmActivation['priority'] = 'medium',
  clearedAt: number | null = at + 30 * S,
): AlarmActivation => ({ alarmId, at, priority, clearedAt });

describe('floods (more than 10 in 10 min, ending below 5)', () => {
  it('50 alarms in one minute: a flood from the 11th alarm until the trailing count drops below 5', () => {
    // one every 1.2 s: t_i = T + 1.2 s × i, i = 0 … 49
    const list = Array.from({ length: 50 }, (_, i) => act(`a${i % 7}`, T + i * 1200));
    const stats = alarmStatistics(list, T, T + HOUR);
    // start: the 11th alarm (i = 10) makes 11 within 10 min
    // end: the window (t − 10 min, t] holds 4 once t_45 leaves it, at t_45 + 10 min
    expect(stats.floods).toEqual([
      { start: T + 12 * S, end: T + 54 * S + 10 * MIN, durationMs: 10 * MIN + 42 * S, alarms: 50, peak: 50 },
    ]);
    expect(stats.floodMs).toBe(642 * S);
    expect(stats.floodShare).toBeCloseTo(642 / 3600, 12);
    expect(stats.count).toBe(50);
    expect(stats.rate.perWindow).toEqual([50, 0, 0, 0, 0, 0]);
    expect(stats.rate.maxPerWindow).toBe(50);
    expect(stats.rate.averagePerWindow).toBeCloseTo(50 / 6, 12);
    expect(stats.rate.windowsOverFloodShare).toBeCloseTo(1 / 6, 12);
    expect(stats.rate.perHour).toBe(50);
    expect(stats.rate.perDay).toBe(1200);
  });

  it('exactly 10 in 10 minutes is no flood; the 11th starts one', () => {
    const ten = Array.from({ length: 10 }, (_, i) => T + i * MIN);
    expect(findFloods(ten, 10 * MIN, 10, 5, T + HOUR)).toEqual([]);
    const eleven = [...ten, T + 9 * MIN + 59 * S];
    expect(findFloods(eleven, 10 * MIN, 10, 5, T + HOUR)).toEqual([
      // 11 in (T − 1 s, T + 9:59]; the first leaves at T + 10:00 → 10 left, then one leaves each minute:
      // at T + 16:00 the window (T + 6:00, T + 16:00] holds the alarms of minutes 7, 8, 9 and 9:59 → 4
      { start: T + 9 * MIN + 59 * S, end: T + 16 * MIN, alarms: 11, peak: 11 },
    ]);
  });

  it('a flood still on at the end of the period has no end; its time counts up to the end', () => {
    const list = Array.from({ length: 12 }, (_, i) => act('x', T + HOUR - 2 * MIN + i * 5 * S));
    const stats = alarmStatistics(list, T, T + HOUR);
    expect(stats.floods).toEqual([
      { start: T + HOUR - 2 * MIN + 50 * S, end: null, durationMs: 70 * S, alarms: 12, peak: 12 },
    ]);
    expect(stats.floodMs).toBe(70 * S);
  });

  it('a flood that began before the period counts from the start of the period', () => {
    // 20 alarms in the last 20 s before T; the period's own alarms are few
    const before = Array.from({ length: 20 }, (_, i) => act('b', T - 20 * S + i * S));
    const stats = alarmStatistics([...before, act('c', T + MIN)], T, T + HOUR);
    expect(stats.count).toBe(1);
    // 11th at T − 10 s; 21 in the window once c comes at T + 1 min; below 5 when the 17th (T − 4 s)
    // leaves at T + 9:56 (left: T − 3 s … T − 1 s and c)
    expect(stats.floods).toEqual([
      { start: T - 10 * S, end: T + 10 * MIN - 4 * S, durationMs: 10 * MIN - 4 * S, alarms: 21, peak: 21 },
    ]);
  });

  it('two floods apart', () => {
    const burst = (at: number) => Array.from({ length: 11 }, (_, i) => T + at + i * S);
    const floods = findFloods([...burst(0), ...burst(30 * MIN)], 10 * MIN, 10, 5, T + HOUR);
    expect(floods.map((f) => [(f.start - T) / S, ((f.end ?? 0) - T) / S])).toEqual([
      [10, 606],
      [1810, 2406],
    ]);
  });
});

describe('rates, priorities, bad actors, chattering, standing (computed by hand)', () => {
  const list: AlarmActivation[] = [
    act('A', T, 'medium'),
    act('A', T + 30 * S, 'medium'),
    act('A', T + 50 * S, 'medium'),
    act('B', T + 5 * MIN, 'low'),
    act('B', T + 25 * MIN, 'low'),
    act('C', T + 45 * MIN, 'high'),
    act('D', T - 5 * MIN, 'medium'), // before the period
    act('E', T + HOUR - 1, 'medium'),
    act('F', T + HOUR, 'medium'), // the period ends before it
    act('G', T + 30 * MIN, 'low'),
    act('G', T + 30 * MIN + 30 * S, 'low'),
    act('G', T + 31 * MIN, 'low'), // third exactly 60 s after the first: not within 60 s
  ];
  const stats = alarmStatistics(list, T, T + HOUR);

  it('counts and rates', () => {
    expect(stats.count).toBe(10);
    expect(stats.rate.perWindow).toEqual([4, 0, 1, 3, 1, 1]);
    expect(stats.rate.maxPerWindow).toBe(4);
    expect(stats.rate.averagePerWindow).toBeCloseTo(10 / 6, 12);
    expect(stats.rate.perHour).toBe(10);
    expect(stats.rate.windowsOverFloodShare).toBe(0);
    expect(stats.floods).toEqual([]);
    expect(stats.floodShare).toBe(0);
  });

  it('priority mix', () => {
    expect(stats.priorities).toEqual({
      high: { count: 1, share: 0.1 },
      medium: { count: 4, share: 0.4 },
      low: { count: 5, share: 0.5 },
    });
  });

  it('bad actors: most activations first, then by id', () => {
    expect(stats.badActors).toEqual([
      { alarmId: 'A', count: 3, share: 0.3 },
      { alarmId: 'G', count: 3, share: 0.3 },
      { alarmId: 'B', count: 2, share: 0.2 },
      { alarmId: 'C', count: 1, share: 0.1 },
      { alarmId: 'E', count: 1, share: 0.1 },
    ]);
    expect(alarmStatistics(list, T, T + HOUR, { top: 2 }).badActors.map((b) => b.alarmId)).toEqual(['A', 'G']);
  });

  it('chattering: 3 activations within 60 s', () => {
    expect(stats.chattering).toEqual([{ alarmId: 'A', activations: 3, maxInWindow: 3, firstAt: T + 50 * S }]);
  });

  it('standing: active at the end of the period for 24 h or more', () => {
    const to = T + HOUR;
    const standing = alarmStatistics(
      [
        act('S1', to - 25 * HOUR, 'high', null),
        act('S2', to - 23 * HOUR, 'high', null),
        act('S3', to - 30 * HOUR, 'high', to + HOUR),
        act('S4', to - 30 * HOUR, 'high', to - HOUR),
        act('S5', to - 24 * HOUR, 'high', null),
      ],
      T,
      to,
    ).standing;
    expect(standing).toEqual([
      { alarmId: 'S3', since: to - 30 * HOUR, durationMs: 30 * HOUR },
      { alarmId: 'S1', since: to - 25 * HOUR, durationMs: 25 * HOUR },
      { alarmId: 'S5', since: to - 24 * HOUR, durationMs: 24 * HOUR },
    ]);
  });

  it('an empty period gives zeros, and shares without a denominator are null', () => {
    const empty = alarmStatistics([], T, T + HOUR);
    expect(empty).toMatchObject({ count: 0, floods: [], floodMs: 0, floodShare: 0, badActors: [], chattering: [] });
    expect(empty.priorities.high).toEqual({ count: 0, share: null });
    expect(alarmStatistics([], T, T).floodShare).toBeNull();
  });
});
