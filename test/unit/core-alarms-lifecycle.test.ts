import { describe, expect, it } from 'vitest';
import {
  type AlarmEvent,
  type AlarmMode,
  type AlarmRefusalCode,
  type AlarmState,
  type AlarmStateName,
  alarmStateProblems,
  initialAlarmState,
  type LifecycleRule,
  MAX_COMMENT_LENGTH,
  step,
} from '../../gateway/core/alarms/index.js';

const plain: LifecycleRule = { id: 'a', priority: 'medium', latched: false, reAlarmMs: 60_000 };
const latching: LifecycleRule = { ...plain, latched: true };

const T = 1_000_000;
const ann = { user: 'ann', at: T - 500, comment: 'seen' };

/** a consistent state of one alarm, after one activation at T − 1000 */
function state(name: AlarmStateName, modes: readonly AlarmMode[] = []): AlarmState {
  const base = initialAlarmState('a', T - 2000);
  const activated = {
    ...base,
    activation: 1,
    activeSince: T - 1000,
    announcedAt: modes.length === 0 ? T - 1000 : null,
    value: 101,
    since: T - 100,
    version: 3,
  };
  const s: AlarmState =
    name === 'normal'
      ? { ...activated, clearedAt: T - 200, acknowledged: ann, since: T - 100 }
      : name === 'active-unacknowledged'
        ? activated
        : name === 'active-acknowledged'
          ? { ...activated, acknowledged: ann }
          : name === 'returned-unacknowledged'
            ? { ...activated, clearedAt: T - 200 }
            : { ...activated, clearedAt: T - 200, acknowledged: ann };
  return {
    ...s,
    state: name,
    shelved: modes.includes('shelved')
      ? { user: 'bob', at: T - 300, until: T + 3_600_000, reason: 'sensor work' }
      : null,
    suppressed: modes.includes('suppressed'),
    outOfService: modes.includes('out-of-service') ? { user: 'eve', at: T - 300, reason: 'replaced' } : null,
  };
}

const op = { at: T, user: 'carol', comment: 'checked the heater' };
const ev = {
  activate: { action: 'activate', at: T, value: 102 },
  clear: { action: 'clear', at: T, value: 97 },
  acknowledge: { action: 'acknowledge', ...op },
  reset: { action: 'reset', ...op },
  reAlarm: { action: 're-alarm', at: T - 1000 + 60_000 },
  reAlarmEarly: { action: 're-alarm', at: T - 1000 + 59_999 },
  shelve: { action: 'shelve', ...op, comment: 'flow meter being calibrated', durationMs: 3_600_000 },
  unshelve: { action: 'unshelve', ...op },
  expire: { action: 'shelve-expired', at: T + 3_600_000 },
  expireEarly: { action: 'shelve-expired', at: T + 3_599_999 },
  suppress: { action: 'suppress', at: T },
  unsuppress: { action: 'unsuppress', at: T },
  removeFromService: { action: 'remove-from-service', ...op, comment: 'transmitter replaced' },
  returnToService: { action: 'return-to-service', ...op },
} satisfies Record<string, AlarmEvent>;

type Expect =
  | { to: AlarmStateName; modes?: readonly AlarmMode[]; announce?: boolean }
  | { refused: AlarmRefusalCode }
  | 'ignored';

interface Row {
  from: AlarmStateName;
  modes?: readonly AlarmMode[];
  rule: 'plain' | 'latching';
  event: keyof typeof ev;
  expect: Expect;
}

const N = 'normal';
const AU = 'active-unacknowledged';
const AA = 'active-acknowledged';
const RU = 'returned-unacknowledged';
const L = 'latched';

