/**
 * A machine's state over a shift as bands, from the history of its state
 * tag (and its stop reason tag), decided without the DOM. Values are
 * reported on change, so a value holds until the next one; a bad or stale
 * reading is "no data" until a good one comes.
 */
import type { HistoryPoint, MachineStateName, MachineStatus, MachineView } from '../../../gateway/server/contract.js';
import { zoneOffsetMs } from '../site-time.js';

export type BandState = MachineStateName | 'unmapped' | 'no-data';

export interface StateBand {
  readonly from: number;
  readonly to: number;
  readonly state: BandState;
  /** the raw state value, as text */
  readonly raw: string | null;
  /** the stop reason as the plant names it; null while running or when none is given */
  readonly reason: string | null;
}

export interface TimelineInput {
  /** state readings in time order; may start before `from` (the value in force at `from`) */
  readonly states: readonly HistoryPoint[];
  /** stop reason readings in time order, likewise */
  readonly reasons: readonly HistoryPoint[];
  readonly machine: Pick<MachineView, 'stateMap' | 'reasons' | 'stateReasons'>;
  readonly from: number;
  /** how far the data reaches (now, for a running shift) */
  readonly to: number;
  /** the machine's state now, as the metrics core has it: it holds from `since` */
  readonly status?: MachineStatus | null;
}

/** a band shorter than this, followed by the same state, is the moment between a state and its reason arriving */
const SETTLE_MS = 2000;

function rawText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

/** the reason tag's value as text (as the core names it): a named code, else the value, nothing for 0 or empty */
export function reasonText(value: unknown, reasons: Readonly<Record<string, string>> | undefined): string | null {
  if (value === null || value === undefined) return null;
  const keys = typeof value === 'boolean' ? (value ? ['true', '1'] : ['false', '0']) : [String(value)];
  if (typeof value === 'string' && value.trim() !== value) keys.push(value.trim());
  for (const key of keys) if (reasons && Object.hasOwn(reasons, key)) return reasons[key] ?? null;
  if (value === '' || value === 0 || value === false) return null;
  return typeof value === 'string' ? value.trim() || null : String(value);
}

function isUsable(p: HistoryPoint): boolean {
  return p.quality === 'good' || p.quality === 'uncertain';
}

interface Key {
  readonly state: BandState;
  readonly raw: string | null;
  readonly reason: string | null;
}

export function stateBands(input: TimelineInput): StateBand[] {
  const { from, to, machine } = input;
  if (!(to > from)) return [];
  const stateMap = machine.stateMap ?? {};
  let state: HistoryPoint | null = null;
  let reason: HistoryPoint | null = null;

  const keyNow = (): Key => {
    if (state === null || !isUsable(state)) return { state: 'no-data', raw: null, reason: null };
    const raw = rawText(state.value);
    const mapped: BandState = raw !== null && Object.hasOwn(stateMap, raw) ? stateMap[raw]! : 'unmapped';
    if (mapped === 'running') return { state: mapped, raw, reason: null };
    const tagReason = reason !== null && isUsable(reason) ? reasonText(reason.value, machine.reasons) : null;
    const mappingReason = raw !== null ? (machine.stateReasons?.[raw] ?? null) : null;
    return { state: mapped, raw, reason: tagReason ?? mappingReason };
  };

  // every reading, state and reason, in time order (a reason read at the same instant as a state goes with it)
  const events: { ts: number; kind: 'state' | 'reason'; p: HistoryPoint }[] = [
    ...input.states.map((p) => ({ ts: p.ts, kind: 'state' as const, p })),
    ...input.reasons.map((p) => ({ ts: p.ts, kind: 'reason' as const, p })),
  ].sort((a, b) => a.ts - b.ts);

  const bands: StateBand[] = [];
  let open: { from: number; key: Key } | null = null;
  const close = (at: number) => {
    if (open && at > open.from) bands.push({ from: open.from, to: at, ...open.key });
  };
  let i = 0;
  for (; i < events.length && events[i]!.ts <= from; i++) {
    const e = events[i]!;
    if (e.kind === 'state') state = e.p;
    else reason = e.p;
  }
  open = { from, key: keyNow() };
  while (i < events.length && events[i]!.ts < to) {
    const ts = events[i]!.ts;
    for (; i < events.length && events[i]!.ts === ts; i++) {
      const e = events[i]!;
      if (e.kind === 'state') state = e.p;
      else reason = e.p;
    }
    const key = keyNow();
    if (!sameKey(key, open.key)) {
      close(ts);
      open = { from: ts, key };
    }
  }
  close(to);

  const status = input.status;
  if (status && !status.noData && status.since < to) {
    const since = Math.max(from, status.since);
    const current: Key = {
      state: status.unmapped ? 'unmapped' : status.state,
      raw: status.raw,
      reason: status.state === 'running' ? null : status.reason,
    };
    overlay(bands, since, to, current);
  }
  return settle(bands);
}

function sameKey(a: Key, b: Key): boolean {
  return a.state === b.state && a.raw === b.raw && a.reason === b.reason;
}

/** puts `key` over [from, to), cutting what was there */
function overlay(bands: StateBand[], from: number, to: number, key: Key): void {
  const kept: StateBand[] = [];
  for (const b of bands) {
    if (b.to <= from || b.from >= to) kept.push(b);
    else {
      if (b.from < from) kept.push({ ...b, to: from });
      if (b.to > to) kept.push({ ...b, from: to });
    }
  }
  kept.push({ from, to, ...key });
  kept.sort((a, b) => a.from - b.from);
  bands.splice(0, bands.length, ...kept);
}

/** joins neighbours that say the same, and folds a blink before the same state into it */
function settle(bands: readonly StateBand[]): StateBand[] {
  const out: StateBand[] = [];
  for (const b of bands) {
    const prev = out[out.length - 1];
    if (prev && prev.to === b.from && prev.state === b.state) {
      if (sameKey(prev, b)) {
        out[out.length - 1] = { ...prev, to: b.to };
        continue;
      }
      if (prev.to - prev.from < SETTLE_MS && prev.reason === null) {
        out[out.length - 1] = { ...b, from: prev.from };
        continue;
      }
    }
    out.push(b);
  }
  return out;
}

/** time per band state, for the legend */
export function timeByState(bands: readonly StateBand[]): Map<BandState, number> {
  const out = new Map<BandState, number>();
  for (const b of bands) out.set(b.state, (out.get(b.state) ?? 0) + (b.to - b.from));
  return out;
}

const TICK_STEPS = [
  60_000,
  5 * 60_000,
  10 * 60_000,
  15 * 60_000,
  30 * 60_000,
  3_600_000,
  2 * 3_600_000,
  3 * 3_600_000,
  6 * 3_600_000,
  12 * 3_600_000,
  86_400_000,
];

/**
 * Round wall-clock times in the site's zone between two instants, at most
 * `maxTicks` of them: 07:00, 08:00, … for a twelve-hour shift.
 */
export function timeTicks(from: number, to: number, timeZone: string, maxTicks = 8): number[] {
  if (!(to > from) || maxTicks < 1) return [];
  const span = to - from;
  const step = TICK_STEPS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / 86_400_000) * 86_400_000;
  const ticks: number[] = [];
  const offset = zoneOffsetMs(from, timeZone);
  let local = Math.ceil((from + offset) / step) * step;
  for (let guard = 0; guard < maxTicks + 2; guard++) {
    // the offset at the tick itself, so a clock change inside the range still lands on round times
    const t = local - zoneOffsetMs(local - offset, timeZone);
    if (t > to) break;
    if (t >= from) ticks.push(t);
    local += step;
  }
  return ticks;
}
