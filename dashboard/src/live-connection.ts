/**
 * The dashboard's end of the live hub: connects, subscribes, and reconnects
 * with growing, jittered delays when the connection drops.
 */
import {
  LIVE_WS_PATH,
  type LiveClientMessage,
  type LiveServerMessage,
  type LiveValue,
  type MetricsOverview,
  type MetricsWindowName,
} from '../../gateway/server/contract.js';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

export interface LiveHandlers {
  onHello(hello: Extract<LiveServerMessage, { type: 'hello' }>): void;
  onValues(values: readonly LiveValue[]): void;
  onState(state: ConnectionState): void;
  /** the metrics overview of the window asked for with `setMetricsWindow`, about every second */
  onMetrics?(overview: MetricsOverview): void;
  onError?(code: string, message: string): void;
  /** the server closed the connection because the sign-in ended (4401): no retry */
  onSignInEnded?(): void;
  /** every alarm, the answer to `followAlarms(true)` (again after each reconnect) */
  onAlarms?(msg: Extract<LiveServerMessage, { type: 'alarms' }>): void;
  /** one alarm changed, sent the moment it did */
  onAlarm?(msg: Extract<LiveServerMessage, { type: 'alarm' }>): void;
}

/** close code the gateway uses when the connection's sign-in has ended */
export const SIGN_IN_ENDED_CLOSE = 4401;

const DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15_000];

export function liveUrl(base: string = document.baseURI): string {
  const url = new URL(LIVE_WS_PATH.replace(/^\//, ''), base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export class LiveConnection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: number | null = null;
  private stopped = false;
  private state: ConnectionState = 'connecting';
  /** the metrics window wanted; sent again on every new connection, since a new one starts with none */
  private metricsWindow: MetricsWindowName | null = null;
  /** alarms wanted; asked for again on every new connection */
  private alarms = false;

  constructor(
    private readonly url: string,
    private readonly handlers: LiveHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    // a page that is going away (reload, navigation) does not reconnect
    window.addEventListener('pagehide', () => this.stop(), { once: true });
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.ws?.close(1000);
    this.ws = null;
  }

  /** Asks for metrics pushes of a window; null stops them. Holds across reconnects. */
  setMetricsWindow(name: MetricsWindowName | null): void {
    if (name === this.metricsWindow) return;
    this.metricsWindow = name;
    if (this.ws?.readyState === WebSocket.OPEN) this.send(this.ws, { type: 'metrics', window: name });
  }

  /** Follows the alarms (the whole list, then each change); holds across reconnects. */
  followAlarms(on: boolean): void {
    if (on === this.alarms) return;
    this.alarms = on;
    if (this.ws?.readyState === WebSocket.OPEN) this.send(this.ws, { type: 'alarms', follow: on });
  }

  private send(ws: WebSocket, msg: LiveClientMessage): void {
    ws.send(JSON.stringify(msg));
  }

  /** the network came back: try at once instead of waiting out the backoff */
  private readonly onOnline = () => {
    if (this.state === 'live' || this.stopped) return;
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    this.connect();
  };

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState(state);
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.send(ws, { type: 'subscribe', tags: '*' });
      if (this.metricsWindow !== null) this.send(ws, { type: 'metrics', window: this.metricsWindow });
      if (this.alarms) this.send(ws, { type: 'alarms', follow: true });
    });
    ws.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      let msg: LiveServerMessage;
      try {
        msg = JSON.parse(event.data) as LiveServerMessage;
      } catch {
        return;
      }
      switch (msg.type) {
        case 'hello':
          this.attempt = 0;
          this.handlers.onHello(msg);
          this.setState('live');
          break;
        case 'snapshot':
        case 'delta':
          this.handlers.onValues(msg.values);
          break;
        case 'metrics':
          this.handlers.onMetrics?.(msg.overview);
          break;
        case 'alarms':
          this.handlers.onAlarms?.(msg);
          break;
        case 'alarm':
          this.handlers.onAlarm?.(msg);
          break;
        case 'error':
          this.handlers.onError?.(msg.code, msg.message);
          break;
      }
    });
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (event.code === SIGN_IN_ENDED_CLOSE && this.handlers.onSignInEnded) {
        this.stopped = true;
        this.handlers.onSignInEnded();
        return;
      }
      this.setState('reconnecting');
      this.scheduleRetry();
    });
    // an error is always followed by close, which does the retrying
  }

  private scheduleRetry(): void {
    const base = DELAYS_MS[Math.min(this.attempt, DELAYS_MS.length - 1)]!;
    this.attempt++;
    const delay = base * (0.8 + Math.random() * 0.4);
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }
}
