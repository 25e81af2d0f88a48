/**
 * The simulated plant over real sockets, read by independent clients:
 * modbus-serial and Debian's pymodbus for Modbus TCP, node-opcua's client,
 * an MQTT client, and plain fetch for the control surface.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ModbusSerial from 'modbus-serial';
import mqtt from 'mqtt';
import {
  AttributeIds,
  ClientSubscription,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FREE_PORTS, type RunningSimulators, startSimulators } from '../../simulators/index.js';
import { decodeRegisters } from '../../simulators/servers/registers.js';

// modbus-serial is CommonJS: its class is the module itself, typed as `.default`.
const ModbusRTU = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusSerial.default>;

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const PYMODBUS_SCRIPT = path.join(here, 'sim-pymodbus-read.py');

let sims: RunningSimulators;
let dataDir: string;

function portOf(id: 'line1-plc' | 'line2-plc' | 'line1-meter' | 'line2-meter'): number {
  const port = sims.endpoints[id]?.port;
  if (!port) throw new Error(`${id} has no port`);
  return port;
}

async function modbusClient(port: number): Promise<ModbusRTU> {
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port });
  c.setID(1);
  c.setTimeout(2000);
  return c;
}

function closeClient(c: ModbusRTU): Promise<void> {
  return new Promise((resolve) => c.close(() => resolve()));
}

async function modbusErrorCode(p: Promise<unknown>): Promise<number | string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return (err as { modbusCode?: number }).modbusCode ?? String(err);
  }
}

/** Runs `fn` with simulated time frozen, so readings can be compared exactly with the model. */
async function frozen<T>(fn: () => Promise<T>): Promise<T> {
  sims.runner.stop();
  try {
    return await fn();
  } finally {
    sims.runner.start();
  }
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function http(method: string, route: string, body?: string): Promise<{ status: number; json: unknown }> {
  const url = `${sims.endpoints.control.url}${route}`;
  const res = await fetch(url, { method, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'greenline-sim-test-'));
  sims = await startSimulators({ ports: { ...FREE_PORTS }, dataDir, speed: 60, publishIntervalMs: 100, seed: 42 });
  for (const e of Object.values(sims.endpoints)) expect(e?.running, `${e?.id} ${e?.error}`).toBe(true);
});

