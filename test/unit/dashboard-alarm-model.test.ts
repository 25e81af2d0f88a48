import { describe, expect, it } from 'vitest';
import {
  actionsFor,
  alarmsTabOf,
  auditCsvPath,
  auditPath,
  NO_AUDIT_FILTER,
  badgesOf,
  countsByLine,
  hiddenAlarms,
  isNewer,
  messageOf,
  quietAlarms,
  rateBars,
  rightsOf,
  shownAlarms,
  summaryOf,
  unacknowledgedCount,
} from '../../dashboard/src/alarms/alarm-model.js';
import { parseRoute } from '../../dashboard/src/router.js';
import type { AlarmItem } from '../../gateway/server/contract.js';

const T = Date.UTC(2025, 2, 4, 2, 0, 0);

function alarm(id: string, over: Partial<AlarmItem> = {}): AlarmItem {
  return {
    id,
    kind: 'high',
    priority: 'medium',
    message: { en: `${id} high`, 'zh-Hant': null },
    line: 'L1',
    lineName: 'Line 1',
    machine: null,
    machineName: null,
    source: 'tag',
    limit: 10,
    unit: '°C',
    latching: false,
    state: 'normal',
    modes: [],
    hidden: false,
    conditionActive: false,
    activation: 0,
    activeSince: null,
    clearedAt: null,
    since: T,
    value: null,
    currentValue: null,
    acknowledged: null,
    shelved: null,
    suppressed: false,
    outOfService: null,
    reAlarms: 0,
    ...over,
  };
}

const active = (id: string, over: Partial<AlarmItem> = {}) =>
  alarm(id, { state: 'active-unacknowledged', activation: 1, activeSince: T, ...over });
const shelf = { user: 'otto', at: T, until: T + 3_600_000, reason: 'calibration' };

