/**
 * The MQTT driver, JSON format: subscribes to each tag's topic (one
 * subscription per topic, shared by the tags on it) and turns messages into
 * Samples (see payload.ts for the decoding rules).
 *
 * MQTT 5 first; a broker that refuses it (code 1, or 132 in MQTT 5 terms:
 * unsupported protocol version) is asked again at once in MQTT 3.1.1, and
 * that version is kept for the device.
 *
 * Reconnects are ours, not mqtt.js's (`reconnectPeriod: 0`): each attempt is
 * a fresh client, one at a time, spaced by the shared Backoff. The backoff
 * restarts only after a connection stayed up for STABLE_MS, so a broker that
 * accepts and drops at once is not hammered.
 *
 * Quality: a payload that does not decode makes that tag `bad`
 * (`decode error: …`); a tag with no message for `staleAfterMs` while
 * connected is emitted once as `stale`; losing the broker marks every tag
 * `bad` / `disconnected`, once per outage.
 */
import { type IClientOptions, type MqttClient, connect } from 'mqtt';
import type { MqttDevice } from '../../config/schema.js';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { DriverError, describeError } from '../errors.js';
import { DriverHealth, badSamples } from '../health.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { TimerSet } from '../timer-set.js';
import type { Driver, DriverContext, DriverStatus, Sample } from '../types.js';
import { type TopicBinding, bindTag, decodeMessage } from './payload.js';

export interface MqttDriverOptions {
  backoff?: BackoffOptions;
  /** CONNECT to CONNACK, ms (default 10 000) */
  connectTimeoutMs?: number;
  logWindowMs?: number;
}

const STABLE_MS = 10_000;

/** CONNACK codes that mean "not this protocol version": 1 (MQTT 3.1.1), 132 (MQTT 5). */
const isVersionRefusal = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 1 || code === 132;
};

/** The broker URL without credentials, for status and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/** Tag bindings per topic; throws a DriverError for a format or path the driver cannot serve. */
export function bindMqttDevice(device: MqttDevice): Map<string, TopicBinding[]> {
  if (device.format === 'sparkplug-b') {
    throw new DriverError(
      'GL_ERR_DRIVER_UNSUPPORTED',
      device.id,
      'Sparkplug B decoding is not available in this build; use format: json',
    );
  }
  const problems: string[] = [];
  const topics = new Map<string, TopicBinding[]>();
  for (const tag of device.tags) {
    try {
      const binding = bindTag(tag);
      const list = topics.get(tag.topic);
      if (list) list.push(binding);
      else topics.set(tag.topic, [binding]);
    } catch (err) {
      problems.push(describeError(err));
    }
  }
  if (problems.length > 0) throw new DriverError('GL_ERR_DRIVER_CONFIG', device.id, problems.join('; '));
  return topics;
}

interface TagWatch {
  lastMessageAt: number;
  stale: boolean;
}

export class MqttDriver implements Driver {
  readonly deviceId: string;
  private readonly health: DriverHealth;
  private readonly rlog: RateLimitedLog;
  private readonly timers: TimerSet;
  private readonly backoff: Backoff;
  private readonly connectTimeoutMs: number;

  private started = false;
  private stopped = false;
  private topics = new Map<string, TopicBinding[]>();
  private readonly watch = new Map<string, TagWatch>();
  private client: MqttClient | null = null;
  private connected = false;
  private connectedAt: number | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempts = 0;
  private protocolVersion: 4 | 5 = 5;
  /** the broker refused MQTT 5 on this attempt: retry at once in 3.1.1 */
  private retryInOlderVersion = false;
  /** an error was already reported for the current connection attempt */
  private attemptFailed = false;