/** every state × rule × condition / acknowledge / reset / re-alarm event, visible */
const BASE: Row[] = [
  // activate: a new alarm event from any inactive state
  { from: N, rule: 'plain', event: 'activate', expect: { to: AU, announce: true } },
  { from: N, rule: 'latching', event: 'activate', expect: { to: AU, announce: true } },
  { from: AU, rule: 'plain', event: 'activate', expect: 'ignored' },
  { from: AU, rule: 'latching', event: 'activate', expect: 'ignored' },
  { from: AA, rule: 'plain', event: 'activate', expect: 'ignored' },
  { from: AA, rule: 'latching', event: 'activate', expect: 'ignored' },
  { from: RU, rule: 'plain', event: 'activate', expect: { to: AU, announce: true } },
  { from: RU, rule: 'latching', event: 'activate', expect: { to: AU, announce: true } },
  { from: L, rule: 'latching', event: 'activate', expect: { to: AU, announce: true } },
  // clear
  { from: N, rule: 'plain', event: 'clear', expect: 'ignored' },
  { from: N, rule: 'latching', event: 'clear', expect: 'ignored' },
  { from: AU, rule: 'plain', event: 'clear', expect: { to: RU } },
  { from: AU, rule: 'latching', event: 'clear', expect: { to: RU } },
  { from: AA, rule: 'plain', event: 'clear', expect: { to: N } },
  { from: AA, rule: 'latching', event: 'clear', expect: { to: L } },
  { from: RU, rule: 'plain', event: 'clear', expect: 'ignored' },
  { from: RU, rule: 'latching', event: 'clear', expect: 'ignored' },
  { from: L, rule: 'latching', event: 'clear', expect: 'ignored' },
  // acknowledge
  { from: N, rule: 'plain', event: 'acknowledge', expect: { refused: 'GL_ERR_ALARM_NOTHING_TO_ACKNOWLEDGE' } },
  { from: N, rule: 'latching', event: 'acknowledge', expect: { refused: 'GL_ERR_ALARM_NOTHING_TO_ACKNOWLEDGE' } },
  { from: AU, rule: 'plain', event: 'acknowledge', expect: { to: AA } },
  { from: AU, rule: 'latching', event: 'acknowledge', expect: { to: AA } },
  { from: AA, rule: 'plain', event: 'acknowledge', expect: { refused: 'GL_ERR_ALARM_ALREADY_ACKNOWLEDGED' } },
  { from: AA, rule: 'latching', event: 'acknowledge', expect: { refused: 'GL_ERR_ALARM_ALREADY_ACKNOWLEDGED' } },
  { from: RU, rule: 'plain', event: 'acknowledge', expect: { to: N } },
  { from: RU, rule: 'latching', event: 'acknowledge', expect: { to: L } },
  { from: L, rule: 'latching', event: 'acknowledge', expect: { refused: 'GL_ERR_ALARM_ALREADY_ACKNOWLEDGED' } },
  // reset
  { from: N, rule: 'plain', event: 'reset', expect: { refused: 'GL_ERR_ALARM_NOT_LATCHING' } },
  { from: AU, rule: 'plain', event: 'reset', expect: { refused: 'GL_ERR_ALARM_NOT_LATCHING' } },
  { from: AA, rule: 'plain', event: 'reset', expect: { refused: 'GL_ERR_ALARM_NOT_LATCHING' } },
  { from: RU, rule: 'plain', event: 'reset', expect: { refused: 'GL_ERR_ALARM_NOT_LATCHING' } },
  // a latched state restored after the rule stopped latching can still be reset
  { from: L, rule: 'plain', event: 'reset', expect: { to: N } },
  { from: N, rule: 'latching', event: 'reset', expect: { refused: 'GL_ERR_ALARM_NOTHING_TO_RESET' } },
  { from: AU, rule: 'latching', event: 'reset', expect: { refused: 'GL_ERR_ALARM_STILL_ACTIVE' } },
  { from: AA, rule: 'latching', event: 'reset', expect: { refused: 'GL_ERR_ALARM_STILL_ACTIVE' } },
  { from: RU, rule: 'latching', event: 'reset', expect: { refused: 'GL_ERR_ALARM_NOT_ACKNOWLEDGED' } },
  { from: L, rule: 'latching', event: 'reset', expect: { to: N } },
  // re-alarm: only an active unacknowledged alarm, once its period has run
  { from: N, rule: 'plain', event: 'reAlarm', expect: 'ignored' },
  { from: AU, rule: 'plain', event: 'reAlarm', expect: { to: AU, announce: true } },
  { from: AU, rule: 'plain', event: 'reAlarmEarly', expect: 'ignored' },
  { from: AA, rule: 'plain', event: 'reAlarm', expect: 'ignored' },
  { from: RU, rule: 'plain', event: 'reAlarm', expect: 'ignored' },
  { from: L, rule: 'latching', event: 'reAlarm', expect: 'ignored' },
];

