import type { Log } from '../../protocols/types.js';
import { PipelineError } from './errors.js';
import type { TagInfo, TagRegistry } from './tag-registry.js';

/** The part of the Pipeline the watchdog drives. */
export interface StaleTarget {
  lastArrival(tagId: string): number | undefined;
  isStale(tagId: string): boolean;
  markStale(items: readonly { readonly tagId: string; readonly reason: string }[], now: number): number;
}

export interface StaleWatchdogOptions {
  readonly registry: TagRegistry;
  readonly pipeline: StaleTarget;
  readonly log: Log;
  readonly now?: () => number;
  /** stale after this many expected intervals without a sample (default 3) */
  readonly intervals?: number;
  /** never stale sooner than this, whatever the interval (default 1000): absorbs event-loop pauses */
  readonly minStaleAfterMs?: number;
  /** how often `start()` checks (default 500) */
  readonly checkIntervalMs?: number;
  /** replaces the silence allowed for a tag; return undefined to never mark it stale */
  readonly staleAfterFor?: (tag: TagInfo, defaultMs: number | undefined) => number | undefined;
}

interface Watched {
  readonly tagId: string;
  readonly afterMs: number;
}

/**
 * Marks a tag stale when nothing arrived for it (of any quality) for N times its
 * expected interval: the poll group's interval for Modbus, the publishing or
 * sampling interval for OPC UA; MQTT tags use the device's `staleAfterMs` as is,
 * since a broker gives no interval. A tag that never reported counts from `start()`.
 * Tags of disabled devices are not watched.
 */
export class StaleWatchdog {
  private readonly pipeline: StaleTarget;
  private readonly log: Log;
  private readonly now: () => number;
  private readonly checkIntervalMs: number;
  private readonly watched: readonly Watched[];
  private startedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: StaleWatchdogOptions) {
    const intervals = options.intervals ?? 3;
    const minMs = options.minStaleAfterMs ?? 1000;
    const checkIntervalMs = options.checkIntervalMs ?? 500;
    if (!(intervals > 0) || !(minMs >= 0) || !(checkIntervalMs > 0)) {
      throw new PipelineError(
        'GL_ERR_PIPELINE_OPTION',
        `stale watchdog options must be positive: intervals=${intervals}, minStaleAfterMs=${minMs}, checkIntervalMs=${checkIntervalMs}`,
      );
    }
    this.pipeline = options.pipeline;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.checkIntervalMs = checkIntervalMs;
    const watched: Watched[] = [];
    for (const tag of options.registry.all()) {
      if (!tag.enabled) continue;
      const byConfig =
        tag.staleAfterMs ?? (tag.expectedIntervalMs === undefined ? undefined : tag.expectedIntervalMs * intervals);
      const chosen = options.staleAfterFor ? options.staleAfterFor(tag, byConfig) : byConfig;
      if (chosen === undefined || !Number.isFinite(chosen)) continue;
      watched.push({ tagId: tag.id, afterMs: Math.max(chosen, minMs) });
    }
    this.watched = watched;
  }

  /** silence after which the tag is marked stale; undefined when it is not watched */
  staleAfterMs(tagId: string): number | undefined {
    return this.watched.find((w) => w.tagId === tagId)?.afterMs;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.startedAt = this.now();
    this.timer = setInterval(() => this.check(this.now()), this.checkIntervalMs);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Marks what is overdue at `now`; returns how many tags were marked. Never throws. */
  check(now: number): number {
    try {
      const since = this.startedAt ?? now;
      const due: { tagId: string; reason: string }[] = [];
      for (const w of this.watched) {
        const last = this.pipeline.lastArrival(w.tagId) ?? since;
        if (now - last >= w.afterMs && !this.pipeline.isStale(w.tagId)) {
          due.push({ tagId: w.tagId, reason: `no update for ${w.afterMs} ms` });
        }
      }
      if (due.length === 0) return 0;
      const marked = this.pipeline.markStale(due, now);
      if (marked > 0) this.log.info({ count: marked, tags: due.slice(0, 20).map((d) => d.tagId) }, 'tags marked stale');
      return marked;
    } catch (err) {
      this.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'stale check failed; it runs again at the next tick',
      );
      return 0;
    }
  }
}
