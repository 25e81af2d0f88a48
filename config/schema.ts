/**
 * The plant model: the single source of truth for what greenline monitors.
 * Types are inferred from these schemas; nothing else declares them.
 *
 * Every object is strict (an unknown key is an error: a typo must not pass
 * silently). Cross-references between parts are checked in `validate.ts`.
 */
import { z } from 'zod';
import { parseModbusAddress } from './modbus-address.js';

// ---------- building blocks ----------

export const ID_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
export const id = () =>
  z
    .string()
    .regex(
      ID_PATTERN,
      'must start with a letter and use only letters, digits, ".", "_" and "-" (at most 64 characters)',
    );

/** Numbers may come from `${ENV}` substitution as strings: accept numeric strings. */
const numeric = <T extends z.ZodNumber>(n: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v), n);
const int = (min: number, max: number) => numeric(z.number().int().min(min).max(max));
const port = () => int(0, 65535);
const positive = () => numeric(z.number().positive());
const nonNegative = () => numeric(z.number().min(0));
const bool = () => z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const isValidTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const clock = () => z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a 24-hour time HH:MM, e.g. "07:00"');
const isoDate = () => z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');
/** A calendar date or an ISO 8601 date-time; date-times without an offset are read in the site's timezone. */
const dateOrDateTime = () =>
  z
    .string()
    .regex(
      /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/,
      'must be a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM[:SS][offset]',
    );

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

// ---------- devices and tags ----------

export const DATA_TYPES = [
  'bool',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'float32',
  'float64',
  'string',
] as const;
export const DataType = z.enum(DATA_TYPES);
export type DataType = z.infer<typeof DataType>;

/** Order of the four bytes A B C D of a 32-bit value (A = most significant) as they appear on the wire. */
export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export const WordOrder = z.enum(WORD_ORDERS);
export type WordOrder = z.infer<typeof WordOrder>;

const tagCommon = {
  id: id(),
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  unit: z.string().optional().describe('engineering unit shown to people, e.g. "°C", "kWh"'),
  scale: numeric(z.number().refine((n) => n !== 0, 'must not be 0'))
    .default(1)
    .describe('engineering value = raw × scale + offset'),
  offset: numeric(z.number()).default(0),
  deadband: nonNegative().default(0).describe('report-on-change threshold in engineering units; 0 = every change'),
};

export const ModbusAddress = z.string().transform((text, ctx) => {
  const parsed = parseModbusAddress(text);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  }
  return parsed.address;
});

export const ModbusTag = z
  .strictObject({
    ...tagCommon,
    address: ModbusAddress.describe(
      'area and offset: 0-based wire offsets `hr:0`, `ir:0x0034`, `coil:5`, `di:3`, `hr:10.3` (bit 3), or 1-based manual numbers `40001`, `30053`, `400001`, `40011.3`',
    ),
    type: DataType.default('uint16'),
    length: int(1, 125).optional().describe('string length in registers (2 characters each); required for `string`'),
    wordOrder: WordOrder.optional(),
    unitId: int(0, 255)
      .optional()
      .describe('unit id override for this tag (an RTU bus shares one connection between many unit ids)'),
    pollGroup: z.string().default('default'),
  })
  .superRefine((tag, ctx) => {
    const a = tag.address;
    const bitArea = a.area === 'coil' || a.area === 'discrete-input';
    if (bitArea && tag.type !== 'bool') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `${a.area} addresses hold single bits: type must be "bool", not "${tag.type}"`,
      });
    }
    if (a.bit !== undefined && tag.type !== 'bool') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: 'a bit-in-register address needs type "bool"' });
    }
    if (tag.type === 'string' && tag.length === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['length'],
        message: 'a string tag needs `length`, its size in registers (2 characters each)',
      });
    }
  });
export type ModbusTag = z.infer<typeof ModbusTag>;

const pollGroups = z
  .record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'poll group names are letters, digits, "_" and "-"'),
    int(10, 86_400_000),
  )
  .default({ default: 1000 });

