/**
 * Builds that tests and benchmarks run, built again when missing or older
 * than their sources: the dashboard (Vite, into dist/dashboard) that the
 * end-to-end tests serve, and the gateway (tsc, into dist/) that the
 * benchmarks measure the way it is deployed, without a TypeScript loader.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
export const DASHBOARD_DIR = join(root, 'dist', 'dashboard');
/** the folder the gateway's build mirrors the sources in (dist/gateway/main.js, dist/config/schema.js…) */
export const GATEWAY_BUILD_DIR = join(root, 'dist');

/** the latest change below a path */
function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

/** runs `tool` (a script under node_modules) when `output` is missing or older than any of `sources` */
function ensureBuilt(output: string, sources: readonly string[], tool: string, args: readonly string[]): void {
  if (existsSync(output) && statSync(output).mtimeMs >= Math.max(...sources.map((s) => newest(join(root, s))))) return;
  execFileSync(process.execPath, [join(root, 'node_modules', tool), ...args], { cwd: root, stdio: 'pipe' });
}

/** builds the dashboard when it is missing or older than its sources (its folder and the API contract it imports) */
export function ensureDashboardBuilt(): void {
  ensureBuilt(
    join(DASHBOARD_DIR, 'index.html'),
    ['dashboard', 'gateway/server/contract.ts', 'gateway/server/alarms/alarm-contract.ts'],
    'vite/bin/vite.js',
    ['build', '--config', 'dashboard/vite.config.ts'],
  );
}

/** builds the gateway (what `npm run build` compiles) when it is missing or older than its sources */
export function ensureGatewayBuilt(): void {
  ensureBuilt(
    join(GATEWAY_BUILD_DIR, 'gateway', 'main.js'),
    ['config', 'protocols', 'gateway', 'simulators', 'tsconfig.json', 'tsconfig.build.json'],
    'typescript/bin/tsc',
    ['-p', 'tsconfig.build.json'],
  );
}
