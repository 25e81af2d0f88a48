/**
 * The InfluxDB sink: pipeline samples, closed metric minutes and machine
 * events go to InfluxDB through a durable outbox, so nothing the sink took
 * over is lost to an InfluxDB outage, a network failure or a gateway crash.
 *
 *   subscriber ─▶ staged (memory, ≤ enqueueDelayMs) ─▶ outbox (SQLite) ─▶ sender ─▶ InfluxDB /write
 *
 * Taking over. `onSamples` and `onMetrics` only encode and stage; a
 * transaction commits what was staged at most `enqueueDelayMs` later (at
 * once when a batch is full). A pipeline batch is never split across
 * transactions. Points count as accepted once committed: from then on they
 * survive a killed process (see `Outbox` for power cuts).
 *
 * Sending. One request at a time, oldest points first: a batch goes when
 * `batchSize` points wait or the oldest has waited `flushIntervalMs`; after
 * an outage full batches follow each other until the backlog is gone.
 * Points leave the outbox only when InfluxDB answered 2xx. A failure (no
 * answer, 5xx, refused credentials, missing database) is retried with
 * exponential backoff and jitter; after a network failure `/ping` is asked
 * first so a dead server costs no large requests. A 400 that names bad points
 * splits the batch in halves until the refused points stand alone; those are
 * dropped, counted and logged with InfluxDB's reason, the others delivered.
 * Re-sent points overwrite themselves in InfluxDB (see line-protocol.ts).
 *
 * Nothing silently: points dropped for the quota, refused by InfluxDB or
 * never taken over (outbox unusable, sink stopped) are counted, logged at a
 * limited rate and shown in `status()`, whose `alarm` is raised while the
 * outbox drops for its quota or cannot be used.
 *
 * A failing sink never stops the gateway: `start()` throws only when the
 * outbox cannot be opened (the sink then stays `failed` and counts what it is
 * handed); nothing it does later throws into the pipeline.
 */
import { outboxAlarm } from '../outbox-alarm.js';
import type { AlarmChange } from '../../core/alarms/index.js';
import type { CoreSample } from '../../core/index.js';
import { messageOf, SinkError, type SinkLog } from '../errors.js';
import { Outbox, type OutboxPoint } from '../outbox.js';
import { LogLimiter, RateWindow } from '../rate-limit.js';
import { InfluxClient } from './client.js';
import {
  encodeAlarm,
  encodeEvent,
  encodeMinute,
  type InfluxPlantContext,
  type MetricsBatch,
  SampleEncoder,
} from './line-protocol.js';

export interface InfluxDbSinkOptions {
  /** `http(s)://host:port` of the v1 API (InfluxDB 1.x, or 2.x/3.x v1 compatibility) */
  readonly url: string;
  readonly database: string;
  readonly retentionPolicy?: string;
  readonly username?: string;
  /** InfluxDB 2.x/3.x: an API token */
  readonly password?: string;
  /** points per request at most */
  readonly batchSize: number;
  /** longest a point waits for a batch to fill before it is sent anyway */
  readonly flushIntervalMs: number;
  /** quota of the outbox, MiB: beyond it the oldest points are dropped */
  readonly outboxMaxMb: number;
  /** the outbox's SQLite file */
  readonly outboxPath: string;
  readonly plant: InfluxPlantContext;
  readonly log: SinkLog;
  readonly now?: () => number;
  readonly random?: () => number;
  /** longest staged points wait for their transaction (default 50) */
  readonly enqueueDelayMs?: number;
  /** points held in memory at most while the outbox cannot be written (default 20 × batchSize, at least 10 000) */
  readonly maxStagedPoints?: number;
  /** first and longest wait between failed attempts (default 500 and 10 000) */
  readonly initialRetryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** a request not answered in this time counts as failed (default 10 000) */
  readonly requestTimeoutMs?: number;
  /** `stop()` sends what it can for this long, then keeps the rest in the outbox (default 5000) */
  readonly stopTimeoutMs?: number;
  /** the outbox's durability: `normal` (default) survives a killed process, `full` also a power cut */
  readonly synchronous?: 'normal' | 'full';
  readonly credentialsIn?: 'header' | 'query';
  readonly gzipLevel?: number;
  /** called after each outbox commit with the number of points it accepted */
  readonly onCommitted?: (points: number) => void;
}