/** shelving, suppression by design, out of service, and the condition while hidden */
const MODES: Row[] = [
  { from: N, rule: 'plain', event: 'shelve', expect: { to: N, modes: ['shelved'] } },
  { from: AU, rule: 'plain', event: 'shelve', expect: { to: AU, modes: ['shelved'] } },
  { from: AA, rule: 'plain', event: 'shelve', expect: { to: AA, modes: ['shelved'] } },
  { from: RU, rule: 'plain', event: 'shelve', expect: { to: RU, modes: ['shelved'] } },
  { from: L, rule: 'latching', event: 'shelve', expect: { to: L, modes: ['shelved'] } },
  {
    from: AU,
    modes: ['suppressed'],
    rule: 'plain',
    event: 'shelve',
    expect: { to: AU, modes: ['shelved', 'suppressed'] },
  },
  { from: N, modes: ['shelved'], rule: 'plain', event: 'shelve', expect: { refused: 'GL_ERR_ALARM_ALREADY_SHELVED' } },
  {
    from: N,
    modes: ['out-of-service'],
    rule: 'plain',
    event: 'shelve',
    expect: { refused: 'GL_ERR_ALARM_OUT_OF_SERVICE' },
  },
  { from: N, rule: 'plain', event: 'unshelve', expect: { refused: 'GL_ERR_ALARM_NOT_SHELVED' } },
  { from: N, modes: ['shelved'], rule: 'plain', event: 'unshelve', expect: { to: N, modes: [] } },
  // shown again active and unacknowledged: announced anew
  { from: AU, modes: ['shelved'], rule: 'plain', event: 'unshelve', expect: { to: AU, modes: [], announce: true } },
  { from: AA, modes: ['shelved'], rule: 'plain', event: 'unshelve', expect: { to: AA, modes: [], announce: false } },
  { from: RU, modes: ['shelved'], rule: 'plain', event: 'unshelve', expect: { to: RU, modes: [], announce: false } },
  // still suppressed: not shown, not announced
  {
    from: AU,
    modes: ['shelved', 'suppressed'],
    rule: 'plain',
    event: 'unshelve',
    expect: { to: AU, modes: ['suppressed'], announce: false },
  },
  { from: AU, modes: ['shelved'], rule: 'plain', event: 'expire', expect: { to: AU, modes: [], announce: true } },
  { from: AU, modes: ['shelved'], rule: 'plain', event: 'expireEarly', expect: 'ignored' },
  { from: N, rule: 'plain', event: 'expire', expect: 'ignored' },
  { from: AU, rule: 'plain', event: 'suppress', expect: { to: AU, modes: ['suppressed'] } },
  { from: AU, modes: ['suppressed'], rule: 'plain', event: 'suppress', expect: 'ignored' },
  {
    from: AU,
    modes: ['suppressed'],
    rule: 'plain',
    event: 'unsuppress',
    expect: { to: AU, modes: [], announce: true },
  },
  { from: N, modes: ['suppressed'], rule: 'plain', event: 'unsuppress', expect: { to: N, modes: [], announce: false } },
  { from: AU, rule: 'plain', event: 'unsuppress', expect: 'ignored' },
  { from: AA, rule: 'plain', event: 'removeFromService', expect: { to: AA, modes: ['out-of-service'] } },
  {
    from: N,
    modes: ['out-of-service'],
    rule: 'plain',
    event: 'removeFromService',
    expect: { refused: 'GL_ERR_ALARM_ALREADY_OUT_OF_SERVICE' },
  },
  { from: N, rule: 'plain', event: 'returnToService', expect: { refused: 'GL_ERR_ALARM_NOT_OUT_OF_SERVICE' } },
  {
    from: AU,
    modes: ['out-of-service'],
    rule: 'plain',
    event: 'returnToService',
    expect: { to: AU, modes: [], announce: true },
  },
  // hidden: evaluated, never announced; a clear goes straight to normal
  {
    from: N,
    modes: ['shelved'],
    rule: 'plain',
    event: 'activate',
    expect: { to: AU, modes: ['shelved'], announce: false },
  },
  { from: N, modes: ['suppressed'], rule: 'latching', event: 'activate', expect: { to: AU, modes: ['suppressed'] } },
  { from: AU, modes: ['shelved'], rule: 'plain', event: 'clear', expect: { to: N, modes: ['shelved'] } },
  { from: AU, modes: ['suppressed'], rule: 'latching', event: 'clear', expect: { to: N, modes: ['suppressed'] } },
  {
    from: AA,
    modes: ['out-of-service'],
    rule: 'latching',
    event: 'clear',
    expect: { to: N, modes: ['out-of-service'] },
  },
  { from: AU, modes: ['shelved'], rule: 'plain', event: 'acknowledge', expect: { to: AA, modes: ['shelved'] } },
  { from: L, modes: ['shelved'], rule: 'latching', event: 'reset', expect: { to: N, modes: ['shelved'] } },
  { from: AU, modes: ['shelved'], rule: 'plain', event: 'reAlarm', expect: 'ignored' },
];

