/**
 * What the server derives once from the plant config: the public plant view
 * (built field by field from an allow-list, so credentials and endpoints can
 * never leak by being added to the schema later) and the lookups the routes
 * and the live hub need: tag metadata, and which tags belong to which
 * machine and line.
 */
import type { Device, Line, Machine, PlantConfig } from '../../config/schema.js';
import type {
  CarbonFactorView,
  DeviceView,
  LineView,
  MachineStateName,
  MachineView,
  PlantView,
  TagRef,
  TagView,
} from './contract.js';
import { factorYear } from './energy-export.js';

export interface PlantIndex {
  readonly view: PlantView;
  readonly tags: ReadonlyMap<string, TagView>;
  /** tag ids referenced by each machine's role fields */
  readonly machineTags: ReadonlyMap<string, ReadonlySet<string>>;
  /** tag ids of each line: its machines' tags and its own energy tags */
  readonly lineTags: ReadonlyMap<string, ReadonlySet<string>>;
}

function expectedIntervalMs(device: Device, tag: Device['tags'][number]): number {
  switch (device.protocol) {
    case 'modbus-tcp':
    case 'modbus-rtu': {
      const group = 'pollGroup' in tag ? tag.pollGroup : 'default';
      return device.pollGroups[group] ?? device.pollGroups.default ?? 1000;
    }
    case 'opcua': {
      const sampling = ('samplingIntervalMs' in tag ? tag.samplingIntervalMs : undefined) ?? device.samplingIntervalMs;
      return Math.max(sampling, device.publishingIntervalMs);
    }
    case 'mqtt':
      return Math.round(device.staleAfterMs / 3);
  }
}

function tagView(device: Device, tag: Device['tags'][number]): TagView {
  return {
    id: tag.id,
    name: tag.name ?? tag.id,
    unit: tag.unit ?? null,
    type: tag.type ?? null,
    description: tag.description ?? null,
    deviceId: device.id,
    expectedIntervalMs: expectedIntervalMs(device, tag),
  };
}

function deviceView(device: Device): DeviceView {
  return {
    id: device.id,
    name: device.name ?? device.id,
    protocol: device.protocol,
    enabled: device.enabled,
    tags: device.tags.map((t) => tagView(device, t)),
  };
}

function machineRefs(m: Machine): TagRef[] {
  const refs: TagRef[] = [];
  const add = (tagId: string | undefined, role: TagRef['role']) => {
    if (tagId !== undefined) refs.push({ tagId, role });
  };
  add(m.state?.tag, 'state');
  add(m.state?.reasonTag, 'stopReason');
  add(m.counters?.total, 'countTotal');
  add(m.counters?.good, 'countGood');
  add(m.counters?.reject, 'countReject');
  add(m.energy?.kwhTag, 'energyKwh');
  add(m.energy?.kwTag, 'energyKw');
  return refs;
}

function machineView(m: Machine): MachineView {
  let stateMap: Record<string, MachineStateName> | null = null;
  const stateReasons: Record<string, string> = {};
  if (m.state) {
    stateMap = {};
    for (const [raw, mapped] of Object.entries(m.state.map)) {
      stateMap[raw] = typeof mapped === 'string' ? mapped : mapped.state;
      if (typeof mapped !== 'string' && mapped.reason !== undefined) stateReasons[raw] = mapped.reason;
    }
  }
  return {
    id: m.id,
    name: m.name,
    idealCycleTimeS: m.idealCycleTimeS,
    tags: machineRefs(m),
    stateMap,
    reasons: { ...(m.state?.reasons ?? {}) },
    stateReasons,
  };
}

/** the factors of the tables that price a line's energy: its own tables, else the site's */
function carbonFactors(config: PlantConfig, line: Line): CarbonFactorView[] {
  const out: CarbonFactorView[] = [];
  for (const tableId of line.carbonTables ?? config.site.carbonTables) {
    const table = config.carbonTables.find((t) => t.id === tableId);
    if (!table) continue;
    for (const f of table.factors) {
      out.push({
        table: table.id,
        tableName: table.name ?? table.id,
        from: f.from,
        to: f.to ?? null,
        kgCO2ePerKwh: f.kgCO2ePerKwh,
        source: f.source,
        year: factorYear(f.source, f.from),
        method: f.method,
      });
    }
  }
  return out;
}

function lineView(line: Line, config: PlantConfig): LineView {
  const tags: TagRef[] = [];
  if (line.energy?.kwhTag !== undefined) tags.push({ tagId: line.energy.kwhTag, role: 'energyKwh' });
  if (line.energy?.kwTag !== undefined) tags.push({ tagId: line.energy.kwTag, role: 'energyKw' });
  return {
    id: line.id,
    name: line.name,
    area: line.area,
    outputMachine: line.outputMachine,
    machines: line.machines.map(machineView),
    tags,
    carbonFactors: carbonFactors(config, line),
  };
}

export function buildPlantIndex(config: PlantConfig): PlantIndex {
  const view: PlantView = {
    site: { id: config.site.id, name: config.site.name, timezone: config.site.timezone },
    areas: config.areas.map((a) => ({ id: a.id, name: a.name })),
    lines: config.lines.map((line) => lineView(line, config)),
    devices: config.devices.map(deviceView),
  };

  const tags = new Map<string, TagView>();
  for (const d of view.devices) for (const t of d.tags) tags.set(t.id, t);

  const machineTags = new Map<string, Set<string>>();
  const lineTags = new Map<string, Set<string>>();
  for (const line of view.lines) {
    const ofLine = new Set(line.tags.map((r) => r.tagId));
    for (const m of line.machines) {
      const ofMachine = machineTags.get(m.id) ?? new Set<string>();
      for (const r of m.tags) {
        ofMachine.add(r.tagId);
        ofLine.add(r.tagId);
      }
      machineTags.set(m.id, ofMachine);
    }
    lineTags.set(line.id, ofLine);
  }
  return { view, tags, machineTags, lineTags };
}
