/**
 * The BlockPlanner: which reads cover a device's tags. Pure.
 *
 * Tags are grouped by (unit id, area, poll group), sorted by offset, and
 * neighbours are merged into one read when the registers between them (the
 * gap) are at most `maxGapRegisters` and the merged read stays within the
 * per-request cap: min(device cap, Modbus limit of 125 registers / 2000 bits).
 * Reading through a small gap costs a few bytes; a separate request costs a
 * round trip.
 *
 * In coil and discrete-input areas one register of gap counts as 16 bits (the
 * same wire payload), so `maxGapRegisters: 8` reads through up to 128 bits.
 *
 * A tag wider than the cap, or running past address 65535, cannot be read at
 * all: `planBlocks` throws a BlockPlanError listing every such tag.
 *
 * What a device refused is planned around (`planReads` with Refusals). A
 * device that answers a merged read with exception 2 (Illegal Data Address)
 * usually lacks some register inside it, often one in a gap the planner read
 * through. The driver splits the refused block (`splitBlock`), reads the
 * halves, and remembers what it learned as a Refusal:
 *
 * | Refusal    | learned when                                      | the plan then                                   |
 * |------------|---------------------------------------------------|-------------------------------------------------|
 * | `range`    | a block that cannot be split further is refused   | refuses every tag whose span covers the range;  |
 * |            | (the range is that block), or both halves of a    | reads a tag that overlaps it only partly on its |
 * |            | refused block read fine (the range is the gap)    | own; merges no read over it                     |
 * | `boundary` | both halves read fine and they touch              | merges no read across the boundary              |
 * | `area`     | exception 1 (Illegal Function): no such area      | refuses every tag of the area and unit id       |
 *
 * A tag that is refused is not requested: the driver reports it `bad` with
 * the Refusal's reason each cycle, and re-probes now and then.
 */
import type { ModbusTag } from '../../config/schema.js';
import type { ModbusArea } from '../../config/modbus-address.js';
import { registerCount } from './codec.js';

/** Modbus protocol limits per read request (FC 3/4 and FC 1/2). */
export const MODBUS_MAX_REGISTERS_PER_READ = 125;
export const MODBUS_MAX_BITS_PER_READ = 2000;
const ADDRESS_SPACE = 65536;

export interface PlannerOptions {
  /** unit id for tags that do not set their own */
  unitId: number;
  maxRegistersPerRead: number;
  maxBitsPerRead: number;
  maxGapRegisters: number;
}

export interface PlannedTag {
  readonly tag: ModbusTag;
  /** index of the tag's first register (or bit) inside the block */
  readonly at: number;
}

export interface ReadBlock {
  readonly unitId: number;
  readonly area: ModbusArea;
  readonly pollGroup: string;
  /** first register (or bit), 0-based wire offset */
  readonly start: number;
  /** registers (or bits) read */
  readonly count: number;
  readonly tags: readonly PlannedTag[];
}

/**
 * Something a device refused, remembered so that no read covers it again.
 * See the table at the top of the file.
 */
export interface Refusal {
  readonly kind: 'range' | 'boundary' | 'area';
  readonly unitId: number;
  readonly area: ModbusArea;
  /** `range`: its first register (or bit); `boundary`: the first register after the boundary; `area`: 0 */
  readonly start: number;
  /** `range`: registers (or bits) in it; otherwise 0 */
  readonly count: number;
  /** the quality reason of the tags it rules out, e.g. `exception 2 (illegal data address)` */
  readonly reason: string;
}

export interface RefusedTag {
  readonly tag: ModbusTag;
  readonly unitId: number;
  readonly refusal: Refusal;
}

export interface ReadPlan {
  readonly blocks: ReadBlock[];
  /** tags no read covers, because of a Refusal */
  readonly refused: RefusedTag[];
}

export class BlockPlanError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'BlockPlanError';
  }
}

export const isBitArea = (area: ModbusArea): boolean => area === 'coil' || area === 'discrete-input';

/** Registers (or, in a bit area, bits) a tag occupies. */
export function tagWidth(tag: ModbusTag): number {
  if (isBitArea(tag.address.area)) return 1;
  return registerCount(tag.type, tag.length);
}

interface Span {
  readonly tag: ModbusTag;
  readonly offset: number;
  readonly width: number;
}

/**
 * Merges spans of one (unit id, area, poll group), already sorted by offset,
 * into as few reads as the cap and the gap allow.
 */
