/**
 * The CNC cell's OPC UA server (node-opcua). Variables are bound to the model
 * by getters, so reads and subscriptions (sampled every 100 ms at the fastest)
 * see the model as it is. All variables are read-only.
 */
import os from 'node:os';
import path from 'node:path';
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  RegisterServerMethod,
  SecurityPolicy,
  standardUnits,
  Variant,
} from 'node-opcua';
import type { MachineModel } from '../model/machine.js';
import type { DeviceEndpoint, SimDevice } from './device.js';
import { errorMessage } from './device.js';
import { bindWithFallback } from './ports.js';

export interface OpcuaCncOptions {
  readonly id?: string;
  readonly host: string;
  /** 0: a free port. */
  readonly port: number;
  /** Folder for the server's PKI (its certificate and trusted client certificates). */
  readonly dataDir: string;
  readonly machine: MachineModel;
  /** Also offer Sign and SignAndEncrypt with Basic256Sha256 (default true). */
  readonly secure?: boolean;
}

export const OPCUA_RESOURCE_PATH = '/greenline';
export const OPCUA_APPLICATION_URI = 'urn:greenline:simulator:cnc1';
export const OPCUA_MIN_SAMPLING_MS = 100;

interface VariableSpec {
  readonly name: string;
  readonly dataType: DataType.UInt16 | DataType.UInt32 | DataType.Double;
  readonly read: (m: MachineModel) => number;
  readonly analog?: { unit: keyof typeof standardUnits; low: number; high: number };
}

const VARIABLES: readonly VariableSpec[] = [
  { name: 'State', dataType: DataType.UInt16, read: (m) => m.state },
  { name: 'Reason', dataType: DataType.UInt16, read: (m) => m.reason },
  { name: 'TotalCount', dataType: DataType.UInt32, read: (m) => m.counter('total') },
  { name: 'GoodCount', dataType: DataType.UInt32, read: (m) => m.counter('good') },
  { name: 'RejectCount', dataType: DataType.UInt32, read: (m) => m.counter('reject') },
  {
    name: 'SpindleLoad',
    dataType: DataType.Double,
    read: (m) => m.processValue('spindleLoad'),
    analog: { unit: 'percent', low: 0, high: 100 },
  },
  {
    name: 'SpindleTemp',
    dataType: DataType.Double,
    read: (m) => m.processValue('spindleTemperature'),
    analog: { unit: 'degree_celsius', low: 0, high: 120 },
  },
  {
    name: 'SpindleSpeed',
    dataType: DataType.Double,
    read: (m) => m.processValue('spindleSpeed'),
    analog: { unit: 'revolutions_per_minute', low: 0, high: 12000 },
  },
];

export const CNC1_VARIABLE_NAMES: readonly string[] = VARIABLES.map((v) => v.name);

/** String node id (without the namespace) of a CNC1 variable, e.g. `Factory.Line2.CNC1.GoodCount`. */
export function cnc1NodeIdString(variable: string): string {
  return `Factory.Line2.CNC1.${variable}`;
}

