/**
 * The HTTP and WebSocket contract between the gateway and its dashboard.
 * Types only: the dashboard imports this file (`import type`) and nothing
 * else from the gateway, so both sides change together.
 */
import type { EntityRef, EntityType, MachineStatus, MetricsRecord, MetricsWindow } from '../core/index.js';
import type { Role } from '../../config/schema.js';
import type { AlarmChangeView, AlarmItem, AlarmRefusalCode } from './alarms/alarm-contract.js';
import type { HealthReport, HistoryPoint, LiveQuality, LiveValue } from './ports.js';

export * from './alarms/alarm-contract.js';

export type { EntityRef, EntityType, MachineStatus, MetricsRecord, MetricsWindow };

export type { HealthReport, HistoryPoint, LiveQuality, LiveValue };

// ---------- errors ----------

export type ApiErrorCode =
  | 'GL_ERR_BAD_REQUEST'
  | 'GL_ERR_NOT_FOUND'
  | 'GL_ERR_UPGRADE_REQUIRED'
  | 'GL_ERR_UPGRADE_REFUSED'
  | 'GL_ERR_UNAVAILABLE'
  | 'GL_ERR_INTERNAL'
  /** the gateway built an answer that breaks this contract: a bug, logged with the details; nothing of it was sent */
  | 'GL_ERR_RESPONSE_INVALID'
  | 'GL_ERR_UNAUTHENTICATED'
  | 'GL_ERR_SIGN_IN_FAILED'
  | 'GL_ERR_FORBIDDEN'
  | 'GL_ERR_CONFLICT'
  | 'GL_ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'GL_ERR_TOO_MANY_REQUESTS'
  /** an alarm action refused (alarm-contract.ts; 404, 401, 400, 409 or 503 by code) */
  | AlarmRefusalCode;

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
  /** stop reason code (the reason tag's value as text) → the plant's name for it */
  readonly reasons?: Readonly<Record<string, string>>;
  /** raw state value → the reason its state mapping names (`setup`, `maintenance`), where it names one */
  readonly stateReasons?: Readonly<Record<string, string>>;
}

/** An emission factor of a carbon table that applies to a line's energy (dates site-local, inclusive). */
export interface CarbonFactorView {
  readonly table: string;
  readonly tableName: string;
  readonly from: string;
  /** null: open-ended */
  readonly to: string | null;
  readonly kgCO2ePerKwh: number;
  readonly source: string;
  /** the year the source names, else the year the factor starts (as the energy export gives it) */
  readonly year: string;
  readonly method: 'location' | 'market';
}

