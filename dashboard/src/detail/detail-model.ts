/**
 * What the machine and line detail pages show, decided without the DOM:
 * which tags are the machine's process values and which of them get a
 * trend, history turned into chart series, the six big losses as parts of
 * planned time, energy by machine state and the energy baseline. A missing
 * figure carries the reason it is missing, never a 0.
 */
import type {
  BaselineResponse,
  HistoryPoint,
  LineView,
  MachineView,
  MetricsRecord,
  PlantView,
  TagRole,
  TagView,
} from '../../../gateway/server/contract.js';
import type { MissingReason } from '../overview-model.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

// ---------- which entity ----------

export interface MachineRef {
  readonly machine: MachineView;
  readonly line: LineView;
}

export function findMachine(plant: PlantView, id: string): MachineRef | null {
  for (const line of plant.lines) {
    const machine = line.machines.find((m) => m.id === id);
    if (machine) return { machine, line };
  }
  return null;
}

export function findLine(plant: PlantView, id: string): LineView | null {
  return plant.lines.find((l) => l.id === id) ?? null;
}

// ---------- process values ----------

export interface ProcessTag {
  readonly id: string;
  readonly name: string;
  readonly unit: string | null;
  readonly type: string | null;
  /** what the tag means to the machine or line; null for a plain process value */
  readonly role: TagRole | null;
  /** drawn as a trend: a number that is not a running total */
  readonly charted: boolean;
  readonly expectedIntervalMs: number;
}

const NOT_NUMBERS = new Set(['string', 'bool', 'boolean']);
const RUNNING_TOTALS: ReadonlySet<TagRole> = new Set(['countTotal', 'countGood', 'countReject', 'energyKwh']);
/** roles the page shows elsewhere (the state timeline) */
const SHOWN_ELSEWHERE: ReadonlySet<TagRole> = new Set(['state', 'stopReason']);

/** a running total only ever grows: its trend says little, its rate is on the metrics */
function isRunningTotal(tag: TagView, role: TagRole | null): boolean {
  if (role !== null && RUNNING_TOTALS.has(role)) return true;
  return tag.unit !== null && /^[kMG]?(W|var|VA)h$/.test(tag.unit.trim());
}

function processTag(tag: TagView, role: TagRole | null): ProcessTag {
  const charted =
    !NOT_NUMBERS.has(tag.type ?? '') && !isRunningTotal(tag, role) && !(role !== null && SHOWN_ELSEWHERE.has(role));
  return {
    id: tag.id,
    name: tag.name,
    unit: tag.unit,
    type: tag.type,
    role,
    charted,
    expectedIntervalMs: tag.expectedIntervalMs,
  };
}

/** the longest run of leading dotted segments the ids share, with its dot (`l1.imm1.`), or '' */
export function commonPrefix(ids: readonly string[]): string {
  if (ids.length === 0) return '';
  const split = ids.map((id) => id.split('.').slice(0, -1));
  const first = split[0]!;
  let n = 0;
  while (n < first.length && split.every((s) => s[n] === first[n])) n++;
  return n === 0 ? '' : `${first.slice(0, n).join('.')}.`;
}

/**
 * The tags of the devices that serve a set of role tags, narrowed to what
 * belongs to their owner: tags claimed by another machine or line are left
 * out, and on a device that serves others too only the tags that share the
 * role tags' id prefix (`l1.imm1.`) stay. Plain process values first (in the
 * device's order), then the role tags.
 */
function ownedTags(plant: PlantView, roles: ReadonlyMap<string, TagRole>, claimedByOthers: ReadonlySet<string>) {
  const process: ProcessTag[] = [];
  const withRole: ProcessTag[] = [];
  const prefix = commonPrefix([...roles.keys()]);
  const seen = new Set<string>();
  for (const device of plant.devices) {
    if (!device.tags.some((t) => roles.has(t.id))) continue;
    const shared = device.tags.some((t) => claimedByOthers.has(t.id));
    for (const tag of device.tags) {
      if (seen.has(tag.id)) continue;
      const role = roles.get(tag.id) ?? null;
      if (role === null) {
        if (claimedByOthers.has(tag.id)) continue;
        if (shared && (prefix === '' || !tag.id.startsWith(prefix))) continue;
        process.push(processTag(tag, null));
      } else withRole.push(processTag(tag, role));
      seen.add(tag.id);
    }
  }
  // role tags on no device (values the live source derives) still count
  for (const [id, role] of roles) {
    if (!seen.has(id)) withRole.push(processTag({ id, name: id, unit: null, type: null } as TagView, role));
  }
  return [...process, ...withRole];
}

function claimedTags(plant: PlantView, except: { machine?: string; line?: string }): Set<string> {
  const out = new Set<string>();
  for (const line of plant.lines) {
    if (line.id !== except.line) for (const r of line.tags) out.add(r.tagId);
    for (const m of line.machines) if (m.id !== except.machine) for (const r of m.tags) out.add(r.tagId);
  }
  return out;
}

/**
 * A machine's process values: its counters and meters and the other values
 * its devices read for it. The state and stop reason tags are left out:
 * the page shows them as the state and the timeline.
 */