const modbusCommon = {
  id: id(),
  name: z.string().optional(),
  enabled: bool().default(true),
  unitId: int(0, 255).default(1),
  timeoutMs: int(50, 60_000).default(1000),
  wordOrder: WordOrder.default('ABCD'),
  pollGroups: pollGroups.describe('poll group name → interval in ms'),
  maxRegistersPerRead: int(1, 125)
    .default(125)
    .describe('largest register block read in one request (Modbus allows 125; some devices take fewer)'),
  maxBitsPerRead: int(1, 2000).default(2000),
  maxGapRegisters: int(0, 124)
    .default(8)
    .describe('registers of gap that may be read through to merge two neighbouring blocks'),
  tags: z.array(ModbusTag).min(1, 'a device needs at least one tag'),
};

export const ModbusTcpDevice = z.strictObject({
  protocol: z.literal('modbus-tcp'),
  ...modbusCommon,
  host: z.string().min(1),
  port: port().default(502),
  maxInFlight: int(1, 16)
    .default(1)
    .describe('requests in flight at once on this connection (1 for devices that handle one at a time)'),
});

export const ModbusRtuDevice = z.strictObject({
  protocol: z.literal('modbus-rtu'),
  ...modbusCommon,
  transport: z
    .enum(['serial', 'tcp'])
    .default('serial')
    .describe('`serial`: a serial port; `tcp`: RTU framing over a TCP gateway (RTU over TCP)'),
  path: z.string().min(1).optional(),
  baudRate: int(300, 921_600).default(9600),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  host: z.string().min(1).optional(),
  port: port().optional(),
});

export const OpcuaTag = z
  .strictObject({
    ...tagCommon,
    nodeId: z
      .string()
      .regex(
        /^(ns=\d+;|nsu=[^;]+;)?(i=\d+|s=.+|g=[0-9a-fA-F-]{36}|b=[A-Za-z0-9+/=]+)$/,
        'must be an OPC UA node id such as "ns=2;s=Line2.CNC1.State" or "ns=0;i=2258"',
      )
      .optional()
      .describe('node id of the variable; `nsu=<namespace URI>;` is looked up on the server after each connect'),
    browsePath: z
      .string()
      .regex(
        /^(\/(\d+:)?([^/&]|&.)+)+$/,
        'must be a browse path from the Root folder such as "/Objects/1:Factory/1:Line2/1:CNC1/1:State"',
      )
      .optional()
      .describe(
        'browse names from the Root folder, each `ns:Name` (namespace 0 without a prefix); `&` escapes `/`, `:` and `&` in a name. Resolved after each connect. Give `nodeId` or `browsePath`',
      ),
    type: DataType.optional(),
    samplingIntervalMs: int(0, 3_600_000).optional(),
    queueSize: int(1, 10_000)
      .optional()
      .describe('values the server keeps between two publishes; default: enough for one publishing interval'),
    serverDeadband: z
      .strictObject({ type: z.enum(['absolute', 'percent']), value: nonNegative() })
      .optional()
      .describe(
        "DataChangeFilter applied by the server to raw values: `absolute` in raw units, `percent` of the variable's EURange (0 … 100); a filter the server refuses is dropped for that tag, with a warning",
      ),
  })
  .superRefine((tag, ctx) => {
    if ((tag.nodeId === undefined) === (tag.browsePath === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['nodeId'], message: 'give exactly one of `nodeId` or `browsePath`' });
    }
    if (tag.serverDeadband?.type === 'percent' && tag.serverDeadband.value > 100) {
      ctx.addIssue({ code: 'custom', path: ['serverDeadband', 'value'], message: 'a percent deadband is 0 … 100' });
    }
  });
export type OpcuaTag = z.infer<typeof OpcuaTag>;

