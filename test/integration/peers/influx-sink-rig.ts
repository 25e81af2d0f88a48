/**
 * The InfluxDB sink wired as the gateway wires it (tag registry → pipeline →
 * sink, plant context from the config), for the sink's tests, its crash-test
 * child process and its benchmark. Samples are made with increasing values
 * and times, so report-on-change forwards each one and each has its own key.
 */
import { PlantConfig, type PlantConfigInput } from '../../../config/schema.js';
import { Pipeline, TagRegistry } from '../../../gateway/pipeline/index.js';
import { InfluxDbSink, type InfluxDbSinkOptions, plantContext } from '../../../gateway/sinks/index.js';

export interface Recorded {
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly obj: Record<string, unknown>;
}

/** A logger that keeps what it is told (and prints errors when `echo` is set). */
export function recordingLog(echo = false): {
  lines: Recorded[];
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
} {
  const lines: Recorded[] = [];
  const put = (level: Recorded['level']) => (obj: object, msg?: string) => {
    lines.push({ level, msg: msg ?? '', obj: obj as Record<string, unknown> });
    if (echo && level !== 'info') process.stderr.write(`${level}: ${msg} ${JSON.stringify(obj)}\n`);
  };
  return { lines, info: put('info'), warn: put('warn'), error: put('error') };
}

/** A plant with one line, one machine and `tags` float tags on one device (never polled: no driver runs). */
export function rigPlant(tags = 10): PlantConfigInput {
  return {
    site: { id: 'plant-hk', name: 'Plant', timezone: 'Asia/Hong_Kong' },
    areas: [{ id: 'assembly', name: 'Assembly' }],
    lines: [
      {
        id: 'line1',
        name: 'Line 1',
        area: 'assembly',
        outputMachine: 'press1',
        calendar: 'cal',
        machines: [{ id: 'press1', name: 'Press', idealCycleTimeS: 10, counters: { total: 't0', good: 't1' } }],
      },
    ],
    devices: [
      {
        protocol: 'modbus-tcp',
        id: 'plc1',
        host: '127.0.0.1',
        port: 1,
        pollGroups: { default: 1000 },
        tags: Array.from({ length: tags }, (_, i) => ({
          id: `t${i}`,
          address: `hr:${2 * i}`,
          type: 'float32' as const,
        })),
      },
    ],
    calendars: [{ id: 'cal', shifts: [{ id: 's1', start: '00:00', end: '23:59' }] }],
  };
}

export interface Rig {
  readonly config: PlantConfig;
  readonly pipeline: Pipeline;
  readonly sink: InfluxDbSink;
  /** hands sample i (0-based) of the stream, for i in [from, to), to the pipeline in one batch */
  emit(from: number, to: number): void;
}

export type RigSinkOptions = Omit<
  InfluxDbSinkOptions,
  'plant' | 'log' | 'batchSize' | 'flushIntervalMs' | 'outboxMaxMb'
> &
  Partial<Pick<InfluxDbSinkOptions, 'batchSize' | 'flushIntervalMs' | 'outboxMaxMb' | 'log'>>;

/**
 * Sample i is tag `t(i mod tags)` at `base + i` ms with value i: every sample
 * has its own time, so InfluxDB keeps each one apart.
 */
export function buildRig(sinkOptions: RigSinkOptions, base: number, tags = 10): Rig {
  const config = PlantConfig.parse(rigPlant(tags));
  const registry = TagRegistry.fromConfig(config);
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const pipeline = new Pipeline({ registry, log: quiet, heartbeatMs: 60_000 });
  const sink = new InfluxDbSink({
    batchSize: 5000,
    flushIntervalMs: 1000,
    outboxMaxMb: 512,
    log: quiet,
    ...sinkOptions,
    plant: plantContext(config, (tagId) => {
      const t = registry.get(tagId);
      return t && { device: t.deviceId, line: t.lineId, machine: t.machineId };
    }),
  });
  pipeline.subscribe(sink.onSamples, 'influxdb');
  return {
    config,
    pipeline,
    sink,
    emit(from, to) {
      const batch = [];
      for (let i = from; i < to; i++)
        batch.push({ tagId: `t${i % tags}`, ts: base + i, value: i, quality: 'good' as const });
      pipeline.ingest(batch);
    },
  };
}
