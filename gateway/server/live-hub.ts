/**
 * The live hub: pushes tag values to dashboards over WebSocket.
 *
 * Every client gets at most `liveMaxHz` messages a second. Between two
 * flushes, changes are coalesced: a delta holds only the latest value per
 * tag, read from one journal shared by every client (live-journal.ts), so
 * memory is bounded by the number of tags, however fast values change and
 * however many clients follow them. A client that does not read (its socket
 * buffer above `slowClientBytes`) is skipped for that flush and catches up
 * with the latest values once it drains; nothing else is queued for it.
 * Skips are counted.
 *
 * A client that has been quiet for an interval is sent a change at once;
 * otherwise its flushes fall on a grid of intervals shared by all clients,
 * so clients that follow every tag are served the same delta at the same
 * moment, encoded once.
 *
 * Alarm messages are not rate limited: a client that follows alarms gets
 * each change at once (alarms/live-alarms.ts), held back as the latest per alarm
 * only while it is behind.
 */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { z } from 'zod';
import type { Role } from '../../config/schema.js';
import {
  LIVE_CLOSE_SIGNED_OUT,
  LIVE_MAX_MESSAGE_BYTES,
  type LiveErrorCode,
  type LiveHubCounters,
  type LiveServerMessage,
  type LiveValue,
  METRICS_PUSH_MS,
  METRICS_WINDOWS,
  type MetricsOverview,
  type MetricsWindowName,
} from './contract.js';
import { zodIssues } from './http-errors.js';
import { LiveAlarmFeed, type LiveAlarmFeedOptions } from './alarms/live-alarms.js';
import { LiveJournal } from './live-journal.js';
import type { PlantIndex } from './plant-index.js';
import type { LiveSource, ServerDeps } from './ports.js';

/** Who opened the connection, as the upgrade authorizer found. */
export interface LiveClientIdentity {
  readonly remoteAddress: string | null;
  readonly user: { readonly username: string; readonly role: Role } | null;
  /** false once the sign-in behind the connection has ended (signed out, expired, disabled): it is closed */
  readonly revalidate?: () => boolean;
}

export type UpgradeDecision =
  | { readonly ok: true; readonly user: LiveClientIdentity['user']; readonly revalidate?: () => boolean }
  | { readonly ok: false; readonly status: 401 | 403 | 429; readonly message: string };

/** Decides whether a WebSocket upgrade may proceed; the place where sign-in checks go. */
export type UpgradeAuthorizer = (req: IncomingMessage) => UpgradeDecision | Promise<UpgradeDecision>;

export const allowEveryone: UpgradeAuthorizer = () => ({ ok: true, user: null });

export interface LiveHubOptions {
  readonly liveMaxHz: number;
  readonly demo: boolean;
  readonly heartbeatMs: number | null;
  /** a client whose unsent bytes exceed this is skipped for a flush */
  readonly slowClientBytes: number;
  /** ping period; a client that has not answered the previous ping is closed */
  readonly pingIntervalMs: number;
  /** wall clock for `hello.serverTime` */
  readonly now: () => number;
  readonly log: ServerDeps['log'];
  /** the metrics overview for a window; without it a metrics subscription is refused */
  readonly metricsOverview?: (window: MetricsWindowName, now: number) => MetricsOverview;
  /** how often subscribed clients get metrics; default METRICS_PUSH_MS */
  readonly metricsPushMs?: number;
  /** the alarms and their views (alarms/live-alarms.ts); without them following alarms is refused */
  readonly alarms?: Pick<LiveAlarmFeedOptions, 'alarms' | 'views'>;
}

export const LIVE_HUB_DEFAULTS = { slowClientBytes: 1024 * 1024, pingIntervalMs: 15_000 } as const;

/** changes the shared journal holds at most: this many per configured tag, and at least JOURNAL_MIN_LENGTH */
const JOURNAL_TAG_FACTOR = 8;
const JOURNAL_MIN_LENGTH = 100_000;
/** a due time this close to a grid point (in intervals) is on it: timers and float sums are not exact */
const GRID_EPSILON = 1e-6;