export const OpcuaDevice = z.strictObject({
  protocol: z.literal('opcua'),
  id: id(),
  name: z.string().optional(),
  enabled: bool().default(true),
  endpointUrl: z
    .string()
    .regex(/^opc\.tcp:\/\/[^\s]+$/, 'must be an OPC UA endpoint such as "opc.tcp://10.0.0.5:4840"'),
  securityMode: z.enum(['None', 'Sign', 'SignAndEncrypt']).default('None'),
  securityPolicy: z.enum(['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']).default('None'),
  auth: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('anonymous') }),
      z.strictObject({ type: z.literal('username'), username: z.string().min(1), password: z.string() }),
      z.strictObject({
        type: z.literal('certificate'),
        certificateFile: z.string().min(1),
        privateKeyFile: z.string().min(1),
      }),
    ])
    .default({ type: 'anonymous' }),
  publishingIntervalMs: int(10, 3_600_000).default(1000),
  samplingIntervalMs: int(0, 3_600_000).default(500),
  timeoutMs: int(100, 120_000).default(10_000),
  trustUnknownServerCertificate: bool()
    .default(false)
    .describe(
      'trust a server certificate that is not trusted yet, and keep trusting it; off: it is refused and saved in `<dataDir>/opcua-pki/rejected/`, to be copied to `<dataDir>/opcua-pki/trusted/certs/` once checked',
    ),
  maxItemsPerCall: int(1, 100_000)
    .default(1000)
    .describe(
      "most monitored items or browse paths in one request; the server's own operation limits lower it further",
    ),
  tags: z.array(OpcuaTag).min(1, 'a device needs at least one tag'),
});