  constructor(
    private readonly device: MqttDevice,
    private readonly ctx: DriverContext,
    options: MqttDriverOptions = {},
  ) {
    this.deviceId = device.id;
    const endpoint = redactUrl(device.url);
    this.health = new DriverHealth(device.id, 'mqtt', endpoint, ctx);
    this.rlog = new RateLimitedLog(ctx.log, {
      windowMs: options.logWindowMs ?? 30_000,
      now: () => ctx.now(),
      bindings: { deviceId: device.id, endpoint },
    });
    this.timers = new TimerSet((err) => this.internalError(err));
    this.backoff = new Backoff(options.backoff);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.topics = bindMqttDevice(this.device);
    this.started = true;
    this.stopped = false;
    const tick = Math.min(1000, Math.max(50, Math.floor(this.device.staleAfterMs / 4)));
    this.timers.interval(tick, () => this.checkStale());
    this.health.state = 'connecting';
    this.timers.timeout(0, () => this.connect());
  }

  async stop(): Promise<void> {
    if (!this.started) {
      this.health.state = 'stopped';
      return;
    }
    this.stopped = true;
    this.started = false;
    this.timers.clearAll();
    this.reconnectTimer = null;
    const client = this.client;
    this.client = null;
    this.connected = false;
    if (client) await this.endClient(client);
    this.health.state = 'stopped';
  }

  status(): DriverStatus {
    return this.health.snapshot();
  }

