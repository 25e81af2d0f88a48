import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../config/loader.js';
import { type AlarmRule, AlarmRule as AlarmRuleSchema } from '../../config/schema.js';
import type { CoreSample } from '../../gateway/core/index.js';
import { beyondLimit, metricValueOf, RuleTracker, sameValue } from '../../gateway/core/alarms/index.js';

const T0 = 1_700_000_000_000;
const S = 1000;

const rule = (r: Record<string, unknown>): AlarmRule =>
  AlarmRuleSchema.parse({ id: 'r1', message: { en: 'test alarm' }, ...r });

const sample = (value: CoreSample['value'], ts = T0, quality: CoreSample['quality'] = 'good'): CoreSample => ({
  tagId: 't',
  ts,
  value,
  quality,
});

/** feeds values at the given seconds after T0 (evaluated at that time) and returns the condition edges */
function drive(r: AlarmRule, steps: readonly (readonly [number, CoreSample['value'], CoreSample['quality']?])[]) {
  const tracker = new RuleTracker(r, false, false);
  for (const [sec, value, quality] of steps) tracker.sample(sample(value, T0 + sec * S, quality), T0 + sec * S);
  return tracker;
}

const conditionEdges = (t: RuleTracker) =>
  t.edges.flatMap((e) => (e.kind === 'condition' ? [[(e.at - T0) / S, e.active] as const] : []));

describe('limits with deadband', () => {
  it('beyond the limit raises; back past the limit by the deadband clears', () => {
    const t = drive(rule({ kind: 'high', tag: 't', limit: 100, deadband: 2 }), [
      [0, 99],
      [1, 100], // at the limit is not beyond it
      [2, 100.1],
      [3, 99], // inside the deadband: still active
      [4, 98.5],
      [5, 98], // exactly limit − deadband: cleared
      [6, 99.5], // below the limit: stays clear
      [7, 101],
    ]);
    expect(conditionEdges(t)).toEqual([
      [2, true],
      [5, false],
      [7, true],
    ]);
    expect(t.value).toBe(101);
  });

  it('low and low-low mirror it', () => {
    const t = drive(rule({ kind: 'low-low', tag: 't', limit: 10, deadband: 1 }), [
      [0, 10],
      [1, 9.9],
      [2, 10.5],
      [3, 11],
    ]);
    expect(conditionEdges(t)).toEqual([
      [1, true],
      [3, false],
    ]);
  });

  it('bad, stale and non-numeric readings hold the condition', () => {
    const t = drive(rule({ kind: 'high', tag: 't', limit: 100 }), [
      [0, 120],
      [1, 50, 'bad'],
      [2, null, 'stale'],
      [3, 'x'],
      [4, Number.NaN],
      [5, 50, 'uncertain'],
    ]);
    expect(conditionEdges(t)).toEqual([
      [0, true],
      [5, false],
    ]);
  });

  it('beyondLimit is the hysteresis in both directions', () => {
    expect(beyondLimit(10, 'above', 10, 1, false)).toBe(false);
    expect(beyondLimit(10.01, 'above', 10, 1, false)).toBe(true);
    expect(beyondLimit(9.5, 'above', 10, 1, true)).toBe(true);
    expect(beyondLimit(9, 'above', 10, 1, true)).toBe(false);
    expect(beyondLimit(10, 'below', 10, 1, false)).toBe(false);
    expect(beyondLimit(10.5, 'below', 10, 1, true)).toBe(true);
    expect(beyondLimit(11, 'below', 10, 1, true)).toBe(false);
  });
});

