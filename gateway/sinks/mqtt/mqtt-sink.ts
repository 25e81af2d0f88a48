/**
 * The northbound MQTT sink: tag values, closed minutes and machine events
 * published to a broker in the unified namespace (see uns.ts), and, when
 * configured, as a Sparkplug B edge node (see sparkplug-node.ts), through a
 * durable outbox of its own, so a broker outage, a network failure or a
 * gateway crash loses nothing the sink took over.
 *
 *   subscriber ─▶ staged (memory, ≤ enqueueDelayMs) ─▶ outbox (SQLite) ─▶ sender ─▶ broker (QoS 1)
 *
 * Taking over works as in the InfluxDB sink: subscribers only stage; one
 * transaction commits what was staged; a record counts as accepted once
 * committed.
 *
 * Sending. One batch at a time, oldest records first, every message QoS 1;
 * a batch leaves the outbox only once the broker acknowledged (PUBACK) every
 * message built from it. At most `maxInflight` messages wait for their
 * PUBACK at once (never more than the broker's Receive Maximum). A
 * connection that fails or a batch not acknowledged in `ackTimeoutMs` ends
 * the connection; the batch is sent again, whole, on the next one, so a
 * subscriber may see the messages of one batch twice (at least once:
 * consumers dedupe by topic and `ts`), never a gap, and each topic in order.
 *
 * Connections are ours, not mqtt.js's (`reconnectPeriod: 0`): every attempt
 * is a new client with a clean session, so nothing is resent behind the
 * outbox's back, and a Sparkplug will can carry a new bdSeq. Failed attempts
 * back off exponentially with jitter. With Sparkplug, each connection
 * publishes its birth sequence (NBIRTH seq 0 with the bdSeq of the will, then
 * a DBIRTH per machine) before anything else, then the backlog as DDATA with
 * the following seq (wrapping at 255): a host never sees data from before a
 * birth of the current connection. NCMD `Node Control/Rebirth` = true is
 * answered with a new birth sequence between two batches. `stop()` publishes
 * NDEATH itself, since a clean disconnect discards the will.
 *
 * Nothing silently: records dropped for the quota or never taken over are
 * counted, logged at a limited rate and shown in `status()`, whose `alarm` is
 * raised while the outbox drops for its quota or cannot be used.
 */
import { outboxAlarm } from '../outbox-alarm.js';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { decodePayload } from '../../../protocols/sparkplug/payload.js';
import type { CoreSample } from '../../core/index.js';
import { messageOf, type SinkLog } from '../errors.js';
import type { SinkAlarm } from '../influx/influx-sink.js';
import type { MetricsBatch } from '../influx/line-protocol.js';
import { Outbox, type OutboxPoint } from '../outbox.js';
import { LogLimiter, RateWindow } from '../rate-limit.js';
import { type SparkplugIds, SparkplugEdgeNode } from './sparkplug-node.js';
import { metricsRecords, type NorthPlantContext, type OutboxRecord, sampleRecord, UnsEncoder } from './uns.js';

export interface MqttNorthSinkOptions {
  /** `mqtt(s)://host:port` or `ws(s)://…` */
  readonly url: string;
  /** first topic level(s) of the unified namespace, e.g. the enterprise */
  readonly topicPrefix: string;
  readonly username?: string;
  readonly password?: string;
  /** also act as a Sparkplug B edge node */
  readonly sparkplug?: SparkplugIds;
  /** MQTT client id (default `greenline-<site>-<random>`) */
  readonly clientId?: string;
  /** quota of the outbox, MiB: beyond it the oldest records are dropped */
  readonly outboxMaxMb: number;
  readonly outboxPath: string;
  readonly plant: NorthPlantContext;
  readonly log: SinkLog;
  /** outbox records per batch (default 1000) */
  readonly batchSize?: number;
  /** messages waiting for their PUBACK at most (default 100) */
  readonly maxInflight?: number;
  /** longest staged records wait for their transaction (default 50) */
  readonly enqueueDelayMs?: number;
  /** first and longest wait between failed connection attempts (default 500 and 10 000) */
  readonly initialRetryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** a batch not acknowledged in this time ends the connection (default 10 000) */
  readonly ackTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly keepaliveS?: number;
  /** `stop()` sends what it can for this long (default 5000) */
  readonly stopTimeoutMs?: number;
  readonly synchronous?: 'normal' | 'full';
  readonly now?: () => number;
  readonly random?: () => number;
}