export function mergeSpans(
  spans: readonly Span[],
  cap: number,
  maxGap: number,
  /** whether one read may cover [start, end); every read is allowed when absent */
  allowed?: (start: number, end: number) => boolean,
): Array<{ start: number; count: number; tags: PlannedTag[] }> {
  const out: Array<{ start: number; count: number; tags: PlannedTag[] }> = [];
  let start = 0;
  let end = 0; // exclusive
  let members: Span[] = [];
  const flush = () => {
    if (members.length === 0) return;
    out.push({ start, count: end - start, tags: members.map((s) => ({ tag: s.tag, at: s.offset - start })) });
    members = [];
  };
  for (const span of spans) {
    const spanEnd = span.offset + span.width;
    if (members.length > 0) {
      const gap = span.offset - end; // negative when the spans overlap
      const mergedEnd = Math.max(end, spanEnd);
      if (gap <= maxGap && mergedEnd - start <= cap && (allowed === undefined || allowed(start, mergedEnd))) {
        members.push(span);
        end = mergedEnd;
        continue;
      }
      flush();
    }
    start = span.offset;
    end = spanEnd;
    members.push(span);
  }
  flush();
  return out;
}

const AREA_ORDER: Record<ModbusArea, number> = {
  coil: 0,
  'discrete-input': 1,
  'input-register': 2,
  'holding-register': 3,
};

/** Tags → reads. Throws a BlockPlanError listing every tag that cannot be read at all. */
export function planBlocks(tags: readonly ModbusTag[], options: PlannerOptions): ReadBlock[] {
  return planReads(tags, options).blocks;
}

/**
 * Tags → reads, around what the device refused: tags on refused addresses
 * are left out of every read and listed in `refused` with the Refusal that
 * rules them out. Throws a BlockPlanError listing every tag that cannot be
 * read at all.
 */
export function planReads(
  tags: readonly ModbusTag[],
  options: PlannerOptions,
  refusals: readonly Refusal[] = [],
): ReadPlan {
  const registerCap = Math.min(MODBUS_MAX_REGISTERS_PER_READ, Math.max(1, Math.floor(options.maxRegistersPerRead)));
  const bitCap = Math.min(MODBUS_MAX_BITS_PER_READ, Math.max(1, Math.floor(options.maxBitsPerRead)));
  const gapRegisters = Math.max(0, Math.floor(options.maxGapRegisters));

  const problems: string[] = [];
  const refused: RefusedTag[] = [];
  const groups = new Map<string, { unitId: number; area: ModbusArea; pollGroup: string; spans: Span[] }>();

  for (const tag of tags) {
    const area = tag.address.area;
    const bits = isBitArea(area);
    const cap = bits ? bitCap : registerCap;
    let width: number;
    try {
      width = tagWidth(tag);
    } catch (err) {
      problems.push(`tag "${tag.id}": ${(err as Error).message}`);
      continue;
    }
    if (width > cap) {
      problems.push(
        `tag "${tag.id}" needs ${width} registers but a read may cover at most ${cap}: shorten it or raise maxRegistersPerRead`,
      );
      continue;
    }
    if (tag.address.offset + width > ADDRESS_SPACE) {
      problems.push(`tag "${tag.id}" at ${tag.address.text} runs past the last address (65535)`);
      continue;
    }
    const unitId = tag.unitId ?? options.unitId;
    if (refusals.length > 0) {
      const refusal = refusalOf(refusals, unitId, area, tag.address.offset, width);
      if (refusal) {
        refused.push({ tag, unitId, refusal });
        continue;
      }
    }
    const key = `${tag.pollGroup}\u0000${unitId}\u0000${area}`;
    let group = groups.get(key);
    if (!group) {
      group = { unitId, area, pollGroup: tag.pollGroup, spans: [] };
      groups.set(key, group);
    }
    group.spans.push({ tag, offset: tag.address.offset, width });
  }
  if (problems.length > 0) throw new BlockPlanError(problems);

  const ordered = [...groups.values()].sort(
    (a, b) =>
      (a.pollGroup < b.pollGroup ? -1 : a.pollGroup > b.pollGroup ? 1 : 0) ||
      a.unitId - b.unitId ||
      AREA_ORDER[a.area] - AREA_ORDER[b.area],
  );

  const blocks: ReadBlock[] = [];
  for (const group of ordered) {
    const bits = isBitArea(group.area);
    const spans = [...group.spans].sort((a, b) => a.offset - b.offset || b.width - a.width);
    const limits = refusals.filter((r) => r.unitId === group.unitId && r.area === group.area && r.kind !== 'area');
    const allowed = limits.length === 0 ? undefined : (start: number, end: number) => readAllowed(limits, start, end);
    const merged = mergeSpans(spans, bits ? bitCap : registerCap, bits ? gapRegisters * 16 : gapRegisters, allowed);
    for (const m of merged) {
      blocks.push({ unitId: group.unitId, area: group.area, pollGroup: group.pollGroup, ...m });
    }
  }
  return { blocks, refused };
}