const describeRow = (r: Row) =>
  `${r.from}${r.modes?.length ? ` [${r.modes.join(', ')}]` : ''} (${r.rule}) + ${r.event} → ${
    r.expect === 'ignored' ? 'ignored' : 'refused' in r.expect ? r.expect.refused : r.expect.to
  }`;

describe('alarm lifecycle: every transition', () => {
  it.each([...BASE, ...MODES].map((r) => [describeRow(r), r] as const))('%s', (_, row) => {
    const rule = row.rule === 'plain' ? plain : latching;
    const from = state(row.from, row.modes ?? []);
    expect(alarmStateProblems(from, rule)).toEqual(row.from === L && row.rule === 'plain' ? [expect.any(String)] : []);
    const r = step(rule, from, ev[row.event]);
    const exp = row.expect;
    if (exp === 'ignored') {
      expect(r.outcome).toBe('ignored');
      return;
    }
    if ('refused' in exp) {
      expect(r.outcome).toBe('refused');
      if (r.outcome !== 'refused') return;
      expect(r.refusal.code).toBe(exp.refused);
      expect(r.refusal.message.length).toBeGreaterThan(10);
      // the refused attempt is on record too, and nothing changed
      expect(r.record).toMatchObject({
        alarmId: 'a',
        action: ev[row.event].action,
        user: 'carol',
        result: exp.refused,
        from: { state: row.from },
        to: { state: row.from },
      });
      return;
    }
    expect(r.outcome).toBe('changed');
    if (r.outcome !== 'changed') return;
    expect(r.state.state).toBe(exp.to);
    expect([...(r.record.to.modes ?? [])].sort()).toEqual([...(exp.modes ?? row.modes ?? [])].sort());
    expect(r.record).toMatchObject({
      alarmId: 'a',
      from: { state: row.from },
      to: { state: exp.to },
      result: 'accepted',
    });
    if (exp.announce !== undefined) expect(r.record.announce).toBe(exp.announce);
    expect(r.state.version).toBe(from.version + 1);
    expect(r.state.since).toBe(Math.max(ev[row.event].at, from.since));
    const operator = 'user' in ev[row.event];
    expect(r.record.user).toBe(operator ? 'carol' : null);
    if (!(row.from === L && row.rule === 'plain')) expect(alarmStateProblems(r.state, rule)).toEqual([]);
  });
});

