/**
 * Alarms over HTTP and the live socket, against the real server, sign-in,
 * SQLite store and alarm service: who may act, what goes on record with
 * whose name, how refusals and bad input answer, the statistics, the audit
 * trail as JSON and CSV, /metrics, alarm messages arriving at once (not at
 * the tag values' 4 Hz), a client that stops reading staying bounded, and
 * an active alarm surviving a restart.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { PlantConfigInput } from '../../config/schema.js';
import type {
  AlarmActionResponse,
  AlarmAuditResponse,
  AlarmDetailResponse,
  AlarmItem,
  AlarmsResponse,
  AlarmStatsResponse,
  ApiError,
  LiveServerMessage,
} from '../../gateway/server/contract.js';
import { type AuthRig, type Credential, RIG_ALARM, ROLE_USERS, startAuthRig } from './peers/auth-rig.js';

const LATCHED = 'kwh-latched';

/** two alarms on the line's energy reading: the rig's own, and a latching one on its machine */
const ALARMS: PlantConfigInput['alarms'] = [
  {
    id: RIG_ALARM,
    kind: 'high',
    tag: 'line_kwh',
    limit: 1_000_000,
    line: 'L1',
    priority: 'high',
    message: { en: 'Line 1 energy reading implausible', 'zh-Hant': '一號線電能讀數異常' },
  },
  {
    id: LATCHED,
    kind: 'high-high',
    tag: 'line_kwh',
    limit: 5_000_000,
    machine: 'M1',
    latched: true,
    priority: 'medium',
    message: { en: 'Energy reading far out of range' },
  },
];

const kwh = (value: number) => [{ tagId: 'line_kwh', ts: Date.now(), value, quality: 'good' as const }];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Received {
  readonly at: number;
  readonly msg: LiveServerMessage;
}

/** a live socket that records each message with the time it arrived */
function recorder(ws: WebSocket) {
  const got: Received[] = [];
  ws.on('message', (data) => got.push({ at: performance.now(), msg: JSON.parse(String(data)) as LiveServerMessage }));
  const send = (m: object) => ws.send(JSON.stringify(m));
  const until = async <T>(find: () => T | undefined, ms = 5000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > end) throw new Error('the awaited live message did not come');
      await sleep(2);
    }
  };
  /** the first `alarm` message after index `from` that matches */
  const alarmMsg = (from: number, match: (m: Extract<LiveServerMessage, { type: 'alarm' }>) => boolean) =>
    until(() =>
      got
        .slice(from)
        .find((r) => r.msg.type === 'alarm' && match(r.msg as Extract<LiveServerMessage, { type: 'alarm' }>)),
    );
  return { got, send, until, alarmMsg };
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

