/**
 * Sustained write throughput of the SQLite store: samples of many tags pushed
 * through SampleWriter as the pipeline would, with minute rollups maintained.
 *
 *   npx tsx test/bench/store.bench.ts [samples=2000000] [tags=1000] [batchMaxRows=5000]
 *
 * Prints samples/s (wall time from the first write until stop() has flushed
 * the last row), samples per CPU second, the database size and history query timings.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredSample } from '../../gateway/store/index.js';
import { SqliteStore } from '../../gateway/store/index.js';

const total = Number(process.argv[2] ?? 2_000_000);
const tags = Number(process.argv[3] ?? 1000);
const batchMaxRows = Number(process.argv[4] ?? 5000);
/** samples handed to the writer per turn of the event loop, like a busy set of drivers */
const EMIT = 5000;
const PERIOD_MS = 1000;

const quiet = { debug() {}, info() {}, warn() {}, error: (o: object, m?: string) => console.error(m, o) };
const dir = mkdtempSync(join(tmpdir(), 'greenline-bench-'));
const path = join(dir, 'bench.db');

function fileSize(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const store = new SqliteStore({
    path,
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows,
    batchMaxDelayMs: 200,
    maxPendingRows: 50 * batchMaxRows,
    log: quiet,
  });
  await store.start();

  const tagIds = Array.from({ length: tags }, (_, i) => `line${1 + (i % 4)}.m${Math.floor(i / 4)}.t${i}`);
  const values = new Float64Array(tags).map((_, i) => 100 + i);
  // recent data, so the store's retention (first run 10 s after start) has nothing to delete
  const t0 = Math.floor(Date.now() / 86_400_000 - 2) * 86_400_000;
  let seed = 12345;
  const rand = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };

  // each tag reports once per PERIOD_MS (spread over the period), a random walk; 1 % bad with a reason, every 10th tag is a boolean
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  let made = 0;
  let round = 0;
  while (made < total) {
    const batch: StoredSample[] = new Array(Math.min(EMIT, total - made));
    for (let i = 0; i < batch.length; i++) {
      const n = made + i;
      const tag = n % tags;
      round = Math.floor(n / tags);
      const ts = t0 + round * PERIOD_MS + Math.floor((tag * PERIOD_MS) / tags);
      const tagId = tagIds[tag] as string;
      if (tag % 10 === 9) {
        batch[i] = { tagId, ts, value: rand() < 0.9, quality: 'good' };
      } else if (rand() < 0.01) {
        batch[i] = { tagId, ts, value: null, quality: 'bad', reason: 'timeout' };
      } else {
        const v = (values[tag] as number) + (rand() - 0.5);
        values[tag] = v;
        batch[i] = { tagId, ts, value: Math.round(v * 1000) / 1000, quality: 'good' };
      }
    }
    store.writer.write(batch);
    made += batch.length;
    await new Promise((r) => setImmediate(r));
  }
  const produced = performance.now();
  const pendingAtEnd = store.writer.pendingRows;
  const s0 = store.stats();
  await store.stop();
  const finished = performance.now();
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  const seconds = (finished - started) / 1000;
  const st = store.stats();
  const dbBytes = fileSize(path) + fileSize(`${path}-wal`);

  // reopen and time a 30-day-ish history query over what was written
  const reader = new SqliteStore({
    path,
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows,
    batchMaxDelayMs: 200,
    log: quiet,
  });
  await reader.start();
  const spanMs = (round + 1) * PERIOD_MS;
  const q0 = performance.now();
  const pts = reader.history(tagIds[0] as string, t0, t0 + spanMs, 1000);
  const q1 = performance.now();
  const rawPts = reader.history(tagIds[0] as string, t0, t0 + 600_000, 1000);
  const q2 = performance.now();
  await reader.stop();

  const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
  console.log(
    `store bench: ${total.toLocaleString('en')} samples, ${tags} tags, batchMaxRows ${batchMaxRows}, ${(spanMs / 60_000).toFixed(0)} min of data`,
  );
  console.log(
    `  sustained:        ${Math.round(total / seconds).toLocaleString('en')} samples/s (${seconds.toFixed(2)} s incl. generating samples and final flush)`,
  );
  console.log(
    `  per CPU second:   ${Math.round(total / cpuSeconds).toLocaleString('en')} samples (${cpuSeconds.toFixed(2)} s CPU: ${(cpu.user / 1e6).toFixed(2)} user, ${(cpu.system / 1e6).toFixed(2)} system; less sensitive to other load)`,
  );
  console.log(
    `  producer done at: ${((produced - started) / 1000).toFixed(2)} s, rows pending then: ${pendingAtEnd}, dropped: ${s0.dropped}`,
  );
  console.log(
    `  written:          ${st.samplesWritten.toLocaleString('en')}, dropped: ${st.dropped}, write errors: ${st.writeErrors}`,
  );
  console.log(`  database size:    ${mb(dbBytes)} MiB (${(dbBytes / total).toFixed(1)} bytes/sample incl. rollups)`);
  console.log(
    `  history:          ${pts.length} points over the whole span in ${(q1 - q0).toFixed(1)} ms; ${rawPts.length} raw points over 10 min in ${(q2 - q1).toFixed(1)} ms`,
  );
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