export interface LineView {
  readonly id: string;
  readonly name: string;
  readonly area: string;
  readonly outputMachine: string;
  readonly machines: readonly MachineView[];
  /** line-level tags (the line's own energy meter) */
  readonly tags: readonly TagRef[];
  /** the emission factors of the carbon tables for the line's energy (its own, else the site's), in config order */
  readonly carbonFactors?: readonly CarbonFactorView[];
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
  | ({ readonly type: 'unsubscribe' } & TagSelection)
  /** metrics of every line and machine for a window, pushed at most every METRICS_PUSH_MS; null stops them */
  | { readonly type: 'metrics'; readonly window: MetricsWindowName | null }
  /** every alarm at once, then each change as it is recorded; false stops them */
  | { readonly type: 'alarms'; readonly follow: boolean };

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
  | { readonly type: 'metrics'; readonly overview: MetricsOverview }
  /** the answer to following alarms: every configured alarm (empty while they are restored after a start) */
  | {
      readonly type: 'alarms';
      readonly serverTime: number;
      readonly ready: boolean;
      readonly alarms: readonly AlarmItem[];
    }
  /** one alarm changed: sent at once, not coalesced with tag values; a slow client gets the latest per alarm */
  | { readonly type: 'alarm'; readonly alarm: AlarmItem; readonly change: AlarmChangeView }
  | { readonly type: 'error'; readonly code: LiveErrorCode; readonly message: string };

export const LIVE_WS_PATH = '/api/live/ws';
/** client messages larger than this close the connection (WebSocket close code 1009) */
export const LIVE_MAX_MESSAGE_BYTES = 64 * 1024;

// ---------- metrics: GET /api/metrics, /api/metrics/:type/:id, /api/metrics/:type/:id/series ----------

/**
 * Named windows: the shift running now, the one before it, the last hour
 * (60 whole minutes and the running one) and today from site-local midnight.
 * A range is asked for with `from` and `to` instead.
 */
export type MetricsWindowName = 'shift' | 'prev-shift' | 'hour' | 'today';
export const METRICS_WINDOWS: readonly MetricsWindowName[] = ['shift', 'prev-shift', 'hour', 'today'];

export interface MachineMetricsView {
  readonly id: string;
  readonly name: string;
  /** the machine's state now; null until the first reading or while metrics are rebuilt */
  readonly status: MachineStatus | null;
  /** null when the window does not exist (no shift running) or nothing is known yet */
  readonly record: MetricsRecord | null;
}

export interface LineMetricsView {
  readonly id: string;
  readonly name: string;
  readonly area: string;
  readonly outputMachine: string;
  readonly record: MetricsRecord | null;
  readonly machines: readonly MachineMetricsView[];
}

/** GET /api/metrics?window=…: every line and machine of the plant. */
export interface MetricsOverview {
  readonly serverTime: number;
  /** the window asked for: a name, or `range` with from/to */
  readonly window: MetricsWindowName | 'range';
  readonly timezone: string;
  /** false while metrics are being rebuilt from the store after a start; records are then null */
  readonly ready: boolean;
  readonly lines: readonly LineMetricsView[];
}

/** GET /api/metrics/:type/:id?window=… */
export interface EntityMetricsResponse {
  readonly serverTime: number;
  readonly entity: EntityRef;
  readonly name: string;
  readonly ready: boolean;
  readonly status: MachineStatus | null;
  readonly record: MetricsRecord | null;
}

/** One bucket of the series: the window's figures over [from, to). */
export interface MetricsPoint {
  readonly from: number;
  readonly to: number;
  readonly availability: number | null;
  readonly performance: number | null;
  readonly quality: number | null;
  readonly oee: number | null;
  readonly total: number | null;
  readonly good: number | null;
  readonly reject: number | null;
  readonly plannedMs: number;
  readonly runMs: number;
  readonly stopMs: number;
  readonly kwh: number | null;
  readonly kwhPerGood: number | null;
  readonly kgCO2e: number | null;
  readonly kgCO2eMarket: number | null;
}

/** GET /api/metrics/:type/:id/series?window=…|from=…&to=…&maxPoints=… */
export interface MetricsSeriesResponse {
  readonly serverTime: number;
  readonly entity: EntityRef;
  readonly from: number;
  readonly to: number;
  /** bucket length: whole minutes, at least 1, chosen so the series has at most maxPoints points */
  readonly bucketMs: number;
  readonly points: readonly MetricsPoint[];
}

/**
 * GET /api/metrics/line/:id/baseline?days=…: the line's energy baseline
 * (ISO 50006), E = c + m·units fitted on its past hours, and the current
 * shift against it.
 */
export interface BaselineResponse {
  readonly serverTime: number;
  readonly lineId: string;
  readonly from: number;
  readonly to: number;
  readonly periodMs: number;
  readonly used: number;
  readonly excluded: number;
  readonly model: {
    /** kWh per period with nothing produced (base load) */
    readonly intercept: number;
    /** kWh per good unit */
    readonly slope: number;
    readonly r2: number | null;
    readonly n: number;
  } | null;
  readonly current: {
    readonly from: number;
    readonly asOf: number;
    readonly actualKwh: number;
    readonly expectedKwh: number;
    readonly good: number;
    readonly enpi: number | null;
  } | null;
}

export const BASELINE_DEFAULT_DAYS = 28;
export const BASELINE_MAX_DAYS = 366;

export const METRICS_SERIES_DEFAULT_POINTS = 240;
export const METRICS_SERIES_MAX_POINTS = 2000;
/** the live hub pushes metrics to a subscribed client at most this often */
export const METRICS_PUSH_MS = 1000;

// ---------- sign-in: /api/login, /api/logout, /api/me, /api/users, /api/tokens ----------

export type { Role };

/** What a role may do; `permissions.ts` maps each role to its set. */
export type Capability = 'read' | 'alarms.act' | 'alarms.manage' | 'export' | 'users.manage';

/** POST /api/login */
export interface LoginRequest {
  readonly username: string;
  readonly password: string;
}

/** A documented demo account, listed by GET /api/login only while `server.demoAccounts` is on. */
export interface DemoAccount {
  readonly username: string;
  readonly password: string;
  readonly role: Role;
}

/** GET /api/login: what the sign-in page needs before anyone is signed in. */
export interface LoginInfo {
  /** empty unless the gateway runs with demo accounts */
  readonly demoAccounts: readonly DemoAccount[];
}

/** GET /api/me, and the answer to POST /api/login */
export interface Me {
  readonly username: string;
  readonly displayName: string | null;
  /** the role this request acts with (a token's own role, never above its owner's) */
  readonly role: Role;
  readonly capabilities: readonly Capability[];
  /** `session`: signed in with a password (cookie); `token`: an API token */
  readonly via: 'session' | 'token';
  /** when this sign-in ends at the latest, ms since epoch; null: never (a token without expiry) */
  readonly expiresAt: number | null;
  /** the dashboard language this user chose (PUT /api/me/language); null: not chosen, follow the browser */
  readonly language: Language | null;
}

/** The dashboard's languages: English and Traditional Chinese. */
export const LANGUAGES = ['en', 'zh-Hant'] as const;
export type Language = (typeof LANGUAGES)[number];

/** PUT /api/me/language */
export interface LanguageRequest {
  readonly language: Language;
}

/** POST /api/me/password */
export interface PasswordChangeRequest {
  readonly currentPassword: string;
  readonly newPassword: string;
}

/** A user as the API shows it: never a password or its hash. */
export interface UserView {
  readonly username: string;
  readonly displayName: string | null;
  readonly role: Role;
  readonly disabled: boolean;
  /** who created it: `first-run`, `config`, `demo` or `admin` */
  readonly origin: string;
  readonly createdAt: number;
  readonly passwordChangedAt: number;
  readonly lastLoginAt: number | null;
}

/** GET /api/users */
export interface UsersResponse {
  readonly users: readonly UserView[];
}

/** POST /api/users */
export interface CreateUserRequest {
  readonly username: string;
  readonly role: Role;
  readonly password: string;
  readonly displayName?: string | null;
}

/** PATCH /api/users/:username: at least one field */
export interface UpdateUserRequest {
  readonly role?: Role;
  /** a new password; ends the user's sign-ins */
  readonly password?: string;
  /** true ends the user's sign-ins and stops their tokens */
  readonly disabled?: boolean;
  readonly displayName?: string | null;
}

/** An API token as listed: never the token itself. */
export interface TokenView {
  readonly id: number;
  readonly name: string;
  /** the owner */
  readonly username: string;
  readonly role: Role;
  /** the token's first characters, to tell tokens apart */
  readonly hint: string;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
}

/** GET /api/tokens */
export interface TokensResponse {
  readonly tokens: readonly TokenView[];
}

/** POST /api/tokens */
export interface CreateTokenRequest {
  readonly name: string;
  /** default: the owner's role; never above the creator's or the owner's */
  readonly role?: Role;
  /** the owner; default the caller (only an admin names someone else) */
  readonly username?: string;
  /** default 365; null: never expires */
  readonly expiresInDays?: number | null;
}

/** The answer to POST /api/tokens: the only time the token is shown. */
export interface CreatedToken extends TokenView {
  /** send as `Authorization: Bearer <token>` */
  readonly token: string;
}

/** WebSocket close code when the sign-in of a live client ends (signed out, expired, disabled, revoked). */
export const LIVE_CLOSE_SIGNED_OUT = 4401;