export function machineProcessTags(plant: PlantView, machineId: string): ProcessTag[] {
  const ref = findMachine(plant, machineId);
  if (!ref) return [];
  const roles = new Map(ref.machine.tags.map((r) => [r.tagId, r.role] as const));
  return ownedTags(plant, roles, claimedTags(plant, { machine: machineId })).filter(
    (tag) => tag.role === null || !SHOWN_ELSEWHERE.has(tag.role),
  );
}

/** a line's own values: its meter's tags (the machines have their own pages) */
export function lineProcessTags(plant: PlantView, lineId: string): ProcessTag[] {
  const line = findLine(plant, lineId);
  if (!line) return [];
  const roles = new Map(line.tags.map((r) => [r.tagId, r.role] as const));
  return ownedTags(plant, roles, claimedTags(plant, { line: lineId }));
}

// ---------- trends ----------

export type TrendRangeId = '15m' | '1h' | '8h' | '24h' | '7d' | '30d';

export const TREND_RANGES: readonly { readonly id: TrendRangeId; readonly ms: number }[] = [
  { id: '15m', ms: 15 * MINUTE_MS },
  { id: '1h', ms: HOUR_MS },
  { id: '8h', ms: 8 * HOUR_MS },
  { id: '24h', ms: DAY_MS },
  { id: '7d', ms: 7 * DAY_MS },
  { id: '30d', ms: 30 * DAY_MS },
];

export const DEFAULT_TREND_RANGE: TrendRangeId = '1h';

export function trendRangeMs(id: TrendRangeId): number {
  return TREND_RANGES.find((r) => r.id === id)?.ms ?? HOUR_MS;
}

export function isTrendRange(x: unknown): x is TrendRangeId {
  return typeof x === 'string' && TREND_RANGES.some((r) => r.id === x);
}

/** short ranges follow the live values; longer ones are history (minute rollups) and refresh now and then */
export function followsLive(rangeMs: number): boolean {
  return rangeMs <= HOUR_MS;
}

/** about one point per pixel of the chart, within what the history route serves */
export function historyPointsFor(widthPx: number): number {
  return Math.max(100, Math.min(2000, Math.round(widthPx)));
}

export interface Series {
  readonly xs: number[];
  readonly ys: (number | null)[];
}

/** a value as a number for a chart: booleans as 1 / 0, text and bad readings as a gap */
export function chartValue(value: unknown, quality: string): number | null {
  if (quality === 'bad' || quality === 'stale') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return null;
}

/** history as chart columns, oldest first (the route answers in order; equal times keep the last) */
export function historySeries(points: readonly HistoryPoint[]): Series {
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  for (const p of points) {
    const y = chartValue(p.value, p.quality);
    if (xs.length > 0 && xs[xs.length - 1]! >= p.ts) {
      if (xs[xs.length - 1] === p.ts) ys[ys.length - 1] = y;
      continue;
    }
    xs.push(p.ts);
    ys.push(y);
  }
  return { xs, ys };
}

/**
 * A live value added to a followed series, and what fell out of the window
 * dropped. Values older than the newest point are ignored (they came late).
 */
export function appendLive(series: Series, ts: number, y: number | null, windowFrom: number): void {
  const { xs, ys } = series;
  const last = xs.length > 0 ? xs[xs.length - 1]! : Number.NEGATIVE_INFINITY;
  if (ts < last) return;
  if (ts === last) ys[ys.length - 1] = y;
  else {
    xs.push(ts);
    ys.push(y);
  }
  let drop = 0;
  // keep one point before the window so the line enters it from the left edge
  while (drop + 1 < xs.length && xs[drop + 1]! <= windowFrom) drop++;
  if (drop > 0) {
    xs.splice(0, drop);
    ys.splice(0, drop);
  }
}

/** how many points of a series hold a value */
export function valueCount(series: Series): number {
  return series.ys.reduce<number>((n, y) => (y === null ? n : n + 1), 0);
}

// ---------- six big losses ----------

export type LossKey =
  | 'breakdowns'
  | 'setup'
  | 'offline'
  | 'minorStops'
  | 'reducedSpeed'
  | 'processDefects'
  | 'startupRejects'
  | 'productive';

export type LossCategory = 'availability' | 'performance' | 'quality' | 'none';

export interface LossSegment {
  readonly key: LossKey;
  readonly category: LossCategory;
  /** time, ms (quality losses: rejects × ideal cycle time) */
  readonly ms: number;
  /** share of planned production time */
  readonly share: number;
  /** rejects counted, for the quality losses */
  readonly units: number | null;
}

export interface LossView {
  /** planned production time: the segments add up to it */
  readonly plannedMs: number;
  readonly segments: readonly LossSegment[];
  /** setup and changeover left out of planned time (the default policy); shown beside the bar */
  readonly setupOutsideMs: number;
  /** losses beyond planned time (output counted faster than the ideal cycle allows): the bar is cut */
  readonly excessMs: number;
  /** rejects are not counted (no counters): quality losses unknown */
  readonly qualityKnown: boolean;
}

