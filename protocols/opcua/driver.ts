/**
 * The OPC UA driver: one client, one session, one subscription, monitored
 * items for every tag (grouped by sampling interval, one CreateMonitoredItems
 * call per group). Values arrive as data-change notifications.
 *
 * Reconnection is ours: node-opcua's own retry is off (`maxRetry: 0`), and
 * any loss (`connection_lost`, `close`, session closed, keep-alive failure,
 * subscription terminated) tears the whole stack down, marks every tag
 * `bad` / `disconnected` once, and rebuilds client, session, subscription
 * and monitored items after the shared Backoff's delay. A fresh stack after
 * an outage costs a few requests, and gives the same behaviour as for
 * Modbus and MQTT: one attempt at a time, exponential delays with jitter,
 * visible in the counters.
 *
 * The client certificate (node-opcua makes one even for security mode None)
 * lives in `<dataDir>/opcua-pki`, outside the repository; it is created once
 * and reused.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type {
  ClientMonitoredItemGroup,
  ClientSession,
  ClientSubscription,
  DataValue,
  OPCUAClient,
  UserIdentityInfo,
} from 'node-opcua';
import type { OpcuaDevice, OpcuaTag } from '../../config/schema.js';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { describeError } from '../errors.js';
import { DriverHealth } from '../health.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { TimerSet } from '../timer-set.js';
import type { Driver, DriverContext, DriverStatus, Sample } from '../types.js';
import { dataValueToSample, OPCUA_MAX_KEEPALIVE_COUNT } from './values.js';

export interface OpcuaDriverOptions {
  backoff?: BackoffOptions;
  /** folder for the client's certificate store (default: <os tmp>/greenline) */
  dataDir?: string;
  logWindowMs?: number;
}

interface Stack {
  client: OPCUAClient;
  session: ClientSession | null;
  subscription: ClientSubscription | null;
  groups: ClientMonitoredItemGroup[];
  /** set when this stack was torn down; its late events are ignored */
  dead: boolean;
  /** aborted on teardown, so a connection step in progress gives up at once */
  readonly abort: AbortController;
}

type NodeOpcua = typeof import('node-opcua');

/**
 * node-opcua is large (it loads in most of a second): it is imported when the
 * first OPC UA driver connects, not when the gateway starts.
 */
let nodeOpcua: Promise<NodeOpcua> | null = null;
const loadNodeOpcua = (): Promise<NodeOpcua> => {
  nodeOpcua ??= import('node-opcua');
  return nodeOpcua;
};

/** The DER bytes of a PEM (or already DER) certificate file. */
function certificateDer(content: Buffer): Buffer {
  const text = content.toString('latin1');
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(text);
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : content;
}

class StepTimeout extends Error {
  constructor(step: string, ms: number) {
    super(`${step} timed out after ${ms} ms`);
    this.name = 'StepTimeout';
  }
}

export class OpcuaDriver implements Driver {
  readonly deviceId: string;
  private readonly health: DriverHealth;
  private readonly rlog: RateLimitedLog;
  private readonly timers: TimerSet;
  private readonly backoff: Backoff;
  private readonly pkiDir: string;

  private started = false;
  private stopped = false;
  private stack: Stack | null = null;
  private connecting: Promise<void> | null = null;
  private connected = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempts = 0;
  /** the latest good or uncertain sample per tag, re-sent while the subscription lives */
  private readonly latest = new Map<string, Sample>();
  private lastResend = 0;

  constructor(
    private readonly device: OpcuaDevice,
    private readonly ctx: DriverContext,
    options: OpcuaDriverOptions = {},
  ) {
    this.deviceId = device.id;
    this.health = new DriverHealth(device.id, 'opcua', device.endpointUrl, ctx);
    this.rlog = new RateLimitedLog(ctx.log, {
      windowMs: options.logWindowMs ?? 30_000,
      now: () => ctx.now(),
      bindings: { deviceId: device.id, endpoint: device.endpointUrl },
    });
    this.timers = new TimerSet((err) => this.internalError(err));
    this.backoff = new Backoff(options.backoff);
    this.pkiDir = path.join(options.dataDir ?? path.join(os.tmpdir(), 'greenline'), 'opcua-pki');
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
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
    const stack = this.stack;
    this.stack = null;
    this.connected = false;
    if (stack) await this.teardown(stack);
    if (this.connecting) await this.connecting;
    this.health.state = 'stopped';
  }

  status(): DriverStatus {
    return this.health.snapshot();
  }

  private connect(): Promise<void> | undefined {
    if (this.stopped || !this.started || this.stack || this.connecting) return undefined;
    const attempt = this.build()
      .catch((err: unknown) => this.internalError(err))
      .finally(() => {
        this.connecting = null;
      });
    this.connecting = attempt;
    return attempt;
  }

