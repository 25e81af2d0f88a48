/**
 * Fault injection and device control for the simulated plant, as a typed
 * object. The HTTP control surface is a thin layer over it.
 */
import { FAULT_REASONS, isReasonCode, REASON_NAMES } from './model/codes.js';
import {
  COUNTER_NAMES,
  type CounterName,
  type MachineModel,
  type MachineSnapshot,
  UINT32_RANGE,
} from './model/machine.js';
import { MACHINE_IDS } from './model/plant-spec.js';
import type { Plant, PlantSnapshot } from './model/plant.js';
import type { RealTimeRunner } from './runner.js';
import { validateSpeed } from './runner.js';
import type { DeviceEndpoint, SimDevice } from './servers/device.js';
import { errorMessage } from './servers/device.js';

export type SimErrorCode =
  | 'GL_ERR_SIM_BAD_JSON'
  | 'GL_ERR_SIM_BAD_REQUEST'
  | 'GL_ERR_SIM_UNKNOWN_MACHINE'
  | 'GL_ERR_SIM_UNKNOWN_DEVICE'
  | 'GL_ERR_SIM_UNKNOWN_FIELD'
  | 'GL_ERR_SIM_OUT_OF_RANGE'
  | 'GL_ERR_SIM_NOT_FOUND'
  | 'GL_ERR_SIM_METHOD_NOT_ALLOWED'
  | 'GL_ERR_SIM_BODY_TOO_LARGE'
  | 'GL_ERR_SIM_DEVICE_START'
  | 'GL_ERR_SIM_CONFIG'
  | 'GL_ERR_SIM_INTERNAL';

/** A control request that cannot be carried out; `message` says what to do instead. */
export class SimControlError extends Error {
  readonly code: SimErrorCode;
  /** HTTP status the control surface answers with. */
  readonly status: number;
  constructor(code: SimErrorCode, message: string, status = 400) {
    super(message);
    this.name = 'SimControlError';
    this.code = code;
    this.status = status;
  }
}

export interface FaultOptions {
  /** Seconds the fault lasts; omitted: until `clear`. */
  durationS?: number;
  /** 1 jam, 2 material shortage, 3 tool break (default), 4 overheat. */
  reason?: number;
}

export interface SimStateView extends PlantSnapshot {
  speed: number;
  devices: DeviceEndpoint[];
}

export interface SimulatorControl {
  /** Machines (state, counters, process values), meters, environment, sim time, devices. */
  state(): SimStateView;
  /** Unplanned stop (state 3) now, for `durationS` or until `clear`. */
  fault(machineId: string, options?: FaultOptions): MachineSnapshot;
  /** Ends the machine's current stop (fault, micro-stop, setup, planned stop, timed idle). */
  clear(machineId: string): MachineSnapshot;
  /** Reject probability per part in [0, 1]; null restores the model's rate. */
  setRejectRate(machineId: string, rate: number | null): MachineSnapshot;
  /** Sets the counter to 2^32 − below (default 5), so it wraps after `below` more parts. */
  rollover(machineId: string, counter: CounterName, below?: number): MachineSnapshot;
  /** Sets the exposed counters to 0, as a PLC reset would. */
  resetCounters(machineId: string): MachineSnapshot;
  /** Pins a process value (null unpins). */
  override(machineId: string, field: string, value: number | null): MachineSnapshot;
  /** Powers the machine off (state 0) or back on. */
  setPower(machineId: string, on: boolean): MachineSnapshot;
  /** Time acceleration of the real-time runner (simulated s per real s). */
  setSpeed(speed: number): number;
  devices(): DeviceEndpoint[];
  stopDevice(deviceId: string): Promise<DeviceEndpoint>;
  startDevice(deviceId: string): Promise<DeviceEndpoint>;
}

export const DEFAULT_ROLLOVER_BELOW = 5;

