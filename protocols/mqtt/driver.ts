/**
 * The MQTT driver: one broker connection per device, in one of two formats.
 *
 * - `json`: each tag subscribes to a topic or a topic filter (`+`, `#`); a
 *   message feeds every tag whose filter matches its topic (payload.ts has
 *   the decoding rules). Filters covered by another one are not subscribed
 *   twice (topic-filter.ts).
 * - `sparkplug-b`: a Sparkplug host for the configured edge nodes of one
 *   group (sparkplug-tags.ts); on a seq gap, an unknown alias or data before
 *   a birth it publishes NCMD `Node Control/Rebirth`, unless
 *   `sparkplug.requestRebirth` is false. With `sparkplug.hostId` it
 *   publishes the host's STATE (online, retained, QoS 1) with an offline
 *   will, and publishes offline itself on `stop()`.
 *
 * MQTT 5 first; a broker that refuses it (code 1, or 132 in MQTT 5 terms:
 * unsupported protocol version) is asked again at once in MQTT 3.1.1, and
 * that version is kept for the device. TLS files (`tls.ca`, `cert`, `key`)
 * are read on each connection attempt, so renewed certificates are picked
 * up; one that cannot be read fails that attempt like a refused connection.
 * `cleanSession: false` asks for a persistent session (session expiry
 * `sessionExpirySeconds` in MQTT 5).
 *
 * Reconnects are ours, not mqtt.js's (`reconnectPeriod: 0`): each attempt is
 * a fresh client, one at a time, spaced by the shared Backoff. The backoff
 * restarts only after a connection stayed up for STABLE_MS, so a broker that
 * accepts and drops at once is not hammered.
 *
 * Quality: a payload that does not decode makes its tags `bad`
 * (`decode error: …`); a payload above `maxPayloadBytes` is dropped, counted
 * and makes its tags `bad` (`payload too large …`); a tag with no message for
 * `staleAfterMs` while connected is emitted once as `stale`; losing the
 * broker marks every tag `bad` / `disconnected`, once per outage.
 */
import { readFile } from 'node:fs/promises';
import { type IClientOptions, type MqttClient, connect } from 'mqtt';
import type { MqttDevice } from '../../config/schema.js';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { DriverError, describeError } from '../errors.js';
import { DriverHealth, badSamples } from '../health.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { stateTopic, statePayload } from '../sparkplug/topic.js';
import { TimerSet } from '../timer-set.js';
import type { Driver, DriverContext, DriverCounters, DriverStatus, Sample } from '../types.js';
import { type TopicBinding, bindTag, decodeMessage } from './payload.js';
import { SparkplugTags } from './sparkplug-tags.js';
import { type PlannedSubscription, TopicRouter, planSubscriptions, topicFilterError } from './topic-filter.js';

export interface MqttDriverOptions {
  backoff?: BackoffOptions;
  /** CONNECT to CONNACK, ms (default 10 000) */
  connectTimeoutMs?: number;
  logWindowMs?: number;
  /** Sparkplug: no second rebirth request to one edge node within this time, ms (default 5000) */
  rebirthHoldoffMs?: number;
}

/** The shared counters plus the MQTT ones. */
export interface MqttCounters extends DriverCounters {
  /** messages received on the tags' subscriptions */
  messages: number;
  /** messages dropped unread (larger than `maxPayloadBytes`) */
  dropped: number;
  /** payloads or values that did not decode (also in `errors`) */
  decodeErrors: number;
  /** Sparkplug seq gaps (also in `errors`) */
  seqGaps: number;
  /** Sparkplug rebirth requests (NCMD) published */
  rebirthRequests: number;
}

const STABLE_MS = 10_000;
const MESSAGE_COUNTERS = ['messages', 'dropped', 'decodeErrors', 'seqGaps', 'rebirthRequests'] as const;

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

