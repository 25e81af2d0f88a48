/**
 * Which monitored items go into which CreateMonitoredItems request. Pure.
 *
 * Items that share their monitoring parameters (sampling interval, queue
 * size, deadband filter) form one group; each group is cut into requests of
 * at most `maxPerCall` items. A plant with a handful of parameter sets costs
 * a handful of requests, however many tags it has.
 */

export interface Deadband {
  readonly type: 'absolute' | 'percent';
  readonly value: number;
}

export interface MonitorParams {
  readonly samplingIntervalMs: number;
  readonly queueSize: number;
  /** null: no DataChangeFilter (the server reports every change of value or status) */
  readonly deadband: Deadband | null;
}

export interface MonitorBatch<T> {
  readonly params: MonitorParams;
  readonly items: readonly T[];
}

/** Enough queue to carry every sample taken between two publishes (1 … 100). */
export function defaultQueueSize(publishingIntervalMs: number, samplingIntervalMs: number): number {
  return Math.min(100, Math.max(1, Math.ceil(publishingIntervalMs / Math.max(1, samplingIntervalMs)) + 1));
}

const keyOf = (p: MonitorParams): string =>
  `${p.samplingIntervalMs}|${p.queueSize}|${p.deadband ? `${p.deadband.type}:${p.deadband.value}` : '-'}`;

/** Groups items by parameters (in order of first appearance) and cuts each group into batches. */
export function planMonitoredItems<T>(
  entries: readonly { readonly item: T; readonly params: MonitorParams }[],
  maxPerCall: number,
): MonitorBatch<T>[] {
  const size = Math.max(1, Math.floor(maxPerCall));
  const groups = new Map<string, { params: MonitorParams; items: T[] }>();
  for (const { item, params } of entries) {
    const key = keyOf(params);
    const group = groups.get(key);
    if (group) group.items.push(item);
    else groups.set(key, { params, items: [item] });
  }
  const batches: MonitorBatch<T>[] = [];
  for (const { params, items } of groups.values()) {
    for (let i = 0; i < items.length; i += size) batches.push({ params, items: items.slice(i, i + size) });
  }
  return batches;
}

/** Cuts a list into pieces of at most `size`. */
export function chunk<T>(list: readonly T[], size: number): T[][] {
  const n = Math.max(1, Math.floor(size));
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
  return out;
}

/**
 * Status codes by which a server refuses the DataChangeFilter of an item (not
 * the item itself): the tag is monitored again without a filter.
 */
const FILTER_REFUSALS = new Set([
  'BadFilterNotAllowed',
  'BadMonitoredItemFilterUnsupported',
  'BadMonitoredItemFilterInvalid',
  'BadDeadbandFilterInvalid',
]);

export function isFilterRefusal(statusName: string): boolean {
  return FILTER_REFUSALS.has(statusName);
}

/** The smaller of our limit and the server's (0 or absent: the server sets none). */
export function effectiveLimit(ours: number, server: number | null | undefined): number {
  return server && server > 0 ? Math.min(ours, server) : ours;
}
