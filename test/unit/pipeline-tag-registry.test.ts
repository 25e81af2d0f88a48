import { describe, expect, it } from 'vitest';
import { PlantConfig, type PlantConfigInput } from '../../config/schema.js';
import { PipelineError, TagRegistry, type TagInfo } from '../../gateway/pipeline/index.js';

const input: PlantConfigInput = {
  site: { id: 'site', name: 'Site', timezone: 'Asia/Hong_Kong' },
  areas: [{ id: 'a1', name: 'Area 1' }],
  lines: [
    {
      id: 'line1',
      name: 'Line 1',
      area: 'a1',
      outputMachine: 'm1',
      calendar: 'cal',
      energy: { kwhTag: 'line1.kwh' },
      machines: [
        {
          id: 'm1',
          name: 'Press',
          idealCycleTimeS: 10,
          state: { tag: 'm1.state', map: { '1': 'running' }, reasonTag: 'm1.reason' },
          counters: { total: 'm1.total', good: 'm1.good' },
          energy: { kwTag: 'm1.kw' },
        },
      ],
    },
  ],
  devices: [
    {
      protocol: 'modbus-tcp',
      id: 'plc1',
      host: '127.0.0.1',
      pollGroups: { default: 1000, fast: 200 },
      tags: [
        { id: 'm1.state', address: 'hr:0' },
        { id: 'm1.reason', address: 'hr:1' },
        { id: 'm1.total', address: 'hr:2', type: 'uint32' },
        { id: 'm1.good', address: 'hr:4', type: 'uint32' },
        {
          id: 'm1.temp',
          address: 'hr:6',
          type: 'int16',
          scale: 0.1,
          offset: -5,
          deadband: 0.5,
          unit: '°C',
          pollGroup: 'fast',
          name: 'Die temperature',
        },
      ],
    },
    {
      protocol: 'opcua',
      id: 'cnc',
      enabled: false,
      endpointUrl: 'opc.tcp://127.0.0.1:4840',
      publishingIntervalMs: 500,
      samplingIntervalMs: 250,
      tags: [
        { id: 'm1.kw', nodeId: 'ns=2;s=kw', type: 'float32' },
        { id: 'cnc.mode', nodeId: 'ns=2;s=mode', samplingIntervalMs: 2000 },
      ],
    },
    {
      protocol: 'mqtt',
      id: 'meter',
      url: 'mqtt://127.0.0.1:1883',
      staleAfterMs: 30_000,
      tags: [{ id: 'line1.kwh', topic: 'meter/kwh' }],
    },
  ],
  calendars: [{ id: 'cal', shifts: [{ id: 's1', start: '07:00', end: '19:00' }] }],
};

describe('TagRegistry.fromConfig', () => {
  const registry = TagRegistry.fromConfig(PlantConfig.parse(input));

  it('lists every tag of every device', () => {
    expect(registry.size).toBe(8);
    expect(registry.forDevice('plc1').map((t) => t.id)).toEqual([
      'm1.state',
      'm1.reason',
      'm1.total',
      'm1.good',
      'm1.temp',
    ]);
    expect(registry.get('nope')).toBeUndefined();
  });

  it('carries scaling, deadband, unit, type and name', () => {
    const t = registry.get('m1.temp') as TagInfo;
    expect(t).toMatchObject({
      deviceId: 'plc1',
      protocol: 'modbus-tcp',
      name: 'Die temperature',
      unit: '°C',
      type: 'int16',
      scale: 0.1,
      offset: -5,
      deadband: 0.5,
      expectedIntervalMs: 200,
      staleAfterMs: undefined,
      enabled: true,
    });
    expect(t.role).toBeUndefined();
    expect(registry.get('m1.state')).toMatchObject({
      name: 'm1.state',
      type: 'uint16',
      scale: 1,
      offset: 0,
      deadband: 0,
    });
  });

  it('derives machine and line roles', () => {
    expect(registry.get('m1.state')).toMatchObject({ lineId: 'line1', machineId: 'm1', role: 'state' });
    expect(registry.get('m1.reason')).toMatchObject({ role: 'state.reason' });
    expect(registry.get('m1.total')).toMatchObject({ role: 'counter.total' });
    expect(registry.get('m1.good')).toMatchObject({ role: 'counter.good' });
    expect(registry.get('m1.kw')).toMatchObject({ lineId: 'line1', machineId: 'm1', role: 'energy.kw' });
    const kwh = registry.get('line1.kwh') as TagInfo;
    expect(kwh).toMatchObject({ lineId: 'line1', role: 'energy.kwh' });
    expect(kwh.machineId).toBeUndefined();
    expect(kwh.references).toEqual([{ lineId: 'line1', role: 'energy.kwh' }]);
  });

  it('derives the expected interval per protocol', () => {
    expect(registry.get('m1.state')?.expectedIntervalMs).toBe(1000);
    expect(registry.get('m1.kw')).toMatchObject({ expectedIntervalMs: 500, enabled: false, type: 'float32' });
    expect(registry.get('cnc.mode')).toMatchObject({ expectedIntervalMs: 2000, type: undefined });
    expect(registry.get('line1.kwh')).toMatchObject({
      expectedIntervalMs: undefined,
      staleAfterMs: 30_000,
      type: 'float64',
    });
  });

  it('refuses duplicate tag ids with a coded error naming them', () => {
    const t = registry.get('m1.state') as TagInfo;
    try {
      new TagRegistry([t, { ...t, deviceId: 'plc2' }]);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PipelineError);
      expect((err as PipelineError).code).toBe('GL_ERR_PIPELINE_DUPLICATE_TAG');
      expect((err as Error).message).toContain('"m1.state" (devices "plc1" and "plc2")');
    }
  });
});
