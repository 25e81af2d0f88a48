import type Database from 'better-sqlite3';
import { QUALITY_CODE } from './codec.js';

/**
 * A batch of samples in columns, ready for the executor: what the event loop
 * prepares (tag ids from its dictionary cache, values by kind; see
 * SampleColumnQueue) so that the SQLite work can run on the connection of a
 * worker thread. Typed arrays are transferred to the worker, not copied.
 */
export interface SampleBatchJob {
  readonly rows: number;
  /** the tag's dictionary id, or -(k + 1) for `newTags[k]`, a tag not in the dictionary cache yet */
  readonly tag: Float64Array;
  /** whole ms since epoch */
  readonly ts: Float64Array;
  /** the value of VALUE_NUMBER rows */
  readonly value: Float64Array;
  /** value kind (VALUE_*) × 4 + quality code */
  readonly kind: Uint8Array;
  /** index into `texts` of a VALUE_TEXT row's value, else -1 */
  readonly valueText: Int32Array;
  /** index into `texts` of the row's reason, else -1 */
  readonly reason: Int32Array;
  readonly texts: string[];
  readonly newTags: string[];
}

export interface SampleBatchResult {
  /** samples whose (tag, ms) was already stored: the later one replaced the earlier */
  readonly replaced: number;
  /** the dictionary ids given to the job's new tags, [tag, id]; only valid once the transaction committed */
  readonly newTags: readonly (readonly [string, number])[];
}

/**
 * Writes SampleBatchJobs; what runs on a store connection (event loop or
 * worker). A job is written as transactions of `chunkRows` rows: one that
 * fails part-way leaves the chunks before it stored, and writing the same job
 * again stores the rest without counting those twice.
 */
export interface SampleBatchExecutor {
  write(job: SampleBatchJob): SampleBatchResult;
  /** runs one statement with each parameter list in turn, each its own transaction; the rows each changed */
  run(sql: string, params: readonly (readonly unknown[])[]): number[];
}

export interface SampleBatchExecutorOptions {
  /** rows per transaction (default DEFAULT_CHUNK_ROWS) */
  readonly chunkRows?: number;
  /** called around each transaction: the write worker's turn (write-gate.ts) */
  readonly turn?: { begin(): void; end(): void };
}

/** about 10 ms of SQLite work each on this kind of machine */
export const DEFAULT_CHUNK_ROWS = 4096;

export const VALUE_NUMBER = 0;
export const VALUE_NULL = 1;
export const VALUE_TRUE = 2;
export const VALUE_FALSE = 3;
export const VALUE_TEXT = 4;

/**
 * The SQLite side of a sample batch, as plain JavaScript: the same text runs
 * on the event loop's connection (`createSampleBatchExecutor`) and in the
 * store's write worker (write-worker.ts), which cannot load TypeScript
 * sources. It defines `createSampleBatchExecutor(db)`.
 *
 * The samples go in (tag, time) order (each b-tree descent lands next to the
 * previous one: about a third less CPU per row), with multi-row INSERTs
 * prepared for a few row counts so SQLite parses and plans one statement for
 * hundreds of rows, a chunk of them per transaction together with the minute
 * rollups of its numeric samples, merged into stored ones. New tags enter the
 * dictionary first, in a transaction of their own: a failure after it leaves
 * names without samples, which the next write finds again.
 */
