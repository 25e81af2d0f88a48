/**
 * A LiveSource that keeps the latest value per tag in memory and tells its
 * listeners about each pushed batch. Whatever produces values (the pipeline's
 * fan-out, a test) calls `push`.
 */
import type { LiveSource, LiveValue } from './ports.js';

export class MemoryLiveSource implements LiveSource {
  private readonly latest = new Map<string, LiveValue>();
  private readonly listeners = new Set<(changes: readonly LiveValue[]) => void>();

  /** `onListenerError`: a failing listener must not keep values from the others */
  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  snapshot(): LiveValue[] {
    return [...this.latest.values()];
  }

  subscribe(listener: (changes: readonly LiveValue[]) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  push(values: readonly LiveValue[]): void {
    if (values.length === 0) return;
    for (const v of values) this.latest.set(v.tagId, v);
    for (const listener of this.listeners) {
      try {
        listener(values);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
