import type Database from 'better-sqlite3';
import { decodeValue, qualityFromCode, type StoredQuality, type StoredValue } from './codec.js';

export interface HistoryPoint {
  readonly ts: number;
  readonly value: StoredValue;
  readonly quality: StoredQuality;
}

const MINUTE_MS = 60_000;

interface RawRow {
  ts: number;
  value: number | null;
  value_text: string | null;
  quality: number;
}

interface RawBucketRow extends RawRow {
  b: number;
  good_avg: number | null;
}

interface RollupBucketRow {
  b: number;
  avg: number | null;
  good: number;
}

/**
 * Reads a tag's history as at most `maxPoints` points, choosing the cheapest
 * source that is exact enough:
 *
 * 1. the raw samples themselves, when there are no more than maxPoints of them
 *    (and the range lies within raw retention);
 * 2. the minute rollups in buckets of whole minutes, when a bucket spans at
 *    least a minute: the average of the good values per bucket;
 * 3. raw samples in buckets otherwise (short ranges of fast tags, and booleans
 *    and strings, which have no rollups): the average of the good numbers in a
 *    bucket, else the bucket's last sample as it is.
 *
 * Averaged points sit at their bucket's start; a bucket without good values
 * gives quality bad and no value.
 */
export class HistoryReader {
  private readonly raw: Database.Statement;
  private readonly rawBuckets: Database.Statement;
  private readonly rollupBuckets: Database.Statement;

  constructor(db: Database.Database) {
    this.raw = db.prepare(
      'SELECT ts, value, value_text, quality FROM samples WHERE tag_id = ? AND ts >= ? AND ts <= ? ORDER BY ts LIMIT ?',
    );
    // with a single max() aggregate SQLite takes the bare columns from the row holding the max: the bucket's last sample
    this.rawBuckets = db.prepare(`
      SELECT CAST((ts - ?) / ? AS INTEGER) AS b, max(ts) AS ts, value, value_text, quality,
             avg(CASE WHEN quality = 0 AND value_text IS NULL THEN value END) AS good_avg
      FROM samples WHERE tag_id = ? AND ts >= ? AND ts <= ?
      GROUP BY b ORDER BY b`);
    this.rollupBuckets = db.prepare(`
      SELECT CAST((minute_ts - ?) / ? AS INTEGER) AS b,
             sum(avg_value * good_count) / sum(good_count) AS avg, sum(good_count) AS good
      FROM rollup_1m INDEXED BY rollup_1m_tag WHERE tag_id = ? AND minute_ts >= ? AND minute_ts <= ?
      GROUP BY b ORDER BY b`);
  }

  /** `rawFromMs`: the oldest time raw samples are still complete (retention) */
  read(tagId: number, fromMs: number, toMs: number, maxPoints: number, rawFromMs: number): HistoryPoint[] {
    const span = toMs - fromMs + 1;
    if (fromMs >= rawFromMs) {
      const rows = this.raw.all(tagId, fromMs, toMs, maxPoints + 1) as RawRow[];
      if (rows.length <= maxPoints) return rows.map(rawPoint);
    }
    if (span / maxPoints >= MINUTE_MS) {
      const base = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS;
      const bucket = Math.ceil((toMs - base + 1) / maxPoints / MINUTE_MS) * MINUTE_MS;
      const rows = this.rollupBuckets.all(base, bucket, tagId, base, toMs) as RollupBucketRow[];
      if (rows.length > 0) {
        return rows.map((r) =>
          r.good > 0 && r.avg !== null
            ? { ts: base + r.b * bucket, value: r.avg, quality: 'good' }
            : { ts: base + r.b * bucket, value: null, quality: 'bad' },
        );
      }
    }
    const bucket = Math.ceil(span / maxPoints);
    const rows = this.rawBuckets.all(fromMs, bucket, tagId, fromMs, toMs) as RawBucketRow[];
    return rows.map((r) =>
      r.good_avg !== null ? { ts: fromMs + r.b * bucket, value: r.good_avg, quality: 'good' } : rawPoint(r),
    );
  }
}

function rawPoint(r: RawRow): HistoryPoint {
  return { ts: r.ts, value: decodeValue(r.value, r.value_text), quality: qualityFromCode(r.quality) };
}
