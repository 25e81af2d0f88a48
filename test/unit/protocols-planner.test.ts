import { describe, expect, it } from 'vitest';
import { ModbusTag } from '../../config/schema.js';
import { BlockPlanError, planBlocks } from '../../protocols/modbus/planner.js';

type TagInput = Parameters<typeof ModbusTag.parse>[0];
const tag = (id: string, address: string, more: Partial<Record<string, unknown>> = {}) =>
  ModbusTag.parse({ id, address, ...more } as TagInput);

const opts = { unitId: 1, maxRegistersPerRead: 125, maxBitsPerRead: 2000, maxGapRegisters: 8 };
const shape = (blocks: ReturnType<typeof planBlocks>) =>
  blocks.map((b) => ({
    unitId: b.unitId,
    area: b.area,
    pollGroup: b.pollGroup,
    start: b.start,
    count: b.count,
    tags: b.tags.map((t) => `${t.tag.id}@${t.at}`),
  }));

describe('planBlocks', () => {
  it('merges neighbours and reads through small gaps', () => {
    const blocks = planBlocks(
      [tag('a', 'hr:0', { type: 'float32' }), tag('b', 'hr:2'), tag('c', 'hr:10', { type: 'uint32' })],
      opts,
    );
    expect(shape(blocks)).toEqual([
      { unitId: 1, area: 'holding-register', pollGroup: 'default', start: 0, count: 12, tags: ['a@0', 'b@2', 'c@10'] },
    ]);
  });

  it('a gap exactly at the limit merges; one more register splits', () => {
    // b ends at 1; c starts at 1 + 8 = 9: gap 8
    const atLimit = planBlocks([tag('b', 'hr:0'), tag('c', 'hr:9')], opts);
    expect(shape(atLimit).map((b) => [b.start, b.count])).toEqual([[0, 10]]);
    const beyond = planBlocks([tag('b', 'hr:0'), tag('c', 'hr:10')], opts);
    expect(shape(beyond).map((b) => [b.start, b.count])).toEqual([
      [0, 1],
      [10, 1],
    ]);
  });

  it('maxGapRegisters 0 merges only adjacent or overlapping tags', () => {
    const blocks = planBlocks(
      [
        tag('a', 'hr:0'),
        tag('b', 'hr:1'),
        tag('c', 'hr:3'),
        tag('x', 'hr:3.0', { type: 'bool' }),
        tag('y', 'hr:3.5', { type: 'bool' }),
      ],
      { ...opts, maxGapRegisters: 0 },
    );
    expect(shape(blocks).map((b) => [b.start, b.count, b.tags.join(' ')])).toEqual([
      [0, 2, 'a@0 b@1'],
      [3, 1, 'c@0 x@0 y@0'],
    ]);
  });

  it('never splits a tag: one that would cross the cap starts the next block', () => {
    const tags = [tag('first', 'hr:0'), tag('wide', 'hr:8', { type: 'float64' })];
    // 0..11 would need 12 registers; cap 10
    const blocks = planBlocks(tags, { ...opts, maxRegistersPerRead: 10 });
    expect(shape(blocks).map((b) => [b.start, b.count, b.tags.join(' ')])).toEqual([
      [0, 1, 'first@0'],
      [8, 4, 'wide@0'],
    ]);
    // with the cap at 12 it fits exactly
    const fits = planBlocks(tags, { ...opts, maxRegistersPerRead: 12 });
    expect(shape(fits).map((b) => [b.start, b.count])).toEqual([[0, 12]]);
  });

  it('keeps to the Modbus limit of 125 registers even when the device allows more', () => {
    const tags = Array.from({ length: 200 }, (_, i) => tag(`t${i}`, `hr:${i}`));
    const blocks = planBlocks(tags, { ...opts, maxRegistersPerRead: 500 });
    expect(shape(blocks).map((b) => [b.start, b.count])).toEqual([
      [0, 125],
      [125, 75],
    ]);
  });

  it('caps bit reads at maxBitsPerRead and the 2000-bit limit', () => {
    const coils = Array.from({ length: 2500 }, (_, i) => tag(`c${i}`, `coil:${i}`, { type: 'bool' }));
    expect(shape(planBlocks(coils, opts)).map((b) => [b.start, b.count])).toEqual([
      [0, 2000],
      [2000, 500],
    ]);
    expect(
      shape(planBlocks(coils.slice(0, 100), { ...opts, maxBitsPerRead: 64 })).map((b) => [b.start, b.count]),
    ).toEqual([
      [0, 64],
      [64, 36],
    ]);
  });

  it('in bit areas a register of gap is 16 bits', () => {
    const within = planBlocks([tag('a', 'di:0', { type: 'bool' }), tag('b', 'di:129', { type: 'bool' })], opts);
    expect(within).toHaveLength(1); // gap 128 = 8 × 16
    const beyond = planBlocks([tag('a', 'di:0', { type: 'bool' }), tag('b', 'di:130', { type: 'bool' })], opts);
    expect(beyond).toHaveLength(2);
  });

  it('groups by unit id, area and poll group', () => {
    const blocks = planBlocks(
      [
        tag('hr0', 'hr:0'),
        tag('ir0', 'ir:0'),
        tag('hr1', 'hr:1', { unitId: 2 }),
        tag('hr2', 'hr:2', { pollGroup: 'slow' }),
        tag('co0', 'coil:0', { type: 'bool' }),
      ],
      opts,
    );
    expect(
      shape(blocks).map((b) => `${b.pollGroup}/${b.unitId}/${b.area}/${b.start}+${b.count}:${b.tags.join(',')}`),
    ).toEqual([
      'default/1/coil/0+1:co0@0',
      'default/1/input-register/0+1:ir0@0',
      'default/1/holding-register/0+1:hr0@0',
      'default/2/holding-register/1+1:hr1@0',
      'slow/1/holding-register/2+1:hr2@0',
    ]);
  });

  it('sorts tags by offset whatever the config order', () => {
    const blocks = planBlocks([tag('c', 'hr:6'), tag('a', 'hr:0', { type: 'uint32' }), tag('b', 'hr:3')], opts);
    expect(shape(blocks)[0]!.tags).toEqual(['a@0', 'b@3', 'c@6']);
  });

  it('a tag wider than the cap is an error, listed with every other one', () => {
    const tags = [
      tag('name', 'hr:0', { type: 'string', length: 20 }),
      tag('serial', 'hr:40', { type: 'string', length: 12 }),
      tag('ok', 'hr:100'),
      tag('end', 'hr:65535', { type: 'float32' }),
    ];
    let error: unknown;
    try {
      planBlocks(tags, { ...opts, maxRegistersPerRead: 10 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BlockPlanError);
    const problems = (error as BlockPlanError).problems;
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/"name" needs 20 registers but a read may cover at most 10/);
    expect(problems[1]).toMatch(/"serial" needs 12/);
    expect(problems[2]).toMatch(/"end" .* runs past the last address/);
  });

  it('does not mutate its (frozen) input', () => {
    const tags = Object.freeze([Object.freeze(tag('b', 'hr:5')), Object.freeze(tag('a', 'hr:0'))]);
    expect(() => planBlocks(tags, opts)).not.toThrow();
    expect(tags.map((t) => t.id)).toEqual(['b', 'a']);
  });
});
