/**
 * The dashboard's copy of the gateway's alarms: the list as the live socket
 * (or a REST answer) gives it, each change applied as it comes, never an
 * older version of an alarm over a newer one. The header count, the
 * overview and the alarms page all read it and hear its changes.
 */
import type { AlarmItem } from '../../../gateway/server/contract.js';
import { isNewer } from './alarm-model.js';

export class AlarmBoard {
  private readonly items = new Map<string, AlarmItem>();
  /** configuration order, as the gateway lists them */
  private order: string[] = [];
  private readonly listeners = new Set<() => void>();
  /** null until the gateway has answered: nothing is known about alarms yet */
  private readyState: boolean | null = null;
  /** server clock minus the browser's */
  private offsetMs = 0;

  /** the whole list (the answer to following alarms, or GET /api/alarms) */
  setList(alarms: readonly AlarmItem[], serverTime: number, ready: boolean): void {
    this.offsetMs = serverTime - Date.now();
    this.readyState = ready;
    const next = new Map<string, AlarmItem>();
    for (const a of alarms) {
      const held = this.items.get(a.id);
      next.set(a.id, held !== undefined && !isNewer(a, held) ? held : a);
    }
    this.items.clear();
    for (const [id, a] of next) this.items.set(id, a);
    this.order = alarms.map((a) => a.id);
    this.changed();
  }

  /** one alarm as it stands after a change (live message, or the answer to an action) */
  apply(alarm: AlarmItem): void {
    if (!isNewer(alarm, this.items.get(alarm.id))) return;
    if (!this.items.has(alarm.id)) this.order.push(alarm.id);
    this.items.set(alarm.id, alarm);
    this.changed();
  }

  /** false while the gateway restores its alarms; null before it has said */
  get ready(): boolean | null {
    return this.readyState;
  }

  /** now on the gateway's clock */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  list(): AlarmItem[] {
    return this.order.map((id) => this.items.get(id)).filter((a): a is AlarmItem => a !== undefined);
  }

  get(id: string): AlarmItem | undefined {
    return this.items.get(id);
  }

  /** returns the unsubscribe */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
