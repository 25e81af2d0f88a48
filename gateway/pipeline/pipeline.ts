import type { Log, Quality, Sample, SampleValue } from '../../protocols/types.js';
import { PipelineError } from './errors.js';
import { LogLimiter } from './log-limiter.js';
import { isNumericType, type TagInfo, type TagRegistry } from './tag-registry.js';

/** A Sample after the pipeline: `value` is in engineering units, `ts` whole milliseconds. */
export interface ProcessedSample extends Sample {
  readonly value: SampleValue;
  /** when the gateway received it, ms since epoch */
  readonly receivedAt: number;
}

export type BatchListener = (batch: readonly ProcessedSample[]) => void;

export interface PipelineStats {
  /** every sample handed to `ingest`, rejected ones included */
  samplesIn: number;
  /** samples passed on to subscribers, stale marks included */
  forwarded: number;
  /** good values within the deadband of the last forwarded value */
  suppressedByDeadband: number;
  /** unknown tag ids and malformed samples */
  rejected: number;
  /** subscriber calls that threw */
  subscriberErrors: number;
  /** values that did not fit their tag's type (forwarded as quality bad, `decode error`) */
  decodeErrors: number;
  /** unchanged values forwarded to show the tag is alive */
  heartbeats: number;
  /** stale marks raised by the watchdog */
  staleMarked: number;
  /** failures inside the pipeline itself (e.g. a logger that throws) */
  internalErrors: number;
}

export interface PipelineOptions {
  readonly registry: TagRegistry;
  readonly log: Log;
  readonly now?: () => number;
  /** an unchanged value is still forwarded when the last forwarded one is this old (default 60 000) */
  readonly heartbeatMs?: number;
  /** repeated warnings (unknown tag, decode error, failing subscriber) are logged at most this often (default 60 000) */
  readonly logIntervalMs?: number;
}

/**
 * What the pipeline remembers of a tag. The last forwarded sample is kept as
 * fields, not as the sample object: sample objects kept until their tag's
 * next sample outlive young-generation collections and end up in the old
 * generation, which at a hundred thousand samples a second then grows by
 * megabytes a second between full collections.
 */
interface TagState {
  readonly info: TagInfo;
  readonly numeric: boolean;
  readonly scaled: boolean;
  /** whether a sample was forwarded; the `last*` fields describe the last one, the reference for deadband and heartbeat */
  forwarded: boolean;
  lastTs: number;
  lastValue: SampleValue;
  lastQuality: Quality;
  lastReason: string | undefined;
  lastReceivedAt: number;
  /** receive time of the last sample of any quality, forwarded or not */
  lastArrival: number | undefined;
}

interface Subscriber {
  readonly fn: BatchListener;
  readonly name: string;
}

const QUALITIES: ReadonlySet<string> = new Set<Quality>(['good', 'bad', 'uncertain', 'stale']);

export const DECODE_ERROR = 'decode error';

/**
 * Turns drivers' raw Samples into engineering values, drops what did not
 * change (report-on-change with deadband and heartbeat) and hands each batch
 * to its subscribers (live table, store, sinks, core). Holds no timers: the
 * stale watchdog drives time-based marks through `markStale`.
 */
export class Pipeline {
  private readonly registry: TagRegistry;
  private readonly log: Log;
  private readonly now: () => number;
  private readonly heartbeatMs: number;
  private readonly limiter: LogLimiter;
  private readonly states = new Map<string, TagState>();
  private subscribers: readonly Subscriber[] = [];
  private readonly counters: PipelineStats = {
    samplesIn: 0,
    forwarded: 0,
    suppressedByDeadband: 0,
    rejected: 0,
    subscriberErrors: 0,
    decodeErrors: 0,
    heartbeats: 0,
    staleMarked: 0,
    internalErrors: 0,
  };

  constructor(options: PipelineOptions) {
    const heartbeatMs = options.heartbeatMs ?? 60_000;
    if (!(heartbeatMs > 0)) {
      throw new PipelineError(
        'GL_ERR_PIPELINE_OPTION',
        `heartbeatMs must be a positive number of ms, got ${heartbeatMs}`,
      );
    }
    this.registry = options.registry;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.heartbeatMs = heartbeatMs;
    this.limiter = new LogLimiter(options.logIntervalMs ?? 60_000, this.now);
  }