export const SAMPLE_BATCH_EXECUTOR_SOURCE = `
function createSampleBatchExecutor(db, options) {
  // rows per transaction: a batch is written as several, each short, so that a write of another
  // connection waits for one of them at most (see write-gate.ts); sorted by tag, they touch the same
  // pages one long transaction would
  const chunkRows = (options && options.chunkRows) || ${DEFAULT_CHUNK_ROWS};
  const turn = (options && options.turn) || { begin() {}, end() {} };
  const SAMPLE_COLUMNS = 6;
  const ROLLUP_COLUMNS = 9;
  const MINUTE_MS = 60000;
  // tag-minute keys are numbers (fast) for the first 2^21 tag ids and stay below 2^53
  const TAG_KEY_SPAN = 2097152;
  const GOOD = ${QUALITY_CODE.good};
  const prepareSizes = (head, columns, tail, sizes) => {
    const one = '(' + new Array(columns).fill('?').join(', ') + ')';
    return sizes.map((rows) => ({
      rows,
      stmt: db.prepare(head + ' VALUES ' + new Array(rows).fill(one).join(', ') + ' ' + tail),
      params: new Array(rows * columns),
    }));
  };
  const insertSamples = prepareSizes(
    'INSERT INTO samples (tag_id, ts, value, value_text, quality, reason)',
    SAMPLE_COLUMNS,
    '',
    [256, 64, 16, 4, 1],
  );
  const upsertRollups = prepareSizes(
    'INSERT INTO rollup_1m (tag_id, minute_ts, min_value, max_value, avg_value, last_value, last_ts, sample_count, good_count)',
    ROLLUP_COLUMNS,
    \`ON CONFLICT (minute_ts, tag_id) DO UPDATE SET
      min_value = CASE WHEN excluded.min_value IS NULL THEN min_value WHEN min_value IS NULL THEN excluded.min_value
                       ELSE min(min_value, excluded.min_value) END,
      max_value = CASE WHEN excluded.max_value IS NULL THEN max_value WHEN max_value IS NULL THEN excluded.max_value
                       ELSE max(max_value, excluded.max_value) END,
      avg_value = CASE WHEN excluded.good_count = 0 THEN avg_value WHEN good_count = 0 THEN excluded.avg_value
                       ELSE (avg_value * good_count + excluded.avg_value * excluded.good_count) / (good_count + excluded.good_count) END,
      last_value = CASE WHEN excluded.last_ts IS NOT NULL AND (last_ts IS NULL OR excluded.last_ts >= last_ts)
                        THEN excluded.last_value ELSE last_value END,
      last_ts = CASE WHEN excluded.last_ts IS NOT NULL AND (last_ts IS NULL OR excluded.last_ts >= last_ts)
                     THEN excluded.last_ts ELSE last_ts END,
      sample_count = sample_count + excluded.sample_count,
      good_count = good_count + excluded.good_count\`,
    [128, 32, 8, 2, 1],
  );
  const insertSampleIfNew = db.prepare(
    'INSERT OR IGNORE INTO samples (tag_id, ts, value, value_text, quality, reason) VALUES (?, ?, ?, ?, ?, ?)',
  );
  // changes nothing (and counts nothing) when the stored sample is the same
  const replaceSample = db.prepare(
    'UPDATE samples SET value = ?, value_text = ?, quality = ?, reason = ? WHERE tag_id = ? AND ts = ? ' +
      'AND (value IS NOT ? OR value_text IS NOT ? OR quality IS NOT ? OR reason IS NOT ?)',
  );
  const insertTag = db.prepare('INSERT INTO tags (tag) VALUES (?) ON CONFLICT (tag) DO NOTHING');
  const selectTag = db.prepare('SELECT id FROM tags WHERE tag = ?').pluck();
  const statements = new Map();

  const aggregate = (minutes, tagId, ts, v, good) => {
    const minuteIndex = Math.floor(ts / MINUTE_MS);
    const key = tagId < TAG_KEY_SPAN ? minuteIndex * TAG_KEY_SPAN + tagId : tagId + ':' + minuteIndex;
    let m = minutes.get(key);
    if (m === undefined) {
      m = { tagId, minuteTs: minuteIndex * MINUTE_MS, min: null, max: null, sum: 0, good: 0, count: 0, last: null, lastTs: null };
      minutes.set(key, m);
    }
    m.count++;
    // aggregates describe good values only; count and good_count show how much of the minute that is
    if (!good) return;
    m.good++;
    m.sum += v;
    if (m.min === null || v < m.min) m.min = v;
    if (m.max === null || v > m.max) m.max = v;
    if (m.lastTs === null || ts >= m.lastTs) {
      m.last = v;
      m.lastTs = ts;
    }
  };

  /** the rollups of rows order[from..to), numbers only, into minutes */
  const aggregateRows = (minutes, job, order, from, to) => {
    for (let j = from; j < to; j++) {
      const i = order[j];
      const kind = job.kind[i];
      if (kind >> 2 === ${VALUE_NUMBER}) aggregate(minutes, job.tag[i], job.ts[i], job.value[i], (kind & 3) === GOOD);
    }
  };

  /** rows order[from..to) and their rollups, in one transaction; how many replaced a stored sample */
  const writeChunk = db.transaction((job, order, from, to) => {
    const tag = job.tag;
    const ts = job.ts;
    const value = job.value;
    const kind = job.kind;
    const valueText = job.valueText;
    const reason = job.reason;
    const texts = job.texts;
    const minutes = new Map();
    let replaced = 0;
    let at = from;
    for (const s of insertSamples) {
      const p = s.params;
      while (to - at >= s.rows) {
        let k = 0;
        for (let j = 0; j < s.rows; j++) {
          const i = order[at + j];
          p[k++] = tag[i];
          p[k++] = ts[i];
          switch (kind[i] >> 2) {
            case ${VALUE_NUMBER}:
              p[k++] = value[i];
              p[k++] = null;
              break;
            case ${VALUE_TRUE}:
              p[k++] = 1;
              p[k++] = 'true';
              break;
            case ${VALUE_FALSE}:
              p[k++] = 0;
              p[k++] = 'false';
              break;
            case ${VALUE_TEXT}:
              p[k++] = null;
              p[k++] = texts[valueText[i]];
              break;
            default:
              p[k++] = null;
              p[k++] = null;
          }
          p[k++] = kind[i] & 3;
          p[k++] = reason[i] < 0 ? null : texts[reason[i]];
        }
        try {
          s.stmt.run(p);
          aggregateRows(minutes, job, order, at, at + s.rows);
        } catch (err) {
          if (!err || err.code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw err;
          // the same tag and millisecond again: a coarse device clock (the later sample wins), or a
          // batch written again after a failure part-way (the rows already stored change nothing)
          for (let j = 0; j < s.rows; j++) {
            const row = p.slice(j * SAMPLE_COLUMNS, (j + 1) * SAMPLE_COLUMNS);
            if (insertSampleIfNew.run(row).changes === 0) {
              if (replaceSample.run(row[2], row[3], row[4], row[5], row[0], row[1], row[2], row[3], row[4], row[5]).changes === 0)
                continue;
              replaced++;
            }
            aggregateRows(minutes, job, order, at + j, at + j + 1);
          }
        }
        at += s.rows;
      }
    }

    const rollups = Array.from(minutes.values());
    at = 0;
    for (const s of upsertRollups) {
      const p = s.params;
      while (rollups.length - at >= s.rows) {
        let k = 0;
        for (let j = 0; j < s.rows; j++) {
          const m = rollups[at + j];
          p[k++] = m.tagId;
          p[k++] = m.minuteTs;
          p[k++] = m.min;
          p[k++] = m.max;
          p[k++] = m.good > 0 ? m.sum / m.good : null;
          p[k++] = m.last;
          p[k++] = m.lastTs;
          p[k++] = m.count;
          p[k++] = m.good;
        }
        s.stmt.run(p);
        at += s.rows;
      }
    }
    return replaced;
  });

  const registerTags = db.transaction((names) =>
    names.map((name) => {
      insertTag.run(name);
      return selectTag.get(name);
    }),
  );

  /** runs fn, a transaction, in the turn of this connection (write-gate.ts) */
  const inTurn = (fn) => {
    turn.begin();
    try {
      return fn();
    } finally {
      turn.end();
    }
  };

  const write = (job) => {
    const n = job.rows;
    const tag = job.tag;
    const ts = job.ts;
    const newTags = [];
    if (job.newTags.length > 0) {
      const ids = inTurn(() => registerTags(job.newTags));
      job.newTags.forEach((name, k) => newTags.push([name, ids[k]]));
      for (let i = 0; i < n; i++) if (tag[i] < 0) tag[i] = ids[-tag[i] - 1];
    }
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => tag[a] - tag[b] || ts[a] - ts[b] || a - b);
    let replaced = 0;
    for (let from = 0; from < n; from += chunkRows) {
      const to = Math.min(n, from + chunkRows);
      replaced += inTurn(() => writeChunk(job, order, from, to));
    }
    return { replaced, newTags };
  };

  return {
    write(job) {
      return job.rows === 0 ? { replaced: 0, newTags: [] } : write(job);
    },
    run(sql, params) {
      let stmt = statements.get(sql);
      if (stmt === undefined) {
        stmt = db.prepare(sql);
        statements.set(sql, stmt);
      }
      return params.map((p) => inTurn(() => stmt.run(p).changes));
    },
  };
}
`;

