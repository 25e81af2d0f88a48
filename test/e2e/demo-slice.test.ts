/**
 * The whole path, as a user runs it: the demo (simulators over real Modbus
 * TCP, OPC UA and MQTT sockets, the gateway, the store, the dashboard) on free
 * ports; a value changed in a simulator reaches a WebSocket client and the
 * browser; every configured tag shows live.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { DemoRun } from '../../gateway/demo.js';
import { startDemo } from '../../gateway/demo.js';
import { DEMO_VIEWER, type SignedIn, signIn } from './sign-in.js';
import { SCREENSHOTS_DIR } from './artifacts.js';

const root = resolve(import.meta.dirname, '../..');
const artifacts = SCREENSHOTS_DIR;

interface Live {
  tagId: string;
  value: unknown;
  quality: string;
  ts: number;
}

/** a WebSocket client that keeps the latest value of every tag */
async function liveClient(url: string, viewer: SignedIn) {
  const latest = new Map<string, Live>();
  const waiters: (() => void)[] = [];
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/live/ws`, { headers: { cookie: viewer.cookie } });
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { type: string; values?: Live[] };
    if (msg.type === 'snapshot' || msg.type === 'delta') {
      for (const v of msg.values ?? []) latest.set(v.tagId, v);
      for (const w of waiters.splice(0)) w();
    }
  });
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  ws.send(JSON.stringify({ type: 'subscribe', tags: '*' }));
  const until = async (check: () => boolean, what: string | (() => string), timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
      await new Promise<void>((ok) => {
        waiters.push(ok);
        setTimeout(ok, 250);
      });
    }
  };
  return { latest, until, close: () => ws.close() };
}

describe('the demo, end to end', () => {
  let demo: DemoRun;
  let dataDir: string;
  let browser: Browser | undefined;
  /** the demo's documented viewer account */
  let viewer: SignedIn;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist/dashboard/index.html'))) {
      execFileSync('npx', ['vite', 'build', '--config', 'dashboard/vite.config.ts'], { cwd: root, stdio: 'ignore' });
    }
    dataDir = mkdtempSync(join(tmpdir(), 'greenline-demo-'));
    demo = await startDemo({ root, port: 0, freePorts: true, dataDir, seed: 7 });
    viewer = await signIn(demo.url, DEMO_VIEWER.username, DEMO_VIEWER.password);
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows every configured tag live, from Modbus, OPC UA and MQTT devices', async () => {
    const client = await liveClient(demo.url, viewer);
    try {
      const plant = (await (await fetch(`${demo.url}/api/plant`, { headers: { cookie: viewer.cookie } })).json()) as {
        devices: { id: string; protocol: string; tags: { id: string }[] }[];
      };
      const allTags = plant.devices.flatMap((d) => d.tags.map((t) => t.id));
      expect(allTags.length).toBe(48);
      expect(new Set(plant.devices.map((d) => d.protocol))).toEqual(new Set(['modbus-tcp', 'opcua', 'mqtt']));
      await client.until(
        () => allTags.every((id) => client.latest.get(id)?.quality === 'good'),
        () =>
          `good values for all of ${allTags.length} tags; missing: ${allTags.filter((id) => client.latest.get(id)?.quality !== 'good').join(', ')}`,
        30_000,
      );
      const health = (await (await fetch(`${demo.url}/api/health`, { headers: { cookie: viewer.cookie } })).json()) as {
        devices: { id: string; state: string }[];
      };
      expect(health.devices.map((d) => [d.id, d.state])).toEqual(plant.devices.map((d) => [d.id, 'connected']));
      // the decoded values make sense (word orders, scaling, strings)
      expect(client.latest.get('l1.imm1.model')?.value).toBe('IMM-7000');
      const kwh = client.latest.get('l1.meter.import_kwh')?.value as number;
      expect(kwh).toBeGreaterThan(1000);
      const voltage = client.latest.get('l1.meter.v_l1')?.value as number;
      expect(voltage).toBeGreaterThan(200);
      expect(voltage).toBeLessThan(240);
      const good = client.latest.get('l1.imm1.good')?.value as number;
      const reject = client.latest.get('l1.imm1.reject')?.value as number;
      const total = client.latest.get('l1.imm1.total')?.value as number;
      expect(good + reject).toBe(total);
    } finally {
      client.close();
    }
  });

  it('a value changed in each simulator reaches a WebSocket client', async () => {
    const client = await liveClient(demo.url, viewer);
    try {
      const { control } = demo.simulators;
      const changes: [machine: string, field: string, value: number, tag: string][] = [
        ['imm1', 'barrelTemperature', 262.5, 'l1.imm1.barrel_temp'], // Modbus TCP, float32 ABCD
        ['wash1', 'washWaterTemperature', 38.25, 'l2.wash1.water_temp'], // Modbus TCP, float64
        ['cnc1', 'spindleTemperature', 71.5, 'l2.cnc1.spindle_temp'], // OPC UA
      ];
      for (const [machine, field, value, tag] of changes) {
        const before = Date.now();
        control.override(machine, field, value);
        await client.until(() => client.latest.get(tag)?.value === value, `${tag} = ${value}`, 10_000);
        expect(Date.now() - before).toBeLessThan(5_000);
        control.override(machine, field, null);
      }
      // MQTT: the hall sensors publish every second; values keep arriving with device timestamps
      const first = client.latest.get('hall.temp')?.ts ?? 0;
      await client.until(() => (client.latest.get('hall.temp')?.ts ?? 0) > first, 'a newer hall temperature');
    } finally {
      client.close();
    }
  });

  it('a stopped device shows as bad at once and recovers by itself', async () => {
    const client = await liveClient(demo.url, viewer);
    try {
      await client.until(() => client.latest.get('l2.meter.power_kw')?.quality === 'good', 'line 2 meter good');
      await demo.simulators.control.stopDevice('line2-meter');
      await client.until(() => client.latest.get('l2.meter.power_kw')?.quality === 'bad', 'line 2 meter bad', 10_000);
      // the other devices keep reporting meanwhile
      const ts = client.latest.get('l1.meter.import_kwh')?.ts ?? 0;
      await client.until(() => (client.latest.get('l1.meter.import_kwh')?.ts ?? 0) > ts, 'line 1 meter still polled');
      await demo.simulators.control.startDevice('line2-meter');
      await client.until(
        () => client.latest.get('l2.meter.power_kw')?.quality === 'good',
        'line 2 meter recovered',
        40_000,
      );
    } finally {
      client.close();
    }
  });

  it('the dashboard in Chromium shows the live tags of every device', async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
    await context.addCookies([
      { name: viewer.name, value: viewer.value, url: demo.url, httpOnly: true, sameSite: 'Strict' },
    ]);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${demo.url}/#/live`);
    for (const id of ['l1.imm1.barrel_temp', 'l2.cnc1.spindle_speed', 'hall.humidity', 'l1.meter.power_kw']) {
      await page
        .getByTestId(`tag-quality-${id}`)
        .filter({ hasText: /good|正常/i })
        .waitFor({ timeout: 15_000 });
    }
    await expect(page.getByTestId('conn-state').textContent()).resolves.toMatch(/live|即時/i);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'demo-dashboard.png'), fullPage: true });
    expect(errors).toEqual([]);

    // the store holds what the dashboard showed
    const db = new Database(demo.gateway.health().store.path, { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[];
      expect(tables.map((t) => t.name)).toContain('samples');
    } finally {
      db.close();
    }
    expect(demo.gateway.health().store.samplesWritten).toBeGreaterThan(100);
  });
});