  /**
   * Receives a driver's batch. Never throws: what cannot be used is counted and logged.
   * Bound, so it can be handed over as is: `emit: pipeline.ingest`.
   */
  readonly ingest = (samples: readonly Sample[]): void => {
    try {
      this.ingestBatch(samples);
    } catch {
      // only a throwing logger gets here; the driver must never see it
      this.counters.internalErrors++;
    }
  };

  /**
   * Registers a batch listener; returns the function that removes it. A listener
   * that throws is counted and logged and does not affect the others.
   */
  subscribe(fn: BatchListener, name = `subscriber-${this.subscribers.length + 1}`): () => void {
    const sub: Subscriber = { fn, name };
    this.subscribers = [...this.subscribers, sub];
    return () => {
      this.subscribers = this.subscribers.filter((s) => s !== sub);
    };
  }

  stats(): PipelineStats {
    return { ...this.counters };
  }

  /** receive time of the tag's last sample of any quality; undefined when none arrived yet */
  lastArrival(tagId: string): number | undefined {
    return this.states.get(tagId)?.lastArrival;
  }

  isStale(tagId: string): boolean {
    const st = this.states.get(tagId);
    return st?.forwarded === true && st.lastQuality === 'stale';
  }

  /** the last forwarded sample of a tag */
  lastForwarded(tagId: string): ProcessedSample | undefined {
    const st = this.states.get(tagId);
    if (st === undefined || !st.forwarded) return undefined;
    const { lastTs: ts, lastValue: value, lastQuality: quality, lastReason: reason, lastReceivedAt: receivedAt } = st;
    return reason === undefined
      ? { tagId, ts, value, quality, receivedAt }
      : { tagId, ts, value, quality, reason, receivedAt };
  }

  /**
   * Forwards one stale sample per tag that is not stale already. The stale sample
   * keeps the last forwarded value (null when the tag never reported) so consumers
   * can show the last known value, flagged. Returns how many tags were marked.
   */
  markStale(items: readonly { readonly tagId: string; readonly reason: string }[], now: number): number {
    const out: ProcessedSample[] = [];
    for (const { tagId, reason } of items) {
      const st = this.state(tagId);
      if (st === undefined || (st.forwarded && st.lastQuality === 'stale')) continue;
      const p: ProcessedSample = {
        tagId,
        ts: Math.round(now),
        value: st.forwarded ? st.lastValue : null,
        quality: 'stale',
        reason,
        receivedAt: now,
      };
      remember(st, p);
      out.push(p);
    }
    if (out.length > 0) {
      this.counters.staleMarked += out.length;
      this.counters.forwarded += out.length;
      this.fanOut(out);
    }
    return out.length;
  }

  private ingestBatch(samples: readonly Sample[]): void {
    let now: number;
    try {
      now = this.now();
    } catch {
      now = Date.now();
    }
    const out: ProcessedSample[] = [];
    const n = Array.isArray(samples) ? samples.length : 0;
    for (let i = 0; i < n; i++) {
      this.counters.samplesIn++;
      try {
        const p = this.process(samples[i], now);
        if (p !== undefined) out.push(p);
      } catch (err) {
        this.reject('malformed', `sample could not be read: ${String(err)}`, undefined);
      }
    }
    if (out.length > 0) {
      this.counters.forwarded += out.length;
      this.fanOut(out);
    }
  }

  private state(tagId: string): TagState | undefined {
    let st = this.states.get(tagId);
    if (st === undefined) {
      const info = this.registry.get(tagId);
      if (info === undefined) return undefined;
      st = {
        info,
        numeric: isNumericType(info.type),
        scaled: info.scale !== 1 || info.offset !== 0,
        forwarded: false,
        lastTs: 0,
        lastValue: null,
        lastQuality: 'bad',
        lastReason: undefined,
        lastReceivedAt: 0,
        lastArrival: undefined,
      };
      this.states.set(tagId, st);
    }
    return st;
  }

