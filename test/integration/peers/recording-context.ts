/** A DriverContext that records what a driver emits and logs, for tests. */
import type { DriverContext, Log, Sample } from '../../../protocols/types.js';

export interface RecordingContext extends DriverContext {
  readonly samples: Sample[];
  readonly lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string }>;
  /** the newest sample of a tag */
  latest(tagId: string): Sample | undefined;
  /** samples of a tag */
  of(tagId: string): Sample[];
  /** resolves when `pred` holds, polling every 20 ms; rejects after `timeoutMs` with `what` */
  until(pred: () => boolean, timeoutMs: number, what: string): Promise<void>;
}

export function recordingContext(): RecordingContext {
  const samples: Sample[] = [];
  const lines: RecordingContext['lines'] = [];
  const record =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  const log: Log = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  return {
    samples,
    lines,
    log,
    now: () => Date.now(),
    emit: (batch) => {
      samples.push(...batch);
    },
    latest: (tagId) => {
      for (let i = samples.length - 1; i >= 0; i--) if (samples[i]!.tagId === tagId) return samples[i];
      return undefined;
    },
    of: (tagId) => samples.filter((s) => s.tagId === tagId),
    until: async (pred, timeoutMs, what) => {
      const deadline = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** Freezes an object and everything in it, as the config loader hands devices to drivers. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