describe('on-delay and off-delay (fake clock: time passes through advance)', () => {
  const r = rule({ kind: 'high', tag: 't', limit: 100, deadband: 2, onDelayS: 5, offDelayS: 3 });

  it('raises once the condition has lasted the on-delay, with no further sample', () => {
    const t = new RuleTracker(r, false, false);
    t.sample(sample(101, T0), T0);
    expect(t.nextDue()).toBe(T0 + 5 * S);
    t.advance(T0 + 4999);
    expect(t.edges).toEqual([]);
    t.advance(T0 + 5 * S + 700); // the timer fires late: the alarm is dated when the delay ended
    expect(conditionEdges(t)).toEqual([[5, true]]);
    expect(t.conditionActive).toBe(true);
    expect(t.nextDue()).toBeNull();
  });

  it('a dip below the limit during the on-delay starts it again', () => {
    const t = new RuleTracker(r, false, false);
    t.sample(sample(101, T0), T0);
    t.sample(sample(99.5, T0 + 4 * S), T0 + 4 * S); // below the limit (the deadband applies only to clearing)
    t.advance(T0 + 6 * S);
    expect(t.edges).toEqual([]);
    t.sample(sample(102, T0 + 7 * S), T0 + 7 * S);
    t.advance(T0 + 12 * S);
    expect(conditionEdges(t)).toEqual([[12, true]]);
  });

  it('the off-delay holds the alarm through brief dips', () => {
    const t = new RuleTracker(r, true, false);
    t.sample(sample(97, T0), T0); // cleared by value: off-delay starts
    t.sample(sample(99, T0 + 2 * S), T0 + 2 * S); // back inside the deadband: still in alarm, off-delay cancelled
    t.advance(T0 + 10 * S);
    expect(t.edges).toEqual([]);
    t.sample(sample(96, T0 + 11 * S), T0 + 11 * S);
    t.advance(T0 + 13 * S + 999);
    expect(t.edges).toEqual([]);
    t.advance(T0 + 14 * S);
    expect(conditionEdges(t)).toEqual([[14, false]]);
  });

  it('a condition that comes and goes between two evaluations is kept as two edges', () => {
    const t = drive(rule({ kind: 'high', tag: 't', limit: 100 }), [
      [0, 101],
      [0.5, 99],
    ]);
    expect(conditionEdges(t)).toEqual([
      [0, true],
      [0.5, false],
    ]);
    t.consume(1);
    expect(conditionEdges(t)).toEqual([[0.5, false]]);
  });
});

describe('rate of change', () => {
  const r = rule({ kind: 'rate-of-change', tag: 't', limitPerS: 2 });

  it('compares the slope between consecutive good readings, by their own times', () => {
    const t = drive(r, [
      [0, 10],
      [1, 11], // 1 /s
      [2, 14], // 3 /s
      [2.5, 15], // 2 /s: not above the limit
      [3.5, 12], // 3 /s falling: absolute
      [5.5, 13], // 0.5 /s
    ]);
    expect(conditionEdges(t)).toEqual([
      [2, true],
      [2.5, false],
      [3.5, true],
      [5.5, false],
    ]);
    expect(t.value).toBeCloseTo(0.5);
  });

  it('uses the sample time, not the time it is evaluated at', () => {
    const t = new RuleTracker(r, false, false);
    t.sample(sample(0, T0), T0 + 10 * S);
    t.sample(sample(30, T0 + 10 * S), T0 + 10 * S + 1); // 3 /s over 10 s of device time
    expect(conditionEdges(t)).toEqual([[10.001, true]]);
  });

  it('a bad reading breaks the slope; late or repeated readings are ignored', () => {
    const t = drive(r, [
      [0, 10],
      [1, 10, 'bad'],
      [2, 40], // no slope across the gap
      [3, 41],
    ]);
    expect(t.edges).toEqual([]);
    const u = new RuleTracker(r, false, false);
    u.sample(sample(10, T0 + S), T0 + S);
    u.sample(sample(100, T0), T0 + 2 * S); // older than the last: ignored
    u.sample(sample(100, T0 + S), T0 + 2 * S); // same time: ignored
    u.sample(sample(11, T0 + 2 * S), T0 + 2 * S);
    expect(u.edges).toEqual([]);
  });
});

