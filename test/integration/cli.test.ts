/** The `greenline` command as a person runs it: a real process, its output and exit code. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'greenline-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function greenline(
  args: string[],
  opts: { until?: RegExp; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'gateway/cli.ts'), ...args], {
      cwd: root,
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`greenline ${args.join(' ')} did not finish\n${stdout}\n${stderr}`));
    }, 50_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      if (opts.until?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('greenline check-config', () => {
  it('prints a one-screen summary of a valid plant and exits 0', async () => {
    const r = await greenline(['check-config', join(root, 'config/demo-plant.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('demo-plant.yaml is valid');
    expect(r.stdout).toMatch(/2 line\(s\), 4 machine\(s\), 6 device\(s\), 48 tag\(s\)/);
    expect(r.stdout).toContain('cnc1-opcua');
    expect(r.stdout.split('\n').length).toBeLessThan(40);
  });

  it('lists every problem of a broken file with path, line and hint, and exits 1', async () => {
    const broken = readFileSync(join(root, 'config/demo-plant.yaml'), 'utf8')
      .replace('idealCycleTimeS: 12', 'idealCycleTime: 12')
      .replace('total: l1.pk1.total', 'total: l1.pk1.totl')
      .replace('end: "19:00"\n        days', 'end: "07:00"\n        days')
      .replace('timezone: Asia/Hong_Kong', 'timezone: Asia/Kowloon');
    const file = join(work, 'broken.yaml');
    writeFileSync(file, broken);
    const r = await greenline(['check-config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('5 problems (GL_ERR_CONFIG)');
    for (const expected of [
      /site\.timezone \(line \d+\): must be an IANA timezone/,
      /lines\[0\]\.machines\[0\]\.idealCycleTime \(line \d+\): unknown key "idealCycleTime"\n\s+→ did you mean "idealCycleTimeS"\?/,
      /lines\[0\]\.machines\[0\]\.idealCycleTimeS \(line \d+\): is required/,
      /lines\[0\]\.machines\[1\]\.counters\.total \(line \d+\): unknown tag "l1\.pk1\.totl"\n\s+→ did you mean "l1\.pk1\.total"\?/,
      /calendars\[0\]\.shifts\[0\]\.end \(line \d+\): a shift cannot end when it starts/,
    ]) {
      expect(r.stderr).toMatch(expected);
    }
  });

  it('says what to do for a missing file, a missing argument and an unknown command', async () => {
    const missing = await greenline(['check-config', join(work, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/GL_ERR_CONFIG_READ[\s\S]*no such file/);
    const noArg = await greenline(['check-config']);
    expect(noArg.code).toBe(2);
    expect(noArg.stderr).toContain('give the config file');
    const unknown = await greenline(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });
});

describe('greenline simulate', () => {
  it('starts the simulators, prints their endpoints and stops on SIGTERM', async () => {
    const config = join(work, 'sim.yaml');
    writeFileSync(
      config,
      [
        'seed: 3',
        'speed: 10',
        'ports: { line1Plc: 0, line2Plc: 0, line1Meter: 0, line2Meter: 0, opcua: 0, mqtt: 0, control: 0 }',
        `dataDir: ${join(work, 'sim-data')}`,
      ].join('\n'),
    );
    const r = await greenline(['simulate', '--config', config], { until: /control/i });
    expect(r.stdout).toMatch(/modbus-tcp:\/\/127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/opc\.tcp:\/\/127\.0\.0\.1:\d+\/greenline/);
    expect(r.stdout).toMatch(/mqtt:\/\/127\.0\.0\.1:\d+/);
    expect(r.code === 0 || r.code === null).toBe(true);
  });
});
