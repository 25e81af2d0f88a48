import { describe, expect, it } from 'vitest';
import { ModbusTag } from '../../config/schema.js';
import {
  BlockPlanError,
  planBlocks,
  planReads,
  type ReadBlock,
  type ReadPlan,
  type Refusal,
  refusalBetween,
  refusalOfBlock,
  sameRefusal,
  splitBlock,
} from '../../protocols/modbus/planner.js';

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

const EXC2 = 'exception 2 (illegal data address)';
const EXC1 = 'exception 1 (illegal function)';
const range = (start: number, count: number, more: Partial<Refusal> = {}): Refusal => ({
  kind: 'range',
  unitId: 1,
  area: 'holding-register',
  start,
  count,
  reason: EXC2,
  ...more,
});
const boundary = (start: number, more: Partial<Refusal> = {}): Refusal => ({
  kind: 'boundary',
  unitId: 1,
  area: 'holding-register',
  start,
  count: 0,
  reason: EXC2,
  ...more,
});
const reads = (plan: ReadPlan) => shape(plan.blocks).map((b) => `${b.start}+${b.count}:${b.tags.join(',')}`);
const refusedIds = (plan: ReadPlan) => plan.refused.map((r) => `${r.tag.id}:${r.refusal.reason}`);

describe('planReads around what a device refused', () => {
  // a@0 (float32) b@2 c@4 (uint32) d@8 e@10: without refusals one read 0+11
  const row = [
    tag('a', 'hr:0', { type: 'float32' }),
    tag('b', 'hr:2'),
    tag('c', 'hr:4', { type: 'uint32' }),
    tag('d', 'hr:8'),
    tag('e', 'hr:10'),
  ];

  const cases: Array<{ name: string; refusals: Refusal[]; reads: string[]; refused: string[] }> = [
    { name: 'nothing refused', refusals: [], reads: ['0+11:a@0,b@2,c@4,d@8,e@10'], refused: [] },
    {
      name: 'a refused register under a tag rules the tag out and splits the read there',
      refusals: [range(2, 1)],
      reads: ['0+2:a@0', '4+7:c@0,d@4,e@6'],
      refused: [`b:${EXC2}`],
    },
    {
      name: 'a refused register inside a wider tag rules that tag out',
      refusals: [range(5, 1)],
      reads: ['0+3:a@0,b@2', '8+3:d@0,e@2'],
      refused: [`c:${EXC2}`],
    },
    {
      name: 'a refused gap is not read through',
      refusals: [range(6, 2)],
      reads: ['0+6:a@0,b@2,c@4', '8+3:d@0,e@2'],
      refused: [],
    },
    {
      name: 'a tag that covers only part of a refused range is read on its own',
      refusals: [range(3, 2)],
      reads: ['0+3:a@0,b@2', '4+2:c@0', '8+3:d@0,e@2'],
      refused: [],
    },
    {
      name: 'a boundary splits the read but rules nothing out',
      refusals: [boundary(8)],
      reads: ['0+6:a@0,b@2,c@4', '8+3:d@0,e@2'],
      refused: [],
    },
    {
      name: 'a boundary at the start of the row changes nothing',
      refusals: [boundary(0)],
      reads: ['0+11:a@0,b@2,c@4,d@8,e@10'],
      refused: [],
    },
    {
      name: 'refusals of another unit id or area do not apply',
      refusals: [range(2, 1, { unitId: 2 }), range(2, 1, { area: 'input-register' }), boundary(8, { unitId: 3 })],
      reads: ['0+11:a@0,b@2,c@4,d@8,e@10'],
      refused: [],
    },
    {
      name: 'an area refusal (illegal function) rules out every tag of the area',
      refusals: [{ kind: 'area', unitId: 1, area: 'holding-register', start: 0, count: 0, reason: EXC1 }],
      reads: [],
      refused: ['a', 'b', 'c', 'd', 'e'].map((id) => `${id}:${EXC1}`),
    },
    {
      name: 'several refusals at once',
      refusals: [range(2, 1), range(9, 1), boundary(4)],
      reads: ['0+2:a@0', '4+5:c@0,d@4', '10+1:e@0'],
      refused: [`b:${EXC2}`],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const plan = planReads(row, opts, c.refusals);
      expect(reads(plan)).toEqual(c.reads);
      expect(refusedIds(plan)).toEqual(c.refused);
    });
  }

  it('planBlocks is planReads without refusals', () => {
    expect(planBlocks(row, opts)).toEqual(planReads(row, opts).blocks);
  });

  it('still lists every tag that cannot be read at all', () => {
    expect(() =>
      planReads([tag('s', 'hr:0', { type: 'string', length: 20 })], { ...opts, maxRegistersPerRead: 10 }, [
        range(0, 1),
      ]),
    ).toThrow(BlockPlanError);
  });
});