export type MqttSinkState = 'idle' | 'running' | 'failed' | 'stopping' | 'stopped';

export interface MqttSinkStatus {
  readonly name: 'mqtt';
  readonly state: MqttSinkState;
  /** the broker URL, without credentials */
  readonly target: string;
  readonly outboxPath: string;
  readonly connected: boolean;
  /** records in the outbox, waiting to be published */
  readonly backlog: number;
  readonly backlogBytes: number;
  readonly outboxMaxBytes: number;
  readonly oldestAgeMs: number | null;
  /** records committed to the outbox */
  readonly accepted: number;
  /** records whose messages the broker acknowledged */
  readonly sent: number;
  /** messages the broker acknowledged (UNS and Sparkplug, births included) */
  readonly messages: number;
  readonly sendRate: number;
  /** failed connection attempts, lost connections and unacknowledged batches */
  readonly failures: number;
  readonly connects: number;
  /** records dropped, oldest first, because the outbox reached its quota */
  readonly dropped: number;
  readonly rejected: 0;
  /** records handed to the sink that never reached the outbox */
  readonly notQueued: number;
  readonly lastError: string | null;
  readonly lastErrorAt: number | null;
  readonly lastSentAt: number | null;
  readonly sparkplug: {
    readonly groupId: string;
    readonly edgeNodeId: string;
    readonly bdSeq: number;
    readonly births: number;
    readonly rebirthRequests: number;
  } | null;
  readonly alarm: SinkAlarm;
}

interface Connection {
  readonly client: MqttClient;
  closed: boolean;
  /** resolves when the connection is gone */
  readonly gone: Promise<void>;
  readonly receiveMaximum: number;
}

const QUOTA_ALARM_CLEARS_BELOW = 0.5;
const DROP_LOG_INTERVAL_MS = 10_000;
const FAILURE_LOG_INTERVAL_MS = 60_000;
const COMMIT_RETRY_MS = 1000;
const COMPACT_EVERY_MS = 30_000;

class NotAcknowledged extends Error {}

export class MqttNorthSink {
  readonly outbox: Outbox;
  private readonly options: MqttNorthSinkOptions;
  private readonly log: SinkLog;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly limiter: LogLimiter;
  private readonly failureLimiter: LogLimiter;
  private readonly rate: RateWindow;
  private readonly uns: UnsEncoder;
  private readonly node: SparkplugEdgeNode | null;
  private readonly batchSize: number;
  private readonly maxStaged: number;
  private readonly target: string;

  private state: MqttSinkState = 'idle';
  private staged: string[] = [];
  private commitTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private conn: Connection | null = null;
  private rebirthWanted = false;
  private attempt = 0;
  private retryAt = 0;
  private stopDeadline = Number.POSITIVE_INFINITY;
  private lastCompactAt = 0;

  private counts = { accepted: 0, sent: 0, messages: 0, failures: 0, connects: 0, dropped: 0, notQueued: 0 };
  private births = 0;
  private rebirthRequests = 0;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;
  private failingSince: number | null = null;
  private lastSentAt: number | null = null;
  private openError: { at: number; message: string } | null = null;
  private commitError: { since: number; message: string } | null = null;
  private quotaSince: number | null = null;