  /** Races a step of the connection against the device timeout and the stack's teardown. */
  private async step<T>(stack: Stack, name: string, work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StepTimeout(name, this.device.timeoutMs)), this.device.timeoutMs);
      onAbort = () => reject(new Error(`${name} abandoned`));
      if (stack.abort.signal.aborted) onAbort();
      else stack.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
    work.catch(() => {}); // a step abandoned by the deadline may still reject later
    try {
      this.health.counters.requests++;
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
      if (onAbort) stack.abort.signal.removeEventListener('abort', onAbort);
    }
  }

  private async userIdentity(ua: NodeOpcua): Promise<UserIdentityInfo> {
    const { UserTokenType } = ua;
    const auth = this.device.auth;
    switch (auth.type) {
      case 'anonymous':
        return { type: UserTokenType.Anonymous };
      case 'username':
        return { type: UserTokenType.UserName, userName: auth.username, password: auth.password };
      case 'certificate': {
        const [cert, key] = await Promise.all([readFile(auth.certificateFile), readFile(auth.privateKeyFile, 'utf8')]);
        return { type: UserTokenType.Certificate, certificateData: certificateDer(cert), privateKey: key };
      }
    }
  }

  private async build(): Promise<void> {
    if (this.attempts++ > 0) this.health.counters.reconnects++;
    this.health.state = 'connecting';
    let stack: Stack | null = null;
    try {
      const ua = await loadNodeOpcua();
      if (this.stopped) return;
      const { OPCUACertificateManager, OPCUAClient, MessageSecurityMode, SecurityPolicy } = ua;
      const certificateManager = new OPCUACertificateManager({
        rootFolder: this.pkiDir,
        automaticallyAcceptUnknownCertificate: true,
      });
      const client = OPCUAClient.create({
        applicationName: 'greenline',
        connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
        endpointMustExist: false,
        securityMode: MessageSecurityMode[this.device.securityMode],
        securityPolicy: SecurityPolicy[this.device.securityPolicy],
        keepSessionAlive: true,
        requestedSessionTimeout: 60_000,
        clientCertificateManager: certificateManager,
      });
      const current: Stack = {
        client,
        session: null,
        subscription: null,
        groups: [],
        dead: false,
        abort: new AbortController(),
      };
      stack = current;
      this.stack = current;
      const lost = (reason: string) => this.onLost(current, reason);
      client.on('connection_lost', () => lost('connection lost'));
      client.on('close', (err?: Error | null) => lost(err ? `connection closed: ${err.message}` : 'connection closed'));

      await this.step(current, 'connect', client.connect(this.device.endpointUrl));
      if (stack.dead) return;
      const identity = await this.userIdentity(ua);
      const session = await this.step(current, 'create session', client.createSession(identity));
      stack.session = session;
      if (stack.dead) return;
      session.on('session_closed', () => lost('session closed'));
      session.on('keepalive_failure', () => lost('session keep-alive failed'));

      const subscription = await this.step(
        current,
        'create subscription',
        session.createSubscription2({
          requestedPublishingInterval: this.device.publishingIntervalMs,
          requestedLifetimeCount: 100,
          requestedMaxKeepAliveCount: OPCUA_MAX_KEEPALIVE_COUNT,
          maxNotificationsPerPublish: 0,
          publishingEnabled: true,
          priority: 10,
        }),
      );
      stack.subscription = subscription;
      if (stack.dead) return;
      subscription.on('terminated', () => lost('subscription terminated'));
      // every publish response proves the subscription alive: re-send the values that did not change
      subscription.on('keepalive', () => this.resendUnchanged(current));
      subscription.on('received_notifications', () => this.resendUnchanged(current));
      subscription.on('internal_error', (err: Error) => lost(`subscription error: ${err.message}`));

      this.connected = true;
      this.health.state = 'connected';
      // `attempt`: connection attempts since the link last proved healthy (the backoff's count)
      this.rlog.info('connected', { attempt: this.backoff.attempt + 1 }, 'connected to the OPC UA server');

      for (const [samplingMs, tags] of this.tagsBySamplingInterval()) {
        if (stack.dead) return;
        await this.monitor(ua, stack, subscription, samplingMs, tags);
      }
      if (!stack.dead) this.backoff.reset();
    } catch (err) {
      if (stack?.dead || this.stopped) return;
      const reason = this.health.fail(`connect failed: ${describeError(err)}`);
      this.rlog.warn('connect-failed', { err: reason }, 'cannot connect to the OPC UA server');
      if (stack) {
        this.onLost(stack, reason, false);
      } else {
        this.health.state = 'disconnected';
        this.markDisconnected();
        this.scheduleReconnect();
      }
    }
  }

  private tagsBySamplingInterval(): Map<number, OpcuaTag[]> {
    const groups = new Map<number, OpcuaTag[]>();
    for (const tag of this.device.tags) {
      const ms = tag.samplingIntervalMs ?? this.device.samplingIntervalMs;
      const list = groups.get(ms);
      if (list) list.push(tag);
      else groups.set(ms, [tag]);
    }
    return groups;
  }

  private async monitor(
    ua: NodeOpcua,
    stack: Stack,
    subscription: ClientSubscription,
    samplingMs: number,
    tags: OpcuaTag[],
  ): Promise<void> {
    const { AttributeIds, TimestampsToReturn } = ua;
    // enough queue to carry every sample taken between two publishes
    const queueSize = Math.min(
      100,
      Math.max(1, Math.ceil(this.device.publishingIntervalMs / Math.max(1, samplingMs)) + 1),
    );
    const group = await this.step(
      stack,
      'create monitored items',
      subscription.monitorItems(
        tags.map((t) => ({ nodeId: t.nodeId, attributeId: AttributeIds.Value })),
        { samplingInterval: samplingMs, discardOldest: true, queueSize },
        TimestampsToReturn.Both,
      ),
    );
    if (stack.dead) return;
    stack.groups.push(group);
    group.on('changed', (_item: unknown, dataValue: DataValue, index: number) => {
      if (stack.dead || this.stopped) return;
      const tag = tags[index];
      if (tag) this.onValue(tag, dataValue);
    });

    const now = this.ctx.now();
    const refused: Sample[] = [];
    group.monitoredItems.forEach((item, i) => {
      const tag = tags[i];
      const status = item.statusCode;
      if (!tag || !status || status.value >>> 30 < 2) return;
      this.health.fail(`tag ${tag.id}: ${status.name}`);
      this.rlog.warn(
        `monitor:${tag.id}`,
        { tagId: tag.id, nodeId: tag.nodeId, status: status.name },
        'the server refused a monitored item',
      );
      refused.push({ tagId: tag.id, ts: now, value: null, quality: 'bad', reason: status.name });
    });
    this.health.emit(refused);
  }

  private onValue(tag: OpcuaTag, dataValue: DataValue): void {
    let sample: Sample;
    try {
      sample = dataValueToSample(tag.id, dataValue, this.ctx.now());
    } catch (err) {
      sample = {
        tagId: tag.id,
        ts: this.ctx.now(),
        value: null,
        quality: 'bad',
        reason: `decode error: ${describeError(err)}`,
      };
    }
    if (sample.quality === 'bad') {
      this.health.fail(`tag ${tag.id}: ${sample.reason}`);
      this.rlog.warn(`value:${tag.id}`, { tagId: tag.id, nodeId: tag.nodeId, reason: sample.reason }, 'a bad value');
    }
    if (sample.quality === 'bad') this.latest.delete(tag.id);
    else this.latest.set(tag.id, sample);
    this.health.emit([sample]);
  }

  /**
   * A monitored item reports only changes, so a steady value would look dead
   * downstream. Each publish response (data or keep-alive) shows the server
   * and the subscription are alive: re-send the latest samples, unchanged
   * (same timestamps), at most once per publishing interval and second.
   */
  private resendUnchanged(stack: Stack): void {
    if (stack.dead || this.stopped || this.latest.size === 0) return;
    const now = this.ctx.now();
    if (now - this.lastResend < Math.max(1000, this.device.publishingIntervalMs)) return;
    this.lastResend = now;
    this.health.emit([...this.latest.values()]);
  }

  private onLost(stack: Stack, reason: string, log = true): void {
    if (stack.dead || this.stopped) return;
    stack.dead = true;
    if (this.stack === stack) this.stack = null;
    const wasConnected = this.connected;
    this.connected = false;
    void this.teardown(stack);
    if (log) {
      this.health.fail(reason);
      this.rlog.warn(wasConnected ? 'connection-lost' : 'connect-failed', { reason }, 'OPC UA connection lost');
    }
    this.health.state = 'disconnected';
    this.markDisconnected();
    this.scheduleReconnect();
  }

  private async teardown(stack: Stack): Promise<void> {
    stack.dead = true;
    stack.abort.abort();
    const { client, session } = stack;
    client.removeAllListeners('connection_lost');
    client.removeAllListeners('close');
    session?.removeAllListeners('session_closed');
    session?.removeAllListeners('keepalive_failure');
    stack.subscription?.removeAllListeners('terminated');
    stack.subscription?.removeAllListeners('keepalive');
    stack.subscription?.removeAllListeners('received_notifications');
    for (const g of stack.groups) g.removeAllListeners('changed');
    // Closing the session politely lets the server free it at once; bounded, the server may be gone.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      timer.unref();
      client.disconnect().then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        () => {
          clearTimeout(timer);
          resolve();
        },
      );
    });
  }

  private markDisconnected(): void {
    this.latest.clear();
    this.health.markDisconnected(this.device.tags.map((t) => t.id));
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = this.timers.timeout(this.backoff.next(), () => {
      this.reconnectTimer = null;
      return this.connect();
    });
  }

  private internalError(err: unknown): void {
    this.health.fail(err);
    this.rlog.error('internal', { err: describeError(err) }, 'unexpected error in the OPC UA driver');
  }
}