export function createControl(
  plant: Plant,
  runner: RealTimeRunner,
  devices: ReadonlyMap<string, SimDevice>,
): SimulatorControl {
  const machine = (id: unknown): MachineModel => {
    const m = typeof id === 'string' ? plant.machine(id) : undefined;
    if (!m) {
      throw new SimControlError(
        'GL_ERR_SIM_UNKNOWN_MACHINE',
        `unknown machine '${String(id)}': use one of ${MACHINE_IDS.join(', ')}`,
        404,
      );
    }
    return m;
  };
  const device = (id: unknown): SimDevice => {
    const d = typeof id === 'string' ? devices.get(id) : undefined;
    if (!d) {
      throw new SimControlError(
        'GL_ERR_SIM_UNKNOWN_DEVICE',
        `unknown device '${String(id)}': use one of ${[...devices.keys()].join(', ')}`,
        404,
      );
    }
    return d;
  };
  const outOfRange = (message: string) => new SimControlError('GL_ERR_SIM_OUT_OF_RANGE', message, 422);

  return {
    state() {
      return { ...plant.snapshot(), speed: runner.speed, devices: [...devices.values()].map((d) => d.endpoint()) };
    },

    fault(machineId, options = {}) {
      const m = machine(machineId);
      const { durationS, reason } = options;
      if (durationS !== undefined && !(typeof durationS === 'number' && durationS > 0 && Number.isFinite(durationS))) {
        throw outOfRange('durationS must be a number of seconds > 0; omit it for a fault that lasts until clear');
      }
      const r = reason ?? 3;
      if (!isReasonCode(r) || !FAULT_REASONS.includes(r)) {
        const names = FAULT_REASONS.map((c) => `${c} ${REASON_NAMES[c]}`).join(', ');
        throw outOfRange(`reason must be a fault reason code: ${names}`);
      }
      m.forceFault(durationS === undefined ? null : durationS * 1000, r);
      return m.snapshot();
    },

    clear(machineId) {
      const m = machine(machineId);
      m.clear();
      return m.snapshot();
    },

    setRejectRate(machineId, rate) {
      const m = machine(machineId);
      if (rate !== null && !(typeof rate === 'number' && rate >= 0 && rate <= 1)) {
        throw outOfRange('rate must be a number in [0, 1] (e.g. 0.05 for 5 %), or null for the model default');
      }
      m.setRejectRate(rate);
      return m.snapshot();
    },

    rollover(machineId, counter, below = DEFAULT_ROLLOVER_BELOW) {
      const m = machine(machineId);
      if (!COUNTER_NAMES.includes(counter)) {
        throw new SimControlError(
          'GL_ERR_SIM_UNKNOWN_FIELD',
          `counter must be one of ${COUNTER_NAMES.join(', ')}`,
          422,
        );
      }
      if (!(Number.isInteger(below) && below >= 1 && below < UINT32_RANGE)) {
        throw outOfRange('below must be an integer in [1, 4294967295]: the counter is set to 2^32 − below');
      }
      m.rollover(counter, below);
      return m.snapshot();
    },

    resetCounters(machineId) {
      const m = machine(machineId);
      m.resetCounters();
      return m.snapshot();
    },

    override(machineId, field, value) {
      const m = machine(machineId);
      if (typeof field !== 'string' || !m.hasProcessValue(field)) {
        throw new SimControlError(
          'GL_ERR_SIM_UNKNOWN_FIELD',
          `machine ${m.id} has no process value '${String(field)}': use one of ${m.processNames().join(', ')}`,
          422,
        );
      }
      if (value !== null && !(typeof value === 'number' && Number.isFinite(value))) {
        throw outOfRange('value must be a finite number, or null to clear the override');
      }
      m.setOverride(field, value);
      return m.snapshot();
    },

    setPower(machineId, on) {
      const m = machine(machineId);
      if (typeof on !== 'boolean') throw new SimControlError('GL_ERR_SIM_BAD_REQUEST', 'on must be true or false');
      m.setPowered(on);
      return m.snapshot();
    },

    setSpeed(speed) {
      const problem = validateSpeed(speed);
      if (problem) throw outOfRange(problem);
      runner.speed = speed;
      return runner.speed;
    },

    devices() {
      return [...devices.values()].map((d) => d.endpoint());
    },

    async stopDevice(deviceId) {
      const d = device(deviceId);
      await d.stop();
      return d.endpoint();
    },

    async startDevice(deviceId) {
      const d = device(deviceId);
      try {
        await d.start();
      } catch (err) {
        throw new SimControlError(
          'GL_ERR_SIM_DEVICE_START',
          `device ${d.id} did not start: ${errorMessage(err)}; free its port or restart the simulators`,
          503,
        );
      }
      return d.endpoint();
    },
  };
}