  constructor(options: MqttNorthSinkOptions) {
    this.options = options;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.limiter = new LogLimiter(DROP_LOG_INTERVAL_MS, this.now);
    this.failureLimiter = new LogLimiter(FAILURE_LOG_INTERVAL_MS, this.now);
    this.rate = new RateWindow(10, this.now);
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? 1000));
    this.maxStaged = Math.max(10_000, 20 * this.batchSize);
    this.uns = new UnsEncoder(options.plant, options.topicPrefix);
    this.node = options.sparkplug === undefined ? null : new SparkplugEdgeNode(options.sparkplug, options.plant);
    this.target = withoutCredentials(options.url);
    this.outbox = new Outbox({
      path: options.outboxPath,
      maxBytes: options.outboxMaxMb * 1024 * 1024,
      receiver: 'the MQTT broker',
      ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    });
  }

  /** Opens the outbox and starts publishing in the background (the broker need not be up). */
  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    try {
      this.outbox.open();
    } catch (err) {
      this.state = 'failed';
      const message = messageOf(err);
      this.openError = { at: this.now(), message };
      this.setError(message);
      this.log.error({ err: message, outbox: this.outbox.path }, 'the MQTT sink cannot start');
      throw err;
    }
    this.state = 'running';
    const { points } = this.outbox.size;
    this.log.info(
      { target: this.target, outbox: this.outbox.path, backlog: points, sparkplug: this.node !== null },
      points > 0 ? 'MQTT sink started; publishing the backlog kept in its outbox' : 'MQTT sink started',
    );
    this.loop = this.run();
  }

  /** Commits what is staged, publishes what it can within `stopTimeoutMs`, sends NDEATH and disconnects. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') {
      await this.loop;
      return;
    }
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.clearCommitTimer();
    this.commit();
    const timeoutMs = this.options.stopTimeoutMs ?? 5000;
    this.stopDeadline = this.now() + timeoutMs;
    // a batch still waiting for its PUBACKs at the deadline stays in the outbox
    const abortTimer = setTimeout(() => this.conn?.client.end(true), timeoutMs);
    this.wake();
    try {
      await this.loop;
    } finally {
      clearTimeout(abortTimer);
      if (this.sleepTimer !== undefined) clearTimeout(this.sleepTimer);
      this.clearCommitTimer();
      this.commit();
      if (this.staged.length > 0)
        this.notQueued(this.staged.splice(0).length, 'the outbox could not be written at stop');
      await this.disconnect(true);
      const { points } = this.outbox.size;
      try {
        this.outbox.close();
      } catch (err) {
        this.log.error({ err: messageOf(err), outbox: this.outbox.path }, 'closing the MQTT outbox failed');
      }
      this.state = 'stopped';
      this.log.info(
        { sent: this.counts.sent, keptInOutbox: points, outbox: this.outbox.path },
        points > 0 ? 'MQTT sink stopped; unsent records stay in the outbox for the next start' : 'MQTT sink stopped',
      );
    }
  }

  /** The pipeline's subscriber (bound). Never throws. */
  readonly onSamples = (batch: readonly CoreSample[]): void => {
    this.take(batch.length, () => {
      let skipped = 0;
      for (const s of batch) {
        const r = sampleRecord(s);
        if (r === null) skipped++;
        else this.staged.push(JSON.stringify(r));
      }
      if (skipped > 0) this.notQueued(skipped, 'samples without a time');
    });
  };

  /** The metrics service's listener (bound). Never throws. */
  readonly onMetrics = (out: MetricsBatch): void => {
    this.take(out.minutes.length + out.events.length, () => {
      const { records, skipped } = metricsRecords(out);
      for (const r of records) this.staged.push(JSON.stringify(r));
      if (skipped > 0) this.notQueued(skipped, 'minutes without values or events without a time');
    });
  };

  status(): MqttSinkStatus {
    const { points, bytes, oldestAt } = this.outbox.size;
    this.updateQuotaAlarm(bytes);
    const sp = this.options.sparkplug;
    return {
      name: 'mqtt',
      state: this.state,
      target: this.target,
      outboxPath: this.outbox.path,
      connected: this.conn !== null && !this.conn.closed,
      backlog: points,
      backlogBytes: bytes,
      outboxMaxBytes: this.options.outboxMaxMb * 1024 * 1024,
      oldestAgeMs: oldestAt === null ? null : Math.max(0, this.now() - oldestAt),
      ...this.counts,
      rejected: 0,
      sendRate: this.rate.rate(),
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastSentAt: this.lastSentAt,
      sparkplug:
        sp === undefined || this.node === null
          ? null
          : {
              groupId: sp.groupId,
              edgeNodeId: sp.edgeNodeId,
              bdSeq: this.node.currentBdSeq,
              births: this.births,
              rebirthRequests: this.rebirthRequests,
            },
      alarm: this.alarm(bytes),
    };
  }

  // ---------- taking over ----------

  private take(n: number, stage: () => void): void {
    if (n === 0) return;
    try {
      if (!this.outbox.isOpen || (this.state !== 'running' && this.state !== 'stopping')) {
        this.notQueued(n, this.state === 'failed' ? 'the outbox cannot be used' : `the sink is ${this.state}`);
        return;
      }
      stage();
      if (this.staged.length >= this.batchSize) this.commitNow();
      else if (this.commitTimer === undefined) {
        this.commitTimer = setTimeout(
          this.commitNow,
          this.commitError === null ? (this.options.enqueueDelayMs ?? 50) : COMMIT_RETRY_MS,
        );
      }
    } catch (err) {
      this.contained('staging records', err);
    }
  }

  private readonly commitNow = (): void => {
    this.clearCommitTimer();
    this.commit();
    if (this.staged.length > 0) this.commitTimer = setTimeout(this.commitNow, COMMIT_RETRY_MS);
  };

  private clearCommitTimer(): void {
    if (this.commitTimer !== undefined) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
  }

  private commit(): void {
    if (this.staged.length === 0 || !this.outbox.isOpen) return;
    const lines = this.staged;
    this.staged = [];
    try {
      const result = this.outbox.append(lines, this.now());
      this.counts.accepted += lines.length;
      if (this.commitError !== null) {
        this.log.info({ outbox: this.outbox.path }, 'the MQTT outbox can be written again');
        this.commitError = null;
      }
      if (result.dropped > 0) this.quotaDropped(result.dropped);
      this.wake();
    } catch (err) {
      this.staged = lines.concat(this.staged);
      const message = `the outbox ${this.outbox.path} cannot be written: ${messageOf(err)}`;
      this.commitError = { since: this.commitError?.since ?? this.now(), message };
      this.setError(message);
      const held = this.limiter.take('commit');
      if (held !== null) {
        this.log.error(
          { err: messageOf(err), outbox: this.outbox.path, staged: this.staged.length, failuresHeldBack: held },
          'writing to the MQTT outbox failed; records are held in memory and tried again: check disk space and permissions',
        );
      }
      const excess = this.staged.length - this.maxStaged;
      if (excess > 0) {
        this.staged.splice(0, excess);
        this.notQueued(excess, 'the outbox cannot be written and the records held in memory reached their limit');
      }
    }
  }

  private notQueued(n: number, why: string): void {
    this.counts.notQueued += n;
    const held = this.limiter.take(`notQueued:${why}`);
    if (held !== null) {
      this.log.error(
        { records: n, notQueuedTotal: this.counts.notQueued, repeatsHeldBack: held },
        `records for the MQTT broker dropped before the outbox: ${why}`,
      );
    }
  }

  private quotaDropped(n: number): void {
    this.counts.dropped += n;
    this.quotaSince ??= this.now();
    const held = this.limiter.take('quota');
    if (held !== null) {
      this.log.error(
        {
          dropped: n,
          droppedTotal: this.counts.dropped,
          backlogBytes: this.outbox.size.bytes,
          outboxMaxMb: this.options.outboxMaxMb,
          lastError: this.lastError,
          repeatsHeldBack: held,
        },
        'the MQTT outbox is full: its oldest records were dropped; make the broker reachable or raise sinks.mqtt.outboxMaxMb',
      );
    }
  }

  private updateQuotaAlarm(bytes: number): void {
    if (this.quotaSince === null) return;
    if (bytes < this.options.outboxMaxMb * 1024 * 1024 * QUOTA_ALARM_CLEARS_BELOW) {
      this.quotaSince = null;
      this.limiter.reset('quota');
      this.log.info(
        { droppedTotal: this.counts.dropped, backlogBytes: bytes },
        'the MQTT outbox is below half its quota again; nothing more is dropped',
      );
    }
  }

  private alarm(bytes: number): SinkAlarm {
    return outboxAlarm({
      openError: this.openError,
      commitError: this.commitError,
      quotaSince: this.quotaSince,
      staged: this.staged.length,
      maxStaged: this.maxStaged,
      bytes,
      quotaMb: this.options.outboxMaxMb,
      dropped: this.counts.dropped,
      lastError: this.lastError,
      sink: 'MQTT',
      entries: 'records',
      receiver: 'broker',
    });
  }

  // ---------- publishing ----------

  private async run(): Promise<void> {
    while (this.state === 'running' || (this.state === 'stopping' && this.drainable())) {
      try {
        const now = this.now();
        if (this.retryAt > now) {
          if (this.state === 'stopping') break;
          await this.sleep(this.retryAt - now);
          continue;
        }
        if (this.conn === null || this.conn.closed) {
          await this.connectOnce();
          continue;
        }
        if (this.rebirthWanted) {
          this.rebirthWanted = false;
          await this.publishAll(this.conn, this.birthMessages());
          continue;
        }
        const batch = this.outbox.peek(this.batchSize);
        if (batch.length === 0) {
          if (this.state === 'stopping') break;
          this.maybeCompact();
          await this.sleep(1000);
          continue;
        }
        await this.sendBatch(this.conn, batch);
      } catch (err) {
        this.connectionFailed(err);
        if (this.state === 'stopping') break;
      }
    }
  }

  private drainable(): boolean {
    return this.outbox.isOpen && this.outbox.size.points > 0 && this.now() < this.stopDeadline;
  }

  private async connectOnce(): Promise<void> {
    await this.disconnect(false);
    const will = this.node?.connect(this.now());
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId:
        this.options.clientId ??
        `greenline-${this.options.sparkplug?.edgeNodeId ?? this.options.plant.site}-${Math.random().toString(16).slice(2, 10)}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: this.options.connectTimeoutMs ?? 10_000,
      keepalive: this.options.keepaliveS ?? 15,
      resubscribe: false,
      ...(this.options.username === undefined ? {} : { username: this.options.username }),
      ...(this.options.password === undefined ? {} : { password: this.options.password }),
      ...(will === undefined
        ? {}
        : { will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: false } }),
    };
    this.counts.connects++;
    const client = connect(this.options.url, options);
    let markGone: () => void = () => {};
    const gone = new Promise<void>((resolve) => {
      markGone = resolve;
    });
    const receiveMaximum = await new Promise<number>((resolve, reject) => {
      client.once('connect', (connack) => resolve(connack.properties?.receiveMaximum ?? 65_535));
      client.once('error', reject);
      client.once('close', () => reject(new Error('the broker closed the connection')));
    }).catch((err: unknown) => {
      client.removeAllListeners();
      client.on('error', () => {});
      client.end(true);
      throw err;
    });
    client.removeAllListeners('error');
    client.removeAllListeners('close');
    // mqtt.js writes a packet in pieces: without this, Nagle holds the last piece for the broker's delayed ACK (40 ms)
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    const conn: Connection = { client, closed: false, gone, receiveMaximum };
    const lost = (why: string) => {
      if (conn.closed) return;
      conn.closed = true;
      markGone();
      if (this.conn === conn && this.state !== 'stopped') this.connectionFailed(new Error(why));
      this.wake();
    };
    client.on('error', (err) => lost(messageOf(err)));
    client.on('close', () => lost('the connection to the broker was lost'));
    client.on('disconnect', (packet) => lost(`the broker disconnected (reason ${packet.reasonCode ?? 0})`));
    this.conn = conn;
    if (this.node !== null) {
      const node = this.node;
      client.on('message', (topic, payload) => {
        if (topic !== node.nodeTopic.command) return;
        try {
          if (SparkplugEdgeNode.isRebirth(decodePayload(payload).metrics)) {
            this.rebirthRequests++;
            this.rebirthWanted = true;
            this.wake();
          }
        } catch (err) {
          this.contained('reading a node command', err);
        }
      });
      await raceGone(conn, client.subscribeAsync(node.nodeTopic.command, { qos: 1 }), this.ackTimeoutMs());
      await this.publishAll(conn, this.birthMessages());
    }
    this.succeeded();
  }

  private birthMessages(): { topic: string; payload: Uint8Array }[] {
    if (this.node === null) return [];
    this.births++;
    return this.node.births(this.now());
  }

  private async sendBatch(conn: Connection, batch: readonly OutboxPoint[]): Promise<void> {
    const records: OutboxRecord[] = [];
    for (const p of batch) {
      try {
        records.push(JSON.parse(p.line) as OutboxRecord);
      } catch (err) {
        this.contained('reading an outbox record', err);
      }
    }
    const messages: { topic: string; payload: string | Uint8Array }[] = records.map((r) => this.uns.encode(r));
    if (this.node !== null) messages.push(...this.node.data(records, this.now()));
    this.outbox.protect(batch[batch.length - 1]!.id);
    try {
      await this.publishAll(conn, messages);
    } finally {
      this.outbox.protect(0);
    }
    this.outbox.remove(batch);
    this.counts.sent += batch.length;
    this.rate.add(batch.length);
    this.lastSentAt = this.now();
    this.updateQuotaAlarm(this.outbox.size.bytes);
  }

  /** Publishes in order, QoS 1, a window at a time; resolves once every message was acknowledged. */
  private async publishAll(
    conn: Connection,
    messages: readonly { topic: string; payload: string | Uint8Array }[],
  ): Promise<void> {
    const window = Math.max(1, Math.min(this.options.maxInflight ?? 100, conn.receiveMaximum));
    for (let i = 0; i < messages.length; i += window) {
      const acks = messages.slice(i, i + window).map(
        (m) =>
          new Promise<void>((resolve, reject) => {
            conn.client.publish(
              m.topic,
              typeof m.payload === 'string' ? m.payload : Buffer.from(m.payload),
              { qos: 1 },
              (err, packet) => {
                const code = (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
                if (err) reject(err);
                // 0x10: no subscribers, still accepted; ≥ 0x80: refused (not authorised, quota, …)
                else if (code >= 0x80) reject(new Error(`the broker refused ${m.topic} (reason ${code})`));
                else resolve();
              },
            );
          }),
      );
      await raceGone(conn, Promise.all(acks), this.ackTimeoutMs());
      this.counts.messages += acks.length;
    }
  }

  private ackTimeoutMs(): number {
    return this.options.ackTimeoutMs ?? 10_000;
  }

  private async disconnect(graceful: boolean): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (conn === null) return;
    const wasOpen = !conn.closed;
    conn.closed = true;
    if (graceful && wasOpen && this.node !== null) {
      // a clean disconnect discards the will: say we are gone ourselves
      const death = this.node.death(this.now());
      await raceGone(
        conn,
        conn.client.publishAsync(death.topic, Buffer.from(death.payload), { qos: 1 }).then(() => undefined),
        1000,
      ).catch(() => undefined);
    }
    conn.client.removeAllListeners();
    conn.client.on('error', () => {});
    if (!wasOpen) {
      // mqtt.js may never call back for a client that is closed already
      conn.client.end(true);
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      conn.client.end(!graceful, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = () => {
        if (this.sleepTimer !== undefined) clearTimeout(this.sleepTimer);
        this.sleepTimer = undefined;
        this.wakeUp = undefined;
        resolve();
      };
      this.sleepTimer = setTimeout(this.wakeUp, ms);
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }

  private succeeded(): void {
    if (this.failingSince !== null) {
      this.log.info(
        { failedAttempts: this.attempt, downForMs: this.now() - this.failingSince, backlog: this.outbox.size.points },
        'the MQTT broker accepts messages again; publishing the backlog',
      );
      this.failureLimiter.reset('failing');
    }
    this.failingSince = null;
    this.attempt = 0;
    this.retryAt = 0;
    this.lastError = null;
  }

  /** The connection failed (or a batch was not acknowledged): drop it and try again after a backoff. */
  private connectionFailed(err: unknown): void {
    const reason = err instanceof NotAcknowledged ? err.message : `publishing failed: ${messageOf(err)}`;
    const conn = this.conn;
    if (conn !== null && !conn.closed) {
      conn.closed = true;
      conn.client.removeAllListeners();
      conn.client.on('error', () => {});
      conn.client.end(true);
    }
    if (this.retryAt > this.now()) return; // already counted for this failure
    const now = this.now();
    this.counts.failures++;
    this.setError(reason);
    this.failingSince ??= now;
    this.attempt++;
    const initial = this.options.initialRetryDelayMs ?? 500;
    const max = Math.max(initial, this.options.maxRetryDelayMs ?? 10_000);
    const base = Math.min(max, initial * 2 ** Math.min(30, this.attempt - 1));
    this.retryAt = now + base / 2 + (this.random() * base) / 2;
    const held = this.failureLimiter.take('failing');
    if (held !== null) {
      this.log.warn(
        {
          err: reason,
          target: this.target,
          failedAttempts: this.attempt,
          attemptsHeldBack: held,
          backlog: this.outbox.size.points,
          retryInMs: Math.round(this.retryAt - now),
        },
        'publishing to the MQTT broker failed; records stay in the outbox and are published again',
      );
    }
    this.wake();
  }

  private setError(message: string): void {
    this.lastError = message;
    this.lastErrorAt = this.now();
  }

  private maybeCompact(): void {
    const now = this.now();
    if (now - this.lastCompactAt < COMPACT_EVERY_MS || !this.outbox.isOpen) return;
    this.lastCompactAt = now;
    try {
      this.outbox.compact();
    } catch (err) {
      this.contained('compacting the outbox', err);
    }
  }

  private contained(what: string, err: unknown): void {
    const held = this.limiter.take(`internal:${what}`);
    if (held !== null) {
      this.log.error({ err: messageOf(err), what, repeatsHeldBack: held }, 'the MQTT sink failed; it carries on');
    }
  }
}

/** Waits for `work`, failing when the connection goes or the time is up. */
async function raceGone<T>(conn: Connection, work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => {});
  try {
    return await Promise.race([
      work,
      conn.gone.then(() => {
        throw new Error('the connection to the broker was lost');
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new NotAcknowledged(`the broker did not acknowledge within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}