export type MqttBinding =
  | {
      readonly format: 'json';
      /** every tag, by its filter */
      readonly router: TopicRouter<TopicBinding>;
      readonly subscriptions: readonly PlannedSubscription[];
      /** per subscription, the tags it serves: for messages that name their subscription (MQTT 5) */
      readonly routers: readonly TopicRouter<TopicBinding>[];
      /** requested filter → ids of its tags */
      readonly tagsByFilter: ReadonlyMap<string, readonly string[]>;
    }
  | { readonly format: 'sparkplug-b'; readonly sparkplug: SparkplugTags };

/** How a device's tags are served; throws a DriverError for a config the driver cannot serve. */
export function bindMqttDevice(device: MqttDevice, options: { rebirthHoldoffMs?: number } = {}): MqttBinding {
  if (device.format === 'sparkplug-b') {
    try {
      return { format: 'sparkplug-b', sparkplug: new SparkplugTags(device, options) };
    } catch (err) {
      throw new DriverError('GL_ERR_DRIVER_CONFIG', device.id, describeError(err));
    }
  }
  const problems: string[] = [];
  const router = new TopicRouter<TopicBinding>();
  const requests = new Map<string, 0 | 1 | 2>();
  const tagsByFilter = new Map<string, string[]>();
  const bindingsByFilter = new Map<string, TopicBinding[]>();
  for (const tag of device.tags) {
    try {
      if (tag.topic === undefined) throw new Error(`tag "${tag.id}" has no topic`);
      const filterError = topicFilterError(tag.topic);
      if (filterError) throw new Error(`tag "${tag.id}" topic "${tag.topic}": ${filterError}`);
      const tagBinding = bindTag(tag);
      router.add(tag.topic, tagBinding);
      bindingsByFilter.set(tag.topic, [...(bindingsByFilter.get(tag.topic) ?? []), tagBinding]);
      const qos = tag.qos ?? device.qos;
      requests.set(tag.topic, Math.max(requests.get(tag.topic) ?? 0, qos) as 0 | 1 | 2);
      const ids = tagsByFilter.get(tag.topic);
      if (ids) ids.push(tag.id);
      else tagsByFilter.set(tag.topic, [tag.id]);
    } catch (err) {
      problems.push(describeError(err));
    }
  }
  if (problems.length > 0) throw new DriverError('GL_ERR_DRIVER_CONFIG', device.id, problems.join('; '));
  const subscriptions = planSubscriptions(requests);
  const routers = subscriptions.map((sub) => {
    const r = new TopicRouter<TopicBinding>();
    for (const f of sub.serves) for (const b of bindingsByFilter.get(f) ?? []) r.add(f, b);
    return r;
  });
  return { format: 'json', router, subscriptions, routers, tagsByFilter };
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
  private readonly rebirthHoldoffMs: number | undefined;
  private readonly stats: Record<(typeof MESSAGE_COUNTERS)[number], number> = {
    messages: 0,
    dropped: 0,
    decodeErrors: 0,
    seqGaps: 0,
    rebirthRequests: 0,
  };

  private started = false;
  private stopped = false;
  private binding: MqttBinding | null = null;
  private readonly watch = new Map<string, TagWatch>();
  private client: MqttClient | null = null;
  private connecting = false;
  private connected = false;
  private connectedAt: number | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempts = 0;
  private protocolVersion: 4 | 5 = 5;
  /** the broker refused MQTT 5 on this attempt: retry at once in 3.1.1 */
  private retryInOlderVersion = false;
  /** an error was already reported for the current connection attempt */
  private attemptFailed = false;
  /** Sparkplug STATE timestamp of the current connection (birth and will carry the same one) */
  private stateTs = 0;

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
    this.rebirthHoldoffMs = options.rebirthHoldoffMs;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.binding = bindMqttDevice(this.device, { rebirthHoldoffMs: this.rebirthHoldoffMs });
    this.started = true;
    this.stopped = false;
    const tick = Math.min(1000, Math.max(50, Math.floor(this.device.staleAfterMs / 4)));
    this.timers.interval(tick, () => this.checkStale());
    if (this.binding.format === 'sparkplug-b') {
      // report-by-exception: steady metrics are re-sent so they do not look dead downstream
      const every = Math.max(1000, Math.floor(this.device.staleAfterMs / 3));
      this.timers.interval(every, () => this.resendSparkplug());
    }
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
    const wasConnected = this.connected;
    this.client = null;
    this.connected = false;
    if (client) {
      const hostId = this.device.sparkplug?.hostId;
      if (wasConnected && hostId !== undefined && this.binding?.format === 'sparkplug-b') {
        // a clean disconnect sends no will: say offline ourselves
        await this.publishBounded(client, stateTopic(hostId), statePayload(false, this.stateTs), 1, true);
      }
      await this.endClient(client);
    }
    this.health.state = 'stopped';
  }

  status(): DriverStatus & { readonly counters: Readonly<MqttCounters> } {
    const s = this.health.snapshot();
    return { ...s, counters: { ...s.counters, ...this.stats } };
  }

  private async connect(): Promise<void> {
    if (this.stopped || !this.started || this.client || this.connecting) return;
    if (this.attempts++ > 0) this.health.counters.reconnects++;
    this.health.state = 'connecting';
    this.retryInOlderVersion = false;
    this.attemptFailed = false;
    const options: IClientOptions = {
      protocolVersion: this.protocolVersion,
      clientId: this.device.clientId ?? `greenline-${this.device.id}-${Math.random().toString(16).slice(2, 10)}`,
      clean: this.device.cleanSession,
      reconnectPeriod: 0,
      connectTimeout: this.connectTimeoutMs,
      keepalive: 30,
      resubscribe: false,
    };
    if (this.protocolVersion === 5 && !this.device.cleanSession) {
      options.properties = { sessionExpiryInterval: this.device.sessionExpirySeconds };
    }
    if (this.device.username !== undefined) options.username = this.device.username;
    if (this.device.password !== undefined) options.password = this.device.password;
    const hostId = this.device.sparkplug?.hostId;
    if (hostId !== undefined && this.device.format === 'sparkplug-b') {
      this.stateTs = this.ctx.now();
      options.will = {
        topic: stateTopic(hostId),
        payload: Buffer.from(statePayload(false, this.stateTs)),
        qos: 1,
        retain: true,
      };
    }
    if (this.device.tls) {
      this.connecting = true;
      try {
        Object.assign(options, await this.tlsOptions());
      } catch (err) {
        this.connecting = false;
        this.connectionFailed(err);
        return;
      } finally {
        this.connecting = false;
      }
      if (this.stopped || !this.started) return;
    }

    let client: MqttClient;
    const startedAt = this.ctx.now();
    try {
      client = connect(this.device.url, options);
    } catch (err) {
      this.connectionFailed(err);
      return;
    }
    this.client = client;
    client.on('connect', (connack) =>
      this.onConnect(client, startedAt, connack.properties?.subscriptionIdentifiersAvailable),
    );
    client.on('message', (topic, payload, packet) =>
      this.onMessage(client, topic, payload, packet.properties?.subscriptionIdentifier),
    );
    client.on('error', (err) => this.onError(client, err));
    client.on('close', () => this.onClose(client));
  }

  private async tlsOptions(): Promise<Pick<IClientOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>> {
    const tls = this.device.tls!;
    const read = async (file: string | undefined, what: string): Promise<Buffer | undefined> => {
      if (file === undefined) return undefined;
      try {
        return await readFile(file);
      } catch (err) {
        throw new Error(`cannot read tls.${what} "${file}": ${describeError(err)}`);
      }
    };
    const [ca, cert, key] = await Promise.all([read(tls.ca, 'ca'), read(tls.cert, 'cert'), read(tls.key, 'key')]);
    return {
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
    };
  }

  private onConnect(client: MqttClient, startedAt: number, subscriptionIds: boolean | undefined): void {
    if (client !== this.client || this.stopped) return;
    const now = this.ctx.now();
    this.health.recordLatency(now - startedAt);
    this.connected = true;
    this.connectedAt = now;
    this.health.state = 'connected';
    // `attempt`: connection attempts since the link last proved healthy (the backoff's count)
    this.rlog.info('connected', { attempt: this.backoff.attempt + 1 }, 'connected to the broker');
    for (const tag of this.device.tags) this.watch.set(tag.id, { lastMessageAt: now, stale: false });

    const binding = this.binding!;
    const plain: Record<string, { qos: 0 | 1 | 2 }> = {};
    if (binding.format === 'json') {
      // overlapping subscriptions get an identifier each, so a message the broker sends once per subscription feeds each tag once
      const identify = this.protocolVersion === 5 && subscriptionIds !== false;
      binding.subscriptions.forEach((sub, i) => {
        if (identify && sub.overlaps) this.subscribe(client, { [sub.filter]: { qos: sub.qos } }, i + 1);
        else plain[sub.filter] = { qos: sub.qos };
      });
    } else {
      const hostId = this.device.sparkplug?.hostId;
      if (hostId !== undefined) {
        plain[stateTopic(hostId)] = { qos: 1 };
        this.publishState(client, true);
      }
      for (const f of binding.sparkplug.subscriptions()) plain[f] = { qos: this.device.qos };
    }
    if (Object.keys(plain).length > 0) this.subscribe(client, plain);
  }

  private subscribe(client: MqttClient, filters: Record<string, { qos: 0 | 1 | 2 }>, id?: number): void {
    this.health.counters.requests++;
    const sentAt = this.ctx.now();
    const callback = (err: Error | null, granted?: { topic: string; qos: number }[]) => {
      if (client !== this.client) return;
      if (err) {
        this.health.fail(`subscribe failed: ${describeError(err)}`, 'subscribe');
        this.rlog.warn('subscribe-failed', { err: describeError(err) }, 'cannot subscribe to the tag topics');
        return;
      }
      this.health.recordLatency(this.ctx.now() - sentAt);
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (refused.length > 0) this.subscriptionsRefused(refused);
    };
    if (id === undefined) client.subscribe(filters, callback);
    else client.subscribe(filters, { qos: 0, properties: { subscriptionIdentifier: id } }, callback);
  }

  private subscriptionsRefused(refused: readonly string[]): void {
    this.health.fail(`subscription refused for ${refused.join(', ')}`, 'subscribe');
    this.rlog.warn('subscribe-refused', { topics: refused }, 'the broker refused subscriptions');
    const binding = this.binding!;
    const ids = new Set<string>();
    if (binding.format === 'json') {
      for (const s of binding.subscriptions) {
        if (!refused.includes(s.filter)) continue;
        for (const f of s.serves) for (const id of binding.tagsByFilter.get(f) ?? []) ids.add(id);
      }
    } else if (refused.some((t) => t.startsWith('spBv1.0/') && !t.startsWith('spBv1.0/STATE/'))) {
      for (const tag of this.device.tags) ids.add(tag.id);
    }
    const ts = this.ctx.now();
    for (const id of ids) this.watch.set(id, { lastMessageAt: ts, stale: true });
    this.health.emit(badSamples(ids, ts, 'subscription refused'));
  }

  private onMessage(client: MqttClient, topic: string, payload: Buffer, ids: number | number[] | undefined): void {
    if (this.stopped || client !== this.client) return;
    const binding = this.binding!;
    if (binding.format === 'json') this.onJsonMessage(binding, topic, payload, ids);
    else this.onSparkplugMessage(client, binding.sparkplug, topic, payload);
  }

  private onJsonMessage(
    binding: Extract<MqttBinding, { format: 'json' }>,
    topic: string,
    payload: Buffer,
    ids: number | number[] | undefined,
  ): void {
    let bindings: TopicBinding[];
    if (ids === undefined) bindings = binding.router.match(topic);
    else if (typeof ids === 'number') bindings = binding.routers[ids - 1]?.match(topic) ?? [];
    else bindings = [...new Set(ids.flatMap((id) => binding.routers[id - 1]?.match(topic) ?? []))];
    if (bindings.length === 0) return;
    this.stats.messages++;
    const receivedAt = this.ctx.now();
    if (payload.byteLength > this.device.maxPayloadBytes) {
      const reason = this.dropOversized(topic, payload.byteLength);
      this.emit(
        badSamples(
          bindings.map((b) => b.tag.id),
          receivedAt,
          reason,
        ),
      );
      return;
    }
    const decoded = decodeMessage(payload, bindings, receivedAt);
    for (const s of decoded.samples) {
      if (s.quality !== 'bad') continue;
      this.stats.decodeErrors++;
      this.health.fail(`tag ${s.tagId}: ${s.reason}`, 'decode');
      this.rlog.warn(`decode:${s.tagId}`, { tagId: s.tagId, topic, reason: s.reason }, 'a message did not decode');
    }
    for (const tagId of decoded.badTimestamps) {
      this.rlog.warn(
        `timestamp:${tagId}`,
        { tagId, topic },
        'the payload timestamp is neither ms since epoch nor ISO 8601: receive time used',
      );
    }
    this.emit(decoded.samples);
  }

  private onSparkplugMessage(client: MqttClient, sparkplug: SparkplugTags, topic: string, payload: Buffer): void {
    const hostId = this.device.sparkplug?.hostId;
    if (hostId !== undefined && topic === stateTopic(hostId)) {
      this.onOwnState(client, payload);
      return;
    }
    const t = sparkplug.parse(topic);
    if (!t) return;
    this.stats.messages++;
    const receivedAt = this.ctx.now();
    if (payload.byteLength > this.device.maxPayloadBytes) {
      const reason = this.dropOversized(topic, payload.byteLength);
      this.emit(sparkplug.unreadable(t, reason, receivedAt));
      return;
    }
    const out = sparkplug.handle(t, payload, receivedAt);
    for (const p of out.problems) {
      const where = { edgeNodeId: p.edgeNodeId, ...(p.deviceId === null ? {} : { sparkplugDeviceId: p.deviceId }) };
      const scope = `${p.edgeNodeId}/${p.deviceId ?? ''}`;
      switch (p.kind) {
        case 'decode':
        case 'unknown-alias':
        case 'unnamed-metric':
          this.stats.decodeErrors++;
          this.health.fail(`${topic}: ${p.detail}`, 'decode');
          this.rlog.warn(
            `sparkplug-${p.kind}:${scope}`,
            { ...where, topic, reason: p.detail },
            'a Sparkplug message did not decode',
          );
          break;
        case 'seq-gap':
          this.stats.seqGaps++;
          this.health.fail(`${topic}: ${p.detail}`, 'sequence');
          this.rlog.warn(
            `sparkplug-seq:${scope}`,
            { ...where, topic, reason: p.detail },
            'Sparkplug messages were lost',
          );
          break;
        case 'not-in-birth':
          this.health.fail(`${topic}: ${p.detail}`, 'config');
          this.rlog.warn(
            `sparkplug-birth:${scope}`,
            { ...where, reason: p.detail },
            'configured metrics are missing from a birth',
          );
          break;
        case 'no-birth':
        case 'old-death':
          this.rlog.info(`sparkplug-${p.kind}:${scope}`, { ...where, topic, reason: p.detail }, p.detail);
          break;
      }
    }
    // a payload that did not decode is counted once above, not once per tag
    const wholePayload = out.problems.some((p) => p.kind === 'decode');
    for (const s of wholePayload ? [] : out.samples) {
      if (s.quality !== 'bad' || !s.reason?.startsWith('decode error')) continue;
      this.stats.decodeErrors++;
      this.health.fail(`tag ${s.tagId}: ${s.reason}`, 'decode');
      this.rlog.warn(
        `decode:${s.tagId}`,
        { tagId: s.tagId, topic, reason: s.reason },
        'a Sparkplug metric did not decode',
      );
    }
    this.emit(out.samples);
    if (out.rebirth !== null && this.device.sparkplug?.requestRebirth)
      this.requestRebirth(client, sparkplug, out.rebirth);
  }

  private requestRebirth(client: MqttClient, sparkplug: SparkplugTags, edgeNodeId: string): void {
    if (!this.connected) return;
    const cmd = sparkplug.rebirthCommand(edgeNodeId, this.ctx.now());
    this.stats.rebirthRequests++;
    this.health.counters.requests++;
    this.rlog.info(`rebirth:${edgeNodeId}`, { edgeNodeId, topic: cmd.topic }, 'asked an edge node to rebirth');
    client.publish(cmd.topic, Buffer.from(cmd.payload), { qos: 0, retain: false }, (err) => {
      if (err && client === this.client) this.health.fail(`rebirth request failed: ${describeError(err)}`, 'publish');
    });
  }

  /** our STATE topic: a stale offline (an earlier will, another instance) is answered with online */
  private onOwnState(client: MqttClient, payload: Buffer): void {
    let online: unknown;
    try {
      online = (JSON.parse(payload.toString('utf8')) as { online?: unknown }).online;
    } catch {
      return;
    }
    if (online === false && this.connected) {
      this.rlog.info('state-offline', {}, 'the host STATE read offline while connected: publishing online again');
      this.publishState(client, true);
    }
  }

  private publishState(client: MqttClient, online: boolean): void {
    const hostId = this.device.sparkplug?.hostId;
    if (hostId === undefined) return;
    this.health.counters.requests++;
    client.publish(stateTopic(hostId), statePayload(online, this.stateTs), { qos: 1, retain: true }, (err) => {
      if (err && client === this.client) this.health.fail(`STATE publish failed: ${describeError(err)}`, 'publish');
    });
  }

  private resendSparkplug(): void {
    if (!this.connected || this.stopped || this.binding?.format !== 'sparkplug-b') return;
    this.emit(this.binding.sparkplug.resend());
  }

  private dropOversized(topic: string, size: number): string {
    const reason = `payload too large (${size} bytes > maxPayloadBytes ${this.device.maxPayloadBytes})`;
    this.stats.dropped++;
    this.health.fail(`${topic}: ${reason}`, 'oversized');
    this.rlog.warn(
      'oversized',
      { topic, bytes: size, max: this.device.maxPayloadBytes },
      'a message was too large: dropped',
    );
    return reason;
  }

  /** emits Samples and keeps the stale watch current */
  private emit(samples: readonly Sample[]): void {
    if (samples.length === 0) return;
    const now = this.ctx.now();
    for (const s of samples) {
      const w = this.watch.get(s.tagId);
      if (!w) continue;
      if (s.quality === 'stale') w.stale = true;
      else {
        w.lastMessageAt = now;
        w.stale = false;
      }
    }
    this.health.emit(samples);
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
    this.health.fail(this.connected ? text : `connect failed: ${text}`, this.connected ? 'other' : 'connect');
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
    // messages may be lost while we are away: Sparkplug sessions start again with the next births
    if (this.binding?.format === 'sparkplug-b') this.binding.sparkplug.reset();
    if (wasConnected) {
      this.health.fail('connection to the broker lost', 'disconnected');
      this.rlog.warn('connection-lost', {}, 'connection to the broker lost');
      if (this.connectedAt !== null && this.ctx.now() - this.connectedAt >= STABLE_MS) this.backoff.reset();
    } else if (!this.attemptFailed) {
      this.health.fail('connect failed: connection closed by the broker', 'connect');
      this.rlog.warn('connect-failed', {}, 'cannot connect to the broker');
    }
    this.connectedAt = null;
    this.health.state = 'disconnected';
    this.markDisconnected();
    this.scheduleReconnect();
  }

  private connectionFailed(err: unknown): void {
    const text = this.health.fail(`connect failed: ${describeError(err)}`, 'connect');
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
      return this.connect();
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

  /** publishes and waits for the broker's acknowledgement, 1 s at most */
  private publishBounded(
    client: MqttClient,
    topic: string,
    payload: string,
    qos: 0 | 1,
    retain: boolean,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      timer.unref();
      try {
        client.publish(topic, payload, { qos, retain }, () => {
          clearTimeout(timer);
          resolve();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
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
    this.health.fail(err, 'internal');
    this.rlog.error('internal', { err: describeError(err) }, 'unexpected error in the MQTT driver');
  }
}
