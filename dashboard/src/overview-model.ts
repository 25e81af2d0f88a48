/**
 * What the plant overview shows, decided without the DOM: which figures a
 * record has and, for each one it lacks, why; the state a machine tile shows;
 * lines grouped by area; the window the user picked. A missing figure is
 * never shown as 0: the page says "—" and gives the reason.
 */
import type {
  LineMetricsView,
  MachineStatus,
  MetricsOverview,
  MetricsRecord,
  MetricsWindowName,
} from '../../gateway/server/contract.js';

export const WINDOW_CHOICES: readonly MetricsWindowName[] = ['shift', 'prev-shift', 'hour', 'today'];
export const DEFAULT_WINDOW: MetricsWindowName = 'shift';

/** Why a figure is missing; each has a short label and a longer explanation in i18n.ts. */
export type MissingReason =
  | 'not-ready'
  | 'no-window'
  | 'no-planned-time'
  | 'no-run-time'
  | 'no-counters'
  | 'nothing-made'
  | 'no-good-units'
  | 'no-meter'
  | 'no-energy-yet'
  | 'no-location-factor';

export type Figure =
  | { readonly value: number; readonly why: null }
  | { readonly value: null; readonly why: MissingReason };

export interface RecordFigures {
  readonly oee: Figure;
  readonly availability: Figure;
  readonly performance: Figure;
  readonly quality: Figure;
  readonly good: Figure;
  readonly total: Figure;
  readonly kwhPerGood: Figure;
  /** location-based (GHG Protocol Scope 2) */
  readonly kgCO2ePerGood: Figure;
  /** market-based: shown only where contracts give one */
  readonly kgCO2ePerGoodMarket: number | null;
  readonly idleEnergyShare: Figure;
  /** raw performance above 100 %: the ideal cycle time is likely wrong */
  readonly performanceOver100: boolean;
}

function figure(value: number | null, why: () => MissingReason): Figure {
  return value === null || !Number.isFinite(value) ? { value: null, why: why() } : { value, why: null };
}

/** The figures of a line or machine record, each with the reason it is missing. */
export function recordFigures(record: MetricsRecord | null, ready: boolean): RecordFigures {
  if (!ready || record === null) {
    const why: MissingReason = ready ? 'no-window' : 'not-ready';
    const none: Figure = { value: null, why };
    return {
      oee: none,
      availability: none,
      performance: none,
      quality: none,
      good: none,
      total: none,
      kwhPerGood: none,
      kgCO2ePerGood: none,
      kgCO2ePerGoodMarket: null,
      idleEnergyShare: none,
      performanceOver100: false,
    };
  }
  const r = record;
  const noCounters = r.total === null;
  const noMeter = r.kwh === null;
  return {
    oee: figure(r.oee, () => (noCounters ? 'no-counters' : 'no-planned-time')),
    availability: figure(r.availability, () => 'no-planned-time'),
    performance: figure(r.performance, () =>
      noCounters ? 'no-counters' : r.plannedMs <= 0 ? 'no-planned-time' : 'no-run-time',
    ),
    quality: figure(r.quality, () => (noCounters ? 'no-counters' : 'nothing-made')),
    good: figure(r.good, () => 'no-counters'),
    total: figure(r.total, () => 'no-counters'),
    kwhPerGood: figure(r.kwhPerGood, () => (noMeter ? 'no-meter' : noCounters ? 'no-counters' : 'no-good-units')),
    kgCO2ePerGood: figure(r.kgCO2ePerGood.location, () =>
      noMeter
        ? 'no-meter'
        : r.kgCO2e.location === null
          ? 'no-location-factor'
          : noCounters
            ? 'no-counters'
            : 'no-good-units',
    ),
    kgCO2ePerGoodMarket: r.kgCO2ePerGood.market,
    idleEnergyShare: figure(r.idleEnergyShare, () => (noMeter ? 'no-meter' : 'no-energy-yet')),
    performanceOver100: r.performanceOver100,
  };
}

/** The colour classes of a machine tile: the five machine states, plus no reading yet. */
export type TileState = 'running' | 'idle' | 'unplanned-stop' | 'planned-stop' | 'offline' | 'unknown';

