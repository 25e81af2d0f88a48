/**
 * Where a V8 CPU profile (from a benchmark's --profile) spent its time:
 * self time by function and by file, and inclusive time, as percentages of
 * the busy (non-idle) samples in a time window.
 *
 *   npx tsx test/bench/profile-summary.ts <file.cpuprofile> [--from 5] [--to -4] [--top 40]
 *
 * --from/--to are seconds from the profile's start; negative counts from its
 * end (the e2e benchmark's measuring window is about --from -19 --to -4 with
 * --clients 0 --client-seconds 1). V8 samples wall time: a thread that waits
 * for a core on a busy machine still collects samples, so read the shares,
 * not the totals, and measure CPU with the benchmark itself.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : fallback;
}

const file = process.argv[2];
if (!file || file.startsWith('--')) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [--from s] [--to s] [--top n]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const totalS = (profile.endTime - profile.startTime) / 1e6;
const at = (s: number) => (s < 0 ? totalS + s : s);
const from = at(arg('from', 0));
const to = at(arg('to', totalS));
const top = arg('top', 40);

const short = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(`${process.cwd()}/`, '')
    .replace(/.*node_modules\//, 'node_modules/');
const nameOf = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const byFile = new Map<string, number>();
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
let t = profile.startTime;
let all = 0;
let idle = 0;
let gc = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  const s = (t - profile.startTime) / 1e6;
  if (s < from || s > to) continue;
  const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1e3;
  const node = byId.get(profile.samples[i]!);
  if (node === undefined) continue;
  all += ms;
  const fn = node.callFrame.functionName;
  if (fn === '(idle)') {
    idle += ms;
    continue;
  }
  if (fn === '(garbage collector)') gc += ms;
  add(self, nameOf(node), ms);
  add(byFile, short(node.callFrame.url) || fn, ms);
  const seen = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const k = nameOf(byId.get(id)!);
    if (!seen.has(k)) {
      seen.add(k);
      add(inclusive, k, ms);
    }
  }
}

const busy = all - idle;
console.log(
  `${file}\nwindow ${from.toFixed(1)}–${to.toFixed(1)} s of ${totalS.toFixed(1)} s: busy ${(busy / 1000).toFixed(2)} s ` +
    `(${((100 * busy) / Math.max(all, 1)).toFixed(1)} % of the window), garbage collection ${((100 * gc) / Math.max(busy, 1)).toFixed(1)} % of busy`,
);
const show = (title: string, m: Map<string, number>, n: number) => {
  console.log(`\n${title} (% of busy)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((100 * v) / Math.max(busy, 1)).toFixed(1).padStart(6)}  ${k}`);
  }
};
show('self time', self, top);
show('self time by file', byFile, 20);
show('inclusive time', inclusive, top);
