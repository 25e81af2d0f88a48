import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../config/errors.js';
import { loadConfigFile, loadConfigText } from '../../config/loader.js';
import { parseModbusAddress } from '../../config/modbus-address.js';

const base = () => ({
  site: { id: 'site1', name: 'Test site', timezone: 'Asia/Hong_Kong' },
  areas: [{ id: 'a1', name: 'Area 1' }],
  lines: [
    {
      id: 'line1',
      name: 'Line 1',
      area: 'a1',
      outputMachine: 'm1',
      calendar: 'cal',
      machines: [
        {
          id: 'm1',
          name: 'Machine 1',
          idealCycleTimeS: 10,
          state: { tag: 'm1.state', map: { '1': 'running', '0': 'offline' } },
          counters: { total: 'm1.total', good: 'm1.good' },
        },
      ],
    },
    {
      id: 'line2',
      name: 'Line 2',
      area: 'a1',
      outputMachine: 'm2',
      calendar: 'cal',
      machines: [
        { id: 'm2', name: 'Machine 2', idealCycleTimeS: 5, counters: { total: 'm1.total', reject: 'm1.good' } },
      ],
    },
  ],
  devices: [
    {
      id: 'plc1',
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      port: 502,
      tags: [
        { id: 'm1.state', address: 'hr:0' },
        { id: 'm1.total', address: 'hr:2', type: 'uint32' },
        { id: 'm1.good', address: '40005', type: 'uint32' },
        { id: 'm1.model', address: 'hr:10', type: 'string', length: 4 },
      ],
    },
  ],
  calendars: [{ id: 'cal', shifts: [{ id: 'day', start: '07:00', end: '19:00' }] }],
});

type Doc = ReturnType<typeof base> & Record<string, unknown>;

function problemsOf(mutate: (d: Doc) => void, env: Record<string, string> = {}) {
  const doc = base() as Doc;
  mutate(doc);
  try {
    loadConfigText(JSON.stringify(doc), { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => ({ path: p.path, message: p.message }));
  }
  throw new Error('expected the config to be refused');
}

describe('config loader: valid files', () => {
  it('accepts the minimal plant, applies defaults and freezes the result', () => {
    const config = loadConfigText(JSON.stringify(base()), { env: {} });
    expect(config.devices[0]!.protocol).toBe('modbus-tcp');
    const plc = config.devices[0]!;
    if (plc.protocol !== 'modbus-tcp') throw new Error('unreachable');
    expect(plc.maxRegistersPerRead).toBe(125);
    expect(plc.tags[2]!.address).toEqual({ area: 'holding-register', offset: 4, text: '40005' });
    expect(config.store.path).toBe('data/greenline.db');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.lines[0]!.machines[0])).toBe(true);
    expect(() => {
      (config.site as { name: string }).name = 'changed';
    }).toThrow(TypeError);
  });

  it('loads the demo plant', () => {
    const config = loadConfigFile(new URL('../../config/demo-plant.yaml', import.meta.url).pathname, { env: {} });
    expect(config.lines.map((l) => l.id)).toEqual(['line1', 'line2']);
    expect(new Set(config.devices.map((d) => d.protocol))).toEqual(new Set(['modbus-tcp', 'opcua', 'mqtt']));
    expect(config.store.path.endsWith('/data/demo.db')).toBe(true);
  });

  it('substitutes ${ENV} with defaults and coerces numbers', () => {
    const text = readFileSync(new URL('../../config/demo-plant.yaml', import.meta.url), 'utf8');
    const config = loadConfigText(text, { env: { GL_SIM_LINE1_PLC_PORT: '15020', GL_SIM_HOST: '127.0.0.2' } });
    const plc = config.devices.find((d) => d.id === 'line1-plc');
    expect(plc).toMatchObject({ host: '127.0.0.2', port: 15020 });
    expect(config.devices.find((d) => d.id === 'line1-meter')).toMatchObject({ port: 5022 });
  });

  it('reads YAML and reports lines for problems', () => {
    const yaml = [
      'site: { id: s, name: S, timezone: Asia/Hong_Kong }',
      'areas: [{ id: a, name: A }]',
      'lines:',
      '  - id: l',
      '    name: L',
      '    area: a',
      '    outputMachine: m',
      '    calendar: c',
      '    machines:',
      '      - id: m',
      '        name: M',
      '        idealCycleTime: 3',
      'devices: [{ id: d, protocol: mqtt, url: "mqtt://127.0.0.1:1883", tags: [{ id: t, topic: x/y }] }]',
      'calendars: [{ id: c, shifts: [{ id: s1, start: "06:00", end: "14:00" }] }]',
    ].join('\n');
    let error: ConfigError | undefined;
    try {
      loadConfigText(yaml, { env: {} });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.code).toBe('GL_ERR_CONFIG');
    const typo = error?.problems.find((p) => p.path === 'lines[0].machines[0].idealCycleTime');
    expect(typo).toMatchObject({ message: 'unknown key "idealCycleTime"', line: 12 });
    expect(typo?.hint).toContain('did you mean "idealCycleTimeS"?');
    expect(error?.problems.find((p) => p.path === 'lines[0].machines[0].idealCycleTimeS')?.message).toBe('is required');
  });
});

