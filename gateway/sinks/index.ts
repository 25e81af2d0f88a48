export { messageOf, SinkError, type SinkErrorCode, type SinkLog } from './errors.js';
export { InfluxClient, type InfluxClientOptions, type WriteOutcome } from './influx/client.js';
export {
  InfluxDbSink,
  type InfluxDbSinkOptions,
  type InfluxSinkState,
  type InfluxSinkStatus,
  type SinkAlarm,
} from './influx/influx-sink.js';
export {
  encodeEvent,
  encodeMinute,
  type InfluxPlantContext,
  MEASUREMENT,
  METRICS_FIELDS,
  type MetricsBatch,
  plantContext,
  SampleEncoder,
  type TagPlace,
} from './influx/line-protocol.js';
export {
  type AppendResult,
  OUTBOX_ROW_OVERHEAD_BYTES,
  Outbox,
  type OutboxOptions,
  type OutboxPoint,
  type OutboxStats,
} from './outbox.js';
export {
  MqttNorthSink,
  type MqttNorthSinkOptions,
  type MqttSinkState,
  type MqttSinkStatus,
} from './mqtt/mqtt-sink.js';
export { QUALITY_CODE, SparkplugEdgeNode, type SparkplugIds } from './mqtt/sparkplug-node.js';
export {
  type NorthPlantContext,
  type NorthTagInfo,
  northPlantContext,
  type OutboxRecord,
  topicLevel,
  UnsEncoder,
} from './mqtt/uns.js';
