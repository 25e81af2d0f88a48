export type { StoredQuality, StoredSample, StoredValue, StoreLog } from './codec.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export type { HistoryPoint } from './history.js';
export { LATEST_VERSION, MIGRATIONS, type Migration } from './migrations.js';
export {
  type SampleBatchTarget,
  SampleWriter,
  type SampleWriterOptions,
  type SampleWriterStats,
} from './sample-writer.js';
export {
  type MetricsRow,
  type PruneResult,
  type RollupRow,
  type TagRollupRow,
  SqliteStore,
  type SqliteStoreOptions,
  type StoredEvent,
  type StoredRow,
  type StoreStats,
} from './sqlite-store.js';
export {
  type AlarmAuditQuery,
  type AlarmAuditRow,
  AlarmStore,
  type AlarmStoreOptions,
  diskUsedPercent,
} from './alarm-store.js';
export { OPEN_GATE, type WriteGate } from './write-gate.js';