describe('alarm lifecycle: details', () => {
  it('an activation starts a new alarm event: activation number, time, value; no acknowledgement yet', () => {
    const r = step(plain, state(RU), ev.activate);
    if (r.outcome !== 'changed') throw new Error(r.outcome);
    expect(r.state).toMatchObject({
      activation: 2,
      activeSince: T,
      clearedAt: null,
      acknowledged: null,
      announcedAt: T,
      reAlarms: 0,
      value: 102,
    });
    expect(r.record).toMatchObject({ activation: 2, value: 102, announce: true, priority: 'medium' });
  });

  it('an activation while hidden is not announced until the alarm shows again', () => {
    const r = step(plain, state(N, ['shelved']), ev.activate);
    if (r.outcome !== 'changed') throw new Error(r.outcome);
    expect(r.state.announcedAt).toBeNull();
    const shown = step(plain, r.state, { ...ev.unshelve, at: T + 5000 });
    if (shown.outcome !== 'changed') throw new Error(shown.outcome);
    expect(shown.state.announcedAt).toBe(T + 5000);
    expect(shown.record.announce).toBe(true);
  });

  it('acknowledging keeps the user, time and comment on the alarm event', () => {
    const r = step(plain, state(AU), { ...ev.acknowledge, user: '  carol ', comment: '  on my way ' });
    if (r.outcome !== 'changed') throw new Error(r.outcome);
    expect(r.state.acknowledged).toEqual({ user: 'carol', at: T, comment: 'on my way' });
    expect(r.record).toMatchObject({ user: 'carol', comment: 'on my way', activation: 1 });
  });

  it('shelving keeps who, why and until when; the record carries the expiry', () => {
    const r = step(plain, state(AU), ev.shelve);
    if (r.outcome !== 'changed') throw new Error(r.outcome);
    expect(r.state.shelved).toEqual({
      user: 'carol',
      at: T,
      until: T + 3_600_000,
      reason: 'flow meter being calibrated',
    });
    expect(r.record.until).toBe(T + 3_600_000);
  });

  it('re-alarm counts and restarts the period', () => {
    const r = step(plain, state(AU), ev.reAlarm);
    if (r.outcome !== 'changed') throw new Error(r.outcome);
    expect(r.state).toMatchObject({ reAlarms: 1, announcedAt: ev.reAlarm.at });
    expect(step(plain, r.state, { action: 're-alarm', at: ev.reAlarm.at + 59_999 }).outcome).toBe('ignored');
    expect(step({ ...plain, reAlarmMs: null }, state(AU), ev.reAlarm).outcome).toBe('ignored');
  });

  it('an event older than the last change is applied at that time', () => {
    const r = step(plain, state(AU), { ...ev.acknowledge, at: T - 10_000 });
    if (r.outcome !== 'changed') throw new Error(r.outcome);
    expect(r.record.at).toBe(T - 100);
    expect(r.state.since).toBe(T - 100);
  });

  const operatorEvents = [
    ev.acknowledge,
    ev.reset,
    ev.shelve,
    ev.unshelve,
    ev.removeFromService,
    ev.returnToService,
  ] as const;

  it.each(operatorEvents.map((e) => [e.action, e] as const))('%s without a user is refused', (_, e) => {
    for (const user of ['', '   ']) {
      const r = step(latching, state(AU, ['shelved']), { ...e, user });
      expect(r.outcome).toBe('refused');
      if (r.outcome === 'refused') {
        expect(r.refusal.code).toBe('GL_ERR_ALARM_USER_REQUIRED');
        expect(r.record.user).toBeNull();
      }
    }
  });

  it.each(operatorEvents.map((e) => [e.action, e] as const))('%s with an overlong comment is refused', (_, e) => {
    const r = step(latching, state(AU), { ...e, comment: 'x'.repeat(MAX_COMMENT_LENGTH + 1) });
    expect(r.outcome === 'refused' && r.refusal.code).toBe('GL_ERR_ALARM_COMMENT_TOO_LONG');
  });

  it('shelving and removing from service need a reason', () => {
    for (const comment of [undefined, null, '', '  ']) {
      const s = step(plain, state(AU), { ...ev.shelve, comment });
      expect(s.outcome === 'refused' && s.refusal.code).toBe('GL_ERR_ALARM_REASON_REQUIRED');
      const o = step(plain, state(AU), { ...ev.removeFromService, comment });
      expect(o.outcome === 'refused' && o.refusal.code).toBe('GL_ERR_ALARM_REASON_REQUIRED');
    }
  });

  it('a shelf lasts more than 0 and at most the allowed maximum', () => {
    for (const durationMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 24 * 3_600_000 + 1]) {
      const r = step(plain, state(AU), { ...ev.shelve, durationMs });
      expect(r.outcome === 'refused' && r.refusal.code).toBe('GL_ERR_ALARM_SHELVE_DURATION');
    }
    expect(step(plain, state(AU), { ...ev.shelve, durationMs: 24 * 3_600_000 }).outcome).toBe('changed');
    const short = step(
      plain,
      state(AU),
      { ...ev.shelve, durationMs: 8 * 3_600_000 + 1 },
      { maxShelveMs: 8 * 3_600_000 },
    );
    expect(short.outcome === 'refused' && short.refusal.code).toBe('GL_ERR_ALARM_SHELVE_DURATION');
  });

  it('the invariants catch broken states', () => {
    expect(alarmStateProblems({ ...state(AA), acknowledged: null }, plain)).toContain(
      'active-acknowledged without an acknowledgement',
    );
    expect(alarmStateProblems({ ...state(AA), acknowledged: { ...ann, user: ' ' } }, plain)).toContain(
      'acknowledged without a user',
    );
    expect(alarmStateProblems(state(L), plain)).toContain('latched, but the rule does not latch');
    expect(alarmStateProblems({ ...state(AU), clearedAt: T }, plain)).toContain('active yet cleared');
  });
});
