/**
 * Alarms over the live WebSocket. A client that follows alarms gets every
 * alarm at once, then each change the moment it is recorded: alarm messages
 * skip the tag values' rate limit, since an operator must hear of a new
 * alarm now, not at the next flush.
 *
 * Bounded per client: a client whose socket holds more than
 * `slowClientBytes` unsent gets nothing more for now; what changed meanwhile
 * is kept as the latest message per alarm (never more entries than alarms)
 * and sent once it drains. A client that was behind when it asked for the
 * list gets the whole list then instead.
 */
import { WebSocket } from 'ws';
import type { AlarmChange } from '../../core/alarms/index.js';
import type { AlarmItem } from './alarm-contract.js';
import type { AlarmViews } from './alarm-view.js';
import { changeView } from './alarm-view.js';
import type { LiveServerMessage } from '../contract.js';
import type { AlarmSource, ServerDeps } from '../ports.js';

/** how often a client that is behind is looked at again */
const DRAIN_CHECK_MS = 50;

interface Follower {
  readonly ws: WebSocket;
  /** the latest message per alarm not sent yet (text, ready to go) */
  readonly pending: Map<string, string>;
  /** the whole list is owed (it was asked for while the client was behind) */
  listOwed: boolean;
  timer: NodeJS.Timeout | null;
}

export interface LiveAlarmFeedOptions {
  readonly alarms: AlarmSource;
  readonly views: AlarmViews;
  readonly slowClientBytes: number;
  readonly now: () => number;
  readonly log: ServerDeps['log'];
  /** counts what was sent, and what was held back for a slow client */
  readonly onSent: () => void;
  readonly onHeldBack: () => void;
}

export class LiveAlarmFeed {
  private readonly followers = new Map<number, Follower>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly opts: LiveAlarmFeedOptions) {}

  start(): void {
    if (this.unsubscribe !== null) return;
    this.unsubscribe = this.opts.alarms.subscribe((change) => this.onChange(change));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const id of [...this.followers.keys()]) this.drop(id);
  }

  /** starts (with the whole list at once) or stops a client's alarm messages */
  follow(clientId: number, ws: WebSocket, on: boolean): void {
    if (!on) {
      this.drop(clientId);
      return;
    }
    let f = this.followers.get(clientId);
    if (f === undefined) {
      f = { ws, pending: new Map(), listOwed: false, timer: null };
      this.followers.set(clientId, f);
    }
    // the list carries the latest of everything: what was pending is older
    f.pending.clear();
    f.listOwed = true;
    if (this.behind(f)) this.opts.onHeldBack();
    this.drain(f);
  }

  drop(clientId: number): void {
    const f = this.followers.get(clientId);
    if (f === undefined) return;
    if (f.timer !== null) clearTimeout(f.timer);
    f.timer = null;
    f.pending.clear();
    this.followers.delete(clientId);
  }

  /** alarm messages held back for a client (0 for one that does not follow) */
  pendingOf(clientId: number): number {
    const f = this.followers.get(clientId);
    return f === undefined ? 0 : f.pending.size + (f.listOwed ? 1 : 0);
  }

  private onChange(change: AlarmChange): void {
    if (this.followers.size === 0) return;
    let text: string;
    try {
      const msg: LiveServerMessage = {
        type: 'alarm',
        alarm: this.opts.views.item(change.alarm),
        change: changeView(change.record),
      };
      text = JSON.stringify(msg);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'alarm change could not be sent to live clients');
      return;
    }
    for (const f of this.followers.values()) {
      if (f.listOwed) continue; // the list, when it goes, holds this change
      // delete first: a re-added key goes last, so a held-back client gets alarms in the order they last changed
      f.pending.delete(change.alarm.alarmId);
      f.pending.set(change.alarm.alarmId, text);
      if (this.behind(f)) this.opts.onHeldBack();
      this.drain(f);
    }
  }

  /** sends what a client is owed, unless it is behind: then it waits, and is looked at again shortly */
  private drain(f: Follower): void {
    if (f.ws.readyState !== WebSocket.OPEN) return;
    if (this.behind(f)) {
      if (f.timer === null) {
        f.timer = setTimeout(() => {
          f.timer = null;
          this.drain(f);
        }, DRAIN_CHECK_MS);
        f.timer.unref();
      }
      return;
    }
    if (f.listOwed) {
      f.listOwed = false;
      f.pending.clear();
      this.send(f, JSON.stringify(this.listMessage()));
      return;
    }
    for (const text of f.pending.values()) this.send(f, text);
    f.pending.clear();
  }

  private behind(f: Follower): boolean {
    return f.ws.bufferedAmount > this.opts.slowClientBytes;
  }

  private listMessage(): LiveServerMessage {
    const alarms = this.opts.alarms;
    const list: AlarmItem[] = alarms.list().map((a) => this.opts.views.item(a));
    return { type: 'alarms', serverTime: this.opts.now(), ready: alarms.ready(), alarms: list };
  }

  private send(f: Follower, text: string): void {
    if (f.ws.readyState !== WebSocket.OPEN) return;
    f.ws.send(text);
    this.opts.onSent();
  }
}