describe('splitBlock', () => {
  const block = (tags: ReturnType<typeof tag>[], o = opts) => {
    const blocks = planBlocks(tags, o);
    expect(blocks).toHaveLength(1);
    return blocks[0]!;
  };
  const halves = (b: ReadBlock) => {
    const parts = splitBlock(b);
    return parts?.map((p) => `${p.start}+${p.count}:${p.tags.map((t) => `${t.tag.id}@${t.at}`).join(',')}`) ?? null;
  };

  const cases: Array<{ name: string; tags: ReturnType<typeof tag>[]; halves: string[] | null }> = [
    {
      name: 'splits at the tag boundary nearest the middle',
      tags: [tag('a', 'hr:10'), tag('b', 'hr:11'), tag('c', 'hr:12'), tag('d', 'hr:13')],
      halves: ['10+2:a@0,b@1', '12+2:c@0,d@1'],
    },
    {
      name: 'halves are as short as their tags allow (the gap is in neither)',
      tags: [tag('a', 'hr:0', { type: 'float32' }), tag('b', 'hr:8', { type: 'float32' })],
      halves: ['0+2:a@0', '8+2:b@0'],
    },
    {
      name: 'the middle is measured in registers, not tags',
      tags: [tag('a', 'hr:0'), tag('b', 'hr:1'), tag('c', 'hr:2'), tag('d', 'hr:10', { type: 'float64' })],
      halves: ['0+3:a@0,b@1,c@2', '10+4:d@0'],
    },
    {
      name: 'tags that share registers stay together',
      tags: [
        tag('w', 'hr:0'),
        tag('x', 'hr:4', { type: 'float32' }),
        tag('x3', 'hr:5.3', { type: 'bool' }),
        tag('y', 'hr:6'),
      ],
      halves: ['0+1:w@0', '4+3:x@0,x3@1,y@2'],
    },
    { name: 'one tag cannot be split', tags: [tag('a', 'hr:0', { type: 'float64' })], halves: null },
    {
      name: 'tags all on the same registers cannot be split',
      tags: [tag('r', 'hr:3'), tag('r0', 'hr:3.0', { type: 'bool' }), tag('r5', 'hr:3.5', { type: 'bool' })],
      halves: null,
    },
    {
      name: 'bits split like registers',
      tags: [tag('c0', 'coil:0', { type: 'bool' }), tag('c100', 'coil:100', { type: 'bool' })],
      halves: ['0+1:c0@0', '100+1:c100@0'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(halves(block(c.tags))).toEqual(c.halves);
    });
  }

  it('splitting again and again ends in blocks of one tag cluster, covering every tag once', () => {
    const tags = Array.from({ length: 37 }, (_, i) =>
      tag(`t${i}`, `hr:${i * 3}`, { type: i % 2 ? 'float32' : 'uint16' }),
    );
    const root = planBlocks(tags, opts);
    const leaves: ReadBlock[] = [];
    const walk = (b: ReadBlock, depth: number) => {
      expect(depth).toBeLessThan(10);
      const parts = splitBlock(b);
      if (!parts) leaves.push(b);
      else for (const p of parts) walk(p, depth + 1);
    };
    for (const b of root) walk(b, 0);
    expect(leaves.flatMap((l) => l.tags.map((t) => t.tag.id))).toEqual(tags.map((t) => t.id));
    for (const l of leaves) {
      expect(l.tags).toHaveLength(1);
      expect(l.count).toBe(l.tags[0]!.tag.type === 'float32' ? 2 : 1);
    }
  });

  it('what both halves reading fine teaches: the gap between them, or the boundary where they touch', () => {
    const gapped = splitBlock(block([tag('a', 'hr:0', { type: 'float32' }), tag('b', 'hr:8', { type: 'float32' })]))!;
    expect(refusalBetween(gapped[0], gapped[1], EXC2)).toEqual(range(2, 6));
    const touching = splitBlock(block([tag('a', 'hr:0'), tag('b', 'hr:1')]))!;
    expect(refusalBetween(touching[0], touching[1], EXC2)).toEqual(boundary(1));
    const leaf = block([tag('a', 'hr:7', { type: 'float32' })]);
    expect(refusalOfBlock(leaf, EXC2)).toEqual(range(7, 2));
  });

  it('what is learned makes the refused read impossible in the next plan', () => {
    const tags = [tag('a', 'hr:0'), tag('hole', 'hr:4'), tag('b', 'hr:8')];
    const [left, right] = splitBlock(block(tags))!;
    expect(left.tags.map((t) => t.tag.id)).toEqual(['a']);
    // pretend the right half (hole, b) was refused again and split down to `hole`
    const [holeLeaf, bLeaf] = splitBlock(right)!;
    expect(holeLeaf.tags.map((t) => t.tag.id)).toEqual(['hole']);
    expect(bLeaf.tags.map((t) => t.tag.id)).toEqual(['b']);
    const plan = planReads(tags, opts, [refusalOfBlock(holeLeaf, EXC2)]);
    expect(reads(plan)).toEqual(['0+1:a@0', '8+1:b@0']);
    expect(refusedIds(plan)).toEqual([`hole:${EXC2}`]);
  });

  it('tells refusals apart', () => {
    expect(sameRefusal(range(2, 1), range(2, 1, { reason: 'other' }))).toBe(true);
    expect(sameRefusal(range(2, 1), range(2, 2))).toBe(false);
    expect(sameRefusal(range(2, 0), boundary(2))).toBe(false);
    expect(sameRefusal(range(2, 1), range(2, 1, { unitId: 2 }))).toBe(false);
  });
});
