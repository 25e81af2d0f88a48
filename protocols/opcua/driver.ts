/**
 * The OPC UA driver: one client, one session and one subscription per
 * device. After each connect it reads the server's namespaces and operation
 * limits, resolves every tag to a node id (browse paths through
 * TranslateBrowsePathsToNodeIds), and creates the monitored items in batches:
 * one CreateMonitoredItems request per set of monitoring parameters
 * (sampling interval, queue size, deadband), cut to the smaller of
 * `maxItemsPerCall` and the server's limit. Values arrive as data-change
 * notifications and leave in one batch per publish.
 *
 * Reconnection is ours: node-opcua's own retry is off (`maxRetry: 0`), and
 * any loss (`connection_lost`, `close`, session closed, keep-alive failure,
 * subscription terminated) tears the whole stack down, marks every tag
 * `bad` / `disconnected` once, and rebuilds client, session, subscription
 * and monitored items after the shared Backoff's delay. The old session is
 * closed before a new one is made, so a device never holds two. A fresh
 * stack after an outage costs a few requests, and gives the same behaviour
 * as for Modbus and MQTT: one attempt at a time, exponential delays with
 * jitter, visible in the counters.
 *
 * Server certificates are checked against `<dataDir>/opcua-pki` (see
 * pki.ts); a refused one leaves every tag `bad` / `server certificate not
 * trusted` and `lastError` names the file to copy and where.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type {
  ClientMonitoredItemGroup,
  ClientSession,
  ClientSubscription,
  DataValue,
  MonitoringParametersOptions,
  NodeId,
  OPCUAClient,
} from 'node-opcua';
import type { OpcuaDevice, OpcuaTag } from '../../config/schema.js';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { describeError } from '../errors.js';
import { badSamples, DriverHealth } from '../health.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { TimerSet } from '../timer-set.js';
import type { Driver, DriverContext, DriverCounters, DriverStatus, Sample } from '../types.js';
import {
  createClient,
  loadNodeOpcua,
  type NodeOpcua,
  readServerInfo,
  type ServerInfo,
  userIdentity,
} from './client.js';
import {
  defaultQueueSize,
  effectiveLimit,
  isFilterRefusal,
  type MonitorBatch,
  type MonitorParams,
  planMonitoredItems,
} from './monitor-plan.js';
import { openPki, type Pki } from './pki.js';
import { resolveTags } from './resolve.js';
import { dataValueToSample, OPCUA_MAX_KEEPALIVE_COUNT } from './values.js';

export interface OpcuaDriverOptions {
  backoff?: BackoffOptions;
  /** folder for the client's certificate store, `<dataDir>/opcua-pki` (default: <os tmp>/greenline) */
  dataDir?: string;
  logWindowMs?: number;
}

/**
 * Counters of the OPC UA driver on top of the shared ones; they appear in
 * `status().counters` next to them.
 */
export interface OpcuaCounters {
  /** values the server sent with a Bad status code */
  badStatus: number;
  /** values of an unsupported type, NaN or ±Infinity */
  decodeErrors: number;
  /** monitored items the server refused (unknown node id, not a variable, …) */
  itemsRefused: number;
  /** tags that did not resolve to a node: browse path not found, `nsu=` namespace unknown */
  pathsUnresolved: number;
  /** tags whose deadband filter the server refused; they run without it */
  filterFallbacks: number;
  /** connection attempts refused over the server certificate */
  certificateRejections: number;
}

const UNTRUSTED = 'server certificate not trusted';

const UNKNOWN_SERVER: ServerInfo = {
  namespaces: [],
  maxMonitoredItemsPerCall: null,
  maxNodesPerTranslate: null,
  maxNodesPerRead: null,
  maxNodesPerBrowse: null,
};

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

interface Target {
  readonly tag: OpcuaTag;
  readonly nodeId: NodeId;
}