/** MQTT topic filter rules: `+` fills a whole level, `#` only the whole last level. */
const isTopicFilter = (t: string): boolean =>
  !t.includes('\u0000') &&
  t
    .split('/')
    .every((level, i, levels) => level === '+' || (level === '#' ? i === levels.length - 1 : !/[+#]/.test(level)));
/** Sparkplug group, edge node and device ids are single topic levels. */
const sparkplugId = () => z.string().regex(/^[^/+#]+$/, 'must be one topic level: no "/", "+" or "#"');
const mqttQos = () => z.union([z.literal(0), z.literal(1), z.literal(2)]);

export const MqttTag = z.strictObject({
  ...tagCommon,
  topic: z
    .string()
    .min(1)
    .refine(isTopicFilter, 'must be a topic or a filter: "+" fills a whole level, "#" only the whole last level')
    .optional()
    .describe(
      'format json: the topic, or a filter with `+` / `#` wildcards; a filter feeds the tag with the newest message on any topic it matches',
    ),
  qos: mqttQos().optional().describe("QoS of this tag's subscription (default: the device's `qos`)"),
  jsonPath: z
    .string()
    .regex(
      /^\$?\.?[A-Za-z0-9_-]+(\[\d+\])*(\.[A-Za-z0-9_-]+(\[\d+\])*)*$/,
      'must be a dotted path such as "flow.value" or "readings[0].v"',
    )
    .optional(),
  timestampPath: z
    .string()
    .optional()
    .describe('where the device timestamp sits (ms since epoch or ISO 8601); receive time when omitted or absent'),
  metric: z
    .string()
    .min(1)
    .optional()
    .describe('format sparkplug-b: the metric name as in the birth message, e.g. "Line2/CNC1/SpindleTemp"'),
  edgeNodeId: sparkplugId()
    .optional()
    .describe("format sparkplug-b: the metric's edge node (default: the device's `sparkplug.edgeNodeId`)"),
  deviceId: sparkplugId()
    .optional()
    .describe('format sparkplug-b: the Sparkplug device id; omitted for a metric of the edge node itself'),
  type: DataType.default('float64'),
});
export type MqttTag = z.infer<typeof MqttTag>;

export const MqttDevice = z
  .strictObject({
    protocol: z.literal('mqtt'),
    id: id(),
    name: z.string().optional(),
    enabled: bool().default(true),
    url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'must be a broker URL such as "mqtt://10.0.0.2:1883"'),
    clientId: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    tls: z
      .strictObject({
        ca: z
          .string()
          .min(1)
          .optional()
          .describe("CA certificate file (PEM) that signed the broker's certificate (default: the system's CAs)"),
        cert: z.string().min(1).optional().describe('client certificate file (PEM), for brokers that require one'),
        key: z.string().min(1).optional().describe('private key file (PEM) of the client certificate'),
        rejectUnauthorized: bool()
          .default(true)
          .describe('false accepts any broker certificate (a test bench, never a plant)'),
      })
      .optional()
      .describe('TLS files for an `mqtts://` or `wss://` URL'),
    cleanSession: bool()
      .default(true)
      .describe(
        'false: a persistent session; the broker keeps the subscriptions and queues QoS 1/2 messages while the gateway is away (needs a fixed `clientId`)',
      ),
    sessionExpirySeconds: int(0, 4_294_967_295)
      .default(3600)
      .describe('MQTT 5, persistent session: how long the broker keeps it after a disconnect'),
    qos: mqttQos().default(1),
    format: z.enum(['json', 'sparkplug-b']).default('json'),
    maxPayloadBytes: int(1, 268_435_455)
      .default(1_048_576)
      .describe('larger messages are dropped and counted, and their tags become bad'),
    sparkplug: z
      .strictObject({
        groupId: sparkplugId().describe('the Sparkplug group of the edge nodes'),
        edgeNodeId: sparkplugId().optional().describe('edge node of the tags that name none'),
        hostId: sparkplugId()
          .optional()
          .describe("publish this host application's STATE on `spBv1.0/STATE/<hostId>` (online, with an offline will)"),
        requestRebirth: bool()
          .default(true)
          .describe(
            'ask an edge node to rebirth (NCMD `Node Control/Rebirth`) after a seq gap, an unknown alias or data before its birth; false: never publish a command',
          ),
      })
      .optional()
      .describe('format sparkplug-b: the Sparkplug group (and default edge node) of the tags'),
    staleAfterMs: int(100, 86_400_000).default(30_000).describe('a tag with no update for this long is marked stale'),
    tags: z.array(MqttTag).min(1, 'a device needs at least one tag'),
  })
  .superRefine((d, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (!d.cleanSession && !d.clientId) {
      issue(['clientId'], 'a persistent session (cleanSession: false) needs a fixed clientId');
    }
    if (d.tls && !/^(mqtts|wss):/.test(d.url)) issue(['tls'], 'TLS settings need an mqtts:// or wss:// URL');
    if (d.tls && (d.tls.cert === undefined) !== (d.tls.key === undefined)) {
      issue(['tls'], 'a client certificate needs both `cert` and `key`');
    }
    if (d.format === 'json') {
      if (d.sparkplug) issue(['sparkplug'], 'sparkplug settings need format: sparkplug-b');
      d.tags.forEach((t, i) => {
        if (t.topic === undefined) issue(['tags', i, 'topic'], 'a tag of format json needs a topic');
        for (const key of ['metric', 'edgeNodeId', 'deviceId'] as const) {
          if (t[key] !== undefined) issue(['tags', i, key], `\`${key}\` is for format sparkplug-b`);
        }
      });
      return;
    }
    if (!d.sparkplug) {
      issue(['sparkplug'], 'format sparkplug-b needs `sparkplug: { groupId }`');
      return;
    }
    d.tags.forEach((t, i) => {
      if (t.metric === undefined) issue(['tags', i, 'metric'], 'a tag of format sparkplug-b needs a metric name');
      for (const key of ['topic', 'jsonPath', 'timestampPath', 'qos'] as const) {
        if (t[key] !== undefined) issue(['tags', i, key], `\`${key}\` is for format json`);
      }
      if (t.edgeNodeId === undefined && d.sparkplug?.edgeNodeId === undefined) {
        issue(['tags', i, 'edgeNodeId'], 'name the edge node here or in `sparkplug.edgeNodeId`');
      }
    });
  });

export const Device = z.discriminatedUnion('protocol', [ModbusTcpDevice, ModbusRtuDevice, OpcuaDevice, MqttDevice]);
export type Device = z.infer<typeof Device>;
export type ModbusTcpDevice = z.infer<typeof ModbusTcpDevice>;
export type ModbusRtuDevice = z.infer<typeof ModbusRtuDevice>;
export type OpcuaDevice = z.infer<typeof OpcuaDevice>;
export type MqttDevice = z.infer<typeof MqttDevice>;
export type Tag = Device['tags'][number];

// ---------- machines and lines ----------

export const MACHINE_STATES = ['running', 'idle', 'unplanned-stop', 'planned-stop', 'offline'] as const;
export const MachineState = z.enum(MACHINE_STATES);
export type MachineState = z.infer<typeof MachineState>;

export const StateMapping = z.union([MachineState, z.strictObject({ state: MachineState, reason: z.string().min(1) })]);

export const CounterWidth = z.union([z.literal(16), z.literal(32), z.literal(64)]);

export const EnergyMeter = z
  .strictObject({
    kwhTag: id().optional().describe('cumulative kWh register (preferred)'),
    kwTag: id().optional().describe('instantaneous kW, integrated when no kWh register exists'),
    maxIntegrationGapS: positive()
      .default(60)
      .describe('longest gap the kW integration bridges; beyond it the left value is held'),
  })
  .refine((e) => (e.kwhTag === undefined) !== (e.kwTag === undefined), 'give exactly one of kwhTag or kwTag');

export const Machine = z.strictObject({
  id: id(),
  name: z.string().min(1),
  idealCycleTimeS: numeric(z.number().gt(0, 'ideal cycle time must be greater than 0 seconds')).describe(
    "seconds per unit at the machine's ideal (nameplate) rate",
  ),
  state: z
    .strictObject({
      tag: id(),
      map: z
        .record(z.string(), StateMapping)
        .describe('raw value → machine state; unmapped raw values count as `offline` and are flagged'),
      reasonTag: id().optional().describe('optional tag whose value is a stop reason code'),
      reasons: z.record(z.string(), z.string()).default({}).describe('reason code → text'),
    })
    .optional(),
  counters: z
    .strictObject({
      total: id().optional(),
      good: id().optional(),
      reject: id().optional(),
      width: CounterWidth.default(32).describe("declared width of the device's counters, for rollover detection"),
    })
    .refine(
      (c) => [c.total, c.good, c.reject].filter((x) => x !== undefined).length >= 2,
      'give at least two of total, good and reject (the third is derived)',
    )
    .optional(),
  energy: EnergyMeter.optional().describe("the machine's own meter"),
  unitMassKg: positive().optional().describe('mass of one unit in kg, for scrap weight'),
  microstopThresholdS: nonNegative()
    .optional()
    .describe('minor-stop threshold for this machine; stops shorter than it are performance losses'),
});
export type Machine = z.infer<typeof Machine>;

export const Line = z.strictObject({
  id: id(),
  name: z.string().min(1),
  area: id(),
  outputMachine: id().describe("the machine whose good count is the line's output"),
  calendar: id(),
  carbonTables: z
    .array(id())
    .optional()
    .describe("carbon factor tables for this line's energy; defaults to the site's"),
  energy: EnergyMeter.optional().describe('a line-level meter (energy of the whole line)'),
  machines: z.array(Machine).min(1, 'a line needs at least one machine'),
});
export type Line = z.infer<typeof Line>;

// ---------- calendars ----------

export const Break = z.strictObject({ start: clock(), end: clock(), name: z.string().optional() });

export const Shift = z.strictObject({
  id: id(),
  name: z.string().optional(),
  start: clock().describe("local time in the site's timezone; a shift may end the next day (end < start)"),
  end: clock(),
  days: z
    .array(z.enum(WEEKDAYS))
    .min(1)
    .default([...WEEKDAYS]),
  breaks: z.array(Break).default([]),
});

export const PLANNED_STOP_REASONS = ['setup', 'changeover', 'break', 'no-order', 'maintenance', 'other'] as const;

export const PlannedStop = z.strictObject({
  from: dateOrDateTime(),
  to: dateOrDateTime(),
  reason: z.enum(PLANNED_STOP_REASONS),
  lines: z.array(id()).optional(),
  note: z.string().optional(),
});

export const Calendar = z.strictObject({
  id: id(),
  name: z.string().optional(),
  shifts: z.array(Shift).min(1, 'a calendar needs at least one shift'),
  plannedStops: z.array(PlannedStop).default([]),
  nonWorkingDays: z.array(isoDate()).default([]),
});
export type Calendar = z.infer<typeof Calendar>;

// ---------- carbon ----------

export const CarbonFactor = z.strictObject({
  from: isoDate().describe('first day the factor applies (inclusive)'),
  to: isoDate().optional().describe('last day the factor applies (inclusive); open-ended when omitted'),
  kgCO2ePerKwh: numeric(
    z.number().min(0).max(5, 'a grid factor above 5 kg CO2e/kWh is not plausible: check the unit (kg, not g)'),
  ),
  source: z.string().min(1, 'name the source and year, e.g. "CLP Power 2019"'),
  method: z.enum(['location', 'market']),
});

export const CarbonTable = z.strictObject({
  id: id(),
  name: z.string().optional(),
  factors: z.array(CarbonFactor).min(1),
});
export type CarbonTable = z.infer<typeof CarbonTable>;

// ---------- alarms ----------

const alarmCommon = {
  id: id(),
  priority: z.enum(['high', 'medium', 'low']).default('medium'),
  message: z.strictObject({ en: z.string().min(1), 'zh-Hant': z.string().min(1).optional() }),
  latched: bool().default(false),
  line: id().optional(),
  machine: id().optional(),
  onDelayS: nonNegative().default(0),
  offDelayS: nonNegative().default(0),
  reAlarmS: positive()
    .optional()
    .describe('re-announce when still active and unacknowledged after this long; off when omitted'),
  suppressInStates: z
    .array(MachineState)
    .min(1)
    .optional()
    .describe(
      "suppressed by design while the alarm's `machine` is in one of these states, e.g. [planned-stop, offline]: still evaluated, not announced",
    ),
};

/** Metrics an alarm can watch: fractions 0–1 for the ratios, kWh per unit for the energy intensities. */
export const ALARM_METRICS = [
  'oee',
  'availability',
  'performance',
  'quality',
  'kwh-per-good',
  'kwh-per-total',
  'idle-energy-share',
] as const;

/** Conditions of the gateway itself an alarm can watch. */
export const SYSTEM_SIGNALS = [
  'influx-backlog-points',
  'influx-outbox-alarm',
  'mqtt-outbox-alarm',
  'store-disk-used-percent',
] as const;

export const AlarmRule = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.enum(['high-high', 'high', 'low', 'low-low']),
    ...alarmCommon,
    tag: id(),
    limit: numeric(z.number()),
    deadband: nonNegative().default(0),
  }),
  z.strictObject({
    kind: z.literal('rate-of-change'),
    ...alarmCommon,
    tag: id(),
    limitPerS: positive().describe('engineering units per second, absolute'),
  }),
  z.strictObject({
    kind: z.enum(['equals', 'not-equals']),
    ...alarmCommon,
    tag: id(),
    value: z.union([z.number(), z.boolean(), z.string()]),
  }),
  z.strictObject({
    kind: z.literal('machine-state'),
    ...alarmCommon,
    machine: id(),
    state: MachineState,
    forS: nonNegative().default(0).describe('raise only when the state lasts at least this long'),
  }),
  z.strictObject({ kind: z.literal('device-comm-lost'), ...alarmCommon, device: id() }),
  z.strictObject({ kind: z.literal('tag-stale'), ...alarmCommon, tag: id() }),
  z
    .strictObject({
      kind: z.literal('metric'),
      ...alarmCommon,
      metric: z
        .enum(ALARM_METRICS)
        .describe(
          'the metric of `machine` (else of `line`) that is watched; oee, availability, performance, quality and idle-energy-share are fractions 0–1',
        ),
      window: z
        .enum(['last-hour', 'current-shift', 'today'])
        .default('last-hour')
        .describe('the window the metric is computed over'),
      when: z.enum(['above', 'below']).describe('raise when the metric goes above or below the limit'),
      limit: numeric(z.number()),
      deadband: nonNegative().default(0).describe('clears once the metric is back past the limit by this much'),
    })
    .refine((r) => r.machine !== undefined || r.line !== undefined, {
      message: 'name the `machine` or `line` whose metric is watched',
      path: ['machine'],
    }),
  z.strictObject({
    kind: z.literal('system'),
    ...alarmCommon,
    signal: z
      .enum(SYSTEM_SIGNALS)
      .describe(
        'influx-backlog-points: points waiting in the InfluxDB outbox; influx-outbox-alarm: 1 while the outbox is full and drops its oldest points, or cannot be used, else 0 (a built-in rule watches it whenever the sink is configured); mqtt-outbox-alarm: the same for the northbound MQTT sink; store-disk-used-percent: how full the disk holding the store is',
      ),
    limit: numeric(z.number()).describe('raise when the signal goes above this'),
    deadband: nonNegative().default(0).describe('clears once the signal is back below the limit by this much'),
  }),
]);
export type AlarmRule = z.infer<typeof AlarmRule>;

