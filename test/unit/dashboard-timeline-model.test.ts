import { describe, expect, it } from 'vitest';
import type { HistoryPoint, MachineStatus } from '../../gateway/server/contract.js';
import { reasonText, stateBands, timeByState, timeTicks } from '../../dashboard/src/detail/timeline-model.js';
import {
  addDays,
  formatDate,
  localDate,
  parseDate,
  startOfDate,
  zonedInstant,
  zoneOffsetMs,
} from '../../dashboard/src/site-time.js';

const MIN = 60_000;
const machine = {
  stateMap: {
    '0': 'offline',
    '1': 'running',
    '2': 'idle',
    '3': 'unplanned-stop',
    '4': 'planned-stop',
  } as const,
  reasons: { '1': 'Jam', '3': 'Tool break' },
  stateReasons: { '4': 'setup' },
};
const p = (ts: number, value: HistoryPoint['value'], quality: HistoryPoint['quality'] = 'good'): HistoryPoint => ({
  ts,
  value,
  quality,
});
const simple = (bands: ReturnType<typeof stateBands>) =>
  bands.map((b) => [b.from / MIN, b.to / MIN, b.state, b.reason]);

describe('state timeline', () => {
  it('holds each state until the next reading, starting from the one in force at the window start', () => {
    const bands = stateBands({
      states: [p(-30 * MIN, 1), p(10 * MIN, 3), p(15 * MIN, 1), p(40 * MIN, 2)],
      reasons: [p(-30 * MIN, 0), p(10 * MIN, 3), p(15 * MIN, 0)],
      machine,
      from: 0,
      to: 60 * MIN,
    });
    expect(simple(bands)).toEqual([
      [0, 10, 'running', null],
      [10, 15, 'unplanned-stop', 'Tool break'],
      [15, 40, 'running', null],
      [40, 60, 'idle', null],
    ]);
    expect(timeByState(bands).get('running')).toBe(35 * MIN);
  });

  it('shows no data before the first reading and after a bad one, and unknown codes as unmapped', () => {
    const bands = stateBands({
      states: [p(5 * MIN, 1), p(20 * MIN, null, 'bad'), p(30 * MIN, 9)],
      reasons: [],
      machine,
      from: 0,
      to: 40 * MIN,
    });
    expect(simple(bands)).toEqual([
      [0, 5, 'no-data', null],
      [5, 20, 'running', null],
      [20, 30, 'no-data', null],
      [30, 40, 'unmapped', null],
    ]);
    expect(bands[3]!.raw).toBe('9');
  });

  it('names a stop by its reason tag, else by its state mapping, and splits a stop when its reason changes', () => {
    const bands = stateBands({
      states: [p(0, 3), p(20 * MIN, 4), p(30 * MIN, 1)],
      reasons: [p(0, 1), p(10 * MIN, 7), p(20 * MIN, 0)],
      machine,
      from: 0,
      to: 40 * MIN,
    });
    expect(simple(bands)).toEqual([
      [0, 10, 'unplanned-stop', 'Jam'],
      // a code the plant does not name shows as the code
      [10, 20, 'unplanned-stop', '7'],
      [20, 30, 'planned-stop', 'setup'],
      [30, 40, 'running', null],
    ]);
  });

  it('folds the moment between a state and its reason arriving into one band', () => {
    const bands = stateBands({
      states: [p(0, 1), p(10 * MIN, 3)],
      reasons: [p(0, 0), p(10 * MIN + 500, 1)],
      machine,
      from: 0,
      to: 20 * MIN,
    });
    expect(simple(bands)).toEqual([
      [0, 10, 'running', null],
      [10, 20, 'unplanned-stop', 'Jam'],
    ]);
  });

  it('takes the state now from the metrics core from when it began (a quiet tag sends nothing)', () => {
    const status: MachineStatus = {
      machineId: 'm',
      state: 'unplanned-stop',
      reason: 'Tool break',
      since: 45 * MIN,
      raw: '3',
      unmapped: false,
      noData: false,
      minorStopPending: false,
    };
    const bands = stateBands({ states: [p(-5 * MIN, 1)], reasons: [], machine, from: 0, to: 60 * MIN, status });
    expect(simple(bands)).toEqual([
      [0, 45, 'running', null],
      [45, 60, 'unplanned-stop', 'Tool break'],
    ]);
    // with no reading at all, the core's state still fills its part
    const none = stateBands({ states: [], reasons: [], machine, from: 0, to: 60 * MIN, status });
    expect(simple(none)).toEqual([
      [0, 45, 'no-data', null],
      [45, 60, 'unplanned-stop', 'Tool break'],
    ]);
  });

  it('is empty for an empty window', () => {
    expect(stateBands({ states: [p(0, 1)], reasons: [], machine, from: 10, to: 10 })).toEqual([]);
  });

  it('reads reason values as the core does', () => {
    expect(reasonText(3, machine.reasons)).toBe('Tool break');
    expect(reasonText(0, machine.reasons)).toBeNull();
    expect(reasonText('', machine.reasons)).toBeNull();
    expect(reasonText(' Jam ', {})).toBe('Jam');
    expect(reasonText(12, {})).toBe('12');
    expect(reasonText(null, machine.reasons)).toBeNull();
  });
});

