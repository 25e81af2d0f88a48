import { type SampleBatchJob, VALUE_FALSE, VALUE_NULL, VALUE_NUMBER, VALUE_TEXT, VALUE_TRUE } from './batch-insert.js';
import { QUALITY_CODE, type StoredSample } from './codec.js';
import type { PendingQueue } from './sample-writer.js';

const INITIAL_CAPACITY = 1024;

/**
 * The rows waiting for the store, in columns, taken apart as they arrive.
 *
 * At a hundred thousand samples a second the rows wait a few hundred
 * milliseconds for their transaction: long enough for the garbage collector
 * to move every sample object to the old generation, which then grows by
 * megabytes a second between full collections. Held here as numbers in typed
 * arrays instead, the sample objects die young, and a batch is a copy of a
 * slice of each column: the job the executor writes, on the event loop or
 * in the write worker.
 *
 * Tag ids come from the store's dictionary cache; a tag not in it yet gets a
 * provisional negative id, and travels by name in the batch that writes it.
 */
export class SampleColumnQueue implements PendingQueue<SampleBatchJob> {
  private head = 0;
  private tail = 0;
  private tag = new Float64Array(INITIAL_CAPACITY);
  private ts = new Float64Array(INITIAL_CAPACITY);
  private value = new Float64Array(INITIAL_CAPACITY);
  private kind = new Uint8Array(INITIAL_CAPACITY);
  /** a VALUE_TEXT row's value; undefined for the others */
  private valueText: (string | undefined)[] = new Array(INITIAL_CAPACITY);
  private reason: (string | undefined)[] = new Array(INITIAL_CAPACITY);
  /** provisional ids: -(k + 1) for the k-th tag the dictionary did not know when its row arrived */
  private provisional = new Map<string, number>();
  private provisionalNames: string[] = [];

  /** `tagId`: the dictionary id of a tag written before, else undefined */
  constructor(private readonly tagId: (tag: string) => number | undefined) {}

  get length(): number {
    return this.tail - this.head;
  }

  push(row: StoredSample): void {
    if (this.tail === this.tag.length) this.makeRoom();
    const i = this.tail++;
    this.tag[i] = this.tagId(row.tagId) ?? this.provisionalId(row.tagId);
    this.ts[i] = Math.round(row.ts);
    const v = row.value;
    let k: number;
    if (typeof v === 'number') {
      this.value[i] = v;
      k = VALUE_NUMBER;
    } else if (typeof v === 'boolean') {
      k = v ? VALUE_TRUE : VALUE_FALSE;
    } else if (typeof v === 'string') {
      this.valueText[i] = v;
      k = VALUE_TEXT;
    } else {
      k = VALUE_NULL;
    }
    this.kind[i] = k * 4 + (QUALITY_CODE[row.quality] ?? QUALITY_CODE.bad);
    const reason = row.reason;
    if (reason !== undefined && reason !== null) this.reason[i] = reason;
  }

  batch(n: number): SampleBatchJob {
    const from = this.head;
    const to = from + n;
    const tag = this.tag.slice(from, to);
    const valueText = new Int32Array(n).fill(-1);
    const reason = new Int32Array(n).fill(-1);
    const texts: string[] = [];
    const newTags: string[] = [];
    let newIndex: Map<string, number> | undefined;
    for (let j = 0; j < n; j++) {
      const id = tag[j] as number;
      if (id < 0) {
        // the dictionary may have learned it since the row arrived
        const name = this.provisionalNames[-id - 1] as string;
        let resolved = this.tagId(name);
        if (resolved === undefined) {
          newIndex ??= new Map();
          resolved = newIndex.get(name);
          if (resolved === undefined) {
            resolved = -(newTags.push(name) as number);
            newIndex.set(name, resolved);
          }
        }
        tag[j] = resolved;
      }
      const text = this.valueText[from + j];
      if (text !== undefined) valueText[j] = texts.push(text) - 1;
      const why = this.reason[from + j];
      if (why !== undefined) reason[j] = texts.push(why) - 1;
    }
    return {
      rows: n,
      tag,
      ts: this.ts.slice(from, to),
      value: this.value.slice(from, to),
      kind: this.kind.slice(from, to),
      valueText,
      reason,
      texts,
      newTags,
    };
  }

  shift(n: number): void {
    const to = this.head + n;
    this.valueText.fill(undefined, this.head, to);
    this.reason.fill(undefined, this.head, to);
    this.head = to;
    if (this.head === this.tail) this.clear();
  }

  remove(keep: number, n: number): void {
    if (keep === 0) {
      this.shift(n);
      return;
    }
    // close the gap: rows after it move down
    const at = this.head + keep;
    const end = this.tail;
    this.tag.copyWithin(at, at + n, end);
    this.ts.copyWithin(at, at + n, end);
    this.value.copyWithin(at, at + n, end);
    this.kind.copyWithin(at, at + n, end);
    this.valueText.copyWithin(at, at + n, end);
    this.reason.copyWithin(at, at + n, end);
    this.tail -= n;
    this.valueText.fill(undefined, this.tail, end);
    this.reason.fill(undefined, this.tail, end);
  }

  clear(): void {
    this.valueText.fill(undefined, this.head, this.tail);
    this.reason.fill(undefined, this.head, this.tail);
    this.head = 0;
    this.tail = 0;
    // the provisional ids of rows no longer held are not needed any more
    if (this.provisionalNames.length > 0) {
      this.provisional = new Map();
      this.provisionalNames = [];
    }
  }

  private provisionalId(tag: string): number {
    let id = this.provisional.get(tag);
    if (id === undefined) {
      id = -(this.provisionalNames.push(tag) as number);
      this.provisional.set(tag, id);
    }
    return id;
  }

  /** moves the rows to the front, in place; doubles the columns when that is not enough */
  private makeRoom(): void {
    const n = this.tail - this.head;
    if (n * 2 > this.tag.length) {
      const capacity = this.tag.length * 2;
      const grow = <T extends Float64Array | Uint8Array>(a: T, b: T): T => {
        b.set(a.subarray(this.head, this.tail));
        return b;
      };
      this.tag = grow(this.tag, new Float64Array(capacity));
      this.ts = grow(this.ts, new Float64Array(capacity));
      this.value = grow(this.value, new Float64Array(capacity));
      this.kind = grow(this.kind, new Uint8Array(capacity));
      this.valueText = this.valueText.slice(this.head, this.tail).concat(new Array(capacity - n));
      this.reason = this.reason.slice(this.head, this.tail).concat(new Array(capacity - n));
    } else {
      // the same columns: a new one would be garbage in the old generation at every turn round
      this.tag.copyWithin(0, this.head, this.tail);
      this.ts.copyWithin(0, this.head, this.tail);
      this.value.copyWithin(0, this.head, this.tail);
      this.kind.copyWithin(0, this.head, this.tail);
      this.valueText.copyWithin(0, this.head, this.tail);
      this.reason.copyWithin(0, this.head, this.tail);
      this.valueText.fill(undefined, n, this.tail);
      this.reason.fill(undefined, n, this.tail);
    }
    this.head = 0;
    this.tail = n;
  }
}
