/**
 * The built dashboard the end-to-end tests serve: dist/dashboard, built
 * again with Vite when it is missing or older than its sources (the
 * dashboard's folder and the API contract it imports).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
export const DASHBOARD_DIR = join(root, 'dist', 'dashboard');

const SOURCES = [
  join(root, 'dashboard'),
  join(root, 'gateway', 'server', 'contract.ts'),
  join(root, 'gateway', 'server', 'alarms', 'alarm-contract.ts'),
];

/** the latest change below a path */
function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

/** builds the dashboard when it is missing or older than its sources */
export function ensureDashboardBuilt(): void {
  const index = join(DASHBOARD_DIR, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...SOURCES.map(newest))) return;
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'dashboard/vite.config.ts'],
    { cwd: root, stdio: 'pipe' },
  );
}
