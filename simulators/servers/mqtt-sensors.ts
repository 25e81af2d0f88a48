/**
 * Environment sensors publishing JSON over MQTT, and the embedded broker the
 * demo uses when no broker is configured.
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import type { Plant } from '../model/plant.js';
import type { DeviceEndpoint, SimDevice } from './device.js';
import { errorMessage } from './device.js';
import { bindWithFallback } from './ports.js';

export const MQTT_TOPICS = {
  hallEnv: 'greenline/sim/hall/env',
  compressedAir: 'greenline/sim/utilities/compressed-air',
  /** Retained, QoS 1: `{"online": true|false, "ts": ms}`; also the will message. */
  status: 'greenline/sim/sensors/status',
} as const;

export interface HallEnvPayload {
  ts: number;
  temperature: number;
  humidity: number;
}

export interface CompressedAirPayload {
  ts: number;
  flow: { value: number; unit: 'm3/h' };
  pressure: number;
}

export function hallEnvPayload(plant: Plant, ts: number): HallEnvPayload {
  const env = plant.environment.snapshot();
  return { ts, temperature: env.temperatureC, humidity: env.humidityPct };
}

export function compressedAirPayload(plant: Plant, ts: number): CompressedAirPayload {
  const env = plant.environment.snapshot();
  return { ts, flow: { value: env.airFlowM3h, unit: 'm3/h' }, pressure: env.airPressureBar };
}

// ------------------------------------------------------------------ broker

export interface EmbeddedBrokerOptions {
  readonly host: string;
  /** 0: a free port. */
  readonly port: number;
}

/** An aedes broker on a plain TCP listener (MQTT 3.1.1). */
export class EmbeddedBroker implements SimDevice {
  readonly id = 'mqtt-broker';
  private readonly opts: EmbeddedBrokerOptions;
  private broker: Aedes | null = null;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private boundPort: number | null = null;
  private fellBack = false;
  private lastError: string | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: EmbeddedBrokerOptions) {
    this.opts = options;
  }

  get running(): boolean {
    return this.server !== null;
  }

  get url(): string | null {
    return this.boundPort === null ? null : `mqtt://${this.opts.host}:${this.boundPort}`;
  }

  start(): Promise<void> {
    return this.serial(async () => {
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
    });
  }

  stop(): Promise<void> {
    return this.serial(async () => {
      const server = this.server;
      const broker = this.broker;
      if (!server) return;
      this.server = null;
      this.broker = null;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
      if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    });
  }

  endpoint(): DeviceEndpoint {
    return {
      id: this.id,
      protocol: 'mqtt',
      description: 'embedded MQTT broker (aedes) the sensors publish to',
      host: this.opts.host,
      requestedPort: this.opts.port,
      port: this.boundPort,
      url: this.url,
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

  private async listen(port: number): Promise<number> {
    const broker = await Aedes.createBroker();
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      broker.handle(socket);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host: this.opts.host }, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      throw err;
    }
    server.on('error', () => undefined);
    this.broker = broker;
    this.server = server;
    const addr = server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }
}

// --------------------------------------------------------------- publisher

let clientCounter = 0;

/** Resolves when `p` settles or after `ms`, whichever comes first; never rejects. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

export interface MqttSensorsOptions {
  readonly id?: string;
  readonly plant: Plant;
  /** Broker URL, resolved at each start (the embedded broker's port is known only then). */
  readonly brokerUrl: () => string | null;
  /** Real-time interval between publications, ms. */
  readonly intervalMs: number;
  /** Wall clock for the `ts` of payloads. */
  readonly now?: () => number;
}

export interface MqttSensorsStats {
  published: number;
  /** Publications skipped because the client was not connected. */
  skipped: number;
}

/** Publishes the hall and compressed-air readings every `intervalMs` (QoS 0, not retained). */
export class MqttSensorsPublisher implements SimDevice {
  readonly id: string;
  readonly stats: MqttSensorsStats = { published: 0, skipped: 0 };
  private readonly opts: MqttSensorsOptions;
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private brokerUrl: string | null = null;
  private lastError: string | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: MqttSensorsOptions) {
    this.opts = options;
    this.id = options.id ?? 'sensors-mqtt';
  }

  get running(): boolean {
    return this.client !== null;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  start(): Promise<void> {
    return this.serial(async () => {
      if (this.client) return;
      const url = this.opts.brokerUrl();
      if (!url) {
        this.lastError = 'no MQTT broker: start the embedded broker or give mqttUrl';
        throw new Error(this.lastError);
      }
      this.brokerUrl = url;
      const now = this.opts.now ?? Date.now;
      const client = mqtt.connect(url, {
        clientId: `greenline-sim-sensors-${process.pid}-${++clientCounter}`,
        reconnectPeriod: 1000,
        connectTimeout: 5000,
        queueQoSZero: false,
        will: {
          topic: MQTT_TOPICS.status,
          payload: Buffer.from(JSON.stringify({ online: false, ts: now() })),
          qos: 1,
          retain: true,
        },
      });
      client.on('error', (err) => {
        this.lastError = errorMessage(err);
      });
      client.on('connect', () => {
        this.lastError = null;
        client.publish(MQTT_TOPICS.status, JSON.stringify({ online: true, ts: now() }), { qos: 1, retain: true });
      });
      this.client = client;
      // Resolve once connected, or after a short wait: a broker that is down
      // shows as `error`, and the client keeps retrying by itself.
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 3000);
        function done() {
          clearTimeout(t);
          client.removeListener('connect', done);
          resolve();
        }
        client.once('connect', done);
      });
      this.timer = setInterval(() => this.publish(), this.opts.intervalMs);
      this.publish();
    });
  }

  stop(): Promise<void> {
    return this.serial(async () => {
      const client = this.client;
      if (!client) return;
      this.client = null;
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      if (client.connected) {
        const now = this.opts.now ?? Date.now;
        // A broker that went away must not hold the stop up.
        await withTimeout(
          client.publishAsync(MQTT_TOPICS.status, JSON.stringify({ online: false, ts: now() }), {
            qos: 1,
            retain: true,
          }),
          1000,
        );
      }
      await withTimeout(client.endAsync(true), 1000);
    });
  }

  endpoint(): DeviceEndpoint {
    let host = '';
    let port: number | null = null;
    if (this.brokerUrl) {
      try {
        const u = new URL(this.brokerUrl);
        host = u.hostname;
        port = u.port ? Number(u.port) : 1883;
      } catch {
        // an unparsable URL is reported as is
      }
    }
    return {
      id: this.id,
      protocol: 'mqtt',
      description: `environment sensors publishing to ${MQTT_TOPICS.hallEnv} and ${MQTT_TOPICS.compressedAir}`,
      host,
      requestedPort: port ?? 0,
      port,
      url: this.brokerUrl,
      running: this.running,
      fellBack: false,
      error: this.running && !this.connected ? (this.lastError ?? 'not connected to the broker') : this.lastError,
    };
  }

  private serial(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(op);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private publish(): void {
    const client = this.client;
    if (!client?.connected) {
      this.stats.skipped++;
      return;
    }
    const ts = (this.opts.now ?? Date.now)();
    const plant = this.opts.plant;
    client.publish(MQTT_TOPICS.hallEnv, JSON.stringify(hallEnvPayload(plant, ts)), { qos: 0, retain: false });
    client.publish(MQTT_TOPICS.compressedAir, JSON.stringify(compressedAirPayload(plant, ts)), {
      qos: 0,
      retain: false,
    });
    this.stats.published++;
  }
}
