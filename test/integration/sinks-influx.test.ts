/**
 * The InfluxDB sink against a real InfluxDB 1.x (Debian's influxd, spawned on
 * free loopback ports): schema, an outage, a killed gateway process, the
 * outbox quota, a point InfluxDB refuses, an outbox that cannot be used, and
 * the HTTP details (gzip, credentials, retries) against a recording server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlantConfigInput } from '../../config/schema.js';
import { emptyAccumulator, lineMetrics, type MachineParams, machineMetrics } from '../../gateway/core/index.js';
import {
  InfluxDbSink,
  type InfluxSinkStatus,
  OUTBOX_ROW_OVERHEAD_BYTES,
  plantContext,
} from '../../gateway/sinks/index.js';
import { buildRig, recordingLog, rigPlant } from './peers/influx-sink-rig.js';
import { type InfluxdPeer, scalarOf, startInfluxd } from './peers/influxd.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SINK_PROCESS = join(ROOT, 'test/integration/peers/influx-sink-process.ts');

let influx: InfluxdPeer;
let work: string;

beforeAll(async () => {
  influx = await startInfluxd();
  work = mkdtempSync(join(tmpdir(), 'greenline-influx-sink-'));
});

afterAll(async () => {
  await influx?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const count = async (q: string, db: string) => scalarOf(await influx.query(q, db));

/** a fixed past week day at noon UTC, far from a shard boundary */
const BASE = Date.UTC(2024, 0, 16, 12, 0, 0);