describe('config loader: every broken config names its path and problem', () => {
  const cases: [string, (d: Doc) => void, Record<string, string>, { path: string; message: string }][] = [
    [
      'unknown key (typo)',
      (d) => {
        (d.site as Record<string, unknown>).timeZone = 'x';
      },
      {},
      { path: 'site.timeZone', message: 'unknown key "timeZone"' },
    ],
    [
      'bad timezone',
      (d) => {
        d.site.timezone = 'Asia/Hongkong_City';
      },
      {},
      { path: 'site.timezone', message: 'must be an IANA timezone such as "Asia/Hong_Kong"' },
    ],
    [
      'machine counter pointing at a missing tag',
      (d) => {
        (d.lines[1]!.machines[0]!.counters as Record<string, string>).reject = 'm1.goood';
      },
      {},
      { path: 'lines[1].machines[0].counters.reject', message: 'unknown tag "m1.goood"' },
    ],
    [
      'duplicate tag id',
      (d) => {
        d.devices[0]!.tags.push({ id: 'm1.total', address: 'hr:20', type: 'uint32' });
      },
      {},
      { path: 'devices[0].tags[4].id', message: 'duplicate tag id "m1.total"' },
    ],
    [
      'shift ending when it starts',
      (d) => {
        d.calendars[0]!.shifts[0]!.end = '07:00';
      },
      {},
      { path: 'calendars[0].shifts[0].end', message: 'a shift cannot end when it starts' },
    ],
    [
      'ideal cycle time of zero',
      (d) => {
        d.lines[0]!.machines[0]!.idealCycleTimeS = 0;
      },
      {},
      { path: 'lines[0].machines[0].idealCycleTimeS', message: 'ideal cycle time must be greater than 0 seconds' },
    ],
    [
      'only one counter',
      (d) => {
        d.lines[0]!.machines[0]!.counters = { good: 'm1.good' } as never;
      },
      {},
      {
        path: 'lines[0].machines[0].counters',
        message: 'give at least two of total, good and reject (the third is derived)',
      },
    ],
    [
      'output machine of another line',
      (d) => {
        d.lines[1]!.outputMachine = 'm1';
      },
      {},
      { path: 'lines[1].outputMachine', message: '"m1" is not a machine of line "line2"' },
    ],
    [
      'unknown protocol',
      (d) => {
        (d.devices[0] as Record<string, unknown>).protocol = 'modbus';
      },
      {},
      { path: 'devices[0].protocol', message: 'must be one of: modbus-tcp, modbus-rtu, opcua, mqtt' },
    ],
    [
      'ambiguous Modbus address',
      (d) => {
        d.devices[0]!.tags[0]!.address = '52';
      },
      {},
      {
        path: 'devices[0].tags[0].address',
        message:
          '"52" is not a Modbus address: write a wire offset with its area (hr:0, ir:0x34, coil:5, di:3) or a 1-based manual number (40001, 30053, 400001)',
      },
    ],
    [
      'string tag without a length',
      (d) => {
        delete (d.devices[0]!.tags[3] as Record<string, unknown>).length;
      },
      {},
      {
        path: 'devices[0].tags[3].length',
        message: 'a string tag needs `length`, its size in registers (2 characters each)',
      },
    ],
    [
      'unknown poll group',
      (d) => {
        (d.devices[0]!.tags[1] as Record<string, unknown>).pollGroup = 'fast';
      },
      {},
      { path: 'devices[0].tags[1].pollGroup', message: 'unknown poll group "fast"' },
    ],
    [
      'missing environment variable',
      (d) => {
        d.devices[0]!.host = '${PLC_HOST}';
      },
      {},
      { path: 'devices[0].host', message: 'environment variable PLC_HOST is not set' },
    ],
    [
      'port out of range',
      (d) => {
        d.devices[0]!.port = 70000;
      },
      {},
      { path: 'devices[0].port', message: 'Too big: expected number to be <=65535' },
    ],
    [
      'line in an unknown area',
      (d) => {
        d.lines[0]!.area = 'a2';
      },
      {},
      { path: 'lines[0].area', message: 'unknown area "a2"' },
    ],
    [
      'overlapping carbon factors',
      (d) => {
        d.carbonTables = [
          {
            id: 'grid',
            factors: [
              { from: '2024-01-01', to: '2024-12-31', kgCO2ePerKwh: 0.7, source: 'Gov 2024', method: 'location' },
              { from: '2024-06-01', kgCO2ePerKwh: 0.6, source: 'Gov 2025', method: 'location' },
            ],
          },
        ];
      },
      {},
      {
        path: 'carbonTables[0].factors[1]',
        message: 'location-based factor 2024-06-01…open overlaps factors[0] (2024-01-01…2024-12-31)',
      },
    ],
    [
      'counter on a string tag',
      (d) => {
        (d.lines[0]!.machines[0]!.counters as Record<string, string>).good = 'm1.model';
      },
      {},
      {
        path: 'lines[0].machines[0].counters.good',
        message: 'tag "m1.model" is of type string, but a good counter needs a number',
      },
    ],
    [
      'bit-area tag with a numeric type',
      (d) => {
        d.devices[0]!.tags.push({ id: 'm1.lamp', address: 'coil:3', type: 'uint16' });
      },
      {},
      {
        path: 'devices[0].tags[4].type',
        message: 'coil addresses hold single bits: type must be "bool", not "uint16"',
      },
    ],
  ];

  for (const [name, mutate, env, expected] of cases) {
    it(name, () => {
      expect(problemsOf(mutate, env)).toContainEqual(expected);
    });
  }

  it('lists every problem at once', () => {
    const problems = problemsOf((d) => {
      d.site.timezone = 'Nowhere/Special';
      d.lines[0]!.area = 'zz';
      d.calendars[0]!.shifts[0]!.end = '07:00';
      (d.lines[1]!.machines[0]!.counters as Record<string, string>).reject = 'nope';
    });
    expect(problems.map((p) => p.path)).toEqual(
      expect.arrayContaining([
        'site.timezone',
        'lines[0].area',
        'calendars[0].shifts[0].end',
        'lines[1].machines[0].counters.reject',
      ]),
    );
  });

  it('refuses a file that is not YAML, and a missing file', () => {
    expect(() => loadConfigText('site: [unclosed', { env: {} })).toThrow(/GL_ERR_CONFIG_SYNTAX/);
    expect(() => loadConfigFile('/nonexistent/plant.yaml')).toThrow(/GL_ERR_CONFIG_READ/);
  });
});