describe('discrete, stale, machine, device, metric and system conditions', () => {
  it('equals / not-equals compare numbers, booleans and text', () => {
    const eq = drive(rule({ kind: 'equals', tag: 't', value: 1 }), [
      [0, 0],
      [1, true],
      [2, false],
      [3, '1'],
      [4, 'x'],
    ]);
    expect(conditionEdges(eq)).toEqual([
      [1, true],
      [2, false],
      [3, true],
      [4, false],
    ]);
    const ne = drive(rule({ kind: 'not-equals', tag: 't', value: 'AUTO' }), [
      [0, 'AUTO'],
      [1, 'MANUAL'],
      [2, null, 'bad'],
      [3, 'AUTO'],
    ]);
    expect(conditionEdges(ne)).toEqual([
      [1, true],
      [3, false],
    ]);
    expect(sameValue(true, 1)).toBe(true);
    expect(sameValue(' 2.0 ', 2)).toBe(true);
    expect(sameValue('true', true)).toBe(true);
    expect(sameValue('FAULT', 'fault')).toBe(false);
    expect(sameValue(null, 0)).toBe(false);
  });

  it('tag-stale follows the quality', () => {
    const t = drive(rule({ kind: 'tag-stale', tag: 't' }), [
      [0, 1],
      [1, null, 'stale'],
      [2, 1, 'uncertain'],
      [3, null, 'bad'],
      [4, 2],
    ]);
    expect(conditionEdges(t)).toEqual([
      [1, true],
      [2, false],
      [3, true],
      [4, false],
    ]);
  });

  it('machine-state counts forS from when the machine entered the state', () => {
    const r = rule({ kind: 'machine-state', machine: 'm1', state: 'unplanned-stop', forS: 600, onDelayS: 0 });
    const t = new RuleTracker(r, false, false);
    t.machine('m1', { state: 'unplanned-stop', since: T0 }, T0 + 10 * S);
    t.machine('m2', { state: 'running', since: T0 }, T0 + 11 * S); // another machine: nothing
    t.advance(T0 + 599 * S);
    expect(t.edges).toEqual([]);
    expect(t.nextDue()).toBe(T0 + 600 * S);
    t.advance(T0 + 600 * S);
    expect(conditionEdges(t)).toEqual([[600, true]]);
    t.machine('m1', { state: 'running', since: T0 + 700 * S }, T0 + 701 * S);
    expect(conditionEdges(t)).toEqual([
      [600, true],
      [700, false],
    ]);
  });

  it('a machine seen late in a long stop raises at once, dated when forS ran out', () => {
    const r = rule({ kind: 'machine-state', machine: 'm1', state: 'unplanned-stop', forS: 600 });
    const t = new RuleTracker(r, false, false);
    t.machine('m1', { state: 'unplanned-stop', since: T0 }, T0 + 3600 * S);
    expect(conditionEdges(t)).toEqual([[600, true]]);
  });

  it('a new stop episode between two looks restarts the delay', () => {
    const r = rule({ kind: 'machine-state', machine: 'm1', state: 'unplanned-stop', forS: 600 });
    const t = new RuleTracker(r, false, false);
    t.machine('m1', { state: 'unplanned-stop', since: T0 }, T0 + S);
    t.machine('m1', { state: 'unplanned-stop', since: T0 + 300 * S }, T0 + 301 * S);
    t.advance(T0 + 899 * S);
    expect(t.edges).toEqual([]);
    t.advance(T0 + 900 * S);
    expect(conditionEdges(t)).toEqual([[900, true]]);
  });

  it('suppression by design follows the machine state, and unknown status holds it', () => {
    const r = rule({ kind: 'high', tag: 't', limit: 1, machine: 'm1', suppressInStates: ['planned-stop', 'offline'] });
    const t = new RuleTracker(r, false, false);
    t.machine('m1', { state: 'running', since: T0 }, T0);
    t.machine('m1', { state: 'planned-stop', since: T0 + 5 * S }, T0 + 6 * S);
    t.machine('m1', null, T0 + 7 * S);
    t.machine('m1', { state: 'offline', since: T0 + 8 * S }, T0 + 8 * S);
    t.machine('m1', { state: 'running', since: T0 + 9 * S }, T0 + 9 * S);
    expect(t.edges).toEqual([
      { kind: 'suppression', on: true, at: T0 + 5 * S },
      { kind: 'suppression', on: false, at: T0 + 9 * S },
    ]);
  });

  it('device-comm-lost follows the link; unknown holds', () => {
    const t = new RuleTracker(rule({ kind: 'device-comm-lost', device: 'plc' }), false, false);
    t.device('plc', 'unknown', T0);
    t.device('plc', 'down', T0 + S);
    t.device('other', 'up', T0 + 2 * S);
    t.device('plc', 'unknown', T0 + 3 * S);
    t.device('plc', 'up', T0 + 4 * S);
    expect(conditionEdges(t)).toEqual([
      [1, true],
      [4, false],
    ]);
  });

  it('metric limits: below with deadband; a metric without a value holds', () => {
    const t = new RuleTracker(
      rule({ kind: 'metric', line: 'L1', metric: 'oee', when: 'below', limit: 0.6, deadband: 0.05 }),
      false,
      false,
    );
    for (const [sec, v] of [
      [0, 0.65],
      [10, 0.59],
      [20, null],
      [30, 0.64],
      [40, 0.66],
    ] as const) {
      t.level(v, T0 + sec * S);
    }
    expect(conditionEdges(t)).toEqual([
      [10, true],
      [40, false],
    ]);
  });

  it('system signals raise above the limit', () => {
    const t = new RuleTracker(
      rule({ kind: 'system', signal: 'store-disk-used-percent', limit: 90, deadband: 5 }),
      false,
      false,
    );
    for (const [sec, v] of [
      [0, 80],
      [1, 91],
      [2, 86],
      [3, Number.NaN],
      [4, 85],
    ] as const) {
      t.level(v, T0 + sec * S);
    }
    expect(conditionEdges(t)).toEqual([
      [1, true],
      [4, false],
    ]);
  });

  it('metricValueOf reads the named metric', () => {
    const record = {
      oee: 0.5,
      availability: 0.9,
      performance: 0.8,
      quality: 0.7,
      kwhPerGood: 1.5,
      kwhPerTotal: 1.2,
      idleEnergyShare: 0.3,
    };
    expect(metricValueOf(record, 'oee')).toBe(0.5);
    expect(metricValueOf(record, 'availability')).toBe(0.9);
    expect(metricValueOf(record, 'performance')).toBe(0.8);
    expect(metricValueOf(record, 'quality')).toBe(0.7);
    expect(metricValueOf(record, 'kwh-per-good')).toBe(1.5);
    expect(metricValueOf(record, 'kwh-per-total')).toBe(1.2);
    expect(metricValueOf(record, 'idle-energy-share')).toBe(0.3);
  });
});