describe('InfluxDB sink: schema', () => {
  it('writes samples, closed minutes and events as documented; a replay overwrites instead of adding', async () => {
    const db = 'schema';
    const log = recordingLog();
    const rig = buildRig(
      { url: influx.url, database: db, outboxPath: join(work, 'schema.db'), flushIntervalMs: 20, log },
      BASE,
    );
    await rig.sink.start();

    const samples = [
      { tagId: 't0', ts: BASE, value: 12.5, quality: 'good' as const },
      { tagId: 't1', ts: BASE, value: true, quality: 'good' as const },
      { tagId: 't2', ts: BASE, value: 'ORDER "A-17", lot\\3', quality: 'uncertain' as const, reason: 'clamped' },
      { tagId: 't3', ts: BASE, value: null, quality: 'bad' as const, reason: 'timeout' },
      { tagId: 't4', ts: BASE, value: 7, quality: 'stale' as const, reason: 'no data for 3 s' },
    ];
    const acc = emptyAccumulator();
    Object.assign(acc, {
      coveredMs: 60_000,
      shiftMs: 60_000,
      runningMs: 50_000,
      idleMs: 10_000,
      pRunningMs: 50_000,
      pIdleMs: 10_000,
      total: 5,
      good: 4,
      kwhProducing: 0.5,
      kgCO2eLocation: 0.25,
    });
    const params: MachineParams = {
      id: 'press1',
      idealCycleTimeS: 10,
      counters: { total: true, good: true, reject: false },
      hasMeter: true,
      stateMeasured: true,
      unitMassKg: 0.2,
      carbon: { hasLocation: true, hasMarket: false },
    };
    const policy = { oeeCap: 'cap', setupCountsAs: 'planned', lineMetrics: 'output-machine' } as const;
    const window = { kind: 'range' as const, from: BASE, to: BASE + 60_000, shiftId: null, asOf: BASE + 60_000 };
    const machine = machineMetrics(window, acc, params, policy);
    const line = lineMetrics(
      window,
      emptyAccumulator(),
      { id: 'line1', outputMachineId: 'press1', hasMeter: false, carbon: { hasLocation: true, hasMarket: false } },
      [{ acc, params }],
      policy,
    );
    const metrics = {
      minutes: [
        { entity: { type: 'machine' as const, id: 'press1' }, minute: BASE, record: machine },
        { entity: { type: 'line' as const, id: 'line1' }, minute: BASE, record: line },
      ],
      events: [
        {
          kind: 'machine-state' as const,
          machineId: 'press1',
          ts: BASE + 1000,
          state: 'running' as const,
          previous: 'idle' as const,
          reason: null,
          raw: '3',
          noData: false,
        },
        {
          kind: 'counter-reset' as const,
          machineId: 'press1',
          ts: BASE + 2000,
          role: 'total' as const,
          previous: 1200,
          value: 3,
          counted: 3,
        },
      ],
    };
    rig.sink.onSamples(samples);
    rig.sink.onMetrics(metrics);
    const points = samples.length + 4;
    await until('the points to be delivered', () => rig.sink.status().sent === points, 10_000);

    const fields = await influx.query('SHOW FIELD KEYS', db);
    const types = Object.fromEntries(
      fields.series.flatMap((s) => s.values.map((v) => [`${s.name}.${v[0]}`, v[1]] as const)),
    );
    expect(types).toMatchObject({
      'greenline_tag.value': 'float',
      'greenline_tag.value_bool': 'boolean',
      'greenline_tag.value_str': 'string',
      'greenline_tag.reason': 'string',
      'greenline_machine_1m.oee': 'float',
      'greenline_machine_1m.kwh_per_good': 'float',
      'greenline_machine_1m.kgco2e_location': 'float',
      'greenline_line_1m.good': 'float',
      'greenline_event.state': 'string',
      'greenline_event.counted': 'float',
    });
    expect(types['greenline_machine_1m.kgco2e_market']).toBeUndefined(); // no market factor: left out, not 0

    const tagRows = await influx.query(
      'SELECT * FROM greenline_tag GROUP BY "area", "device", "line", "machine", "quality", "site", "tag"',
      db,
    );
    const byTag = Object.fromEntries(
      tagRows.series.map((s) => {
        const tags = (s as unknown as { tags: Record<string, string> }).tags;
        const row = Object.fromEntries(s.columns.map((c, i) => [c, s.values[0]![i]]));
        return [tags.tag, { tags, row }];
      }),
    );
    expect(byTag.t0!.tags).toEqual({
      area: 'assembly',
      device: 'plc1',
      line: 'line1',
      machine: 'press1',
      quality: 'good',
      site: 'plant-hk',
      tag: 't0',
    });
    expect(byTag.t0!.row).toMatchObject({ time: BASE, value: 12.5, value_bool: null, reason: null });
    expect(byTag.t1!.row).toMatchObject({ value: 1, value_bool: true });
    expect(byTag.t2!.tags).toMatchObject({ quality: 'uncertain', device: 'plc1', machine: '' });
    expect(byTag.t2!.row).toMatchObject({ value_str: 'ORDER "A-17", lot\\3', reason: 'clamped' });
    expect(byTag.t3!.row).toMatchObject({ value: null, reason: 'timeout' });
    expect(byTag.t4!.row).toMatchObject({ value: 7, reason: 'no data for 3 s' });

    const m = await influx.query('SELECT * FROM greenline_machine_1m', db);
    const mrow = Object.fromEntries(m.series[0]!.columns.map((c, i) => [c, m.series[0]!.values[0]![i]]));
    expect(mrow).toMatchObject({
      time: BASE,
      area: 'assembly',
      line: 'line1',
      machine: 'press1',
      site: 'plant-hk',
      total: 5,
      good: 4,
      kwh: 0.5,
      kwh_per_good: 0.125,
      kgco2e_location: 0.25,
      run_ms: machine.runMs,
      planned_ms: machine.plannedMs,
      oee: machine.oee,
    });
    expect(await count('SELECT COUNT(good) FROM greenline_line_1m WHERE "line" = \'line1\'', db)).toBe(1);
    const ev = await influx.query('SELECT * FROM greenline_event GROUP BY "kind", "role"', db);
    expect(ev.series.map((s) => (s as unknown as { tags: Record<string, string> }).tags)).toEqual([
      { kind: 'counter-reset', role: 'total' },
      { kind: 'machine-state', role: '' },
    ]);

    // the example queries of gateway/sinks/README.md parse and answer
    const energy = await influx.query(
      `SELECT SUM("kwh") / SUM("good") AS kwh_per_good FROM "greenline_machine_1m" WHERE time >= ${BASE}ms AND time < ${BASE + 3_600_000}ms GROUP BY time(1h), "machine"`,
      db,
    );
    expect(energy.series[0]!.values[0]![1]).toBeCloseTo(0.125, 9);
    const oee = await influx.query(
      `SELECT MEAN("value") FROM "greenline_tag" WHERE "tag" = 't0' AND "quality" = 'good' AND time >= ${BASE}ms AND time < ${BASE + 3_600_000}ms GROUP BY time(5m) fill(none)`,
      db,
    );
    expect(oee.series[0]!.values[0]![1]).toBe(12.5);

    // a replay (after an outage or a restart) sends the same points again: they overwrite
    rig.sink.onSamples(samples);
    rig.sink.onMetrics(metrics);
    await until('the replay to be delivered', () => rig.sink.status().sent === 2 * points, 10_000);
    expect(await count('SELECT COUNT(reason) FROM greenline_tag', db)).toBe(3);
    expect(await count('SELECT COUNT(good) FROM greenline_machine_1m', db)).toBe(1);
    expect(await count('SELECT COUNT(counted) FROM greenline_event', db)).toBe(1);
    await rig.sink.stop();
    expect(rig.sink.status()).toMatchObject({ state: 'stopped', rejected: 0, dropped: 0, notQueued: 0, failures: 0 });
    expect(log.lines.filter((l) => l.level !== 'info')).toEqual([]);
  });
});