  private process(s: Sample | undefined, now: number): ProcessedSample | undefined {
    if (typeof s !== 'object' || s === null) return this.reject('malformed', 'sample is not an object', undefined);
    const tagId = s.tagId;
    if (typeof tagId !== 'string') return this.reject('malformed', 'sample has no string tagId', undefined);
    const st = this.state(tagId);
    if (st === undefined) {
      return this.reject(
        `unknown:${tagId}`,
        'sample for an unknown tag rejected: declare the tag in the config or fix the tag id the driver emits',
        tagId,
      );
    }
    if (typeof s.ts !== 'number' || !Number.isFinite(s.ts)) {
      return this.reject(
        `ts:${tagId}`,
        'sample without a finite timestamp rejected: the driver must set ts in ms since epoch',
        tagId,
      );
    }
    if (!QUALITIES.has(s.quality)) {
      return this.reject(`quality:${tagId}`, `sample with unknown quality "${String(s.quality)}" rejected`, tagId);
    }
    st.lastArrival = now;

    let value: SampleValue = s.value;
    let quality: Quality = s.quality;
    let reason = s.reason;
    const usable = quality === 'good' || quality === 'uncertain';
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) {
        value = null;
        if (usable) [quality, reason] = this.decodeError(tagId, `value ${s.value} is not a finite number`);
      } else if (st.scaled) {
        value = value * st.info.scale + st.info.offset;
      }
    } else if (usable && (value === null || value === undefined || st.numeric)) {
      const got = value === null || value === undefined ? 'no value' : `a ${typeof value}`;
      [quality, reason] = this.decodeError(
        tagId,
        `expected a number for type ${st.info.type ?? 'unknown'}, got ${got}`,
      );
      value = null;
    } else if (value === undefined) {
      value = null;
    }

    if (
      st.forwarded &&
      st.lastQuality === quality &&
      st.lastReason === reason &&
      !changed(st.lastValue, value, st.info.deadband)
    ) {
      if (now - st.lastReceivedAt < this.heartbeatMs) {
        this.counters.suppressedByDeadband++;
        return undefined;
      }
      this.counters.heartbeats++;
    }
    const p: ProcessedSample =
      reason === undefined
        ? { tagId, ts: Math.round(s.ts), value, quality, receivedAt: now }
        : { tagId, ts: Math.round(s.ts), value, quality, reason, receivedAt: now };
    remember(st, p);
    return p;
  }

  private decodeError(tagId: string, detail: string): ['bad', string] {
    this.counters.decodeErrors++;
    const held = this.limiter.take(`decode:${tagId}`);
    if (held !== null) {
      this.log.warn(
        { tagId, detail, repeatsHeldBack: held },
        "value does not fit the tag's type, forwarded as bad quality: check the tag's type and address in the config",
      );
    }
    return ['bad', DECODE_ERROR];
  }

  private reject(key: string, msg: string, tagId: string | undefined): undefined {
    this.counters.rejected++;
    const held = this.limiter.take(key);
    if (held !== null) this.log.warn({ tagId, repeatsHeldBack: held, rejectedTotal: this.counters.rejected }, msg);
    return undefined;
  }

  private fanOut(batch: readonly ProcessedSample[]): void {
    for (const sub of this.subscribers) {
      try {
        sub.fn(batch);
      } catch (err) {
        this.counters.subscriberErrors++;
        const held = this.limiter.take(`subscriber:${sub.name}`);
        if (held !== null) {
          this.log.error(
            { subscriber: sub.name, err: err instanceof Error ? err.message : String(err), repeatsHeldBack: held },
            'a pipeline subscriber failed on a batch; the other subscribers got it',
          );
        }
      }
    }
  }
}

function remember(st: TagState, p: ProcessedSample): void {
  st.forwarded = true;
  st.lastTs = p.ts;
  st.lastValue = p.value;
  st.lastQuality = p.quality;
  st.lastReason = p.reason;
  st.lastReceivedAt = p.receivedAt;
}

/** whether `next` differs from `prev` by more than the deadband (numbers) or at all (anything else) */
function changed(prev: SampleValue, next: SampleValue, deadband: number): boolean {
  if (typeof prev === 'number' && typeof next === 'number') return Math.abs(next - prev) > deadband;
  return prev !== next;
}
