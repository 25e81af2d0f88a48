/**
 * The dashboard's WebSocket client, against a stand-in socket: the metrics
 * subscription is sent when asked, stopped with null, and sent again on
 * every new connection after a drop.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MetricsOverview } from '../../gateway/server/contract.js';
import { LiveConnection } from '../../dashboard/src/live-connection.js';

type Listener = (event: { data?: unknown }) => void;

class FakeSocket {
  static readonly OPEN = 1;
  static all: FakeSocket[] = [];
  readyState = 0;
  readonly sent: unknown[] = [];
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  addEventListener(type: string, fn: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.drop();
  }

  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.emit('open', {});
  }

  receive(msg: unknown): void {
    this.emit('message', { data: JSON.stringify(msg) });
  }

  drop(): void {
    this.readyState = 3;
    this.emit('close', {});
  }

  private emit(type: string, event: { data?: unknown }): void {
    for (const fn of this.listeners.get(type) ?? []) fn(event);
  }
}

const overview: MetricsOverview = { serverTime: 1, window: 'shift', timezone: 'UTC', ready: true, lines: [] };

describe('live connection: metrics', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    vi.stubGlobal('WebSocket', FakeSocket);
    vi.stubGlobal('window', {
      addEventListener() {},
      removeEventListener() {},
      setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
      clearTimeout: (id: ReturnType<typeof setTimeout>) => clearTimeout(id),
    });
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  function connect() {
    const received: MetricsOverview[] = [];
    const conn = new LiveConnection('ws://gateway/api/live/ws', {
      onHello() {},
      onValues() {},
      onState() {},
      onMetrics: (o) => received.push(o),
    });
    return { conn, received };
  }

  it('subscribes to tags only, until metrics are asked for', () => {
    const { conn } = connect();
    conn.start();
    FakeSocket.all[0]!.open();
    expect(FakeSocket.all[0]!.sent).toEqual([{ type: 'subscribe', tags: '*' }]);
    conn.setMetricsWindow('hour');
    conn.setMetricsWindow('hour');
    conn.setMetricsWindow(null);
    expect(FakeSocket.all[0]!.sent.slice(1)).toEqual([
      { type: 'metrics', window: 'hour' },
      { type: 'metrics', window: null },
    ]);
    conn.stop();
  });

  it('asks for a window chosen before the socket opened once it opens, and hands metrics on', () => {
    const { conn, received } = connect();
    conn.setMetricsWindow('shift');
    conn.start();
    const ws = FakeSocket.all[0]!;
    expect(ws.sent).toEqual([]);
    ws.open();
    expect(ws.sent).toEqual([
      { type: 'subscribe', tags: '*' },
      { type: 'metrics', window: 'shift' },
    ]);
    ws.receive({ type: 'metrics', overview });
    expect(received).toEqual([overview]);
    conn.stop();
  });

  it('asks again after every reconnect, for the window wanted now', () => {
    const { conn } = connect();
    conn.setMetricsWindow('shift');
    conn.start();
    FakeSocket.all[0]!.open();
    FakeSocket.all[0]!.drop();
    conn.setMetricsWindow('today');
    vi.advanceTimersByTime(1000);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1]!.open();
    expect(FakeSocket.all[1]!.sent).toEqual([
      { type: 'subscribe', tags: '*' },
      { type: 'metrics', window: 'today' },
    ]);

    // and not at all once nobody looks at metrics
    conn.setMetricsWindow(null);
    FakeSocket.all[1]!.drop();
    vi.advanceTimersByTime(2000);
    FakeSocket.all[2]!.open();
    expect(FakeSocket.all[2]!.sent).toEqual([{ type: 'subscribe', tags: '*' }]);
    conn.stop();
  });
});