describe('clock ticks in the site time zone', () => {
  it('marks whole hours of a Hong Kong shift', () => {
    const from = Date.parse('2025-03-01T07:00:00+08:00');
    const to = Date.parse('2025-03-01T19:00:00+08:00');
    const ticks = timeTicks(from, to, 'Asia/Hong_Kong', 8);
    expect(ticks.map((t) => new Date(t + 8 * 3_600_000).toISOString().slice(11, 16))).toEqual([
      '08:00',
      '10:00',
      '12:00',
      '14:00',
      '16:00',
      '18:00',
    ]);
  });

  it('keeps round local times across a clock change', () => {
    // London, 30 March 2025: 01:00 GMT becomes 02:00 BST
    const from = Date.parse('2025-03-29T22:00:00Z');
    const to = Date.parse('2025-03-30T06:00:00Z');
    const ticks = timeTicks(from, to, 'Europe/London', 8);
    const local = ticks.map((t) =>
      new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: '2-digit', minute: '2-digit' }).format(t),
    );
    expect(local.every((x) => x.endsWith(':00'))).toBe(true);
    expect(ticks.length).toBeGreaterThan(3);
  });
});

describe('site time', () => {
  it('finds the instant of a wall-clock time, moving a skipped one forward and taking the earlier of a repeated one', () => {
    expect(zonedInstant(2025, 3, 1, 'Asia/Hong_Kong')).toBe(Date.parse('2025-03-01T00:00:00+08:00'));
    expect(zonedInstant(2025, 3, 30, 'Europe/London', 1, 30)).toBe(Date.parse('2025-03-30T01:30:00Z'));
    expect(zonedInstant(2025, 10, 26, 'Europe/London', 1, 30)).toBe(Date.parse('2025-10-26T00:30:00Z'));
    expect(zoneOffsetMs(Date.parse('2025-07-01T00:00:00Z'), 'Europe/London')).toBe(3_600_000);
  });

  it('reads, writes and moves dates', () => {
    expect(parseDate('2025-02-29')).toBeNull();
    expect(parseDate('2024-02-29')).toEqual({ year: 2024, month: 2, day: 29 });
    expect(parseDate('2024-2-1')).toBeNull();
    expect(formatDate(addDays({ year: 2025, month: 1, day: 1 }, -1))).toBe('2024-12-31');
    expect(localDate(Date.parse('2025-03-01T17:00:00Z'), 'Asia/Hong_Kong')).toEqual({ year: 2025, month: 3, day: 2 });
    expect(startOfDate({ year: 2025, month: 3, day: 2 }, 'Asia/Hong_Kong')).toBe(
      Date.parse('2025-03-02T00:00:00+08:00'),
    );
  });
});
