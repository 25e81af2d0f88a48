/**
 * The HTTP and WebSocket contract between the gateway and its dashboard.
 * Types only: the dashboard imports this file (`import type`) and nothing
 * else from the gateway, so both sides change together.
 */
import type { HealthReport, HistoryPoint, LiveQuality, LiveValue } from './ports.js';

export type { HealthReport, HistoryPoint, LiveQuality, LiveValue };

// ---------- errors ----------

export type ApiErrorCode =
  | 'GL_ERR_BAD_REQUEST'
  | 'GL_ERR_NOT_FOUND'
  | 'GL_ERR_UPGRADE_REQUIRED'
  | 'GL_ERR_UPGRADE_REFUSED'
  | 'GL_ERR_INTERNAL';

export interface ApiIssue {
  /** where the problem is, e.g. `query.maxPoints` or `params.id` */
  readonly path: string;
  readonly message: string;
}

export interface ApiError {
  readonly error: {
    readonly code: ApiErrorCode;
    readonly message: string;
    readonly issues?: readonly ApiIssue[];
  };
}

// ---------- GET /api/health ----------

export interface LiveHubCounters {
  /** clients connected now */
  readonly clients: number;
  readonly messagesSent: number;
  /** flushes skipped because a client was not reading fast enough (its values were coalesced, not lost) */
  readonly skippedSlow: number;
  /** client messages refused (invalid JSON, unknown type, bad fields) */
  readonly badMessages: number;
  /** clients closed because they missed a ping */
  readonly terminated: number;
}

export type HealthResponse = HealthReport & { readonly liveHub: LiveHubCounters };

// ---------- GET /api/plant ----------

export interface TagView {
  readonly id: string;
  /** the tag's name, or its id when the config gives none */
  readonly name: string;
  readonly unit: string | null;
  /** declared data type (`float32`, `bool`, …); null when the device decides (OPC UA without a type) */
  readonly type: string | null;
  readonly description: string | null;
  readonly deviceId: string;
  /**
   * How often a fresh value is expected, in ms: the poll interval (Modbus), the
   * sampling/publishing interval (OPC UA), or a third of the device's
   * `staleAfterMs` (MQTT pushes on its own schedule), so three intervals
   * without news is the point where a value should look old.
   */
  readonly expectedIntervalMs: number;
}

export interface DeviceView {
  readonly id: string;
  readonly name: string;
  readonly protocol: string;
  readonly enabled: boolean;
  readonly tags: readonly TagView[];
}

/** What a tag means to a machine or line (from the machine's config fields). */
export type TagRole = 'state' | 'stopReason' | 'countTotal' | 'countGood' | 'countReject' | 'energyKwh' | 'energyKw';

export interface TagRef {
  readonly tagId: string;
  readonly role: TagRole;
}

export type MachineStateName = 'running' | 'idle' | 'unplanned-stop' | 'planned-stop' | 'offline';

export interface MachineView {
  readonly id: string;
  readonly name: string;
  readonly idealCycleTimeS: number;
  readonly tags: readonly TagRef[];
  /** raw state value (as text) → machine state; null when the machine has no state tag */
  readonly stateMap: Readonly<Record<string, MachineStateName>> | null;
}

export interface LineView {
  readonly id: string;
  readonly name: string;
  readonly area: string;
  readonly outputMachine: string;
  readonly machines: readonly MachineView[];
  /** line-level tags (the line's own energy meter) */
  readonly tags: readonly TagRef[];
}

export interface PlantView {
  readonly site: { readonly id: string; readonly name: string; readonly timezone: string };
  readonly areas: readonly { readonly id: string; readonly name: string }[];
  readonly lines: readonly LineView[];
  readonly devices: readonly DeviceView[];
}

// ---------- GET /api/live ----------

/**
 * One tag in the live snapshot: config metadata merged with its latest value.
 * A configured tag that has never reported is listed with `value: null`,
 * `quality: 'bad'`, `reason: 'no data yet'` and `ts`/`receivedAt` null.
 */
export interface LiveTagView {
  readonly tagId: string;
  readonly name: string;
  readonly unit: string | null;
  /** null for a value the live source reports that no configured device owns (e.g. a derived metric) */
  readonly deviceId: string | null;
  readonly value: LiveValue['value'];
  readonly quality: LiveQuality;
  readonly reason: string | null;
  readonly ts: number | null;
  readonly receivedAt: number | null;
}

export interface LiveResponse {
  /** the server's clock, ms since epoch, for the client to correct its own */
  readonly serverTime: number;
  readonly tags: readonly LiveTagView[];
}

export const NO_DATA_REASON = 'no data yet';

// ---------- GET /api/tags/:id/history ----------

export interface HistoryResponse {
  readonly tagId: string;
  readonly from: number;
  readonly to: number;
  readonly maxPoints: number;
  readonly points: readonly HistoryPoint[];
}

// ---------- WebSocket /api/live/ws ----------

/** Selects tags directly, or through the lines and machines they belong to. */
export interface TagSelection {
  readonly tags?: readonly string[] | '*';
  readonly lines?: readonly string[];
  readonly machines?: readonly string[];
}

export type LiveClientMessage =
  | ({ readonly type: 'subscribe' } & TagSelection)
  | ({ readonly type: 'unsubscribe' } & TagSelection);

export type LiveErrorCode = 'GL_ERR_BAD_MESSAGE' | 'GL_ERR_NOT_FOUND';

export type LiveServerMessage =
  | {
      readonly type: 'hello';
      readonly serverTime: number;
      readonly demo: boolean;
      readonly liveMaxHz: number;
      /** an unchanged value is re-sent at least this often; null when every reading is sent */
      readonly heartbeatMs: number | null;
    }
  /** the latest value of every newly subscribed tag that has reported */
  | { readonly type: 'snapshot'; readonly values: readonly LiveValue[] }
  /** values changed since the last message, latest per tag */
  | { readonly type: 'delta'; readonly values: readonly LiveValue[] }
  | { readonly type: 'error'; readonly code: LiveErrorCode; readonly message: string };

export const LIVE_WS_PATH = '/api/live/ws';
/** client messages larger than this close the connection (WebSocket close code 1009) */
export const LIVE_MAX_MESSAGE_BYTES = 64 * 1024;