// ---------- store, sinks, server, users ----------

export const Store = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .default('data/greenline.db')
      .describe("SQLite file; relative paths are resolved against the config file's folder"),
    rawRetentionDays: positive().default(30),
    rollupRetentionDays: positive().default(730),
    batchMaxRows: int(1, 1_000_000)
      .default(50_000)
      .describe(
        'samples per store transaction at most; a transaction costs about one page write per tag it touches, so it should hold several samples per tag',
      ),
    batchMaxDelayMs: int(1, 60_000)
      .default(500)
      .describe(
        'longest a sample waits in memory for its transaction (live values do not wait for it); longer means fewer page writes',
      ),
  })
  .default({
    path: 'data/greenline.db',
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows: 50_000,
    batchMaxDelayMs: 500,
  });

export const InfluxSink = z.strictObject({
  url: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL such as "http://127.0.0.1:8086"'),
  database: z.string().min(1),
  retentionPolicy: z
    .string()
    .optional()
    .describe(
      "1.x: the retention policy (default: the database's default); 2.x/3.x v1-compatibility: the retention policy mapped to a bucket",
    ),
  username: z.string().optional(),
  password: z
    .string()
    .optional()
    .describe(
      'on InfluxDB 2.x/3.x an API token allowed to write; put it in the environment: `password: ${INFLUX_TOKEN}`',
    ),
  batchSize: int(1, 100_000).default(5000).describe('points per write request at most'),
  flushIntervalMs: int(10, 600_000)
    .default(1000)
    .describe('longest a point waits for its batch to fill before it is sent anyway'),
  outboxMaxMb: positive()
    .default(512)
    .describe(
      'disk quota of the outbox that keeps points until InfluxDB acknowledged them; when reached, the oldest points are dropped, counted and raised as a system alarm',
    ),
});