const idList = z.array(z.string().min(1).max(128)).max(100_000);
const selection = {
  tags: z.union([z.literal('*'), idList]).optional(),
  lines: idList.optional(),
  machines: idList.optional(),
};
const hasSelection = (m: { tags?: unknown; lines?: unknown; machines?: unknown }) =>
  m.tags !== undefined || m.lines !== undefined || m.machines !== undefined;
const ClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('subscribe'), ...selection }).refine(hasSelection, 'give tags, lines or machines'),
  z.strictObject({ type: z.literal('unsubscribe'), ...selection }).refine(hasSelection, 'give tags, lines or machines'),
  z.strictObject({
    type: z.literal('metrics'),
    window: z.enum(METRICS_WINDOWS as [MetricsWindowName, ...MetricsWindowName[]]).nullable(),
  }),
  z.strictObject({ type: z.literal('alarms'), follow: z.boolean() }),
]);
type ClientMessage = Exclude<z.infer<typeof ClientMessage>, { type: 'metrics' | 'alarms' }>;

interface Client {
  readonly id: number;
  readonly ws: WebSocket;
  readonly identity: LiveClientIdentity;
  /** subscribed to every tag, including ones that appear later */
  all: boolean;
  readonly tags: Set<string>;
  /** journal position up to which it has been sent the changes of its tags */
  from: number;
  timer: NodeJS.Timeout | null;
  /** when its last delta was due (performance.now()) */
  lastFlushAt: number;
  alive: boolean;
  /** the metrics window this client follows, or null */
  metricsWindow: MetricsWindowName | null;
}

export interface LiveClientStats {
  readonly id: number;
  readonly subscribed: number | '*';
  readonly pending: number;
  readonly bufferedAmount: number;
  /** alarm messages held back for it while it is behind (at most one per alarm, plus the list) */
  readonly alarmsPending: number;
}

export class LiveHub {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly flushIntervalMs: number;
  private readonly journal: LiveJournal;
  /** the delta message for clients of every tag served from a position, encoded once per journal end */
  private shared: { end: number; byFrom: Map<number, Buffer | null> } = { end: -1, byFrom: new Map() };
  private nextId = 1;
  private unsubscribeLive: (() => void) | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private metricsTimer: NodeJS.Timeout | null = null;
  private accepting = false;
  private readonly stats = { messagesSent: 0, skippedSlow: 0, badMessages: 0, terminated: 0 };
  private readonly alarmFeed: LiveAlarmFeed | null;

