/** What every simulated device server offers to the runner and the control surface. */

export type DeviceProtocol = 'modbus-tcp' | 'opcua' | 'mqtt' | 'http';

export interface DeviceEndpoint {
  readonly id: string;
  readonly protocol: DeviceProtocol;
  readonly description: string;
  readonly host: string;
  /** Port asked for (0: any free port). */
  readonly requestedPort: number;
  /** Port bound now, or last bound while stopped; null before the first start. */
  readonly port: number | null;
  /** e.g. `modbus-tcp://127.0.0.1:5020 unit 1`, `opc.tcp://127.0.0.1:4840/greenline` */
  readonly url: string | null;
  readonly unitId?: number;
  readonly running: boolean;
  /** True when the requested port was busy and another one was bound. */
  readonly fellBack: boolean;
  /** Why the last start failed, if it did. */
  readonly error: string | null;
}

export interface SimDevice {
  readonly id: string;
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  endpoint(): DeviceEndpoint;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