export type InfluxSinkState = 'idle' | 'running' | 'failed' | 'stopping' | 'stopped';

/** A condition the alarm engine raises as a system alarm while `active`. */
export interface SinkAlarm {
  readonly active: boolean;
  /** when the condition began, ms since epoch; null while inactive */
  readonly since: number | null;
  readonly message: string | null;
}

export interface InfluxSinkStatus {
  readonly name: 'influxdb';
  readonly state: InfluxSinkState;
  /** URL and database, without credentials */
  readonly target: string;
  readonly outboxPath: string;
  /** whether InfluxDB answered the last request; null before the first */
  readonly reachable: boolean | null;
  /** the server's version as `/ping` reports it */
  readonly influxVersion: string | null;
  /** points in the outbox, waiting to be sent */
  readonly backlog: number;
  /** their size as the quota counts it */
  readonly backlogBytes: number;
  readonly outboxMaxBytes: number;
  /** how long the oldest point in the outbox has waited, ms; null when empty */
  readonly oldestAgeMs: number | null;
  /** points committed to the outbox */
  readonly accepted: number;
  /** points InfluxDB acknowledged */
  readonly sent: number;
  /** points acknowledged per second over the last 10 s */
  readonly sendRate: number;
  /** failed attempts (requests and checks that got no acceptable answer) */
  readonly failures: number;
  /** points dropped, oldest first, because the outbox reached its quota */
  readonly dropped: number;
  /** points InfluxDB refused as bad (and that were therefore dropped) */
  readonly rejected: number;
  /** points handed to the sink that never reached the outbox (it could not be used, or the sink was stopped) */
  readonly notQueued: number;
  /** the current failure; null once a request succeeds again */
  readonly lastError: string | null;
  readonly lastErrorAt: number | null;
  readonly lastSentAt: number | null;
  /** the last point InfluxDB refused, with its reason */
  readonly lastRejected: { readonly at: number; readonly reason: string; readonly point: string } | null;
  readonly alarm: SinkAlarm;
}

const QUOTA_ALARM_CLEARS_BELOW = 0.5;
const DROP_LOG_INTERVAL_MS = 10_000;
const FAILURE_LOG_INTERVAL_MS = 60_000;
const COMMIT_RETRY_MS = 1000;
const COMPACT_EVERY_MS = 30_000;

export class InfluxDbSink {
  readonly outbox: Outbox;
  private readonly options: InfluxDbSinkOptions;
  private readonly client: InfluxClient;
  private readonly encoder: SampleEncoder;
  private readonly log: SinkLog;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly limiter: LogLimiter;
  private readonly failureLimiter: LogLimiter;
  private readonly rate: RateWindow;
  private readonly batchSize: number;
  private readonly maxStaged: number;

  private state: InfluxSinkState = 'idle';
  private staged: string[] = [];
  private commitTimer: NodeJS.Timeout | undefined;
  private commitImmediate: NodeJS.Immediate | undefined;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private abort = new AbortController();
  private databaseReady = false;
  private databaseWarned = false;
  private pingFirst = true;
  private attempt = 0;
  private retryAt = 0;
  private stopDeadline = Number.POSITIVE_INFINITY;
  private lastCompactAt = 0;

  private counts = { accepted: 0, sent: 0, failures: 0, dropped: 0, rejected: 0, notQueued: 0 };
  private reachable: boolean | null = null;
  private influxVersion: string | null = null;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;
  private failingSince: number | null = null;
  private lastSentAt: number | null = null;
  private lastRejected: InfluxSinkStatus['lastRejected'] = null;
  private openError: { at: number; message: string } | null = null;
  private commitError: { since: number; message: string } | null = null;
  private quotaSince: number | null = null;