type CreateExecutor = (db: Database.Database, options?: SampleBatchExecutorOptions) => SampleBatchExecutor;

/** The executor on a connection of the event loop (a `:memory:` store, or when no worker runs). */
export const createSampleBatchExecutor: CreateExecutor = new Function(
  `${SAMPLE_BATCH_EXECUTOR_SOURCE}\nreturn createSampleBatchExecutor;`,
)() as CreateExecutor;

/** the buffers of a job, to transfer it to a worker instead of copying */
export function jobTransferList(job: SampleBatchJob): ArrayBuffer[] {
  return [job.tag, job.ts, job.value, job.kind, job.valueText, job.reason].map((a) => a.buffer as ArrayBuffer);
}

/**
 * Writes batches of samples and their minute rollups on one connection, one
 * transaction each, and keeps the store's tag dictionary cache. The cache is
 * only extended after a transaction commits (`learn`), so a rollback cannot
 * leave it pointing at ids that do not exist.
 */
export class BatchInserter {
  private readonly tagIds = new Map<string, number>();
  private readonly executor: SampleBatchExecutor;

  constructor(db: Database.Database) {
    for (const row of db.prepare('SELECT id, tag FROM tags').all() as { id: number; tag: string }[]) {
      this.tagIds.set(row.tag, row.id);
    }
    this.executor = createSampleBatchExecutor(db);
  }

  /** integer id of a tag that has been written at least once */
  tagId(tag: string): number | undefined {
    return this.tagIds.get(tag);
  }

  /** dictionary ids given by a committed transaction (on this connection or another) */
  learn(newTags: readonly (readonly [string, number])[]): void {
    for (const [tag, id] of newTags) this.tagIds.set(tag, id);
  }

  write(job: SampleBatchJob): { replaced: number } {
    const result = this.executor.write(job);
    this.learn(result.newTags);
    return { replaced: result.replaced };
  }

  /** a statement run on this connection the way the write worker runs it */
  run(sql: string, params: readonly (readonly unknown[])[]): number[] {
    return this.executor.run(sql, params);
  }
}