interface Latest {
  readonly sample: Sample;
  emittedAt: number;
  /** re-sent once it has not gone out for this long */
  readonly quietMs: number;
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
  private readonly counters: DriverCounters & OpcuaCounters;
  private readonly rlog: RateLimitedLog;
  private readonly timers: TimerSet;
  private readonly backoff: Backoff;
  private readonly pkiDir: string;
  private readonly tagIds: readonly string[];

  private started = false;
  private stopped = false;
  private pki: Pki | null = null;
  private stack: Stack | null = null;
  private connecting: Promise<void> | null = null;
  /** the teardown of the previous stack; the next one waits for it (one session per device) */
  private tearingDown: Promise<void> = Promise.resolve();
  private connected = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempts = 0;
  /** the reason every tag was last marked bad with; null once anything else went out */
  private markedReason: string | null = null;
  /** the latest good or uncertain sample per tag, re-sent while the subscription lives */
  private readonly latest = new Map<string, Latest>();
  private pending: Sample[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private resendWanted = false;

  constructor(
    private readonly device: OpcuaDevice,
    private readonly ctx: DriverContext,
    options: OpcuaDriverOptions = {},
  ) {
    this.deviceId = device.id;
    this.health = new DriverHealth(device.id, 'opcua', device.endpointUrl, ctx, { latency: true });
    const extra: OpcuaCounters = {
      badStatus: 0,
      decodeErrors: 0,
      itemsRefused: 0,
      pathsUnresolved: 0,
      filterFallbacks: 0,
      certificateRejections: 0,
    };
    this.counters = Object.assign(this.health.counters, extra);
    this.rlog = new RateLimitedLog(ctx.log, {
      windowMs: options.logWindowMs ?? 30_000,
      now: () => ctx.now(),
      bindings: { deviceId: device.id, endpoint: device.endpointUrl },
    });
    this.timers = new TimerSet((err) => this.internalError(err));
    this.backoff = new Backoff(options.backoff);
    this.pkiDir = path.join(options.dataDir ?? path.join(os.tmpdir(), 'greenline'), 'opcua-pki');
    this.tagIds = device.tags.map((t) => t.id);
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
    this.flushTimer = null;
    this.pending = [];
    const stack = this.stack;
    this.stack = null;
    this.connected = false;
    if (stack) this.afterTeardown(stack);
    if (this.connecting) await this.connecting;
    await this.tearingDown;
    const pki = this.pki;
    this.pki = null;
    await pki?.release();
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

  /** Races a service call against the device timeout and the stack's teardown. */
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
      this.counters.requests++;
      const sent = performance.now();
      const answer = await Promise.race([work, deadline]);
      this.health.recordLatency(performance.now() - sent);
      return answer;
    } catch (err) {
      if (err instanceof StepTimeout) this.counters.timeouts++;
      throw err;
    } finally {
      clearTimeout(timer);
      if (onAbort) stack.abort.signal.removeEventListener('abort', onAbort);
    }
  }

