import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfigText } from '../../config/loader.js';
import {
  type AlarmChange,
  type AlarmState,
  alarmStateProblems,
  isActiveState,
  type MachineStatusInput,
  type MetricValues,
} from '../../gateway/core/alarms/index.js';
import {
  AlarmService,
  type AlarmServiceOptions,
  type AlarmStorePort,
  type SystemValues,
} from '../../gateway/pipeline/index.js';
import { AlarmStore, SqliteStore, type StoredSample } from '../../gateway/store/index.js';

const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2025, 2, 4, 1, 0, 0);

const PLANT_YAML = `
site: { id: works, name: Test Works, timezone: Asia/Hong_Kong }
areas: [{ id: a1, name: Assembly }]
lines:
  - id: L1
    name: Line 1
    area: a1
    calendar: day
    outputMachine: m1
    machines:
      - id: m1
        name: Press
        idealCycleTimeS: 2
        state: { tag: m1_state, map: { '1': running, '3': unplanned-stop, '4': planned-stop } }
devices:
  - protocol: modbus-tcp
    id: plc1
    host: 127.0.0.1
    tags:
      - { id: temp, address: '40001', type: float32, unit: °C }
      - { id: m1_state, address: '40003', type: uint16 }
calendars:
  - id: day
    shifts: [{ id: day, start: '07:00', end: '19:00' }]
alarms:
  - id: temp-high
    kind: high
    tag: temp
    limit: 100
    deadband: 2
    onDelayS: 5
    reAlarmS: 60
    machine: m1
    suppressInStates: [planned-stop]
    message: { en: Temperature high }
  - id: temp-hh
    kind: high-high
    tag: temp
    limit: 120
    latched: true
    priority: high
    message: { en: Temperature very high }
  - id: temp-stale
    kind: tag-stale
    tag: temp
    priority: low
    message: { en: Temperature reading stale }
  - id: m1-stopped
    kind: machine-state
    machine: m1
    state: unplanned-stop
    forS: 600
    message: { en: Press stopped for 10 minutes }
  - id: plc-comm
    kind: device-comm-lost
    device: plc1
    latched: true
    priority: high
    message: { en: PLC communication lost }
  - id: oee-low
    kind: metric
    line: L1
    metric: oee
    when: below
    limit: 0.5
    deadband: 0.05
    priority: low
    message: { en: Line 1 OEE low }
  - id: disk-full
    kind: system
    signal: store-disk-used-percent
    limit: 90
    deadband: 5
    message: { en: Store disk nearly full }
  - id: outbox
    kind: system
    signal: influx-outbox-alarm
    limit: 0.5
    priority: high
    message: { en: InfluxDB outbox full }
`;

const plant = loadConfigText(PLANT_YAML);

const quiet = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

let dir: string;
let now = T0;
const clock = () => now;
const toClose: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'greenline-alarms-'));
  now = T0;
});

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
  rmSync(dir, { recursive: true, force: true });
});

interface Stores {
  readonly samples: SqliteStore;
  readonly alarms: AlarmStore;
  close(): Promise<void>;
}

async function openStores(file = join(dir, 'greenline.db')): Promise<Stores> {
  const samples = new SqliteStore({
    path: file,
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows: 1000,
    batchMaxDelayMs: 50,
    log: quiet(),
    now: clock,
    pruneFirstDelayMs: HOUR,
    backgroundCheckpoints: false,
  });
  await samples.start();
  const alarms = new AlarmStore({ path: samples.path, now: clock });
  alarms.start();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    alarms.stop();
    await samples.stop();
  };
  toClose.push(close);
  return { samples, alarms, close };
}

function writeNow(store: SqliteStore, rows: StoredSample[]): void {
  store.writer.write(rows);
  while (store.writer.pendingRows > 0) if (!store.writer.flushOne()) throw new Error(String(store.stats().lastError));
}

/** the outside world the service reads, set by each test */
interface World {
  machine: MachineStatusInput | null;
  device: string;
  oee: number | null;
  disk: number | null;
  outbox: number | null;
}