afterAll(async () => {
  await sims?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('line PLCs over Modbus TCP (modbus-serial client)', () => {
  it('line1-plc holding registers decode to the model values', async () => {
    const c = await modbusClient(portOf('line1-plc'));
    try {
      await frozen(async () => {
        const imm1 = sims.plant.machines.imm1;
        const pk1 = sims.plant.machines.pk1;
        const a = (await c.readHoldingRegisters(0, 16)).data;
        const b = (await c.readHoldingRegisters(20, 18)).data;
        const d = (await c.readHoldingRegisters(40, 2)).data;
        expect(a[0]).toBe(imm1.state);
        expect(a[1]).toBe(imm1.reason);
        expect(decodeRegisters('uint32', a.slice(2, 4), 'ABCD')).toBe(imm1.counter('total'));
        expect(decodeRegisters('uint32', a.slice(4, 6), 'ABCD')).toBe(imm1.counter('good'));
        expect(decodeRegisters('uint32', a.slice(6, 8), 'CDAB')).toBe(imm1.counter('reject'));
        expect(decodeRegisters('float32', a.slice(8, 10), 'ABCD')).toBeCloseTo(
          imm1.processValue('barrelTemperature'),
          3,
        );
        expect(decodeRegisters('int16', a.slice(10, 11))).toBe(Math.round(imm1.processValue('hydraulicPressure') * 10));
        expect(a[11]).toBe(Math.round(imm1.lastCycleTimeS * 10));
        expect(decodeRegisters('uint64', a.slice(12, 16), 'ABCD')).toBe(BigInt(imm1.operatingSeconds));
        expect(b[0]).toBe(pk1.state);
        expect(decodeRegisters('uint32', b.slice(2, 4), 'CDAB')).toBe(pk1.counter('total'));
        expect(decodeRegisters('uint32', b.slice(4, 6), 'CDAB')).toBe(pk1.counter('good'));
        expect(decodeRegisters('uint32', b.slice(6, 8), 'CDAB')).toBe(pk1.counter('reject'));
        expect(decodeRegisters('float32', b.slice(8, 10), 'CDAB')).toBeCloseTo(
          pk1.processValue('sealJawTemperature'),
          3,
        );
        const model = Buffer.from(b.slice(10, 14).flatMap((w: number) => [w >> 8, w & 0xff])).toString('latin1');
        expect(model).toBe('IMM-7000');
        expect(b.slice(14, 18)).toEqual([0, 0, 0, 0]);
        expect(decodeRegisters('int32', d, 'ABCD')).toBe(
          Math.round(imm1.processValue('mouldTemperatureDeviation') * 100),
        );
        const coils = (await c.readCoils(0, 2)).data;
        expect(coils[0]).toBe(imm1.state !== 0 && imm1.state !== 5);
        expect(coils[1]).toBe(pk1.state === 1);
        const di = (await c.readDiscreteInputs(0, 1)).data;
        expect(typeof di[0]).toBe('boolean');
      });
    } finally {
      await closeClient(c);
    }
  });

  it('answers exception 2 for unmapped addresses and exception 1 for writes, and keeps the connection', async () => {
    const c = await modbusClient(portOf('line1-plc'));
    try {
      // unused words inside the PLC's data memory read as 0; past it, exception 2
      expect((await c.readHoldingRegisters(16, 4)).data).toEqual([0, 0, 0, 0]);
      expect(await modbusErrorCode(c.readHoldingRegisters(98, 4))).toBe(2);
      expect(await modbusErrorCode(c.readHoldingRegisters(1000, 2))).toBe(2);
      expect(await modbusErrorCode(c.readInputRegisters(0, 2))).toBe(2);
      expect(await modbusErrorCode(c.readCoils(5, 1))).toBe(2);
      expect(await modbusErrorCode(c.writeRegister(0, 1))).toBe(1);
      expect(await modbusErrorCode(c.writeRegisters(0, [1, 2]))).toBe(1);
      expect(await modbusErrorCode(c.writeCoil(0, false))).toBe(1);
      // the same connection still answers
      expect((await c.readHoldingRegisters(0, 2)).data).toHaveLength(2);
    } finally {
      await closeClient(c);
    }
  });

  it('line2-plc uses CDAB counters and an ABCD float64', async () => {
    const c = await modbusClient(portOf('line2-plc'));
    try {
      await frozen(async () => {
        const wash1 = sims.plant.machines.wash1;
        const r = (await c.readHoldingRegisters(0, 13)).data;
        expect(r[0]).toBe(wash1.state);
        expect(decodeRegisters('uint32', r.slice(2, 4), 'CDAB')).toBe(wash1.counter('total'));
        expect(decodeRegisters('uint32', r.slice(4, 6), 'CDAB')).toBe(wash1.counter('good'));
        expect(decodeRegisters('uint32', r.slice(6, 8), 'CDAB')).toBe(wash1.counter('reject'));
        expect(decodeRegisters('float64', r.slice(8, 12), 'ABCD')).toBe(wash1.processValue('washWaterTemperature'));
        expect(decodeRegisters('int16', r.slice(12, 13))).toBe(Math.round(wash1.processValue('pumpPressure') * 100));
      });
    } finally {
      await closeClient(c);
    }
  });
});

describe('SDM630 meters read by pymodbus', () => {
  interface PyEntry {
    address: number;
    registers?: number[];
    float32?: number[];
    exception?: number | null;
  }

  async function pyRead(port: number, ...specs: string[]): Promise<PyEntry[]> {
    const { stdout } = await run('/usr/bin/python3', [PYMODBUS_SCRIPT, '127.0.0.1', String(port), 'input', ...specs], {
      timeout: 20_000,
    });
    return JSON.parse(stdout) as PyEntry[];
  }

  it('import kWh, total power and phase values match the model', async () => {
    await frozen(async () => {
      const meter = sims.plant.meters.line1;
      const [kwh, power, phases, pf, freq, total] = await pyRead(
        portOf('line1-meter'),
        '0x48:4',
        '0x34:2',
        '0x00:18',
        '0x3E:2',
        '0x46:2',
        '0x156:2',
      );
      expect(kwh?.float32?.[0]).toBeCloseTo(meter.importKwh, 1);
      expect(kwh?.float32?.[1]).toBe(0);
      expect(power?.float32?.[0]).toBeCloseTo(meter.live.totalPowerW, 0);
      expect(phases?.float32?.[0]).toBeCloseTo(meter.live.phases[0].voltageV, 3);
      expect(phases?.float32?.[4]).toBeCloseTo(meter.live.phases[1].currentA, 3);
      expect(phases?.float32?.[8]).toBeCloseTo(meter.live.phases[2].powerW, 1);
      expect(pf?.float32?.[0]).toBeCloseTo(0.92, 1);
      expect(freq?.float32?.[0]).toBeCloseTo(50, 0);
      expect(total?.float32?.[0]).toBeCloseTo(meter.importKwh, 1);
      expect(meter.live.phases[0].voltageV).toBeGreaterThan(210);
      expect(meter.live.phases[0].voltageV).toBeLessThan(230);
    });
  });

  it('reads unsupported parameters as 0 and answers exception 2 beyond the table', async () => {
    const [zero, beyond] = await pyRead(portOf('line2-meter'), '0x100:2', '0x200:2');
    expect(zero?.registers).toEqual([0, 0]);
    expect(beyond?.exception).toBe(2);
  });
});

describe('CNC1 over OPC UA', () => {
  it('reads the CNC variables by string node id and sees changes by subscription', async () => {
    const { endpointUrl, namespaceIndex, nodeIds } = sims.opcua;
    expect(namespaceIndex).toBe(1);
    expect(nodeIds.GoodCount).toBe('ns=1;s=Factory.Line2.CNC1.GoodCount');
    const client = OPCUAClient.create({
      endpointMustExist: false,
      connectionStrategy: { maxRetry: 1, initialDelay: 100, maxDelay: 200 },
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: path.join(dataDir, 'client-pki') }),
    });
    await client.connect(endpointUrl ?? '');
    const session = await client.createSession();
    try {
      await frozen(async () => {
        const cnc1 = sims.plant.machines.cnc1;
        const names = [
          'State',
          'Reason',
          'TotalCount',
          'GoodCount',
          'RejectCount',
          'SpindleLoad',
          'SpindleTemp',
          'SpindleSpeed',
        ];
        const values = await session.read(
          names.map((n) => ({ nodeId: nodeIds[n] ?? '', attributeId: AttributeIds.Value })),
        );
        for (const v of values) expect(v.statusCode.name).toBe('Good');
        const [state, reason, total, good, reject, load, temp, speed] = values.map((v) => v.value.value as number);
        expect(state).toBe(cnc1.state);
        expect(reason).toBe(cnc1.reason);
        expect(total).toBe(cnc1.counter('total'));
        expect(good).toBe(cnc1.counter('good'));
        expect(reject).toBe(cnc1.counter('reject'));
        expect(load).toBe(cnc1.processValue('spindleLoad'));
        expect(temp).toBe(cnc1.processValue('spindleTemperature'));
        expect(speed).toBe(cnc1.processValue('spindleSpeed'));
      });

      const sub = ClientSubscription.create(session, {
        requestedPublishingInterval: 100,
        requestedMaxKeepAliveCount: 20,
        requestedLifetimeCount: 100,
        publishingEnabled: true,
      });
      const seen: number[] = [];
      const item = await sub.monitor(
        { nodeId: nodeIds.TotalCount ?? '', attributeId: AttributeIds.Value },
        { samplingInterval: 100, queueSize: 10, discardOldest: true },
        TimestampsToReturn.Both,
      );
      item.on('changed', (dv) => seen.push(dv.value.value as number));
      await waitFor(() => seen.length > 0, 5000);
      sims.control.rollover('cnc1', 'total', 7);
      await waitFor(() => seen.includes(2 ** 32 - 7) || seen.some((v) => v > 2 ** 32 - 7), 5000);
      await sub.terminate();
    } finally {
      await session.close();
      await client.disconnect();
    }
  });

  it('accepts a SignAndEncrypt Basic256Sha256 session', async () => {
    const client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.SignAndEncrypt,
      securityPolicy: SecurityPolicy.Basic256Sha256,
      connectionStrategy: { maxRetry: 1, initialDelay: 100, maxDelay: 200 },
      clientCertificateManager: new OPCUACertificateManager({
        rootFolder: path.join(dataDir, 'client-pki'),
        automaticallyAcceptUnknownCertificate: true,
      }),
    });
    await client.connect(sims.opcua.endpointUrl ?? '');
    const session = await client.createSession();
    try {
      const dv = await session.read({ nodeId: sims.opcua.nodeIds.State ?? '', attributeId: AttributeIds.Value });
      expect(dv.statusCode.name).toBe('Good');
    } finally {
      await session.close();
      await client.disconnect();
    }
  });
});