describe('alarm routes', () => {
  let rig: AuthRig;
  const as: Record<string, Credential> = {};

  const post = (path: string, who: string, body?: unknown) =>
    rig.call(path, { method: 'POST', credential: as[who]!, ...(body === undefined ? {} : { body }) });
  const get = (path: string, who = 'viewer') => rig.call(path, { credential: as[who]! });
  const alarm = async (id: string): Promise<AlarmItem> =>
    (await json<AlarmDetailResponse>(await get(`/api/alarms/${id}`))).alarm;
  const errorOf = async (res: Response) => (await json<ApiError>(res)).error;

  beforeAll(async () => {
    rig = await startAuthRig({ plant: { alarms: ALARMS, server: { liveMaxHz: 4 } } });
    for (const role of ['viewer', 'operator', 'energy', 'admin'] as const) {
      as[role] = { cookie: await rig.login(ROLE_USERS[role]) };
    }
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('lists every alarm with its state, priority, both languages, line and machine', async () => {
    const res = await get('/api/alarms');
    expect(res.status).toBe(200);
    const body = await json<AlarmsResponse>(res);
    expect(body.ready).toBe(true);
    expect(body.timezone).toBe('Asia/Hong_Kong');
    expect(body.alarms.map((a) => a.id)).toEqual([RIG_ALARM, LATCHED]);
    const [plain, latched] = body.alarms;
    expect(plain).toMatchObject({
      state: 'normal',
      priority: 'high',
      message: { en: 'Line 1 energy reading implausible', 'zh-Hant': '一號線電能讀數異常' },
      line: 'L1',
      lineName: 'Line 1',
      machine: null,
      limit: 1_000_000,
      unit: 'kWh',
      latching: false,
      modes: [],
      hidden: false,
      activation: 0,
      acknowledged: null,
      shelved: null,
      outOfService: null,
    });
    // the machine's line stands in for a rule that names only the machine
    expect(latched).toMatchObject({
      line: 'L1',
      machine: 'M1',
      machineName: 'Press',
      latching: true,
      message: { en: 'Energy reading far out of range', 'zh-Hant': null },
    });
    expect(Object.keys(plain!)).not.toContain('version');
  });

  it("refuses a viewer's action with 403 and records an operator's acknowledgement under their sign-in", async () => {
    const t0 = Date.now();
    rig.alarms.onSamples(kwh(2_000_000));
    const raised = await alarm(RIG_ALARM);
    expect(raised.state).toBe('active-unacknowledged');
    expect(raised.activeSince).toBeGreaterThanOrEqual(t0);
    expect(raised.value).toBe(2_000_000);

    const viewer = await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'viewer', { comment: 'me too' });
    expect(viewer.status).toBe(403);
    expect((await errorOf(viewer)).code).toBe('GL_ERR_FORBIDDEN');
    const energy = await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'energy', {});
    expect(energy.status).toBe(403);
    expect((await alarm(RIG_ALARM)).state).toBe('active-unacknowledged');

    // the user is the sign-in; a body that names one is refused outright
    const forged = await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'operator', { comment: 'x', user: 'mallory' });
    expect(forged.status).toBe(400);
    const forgedError = await errorOf(forged);
    expect(forgedError.code).toBe('GL_ERR_BAD_REQUEST');
    expect(forgedError.issues?.[0]).toMatchObject({ path: 'body', message: expect.stringContaining('user') });

    const res = await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'operator', {
      comment: 'meter checked, reading bad',
    });
    expect(res.status).toBe(200);
    const done = await json<AlarmActionResponse>(res);
    expect(done.alarm.state).toBe('active-acknowledged');
    expect(done.alarm.acknowledged).toMatchObject({ user: ROLE_USERS.operator, comment: 'meter checked, reading bad' });
    expect(done.change).toMatchObject({
      action: 'acknowledge',
      user: ROLE_USERS.operator,
      result: 'accepted',
      from: { state: 'active-unacknowledged', modes: [] },
      to: { state: 'active-acknowledged', modes: [] },
    });

    // on record, with who and the comment; the detail shows it first
    const trail = await json<AlarmAuditResponse>(await get(`/api/alarms/audit?alarmId=${RIG_ALARM}&from=${t0 - 1}`));
    const ack = trail.entries.find((e) => e.action === 'acknowledge');
    expect(ack).toMatchObject({
      alarmId: RIG_ALARM,
      activation: raised.activation,
      user: ROLE_USERS.operator,
      comment: 'meter checked, reading bad',
      result: 'accepted',
    });
    expect(trail.entries.map((e) => e.action)).toEqual(['acknowledge', 'activate']);
    expect(trail.entries.every((e) => e.user !== 'mallory' && e.user !== ROLE_USERS.viewer)).toBe(true);
    const detail = await json<AlarmDetailResponse>(await get(`/api/alarms/${RIG_ALARM}`));
    expect(detail.audit[0]).toMatchObject({ action: 'acknowledge', user: ROLE_USERS.operator });

    // a second acknowledgement is a conflict with its code, and the refused attempt is on record too
    const again = await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'admin', { comment: 'again' });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).code).toBe('GL_ERR_ALARM_ALREADY_ACKNOWLEDGED');
    const after = await json<AlarmAuditResponse>(await get(`/api/alarms/audit?alarmId=${RIG_ALARM}&from=${t0 - 1}`));
    expect(after.entries[0]).toMatchObject({
      action: 'acknowledge',
      user: ROLE_USERS.admin,
      comment: 'again',
      result: 'GL_ERR_ALARM_ALREADY_ACKNOWLEDGED',
    });
    rig.alarms.onSamples(kwh(0));
    expect((await alarm(RIG_ALARM)).state).toBe('normal');
  });

  it('answers bad bodies and queries with 400 and the path of each problem', async () => {
    const shelve = (body: unknown) => post(`/api/alarms/${RIG_ALARM}/shelve`, 'operator', body);
    const paths = async (res: Response) => {
      expect(res.status).toBe(400);
      const e = await errorOf(res);
      return { code: e.code, paths: (e.issues ?? []).map((i) => i.path) };
    };
    expect(await paths(await shelve({}))).toEqual({
      code: 'GL_ERR_BAD_REQUEST',
      paths: ['body.reason', 'body.durationMinutes'],
    });
    expect(await paths(await shelve({ reason: 5, durationMinutes: '10' }))).toEqual({
      code: 'GL_ERR_BAD_REQUEST',
      paths: ['body.reason', 'body.durationMinutes'],
    });
    // the lifecycle's own refusals of the same kind keep their code, with the field
    expect(await paths(await shelve({ reason: '   ', durationMinutes: 10 }))).toEqual({
      code: 'GL_ERR_ALARM_REASON_REQUIRED',
      paths: ['body.reason'],
    });
    expect(await paths(await shelve({ reason: 'sensor swap', durationMinutes: 0 }))).toEqual({
      code: 'GL_ERR_ALARM_SHELVE_DURATION',
      paths: ['body.durationMinutes'],
    });
    expect(await paths(await shelve({ reason: 'sensor swap', durationMinutes: 25 * 60 }))).toEqual({
      code: 'GL_ERR_ALARM_SHELVE_DURATION',
      paths: ['body.durationMinutes'],
    });
    expect(
      await paths(await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'operator', { comment: 'x'.repeat(2001) })),
    ).toEqual({ code: 'GL_ERR_ALARM_COMMENT_TOO_LONG', paths: ['body.comment'] });
    expect(await paths(await post(`/api/alarms/${RIG_ALARM}/out-of-service`, 'admin', {}))).toEqual({
      code: 'GL_ERR_BAD_REQUEST',
      paths: ['body.reason'],
    });
    expect(await paths(await post('/api/alarms/not an id/acknowledge', 'operator', {}))).toEqual({
      code: 'GL_ERR_BAD_REQUEST',
      paths: ['params.id'],
    });
    const query = await paths(await get('/api/alarms/audit?limit=0&from=yesterday&colour=red'));
    expect(query.code).toBe('GL_ERR_BAD_REQUEST');
    expect(query.paths.sort()).toEqual(['query', 'query.from', 'query.limit']);
    expect(await paths(await get('/api/alarms/stats?from=2000&to=1000'))).toEqual({
      code: 'GL_ERR_BAD_REQUEST',
      paths: ['query.to'],
    });
    // the body must be JSON (the cross-site defence)
    const form = await rig.call(`/api/alarms/${RIG_ALARM}/acknowledge`, {
      method: 'POST',
      credential: as.operator!,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'comment=x',
    });
    expect(form.status).toBe(415);
    // nothing of that changed the alarm
    expect((await alarm(RIG_ALARM)).shelved).toBeNull();
  });

  it('answers an unknown alarm with 404 and other refusals with 409 and their code', async () => {
    const unknown = await post('/api/alarms/no-such-alarm/acknowledge', 'operator', {});
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe('GL_ERR_ALARM_UNKNOWN');
    const unknownGet = await get('/api/alarms/no-such-alarm');
    expect(unknownGet.status).toBe(404);
    expect((await errorOf(unknownGet)).code).toBe('GL_ERR_NOT_FOUND');

    const cases: [string, string, unknown, string][] = [
      [RIG_ALARM, 'acknowledge', {}, 'GL_ERR_ALARM_NOTHING_TO_ACKNOWLEDGE'],
      [RIG_ALARM, 'reset', {}, 'GL_ERR_ALARM_NOT_LATCHING'],
      [RIG_ALARM, 'unshelve', {}, 'GL_ERR_ALARM_NOT_SHELVED'],
      [LATCHED, 'reset', {}, 'GL_ERR_ALARM_NOTHING_TO_RESET'],
    ];
    for (const [id, action, body, code] of cases) {
      const res = await post(`/api/alarms/${id}/${action}`, 'operator', body);
      expect(res.status, `${action} ${id}`).toBe(409);
      expect((await errorOf(res)).code, `${action} ${id}`).toBe(code);
    }
    const notOut = await post(`/api/alarms/${RIG_ALARM}/return-to-service`, 'admin', {});
    expect(notOut.status).toBe(409);
    expect((await errorOf(notOut)).code).toBe('GL_ERR_ALARM_NOT_OUT_OF_SERVICE');
  });

  it('takes an alarm out of service for admins only, and then refuses to shelve it', async () => {
    const operator = await post(`/api/alarms/${RIG_ALARM}/out-of-service`, 'operator', { reason: 'meter replaced' });
    expect(operator.status).toBe(403);
    const admin = await post(`/api/alarms/${RIG_ALARM}/out-of-service`, 'admin', { reason: 'meter replaced' });
    expect(admin.status).toBe(200);
    const out = (await json<AlarmActionResponse>(admin)).alarm;
    expect(out.outOfService).toMatchObject({ user: ROLE_USERS.admin, reason: 'meter replaced' });
    expect(out.modes).toEqual(['out-of-service']);
    expect(out.hidden).toBe(true);
    const shelve = await post(`/api/alarms/${RIG_ALARM}/shelve`, 'operator', { reason: 'x', durationMinutes: 5 });
    expect(shelve.status).toBe(409);
    expect((await errorOf(shelve)).code).toBe('GL_ERR_ALARM_OUT_OF_SERVICE');
    const back = await post(`/api/alarms/${RIG_ALARM}/return-to-service`, 'admin', { comment: 'new meter in' });
    expect(back.status).toBe(200);
    expect((await json<AlarmActionResponse>(back)).alarm.outOfService).toBeNull();
  });

  it('shelves with an expiry and unshelves; walks a latching alarm through its reset', async () => {
    const before = Date.now();
    const shelved = await post(`/api/alarms/${RIG_ALARM}/shelve`, 'operator', {
      reason: 'meter under calibration',
      durationMinutes: 30,
    });
    expect(shelved.status).toBe(200);
    const s = (await json<AlarmActionResponse>(shelved)).alarm;
    expect(s.shelved).toMatchObject({ user: ROLE_USERS.operator, reason: 'meter under calibration' });
    expect(s.shelved!.until - s.shelved!.at).toBe(30 * 60_000);
    expect(s.shelved!.at).toBeGreaterThanOrEqual(before);
    expect(s.modes).toEqual(['shelved']);
    const unshelved = await post(`/api/alarms/${RIG_ALARM}/unshelve`, 'operator', { comment: 'calibrated' });
    expect(unshelved.status).toBe(200);
    expect((await json<AlarmActionResponse>(unshelved)).alarm.shelved).toBeNull();

    rig.alarms.onSamples(kwh(6_000_000));
    expect((await alarm(LATCHED)).state).toBe('active-unacknowledged');
    const early = await post(`/api/alarms/${LATCHED}/reset`, 'operator', {});
    expect(early.status).toBe(409);
    expect((await errorOf(early)).code).toBe('GL_ERR_ALARM_STILL_ACTIVE');
    expect((await post(`/api/alarms/${LATCHED}/acknowledge`, 'operator', { comment: 'seen' })).status).toBe(200);
    rig.alarms.onSamples(kwh(0));
    expect((await alarm(LATCHED)).state).toBe('latched');
    const reset = await post(`/api/alarms/${LATCHED}/reset`, 'operator', { comment: 'heater band replaced' });
    expect(reset.status).toBe(200);
    expect((await json<AlarmActionResponse>(reset)).alarm.state).toBe('normal');
    // the plain alarm came and went meanwhile: returned unacknowledged
    const plain = await alarm(RIG_ALARM);
    expect(plain.state).toBe('returned-unacknowledged');
    expect((await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'operator', {})).status).toBe(200);
  });

  it('counts alarms per 10 minutes, bad actors and chattering', async () => {
    const from = Date.now() - 60_000;
    // three activations within a minute: chattering
    for (let i = 0; i < 3; i++) {
      rig.alarms.onSamples(kwh(2_000_000));
      rig.alarms.onSamples(kwh(0));
    }
    const res = await get(`/api/alarms/stats?from=${from}&to=${Date.now() + 1}`);
    expect(res.status).toBe(200);
    const stats = await json<AlarmStatsResponse>(res);
    expect(stats.rateWindowMs).toBe(600_000);
    expect(stats.count).toBeGreaterThanOrEqual(3);
    expect(stats.rate.perWindow.reduce((a, b) => a + b, 0)).toBe(stats.count);
    expect(stats.badActors[0]!.alarmId).toBe(RIG_ALARM);
    expect(stats.chattering.map((c) => c.alarmId)).toContain(RIG_ALARM);
    expect(stats.floods).toEqual([]);
    expect(stats.standing).toEqual([]);
    const day = await json<AlarmStatsResponse>(await get('/api/alarms/stats'));
    expect(day.to - day.from).toBe(24 * 3_600_000);
    expect(day.rate.perWindow).toHaveLength(144);
  });

  it('filters and searches the audit trail by action, user, comment and message, in the table and the CSV', async () => {
    const from = Date.now() - 1000;
    rig.alarms.onSamples(kwh(6_000_000));
    await sleep(5);
    const ack = await post(`/api/alarms/${LATCHED}/acknowledge`, 'operator', { comment: 'Meter 7 swapped, 加熱帶' });
    expect(ack.status).toBe(200);
    rig.alarms.onSamples(kwh(0));
    const to = Date.now() + 1000;
    const trail = async (query: string) => {
      const res = await get(`/api/alarms/audit?from=${from}&to=${to}&${query}`);
      expect(res.status, query).toBe(200);
      return json<AlarmAuditResponse>(res);
    };
    const acks = await trail('action=acknowledge');
    expect(acks.actions).toEqual(['acknowledge']);
    expect(acks.entries.length).toBeGreaterThan(0);
    expect(new Set(acks.entries.map((e) => e.action))).toEqual(new Set(['acknowledge']));
    const raisedOrCleared = await trail('action=activate,clear');
    expect(new Set(raisedOrCleared.entries.map((e) => e.action))).toEqual(new Set(['activate', 'clear']));
    const byOperator = await trail(`user=${ROLE_USERS.operator.toUpperCase()}`);
    expect(byOperator.entries.length).toBeGreaterThan(0);
    expect(byOperator.entries.every((e) => e.user === ROLE_USERS.operator)).toBe(true);
    // the comment, either language, without case
    const comment = await trail(`q=${encodeURIComponent('meter 7')}`);
    expect(comment.search).toBe('meter 7');
    expect(comment.entries.map((e) => [e.alarmId, e.action])).toEqual([[LATCHED, 'acknowledge']]);
    expect((await trail(`q=${encodeURIComponent('加熱')}`)).entries.map((e) => e.action)).toEqual(['acknowledge']);
    // the message is the configuration's, not the store's: both alarms' lines, by their message
    const message = await trail(`q=${encodeURIComponent('FAR OUT of range')}`);
    expect(message.entries.length).toBeGreaterThan(1);
    expect(new Set(message.entries.map((e) => e.alarmId))).toEqual(new Set([LATCHED]));
    const chinese = await trail(`q=${encodeURIComponent('電能讀數')}`);
    expect(new Set(chinese.entries.map((e) => e.alarmId))).toEqual(new Set([RIG_ALARM]));
    expect((await trail('q=nothing%20like%20this')).entries).toEqual([]);
    // the CSV carries the same filters
    const csv = await get(`/api/alarms/audit.csv?from=${from}&to=${to}&action=acknowledge&q=meter%207`);
    expect(csv.status).toBe(200);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines, lines.join('\n')).toHaveLength(2);
    expect(lines[1]).toContain('Meter 7 swapped');
    // bad filters: which field and why
    for (const [query, path, message] of [
      ['action=acknowledge,dance', 'query.action[1]', /one of acknowledge, reset/],
      [`q=${'x'.repeat(101)}`, 'query.q', /longer than 100/],
      ['user=', 'query.user', /must not be empty/],
    ] as const) {
      const res = await get(`/api/alarms/audit?${query}`);
      expect(res.status, query).toBe(400);
      const e = await errorOf(res);
      expect(e.issues?.[0]?.path, query).toBe(path);
      expect(e.issues?.[0]?.message, query).toMatch(message);
    }
  });

  it('exports the audit trail as CSV, page after page, formula-safe', async () => {
    // an old alarm event with many lines, stored as the service stores them
    const t0 = Date.UTC(2025, 0, 6, 0, 0, 0);
    const records = Array.from({ length: 4501 }, (_, i) => ({
      alarmId: 'old-alarm',
      activation: Math.floor(i / 2) + 1,
      at: t0 + i * 1000,
      action: i % 2 === 0 ? ('activate' as const) : ('clear' as const),
      user: null,
      comment: null,
      from: { state: 'normal' as const, modes: [] },
      to: { state: 'active-unacknowledged' as const, modes: [] },
      result: 'accepted' as const,
      announce: i % 2 === 0,
      priority: 'low' as const,
      value: i,
    }));
    rig.alarmStore.writeAlarmChanges({ records, states: [] });
    const res = await get(`/api/alarms/audit.csv?alarmId=old-alarm&from=${t0}&to=${t0 + 86_400_000}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="greenline-alarm-audit-works-old-alarm-2025-01-06T0800-2025-01-07T0800.csv"',
    );
    // the bytes as sent: a text decoder would drop the byte order mark
    const text = Buffer.from(await res.arrayBuffer()).toString('utf8');
    expect(text.startsWith('\uFEFFseq,timestamp,alarm_id,activation,action,user,comment,result,')).toBe(true);
    const lines = text.slice(1).split('\r\n');
    expect(lines.at(-1)).toBe('');
    const rows = lines.slice(1, -1);
    expect(rows).toHaveLength(4501);
    expect(rows[0]).toMatch(
      /^\d+,2025-01-06T08:00:00\.000\+08:00,old-alarm,1,activate,,,accepted,normal,,active-unacknowledged,,0,$/,
    );
    expect(rows[4500]).toMatch(/,old-alarm,2251,activate,/);
    const seqs = rows.map((r) => Number(r.split(',')[0]));
    expect(seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1)).toBe(true);

    // a comment that a spreadsheet would run is made inert; the JSON keeps it as written
    rig.alarms.onSamples(kwh(2_000_000));
    const ack = await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'operator', { comment: '=HYPERLINK("http://x")' });
    expect(ack.status).toBe(200);
    rig.alarms.onSamples(kwh(0));
    const recent = await (await get(`/api/alarms/audit.csv?alarmId=${RIG_ALARM}`)).text();
    expect(recent).toContain(`,${ROLE_USERS.operator},"'=HYPERLINK(""http://x"")",accepted,`);
    const bad = await get('/api/alarms/audit.csv?limit=5');
    expect(bad.status).toBe(400);
  });

  it('shows alarm gauges by priority on /metrics', async () => {
    rig.alarms.onSamples(kwh(2_000_000));
    expect((await post(`/api/alarms/${LATCHED}/shelve`, 'operator', { reason: 'x', durationMinutes: 5 })).status).toBe(
      200,
    );
    const text = await (await get('/metrics')).text();
    const value = (name: string, priority: string) =>
      Number(new RegExp(`^${name}\\{priority="${priority}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('greenline_alarms_active', 'high')).toBe(1);
    expect(value('greenline_alarms_unacknowledged', 'high')).toBe(1);
    expect(value('greenline_alarms_active', 'medium')).toBe(0);
    expect(value('greenline_alarms_shelved', 'medium')).toBe(1);
    expect(value('greenline_alarms_shelved', 'high')).toBe(0);
    expect(value('greenline_alarms_out_of_service', 'low')).toBe(0);
    expect(text).toMatch(/^# TYPE greenline_alarms_active gauge$/m);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect((await post(`/api/alarms/${LATCHED}/unshelve`, 'operator', {})).status).toBe(200);
    expect((await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'operator', {})).status).toBe(200);
    rig.alarms.onSamples(kwh(0));
  });

  it('sends alarm changes over the live socket at once, while tag values keep their 4 Hz', async () => {
    const attempt = await rig.openLive(as.viewer!);
    if (attempt.status !== 'open') throw new Error(`live socket refused: ${attempt.status}`);
    const live = recorder(attempt.ws);
    live.send({ type: 'subscribe', tags: '*' });
    live.send({ type: 'alarms', follow: true });
    const list = await live.until(() => live.got.find((r) => r.msg.type === 'alarms'));
    if (list.msg.type !== 'alarms') throw new Error('no list');
    expect(list.msg.ready).toBe(true);
    expect(list.msg.alarms.map((a) => a.id)).toEqual([RIG_ALARM, LATCHED]);

    const latencies: Record<string, number> = {};
    for (let round = 0; round < 5; round++) {
      // a tag value first: it opens a 250 ms flush interval that alarms must not wait for
      rig.live.push([{ tagId: 'm1_total', ts: Date.now(), value: round, quality: 'good', receivedAt: Date.now() }]);
      await live.until(() =>
        live.got.find((r) => r.msg.type === 'delta' && r.msg.values.some((v) => v.value === round)),
      );
      const mark = live.got.length;
      rig.live.push([
        { tagId: 'm1_total', ts: Date.now(), value: round + 0.5, quality: 'good', receivedAt: Date.now() },
      ]);
      const raisedAt = performance.now();
      rig.alarms.onSamples(kwh(2_000_000));
      const raised = await live.alarmMsg(mark, (m) => m.alarm.id === RIG_ALARM && m.change.action === 'activate');
      const ackAt = performance.now();
      const res = await post(`/api/alarms/${RIG_ALARM}/acknowledge`, 'operator', { comment: `round ${round}` });
      expect(res.status).toBe(200);
      const acked = await live.alarmMsg(mark, (m) => m.change.action === 'acknowledge');
      const delta = await live.until(() =>
        live.got.slice(mark).find((r) => r.msg.type === 'delta' && r.msg.values.some((v) => v.value === round + 0.5)),
      );
      latencies[`activate ${round}`] = raised.at - raisedAt;
      latencies[`acknowledge ${round}`] = acked.at - ackAt;
      // the tag value waited for its interval; the alarm did not
      expect(raised.at).toBeLessThan(delta.at);
      expect(acked.msg.type === 'alarm' && acked.msg.alarm.acknowledged?.user).toBe(ROLE_USERS.operator);
      expect(acked.msg.type === 'alarm' && acked.msg.change.comment).toBe(`round ${round}`);
      rig.alarms.onSamples(kwh(0));
      await live.alarmMsg(mark, (m) => m.change.action === 'clear');
    }
    const worst = Math.max(...Object.values(latencies));
    console.info(
      `live alarm latency (ms): ${Object.entries(latencies)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );
    // at once: far below the 250 ms of a 4 Hz flush
    expect(worst).toBeLessThan(200);
    expect(
      Object.entries(latencies)
        .filter(([k]) => k.startsWith('activate'))
        .every(([, v]) => v < 50),
    ).toBe(true);

    // following stops on request
    live.send({ type: 'alarms', follow: false });
    await sleep(50);
    const mark = live.got.length;
    rig.alarms.onSamples(kwh(2_000_000));
    await sleep(100);
    expect(live.got.slice(mark).filter((r) => r.msg.type === 'alarm')).toEqual([]);
    rig.alarms.onSamples(kwh(0));
    attempt.ws.close();
  });
});

describe('alarms for a client that stops reading', () => {
  it('keeps the latest message per alarm, then sends it once the client reads again', async () => {
    // two alarms with long texts, so a paused client's socket buffers fill quickly
    const long = (n: number) => `${'alarm text '.repeat(20_000)}${n}`;
    const slowClientBytes = 64 * 1024;
    const rig = await startAuthRig({
      plant: {
        alarms: [
          { id: 'big-1', kind: 'high', tag: 'line_kwh', limit: 10, message: { en: long(1) } },
          { id: 'big-2', kind: 'high', tag: 'm1_total', limit: 10, message: { en: long(2) } },
        ],
      },
      server: { live: { slowClientBytes } },
    });
    try {
      const cookie = { cookie: await rig.login(ROLE_USERS.viewer) };
      const slow = await rig.openLive(cookie);
      if (slow.status !== 'open') throw new Error('live socket refused');
      const live = recorder(slow.ws);
      live.send({ type: 'alarms', follow: true });
      await live.until(() => live.got.find((r) => r.msg.type === 'alarms'));
      const clientId = Math.max(...rig.server.hub.clientStats().map((s) => s.id));
      (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

      let maxPending = 0;
      let maxBuffered = 0;
      const sample = () => {
        const s = rig.server.hub.clientStats().find((c) => c.id === clientId);
        if (s) {
          maxPending = Math.max(maxPending, s.alarmsPending);
          maxBuffered = Math.max(maxBuffered, s.bufferedAmount);
        }
      };
      const at = () => Date.now();
      let toggles = 0;
      const deadline = Date.now() + 30_000;
      // toggle both alarms until the server holds back, then 20 rounds more
      let extra = 0;
      while (extra < 20 && Date.now() < deadline) {
        rig.alarms.onSamples([
          { tagId: 'line_kwh', ts: at(), value: 100, quality: 'good' },
          { tagId: 'm1_total', ts: at(), value: 100, quality: 'good' },
        ]);
        rig.alarms.onSamples([
          { tagId: 'line_kwh', ts: at(), value: 0, quality: 'good' },
          { tagId: 'm1_total', ts: at(), value: 0, quality: 'good' },
        ]);
        toggles++;
        sample();
        if (rig.server.hub.counters().skippedSlow > 0) extra++;
        await sleep(5);
      }
      // the last change of each: active again
      rig.alarms.onSamples([
        { tagId: 'line_kwh', ts: at(), value: 100, quality: 'good' },
        { tagId: 'm1_total', ts: at(), value: 100, quality: 'good' },
      ]);
      sample();
      expect(rig.server.hub.counters().skippedSlow).toBeGreaterThan(0);
      // never more held back than one message per alarm
      expect(maxPending).toBeLessThanOrEqual(2);
      expect(maxPending).toBeGreaterThan(0);
      // the socket holds at most the threshold plus what was sent in one go (two alarm messages)
      const messageBytes = 2 * long(1).length + 4096;
      expect(maxBuffered).toBeLessThanOrEqual(slowClientBytes + 2 * messageBytes);

      const final = new Map(rig.alarms.list().map((a) => [a.alarmId, a.activation]));
      expect(final.get('big-1')).toBe(toggles + 1);
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      // once it reads again it gets the latest of each alarm
      const last = (id: string) =>
        live.got
          .filter((r) => r.msg.type === 'alarm' && r.msg.alarm.id === id)
          .map((r) => (r.msg.type === 'alarm' ? r.msg.alarm : null))
          .at(-1);
      await live.until(
        () =>
          [...final].every(([id, n]) => last(id)?.activation === n && last(id)?.state === 'active-unacknowledged') ||
          undefined,
        15_000,
      );
      // and it did not get every change: the ones in between were folded into the latest
      const received = live.got.filter((r) => r.msg.type === 'alarm').length;
      expect(received).toBeLessThan(4 * toggles);
      console.info(`slow client: ${toggles} toggles of 2 alarms, ${received} alarm messages received in all`);
    } finally {
      await rig.close();
    }
  }, 60_000);
});

describe('an active alarm across a restart', () => {
  it('is still active, with its event and time, and can be acknowledged after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-alarm-restart-'));
    try {
      const first = await startAuthRig({ dir, plant: { alarms: ALARMS } });
      let before: AlarmItem;
      try {
        first.alarms.onSamples(kwh(2_000_000));
        const cookie = { cookie: await first.login(ROLE_USERS.viewer) };
        before = (await json<AlarmDetailResponse>(await first.call(`/api/alarms/${RIG_ALARM}`, { credential: cookie })))
          .alarm;
        expect(before.state).toBe('active-unacknowledged');
      } finally {
        await first.close();
      }

      const second = await startAuthRig({ dir, plant: { alarms: ALARMS } });
      try {
        const viewer = { cookie: await second.login(ROLE_USERS.viewer) };
        const operator = { cookie: await second.login(ROLE_USERS.operator) };
        const after = (
          await json<AlarmsResponse>(await second.call('/api/alarms', { credential: viewer }))
        ).alarms.find((a) => a.id === RIG_ALARM)!;
        expect(after).toMatchObject({
          state: 'active-unacknowledged',
          activation: before.activation,
          activeSince: before.activeSince,
          value: 2_000_000,
        });
        const ack = await second.call(`/api/alarms/${RIG_ALARM}/acknowledge`, {
          method: 'POST',
          credential: operator,
          body: { comment: 'after the restart' },
        });
        expect(ack.status).toBe(200);
        expect((await json<AlarmActionResponse>(ack)).alarm.activation).toBe(before.activation);
        const trail = await json<AlarmAuditResponse>(
          await second.call(`/api/alarms/audit?alarmId=${RIG_ALARM}`, { credential: viewer }),
        );
        expect(trail.entries.map((e) => `${e.action}:${e.activation}:${e.user}`)).toEqual([
          `acknowledge:${before.activation}:${ROLE_USERS.operator}`,
          `activate:${before.activation}:null`,
        ]);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