describe('the alarm rules in the schema', () => {
  it('a metric rule names its machine or line', () => {
    const r = AlarmRuleSchema.safeParse({
      id: 'x',
      kind: 'metric',
      metric: 'oee',
      when: 'below',
      limit: 0.5,
      message: { en: 'low OEE' },
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('machine');
  });

  it('defaults: window last-hour, deadband 0', () => {
    const r = rule({ kind: 'metric', machine: 'm1', metric: 'kwh-per-good', when: 'above', limit: 2 });
    expect(r).toMatchObject({ window: 'last-hour', deadband: 0, onDelayS: 0, latched: false, priority: 'medium' });
  });

  const plantWith = (alarm: string) => `
site: { id: s, name: S, timezone: Asia/Hong_Kong }
areas: [{ id: a1, name: A }]
lines:
  - { id: L1, name: L, area: a1, calendar: c, outputMachine: m1, machines: [{ id: m1, name: M, idealCycleTimeS: 1 }] }
devices:
  - protocol: modbus-tcp
    id: plc
    host: 127.0.0.1
    tags:
      - { id: run, address: '00001', type: bool }
      - { id: temp, address: '40001', type: float32 }
calendars: [{ id: c, shifts: [{ id: d, start: '07:00', end: '19:00' }] }]
alarms:
  - ${alarm}
`;
  const problems = (alarm: string): string => {
    try {
      loadConfigText(plantWith(alarm));
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('the config check: suppression needs the machine; limits and rates need a numeric tag', () => {
    expect(problems('{ id: x, kind: high, tag: temp, limit: 1, message: { en: x } }')).toBe('');
    expect(
      problems('{ id: x, kind: high, tag: temp, limit: 1, suppressInStates: [planned-stop], message: { en: x } }'),
    ).toMatch(/alarms\[0\]\.suppressInStates.*needs the machine/s);
    expect(
      problems(
        '{ id: x, kind: high, tag: temp, limit: 1, machine: m1, suppressInStates: [planned-stop], message: { en: x } }',
      ),
    ).toBe('');
    expect(problems('{ id: x, kind: rate-of-change, tag: run, limitPerS: 1, message: { en: x } }')).toMatch(
      /alarms\[0\]\.tag.*bool.*needs a number/s,
    );
    expect(problems('{ id: x, kind: equals, tag: run, value: true, message: { en: x } }')).toBe('');
    expect(
      problems('{ id: x, kind: metric, machine: nope, metric: oee, when: below, limit: 0.5, message: { en: x } }'),
    ).toMatch(/unknown machine "nope"/);
  });
});