describe('environment sensors over MQTT', () => {
  it('publishes valid JSON on both topics to the embedded broker', async () => {
    const url = sims.endpoints['mqtt-broker']?.url;
    expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const client = await mqtt.connectAsync(url ?? '', { reconnectPeriod: 0 });
    try {
      const got = new Map<string, unknown>();
      client.on('message', (topic, payload) => got.set(topic, JSON.parse(payload.toString('utf8'))));
      await client.subscribeAsync([
        'greenline/sim/hall/env',
        'greenline/sim/utilities/compressed-air',
        'greenline/sim/sensors/status',
      ]);
      await waitFor(() => got.has('greenline/sim/hall/env') && got.has('greenline/sim/utilities/compressed-air'), 5000);
      const env = got.get('greenline/sim/hall/env') as Record<string, unknown>;
      expect(Object.keys(env).sort()).toEqual(['humidity', 'temperature', 'ts']);
      expect(typeof env.ts).toBe('number');
      expect(Math.abs((env.ts as number) - Date.now())).toBeLessThan(10_000);
      expect(env.temperature).toBeGreaterThan(15);
      expect(env.temperature).toBeLessThan(40);
      expect(env.humidity).toBeGreaterThan(20);
      expect(env.humidity).toBeLessThan(100);
      const air = got.get('greenline/sim/utilities/compressed-air') as {
        ts: number;
        flow: { value: number; unit: string };
        pressure: number;
      };
      expect(air.flow.unit).toBe('m3/h');
      expect(air.flow.value).toBeGreaterThanOrEqual(0);
      expect(air.pressure).toBeGreaterThan(5);
      expect(air.pressure).toBeLessThan(8);
      expect(got.get('greenline/sim/sensors/status')).toMatchObject({ online: true });

      // stopping the sensors device leaves the broker up and says so on the status topic
      await sims.control.stopDevice('sensors-mqtt');
      await waitFor(() => (got.get('greenline/sim/sensors/status') as { online?: boolean }).online === false, 5000);
      await sims.control.startDevice('sensors-mqtt');
      await waitFor(() => (got.get('greenline/sim/sensors/status') as { online?: boolean }).online === true, 5000);
    } finally {
      await client.endAsync();
    }

    // a broker restart: the sensors reconnect by themselves
    await sims.control.stopDevice('mqtt-broker');
    expect(await connectRefused(sims.endpoints['mqtt-broker']?.port ?? 0)).toBe(true);
    await sims.control.startDevice('mqtt-broker');
    expect(sims.endpoints['mqtt-broker']?.url).toBe(url);
    const again = await mqtt.connectAsync(url ?? '', { reconnectPeriod: 0 });
    try {
      let received = 0;
      again.on('message', () => received++);
      await again.subscribeAsync('greenline/sim/hall/env');
      await waitFor(() => received > 0, 8000);
    } finally {
      await again.endAsync();
    }
  });
});