  constructor(
    private readonly index: PlantIndex,
    private readonly live: LiveSource,
    private readonly opts: LiveHubOptions,
  ) {
    this.flushIntervalMs = 1000 / opts.liveMaxHz;
    this.journal = new LiveJournal(Math.max(JOURNAL_MIN_LENGTH, JOURNAL_TAG_FACTOR * index.tags.size));
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: LIVE_MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
    });
    this.alarmFeed =
      opts.alarms === undefined
        ? null
        : new LiveAlarmFeed({
            ...opts.alarms,
            slowClientBytes: opts.slowClientBytes,
            now: opts.now,
            log: opts.log,
            onSent: () => {
              this.stats.messagesSent++;
            },
            onHeldBack: () => {
              this.stats.skippedSlow++;
            },
          });
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  start(): void {
    if (this.accepting) return;
    this.accepting = true;
    this.unsubscribeLive = this.live.subscribe((changes) => this.onChanges(changes));
    this.alarmFeed?.start();
    this.pingTimer = setInterval(() => this.pingAll(), this.opts.pingIntervalMs);
    this.pingTimer.unref();
    if (this.opts.metricsOverview) {
      this.metricsTimer = setInterval(() => this.pushMetrics(), this.opts.metricsPushMs ?? METRICS_PUSH_MS);
      this.metricsTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.accepting = false;
    this.unsubscribeLive?.();
    this.unsubscribeLive = null;
    this.alarmFeed?.stop();
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    this.metricsTimer = null;
    const closed = [...this.clients].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
          c.ws.close(1001, 'server shutting down');
          // a client that does not answer the close handshake is cut off
          setTimeout(() => c.ws.terminate(), 1000).unref();
        }),
    );
    await Promise.all(closed);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  counters(): LiveHubCounters {
    return { clients: this.clients.size, ...this.stats };
  }

  clientStats(): LiveClientStats[] {
    return [...this.clients].map((c) => ({
      id: c.id,
      subscribed: c.all ? '*' : c.tags.size,
      pending: this.journal.countSince(c.from, this.accepts(c)),
      bufferedAmount: c.ws.bufferedAmount,
      alarmsPending: this.alarmFeed?.pendingOf(c.id) ?? 0,
    }));
  }

  /**
   * Closes the clients whose sign-in no longer holds (close code
   * LIVE_CLOSE_SIGNED_OUT); also done at each ping. Returns how many.
   */
  revalidate(): number {
    let closed = 0;
    for (const client of this.clients) {
      const check = client.identity.revalidate;
      if (check === undefined || client.ws.readyState !== WebSocket.OPEN) continue;
      let valid: boolean;
      try {
        valid = check();
      } catch (err) {
        this.opts.log.error({ client: client.id, err: (err as Error).message }, 'live client re-check failed');
        valid = false;
      }
      if (valid) continue;
      closed++;
      this.opts.log.info(
        { client: client.id, user: client.identity.user?.username ?? null },
        'live client closed: its sign-in has ended',
      );
      client.ws.close(LIVE_CLOSE_SIGNED_OUT, 'sign-in ended');
    }
    return closed;
  }

  /** Completes an upgrade the server has already authorized. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, identity: LiveClientIdentity): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, identity));
  }

  private attach(ws: WebSocket, identity: LiveClientIdentity): void {
    if (!this.accepting) {
      ws.close(1001, 'server shutting down');
      return;
    }
    const client: Client = {
      id: this.nextId++,
      ws,
      identity,
      all: false,
      tags: new Set(),
      from: this.journal.end,
      timer: null,
      lastFlushAt: -Infinity,
      alive: true,
      metricsWindow: null,
    };
    this.clients.add(client);
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', (err) => {
      this.opts.log.warn({ client: client.id, err: err.message }, 'live client connection error');
    });
    ws.on('close', () => {
      this.clients.delete(client);
      if (client.timer) clearTimeout(client.timer);
      client.timer = null;
      this.alarmFeed?.drop(client.id);
    });
    this.send(client, {
      type: 'hello',
      serverTime: this.opts.now(),
      demo: this.opts.demo,
      liveMaxHz: this.opts.liveMaxHz,
      heartbeatMs: this.opts.heartbeatMs,
    });
  }

  // ---------- client → server ----------

  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.reject(client, 'GL_ERR_BAD_MESSAGE', 'send JSON text messages, not binary');
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(rawText(data));
    } catch {
      this.reject(client, 'GL_ERR_BAD_MESSAGE', 'message is not valid JSON');
      return;
    }
    const parsed = ClientMessage.safeParse(json);
    if (!parsed.success) {
      const problems = zodIssues('', parsed.error)
        .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
        .join('; ');
      this.reject(
        client,
        'GL_ERR_BAD_MESSAGE',
        `invalid message (${problems}); expected {"type":"subscribe"|"unsubscribe","tags":[...]|"*","lines":[...],"machines":[...]}, {"type":"metrics","window":"${METRICS_WINDOWS.join('"|"')}"|null} or {"type":"alarms","follow":true|false}`,
      );
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'metrics') this.followMetrics(client, msg.window);
    else if (msg.type === 'alarms') this.followAlarms(client, msg.follow);
    else if (msg.type === 'subscribe') this.subscribe(client, msg);
    else this.unsubscribe(client, msg);
  }

  private followMetrics(client: Client, window: MetricsWindowName | null): void {
    if (window !== null && !this.opts.metricsOverview) {
      this.reject(client, 'GL_ERR_NOT_FOUND', 'this gateway computes no metrics');
      return;
    }
    client.metricsWindow = window;
    if (window === null) return;
    const overview = this.overview(window, new Map());
    if (overview !== null && client.ws.bufferedAmount <= this.opts.slowClientBytes) {
      this.send(client, { type: 'metrics', overview });
    }
  }

  private followAlarms(client: Client, follow: boolean): void {
    if (this.alarmFeed === null) {
      if (follow) this.reject(client, 'GL_ERR_NOT_FOUND', 'this gateway keeps no alarms');
      return;
    }
    this.alarmFeed.follow(client.id, client.ws, follow);
  }

  /** One overview per window for every client that follows it; a slow client skips a push. */
  private pushMetrics(): void {
    const cache = new Map<MetricsWindowName, MetricsOverview | null>();
    for (const client of this.clients) {
      if (client.metricsWindow === null) continue;
      if (client.ws.bufferedAmount > this.opts.slowClientBytes) {
        this.stats.skippedSlow++;
        continue;
      }
      const overview = this.overview(client.metricsWindow, cache);
      if (overview !== null) this.send(client, { type: 'metrics', overview });
    }
  }

  private overview(
    window: MetricsWindowName,
    cache: Map<MetricsWindowName, MetricsOverview | null>,
  ): MetricsOverview | null {
    if (cache.has(window)) return cache.get(window)!;
    let overview: MetricsOverview | null = null;
    try {
      overview = this.opts.metricsOverview!(window, this.opts.now());
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message, window }, 'metrics overview failed');
    }
    cache.set(window, overview);
    return overview;
  }

  private reject(client: Client, code: LiveErrorCode, message: string): void {
    if (code === 'GL_ERR_BAD_MESSAGE') this.stats.badMessages++;
    // error replies are not worth growing a slow client's buffer for
    if (client.ws.bufferedAmount > this.opts.slowClientBytes) return;
    this.send(client, { type: 'error', code, message });
  }

  /** tag ids a selection names, and the names that match nothing */
  private resolve(msg: ClientMessage, liveIds: ReadonlySet<string>): { ids: Set<string>; unknown: string[] } {
    const ids = new Set<string>();
    const unknown: string[] = [];
    if (Array.isArray(msg.tags)) {
      for (const id of msg.tags) {
        if (this.index.tags.has(id) || liveIds.has(id)) ids.add(id);
        else unknown.push(`tag ${id}`);
      }
    }
    for (const [kind, names, map] of [
      ['line', msg.lines, this.index.lineTags],
      ['machine', msg.machines, this.index.machineTags],
    ] as const) {
      for (const name of names ?? []) {
        const tags = map.get(name);
        if (tags) for (const id of tags) ids.add(id);
        else unknown.push(`${kind} ${name}`);
      }
    }
    return { ids, unknown };
  }

  private subscribe(client: Client, msg: ClientMessage): void {
    const snapshot = this.live.snapshot();
    const liveIds = new Set(snapshot.map((v) => v.tagId));
    const { ids, unknown } = this.resolve(msg, liveIds);
    if (unknown.length > 0) {
      this.reject(client, 'GL_ERR_NOT_FOUND', `not in the plant config: ${unknown.slice(0, 20).join(', ')}`);
    }
    let values: LiveValue[];
    if (msg.tags === '*') {
      client.all = true;
      client.tags.clear();
      values = snapshot;
    } else {
      const added = client.all ? [] : [...ids].filter((id) => !client.tags.has(id));
      for (const id of added) client.tags.add(id);
      const fresh = new Set(added);
      values = snapshot.filter((v) => fresh.has(v.tagId));
    }
    if (client.ws.bufferedAmount > this.opts.slowClientBytes) {
      // a client that is not reading gets the latest of all its tags with its next delta
      client.from = -1;
      this.schedule(client);
      return;
    }
    // the snapshot carries the latest values: every change so far is in it
    if (msg.tags === '*') client.from = this.journal.end;
    this.send(client, { type: 'snapshot', values });
  }

  private unsubscribe(client: Client, msg: ClientMessage): void {
    if (msg.tags === '*') {
      client.all = false;
      client.tags.clear();
      return;
    }
    const { ids, unknown } = this.resolve(msg, new Set(this.live.snapshot().map((v) => v.tagId)));
    if (unknown.length > 0) {
      this.reject(client, 'GL_ERR_NOT_FOUND', `not in the plant config: ${unknown.slice(0, 20).join(', ')}`);
    }
    if (client.all) {
      // leaving "everything" for "everything but these": make the set explicit
      client.all = false;
      for (const id of this.index.tags.keys()) client.tags.add(id);
      for (const v of this.live.snapshot()) client.tags.add(v.tagId);
    }
    for (const id of ids) client.tags.delete(id);
  }

  // ---------- server → client ----------

  private onChanges(changes: readonly LiveValue[]): void {
    if (changes.length === 0) return;
    let from = this.journal.end;
    for (const client of this.clients) if (client.from >= 0 && client.from < from) from = client.from;
    this.journal.trim(from);
    this.journal.record(changes);
    for (const client of this.clients) {
      if (client.all || (client.tags.size > 0 && changes.some((v) => client.tags.has(v.tagId)))) {
        this.schedule(client);
      } else if (client.timer === null && client.from >= 0) {
        // no flush pending, so none of its tags changed since it was last served: nothing to hold for it
        client.from = this.journal.end;
      }
    }
  }

  /** whether a client follows a tag; null: every tag */
  private accepts(client: Client): ((tagId: string) => boolean) | null {
    return client.all ? null : (tagId) => client.tags.has(tagId);
  }

  /**
   * At once when the client's last flush is at least one interval ago; else
   * on the first point of the shared grid of intervals that is.
   */
  private schedule(client: Client): void {
    if (client.timer !== null) return;
    const interval = this.flushIntervalMs;
    const now = performance.now();
    const due = client.lastFlushAt + interval;
    const at = due <= now ? now : Math.ceil(due / interval - GRID_EPSILON) * interval;
    client.timer = setTimeout(() => {
      client.timer = null;
      this.flush(client, at);
    }, at - now);
  }

  private flush(client: Client, dueAt: number): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    if (client.ws.bufferedAmount > this.opts.slowClientBytes) {
      client.lastFlushAt = dueAt;
      this.stats.skippedSlow++;
      this.schedule(client);
      return;
    }
    const end = this.journal.end;
    if (client.from === end) return;
    if (client.all && client.from >= 0) {
      const message = this.sharedDelta(client.from, end);
      client.from = end;
      if (message === null) return;
      client.lastFlushAt = dueAt;
      this.sendEncoded(client, message);
      return;
    }
    const accept = this.accepts(client);
    const values = (client.from >= 0 ? this.journal.since(client.from, accept) : null) ?? this.journal.latest(accept);
    client.from = end;
    if (values.length === 0) return;
    client.lastFlushAt = dueAt;
    this.send(client, { type: 'delta', values });
  }

  /** the delta from position `from` to the journal's end for a client of every tag, encoded once; null when empty */
  private sharedDelta(from: number, end: number): Buffer | null {
    if (this.shared.end !== end) this.shared = { end, byFrom: new Map() };
    let message = this.shared.byFrom.get(from);
    if (message === undefined) {
      const values = this.journal.since(from, null) ?? this.journal.latest(null);
      const delta: LiveServerMessage = { type: 'delta', values };
      message = values.length === 0 ? null : Buffer.from(JSON.stringify(delta));
      this.shared.byFrom.set(from, message);
    }
    return message;
  }

  private send(client: Client, msg: LiveServerMessage): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    client.ws.send(JSON.stringify(msg));
    this.stats.messagesSent++;
  }

  /** a message encoded already (the same bytes for several clients), as a text frame */
  private sendEncoded(client: Client, message: Buffer): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    client.ws.send(message, { binary: false });
    this.stats.messagesSent++;
  }

  private pingAll(): void {
    this.revalidate();
    for (const client of this.clients) {
      if (!client.alive) {
        this.stats.terminated++;
        this.opts.log.info(
          { client: client.id, remote: client.identity.remoteAddress },
          'live client missed a ping: closed',
        );
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Answers a refused upgrade with a plain HTTP response and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const code = status === 404 ? 'GL_ERR_NOT_FOUND' : 'GL_ERR_UPGRADE_REFUSED';
  const body = JSON.stringify({ error: { code, message } });
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
