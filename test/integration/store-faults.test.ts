/**
 * The store when its file is not what it should be: a clear error that names
 * the file and says what to do, never a crash; a database another program
 * holds locked delays writes (held in memory, counted) and loses nothing once
 * the lock goes; beyond the memory bound rows are dropped and counted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore, type SqliteStoreOptions, type StoreError, type StoredSample } from '../../gateway/store/index.js';

const T0 = Date.UTC(2025, 2, 3, 8, 0, 0);
let dir: string;
const open: SqliteStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'greenline-store-faults-'));
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function store(over: Partial<SqliteStoreOptions> = {}) {
  const log = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const s = new SqliteStore({
    path: join(dir, 'greenline.db'),
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows: 100,
    batchMaxDelayMs: 20,
    busyTimeoutMs: 100,
    backgroundCheckpoints: false,
    pruneFirstDelayMs: 3_600_000,
    log,
    ...over,
  });
  open.push(s);
  return { s, log };
}

const rows = (n: number, from = 0): StoredSample[] =>
  Array.from({ length: n }, (_, i) => ({ tagId: 't', ts: T0 + (from + i) * 1000, value: i, quality: 'good' as const }));

async function failure(s: SqliteStore): Promise<StoreError> {
  return s.start().then(
    () => {
      throw new Error('the store started');
    },
    (e: unknown) => e as StoreError,
  );
}

async function until(check: () => boolean, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('store file faults', () => {
  it('a folder that cannot be made (a file is in the way) is an error naming the store and what to do', async () => {
    writeFileSync(join(dir, 'occupied'), 'a file, not a folder');
    const path = join(dir, 'occupied', 'greenline.db');
    const err = await failure(store({ path }).s);
    expect(err.code).toBe('GL_ERR_STORE_OPEN');
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/set store\.path to another file/);
  });

  it('a damaged file is an error naming it and saying to move it away', async () => {
    const path = join(dir, 'damaged.db');
    const { s: first } = store({ path });
    await first.start();
    first.writer.write(rows(50));
    await first.stop();
    // overwrite the header: the file is no longer a database
    const bytes = Buffer.alloc(100, 0x41);
    const { openSync, writeSync, closeSync } = await import('node:fs');
    const fd = openSync(path, 'r+');
    writeSync(fd, bytes, 0, bytes.length, 0);
    closeSync(fd);
    const err = await failure(store({ path }).s);
    expect(err.code).toBe('GL_ERR_STORE_OPEN');
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/move it away/);
  });

  it('a database another program holds locked: writes wait in memory, are reported, and all land once it lets go', async () => {
    const path = join(dir, 'shared.db');
    const { s } = store({ path });
    await s.start();
    s.writer.write(rows(10));
    await until(() => s.stats().samplesWritten === 10, 'the first rows');

    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE'); // holds the write lock
    s.writer.write(rows(500, 10));
    await until(() => s.stats().lastError !== null, 'the write error');
    expect(s.stats().lastError).toMatch(/locked|busy/i);
    expect(s.stats().pendingRows).toBe(500);
    expect(s.stats().dropped).toBe(0);

    other.exec('ROLLBACK');
    other.close();
    await until(() => s.stats().samplesWritten === 510, 'the held rows', 10_000);
    expect(s.stats().pendingRows).toBe(0);
    expect(s.rawSamples('t', T0, T0 + 600_000)).toHaveLength(510);
  });

  it('beyond its memory bound a locked store drops the oldest rows, counts them and says so', async () => {
    const path = join(dir, 'bounded.db');
    const { s, log } = store({ path, maxPendingRows: 200 });
    await s.start();
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    s.writer.write(rows(150));
    s.writer.write(rows(150, 150));
    await until(() => s.stats().dropped > 0, 'the drop');
    expect(s.stats().pendingRows).toBeLessThanOrEqual(200);
    expect(s.stats().dropped + s.stats().pendingRows).toBe(300);
    other.exec('ROLLBACK');
    other.close();
    await until(() => s.stats().pendingRows === 0, 'the rest');
    expect(s.stats().samplesWritten + s.stats().dropped).toBe(300);
    expect(log.error.mock.calls.length + log.warn.mock.calls.length).toBeGreaterThan(0);
  });
});