describe('alarm views', () => {
  it('list the alarms that need an operator by priority, then newest first', () => {
    const list = [
      active('low-old', { priority: 'low', activeSince: T - 5000 }),
      active('med-new', { activeSince: T + 1000 }),
      active('high', { priority: 'high', activeSince: T - 60_000 }),
      active('med-old', { activeSince: T - 1000, state: 'active-acknowledged' }),
      alarm('quiet'),
      active('shelved', { priority: 'high', shelved: shelf, hidden: true, modes: ['shelved'] }),
      alarm('latched', {
        priority: 'low',
        state: 'latched',
        activation: 2,
        activeSince: T + 5000,
        clearedAt: T + 6000,
      }),
    ];
    expect(shownAlarms(list).map((a) => a.id)).toEqual(['high', 'med-new', 'med-old', 'latched', 'low-old']);
    expect(hiddenAlarms(list).map((a) => a.id)).toEqual(['shelved']);
    expect(quietAlarms(list).map((a) => a.id)).toEqual(['quiet']);
  });

  it('count the unacknowledged alarms operators are shown, and per line only where an alarm watches', () => {
    const list = [
      active('a'),
      active('b', { state: 'returned-unacknowledged', line: 'L2' }),
      active('c', { state: 'active-acknowledged' }),
      active('d', { hidden: true, shelved: shelf }),
      alarm('e', { line: 'L3' }),
      active('f', { line: null }),
    ];
    expect(unacknowledgedCount(list)).toBe(3);
    expect(Object.fromEntries(countsByLine(list))).toEqual({
      L1: { active: 2, unacknowledged: 1 },
      L2: { active: 0, unacknowledged: 1 },
      L3: { active: 0, unacknowledged: 0 },
    });
    expect(summaryOf(list)).toEqual({
      unacknowledged: 3,
      active: 3,
      latched: 0,
      shelved: 1,
      suppressed: 0,
      outOfService: 0,
    });
  });

  it('give each state and mode its badge', () => {
    expect(badgesOf(active('a'))).toEqual(['unacknowledged']);
    expect(badgesOf(active('a', { state: 'active-acknowledged' }))).toEqual(['acknowledged']);
    expect(badgesOf(alarm('a', { state: 'returned-unacknowledged' }))).toEqual(['returned-unacknowledged']);
    expect(badgesOf(alarm('a', { state: 'latched' }))).toEqual(['latched']);
    expect(
      badgesOf(
        alarm('a', {
          shelved: shelf,
          suppressed: true,
          outOfService: { user: 'ada', at: T, reason: 'x' },
        }),
      ),
    ).toEqual(['normal', 'shelved', 'suppressed', 'out-of-service']);
  });

  it('offer only the buttons that apply and that the role may use', () => {
    const operator = rightsOf(['read', 'alarms.act']);
    const admin = rightsOf(['read', 'alarms.act', 'alarms.manage', 'export', 'users.manage']);
    const viewer = rightsOf(['read']);
    expect(actionsFor(active('a'), viewer)).toEqual([]);
    expect(actionsFor(active('a'), rightsOf(null))).toEqual([]);
    expect(actionsFor(active('a'), operator)).toEqual(['acknowledge', 'shelve']);
    expect(actionsFor(active('a', { state: 'active-acknowledged' }), operator)).toEqual(['shelve']);
    expect(actionsFor(alarm('a', { state: 'latched' }), operator)).toEqual(['reset', 'shelve']);
    expect(actionsFor(alarm('a', { state: 'returned-unacknowledged' }), operator)).toEqual(['acknowledge', 'shelve']);
    expect(actionsFor(active('a', { shelved: shelf, hidden: true }), operator)).toEqual(['acknowledge', 'unshelve']);
    expect(actionsFor(active('a'), admin)).toEqual(['acknowledge', 'shelve', 'out-of-service']);
    const out = alarm('a', { outOfService: { user: 'ada', at: T, reason: 'x' }, hidden: true });
    expect(actionsFor(out, operator)).toEqual([]);
    expect(actionsFor(out, admin)).toEqual(['return-to-service']);
  });

  it('show the message in the language chosen, else in English', () => {
    const a = alarm('a', { message: { en: 'Barrel hot', 'zh-Hant': '料筒過熱' } });
    expect(messageOf(a, 'zh-Hant')).toBe('料筒過熱');
    expect(messageOf(a, 'en')).toBe('Barrel hot');
    expect(messageOf(alarm('b'), 'zh-Hant')).toBe('b high');
  });

  it('never take an older version of an alarm over a newer one', () => {
    const held = active('a', { since: T + 1000, activation: 2 });
    expect(isNewer(active('a', { since: T + 2000, activation: 2 }), held)).toBe(true);
    expect(isNewer(active('a', { since: T + 1000, activation: 2 }), held)).toBe(true);
    expect(isNewer(active('a', { since: T + 500, activation: 2 }), held)).toBe(false);
    expect(isNewer(active('a', { since: T + 5000, activation: 1 }), held)).toBe(false);
    expect(isNewer(active('a', { since: T, activation: 3 }), held)).toBe(true);
    expect(isNewer(held, undefined)).toBe(true);
  });

  it('cut the statistics into bars with their level, the last one short', () => {
    const bars = rateBars({
      from: T,
      to: T + 25 * 60_000,
      rateWindowMs: 600_000,
      rate: {
        perWindow: [0, 4, 11],
        averagePerWindow: 6,
        maxPerWindow: 11,
        windowsOverFloodShare: 1 / 3,
        perHour: 36,
        perDay: 864,
      },
    });
    expect(bars.map((b) => [b.count, b.level, (b.to - b.from) / 60_000])).toEqual([
      [0, 'ok', 10],
      [4, 'busy', 10],
      [11, 'flood', 5],
    ]);
  });

  it('find the page and its tab in the hash, and the CSV of a period', () => {
    for (const hash of ['#/alarms', '#/alarms/', '#alarms', '#/alarms/history', '#/alarms/stats?x=1']) {
      expect(parseRoute(hash)).toBe('alarms');
    }
    expect(parseRoute('#/alarms/nothing')).toBe('overview');
    expect(alarmsTabOf('#/alarms')).toBe('active');
    expect(alarmsTabOf('#/alarms/history')).toBe('history');
    expect(alarmsTabOf('#/alarms/stats/')).toBe('stats');
    expect(alarmsTabOf('#/alarms/other')).toBe('active');
    expect(auditCsvPath(1000.4, 2000.2, NO_AUDIT_FILTER)).toBe('api/alarms/audit.csv?from=1000&to=2001');
    expect(auditCsvPath(1000, 2000, { ...NO_AUDIT_FILTER, alarmId: 'imm1-barrel-high' })).toBe(
      'api/alarms/audit.csv?from=1000&to=2000&alarmId=imm1-barrel-high',
    );
    // the table and the CSV carry the same filters; the search text is trimmed and encoded
    const f = { alarmId: null, actions: ['acknowledge', 'shelve'] as const, text: '  band 3 & 加熱 ' };
    expect(auditCsvPath(1000, 2000, f)).toBe(
      'api/alarms/audit.csv?from=1000&to=2000&action=acknowledge%2Cshelve&q=band+3+%26+%E5%8A%A0%E7%86%B1',
    );
    expect(auditPath(1000, 2000, f, 500)).toBe(
      'api/alarms/audit?from=1000&to=2000&action=acknowledge%2Cshelve&q=band+3+%26+%E5%8A%A0%E7%86%B1&limit=500',
    );
    expect(auditPath(1000, 2000, { ...f, text: '   ' }, 5)).toBe(
      'api/alarms/audit?from=1000&to=2000&action=acknowledge%2Cshelve&limit=5',
    );
  });
});