describe('control surface over HTTP', () => {
  it('reports the state of machines, meters and devices', async () => {
    const { status, json } = await http('GET', '/state');
    expect(status).toBe(200);
    const state = json as {
      machines: Record<string, { state: number }>;
      meters: object;
      simTimeMs: number;
      devices: unknown[];
    };
    expect(Object.keys(state.machines).sort()).toEqual(['cnc1', 'imm1', 'pk1', 'wash1']);
    expect(state.simTimeMs).toBeGreaterThan(0);
    expect(state.devices.length).toBe(7);
  });

  it('answers bad requests with 4xx and a GL_ERR_SIM code, and keeps running', async () => {
    const cases: Array<[string, string, string | undefined, number, string]> = [
      ['POST', '/machines/imm1/reject-rate', '{not json', 400, 'GL_ERR_SIM_BAD_JSON'],
      ['POST', '/machines/imm1/reject-rate', '[1]', 400, 'GL_ERR_SIM_BAD_JSON'],
      ['POST', '/machines/press9/fault', '{}', 404, 'GL_ERR_SIM_UNKNOWN_MACHINE'],
      ['POST', '/machines/imm1/reject-rate', '{"rate": 2}', 422, 'GL_ERR_SIM_OUT_OF_RANGE'],
      ['POST', '/machines/imm1/reject-rate', '{}', 400, 'GL_ERR_SIM_BAD_REQUEST'],
      ['POST', '/machines/imm1/override', '{"field": "nope", "value": 1}', 422, 'GL_ERR_SIM_UNKNOWN_FIELD'],
      ['POST', '/machines/imm1/rollover', '{"counter": "total", "below": 0}', 422, 'GL_ERR_SIM_OUT_OF_RANGE'],
      ['POST', '/devices/plc9/stop', undefined, 404, 'GL_ERR_SIM_UNKNOWN_DEVICE'],
      ['GET', '/nowhere', undefined, 404, 'GL_ERR_SIM_NOT_FOUND'],
      ['GET', '/machines/imm1/fault', undefined, 405, 'GL_ERR_SIM_METHOD_NOT_ALLOWED'],
    ];
    for (const [method, route, body, status, code] of cases) {
      const res = await http(method, route, body);
      expect(res.status, `${method} ${route}`).toBe(status);
      const err = (res.json as { error: { code: string; message: string } }).error;
      expect(err.code).toBe(code);
      expect(err.message.length).toBeGreaterThan(10);
    }
    expect((await http('GET', '/state')).status).toBe(200);
  });

  it('rolls a counter over through HTTP and the PLC register shows it wrap', async () => {
    const c = await modbusClient(portOf('line1-plc'));
    const readTotal = async () => decodeRegisters('uint32', (await c.readHoldingRegisters(2, 2)).data, 'ABCD');
    try {
      await frozen(async () => {
        const res = await http('POST', '/machines/imm1/rollover', '{"counter": "total", "below": 2}');
        expect(res.status).toBe(200);
        expect(await readTotal()).toBe(2 ** 32 - 2);
        // step the model itself (not the wall clock) until three more parts are made
        const imm1 = sims.plant.machines.imm1;
        const t0 = imm1.producedSinceStart('total');
        for (let i = 0; i < 36_000 && imm1.producedSinceStart('total') - t0 < 3; i++) sims.plant.step(1000);
        expect(await readTotal()).toBe(1);
      });
    } finally {
      await closeClient(c);
    }
  });

  it('forces a fault and pins a process value, visible on the wire', async () => {
    const c = await modbusClient(portOf('line1-plc'));
    try {
      await frozen(async () => {
        expect((await http('POST', '/machines/imm1/fault', '{"reason": 4}')).status).toBe(200);
        const body = '{"field": "barrelTemperature", "value": 260.5}';
        expect((await http('POST', '/machines/imm1/override', body)).status).toBe(200);
        const r = (await c.readHoldingRegisters(0, 10)).data;
        expect(r[0]).toBe(3);
        expect(r[1]).toBe(4);
        expect(decodeRegisters('float32', r.slice(8, 10), 'ABCD')).toBe(260.5);
        expect((await http('POST', '/machines/imm1/clear')).status).toBe(200);
        const unpin = '{"field": "barrelTemperature", "value": null}';
        expect((await http('POST', '/machines/imm1/override', unpin)).status).toBe(200);
        expect((await c.readHoldingRegisters(0, 1)).data[0]).not.toBe(3);
        expect(decodeRegisters('float32', (await c.readHoldingRegisters(8, 2)).data, 'ABCD')).not.toBe(260.5);
      });
    } finally {
      await closeClient(c);
    }
  });

  it('stops one device without touching the others, and starts it again on the same port', async () => {
    const meterPort = portOf('line1-meter');
    const stopped = await http('POST', '/devices/line1-meter/stop');
    expect(stopped.status).toBe(200);
    expect((stopped.json as { running: boolean }).running).toBe(false);
    expect(await connectRefused(meterPort)).toBe(true);

    const plc = await modbusClient(portOf('line1-plc'));
    try {
      expect((await plc.readHoldingRegisters(0, 2)).data).toHaveLength(2);
    } finally {
      await closeClient(plc);
    }

    const started = await http('POST', '/devices/line1-meter/start');
    expect(started.status).toBe(200);
    expect((started.json as { port: number }).port).toBe(meterPort);
    const meter = await modbusClient(meterPort);
    try {
      const r = (await meter.readInputRegisters(0x48, 2)).data;
      expect(decodeRegisters('float32', r, 'ABCD')).toBeGreaterThan(1000);
    } finally {
      await closeClient(meter);
    }
  });

  it('stops and restarts the OPC UA server', async () => {
    const port = sims.endpoints['cnc1-opcua']?.port ?? 0;
    expect((await http('POST', '/devices/cnc1-opcua/stop')).status).toBe(200);
    expect(await connectRefused(port)).toBe(true);
    expect((await http('POST', '/devices/cnc1-opcua/start')).status).toBe(200);
    expect(sims.endpoints['cnc1-opcua']?.port).toBe(port);
    const client = OPCUAClient.create({
      endpointMustExist: false,
      connectionStrategy: { maxRetry: 1, initialDelay: 100, maxDelay: 200 },
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: path.join(dataDir, 'client-pki') }),
    });
    await client.connect(sims.opcua.endpointUrl ?? '');
    const session = await client.createSession();
    try {
      const dv = await session.read({ nodeId: sims.opcua.nodeIds.GoodCount ?? '', attributeId: AttributeIds.Value });
      expect(dv.statusCode.name).toBe('Good');
      expect(typeof dv.value.value).toBe('number');
    } finally {
      await session.close();
      await client.disconnect();
    }
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