/**
 * The six big losses as parts of planned production time, with the fully
 * productive time (good units at the ideal rate) as the rest. Setup counts
 * in planned time only when the plant says so (`setupCountsAs:
 * 'availability-loss'`), which shows in the record as stop time.
 */
export function lossBreakdown(record: MetricsRecord | null): LossView | null {
  if (!record || record.plannedMs <= 0) return null;
  const l = record.losses;
  const planned = record.plannedMs;
  // under `availability-loss` setup is part of stop time; under `planned` stop time is breakdowns and offline only
  const withoutSetup = Math.abs(record.stopMs - (l.breakdownsMs + l.offlineMs));
  const withSetup = Math.abs(record.stopMs - (l.breakdownsMs + l.offlineMs + l.setupMs));
  const setupInside = l.setupMs > 0 && withSetup < withoutSetup;
  const parts: [LossKey, LossCategory, number, number | null][] = [
    ['breakdowns', 'availability', l.breakdownsMs, null],
    ['setup', 'availability', setupInside ? l.setupMs : 0, null],
    ['offline', 'availability', l.offlineMs, null],
    ['minorStops', 'performance', l.minorStopsMs, null],
    ['reducedSpeed', 'performance', l.reducedSpeedMs, null],
    ['processDefects', 'quality', l.processDefectsMs ?? 0, l.processDefects],
    ['startupRejects', 'quality', l.startupRejectsMs ?? 0, l.startupRejects],
  ];
  let used = 0;
  const segments: LossSegment[] = [];
  for (const [key, category, ms, units] of parts) {
    const room = Math.max(0, planned - used);
    const shown = Math.min(Math.max(0, ms), room);
    used += shown;
    if (key === 'setup' && !setupInside) continue;
    segments.push({ key, category, ms: shown, share: shown / planned, units });
  }
  const lossesMs = parts.reduce((s, p) => s + Math.max(0, p[2]), 0);
  const productive = planned - used;
  segments.push({ key: 'productive', category: 'none', ms: productive, share: productive / planned, units: null });
  return {
    plannedMs: planned,
    segments,
    setupOutsideMs: setupInside ? 0 : l.setupMs,
    excessMs: Math.max(0, lossesMs - planned),
    qualityKnown: l.processDefectsMs !== null,
  };
}

// ---------- energy by state ----------

export type EnergyStateKey = 'producing' | 'idle' | 'stopped' | 'unattributed';

export interface EnergyStateRow {
  readonly key: EnergyStateKey;
  readonly kwh: number;
  /** share of all the window's energy */
  readonly share: number | null;
}

export type EnergyByState =
  | {
      readonly kwh: number;
      readonly rows: readonly EnergyStateRow[];
      /** (idle + stopped) / (producing + idle + stopped): the base load's share */
      readonly idleShare: number | null;
      readonly why: null;
    }
  | { readonly kwh: null; readonly rows: readonly []; readonly idleShare: null; readonly why: MissingReason };

export function energyByState(record: MetricsRecord | null, ready: boolean): EnergyByState {
  if (!ready) return { kwh: null, rows: [], idleShare: null, why: 'not-ready' };
  if (!record) return { kwh: null, rows: [], idleShare: null, why: 'no-window' };
  if (record.kwh === null) return { kwh: null, rows: [], idleShare: null, why: 'no-meter' };
  const total = record.kwh;
  const row = (key: EnergyStateKey, kwh: number | null): EnergyStateRow => ({
    key,
    kwh: kwh ?? 0,
    share: total > 0 ? (kwh ?? 0) / total : null,
  });
  return {
    kwh: total,
    rows: [
      row('producing', record.kwhProducing),
      row('idle', record.kwhIdle),
      row('stopped', record.kwhStopped),
      row('unattributed', record.kwhUnattributed),
    ],
    idleShare: record.idleEnergyShare,
    why: null,
  };
}

// ---------- energy baseline ----------

export type BaselineMissing = 'not-enough-history' | 'no-shift';

export interface BaselineView {
  readonly periodMs: number;
  /** hours (periods) the fit used, and those left out (no production, gaps, planned stops) */
  readonly used: number;
  readonly excluded: number;
  readonly model: { readonly c: number; readonly m: number; readonly r2: number | null; readonly n: number } | null;
  readonly modelWhy: BaselineMissing | null;
  readonly current: {
    readonly actualKwh: number;
    readonly expectedKwh: number;
    readonly good: number;
    readonly enpi: number | null;
  } | null;
  readonly currentWhy: BaselineMissing | null;
}

export function baselineView(b: BaselineResponse): BaselineView {
  const model = b.model ? { c: b.model.intercept, m: b.model.slope, r2: b.model.r2, n: b.model.n } : null;
  const current = b.current
    ? {
        actualKwh: b.current.actualKwh,
        expectedKwh: b.current.expectedKwh,
        good: b.current.good,
        enpi: b.current.enpi,
      }
    : null;
  return {
    periodMs: b.periodMs,
    used: b.used,
    excluded: b.excluded,
    model,
    modelWhy: model ? null : 'not-enough-history',
    current,
    currentWhy: current ? null : model ? 'no-shift' : 'not-enough-history',
  };
}