describe('Modbus address notation', () => {
  it.each([
    ['hr:0', { area: 'holding-register', offset: 0 }],
    ['ir:0x0034', { area: 'input-register', offset: 0x34 }],
    ['30053', { area: 'input-register', offset: 52 }],
    ['300053', { area: 'input-register', offset: 52 }],
    ['40001', { area: 'holding-register', offset: 0 }],
    ['465536', { area: 'holding-register', offset: 65535 }],
    ['00001', { area: 'coil', offset: 0 }],
    ['10010', { area: 'discrete-input', offset: 9 }],
    ['hr:10.3', { area: 'holding-register', offset: 10, bit: 3 }],
    ['40011.15', { area: 'holding-register', offset: 10, bit: 15 }],
  ])('%s', (text, expected) => {
    const r = parseModbusAddress(text);
    expect(r.ok && r.address).toMatchObject(expected);
  });

  it.each(['52', '40000', 'hr:70000', 'xx:1', 'coil:1.2', 'hr:1.16', '', '2001'])('refuses %j', (text) => {
    expect(parseModbusAddress(text).ok).toBe(false);
  });
});

describe('config reference', () => {
  it('config/REFERENCE.md is generated from the current schema (npm run docs:config)', async () => {
    const { renderReference, REFERENCE_FILE } = await import('../../config/reference.js');
    expect(readFileSync(REFERENCE_FILE, 'utf8')).toBe(renderReference());
  });
});

describe('YAML anchors and aliases', () => {
  it('reports an alias to an anchor that does not exist as a syntax problem, not a crash', () => {
    let err: unknown;
    try {
      loadConfigText('site: *nowhere\n');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('GL_ERR_CONFIG_SYNTAX');
    expect((err as ConfigError).message).toMatch(/anchor|alias/i);
  });
});