  constructor(options: InfluxDbSinkOptions) {
    if (!(options.batchSize >= 1)) {
      throw new SinkError('GL_ERR_SINK_OPTION', `batchSize must be at least 1, got ${options.batchSize}`);
    }
    if (!(options.flushIntervalMs >= 0)) {
      throw new SinkError('GL_ERR_SINK_OPTION', `flushIntervalMs must be ≥ 0, got ${options.flushIntervalMs}`);
    }
    this.options = options;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.limiter = new LogLimiter(DROP_LOG_INTERVAL_MS, this.now);
    this.failureLimiter = new LogLimiter(FAILURE_LOG_INTERVAL_MS, this.now);
    this.rate = new RateWindow(10, this.now);
    this.batchSize = Math.floor(options.batchSize);
    this.maxStaged = Math.max(options.maxStagedPoints ?? Math.max(10_000, 20 * this.batchSize), this.batchSize);
    this.encoder = new SampleEncoder(options.plant);
    this.outbox = new Outbox({
      path: options.outboxPath,
      maxBytes: options.outboxMaxMb * 1024 * 1024,
      receiver: 'InfluxDB',
      ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    });
    this.client = new InfluxClient({
      url: options.url,
      database: options.database,
      ...(options.retentionPolicy === undefined ? {} : { retentionPolicy: options.retentionPolicy }),
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.credentialsIn === undefined ? {} : { credentialsIn: options.credentialsIn }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.gzipLevel === undefined ? {} : { gzipLevel: options.gzipLevel }),
    });
  }

  /**
   * Opens the outbox and starts sending in the background (InfluxDB need not
   * be up). Throws a `GL_ERR_SINK_OUTBOX` error when the outbox cannot be
   * used; the sink is then `failed`, shows why in `status()` and counts what
   * it is handed as not queued.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    try {
      this.outbox.open();
    } catch (err) {
      this.state = 'failed';
      const message = messageOf(err);
      this.openError = { at: this.now(), message };
      this.setError(message);
      this.log.error({ err: message, outbox: this.outbox.path }, 'the InfluxDB sink cannot start');
      throw err;
    }
    this.state = 'running';
    const { points, bytes } = this.outbox.size;
    this.log.info(
      { target: this.client.target, outbox: this.outbox.path, backlog: points, backlogBytes: bytes },
      points > 0 ? 'InfluxDB sink started; sending the backlog kept in its outbox' : 'InfluxDB sink started',
    );
    this.loop = this.run();
  }

  /**
   * Commits what is staged, sends what it can within `stopTimeoutMs` and
   * closes the outbox; whatever is not sent stays there for the next start.
   */
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
    this.clearCommitTimers();
    this.commit();
    if (this.staged.length > 0) this.notQueued(this.staged.splice(0).length, 'the outbox could not be written at stop');
    const timeoutMs = this.options.stopTimeoutMs ?? 5000;
    this.stopDeadline = this.now() + timeoutMs;
    const abortTimer = setTimeout(() => this.abort.abort(), timeoutMs);
    this.wake();
    try {
      await this.loop;
    } finally {
      clearTimeout(abortTimer);
      if (this.sleepTimer !== undefined) clearTimeout(this.sleepTimer);
      // what arrived while draining
      this.clearCommitTimers();
      this.commit();
      if (this.staged.length > 0)
        this.notQueued(this.staged.splice(0).length, 'the outbox could not be written at stop');
      const { points } = this.outbox.size;
      try {
        this.outbox.close();
      } catch (err) {
        this.log.error({ err: messageOf(err), outbox: this.outbox.path }, 'closing the InfluxDB outbox failed');
      }
      this.state = 'stopped';
      this.log.info(
        { sent: this.counts.sent, keptInOutbox: points, outbox: this.outbox.path },
        points > 0
          ? 'InfluxDB sink stopped; unsent points stay in the outbox for the next start'
          : 'InfluxDB sink stopped',
      );
    }
  }

  /** The pipeline's subscriber (bound): `pipeline.subscribe(sink.onSamples)`. Never throws. */
  readonly onSamples = (batch: readonly CoreSample[]): void => {
    this.take(batch.length, () => {
      let skipped = 0;
      for (const s of batch) {
        const line = this.encoder.encode(s);
        if (line === null) skipped++;
        else this.staged.push(line);
      }
      if (skipped > 0) this.notQueued(skipped, 'samples without a time that can be written');
    });
  };

  /** The metrics service's listener (bound): `metrics.onOutput(sink.onMetrics)`. Never throws. */
  readonly onMetrics = (out: MetricsBatch): void => {
    this.take(out.minutes.length + out.events.length, () => {
      const { plant } = this.options;
      let skipped = 0;
      for (const m of out.minutes) {
        const line = encodeMinute(plant, m.entity, m.minute, m.record);
        if (line === null) skipped++;
        else this.staged.push(line);
      }
      for (const e of out.events) {
        const line = encodeEvent(plant, e);
        if (line === null) skipped++;
        else this.staged.push(line);
      }
      if (skipped > 0) this.notQueued(skipped, 'metrics or events without values or a time that can be written');
    });
  };

  /** The alarm service's listener (bound): `alarms.subscribe(sink.onAlarm)`. Never throws. */
  readonly onAlarm = (change: AlarmChange): void => {
    this.take(1, () => {
      const line = encodeAlarm(this.options.plant, change);
      if (line === null) this.notQueued(1, 'an alarm record without a time that can be written');
      else this.staged.push(line);
    });
  };

  status(): InfluxSinkStatus {
    const { points, bytes, oldestAt } = this.outbox.size;
    const now = this.now();
    this.updateQuotaAlarm(bytes);
    return {
      name: 'influxdb',
      state: this.state,
      target: this.client.target,
      outboxPath: this.outbox.path,
      reachable: this.reachable,
      influxVersion: this.influxVersion,
      backlog: points,
      backlogBytes: bytes,
      outboxMaxBytes: this.options.outboxMaxMb * 1024 * 1024,
      oldestAgeMs: oldestAt === null ? null : Math.max(0, now - oldestAt),
      ...this.counts,
      sendRate: this.rate.rate(),
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastSentAt: this.lastSentAt,
      lastRejected: this.lastRejected,
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
      this.scheduleCommit();
    } catch (err) {
      this.contained('staging points', err);
    }
  }

  private scheduleCommit(): void {
    if (this.staged.length === 0) return;
    if (this.commitError !== null) {
      this.capStaged();
      if (this.commitTimer === undefined) this.commitTimer = setTimeout(this.commitNow, COMMIT_RETRY_MS);
      return;
    }
    if (this.staged.length >= this.batchSize) {
      if (this.commitImmediate === undefined) this.commitImmediate = setImmediate(this.commitNow);
    } else if (this.commitTimer === undefined) {
      this.commitTimer = setTimeout(this.commitNow, this.options.enqueueDelayMs ?? 50);
    }
  }

  private readonly commitNow = (): void => {
    this.clearCommitTimers();
    this.commit();
    this.scheduleCommit();
  };

  private clearCommitTimers(): void {
    if (this.commitTimer !== undefined) clearTimeout(this.commitTimer);
    if (this.commitImmediate !== undefined) clearImmediate(this.commitImmediate);
    this.commitTimer = undefined;
    this.commitImmediate = undefined;
  }

  /** One transaction for everything staged; on failure the points stay staged (bounded) and are tried again. */
  private commit(): void {
    if (this.staged.length === 0 || !this.outbox.isOpen) return;
    const lines = this.staged;
    this.staged = [];
    try {
      const result = this.outbox.append(lines, this.now());
      this.counts.accepted += lines.length;
      if (this.commitError !== null) {
        this.log.info({ outbox: this.outbox.path }, 'the InfluxDB outbox can be written again');
        this.commitError = null;
      }
      if (result.dropped > 0) this.quotaDropped(result.dropped);
      this.wake();
      this.options.onCommitted?.(lines.length);
    } catch (err) {
      this.staged = lines.concat(this.staged);
      const message = `the outbox ${this.outbox.path} cannot be written: ${messageOf(err)}`;
      if (this.commitError === null) this.commitError = { since: this.now(), message };
      else this.commitError = { since: this.commitError.since, message };
      this.setError(message);
      const held = this.limiter.take('commit');
      if (held !== null) {
        this.log.error(
          { err: messageOf(err), outbox: this.outbox.path, staged: this.staged.length, failuresHeldBack: held },
          'writing to the InfluxDB outbox failed; points are held in memory and tried again: check disk space and permissions',
        );
      }
      this.capStaged();
    }
  }

  private capStaged(): void {
    const excess = this.staged.length - this.maxStaged;
    if (excess > 0) {
      this.staged.splice(0, excess);
      this.notQueued(excess, 'the outbox cannot be written and the points held in memory reached their limit');
    }
  }

  private notQueued(n: number, why: string): void {
    this.counts.notQueued += n;
    const held = this.limiter.take(`notQueued:${why}`);
    if (held !== null) {
      this.log.error(
        { points: n, notQueuedTotal: this.counts.notQueued, repeatsHeldBack: held },
        `points for InfluxDB dropped before the outbox: ${why}`,
      );
    }
  }

  private quotaDropped(n: number): void {
    this.counts.dropped += n;
    this.quotaSince ??= this.now();
    const held = this.limiter.take('quota');
    if (held !== null) {
      const { bytes } = this.outbox.size;
      this.log.error(
        {
          dropped: n,
          droppedTotal: this.counts.dropped,
          backlogBytes: bytes,
          outboxMaxMb: this.options.outboxMaxMb,
          lastError: this.lastError,
          repeatsHeldBack: held,
        },
        'the InfluxDB outbox is full: its oldest points were dropped; make InfluxDB reachable or raise sinks.influxdb.outboxMaxMb',
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
        'the InfluxDB outbox is below half its quota again; nothing more is dropped',
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
      sink: 'InfluxDB',
      entries: 'points',
      receiver: 'InfluxDB',
    });
  }

  // ---------- sending ----------

  private async run(): Promise<void> {
    while (this.state === 'running' || (this.state === 'stopping' && this.drainable())) {
      try {
        const delay = this.sendDelay();
        if (delay > 0) {
          if (this.state === 'stopping') break;
          await this.sleep(delay);
          continue;
        }
        if (!this.databaseReady) await this.ensureDatabase();
        else await this.sendOldest();
      } catch (err) {
        this.contained('sending', err);
        if (this.state === 'stopping') break;
        this.failed(`sending failed: ${messageOf(err)}`, false);
      }
    }
  }

  /** while stopping: something to send, time left and no failure pending */
  private drainable(): boolean {
    return (
      this.outbox.isOpen && this.outbox.size.points > 0 && this.now() < this.stopDeadline && this.failingSince === null
    );
  }

  /** how long to wait before the next request; 0: now */
  private sendDelay(): number {
    const now = this.now();
    if (this.retryAt > now) return this.retryAt - now;
    if (!this.databaseReady) return 0;
    const { points, oldestAt } = this.outbox.size;
    if (points === 0) {
      this.maybeCompact(now);
      return Math.max(this.options.flushIntervalMs, 1000);
    }
    if (points >= this.batchSize || this.state === 'stopping') return 0;
    return Math.max(0, this.options.flushIntervalMs - (now - (oldestAt ?? now)));
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

  private async ensureDatabase(): Promise<void> {
    const ping = await this.client.ping(this.abort.signal);
    this.reachable = ping.ok;
    if (ping.version !== null) this.influxVersion = ping.version;
    if (!ping.ok) {
      this.failed(ping.reason ?? 'InfluxDB did not answer /ping', true);
      return;
    }
    const created = await this.client.createDatabase(this.abort.signal);
    if (created.kind === 'retry') {
      this.failed(created.reason, false);
      return;
    }
    if (created.kind === 'refused' && !this.databaseWarned) {
      this.databaseWarned = true;
      this.log.warn(
        { reason: created.reason, target: this.client.target },
        'could not create the InfluxDB database; writing anyway (on InfluxDB 2.x create a bucket and DBRP mapping, on 3.x the database is created by the first write)',
      );
    }
    this.databaseReady = true;
    this.pingFirst = false;
  }

  private async sendOldest(): Promise<void> {
    if (this.pingFirst) {
      const ping = await this.client.ping(this.abort.signal);
      this.reachable = ping.ok;
      if (ping.version !== null) this.influxVersion = ping.version;
      if (!ping.ok) {
        this.failed(ping.reason ?? 'InfluxDB did not answer /ping', true);
        return;
      }
      this.pingFirst = false;
    }
    const batch = this.outbox.peek(this.batchSize);
    if (batch.length === 0) return;
    this.outbox.protect(batch[batch.length - 1]!.id);
    try {
      await this.deliver(batch);
    } finally {
      this.outbox.protect(0);
    }
  }

  /** Sends the points; splits on bad data. False when it has to be tried again later. */
  private async deliver(points: readonly OutboxPoint[]): Promise<boolean> {
    const outcome = await this.client.write(
      points.map((p) => p.line),
      this.abort.signal,
    );
    switch (outcome.kind) {
      case 'delivered':
        this.outbox.remove(points);
        this.counts.sent += points.length;
        this.rate.add(points.length);
        this.lastSentAt = this.now();
        this.succeeded();
        this.updateQuotaAlarm(this.outbox.size.bytes);
        return true;
      case 'retry':
        if (outcome.databaseMissing) this.databaseReady = false;
        this.failed(outcome.reason, outcome.network);
        return false;
      case 'bad-data':
      case 'too-large': {
        this.reachable = true;
        if (points.length === 1) {
          this.reject(points[0]!, outcome.reason);
          return true;
        }
        const mid = points.length >> 1;
        if (!(await this.deliver(points.slice(0, mid)))) return false;
        return this.deliver(points.slice(mid));
      }
    }
  }

  private reject(point: OutboxPoint, reason: string): void {
    this.outbox.remove([point]);
    this.counts.rejected++;
    const shown = point.line.length > 300 ? `${point.line.slice(0, 300)}…` : point.line;
    this.lastRejected = { at: this.now(), reason, point: shown };
    const held = this.limiter.take('rejected');
    if (held !== null) {
      this.log.error(
        { reason, point: shown, rejectedTotal: this.counts.rejected, repeatsHeldBack: held },
        'InfluxDB refused a point; it is dropped and counted (the others of its batch were delivered)',
      );
    }
  }

  private succeeded(): void {
    this.reachable = true;
    if (this.failingSince !== null) {
      this.log.info(
        {
          failedAttempts: this.attempt,
          downForMs: this.now() - this.failingSince,
          backlog: this.outbox.size.points,
        },
        'InfluxDB accepts writes again; sending the backlog',
      );
      this.failureLimiter.reset('failing');
    }
    this.failingSince = null;
    this.attempt = 0;
    this.retryAt = 0;
    this.lastError = null;
  }

  private failed(reason: string, network: boolean): void {
    const now = this.now();
    this.counts.failures++;
    this.setError(reason);
    if (network) {
      this.reachable = false;
      this.pingFirst = true;
    }
    this.failingSince ??= now;
    this.attempt++;
    const initial = this.options.initialRetryDelayMs ?? 500;
    const max = Math.max(initial, this.options.maxRetryDelayMs ?? 10_000);
    const base = Math.min(max, initial * 2 ** Math.min(30, this.attempt - 1));
    // equal jitter: never less than half the delay, so a dead server is not hammered; spread so gateways do not retry in step
    this.retryAt = now + base / 2 + (this.random() * base) / 2;
    const held = this.failureLimiter.take('failing');
    if (held !== null) {
      this.log.warn(
        {
          err: reason,
          target: this.client.target,
          failedAttempts: this.attempt,
          attemptsHeldBack: held,
          backlog: this.outbox.size.points,
          retryInMs: Math.round(this.retryAt - now),
        },
        'sending to InfluxDB failed; points stay in the outbox and are sent again',
      );
    }
  }

  private setError(message: string): void {
    this.lastError = message;
    this.lastErrorAt = this.now();
  }

  private maybeCompact(now: number): void {
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
      this.log.error({ err: messageOf(err), what, repeatsHeldBack: held }, 'the InfluxDB sink failed; it carries on');
    }
  }
}