export class OpcuaCncServer implements SimDevice {
  readonly id: string;
  private readonly opts: OpcuaCncOptions;
  private server: OPCUAServer | null = null;
  private boundPort: number | null = null;
  private fellBack = false;
  private lastError: string | null = null;
  private nsIndex: number | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: OpcuaCncOptions) {
    this.opts = options;
    this.id = options.id ?? 'cnc1-opcua';
  }

  get running(): boolean {
    return this.server !== null;
  }

  get port(): number | null {
    return this.boundPort;
  }

  /** Index of the server's own namespace (1 with node-opcua), known after the first start. */
  get namespaceIndex(): number | null {
    return this.nsIndex;
  }

  get endpointUrl(): string | null {
    return this.boundPort === null
      ? null
      : `opc.tcp://${this.advertisedHost()}:${this.boundPort}${OPCUA_RESOURCE_PATH}`;
  }

  /** A wildcard bind address is no use in an endpoint URL: advertise the host name then. */
  private advertisedHost(): string {
    const h = this.opts.host;
    return h === '0.0.0.0' || h === '::' ? os.hostname() : h;
  }

  /** Full node ids, e.g. `{ GoodCount: 'ns=1;s=Factory.Line2.CNC1.GoodCount' }`. */
  nodeIds(): Record<string, string> {
    const ns = this.nsIndex ?? 1;
    return Object.fromEntries(VARIABLES.map((v) => [v.name, `ns=${ns};s=${cnc1NodeIdString(v.name)}`]));
  }

  start(): Promise<void> {
    return this.serial(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serial(() => this.doStop());
  }

  endpoint(): DeviceEndpoint {
    return {
      id: this.id,
      protocol: 'opcua',
      description: 'CNC1 (line2) OPC UA server',
      host: this.advertisedHost(),
      requestedPort: this.opts.port,
      port: this.boundPort,
      url: this.endpointUrl,
      running: this.running,
      fellBack: this.fellBack,
      error: this.lastError,
    };
  }

  private serial(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(op);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async doStart(): Promise<void> {
    if (this.server) return;
    const wanted = this.boundPort ?? this.opts.port;
    try {
      const { port, fellBack } = await bindWithFallback(this.opts.host, wanted, (p) => this.listen(p), {
        acceptsZero: true,
      });
      this.boundPort = port;
      this.fellBack = this.fellBack || fellBack || (wanted !== 0 && port !== wanted);
      this.lastError = null;
    } catch (err) {
      this.lastError = errorMessage(err);
      throw err;
    }
  }

  private async listen(port: number): Promise<number> {
    const secure = this.opts.secure ?? true;
    const pki = (name: string) =>
      new OPCUACertificateManager({
        rootFolder: path.join(this.opts.dataDir, name),
        automaticallyAcceptUnknownCertificate: true,
      });
    const server = new OPCUAServer({
      port,
      host: this.opts.host,
      hostname: this.advertisedHost(),
      resourcePath: OPCUA_RESOURCE_PATH,
      allowAnonymous: true,
      securityModes: secure
        ? [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt]
        : [MessageSecurityMode.None],
      securityPolicies: secure ? [SecurityPolicy.None, SecurityPolicy.Basic256Sha256] : [SecurityPolicy.None],
      registerServerMethod: RegisterServerMethod.HIDDEN,
      serverCertificateManager: pki('opcua-pki'),
      userCertificateManager: pki('opcua-user-pki'),
      isAuditing: false,
      serverInfo: {
        applicationUri: OPCUA_APPLICATION_URI,
        productUri: 'urn:greenline:simulator',
        applicationName: { text: 'greenline CNC1 simulator', locale: 'en' },
      },
      buildInfo: { productName: 'greenline CNC1 simulator', manufacturerName: 'greenline' },
    });
    try {
      await server.initialize();
      this.buildAddressSpace(server);
      await server.start();
    } catch (err) {
      await server.shutdown(0).catch(() => undefined);
      throw err;
    }
    this.server = server;
    return server.endpoints[0]?.port ?? port;
  }

  private buildAddressSpace(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error('OPC UA address space is not ready');
    const ns = addressSpace.getOwnNamespace();
    this.nsIndex = ns.index;
    const factory = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Factory', nodeId: 's=Factory' });
    const line2 = ns.addFolder(factory, { browseName: 'Line2', nodeId: 's=Factory.Line2' });
    const cnc1 = ns.addObject({ organizedBy: line2, browseName: 'CNC1', nodeId: 's=Factory.Line2.CNC1' });
    const machine = this.opts.machine;
    for (const v of VARIABLES) {
      const common = {
        componentOf: cnc1,
        browseName: v.name,
        nodeId: `s=${cnc1NodeIdString(v.name)}`,
        accessLevel: 'CurrentRead',
        userAccessLevel: 'CurrentRead',
        minimumSamplingInterval: OPCUA_MIN_SAMPLING_MS,
        value: { get: () => new Variant({ dataType: v.dataType, value: v.read(machine) }) },
      } as const;
      if (v.analog) {
        ns.addAnalogDataItem({
          ...common,
          dataType: 'Double',
          engineeringUnits: standardUnits[v.analog.unit],
          engineeringUnitsRange: { low: v.analog.low, high: v.analog.high },
        });
      } else {
        ns.addVariable({ ...common, dataType: DataType[v.dataType] });
      }
    }
  }

  private async doStop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await server.shutdown(0);
  }
}
