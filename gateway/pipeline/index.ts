export { PipelineError, type PipelineErrorCode } from './errors.js';
export { LiveTable, type LiveListener, type LiveTableOptions, type LiveValue } from './live-table.js';
export {
  type BatchListener,
  DECODE_ERROR,
  Pipeline,
  type PipelineOptions,
  type PipelineStats,
  type ProcessedSample,
} from './pipeline.js';
export { StaleWatchdog, type StaleTarget, type StaleWatchdogOptions } from './stale-watchdog.js';
export { isNumericType, type TagInfo, type TagReference, TagRegistry, type TagRole } from './tag-registry.js';
export {
  MetricsService,
  type MetricsOutput,
  type MetricsServiceOptions,
  type MetricsServiceStats,
  type MetricsStorePort,
  metricsTagIds,
  rebuildOrigin,
} from './metrics-service.js';
export {
  AlarmService,
  type AlarmServiceHealth,
  type AlarmServiceLog,
  type AlarmServiceOptions,
  type AlarmStorePort,
  type SystemValues,
} from './alarm-service.js';
