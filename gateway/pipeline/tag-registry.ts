import { OPCUA_MAX_KEEPALIVE_COUNT } from '../../protocols/opcua/values.js';
import type { DataType, Device, PlantConfig } from '../../config/schema.js';
import { PipelineError } from './errors.js';

/** What a tag means to a machine or line; the core keys its computations on these. */
export type TagRole =
  | 'state'
  | 'state.reason'
  | 'counter.total'
  | 'counter.good'
  | 'counter.reject'
  | 'energy.kwh'
  | 'energy.kw';

export interface TagReference {
  readonly lineId: string;
  /** absent for a line-level meter */
  readonly machineId?: string;
  readonly role: TagRole;
}

export interface TagInfo {
  readonly id: string;
  readonly deviceId: string;
  readonly protocol: Device['protocol'];
  /** the tag's name, its id when it has none */
  readonly name: string;
  readonly unit: string | undefined;
  /** declared data type; an OPC UA tag may leave it to the server */
  readonly type: DataType | undefined;
  readonly scale: number;
  readonly offset: number;
  readonly deadband: number;
  /** first machine or line that references the tag (see `references` for all of them) */
  readonly lineId?: string;
  readonly machineId?: string;
  readonly role?: TagRole;
  readonly references: readonly TagReference[];
  /** false when the device is disabled: no driver runs for it */
  readonly enabled: boolean;
  /** how often a sample is expected (Modbus poll group, OPC UA publishing/sampling interval) */
  readonly expectedIntervalMs: number | undefined;
  /** a fixed silence after which the tag is stale (MQTT `staleAfterMs`) */
  readonly staleAfterMs: number | undefined;
}

const NUMERIC_TYPES: ReadonlySet<DataType> = new Set<DataType>([
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'float32',
  'float64',
]);

export function isNumericType(type: DataType | undefined): boolean {
  return type !== undefined && NUMERIC_TYPES.has(type);
}

const DEFAULT_POLL_MS = 1000;

function timing(device: Device, tag: Device['tags'][number]): Pick<TagInfo, 'expectedIntervalMs' | 'staleAfterMs'> {
  switch (device.protocol) {
    case 'modbus-tcp':
    case 'modbus-rtu': {
      const group = 'pollGroup' in tag ? tag.pollGroup : 'default';
      const ms = device.pollGroups[group] ?? device.pollGroups.default ?? DEFAULT_POLL_MS;
      return { expectedIntervalMs: ms, staleAfterMs: undefined };
    }
    case 'opcua': {
      const sampling = ('samplingIntervalMs' in tag ? tag.samplingIntervalMs : undefined) ?? device.samplingIntervalMs;
      // Monitored items report changes only; the driver re-sends unchanged values on every
      // publish response, and a healthy subscription answers at least once per keep-alive period.
      const keepAliveMs = device.publishingIntervalMs * OPCUA_MAX_KEEPALIVE_COUNT;
      return { expectedIntervalMs: Math.max(device.publishingIntervalMs, sampling), staleAfterMs: 2 * keepAliveMs };
    }
    case 'mqtt':
      return { expectedIntervalMs: undefined, staleAfterMs: device.staleAfterMs };
  }
}

/**
 * Every tag of the plant, with what the pipeline needs to process its samples
 * and which machine or line role it plays. Built once from the validated config.
 */
export class TagRegistry {
  private readonly byId: ReadonlyMap<string, TagInfo>;
  private readonly byDevice: ReadonlyMap<string, readonly TagInfo[]>;

  constructor(tags: readonly TagInfo[]) {
    const byId = new Map<string, TagInfo>();
    const byDevice = new Map<string, TagInfo[]>();
    const duplicates: string[] = [];
    for (const tag of tags) {
      const first = byId.get(tag.id);
      if (first !== undefined) {
        duplicates.push(`"${tag.id}" (devices "${first.deviceId}" and "${tag.deviceId}")`);
        continue;
      }
      byId.set(tag.id, tag);
      const list = byDevice.get(tag.deviceId);
      if (list === undefined) byDevice.set(tag.deviceId, [tag]);
      else list.push(tag);
    }
    if (duplicates.length > 0) {
      throw new PipelineError(
        'GL_ERR_PIPELINE_DUPLICATE_TAG',
        `tag ids must be unique across all devices; rename these: ${duplicates.join(', ')}`,
      );
    }
    this.byId = byId;
    this.byDevice = byDevice;
  }

  static fromConfig(config: PlantConfig): TagRegistry {
    const refs = new Map<string, TagReference[]>();
    const add = (tagId: string | undefined, ref: TagReference): void => {
      if (tagId === undefined) return;
      const list = refs.get(tagId);
      if (list === undefined) refs.set(tagId, [ref]);
      else list.push(ref);
    };
    for (const line of config.lines) {
      add(line.energy?.kwhTag, { lineId: line.id, role: 'energy.kwh' });
      add(line.energy?.kwTag, { lineId: line.id, role: 'energy.kw' });
      for (const m of line.machines) {
        const at = { lineId: line.id, machineId: m.id };
        add(m.state?.tag, { ...at, role: 'state' });
        add(m.state?.reasonTag, { ...at, role: 'state.reason' });
        add(m.counters?.total, { ...at, role: 'counter.total' });
        add(m.counters?.good, { ...at, role: 'counter.good' });
        add(m.counters?.reject, { ...at, role: 'counter.reject' });
        add(m.energy?.kwhTag, { ...at, role: 'energy.kwh' });
        add(m.energy?.kwTag, { ...at, role: 'energy.kw' });
      }
    }

    const tags: TagInfo[] = [];
    for (const device of config.devices) {
      for (const tag of device.tags) {
        const references = refs.get(tag.id) ?? [];
        // machine references first: a tag a machine uses says more than a line meter
        const primary = references.find((r) => r.machineId !== undefined) ?? references[0];
        tags.push({
          id: tag.id,
          deviceId: device.id,
          protocol: device.protocol,
          name: tag.name ?? tag.id,
          unit: tag.unit,
          type: tag.type,
          scale: tag.scale,
          offset: tag.offset,
          deadband: tag.deadband,
          ...(primary === undefined
            ? {}
            : {
                lineId: primary.lineId,
                role: primary.role,
                ...(primary.machineId === undefined ? {} : { machineId: primary.machineId }),
              }),
          references,
          enabled: device.enabled,
          ...timing(device, tag),
        });
      }
    }
    return new TagRegistry(tags);
  }

  get(tagId: string): TagInfo | undefined {
    return this.byId.get(tagId);
  }

  has(tagId: string): boolean {
    return this.byId.has(tagId);
  }

  get size(): number {
    return this.byId.size;
  }

  all(): IterableIterator<TagInfo> {
    return this.byId.values();
  }

  forDevice(deviceId: string): readonly TagInfo[] {
    return this.byDevice.get(deviceId) ?? [];
  }
}