export interface StatusView {
  readonly state: TileState;
  /** offline because no usable state reading is at hand */
  readonly noData: boolean;
  /** the stop reason as the plant names it; none while running or without data */
  readonly reason: string | null;
  /** when the state began (server clock), null when unknown */
  readonly since: number | null;
  /** the raw state value when the state map does not know it */
  readonly unmappedRaw: string | null;
  /** an unplanned stop still shorter than the microstop threshold */
  readonly minorStopPending: boolean;
}

export function statusView(status: MachineStatus | null): StatusView {
  if (status === null) {
    return { state: 'unknown', noData: true, reason: null, since: null, unmappedRaw: null, minorStopPending: false };
  }
  const noData = status.state === 'offline' && status.noData;
  return {
    state: status.state,
    noData,
    reason: status.state === 'running' || noData ? null : status.reason || null,
    since: status.since,
    unmappedRaw: status.unmapped ? (status.raw ?? '') : null,
    minorStopPending: status.state === 'unplanned-stop' && status.minorStopPending,
  };
}

export interface AreaGroup {
  readonly id: string;
  readonly name: string;
  readonly lines: readonly LineMetricsView[];
}

/** Lines by area, areas in the plant's order (then any the plant does not list), lines in their order. */
export function groupByArea(
  lines: readonly LineMetricsView[],
  areas: readonly { readonly id: string; readonly name: string }[],
): AreaGroup[] {
  const byArea = new Map<string, LineMetricsView[]>();
  for (const line of lines) {
    const list = byArea.get(line.area);
    if (list) list.push(line);
    else byArea.set(line.area, [line]);
  }
  const groups: AreaGroup[] = [];
  for (const area of areas) {
    const list = byArea.get(area.id);
    if (!list) continue;
    groups.push({ id: area.id, name: area.name, lines: list });
    byArea.delete(area.id);
  }
  for (const [id, list] of byArea) groups.push({ id, name: id, lines: list });
  return groups;
}

/** The window all records cover: the first record's (every line shares the site's windows); null when none has one. */
export function overviewWindow(overview: MetricsOverview): MetricsRecord['window'] | null {
  for (const line of overview.lines) {
    if (line.record) return line.record.window;
    for (const m of line.machines) if (m.record) return m.record.window;
  }
  return null;
}

/** the shift's id from a shift instance id (`day@2025-03-01` → `day`) */
export function shiftName(shiftId: string | null): string | null {
  if (!shiftId) return null;
  const at = shiftId.lastIndexOf('@');
  return at > 0 ? shiftId.slice(0, at) : shiftId;
}

/** The structure of an overview (lines and machines, in order): the page rebuilds only when it changes. */
export function structureKey(overview: MetricsOverview): string {
  return overview.lines.map((l) => `${l.id}:${l.area}:${l.machines.map((m) => m.id).join(',')}`).join('|');
}

export function isWindowName(x: unknown): x is MetricsWindowName {
  return typeof x === 'string' && (WINDOW_CHOICES as readonly string[]).includes(x);
}

const WINDOW_KEY = 'greenline.window';

/** the window chosen last time on this device, else the current shift */
export function loadWindow(storage: Pick<Storage, 'getItem'> | null): MetricsWindowName {
  try {
    const stored = storage?.getItem(WINDOW_KEY);
    if (isWindowName(stored)) return stored;
  } catch {
    // storage can be off (private mode, kiosk policy)
  }
  return DEFAULT_WINDOW;
}

export function saveWindow(storage: Pick<Storage, 'setItem'> | null, window: MetricsWindowName): void {
  try {
    storage?.setItem(WINDOW_KEY, window);
  } catch {
    // not persisted; the choice still holds for this page
  }
}

/**
 * Of two overviews, the one to show: the newer, for the window asked for.
 * A REST answer can arrive after a WebSocket push that is newer, and a push
 * for the previous window can still be under way after a change.
 */
export function shouldReplace(
  current: MetricsOverview | null,
  next: MetricsOverview,
  wanted: MetricsWindowName,
): boolean {
  if (next.window !== wanted) return false;
  if (current === null || current.window !== wanted) return true;
  return next.serverTime >= current.serverTime;
}
