/**
 * Errors a driver raises at creation or start, before any I/O: configuration
 * the driver cannot work with. Runtime failures never throw; they show as
 * quality, counters and log lines.
 */

export type DriverErrorCode = 'GL_ERR_DRIVER_UNSUPPORTED' | 'GL_ERR_DRIVER_CONFIG' | 'GL_ERR_MODBUS_PLAN';

export class DriverError extends Error {
  readonly code: DriverErrorCode;
  readonly deviceId: string;

  constructor(code: DriverErrorCode, deviceId: string, message: string) {
    super(`${code}: device "${deviceId}": ${message}`);
    this.name = 'DriverError';
    this.code = code;
    this.deviceId = deviceId;
  }
}

/** A short, single-line description of anything thrown, for logs and `lastError`. */
export function describeError(err: unknown): string {
  return rawDescription(err).replace(/\s+/g, ' ').trim();
}

function rawDescription(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'message' in err && typeof err.message === 'string') return err.message;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