describe('InfluxDB sink: outage', () => {
  it('loses nothing while InfluxDB is down for 30 s at 1000 samples/s, and writes each sample once', async () => {
    const db = 'outage';
    const log = recordingLog();
    const base = BASE;
    const rig = buildRig(
      {
        url: influx.url,
        database: db,
        outboxPath: join(work, 'outage.db'),
        log,
        maxRetryDelayMs: 2000,
        requestTimeoutMs: 2000,
      },
      base,
    );
    await rig.sink.start();
    let n = 0;
    const started = Date.now();
    // 1000 samples/s on average whatever the timer's jitter: sample i is due at started + i ms
    const feed = setInterval(() => {
      const due = Date.now() - started;
      if (due > n) rig.emit(n, due);
      n = Math.max(n, due);
    }, 10);
    try {
      await until('a first delivery', () => rig.sink.status().sent > 0, 10_000);
      await influx.stop();
      const down = Date.now();
      await until('30 s of outage', () => Date.now() - down >= 30_000, 35_000);
      const during = rig.sink.status();
      await influx.start();
      const back = Date.now();
      await until('sending again', () => rig.sink.status().sent > during.sent, 10_000);
      const resumedMs = Date.now() - back;
      await until('3 s after the outage', () => Date.now() - down >= 33_000, 10_000);
      clearInterval(feed);
      const offered = n;
      await until(
        'the backlog to drain',
        () => rig.sink.status().accepted === offered && rig.sink.status().backlog === 0,
        30_000,
      );
      const drainedMs = Date.now() - back;
      const after = rig.sink.status();

      expect(during.lastError).toMatch(/cannot be reached|did not answer/);
      expect(during.reachable).toBe(false);
      expect(during.backlog).toBeGreaterThan(20_000);
      expect(during.oldestAgeMs).toBeGreaterThan(25_000);
      expect(during.alarm.active).toBe(false); // far from its quota
      const rate = offered / ((back + 3000 - started) / 1000);
      expect(rate).toBeGreaterThan(900);

      expect(after).toMatchObject({ accepted: offered, lastError: null, dropped: 0, rejected: 0, notQueued: 0 });
      expect(after.failures).toBeGreaterThan(3);
      expect(await count(`SELECT COUNT(value) FROM greenline_tag WHERE time >= ${base}ms`, db)).toBe(offered);
      // none twice, none invented: each of the 10 tags holds exactly its samples, and the values add up
      const perTag = await influx.query('SELECT COUNT(value), SUM(value) FROM greenline_tag GROUP BY "tag"', db);
      expect(perTag.series).toHaveLength(10);
      let sum = 0;
      for (const s of perTag.series) {
        const k = Number((s as unknown as { tags: { tag: string } }).tags.tag.slice(1));
        expect(s.values[0]![1]).toBe(Math.floor((offered - k + 9) / 10));
        sum += Number(s.values[0]![2]);
      }
      expect(sum).toBe((offered * (offered - 1)) / 2);
      const lines = log.lines.map((l) => l.msg);
      expect(lines).toContain('InfluxDB accepts writes again; sending the backlog');
      // one warning at the start of the outage, then at most one a minute
      expect(lines.filter((m) => m.startsWith('sending to InfluxDB failed')).length).toBeLessThanOrEqual(2);
      console.log(
        `outage: ${offered} samples at ${rate.toFixed(0)}/s, backlog ${during.backlog} after 30 s down, ` +
          `sending again ${resumedMs} ms after InfluxDB was back, backlog gone after ${drainedMs} ms, ` +
          `${after.failures} failed attempts, all ${offered} in InfluxDB once each`,
      );
    } finally {
      clearInterval(feed);
      if (!influx.running) await influx.start();
      await rig.sink.stop();
    }
  }, 100_000);
});

