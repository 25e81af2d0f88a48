/**
 * The protocols package: one factory for every driver, and the shared
 * pieces a driver is made of.
 */
import type { Device } from '../config/schema.js';
import type { BackoffOptions } from './backoff.js';
import { ModbusDriver, modbusTarget, planModbusDevice } from './modbus/driver.js';
import { MqttDriver, bindMqttDevice } from './mqtt/driver.js';
import { OpcuaDriver } from './opcua/driver.js';
import type { Driver, DriverContext } from './types.js';

export type {
  ConnectionState,
  Driver,
  DriverContext,
  DriverCounters,
  DriverStatus,
  Log,
  Quality,
  Sample,
  SampleValue,
} from './types.js';
export { DriverError, type DriverErrorCode } from './errors.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { RateLimitedLog } from './rate-limited-log.js';

export interface CreateDriverOptions {
  /** where drivers keep files (the OPC UA client's certificate store); default: <OS temp dir>/greenline */
  dataDir?: string;
  /** reconnect backoff (default: 500 ms doubling to 30 s, up to 50 % shorter at random) */
  backoff?: BackoffOptions;
}

/**
 * The driver for a device. Checks, without any I/O, what the driver needs
 * from the config, and throws a DriverError (`GL_ERR_DRIVER_UNSUPPORTED`,
 * `GL_ERR_DRIVER_CONFIG`, `GL_ERR_MODBUS_PLAN`) for a device it cannot serve.
 * Opens nothing until `start()`.
 */
export function createDriver(device: Device, ctx: DriverContext, opts: CreateDriverOptions = {}): Driver {
  switch (device.protocol) {
    case 'modbus-tcp':
    case 'modbus-rtu':
      modbusTarget(device);
      planModbusDevice(device);
      return new ModbusDriver(device, ctx, { backoff: opts.backoff });
    case 'opcua':
      return new OpcuaDriver(device, ctx, { backoff: opts.backoff, dataDir: opts.dataDir });
    case 'mqtt':
      bindMqttDevice(device);
      return new MqttDriver(device, ctx, { backoff: opts.backoff });
  }
}
