/**
 * The simulated microfactory over real protocols on real sockets: two line
 * PLCs and two SDM630 meters over Modbus TCP, the CNC cell over OPC UA, the
 * hall sensors over MQTT, and a JSON control surface over HTTP.
 *
 * Each device starts and stops on its own: a busy port falls back to a free
 * one, a device that cannot start is reported and the others run on.
 */
import { mkdir } from 'node:fs/promises';
import { ControlHttpServer } from './control-http.js';
import { createControl, SimControlError, type SimulatorControl } from './control.js';
import { Plant } from './model/plant.js';
import { type ResolvedOptions, resolveOptions, type StartSimulatorsOptions } from './options.js';
import { RealTimeRunner } from './runner.js';
import type { DeviceEndpoint, SimDevice } from './servers/device.js';
import { errorMessage } from './servers/device.js';
import { ModbusDeviceServer } from './servers/modbus-device.js';
import { EmbeddedBroker, MqttSensorsPublisher } from './servers/mqtt-sensors.js';
import { OpcuaCncServer } from './servers/opcua-cnc.js';
import { line1PlcMap, line2PlcMap, sdm630Map } from './servers/register-maps.js';

export type DeviceId =
  | 'line1-plc'
  | 'line2-plc'
  | 'line1-meter'
  | 'line2-meter'
  | 'cnc1-opcua'
  | 'mqtt-broker'
  | 'sensors-mqtt';

export const DEVICE_IDS: readonly DeviceId[] = [
  'line1-plc',
  'line2-plc',
  'line1-meter',
  'line2-meter',
  'cnc1-opcua',
  'mqtt-broker',
  'sensors-mqtt',
];

/** Where each device answers, keyed by device id, plus `control` (the HTTP surface). */
export type SimulatorEndpoints = Partial<Record<DeviceId, DeviceEndpoint>> & { control: DeviceEndpoint };

export interface OpcuaInfo {
  endpointUrl: string | null;
  namespaceIndex: number | null;
  /** e.g. `{ GoodCount: 'ns=1;s=Factory.Line2.CNC1.GoodCount' }` */
  nodeIds: Record<string, string>;
}

export interface RunningSimulators {
  /** Live view: reflects stops, restarts and port fallbacks. */
  readonly endpoints: SimulatorEndpoints;
  readonly opcua: OpcuaInfo;
  readonly plant: Plant;
  readonly control: SimulatorControl;
  readonly runner: RealTimeRunner;
  /** Stops the runner and every server; safe to call twice. */
  stop(): Promise<void>;
}

export async function startSimulators(opts: StartSimulatorsOptions = {}): Promise<RunningSimulators> {
  const { options, problems } = resolveOptions(opts);
  if (!options) {
    throw new SimControlError('GL_ERR_SIM_CONFIG', `invalid simulator options: ${problems.join('; ')}`);
  }
  return startResolved(options);
}

async function startResolved(o: ResolvedOptions): Promise<RunningSimulators> {
  const plant = new Plant({ seed: o.seed, startTimeMs: o.startTimeMs });
  const runner = new RealTimeRunner(plant, { speed: o.speed });
  // Only the OPC UA server needs the folder; if it cannot be made, that server reports why.
  await mkdir(o.dataDir, { recursive: true }).catch((err: unknown) => {
    o.log(`dataDir ${o.dataDir}: ${errorMessage(err)}`);
  });

  const line1Plc = new ModbusDeviceServer({
    id: 'line1-plc',
    description: 'line1 PLC (imm1 injection moulder, pk1 packing)',
    host: o.host,
    port: o.ports.line1Plc,
    ...line1PlcMap(plant),
  });
  const line2Plc = new ModbusDeviceServer({
    id: 'line2-plc',
    description: 'line2 PLC (wash1 parts washer)',
    host: o.host,
    port: o.ports.line2Plc,
    ...line2PlcMap(plant),
  });
  const line1Meter = new ModbusDeviceServer({
    id: 'line1-meter',
    description: 'line1 energy meter (Eastron SDM630 layout)',
    host: o.host,
    port: o.ports.line1Meter,
    ...sdm630Map(plant.meters.line1),
  });
  const line2Meter = new ModbusDeviceServer({
    id: 'line2-meter',
    description: 'line2 energy meter (Eastron SDM630 layout)',
    host: o.host,
    port: o.ports.line2Meter,
    ...sdm630Map(plant.meters.line2),
  });
  const opcua = new OpcuaCncServer({
    host: o.host,
    port: o.ports.opcua,
    dataDir: o.dataDir,
    machine: plant.machines.cnc1,
    secure: o.opcuaSecurity,
  });
  const broker = o.mqttUrl ? null : new EmbeddedBroker({ host: o.host, port: o.ports.mqtt });
  const sensors = new MqttSensorsPublisher({
    plant,
    intervalMs: o.publishIntervalMs,
    brokerUrl: () => o.mqttUrl ?? broker?.url ?? null,
  });

  const devices = new Map<string, SimDevice>();
  for (const d of [line1Plc, line2Plc, line1Meter, line2Meter, opcua, broker, sensors]) {
    if (d) devices.set(d.id, d);
  }
  const control = createControl(plant, runner, devices);
  const http = new ControlHttpServer({ host: o.host, port: o.ports.control, control });

  const startOne = async (d: SimDevice): Promise<void> => {
    try {
      await d.start();
      const e = d.endpoint();
      if (e.fellBack) o.log(`${d.id}: port ${e.requestedPort} is busy, using ${e.port}`);
    } catch (err) {
      o.log(`${d.id}: did not start: ${errorMessage(err)}`);
    }
  };

  runner.start();
  // The broker must be up before the sensors connect; everything else starts side by side.
  await Promise.all([
    startOne(line1Plc),
    startOne(line2Plc),
    startOne(line1Meter),
    startOne(line2Meter),
    startOne(opcua),
    startOne(http),
    (async () => {
      if (broker) await startOne(broker);
      await startOne(sensors);
    })(),
  ]);

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      runner.stop();
      await http.stop().catch(() => undefined);
      await sensors.stop().catch(() => undefined);
      await Promise.allSettled([...devices.values()].filter((d) => d !== sensors).map((d) => d.stop()));
    })();
    return stopping;
  };

  return {
    get endpoints(): SimulatorEndpoints {
      const out: Partial<Record<DeviceId, DeviceEndpoint>> = {};
      for (const d of devices.values()) out[d.id as DeviceId] = d.endpoint();
      return { ...out, control: http.endpoint() };
    },
    get opcua(): OpcuaInfo {
      return { endpointUrl: opcua.endpointUrl, namespaceIndex: opcua.namespaceIndex, nodeIds: opcua.nodeIds() };
    },
    plant,
    control,
    runner,
    stop,
  };
}

export type { SimulatorControl, FaultOptions, SimStateView, SimErrorCode } from './control.js';
export { SimControlError } from './control.js';
export type { CounterName, MachineSnapshot } from './model/machine.js';
export { Plant, type PlantOptions, type PlantSnapshot } from './model/plant.js';
export type { MachineId, LineId } from './model/plant-spec.js';
export { MachineState, Reason } from './model/codes.js';
export { DEFAULT_PORTS, FREE_PORTS, type SimulatorPorts, type StartSimulatorsOptions } from './options.js';
export type { DeviceEndpoint } from './servers/device.js';
export { MQTT_TOPICS } from './servers/mqtt-sensors.js';