interface ProcessRun {
  readonly child: ChildProcess;
  /** the last `acked n` line read */
  acked(): number;
  /** the last `status` line read */
  status(): (InfluxSinkStatus & { handedOver: number }) | null;
  /** resolves when the process exited and its output was read */
  closed: Promise<number | null>;
}

function runSinkProcess(args: Record<string, unknown>): ProcessRun {
  const child = spawn(process.execPath, ['--import', 'tsx', SINK_PROCESS, 'sink', JSON.stringify(args)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let acked = 0;
  let status: (InfluxSinkStatus & { handedOver: number }) | null = null;
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith('acked ')) acked = Number(line.slice(6));
      else if (line.startsWith('status ')) status = JSON.parse(line.slice(7));
      nl = buffered.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const closed = new Promise<number | null>((done) =>
    child.once('close', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`sink process exited ${code}:\n${stderr}\n`);
      done(code);
    }),
  );
  return { child, acked: () => acked, status: () => status, closed };
}

describe('InfluxDB sink: a killed gateway process', () => {
  it('delivers every sample it acknowledged before a SIGKILL, once the process runs again', async () => {
    const db = 'crash';
    const outboxPath = join(work, 'crash.db');
    const common = { outboxPath, url: influx.url, database: db, base: BASE, rate: 1000 };
    try {
      // samples flow and are sent; then InfluxDB goes down (a batch may be on its way) and samples keep coming
      const first = runSinkProcess({ ...common, generate: true });
      await until('a first delivery', () => (first.status()?.sent ?? 0) > 0, 20_000);
      await influx.stop();
      const ackedAtOutage = first.acked();
      await until('2000 samples acknowledged during the outage', () => first.acked() >= ackedAtOutage + 2000, 20_000);
      first.child.kill('SIGKILL');
      await first.closed;
      const acked = first.acked();
      const handedOver = first.status()?.handedOver ?? 0;
      expect(first.child.signalCode).toBe('SIGKILL');
      expect(first.status()?.lastError).toMatch(/cannot be reached|did not answer/);
      expect(first.status()?.backlog).toBeGreaterThan(1000);

      await influx.start();
      const second = runSinkProcess({ ...common, generate: false });
      await until(
        'the outbox to be sent',
        () => (second.status()?.sent ?? 0) > 0 && second.status()?.backlog === 0,
        20_000,
      );
      const drained = second.status()!;
      second.child.kill('SIGTERM');
      expect(await second.closed).toBe(0);

      expect(await count(`SELECT COUNT(value) FROM greenline_tag WHERE time < ${BASE + acked}ms`, db)).toBe(acked);
      const total = await count('SELECT COUNT(value) FROM greenline_tag', db);
      // a commit the kill interrupted before its line was printed may add a few more, never more than handed over
      expect(total).toBeGreaterThanOrEqual(acked);
      expect(total).toBeLessThanOrEqual(Math.max(handedOver, acked) + 100);
      expect(drained.sent).toBeGreaterThanOrEqual(acked - ackedAtOutage - 1000);
      console.log(
        `crash: ${acked} acknowledged (${acked - ackedAtOutage} while InfluxDB was down) before SIGKILL, ` +
          `${total} in InfluxDB after the restart, ${drained.sent} of them sent by the restarted process`,
      );
    } finally {
      if (!influx.running) await influx.start();
    }
  }, 60_000);
});