  private async build(): Promise<void> {
    if (this.attempts++ > 0) this.counters.reconnects++;
    this.health.state = 'connecting';
    let stack: Stack | null = null;
    try {
      await this.tearingDown;
      const ua = await loadNodeOpcua();
      if (this.stopped) return;
      this.pki ??= await openPki(ua, this.pkiDir, {
        trustUnknown: this.device.trustUnknownServerCertificate,
        onTrusted: (thumbprint) =>
          this.rlog.warn(
            'certificate-trusted',
            { thumbprint, trustedDir: this.pki?.trustedDir },
            'trusted a server certificate on first sight (trustUnknownServerCertificate: true)',
          ),
      });
      if (this.stopped) return;
      this.pki.resetRejection();
      const client = createClient(ua, {
        securityMode: this.device.securityMode,
        securityPolicy: this.device.securityPolicy,
        certificateManager: this.pki.manager,
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
      if (current.dead) return;
      const identity = await userIdentity(ua, this.device.auth);
      const session = await this.step(current, 'create session', client.createSession(identity));
      current.session = session;
      if (current.dead) return;
      session.on('session_closed', () => lost('session closed'));
      session.on('keepalive_failure', () => lost('session keep-alive failed'));

      // a server that does not answer this still serves its variables: go on without limits
      const info = await this.step(current, 'read server limits', readServerInfo(ua, session)).catch(
        (err: unknown): ServerInfo => {
          if (current.dead) throw err;
          this.rlog.warn('server-info', { err: describeError(err) }, 'cannot read the server namespaces and limits');
          return UNKNOWN_SERVER;
        },
      );
      if (current.dead) return;
      const resolved = await resolveTags(ua, session, this.device.tags, {
        namespaces: info.namespaces,
        maxPerCall: effectiveLimit(this.device.maxItemsPerCall, info.maxNodesPerTranslate),
        call: (name, work) => this.step(current, name, work),
      });
      if (current.dead) return;

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
      current.subscription = subscription;
      if (current.dead) return;
      subscription.on('terminated', () => lost('subscription terminated'));
      // every publish response proves the subscription alive: re-send the values that did not change
      subscription.on('keepalive', () => this.requestResend(current));
      subscription.on('received_notifications', () => this.requestResend(current));
      subscription.on('internal_error', (err: Error) => lost(`subscription error: ${err.message}`));

      this.connected = true;
      this.health.state = 'connected';
      // `attempt`: connection attempts since the link last proved healthy (the backoff's count)
      this.rlog.info('connected', { attempt: this.backoff.attempt + 1 }, 'connected to the OPC UA server');

      const now = this.ctx.now();
      const unresolved: Sample[] = [];
      const targets: Target[] = [];
      this.device.tags.forEach((tag, i) => {
        const r = resolved[i];
        if (r?.ok) {
          targets.push({ tag, nodeId: r.nodeId });
          return;
        }
        const reason = r?.reason ?? 'unresolved';
        this.counters.pathsUnresolved++;
        this.health.fail(`tag ${tag.id}: ${reason}`, 'unresolved');
        this.rlog.warn(
          `resolve:${tag.id}`,
          { tagId: tag.id, browsePath: tag.browsePath, nodeId: tag.nodeId, reason },
          'a tag does not resolve to a node on the server',
        );
        unresolved.push({ tagId: tag.id, ts: now, value: null, quality: 'bad', reason });
      });
      this.emit(unresolved);

      const maxPerCall = effectiveLimit(this.device.maxItemsPerCall, info.maxMonitoredItemsPerCall);
      const batches = planMonitoredItems(
        targets.map((t) => ({ item: t, params: this.paramsOf(t.tag) })),
        maxPerCall,
      );
      for (const batch of batches) {
        if (current.dead) return;
        await this.monitor(ua, current, subscription, batch, maxPerCall);
      }
      if (!current.dead) this.backoff.reset();
    } catch (err) {
      if (stack?.dead || this.stopped) return;
      const rejection = this.pki?.lastRejection ?? null;
      let reason: string;
      let tagReason = 'disconnected';
      if (rejection && this.pki) {
        this.counters.certificateRejections++;
        reason = this.health.fail(this.pki.describeRejection(rejection), 'certificate');
        tagReason = rejection.status === 'BadCertificateUntrusted' ? UNTRUSTED : 'server certificate refused';
        this.rlog.error(
          'certificate-rejected',
          { reason, thumbprint: rejection.thumbprint, file: rejection.file, trustedDir: this.pki.trustedDir },
          'the OPC UA server certificate is not trusted',
        );
      } else {
        reason = this.health.fail(
          `connect failed: ${describeError(err)}`,
          err instanceof StepTimeout ? 'timeout' : 'connect',
        );
        this.rlog.warn('connect-failed', { err: reason }, 'cannot connect to the OPC UA server');
      }
      if (stack) {
        this.onLost(stack, reason, false, tagReason);
      } else {
        this.health.state = 'disconnected';
        this.markAll(tagReason);
        this.scheduleReconnect();
      }
    }
  }

  private quietMs(tag: OpcuaTag): number {
    const sampling = tag.samplingIntervalMs ?? this.device.samplingIntervalMs;
    return Math.max(1000, 2 * Math.max(this.device.publishingIntervalMs, sampling));
  }

  private paramsOf(tag: OpcuaTag): MonitorParams {
    const samplingIntervalMs = tag.samplingIntervalMs ?? this.device.samplingIntervalMs;
    return {
      samplingIntervalMs,
      queueSize: tag.queueSize ?? defaultQueueSize(this.device.publishingIntervalMs, samplingIntervalMs),
      deadband: tag.serverDeadband ? { type: tag.serverDeadband.type, value: tag.serverDeadband.value } : null,
    };
  }

  private async monitor(
    ua: NodeOpcua,
    stack: Stack,
    subscription: ClientSubscription,
    batch: MonitorBatch<Target>,
    maxPerCall: number,
  ): Promise<void> {
    const { AttributeIds, TimestampsToReturn, DataChangeFilter, DataChangeTrigger, DeadbandType } = ua;
    const { params, items } = batch;
    const parameters: MonitoringParametersOptions = {
      samplingInterval: params.samplingIntervalMs,
      discardOldest: true,
      queueSize: params.queueSize,
    };
    if (params.deadband) {
      parameters.filter = new DataChangeFilter({
        trigger: DataChangeTrigger.StatusValue,
        deadbandType: params.deadband.type === 'percent' ? DeadbandType.Percent : DeadbandType.Absolute,
        deadbandValue: params.deadband.value,
      });
    }
    const group = await this.step(
      stack,
      'create monitored items',
      subscription.monitorItems(
        items.map((t) => ({ nodeId: t.nodeId, attributeId: AttributeIds.Value })),
        parameters,
        TimestampsToReturn.Both,
      ),
    );
    if (stack.dead) return;
    stack.groups.push(group);
    group.on('changed', (_item: unknown, dataValue: DataValue, index: number) => {
      if (stack.dead || this.stopped) return;
      const target = items[index];
      if (target) this.onValue(target.tag, dataValue);
    });

    const now = this.ctx.now();
    const refused: Sample[] = [];
    const withoutFilter: Target[] = [];
    group.monitoredItems.forEach((item, i) => {
      const target = items[i];
      const status = item.statusCode;
      if (!target || !status || status.value >>> 30 < 2) return;
      const { tag } = target;
      if (params.deadband && isFilterRefusal(status.name)) {
        withoutFilter.push(target);
        return;
      }
      this.counters.itemsRefused++;
      this.health.fail(`tag ${tag.id}: ${status.name}`, 'refused');
      this.rlog.warn(
        `monitor:${tag.id}`,
        { tagId: tag.id, nodeId: target.nodeId.toString(), status: status.name },
        'the server refused a monitored item',
      );
      refused.push({ tagId: tag.id, ts: now, value: null, quality: 'bad', reason: status.name });
    });
    this.emit(refused);
    if (withoutFilter.length === 0) return;

    this.counters.filterFallbacks += withoutFilter.length;
    const ids = withoutFilter.map((t) => t.tag.id);
    this.rlog.warn(
      `filter-refused:${params.deadband?.type}:${params.deadband?.value}:${params.samplingIntervalMs}`,
      {
        tagIds: ids.length > 20 ? [...ids.slice(0, 20), `… ${ids.length - 20} more`] : ids,
        deadband: params.deadband,
        status: group.monitoredItems[items.indexOf(withoutFilter[0]!)]?.statusCode.name,
      },
      'the server refused the deadband filter; these tags run without it',
    );
    const fallback = planMonitoredItems(
      withoutFilter.map((t) => ({ item: t, params: { ...params, deadband: null } })),
      maxPerCall,
    );
    for (const b of fallback) {
      if (stack.dead) return;
      await this.monitor(ua, stack, subscription, b, maxPerCall);
    }
  }

  private onValue(tag: OpcuaTag, dataValue: DataValue): void {
    const now = this.ctx.now();
    let sample: Sample;
    try {
      sample = dataValueToSample(tag.id, dataValue, now);
    } catch (err) {
      sample = { tagId: tag.id, ts: now, value: null, quality: 'bad', reason: `decode error: ${describeError(err)}` };
    }
    if (sample.quality === 'bad') {
      const decode = sample.reason?.startsWith('decode error') ?? false;
      if (decode) this.counters.decodeErrors++;
      else this.counters.badStatus++;
      this.health.fail(`tag ${tag.id}: ${sample.reason}`, decode ? 'decode' : 'bad-status');
      this.rlog.warn(
        `value:${tag.id}`,
        { tagId: tag.id, nodeId: tag.nodeId, browsePath: tag.browsePath, reason: sample.reason },
        'a bad value',
      );
      this.latest.delete(tag.id);
    } else {
      this.latest.set(tag.id, { sample, emittedAt: now, quietMs: this.quietMs(tag) });
    }
    this.pending.push(sample);
    this.scheduleFlush();
  }

  /**
   * A monitored item reports only changes, so a steady value would look dead
   * downstream. Each publish response (data or keep-alive) shows the server
   * and the subscription are alive: re-send, unchanged (same timestamps),
   * the latest sample of every tag that has not gone out for two of its
   * intervals (the larger of publishing and sampling; at least a second).
   * A tag that changes at its sampling rate is never re-sent; a steady one
   * goes out every two intervals while other tags change, and with each
   * keep-alive otherwise. Done on the next turn of the event loop, after the
   * notifications of this publish (a server may spread one cycle's changes
   * over several publish responses).
   */
  private requestResend(stack: Stack): void {
    if (stack.dead || this.stopped) return;
    this.resendWanted = true;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = this.timers.timeout(0, () => {
      this.flushTimer = null;
      this.flush();
    });
  }

  private flush(): void {
    if (this.stopped) return;
    const out = this.pending;
    this.pending = [];
    if (this.resendWanted && this.connected) {
      this.resendWanted = false;
      const now = this.ctx.now();
      for (const entry of this.latest.values()) {
        if (now - entry.emittedAt < entry.quietMs) continue;
        entry.emittedAt = now;
        out.push(entry.sample);
      }
    }
    this.emit(out);
  }

  private emit(samples: readonly Sample[]): void {
    if (samples.length === 0) return;
    this.markedReason = null;
    this.health.emit(samples);
  }

  /** Every tag `bad` with this reason, once until something else is emitted. */
  private markAll(reason: string): void {
    this.latest.clear();
    this.pending = [];
    if (this.markedReason === reason) return;
    this.health.emit(badSamples(this.tagIds, this.ctx.now(), reason));
    this.markedReason = reason;
  }

  private onLost(stack: Stack, reason: string, log = true, tagReason = 'disconnected'): void {
    if (stack.dead || this.stopped) return;
    stack.dead = true;
    if (this.stack === stack) this.stack = null;
    const wasConnected = this.connected;
    this.connected = false;
    this.afterTeardown(stack);
    if (log) {
      this.health.fail(reason, 'disconnected');
      this.rlog.warn(wasConnected ? 'connection-lost' : 'connect-failed', { reason }, 'OPC UA connection lost');
    }
    this.health.state = 'disconnected';
    this.markAll(tagReason);
    this.scheduleReconnect();
  }

  /** Tears a stack down; the next connection attempt (and stop) wait for it. */
  private afterTeardown(stack: Stack): void {
    const previous = this.tearingDown;
    const current = this.teardown(stack);
    this.tearingDown = Promise.all([previous, current]).then(() => undefined);
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
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      client.disconnect().then(done, done);
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = this.timers.timeout(this.backoff.next(), () => {
      this.reconnectTimer = null;
      return this.connect();
    });
  }

  private internalError(err: unknown): void {
    this.health.fail(err, 'internal');
    this.rlog.error('internal', { err: describeError(err) }, 'unexpected error in the OPC UA driver');
  }
}