export const MqttNorthSink = z.strictObject({
  url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'must be a broker URL such as "mqtt://10.0.0.2:1883"'),
  topicPrefix: z
    .string()
    .min(1)
    .default('greenline')
    .describe(
      'first level(s) of the unified-namespace topics (the enterprise): `<topicPrefix>/<site>/<area>/<line>/<machine>/<tag>`',
    ),
  username: z.string().optional(),
  password: z.string().optional().describe('put it in the environment: `password: ${MQTT_PASSWORD}`'),
  sparkplug: z
    .strictObject({
      groupId: sparkplugId().describe('Sparkplug group id (`spBv1.0/<groupId>/…`)'),
      edgeNodeId: sparkplugId().describe('this gateway as a Sparkplug edge node; unique in the group'),
    })
    .optional()
    .describe('also publish as a Sparkplug B edge node: NBIRTH/NDEATH with bdSeq, a DBIRTH and DDATA per machine'),
  outboxMaxMb: positive()
    .default(256)
    .describe(
      'disk quota of the outbox that keeps records until the broker acknowledged them (PUBACK); when reached, the oldest records are dropped, counted and raised as a system alarm',
    ),
});

export const ROLES = ['viewer', 'operator', 'energy', 'admin'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export const User = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9_.@-]{2,64}$/, 'use 2–64 letters, digits, ".", "_", "-" or "@"'),
  role: Role,
  password: z
    .string()
    .min(10, 'must be at least 10 characters')
    .optional()
    .describe('initial password; put it in the environment: `password: ${OPERATOR_PASSWORD}`'),
  displayName: z.string().optional(),
});