describe('InfluxDB sink: outbox quota', () => {
  it('drops the oldest points beyond the quota, counts them, raises the alarm, and clears it once drained', async () => {
    const db = 'quota';
    const log = recordingLog();
    const outboxMaxMb = 0.1;
    const quotaBytes = outboxMaxMb * 1024 * 1024;
    const rig = buildRig(
      {
        url: influx.url,
        database: db,
        outboxPath: join(work, 'quota.db'),
        log,
        outboxMaxMb,
        batchSize: 500,
        flushIntervalMs: 50,
        initialRetryDelayMs: 100,
        maxRetryDelayMs: 300,
      },
      BASE,
    );
    await influx.stop();
    try {
      await rig.sink.start();
      const total = 3000;
      for (let i = 0; i < total; i += 100) {
        rig.emit(i, i + 100);
        await until('the commit', () => rig.sink.status().accepted === i + 100, 5000);
      }
      const full = rig.sink.status();
      expect(full.dropped).toBeGreaterThan(1000);
      expect(full.backlog + full.dropped).toBe(total);
      expect(full.backlogBytes).toBeLessThanOrEqual(quotaBytes);
      expect(full.alarm.active).toBe(true);
      expect(full.alarm.since).toBeGreaterThan(0);
      expect(full.alarm.message).toMatch(/reached its quota .* of 0\.1 MiB.*oldest points dropped/);
      // the outbox file stays near its quota
      expect(rig.sink.outbox.stats().databaseBytes).toBeLessThan(1.5 * quotaBytes + 16 * 1024);
      // many drops, one log line (rate-limited)
      const dropLines = log.lines.filter((l) => l.msg.startsWith('the InfluxDB outbox is full'));
      expect(dropLines).toHaveLength(1);
      expect(dropLines[0]!.level).toBe('error');

      await influx.start();
      await until('the backlog to drain', () => rig.sink.status().backlog === 0, 20_000);
      const drained = rig.sink.status();
      expect(drained.alarm).toEqual({ active: false, since: null, message: null });
      expect(drained.dropped).toBe(full.dropped);
      expect(log.lines.map((l) => l.msg)).toContain(
        'the InfluxDB outbox is below half its quota again; nothing more is dropped',
      );
      // the oldest were dropped: what arrived is the newest, without a gap
      const kept = total - full.dropped;
      expect(await count('SELECT COUNT(value) FROM greenline_tag', db)).toBe(kept);
      const first = await influx.query('SELECT FIRST(value) FROM greenline_tag', db);
      expect(first.series[0]!.values[0]![0]).toBe(BASE + full.dropped);
      expect(OUTBOX_ROW_OVERHEAD_BYTES).toBeGreaterThan(0);
    } finally {
      if (!influx.running) await influx.start();
      await rig.sink.stop();
    }
  });
});