  private connect(): void {
    if (this.stopped || !this.started || this.client) return;
    if (this.attempts++ > 0) this.health.counters.reconnects++;
    this.health.state = 'connecting';
    this.retryInOlderVersion = false;
    this.attemptFailed = false;
    const options: IClientOptions = {
      protocolVersion: this.protocolVersion,
      clientId: this.device.clientId ?? `greenline-${this.device.id}-${Math.random().toString(16).slice(2, 10)}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: this.connectTimeoutMs,
      keepalive: 30,
      resubscribe: false,
    };
    if (this.device.username !== undefined) options.username = this.device.username;
    if (this.device.password !== undefined) options.password = this.device.password;

    let client: MqttClient;
    try {
      client = connect(this.device.url, options);
    } catch (err) {
      this.connectionFailed(err);
      return;
    }
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('error', (err) => this.onError(client, err));
    client.on('close', () => this.onClose(client));
  }

  private onConnect(client: MqttClient): void {
    if (client !== this.client || this.stopped) return;
    this.connected = true;
    this.connectedAt = this.ctx.now();
    this.health.state = 'connected';
    // `attempt`: connection attempts since the link last proved healthy (the backoff's count)
    this.rlog.info('connected', { attempt: this.backoff.attempt + 1 }, 'connected to the broker');
    const now = this.ctx.now();
    for (const tag of this.device.tags) this.watch.set(tag.id, { lastMessageAt: now, stale: false });

    const subscriptions: Record<string, { qos: 0 | 1 | 2 }> = {};
    for (const topic of this.topics.keys()) subscriptions[topic] = { qos: this.device.qos };
    this.health.counters.requests++;
    client.subscribe(subscriptions, (err, granted) => {
      if (client !== this.client) return;
      if (err) {
        this.health.fail(`subscribe failed: ${describeError(err)}`);
        this.rlog.warn('subscribe-failed', { err: describeError(err) }, 'cannot subscribe to the tag topics');
        return;
      }
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (refused.length > 0) {
        this.health.fail(`subscription refused for ${refused.join(', ')}`);
        this.rlog.warn('subscribe-refused', { topics: refused }, 'the broker refused subscriptions');
        const ts = this.ctx.now();
        const ids = refused.flatMap((t) => (this.topics.get(t) ?? []).map((b) => b.tag.id));
        for (const id of ids) this.watch.set(id, { lastMessageAt: ts, stale: true });
        this.health.emit(badSamples(ids, ts, 'subscription refused'));
      }
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (this.stopped) return;
    const bindings = this.topics.get(topic);
    if (!bindings) return;
    const receivedAt = this.ctx.now();
    const decoded = decodeMessage(payload, bindings, receivedAt);
    for (const b of bindings) this.watch.set(b.tag.id, { lastMessageAt: receivedAt, stale: false });
    for (const s of decoded.samples) {
      if (s.quality !== 'bad') continue;
      this.health.fail(`tag ${s.tagId}: ${s.reason}`);
      this.rlog.warn(`decode:${s.tagId}`, { tagId: s.tagId, topic, reason: s.reason }, 'a message did not decode');
    }
    for (const tagId of decoded.badTimestamps) {
      this.rlog.warn(
        `timestamp:${tagId}`,
        { tagId, topic },
        'the payload timestamp is neither ms since epoch nor ISO 8601: receive time used',
      );
    }
    this.health.emit(decoded.samples);
  }

  private onError(client: MqttClient, err: unknown): void {
    if (client !== this.client || this.stopped) return;
    if (!this.connected && this.protocolVersion === 5 && isVersionRefusal(err)) {
      this.protocolVersion = 4;
      this.retryInOlderVersion = true;
      this.rlog.info('mqtt-3.1.1', {}, 'the broker does not speak MQTT 5: using MQTT 3.1.1');
      client.end(true);
      return;
    }
    const text = describeError(err);
    this.health.fail(this.connected ? text : `connect failed: ${text}`);
    this.rlog.warn(this.connected ? 'client-error' : 'connect-failed', { err: text }, 'MQTT client error');
    if (!this.connected) {
      this.attemptFailed = true;
      // mqtt.js normally closes after an error; make sure of it.
      client.end(true);
    }
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client || this.stopped) return;
    const wasConnected = this.connected;
    this.client = null;
    this.connected = false;
    client.removeAllListeners('message');
    client.removeAllListeners('connect');
    void this.endClient(client);
    if (this.retryInOlderVersion) {
      this.attempts--; // the same attempt, in the other protocol version
      this.timers.timeout(0, () => this.connect());
      return;
    }
    if (wasConnected) {
      this.health.fail('connection to the broker lost');
      this.rlog.warn('connection-lost', {}, 'connection to the broker lost');
      if (this.connectedAt !== null && this.ctx.now() - this.connectedAt >= STABLE_MS) this.backoff.reset();
    } else if (!this.attemptFailed) {
      this.health.fail('connect failed: connection closed by the broker');
      this.rlog.warn('connect-failed', {}, 'cannot connect to the broker');
    }
    this.connectedAt = null;
    this.health.state = 'disconnected';
    this.markDisconnected();
    this.scheduleReconnect();
  }

  private connectionFailed(err: unknown): void {
    const text = this.health.fail(`connect failed: ${describeError(err)}`);
    this.rlog.warn('connect-failed', { err: text }, 'cannot connect to the broker');
    this.health.state = 'disconnected';
    this.markDisconnected();
    this.scheduleReconnect();
  }

  private markDisconnected(): void {
    this.health.markDisconnected(this.device.tags.map((t) => t.id));
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = this.timers.timeout(this.backoff.next(), () => {
      this.reconnectTimer = null;
      this.connect();
    });
  }

  private checkStale(): void {
    if (!this.connected || this.stopped) return;
    const now = this.ctx.now();
    const stale: Sample[] = [];
    for (const [tagId, w] of this.watch) {
      if (w.stale || now - w.lastMessageAt < this.device.staleAfterMs) continue;
      w.stale = true;
      stale.push({
        tagId,
        ts: now,
        value: null,
        quality: 'stale',
        reason: `no message for ${this.device.staleAfterMs} ms`,
      });
    }
    this.health.emit(stale);
  }

  private endClient(client: MqttClient): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      timer.unref();
      try {
        client.end(true, {}, () => {
          clearTimeout(timer);
          resolve();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  private internalError(err: unknown): void {
    this.health.fail(err);
    this.rlog.error('internal', { err: describeError(err) }, 'unexpected error in the MQTT driver');
  }
}
