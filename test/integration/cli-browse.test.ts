/** `greenline browse` as a person runs it, against the simulator's OPC UA server. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulators, startSimulators } from '../../simulators/index.js';
import { FREE_PORTS } from '../../simulators/options.js';
import { freePort } from './peers/free-port.js';

const root = resolve(import.meta.dirname, '../..');
let work: string;
let sims: RunningSimulators;
let endpoint: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'greenline-browse-'));
  sims = await startSimulators({ ports: FREE_PORTS, dataDir: join(work, 'sim'), seed: 7 });
  endpoint = sims.opcua.endpointUrl ?? '';
});

afterAll(async () => {
  await sims?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs the command; a `--data-dir` in the test's folder unless the test gives one. */
function greenline(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const all = args.includes('--data-dir') ? args : [...args, '--data-dir', join(work, 'gateway')];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'gateway/cli.ts'), ...all], {
      cwd: root,
      env: { ...process.env },
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`greenline ${all.join(' ')} did not finish\n${stdout}\n${stderr}`));
    }, 40_000);
    child.stdout.on('data', (d) => {
      stdout += d;
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

describe('greenline browse', () => {
  it('prints the address space from Objects with node ids, classes, data types and values', async () => {
    const r = await greenline(['browse', endpoint]);
    expect(r.stderr).not.toContain('greenline browse:');
    expect(r.code).toBe(0);
    const ns = sims.opcua.namespaceIndex;
    expect(r.stdout).toMatch(/^Objects {2}ns=0;i=85 {2}Object$/m);
    expect(r.stdout).toContain(`${ns}:Factory  ns=${ns};s=Factory  Object`);
    expect(r.stdout).toMatch(
      new RegExp(`${ns}:State {2}ns=${ns};s=Factory\\.Line2\\.CNC1\\.State {2}Variable {2}UInt16 = \\d+`),
    );
    expect(r.stdout).toMatch(/SpindleSpeed .*Variable {2}Double = [\d.]+/);
    expect(r.stdout).toContain('the standard Server object: --all expands it');
    expect(r.stdout).toContain(`browsePath: "/Objects/${ns}:Factory/${ns}:Line2/${ns}:CNC1/${ns}:State"`);
  });

  it('stops at --depth and shows the paths with --paths', async () => {
    const r = await greenline(['browse', endpoint, '--depth', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Line2');
    expect(r.stdout).not.toContain('CNC1');
    expect(r.stdout).toContain('… (deeper: --depth 3)');
    const ns = sims.opcua.namespaceIndex;
    const paths = await greenline(['browse', endpoint, '--paths']);
    expect(paths.stdout).toMatch(
      new RegExp(`UInt16 = \\d+ {2}/Objects/${ns}:Factory/${ns}:Line2/${ns}:CNC1/${ns}:State$`, 'm'),
    );
    const deep = await greenline(['browse', endpoint, '--depth', '6', '--json']);
    expect(deep.code).toBe(0);
    const tree = JSON.parse(deep.stdout) as { root: Node; count: number };
    type Node = { browseName: string; browsePath: string; dataType?: string; value?: string; children: Node[] };
    const find = (n: Node, name: string): Node | undefined =>
      n.browseName.endsWith(`:${name}`) || n.browseName === name
        ? n
        : n.children.map((c) => find(c, name)).find(Boolean);
    const range = find(tree.root, 'EURange');
    expect(range?.dataType).toBe('Range');
    expect(range?.browsePath).toMatch(/\/Objects\/\d+:Factory\/\d+:Line2\/\d+:CNC1\/\d+:Spindle\w+\/EURange$/);
  });

  it('refuses an untrusted server certificate, names the file, and trusts it on request', async () => {
    const dataDir = join(work, 'gw');
    const refused = await greenline(['browse', endpoint, '--security', 'SignAndEncrypt', '--data-dir', dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('server certificate not trusted');
    const rejected = readdirSync(join(dataDir, 'opcua-pki', 'rejected'));
    expect(rejected).toHaveLength(1);
    expect(refused.stderr).toContain(join(dataDir, 'opcua-pki', 'rejected', rejected[0]!));
    expect(refused.stderr).toContain('--trust-server');

    const trusted = await greenline([
      'browse',
      endpoint,
      '--security',
      'SignAndEncrypt',
      '--data-dir',
      dataDir,
      '--trust-server',
    ]);
    expect(trusted.code).toBe(0);
    expect(trusted.stdout).toContain('CNC1');
    expect(readdirSync(join(dataDir, 'opcua-pki', 'trusted', 'certs'))).toHaveLength(1);
  });

  it('says clearly when the endpoint cannot be reached, and explains wrong usage', async () => {
    const port = await freePort();
    const r = await greenline(['browse', `opc.tcp://127.0.0.1:${port}`, '--timeout', '5000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`greenline browse: GL_ERR_OPCUA_BROWSE: cannot connect to opc.tcp://127.0.0.1:${port}`);
    expect(r.stdout).toBe('');

    const usage = await greenline(['browse', 'http://example.com', '--depth', '0']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('is not an opc.tcp:// endpoint');
    expect(usage.stderr).toContain('--depth must be a whole number ≥ 1');
  });
});