describe('InfluxDB sink: bad points', () => {
  it('isolates the points InfluxDB refuses, drops and counts them, and delivers the others', async () => {
    const db = 'badpoints';
    const log = recordingLog();
    await influx.query(`CREATE DATABASE ${db}`);
    // an earlier writer made value_str a float in this shard: our strings now conflict
    expect((await influx.write(db, `greenline_tag,tag=seed value_str=1.5 ${BASE + 500}`)).status).toBe(204);
    const rig = buildRig(
      { url: influx.url, database: db, outboxPath: join(work, 'bad.db'), log, batchSize: 1000, flushIntervalMs: 20 },
      BASE,
    );
    await rig.sink.start();
    const samples = Array.from({ length: 1000 }, (_, i) => ({
      tagId: `t${i % 10}`,
      ts: i === 400 ? 1e17 : BASE + i, // a clock far in the future: beyond what InfluxDB can store
      value: i === 100 || i === 700 ? `text ${i}` : i,
      quality: 'good' as const,
    }));
    rig.sink.onSamples(samples);
    await until(
      'the batch to be settled',
      () => rig.sink.status().accepted === 1000 && rig.sink.status().backlog === 0,
      20_000,
    );
    const s = rig.sink.status();
    expect(s).toMatchObject({ rejected: 3, sent: 997, dropped: 0, lastError: null });
    expect(s.lastRejected?.reason).toMatch(/InfluxDB answered 400: .*(field type conflict|outside range)/);
    expect(await count(`SELECT COUNT(value) FROM greenline_tag WHERE "tag" <> 'seed'`, db)).toBe(997);
    expect(await count(`SELECT COUNT(value_str) FROM greenline_tag WHERE "tag" <> 'seed'`, db)).toBe(0);
    const refused = log.lines.filter((l) => l.msg.startsWith('InfluxDB refused a point'));
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused[0]!.obj.reason).toMatch(/InfluxDB answered 400/);
    expect(String(refused[0]!.obj.point)).toMatch(/^greenline_tag,/);
    await rig.sink.stop();
  });
});

