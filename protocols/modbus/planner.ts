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
      if (gap <= maxGap && mergedEnd - start <= cap) {
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

export function planBlocks(tags: readonly ModbusTag[], options: PlannerOptions): ReadBlock[] {
  const registerCap = Math.min(MODBUS_MAX_REGISTERS_PER_READ, Math.max(1, Math.floor(options.maxRegistersPerRead)));
  const bitCap = Math.min(MODBUS_MAX_BITS_PER_READ, Math.max(1, Math.floor(options.maxBitsPerRead)));
  const gapRegisters = Math.max(0, Math.floor(options.maxGapRegisters));

  const problems: string[] = [];
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
    const merged = mergeSpans(spans, bits ? bitCap : registerCap, bits ? gapRegisters * 16 : gapRegisters);
    for (const m of merged) {
      blocks.push({ unitId: group.unitId, area: group.area, pollGroup: group.pollGroup, ...m });
    }
  }
  return blocks;
}