function service(stores: Stores, world: World, over: Partial<AlarmServiceOptions> = {}): AlarmService {
  const s = new AlarmService({
    plant,
    store: stores.alarms,
    log: quiet(),
    now: clock,
    samples: stores.samples,
    machines: { machineStatus: (id) => (id === 'm1' ? world.machine : null) },
    metrics: {
      ready: () => true,
      snapshot: () => (world.oee === null ? null : ({ oee: world.oee } as MetricValues)),
    },
    devices: () => [{ id: 'plc1', state: world.device }],
    system: (): SystemValues => ({ storeDiskUsedPercent: world.disk, influxOutboxAlarm: world.outbox }),
    timers: false,
    ...over,
  });
  toClose.push(() => s.stop());
  return s;
}

const calm = (): World => ({
  machine: { state: 'running', since: T0 - HOUR },
  device: 'connected',
  oee: 0.8,
  disk: 40,
  outbox: 0,
});

const temp = (value: number | null, quality: StoredSample['quality'] = 'good', ts = now): StoredSample => ({
  tagId: 'temp',
  ts,
  value,
  quality,
});

function auditRows(file: string): Record<string, unknown>[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT * FROM alarm_audit ORDER BY id').all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

const stateOf = (s: AlarmService, id: string) => s.get(id)!.state;

describe('AlarmService over the SQLite store', () => {
  it('raises alarms from samples; a new alarm reaches listeners at once', async () => {
    const stores = await openStores();
    const svc = service(stores, calm());
    await svc.start();
    const events: AlarmChange[] = [];
    svc.subscribe((e) => events.push(e));

    svc.onSamples([temp(101)]);
    expect(stateOf(svc, 'temp-high')).toBe('normal'); // on-delay
    now += 5 * S;
    svc.tick();
    expect(stateOf(svc, 'temp-high')).toBe('active-unacknowledged');
    expect(events.map((e) => [e.record.alarmId, e.record.action, e.record.announce])).toEqual([
      ['temp-high', 'activate', true],
    ]);
    expect(events[0]!.alarm).toMatchObject({ alarmId: 'temp-high', activeSince: T0 + 5 * S, value: 101 });

    svc.onSamples([temp(125)]);
    // no tick needed: the high-high alarm went out while the batch was handled
    expect(events.at(-1)!.record).toMatchObject({ alarmId: 'temp-hh', action: 'activate', announce: true });
    expect(events.at(-1)!.alarm.state).toBe('active-unacknowledged');

    const rows = auditRows(stores.samples.path);
    expect(rows.map((r) => [r.alarm_id, r.action, r.from_state, r.to_state, r.result])).toEqual([
      ['temp-high', 'activate', 'normal', 'active-unacknowledged', 'accepted'],
      ['temp-hh', 'activate', 'normal', 'active-unacknowledged', 'accepted'],
    ]);
    expect(svc.health()).toMatchObject({ ready: true, alarms: 8, active: 2, unacknowledged: 2, storeErrors: 0 });
  });

  it('an acknowledgement with user and comment is in the audit table before the state changes', async () => {
    const stores = await openStores();
    const seen: { stateWhileWriting?: string; rowsBefore?: number; rowsAfter?: number; stateAfterWrite?: string } = {};
    const countAcks = () => auditRows(stores.samples.path).filter((r) => r.action === 'acknowledge').length;
    let svc: AlarmService | null = null;
    const port: AlarmStorePort = {
      loadAlarmStates: () => stores.alarms.loadAlarmStates(),
      alarmActivations: (from, to) => stores.alarms.alarmActivations(from, to),
      writeAlarmChanges: (change) => {
        const ack = change.records.some((r) => r.action === 'acknowledge');
        if (ack) {
          seen.stateWhileWriting = svc!.get('temp-hh')!.state;
          seen.rowsBefore = countAcks();
        }
        stores.alarms.writeAlarmChanges(change);
        if (ack) {
          seen.rowsAfter = countAcks();
          seen.stateAfterWrite = svc!.get('temp-hh')!.state;
        }
      },
    };
    svc = service(stores, calm(), { store: port });
    await svc.start();
    svc.onSamples([temp(125)]);
    now += 30 * S;
    const result = svc.acknowledge('temp-hh', 'ann', 'heater band checked');
    expect(result.ok).toBe(true);
    expect(seen).toEqual({
      stateWhileWriting: 'active-unacknowledged',
      rowsBefore: 0,
      rowsAfter: 1,
      stateAfterWrite: 'active-unacknowledged',
    });
    expect(stateOf(svc, 'temp-hh')).toBe('active-acknowledged');
    const ack = auditRows(stores.samples.path).find((r) => r.action === 'acknowledge')!;
    expect(ack).toMatchObject({
      ts: T0 + 30 * S,
      alarm_id: 'temp-hh',
      activation: 1,
      username: 'ann',
      comment: 'heater band checked',
      from_state: 'active-unacknowledged',
      to_state: 'active-acknowledged',
      result: 'accepted',
    });
    const db = new Database(stores.samples.path, { readonly: true });
    try {
      expect(db.prepare("SELECT * FROM alarm_activations WHERE alarm_id = 'temp-hh'").all()).toEqual([
        expect.objectContaining({
          alarm_id: 'temp-hh',
          activation: 1,
          activated_at: T0,
          announced_at: T0,
          acknowledged_at: T0 + 30 * S,
          acknowledged_by: 'ann',
          cleared_at: null,
        }),
      ]);
    } finally {
      db.close();
    }
  });

  it('the audit trail is append-only', async () => {
    const stores = await openStores();
    const svc = service(stores, calm());
    await svc.start();
    svc.onSamples([temp(125)]);
    const db = new Database(stores.samples.path);
    try {
      expect(() => db.prepare("UPDATE alarm_audit SET username = 'mallory'").run()).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM alarm_audit').run()).toThrow(/append-only/);
    } finally {
      db.close();
    }
  });

  it('the audit trail filters by action and user and searches alarm ids, users, comments and given alarms', async () => {
    const stores = await openStores();
    const svc = service(stores, calm());
    await svc.start();
    svc.onSamples([temp(125)]);
    now += 30 * S;
    expect(svc.acknowledge('temp-hh', 'Ann', 'Heater band 3 checked').ok).toBe(true);
    now += 30 * S;
    expect(svc.shelve('temp-hh', 'bob', 'sensor swap', 10 * MIN).ok).toBe(true);
    const trail = (q: Partial<Parameters<AlarmStore['auditTrail']>[0]>) =>
      stores.alarms
        .auditTrail({ from: T0, to: now, ...q })
        .map((r) => `${r.action}:${r.user ?? '-'}`)
        .sort();
    const all = trail({});
    expect(all).toEqual(expect.arrayContaining(['acknowledge:Ann', 'shelve:bob']));
    expect(all.length).toBeGreaterThan(2); // the activation itself is on record too
    expect(trail({ actions: ['acknowledge', 'shelve'] })).toEqual(['acknowledge:Ann', 'shelve:bob']);
    expect(trail({ actions: [] })).toEqual(all);
    expect(trail({ user: 'ann' })).toEqual(['acknowledge:Ann']);
    expect(trail({ text: 'BAND 3' })).toEqual(['acknowledge:Ann']);
    expect(trail({ text: 'Bo' })).toEqual(['shelve:bob']);
    expect(trail({ text: 'temp-h' })).toEqual(all);
    expect(trail({ text: 'barrel too hot' })).toEqual([]);
    // a message match (the store does not keep messages) comes as the alarms it names
    expect(trail({ text: 'barrel too hot', textAlarmIds: ['temp-hh'] })).toEqual(trail({ alarmId: 'temp-hh' }));
    expect(trail({ alarmId: 'temp-hh' })).toEqual(['acknowledge:Ann', 'activate:-', 'shelve:bob']);
    expect(trail({ text: '%' })).toEqual([]); // no wildcards
    expect(trail({ text: '   ' })).toEqual(all);
  });

  it('refused actions are on record; an action the store cannot record is not taken', async () => {
    const stores = await openStores();
    let storeDown = false;
    const port: AlarmStorePort = {
      loadAlarmStates: () => stores.alarms.loadAlarmStates(),
      alarmActivations: (from, to) => stores.alarms.alarmActivations(from, to),
      writeAlarmChanges: (change) => {
        if (storeDown) throw new Error('SQLITE_FULL: database or disk is full');
        stores.alarms.writeAlarmChanges(change);
      },
    };
    const svc = service(stores, calm(), { store: port });
    await svc.start();

    const refused = svc.acknowledge('temp-hh', 'ann', 'nothing there?');
    expect(refused).toMatchObject({ ok: false, code: 'GL_ERR_ALARM_NOTHING_TO_ACKNOWLEDGE' });
    expect(svc.acknowledge('no-such-alarm', 'ann')).toMatchObject({ ok: false, code: 'GL_ERR_ALARM_UNKNOWN' });
    expect(svc.shelve('temp-hh', '', 'x', MIN)).toMatchObject({ ok: false, code: 'GL_ERR_ALARM_USER_REQUIRED' });
    expect(auditRows(stores.samples.path).map((r) => [r.action, r.username, r.result])).toEqual([
      ['acknowledge', 'ann', 'GL_ERR_ALARM_NOTHING_TO_ACKNOWLEDGE'],
      ['shelve', null, 'GL_ERR_ALARM_USER_REQUIRED'],
    ]);

    // the store refuses writes: the alarm waits, the acknowledgement does not happen
    storeDown = true;
    const events: AlarmChange[] = [];
    svc.subscribe((e) => events.push(e));
    now += S;
    svc.onSamples([temp(125)]);
    expect(stateOf(svc, 'temp-hh')).toBe('normal');
    expect(svc.get('temp-hh')!.conditionActive).toBe(true);
    expect(events).toEqual([]);
    expect(svc.acknowledge('temp-hh', 'ann')).toMatchObject({ ok: false, code: 'GL_ERR_ALARM_NOTHING_TO_ACKNOWLEDGE' });
    expect(svc.health().storeErrors).toBeGreaterThan(0);

    // back: the change goes on record with its own time, then the acknowledgement works
    storeDown = false;
    now += 10 * S;
    svc.tick();
    expect(svc.get('temp-hh')).toMatchObject({ state: 'active-unacknowledged', activeSince: T0 + S });
    expect(events.map((e) => `${e.record.alarmId} ${e.record.action}`)).toEqual([
      'temp-hh activate',
      'temp-high activate',
    ]);
    storeDown = true;
    expect(svc.acknowledge('temp-hh', 'ann', 'seen')).toMatchObject({ ok: false, code: 'GL_ERR_ALARM_STORE' });
    expect(stateOf(svc, 'temp-hh')).toBe('active-unacknowledged');
    storeDown = false;
    expect(svc.acknowledge('temp-hh', 'ann', 'seen')).toMatchObject({ ok: true });
    expect(
      auditRows(stores.samples.path).filter((r) => r.action === 'acknowledge' && r.result === 'accepted'),
    ).toHaveLength(1);
  });

  it('a restart in the middle of unacknowledged, acknowledged, shelved and latched alarms restores them, then re-evaluates', async () => {
    const world = calm();
    let stores = await openStores();
    let svc = service(stores, world);
    await svc.start();
    // temp-high active-unacknowledged; temp-hh acknowledged; temp-stale shelved; plc-comm latched
    svc.onSamples([temp(125)]);
    writeNow(stores.samples, [temp(125)]);
    now += 5 * S;
    svc.tick();
    expect(svc.acknowledge('temp-hh', 'ann', 'on my way')).toMatchObject({ ok: true });
    expect(svc.shelve('temp-stale', 'bob', 'sensor being replaced', HOUR)).toMatchObject({ ok: true });
    now += 20 * S; // past the device grace
    world.device = 'disconnected';
    svc.tick();
    expect(svc.acknowledge('plc-comm', 'bob', 'cable unplugged')).toMatchObject({ ok: true });
    world.device = 'connected';
    now += S;
    svc.tick();
    // the temperature eases to 110 (below high-high, still above high) and is stored
    now += S;
    writeNow(stores.samples, [temp(110)]);
    const before = new Map(svc.list().map((a) => [a.alarmId, a]));
    expect(before.get('temp-high')!.state).toBe('active-unacknowledged');
    expect(before.get('temp-hh')!.state).toBe('active-acknowledged');
    expect(before.get('temp-stale')!.shelved).toMatchObject({ user: 'bob', until: T0 + 5 * S + HOUR });
    expect(before.get('plc-comm')!.state).toBe('latched');

    // the gateway stops (the 110 reading was stored but never evaluated) and comes back 2 minutes later
    svc.stop();
    await stores.close();
    now += 2 * MIN;
    stores = await openStores();
    svc = service(stores, world);
    const events: AlarmChange[] = [];
    svc.subscribe((e) => events.push(e));
    await svc.start();

    const after = new Map(svc.list().map((a) => [a.alarmId, a]));
    const keep = (a: AlarmState) => ({
      state: a.state,
      activation: a.activation,
      activeSince: a.activeSince,
      acknowledged: a.acknowledged,
      shelved: a.shelved,
    });
    expect(keep(after.get('temp-high')!)).toEqual(keep(before.get('temp-high')!));
    expect(keep(after.get('temp-stale')!)).toEqual(keep(before.get('temp-stale')!));
    expect(keep(after.get('plc-comm')!)).toEqual(keep(before.get('plc-comm')!));
    // re-evaluated from the stored 110: the high-high condition is gone; it latches, acknowledged
    expect(after.get('temp-hh')).toMatchObject({
      state: 'latched',
      acknowledged: { user: 'ann', comment: 'on my way' },
      clearedAt: now,
    });
    // the restored unacknowledged alarm was due for its re-alarm while the gateway was down: it comes at once
    expect(events.map((e) => `${e.record.alarmId} ${e.record.action}`)).toEqual([
      'temp-high re-alarm',
      'temp-hh clear',
    ]);
    expect(after.get('temp-high')!.announcedAt).toBe(now);
    now += 60 * S;
    svc.tick();
    expect(events.map((e) => `${e.record.alarmId} ${e.record.action}`).at(-1)).toBe('temp-high re-alarm');
    // the restored shelf expires by itself at its time
    now = T0 + 5 * S + HOUR;
    svc.tick();
    expect(svc.get('temp-stale')!.shelved).toBeNull();
    expect(events.map((e) => `${e.record.alarmId} ${e.record.action}`).at(-1)).toBe('temp-stale shelve-expired');
    expect(svc.reset('plc-comm', 'bob', 'cable fixed')).toMatchObject({ ok: true, alarm: { state: 'normal' } });
    expect(svc.reset('temp-hh', 'ann')).toMatchObject({ ok: true, alarm: { state: 'normal' } });
  });

  it('machine state, suppression by design, device link, metric and system rules', async () => {
    const world = calm();
    const stores = await openStores();
    const svc = service(stores, world, { deviceGraceMs: 15 * S });
    const events: AlarmChange[] = [];
    svc.subscribe((e) => events.push(e));
    world.device = 'connecting';
    await svc.start();
    expect(stateOf(svc, 'plc-comm')).toBe('normal'); // the first connection gets its chance
    now += 16 * S;
    svc.tick();
    expect(stateOf(svc, 'plc-comm')).toBe('active-unacknowledged');
    world.device = 'connected';
    now += S;
    svc.tick();
    expect(stateOf(svc, 'plc-comm')).toBe('returned-unacknowledged');

    // the press stops: 10 minutes later the alarm, dated when the 10 minutes ran out
    world.machine = { state: 'unplanned-stop', since: now };
    const stoppedAt = now;
    now += 599 * S;
    svc.tick();
    expect(stateOf(svc, 'm1-stopped')).toBe('normal');
    now += S;
    svc.tick();
    expect(svc.get('m1-stopped')).toMatchObject({ state: 'active-unacknowledged', activeSince: stoppedAt + 600 * S });

    // planned stop: the temperature alarm is suppressed by design, evaluated, not announced
    world.machine = { state: 'planned-stop', since: now };
    svc.onSamples([temp(105)]);
    now += 5 * S;
    svc.tick();
    expect(svc.get('temp-high')).toMatchObject({ state: 'active-unacknowledged', hidden: true, announcedAt: null });
    expect(events.filter((e) => e.record.alarmId === 'temp-high').map((e) => e.record.announce)).toEqual([
      false,
      false,
    ]);
    world.machine = { state: 'running', since: now };
    now += S;
    svc.tick();
    // shown again from when the machine left the planned stop
    expect(svc.get('temp-high')).toMatchObject({ hidden: false, announcedAt: now - S });
    expect(events.at(-1)!.record).toMatchObject({ alarmId: 'temp-high', action: 'unsuppress', announce: true });

    // metric and system values are read every 10 s
    world.oee = 0.4;
    world.disk = 95;
    world.outbox = 1; // the sink's outbox reached its quota
    now += 10 * S;
    svc.tick();
    expect(svc.get('oee-low')).toMatchObject({ state: 'active-unacknowledged', value: 0.4 });
    expect(svc.get('disk-full')).toMatchObject({ state: 'active-unacknowledged', value: 95 });
    expect(svc.get('outbox')).toMatchObject({ state: 'active-unacknowledged', value: 1 });
    world.oee = 0.52; // inside the deadband
    world.disk = 86;
    now += 10 * S;
    svc.tick();
    expect(stateOf(svc, 'oee-low')).toBe('active-unacknowledged');
    expect(stateOf(svc, 'disk-full')).toBe('active-unacknowledged');
    world.oee = 0.56;
    world.disk = 85;
    now += 10 * S;
    svc.tick();
    expect(stateOf(svc, 'oee-low')).toBe('returned-unacknowledged');
    expect(stateOf(svc, 'disk-full')).toBe('returned-unacknowledged');
  });

  it('its own timer ends delays, re-alarms and expires shelves on time', async () => {
    const stores = await openStores();
    vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const svc = service(stores, calm(), { now: Date.now, timers: true, tickMs: 1000 });
      await svc.start();
      svc.onSamples([temp(101, 'good', Date.now())]);
      vi.advanceTimersByTime(4999);
      expect(stateOf(svc, 'temp-high')).toBe('normal');
      vi.advanceTimersByTime(1);
      expect(svc.get('temp-high')).toMatchObject({ state: 'active-unacknowledged', activeSince: T0 + 5 * S });
      vi.advanceTimersByTime(60 * S);
      expect(svc.get('temp-high')).toMatchObject({ reAlarms: 1, announcedAt: T0 + 65 * S });
      expect(svc.shelve('temp-high', 'ann', 'probe being cleaned', 90 * S)).toMatchObject({ ok: true });
      vi.advanceTimersByTime(90 * S - 1);
      expect(svc.get('temp-high')!.shelved).not.toBeNull();
      vi.advanceTimersByTime(1);
      expect(svc.get('temp-high')).toMatchObject({ shelved: null, announcedAt: T0 + 155 * S });
      svc.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('statistics come from the stored activations: a stale tag chattering into a flood', async () => {
    const stores = await openStores();
    const svc = service(stores, calm());
    await svc.start();
    const from = now;
    // the reading goes stale and back every 4 s: 12 activations in 46 s
    for (let i = 0; i < 12; i++) {
      svc.onSamples([temp(null, 'stale')]);
      now += 2 * S;
      svc.onSamples([temp(50)]);
      now += 2 * S;
    }
    const stats = svc.stats(from, from + HOUR);
    expect(stats.count).toBe(12);
    expect(stats.badActors).toEqual([{ alarmId: 'temp-stale', count: 12, share: 1 }]);
    expect(stats.chattering).toEqual([
      { alarmId: 'temp-stale', activations: 12, maxInWindow: 12, firstAt: from + 8 * S },
    ]);
    // the 11th activation (at 40 s) starts a flood; it ends when the 8th leaves the window (28 s + 10 min)
    expect(stats.floods).toEqual([
      { start: from + 40 * S, end: from + 28 * S + 10 * MIN, durationMs: 10 * MIN - 12 * S, alarms: 12, peak: 12 },
    ]);
    expect(stats.priorities.low).toEqual({ count: 12, share: 1 });
  });
});

// ---------- property: samples, actions, failures and restarts over the real store ----------

const command = fc.oneof(
  fc.record({
    kind: fc.constant('sample' as const),
    value: fc.integer({ min: 95, max: 125 }),
    quality: fc.constantFrom('good', 'good', 'good', 'stale'),
  }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
  fc.record({
    kind: fc.constant('machine' as const),
    state: fc.constantFrom('running', 'unplanned-stop', 'planned-stop'),
  }),
  fc.record({
    kind: fc.constant('device' as const),
    state: fc.constantFrom('connected', 'disconnected', 'connecting'),
  }),
  fc.record({
    kind: fc.constant('act' as const),
    action: fc.constantFrom('acknowledge', 'acknowledge', 'reset', 'shelve', 'unshelve', 'remove', 'return'),
    alarmId: fc.constantFrom('temp-high', 'temp-hh', 'temp-hh', 'plc-comm', 'm1-stopped', 'temp-stale'),
    user: fc.constantFrom('ann', 'bob', '', ' '),
    comment: fc.constantFrom(undefined, 'checked', ''),
  }),
  fc.record({ kind: fc.constant('storeDown' as const), down: fc.boolean() }),
  fc.constant({ kind: 'restart' as const }),
);

describe('AlarmService property over the real store', () => {
  it('no sequence leads to an invalid state; memory and store always agree; the audit trail chains', async () => {
    const rules = new Map(plant.alarms.map((r) => [r.id, r]));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40, size: 'max' }), async (commands) => {
        now = T0;
        const file = join(dir, `run-${run++}.db`);
        let stores = await openStores(file);
        let storeDown = false;
        const world = calm();
        const port = (): AlarmStorePort => {
          const alarms = stores.alarms;
          return {
            loadAlarmStates: () => alarms.loadAlarmStates(),
            alarmActivations: (from, to) => alarms.alarmActivations(from, to),
            writeAlarmChanges: (change) => {
              if (storeDown) throw new Error('disk I/O error');
              alarms.writeAlarmChanges(change);
            },
          };
        };
        let svc = service(stores, world, { store: port() });
        await svc.start();
        for (const c of commands) {
          switch (c.kind) {
            case 'sample':
              svc.onSamples([temp(c.quality === 'good' ? c.value : null, c.quality as StoredSample['quality'])]);
              break;
            case 'wait':
              now += c.ms;
              svc.tick();
              break;
            case 'machine':
              if (world.machine?.state !== c.state) world.machine = { state: c.state, since: now };
              svc.tick();
              break;
            case 'device':
              world.device = c.state;
              svc.tick();
              break;
            case 'storeDown':
              storeDown = c.down;
              svc.tick(); // the timer retries what the store refused
              break;
            case 'restart':
              svc.stop();
              await stores.close();
              stores = await openStores(file);
              svc = service(stores, world, { store: port() });
              await svc.start();
              break;
            case 'act': {
              const r =
                c.action === 'acknowledge'
                  ? svc.acknowledge(c.alarmId, c.user, c.comment)
                  : c.action === 'reset'
                    ? svc.reset(c.alarmId, c.user, c.comment)
                    : c.action === 'shelve'
                      ? svc.shelve(c.alarmId, c.user, c.comment ?? '', 10 * MIN)
                      : c.action === 'unshelve'
                        ? svc.unshelve(c.alarmId, c.user, c.comment)
                        : c.action === 'remove'
                          ? svc.removeFromService(c.alarmId, c.user, c.comment ?? '')
                          : svc.returnToService(c.alarmId, c.user, c.comment);
              if (storeDown) expect(r.ok).toBe(false);
              break;
            }
          }
          // every state valid; what memory holds is exactly what the store holds
          const stored = new Map(stores.alarms.loadAlarmStates().map((s) => [s.alarmId, s]));
          for (const view of svc.list()) {
            const {
              kind: _k,
              priority: _p,
              message: _m,
              line: _l,
              machine: _mc,
              source: _s,
              latching: _lt,
              ...rest
            } = view;
            const { hidden: _h, conditionActive, currentValue: _v, ...state } = rest;
            expect(alarmStateProblems(state, rules.get(view.alarmId)!), view.alarmId).toEqual([]);
            if (state.version > 0) expect(stored.get(view.alarmId)).toEqual(state);
            if (!storeDown) expect(isActiveState(state.state), view.alarmId).toBe(conditionActive);
          }
        }
        // the audit trail chains: each accepted change starts where the previous one ended
        const last = new Map<string, string>();
        for (const r of auditRows(file)) {
          const from = `${r.from_state}|${r.from_modes}`;
          expect(from).toBe(last.get(r.alarm_id as string) ?? 'normal|');
          if (r.result === 'accepted') {
            last.set(r.alarm_id as string, `${r.to_state}|${r.to_modes}`);
            if (r.username !== null) expect(String(r.username).trim()).not.toBe('');
          } else {
            expect(`${r.to_state}|${r.to_modes}`).toBe(from);
          }
        }
        svc.stop();
        await stores.close();
      }),
      { numRuns: 100 },
    );
  });
});