export const Server = z
  .strictObject({
    host: z.string().min(1).default('0.0.0.0'),
    port: port().default(8080),
    tls: z
      .strictObject({
        certFile: z
          .string()
          .min(1)
          .describe("PEM certificate (chain) file; relative paths are resolved against the config file's folder"),
        keyFile: z
          .string()
          .min(1)
          .describe(
            "PEM private key file of the certificate; relative paths are resolved against the config file's folder",
          ),
      })
      .optional()
      .describe(
        'serve the dashboard and API over HTTPS (and the live socket over wss); sign-in cookies are then Secure',
      ),
    demoAccounts: bool()
      .default(false)
      .describe(
        'the documented demo accounts (viewer, operator, energy, admin; passwords in the README), reset at each start; never on a real plant: while off they are removed at start',
      ),
    liveMaxHz: positive().default(4).describe('live updates per client per second at most'),
  })
  .default({ host: '0.0.0.0', port: 8080, demoAccounts: false, liveMaxHz: 4 });

// ---------- the plant ----------

export const PlantConfig = z.strictObject({
  site: z.strictObject({
    id: id(),
    name: z.string().min(1),
    timezone: z
      .string()
      .refine(isValidTimeZone, 'must be an IANA timezone such as "Asia/Hong_Kong"')
      .describe('IANA timezone of the site, e.g. Asia/Hong_Kong: shifts and days are local to it'),
    carbonTables: z.array(id()).default([]).describe("carbon factor tables that apply to the site's energy"),
  }),
  areas: z.array(z.strictObject({ id: id(), name: z.string().min(1) })).min(1, 'declare at least one area'),
  lines: z.array(Line).min(1, 'declare at least one line'),
  devices: z.array(Device).min(1, 'declare at least one device'),
  calendars: z.array(Calendar).min(1, 'declare at least one shift calendar'),
  carbonTables: z.array(CarbonTable).default([]),
  alarms: z.array(AlarmRule).default([]),
  microstopThresholdS: nonNegative()
    .default(120)
    .describe('minor-stop threshold for every machine that does not set its own'),
  oeeCap: z.enum(['cap', 'raw']).default('cap').describe('OEE product policy when performance exceeds 100 %'),
  setupCountsAs: z
    .enum(['planned', 'availability-loss'])
    .default('planned')
    .describe(
      'setup and changeover: `planned` leaves them out of planned production time (shown in the loss breakdown); `availability-loss` keeps them in it as a loss',
    ),
  lineMetrics: z
    .enum(['output-machine', 'sum'])
    .default('output-machine')
    .describe(
      "a line's OEE: `output-machine` uses its output machine's times and counts; `sum` sums times and counts over its machines (never an average of percentages)",
    ),
  store: Store,
  sinks: z.strictObject({ influxdb: InfluxSink.optional(), mqtt: MqttNorthSink.optional() }).default({}),
  server: Server,
  users: z
    .array(User)
    .default([])
    .describe(
      'users created at start when missing (those with a password); an existing user is left as it is: later changes are made by an admin through the API (`/api/users`). With no users at all, the first start creates `admin` with a random password printed once on the console',
    ),
});

/** The validated, frozen plant model. */
export type PlantConfig = z.infer<typeof PlantConfig>;
/** The plant model as written in a file, before defaults. */
export type PlantConfigInput = z.input<typeof PlantConfig>;
