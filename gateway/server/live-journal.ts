import type { LiveValue } from './ports.js';

/** A tag's latest value, updated in place, and the journal position of its latest change. */
interface Entry {
  readonly tagId: string;
  value: LiveValue['value'];
  quality: LiveValue['quality'];
  ts: number;
  receivedAt: number;
  reason: string | undefined;
  at: number;
}

/**
 * The changes the live hub has to deliver, kept once for every client: the
 * latest value of each tag (one entry per tag, overwritten in place) and the
 * order in which tags changed, as absolute positions. A client remembers the
 * position up to which it has been served; its next delta is the latest
 * value of each tag changed since then.
 *
 * With a map of pending values per client, every change was copied into
 * every client's map (ten million map writes a second for 100 dashboards on
 * 100 000 changes a second) and every value stayed alive until that client's
 * next flush, long enough to reach the old generation. Here a change costs
 * one write, and deltas are read only when sent.
 *
 * The journal keeps at most `maxLength` positions (past that, the oldest are
 * dropped: a client that far behind gets the latest value of each of its
 * tags instead, see `since`), and `trim` drops what every client has had.
 */
export class LiveJournal {
  private readonly entries = new Map<string, Entry>();
  private journal: Entry[] = [];
  /** absolute position of journal[0] */
  private base = 0;

  constructor(private readonly maxLength: number) {}

  /** the position the next change gets: a client served now is served up to here */
  get end(): number {
    return this.base + this.journal.length;
  }

  /** positions held, for diagnostics */
  get length(): number {
    return this.journal.length;
  }

  record(changes: readonly LiveValue[]): void {
    for (const v of changes) {
      let e = this.entries.get(v.tagId);
      if (e === undefined) {
        e = {
          tagId: v.tagId,
          value: v.value,
          quality: v.quality,
          ts: v.ts,
          receivedAt: v.receivedAt,
          reason: v.reason,
          at: 0,
        };
        this.entries.set(v.tagId, e);
      } else {
        e.value = v.value;
        e.quality = v.quality;
        e.ts = v.ts;
        e.receivedAt = v.receivedAt;
        e.reason = v.reason;
      }
      e.at = this.base + this.journal.length;
      this.journal.push(e);
    }
    if (this.journal.length > this.maxLength) this.drop(this.journal.length - Math.floor(this.maxLength / 2));
  }

  /**
   * The latest value of each tag changed at or after position `from` that
   * `accept` takes (every tag when null), in the order of their latest
   * changes; null when positions from there were dropped (the caller then
   * sends `latest` instead).
   */
  since(from: number, accept: ((tagId: string) => boolean) | null): LiveValue[] | null {
    if (from < this.base) return null;
    const out: LiveValue[] = [];
    const journal = this.journal;
    for (let i = from - this.base; i < journal.length; i++) {
      const e = journal[i]!;
      // only a tag's latest change counts: earlier positions of it are superseded
      if (e.at !== this.base + i) continue;
      if (accept === null || accept(e.tagId)) out.push(view(e));
    }
    return out;
  }

  /** how many tags `since(from, accept)` would return; the number of tags `accept` takes when `from` was dropped */
  countSince(from: number, accept: ((tagId: string) => boolean) | null): number {
    if (from < this.base) {
      let n = 0;
      for (const e of this.entries.values()) if (accept === null || accept(e.tagId)) n++;
      return n;
    }
    let n = 0;
    for (let i = from - this.base; i < this.journal.length; i++) {
      const e = this.journal[i]!;
      if (e.at === this.base + i && (accept === null || accept(e.tagId))) n++;
    }
    return n;
  }

  /** the latest value of every tag `accept` takes (every tag when null) */
  latest(accept: ((tagId: string) => boolean) | null): LiveValue[] {
    const out: LiveValue[] = [];
    for (const e of this.entries.values()) if (accept === null || accept(e.tagId)) out.push(view(e));
    return out;
  }

  /** forgets the positions before `keepFrom` (what every client has been served) */
  trim(keepFrom: number): void {
    const n = Math.min(keepFrom, this.end) - this.base;
    // in halves or more, so that dropping costs O(1) per change
    if (n > 0 && n * 2 >= this.journal.length) this.drop(n);
  }

  private drop(n: number): void {
    this.journal = this.journal.slice(n);
    this.base += n;
  }
}

function view(e: Entry): LiveValue {
  return e.reason === undefined
    ? { tagId: e.tagId, value: e.value, quality: e.quality, ts: e.ts, receivedAt: e.receivedAt }
    : { tagId: e.tagId, value: e.value, quality: e.quality, ts: e.ts, receivedAt: e.receivedAt, reason: e.reason };
}