/** The Refusal that rules a tag out: its whole area, or a refused range inside the tag's span. */
function refusalOf(
  refusals: readonly Refusal[],
  unitId: number,
  area: ModbusArea,
  offset: number,
  width: number,
): Refusal | undefined {
  for (const r of refusals) {
    if (r.unitId !== unitId || r.area !== area) continue;
    if (r.kind === 'area') return r;
    if (r.kind === 'range' && r.start >= offset && r.start + r.count <= offset + width) return r;
  }
  return undefined;
}

/** Whether a read of [start, end) that merges several tags avoids every refused range and boundary. */
function readAllowed(limits: readonly Refusal[], start: number, end: number): boolean {
  for (const r of limits) {
    if (r.kind === 'range' && start < r.start + r.count && r.start < end) return false;
    if (r.kind === 'boundary' && start < r.start && r.start < end) return false;
  }
  return true;
}

/** Tags of a block that share registers, and so must be read together. */
function clustersOf(block: ReadBlock): Array<{ start: number; end: number; tags: PlannedTag[] }> {
  const sorted = [...block.tags].sort((a, b) => a.at - b.at);
  const clusters: Array<{ start: number; end: number; tags: PlannedTag[] }> = [];
  for (const t of sorted) {
    const end = t.at + tagWidth(t.tag);
    const last = clusters[clusters.length - 1];
    if (last && t.at < last.end) {
      last.tags.push(t);
      if (end > last.end) last.end = end;
    } else {
      clusters.push({ start: t.at, end, tags: [t] });
    }
  }
  return clusters;
}

function subBlock(
  block: ReadBlock,
  clusters: ReadonlyArray<{ start: number; end: number; tags: PlannedTag[] }>,
): ReadBlock {
  const first = clusters[0]!.start;
  let end = first;
  const tags: PlannedTag[] = [];
  for (const c of clusters) {
    if (c.end > end) end = c.end;
    for (const t of c.tags) tags.push({ tag: t.tag, at: t.at - first });
  }
  return {
    unitId: block.unitId,
    area: block.area,
    pollGroup: block.pollGroup,
    start: block.start + first,
    count: end - first,
    tags,
  };
}

/**
 * Two reads that together cover every tag of `block`, split between tags at
 * the boundary nearest the middle of the block; null when the block cannot be
 * split (its tags all share registers). Each half is as short as its tags allow.
 */
export function splitBlock(block: ReadBlock): [ReadBlock, ReadBlock] | null {
  const clusters = clustersOf(block);
  if (clusters.length < 2) return null;
  const middle = block.count / 2;
  let cut = 1;
  for (let i = 2; i < clusters.length; i++) {
    if (Math.abs(clusters[i]!.start - middle) < Math.abs(clusters[cut]!.start - middle)) cut = i;
  }
  return [subBlock(block, clusters.slice(0, cut)), subBlock(block, clusters.slice(cut))];
}

/**
 * What a refused read teaches when both its halves (from `splitBlock`) read
 * fine: the registers between the halves hold the address the device
 * refuses, or, when the halves touch, the device refuses reads across that
 * boundary (a table edge, or a request too long for it).
 */
export function refusalBetween(left: ReadBlock, right: ReadBlock, reason: string): Refusal {
  const end = left.start + left.count;
  if (right.start > end) {
    return { kind: 'range', unitId: left.unitId, area: left.area, start: end, count: right.start - end, reason };
  }
  return { kind: 'boundary', unitId: left.unitId, area: left.area, start: right.start, count: 0, reason };
}

/** The Refusal for a read that cannot be split and was refused: its whole range. */
export function refusalOfBlock(block: ReadBlock, reason: string): Refusal {
  return { kind: 'range', unitId: block.unitId, area: block.area, start: block.start, count: block.count, reason };
}

export function sameRefusal(a: Refusal, b: Refusal): boolean {
  return (
    a.kind === b.kind &&
    a.unitId === b.unitId &&
    a.area === b.area &&
    (a.kind === 'area' || (a.start === b.start && a.count === b.count))
  );
}
