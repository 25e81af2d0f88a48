import type { Log } from '../../protocols/types.js';
import { LogLimiter } from './log-limiter.js';
import type { ProcessedSample } from './pipeline.js';

/** The latest value of one tag, in engineering units. */
export interface LiveValue {
  readonly tagId: string;
  readonly value: number | boolean | string | null;
  readonly quality: 'good' | 'bad' | 'uncertain' | 'stale';
  /** sample time (device time when given), ms since epoch */
  readonly ts: number;
  /** when the gateway received it, ms since epoch */
  readonly receivedAt: number;
  readonly reason?: string;
}

export type LiveListener = (changes: readonly LiveValue[]) => void;

export interface LiveTableOptions {
  readonly log: Log;
  readonly now?: () => number;
}

/** A tag's latest value, updated in place (see LiveTable). */
interface Slot {
  tagId: string;
  value: number | boolean | string | null;
  quality: LiveValue['quality'];
  ts: number;
  receivedAt: number;
  reason: string | undefined;
}

/**
 * The latest forwarded value of every tag, for the live dashboard. Fed by the
 * pipeline (`pipeline.subscribe((b) => live.update(b))`). The latest arrival wins,
 * whatever its timestamp, so a device whose clock jumps back still shows live values.
 *
 * Each tag has one slot, overwritten by every update: holding on to the
 * samples themselves would keep each alive until its tag's next one, long
 * enough to end up in the old generation (see the pipeline's TagState).
 * Reads hand out copies.
 */
export class LiveTable {
  private readonly values = new Map<string, Slot>();
  private listeners: readonly LiveListener[] = [];
  private readonly log: Log;
  private readonly limiter: LogLimiter;
  private listenerErrors = 0;

  constructor(options: LiveTableOptions) {
    this.log = options.log;
    this.limiter = new LogLimiter(60_000, options.now ?? Date.now);
  }

  /** Bound, so it can be subscribed as is: `pipeline.subscribe(live.update)`. */
  readonly update = (batch: readonly ProcessedSample[]): void => {
    if (batch.length === 0) return;
    for (const s of batch) {
      const slot = this.values.get(s.tagId);
      if (slot === undefined) {
        this.values.set(s.tagId, {
          tagId: s.tagId,
          value: s.value,
          quality: s.quality,
          ts: s.ts,
          receivedAt: s.receivedAt,
          reason: s.reason,
        });
      } else {
        slot.value = s.value;
        slot.quality = s.quality;
        slot.ts = s.ts;
        slot.receivedAt = s.receivedAt;
        slot.reason = s.reason;
      }
    }
    for (const listener of this.listeners) {
      try {
        listener(batch);
      } catch (err) {
        this.listenerErrors++;
        const held = this.limiter.take('listener');
        if (held !== null) {
          this.log.error(
            { err: err instanceof Error ? err.message : String(err), repeatsHeldBack: held },
            'a live-value listener failed; the other listeners got the changes',
          );
        }
      }
    }
  };

  /** latest value of every tag that has reported at least once */
  snapshot(): LiveValue[] {
    return Array.from(this.values.values(), copy);
  }

  get(tagId: string): LiveValue | undefined {
    const slot = this.values.get(tagId);
    return slot === undefined ? undefined : copy(slot);
  }

  /** called with each batch of changed values; returns an unsubscribe function */
  subscribe(listener: LiveListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  stats(): { tags: number; listeners: number; listenerErrors: number } {
    return { tags: this.values.size, listeners: this.listeners.length, listenerErrors: this.listenerErrors };
  }
}

/** the value as the pipeline forwarded it, fields in the same order */
function copy(s: Slot): LiveValue {
  return s.reason === undefined
    ? { tagId: s.tagId, ts: s.ts, value: s.value, quality: s.quality, receivedAt: s.receivedAt }
    : { tagId: s.tagId, ts: s.ts, value: s.value, quality: s.quality, reason: s.reason, receivedAt: s.receivedAt };
}