describe('InfluxDB sink: an outbox that cannot be used', () => {
  it('refuses to start with an error naming the file and what to do, and counts what it is handed', async () => {
    const path = join(work, 'not-a-database.db');
    writeFileSync(path, 'this is not an SQLite file '.repeat(200));
    const log = recordingLog();
    const sink = new InfluxDbSink({
      url: influx.url,
      database: 'never',
      batchSize: 10,
      flushIntervalMs: 10,
      outboxMaxMb: 1,
      outboxPath: path,
      plant: plantContext({ site: { id: 's' } as never, lines: [] }, () => undefined),
      log,
    });
    const err = await sink.start().then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('GL_ERR_SINK_OUTBOX');
    expect(err?.message).toContain(path);
    expect(err?.message).toMatch(/move .* away .* start again/);
    sink.onSamples([{ tagId: 'x', ts: BASE, value: 1, quality: 'good' }]);
    const s = sink.status();
    expect(s).toMatchObject({ state: 'failed', notQueued: 1, alarm: { active: true } });
    expect(s.lastError).toContain(path);
    await sink.stop();
  });

  const asRoot = process.getuid?.() === 0;
  /**
   * The gateway in a process of its own. Root may read and write anything, so
   * when the tests run as root the child runs without the two capabilities
   * that override file permissions (util-linux `setpriv`): it stays root, so
   * it still reads the project wherever it is cloned, but a file or folder
   * whose mode refuses its owner refuses it too.
   */
  async function gatewayHealth(config: PlantConfigInput, dataDir: string) {
    const node = [process.execPath, '--import', 'tsx', SINK_PROCESS, 'gateway', JSON.stringify({ config, dataDir })];
    const [command, ...args] = asRoot
      ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--', ...node]
      : node;
    const child = spawn(command!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((done) => child.once('close', done));
    expect(code, `${out}\n${err}`).toBe(0);
    const healthLine = out.split('\n').find((l) => l.startsWith('health '));
    const logs = out
      .split('\n')
      .filter((l) => l.startsWith('log '))
      .map((l) => JSON.parse(l.slice(4)) as { msg: string; err?: string });
    return { health: JSON.parse(healthLine!.slice(7)), logs };
  }

  function gatewayDirs(name: string): { config: PlantConfigInput; dataDir: string } {
    const dir = join(work, name);
    mkdirSync(join(dir, 'store'), { recursive: true });
    mkdirSync(join(dir, 'data'), { recursive: true });
    const config: PlantConfigInput = {
      ...rigPlant(2),
      store: { path: join(dir, 'store', 'greenline.db') },
      sinks: { influxdb: { url: influx.url, database: 'unused' } },
    };
    return { config, dataDir: join(dir, 'data') };
  }

  it.each([
    ['its file cannot be read or written', 'file'],
    ['its folder is read-only', 'folder'],
  ])(
    'when %s, the gateway runs on without the sink and shows why in health',
    async (_what, kind) => {
      const { config, dataDir } = gatewayDirs(`unusable-${kind}`);
      const outbox = join(dataDir, 'influx-outbox.db');
      if (kind === 'file') {
        chmodSync(dataDir, 0o777);
        writeFileSync(outbox, '');
        chmodSync(outbox, 0o000);
      } else {
        chmodSync(dataDir, 0o555);
      }
      const { health, logs } = await gatewayHealth(config, dataDir);
      expect(health.devices).toHaveLength(1); // the gateway ran: its device is there, its server answered
      expect(health.status).toBe('degraded');
      expect(health.sinks).toHaveLength(1);
      const sink = health.sinks[0];
      expect(sink).toMatchObject({ name: 'influxdb', state: 'failed', backlog: 0, alarm: { active: true } });
      expect(sink.lastError).toContain(`cannot use the outbox ${outbox}`);
      expect(sink.lastError).toContain('Give the user running the gateway read and write access');
      expect(sink.alarm.message).toBe(sink.lastError);
      const logged = logs.find((l) => l.msg === 'the InfluxDB sink cannot start');
      expect(logged?.err).toContain(outbox);
      expect(statSync(dataDir).isDirectory()).toBe(true);
    },
    30_000,
  );
});

describe('InfluxDB sink: HTTP', () => {
  interface Seen {
    readonly method: string;
    readonly path: string;
    readonly params: URLSearchParams;
    readonly headers: IncomingMessage['headers'];
    readonly body: string;
    readonly at: number;
  }

  /** a loopback server that records requests and answers /write from a script */
  async function recordingServer(writeAnswers: [number, string][]) {
    const seen: Seen[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString();
        seen.push({
          method: req.method ?? '',
          path: url.pathname,
          params: url.searchParams,
          headers: req.headers,
          body,
          at: Date.now(),
        });
        if (url.pathname === '/ping') return void res.writeHead(204, { 'X-Influxdb-Version': 'recorder' }).end();
        if (url.pathname === '/query') return void res.writeHead(200).end('{"results":[{"statement_id":0}]}');
        const [status, text] = writeAnswers.shift() ?? [204, ''];
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(text);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(r)) };
  }

  const plant = plantContext({ site: { id: 'site' } as never, lines: [] }, () => ({ device: 'd' }));

  it('sends gzip line protocol with ms precision to db and rp, with basic auth or u/p parameters', async () => {
    for (const credentialsIn of ['header', 'query'] as const) {
      const srv = await recordingServer([]);
      const sink = new InfluxDbSink({
        url: srv.url,
        database: 'plant db',
        retentionPolicy: 'one_year',
        username: 'gateway',
        password: 's3cret token',
        credentialsIn,
        batchSize: 100,
        flushIntervalMs: 10,
        outboxMaxMb: 1,
        outboxPath: join(work, `http-${credentialsIn}.db`),
        plant,
        log: recordingLog(),
      });
      await sink.start();
      sink.onSamples([
        { tagId: 'a', ts: BASE, value: 1.5, quality: 'good' },
        { tagId: 'b', ts: BASE + 1, value: 2, quality: 'good' },
      ]);
      await until('the write', () => sink.status().sent === 2, 5000);
      await sink.stop();
      await srv.close();
      const create = srv.seen.find((s) => s.path === '/query')!;
      expect(create.params.get('q') ?? new URLSearchParams(create.body).get('q')).toBe('CREATE DATABASE "plant db"');
      const write = srv.seen.find((s) => s.path === '/write')!;
      expect(write.method).toBe('POST');
      expect(write.headers['content-encoding']).toBe('gzip');
      expect(Object.fromEntries(write.params)).toMatchObject({ db: 'plant db', rp: 'one_year', precision: 'ms' });
      expect(write.body.split('\n')).toEqual([
        `greenline_tag,device=d,quality=good,site=site,tag=a value=1.5 ${BASE}`,
        `greenline_tag,device=d,quality=good,site=site,tag=b value=2 ${BASE + 1}`,
      ]);
      if (credentialsIn === 'header') {
        expect(write.headers.authorization).toBe(`Basic ${Buffer.from('gateway:s3cret token').toString('base64')}`);
        expect(write.params.has('p')).toBe(false);
      } else {
        expect(write.headers.authorization).toBeUndefined();
        expect(write.params.get('u')).toBe('gateway');
        expect(write.params.get('p')).toBe('s3cret token');
      }
      expect(sink.status().target).not.toContain('s3cret');
    }
  });

  it('retries 5xx and request-level refusals with backoff, keeping the points; never splits them', async () => {
    const srv = await recordingServer([
      [503, '{"error":"engine: cache maximum memory size exceeded"}'],
      [500, '{"error":"timeout"}'],
      [400, '{"error":"gzip: invalid header"}'],
      [401, '{"error":"authorization failed"}'],
    ]);
    const log = recordingLog();
    const sink = new InfluxDbSink({
      url: srv.url,
      database: 'db',
      batchSize: 100,
      flushIntervalMs: 10,
      outboxMaxMb: 1,
      outboxPath: join(work, 'http-retry.db'),
      plant,
      log,
      initialRetryDelayMs: 40,
      maxRetryDelayMs: 200,
      random: () => 0.5,
    });
    await sink.start();
    sink.onSamples(
      Array.from({ length: 10 }, (_, i) => ({ tagId: 'a', ts: BASE + i, value: i, quality: 'good' as const })),
    );
    await until('the write to go through', () => sink.status().sent === 10, 10_000);
    const s = sink.status();
    expect(s).toMatchObject({ failures: 4, rejected: 0, sent: 10, lastError: null, backlog: 0 });
    const writes = srv.seen.filter((r) => r.path === '/write');
    expect(writes).toHaveLength(5);
    for (const w of writes) expect(w.body.split('\n')).toHaveLength(10);
    // exponential backoff (jitter pinned to the middle): 30, 60, 120, 150 ms (capped at 200 × 0.75)
    const gaps = writes.slice(1).map((w, i) => w.at - writes[i]!.at);
    for (const [i, min] of [27, 54, 108, 135].entries()) expect(gaps[i]).toBeGreaterThanOrEqual(min);
    const warned = log.lines.filter((l) => l.msg.startsWith('sending to InfluxDB failed'));
    expect(warned).toHaveLength(1); // a streak is one line (then one a minute)
    expect(String(warned[0]!.obj.err)).toContain('503');
    expect(log.lines.map((l) => l.msg)).toContain('InfluxDB accepts writes again; sending the backlog');
    await sink.stop();
    await srv.close();
  });
});
