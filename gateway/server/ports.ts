/**
 * What the server needs from the rest of the gateway. The composition root
 * (gateway/main.ts) hands in objects that satisfy these shapes; the server
 * knows nothing about drivers, the pipeline or the store's internals.
 */
import type { PlantConfig } from '../../config/schema.js';

export type LiveQuality = 'good' | 'bad' | 'uncertain' | 'stale';

/** The latest value of one tag, in engineering units. */
export interface LiveValue {
  readonly tagId: string;
  readonly value: number | boolean | string | null;
  readonly quality: LiveQuality;
  /** sample time (device time when given), ms since epoch */
  readonly ts: number;
  /** when the gateway received it, ms since epoch */
  readonly receivedAt: number;
  readonly reason?: string;
}

export interface LiveSource {
  /** latest value of every tag that has reported at least once */
  snapshot(): LiveValue[];
  /** called with each batch of changed values; returns an unsubscribe function */
  subscribe(listener: (changes: readonly LiveValue[]) => void): () => void;
}

export interface DeviceHealth {
  readonly id: string;
  readonly protocol: string;
  readonly endpoint: string;
  readonly state: string;
  readonly lastGoodTs: number | null;
  readonly lastError: string | null;
  readonly counters: Readonly<Record<string, number>>;
}

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly startedAt: number;
  readonly now: number;
  readonly devices: readonly DeviceHealth[];
  readonly store: {
    readonly path: string;
    readonly samplesWritten: number;
    readonly pendingRows: number;
    readonly dropped: number;
    readonly lastError: string | null;
  };
  readonly sinks: readonly { readonly name: string; readonly backlog: number; readonly lastError: string | null }[];
  readonly pipeline: { readonly samplesIn: number; readonly rejected: number };
}

export interface HistoryPoint {
  readonly ts: number;
  readonly value: number | boolean | string | null;
  readonly quality: LiveQuality;
}

export interface HistorySource {
  history(tagId: string, fromMs: number, toMs: number, maxPoints: number): HistoryPoint[];
}

export interface ServerDeps {
  readonly config: PlantConfig;
  readonly live: LiveSource;
  readonly health: () => HealthReport;
  readonly history: HistorySource;
  /** folder with the built dashboard (index.html and assets) */
  readonly dashboardDir: string;
  readonly log: {
    info(obj: object, msg?: string): void;
    warn(obj: object, msg?: string): void;
    error(obj: object, msg?: string): void;
  };
  /** demo mode: shows a banner on the dashboard */
  readonly demo?: boolean;
  /**
   * The pipeline reports on change: an unchanged value is re-sent at least this
   * often (its heartbeat). The dashboard waits three of these, or three
   * expected intervals if longer, before it fades a value. Omit when every
   * reading is forwarded.
   */
  readonly liveHeartbeatMs?: number;
}
