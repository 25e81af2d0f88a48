import { describe, expect, it } from 'vitest';
import { MqttTag } from '../../config/schema.js';
import { compileJsonPath, lookupJsonPath } from '../../protocols/mqtt/json-path.js';
import { bindTag, coerceJsonValue, decodeMessage, parseTimestamp } from '../../protocols/mqtt/payload.js';

const segments = (path: string) => {
  const c = compileJsonPath(path);
  if (!c.ok) throw new Error(c.error);
  return c.segments;
};

describe('compileJsonPath', () => {
  it('parses keys, indexes and an optional leading $.', () => {
    expect(segments('temperature')).toEqual(['temperature']);
    expect(segments('flow.value')).toEqual(['flow', 'value']);
    expect(segments('readings[0].v')).toEqual(['readings', 0, 'v']);
    expect(segments('$.a.b[2][3].c')).toEqual(['a', 'b', 2, 3, 'c']);
    expect(segments('$a')).toEqual(['a']);
    expect(segments('$[1]')).toEqual([1]);
    expect(segments('.x_y-z')).toEqual(['x_y-z']);
  });

  it('refuses what is not a path', () => {
    for (const bad of ['', '$', 'a..b', 'a.', 'a[x]', 'a[0', 'a b', 'a.[0]', '$..a']) {
      const c = compileJsonPath(bad);
      expect(c.ok, bad).toBe(false);
    }
  });
});

describe('lookupJsonPath', () => {
  const doc = { a: { b: [{ c: 1 }, { c: null }] }, n: 0, arr: [10, 20] };
  it('finds values, including falsy ones', () => {
    expect(lookupJsonPath(doc, segments('a.b[0].c'))).toEqual({ found: true, value: 1 });
    expect(lookupJsonPath(doc, segments('a.b[1].c'))).toEqual({ found: true, value: null });
    expect(lookupJsonPath(doc, segments('n'))).toEqual({ found: true, value: 0 });
    expect(lookupJsonPath([5, 6], segments('$[1]'))).toEqual({ found: true, value: 6 });
  });
  it('says which part is missing', () => {
    expect(lookupJsonPath(doc, segments('a.x.y'))).toEqual({ found: false, missing: 'a.x' });
    expect(lookupJsonPath(doc, segments('arr[5]'))).toEqual({ found: false, missing: 'arr[5]' });
    expect(lookupJsonPath(doc, segments('arr.length'))).toEqual({ found: false, missing: 'arr.length' });
    expect(lookupJsonPath('text', segments('a'))).toEqual({ found: false, missing: 'a' });
    expect(lookupJsonPath({}, segments('toString'))).toEqual({ found: false, missing: 'toString' });
  });
});

describe('MQTT payload decoding', () => {
  const tag = (input: Record<string, unknown>) =>
    MqttTag.parse({ id: 't', topic: 'x', ...input } as Parameters<typeof MqttTag.parse>[0]);
  const payload = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

  it('takes the value at the path and the timestamp from the payload', () => {
    const b = bindTag(tag({ jsonPath: 'flow.value', timestampPath: 'ts' }));
    expect(decodeMessage(payload({ flow: { value: 12.5 }, ts: 1_700_000_000_123 }), [b], 5).samples).toEqual([
      { tagId: 't', ts: 1_700_000_000_123, value: 12.5, quality: 'good' },
    ]);
    expect(decodeMessage(payload({ flow: { value: 1 }, ts: '2024-01-02T03:04:05.006Z' }), [b], 5).samples[0]!.ts).toBe(
      Date.parse('2024-01-02T03:04:05.006Z'),
    );
  });

  it('uses receive time when the timestamp is absent or not a time', () => {
    const b = bindTag(tag({ jsonPath: 'v', timestampPath: 'ts' }));
    expect(decodeMessage(payload({ v: 1 }), [b], 42).samples[0]!.ts).toBe(42);
    const odd = decodeMessage(payload({ v: 1, ts: 'yesterday' }), [b], 42);
    expect(odd.samples[0]!.ts).toBe(42);
    expect(odd.badTimestamps).toEqual(['t']);
  });

  it('reads a plain payload when there is no path', () => {
    expect(decodeMessage(payload('23.5'), [bindTag(tag({}))], 1).samples[0]!.value).toBe(23.5);
    expect(decodeMessage(payload('true'), [bindTag(tag({ type: 'bool' }))], 1).samples[0]!.value).toBe(true);
    expect(decodeMessage(payload('RUNNING'), [bindTag(tag({ type: 'string' }))], 1).samples[0]!.value).toBe('RUNNING');
    expect(decodeMessage(payload('"RUN"'), [bindTag(tag({ type: 'string' }))], 1).samples[0]!.value).toBe('RUN');
  });

  it('bad JSON, a missing path and a wrong type are decode errors', () => {
    const b = bindTag(tag({ jsonPath: 'v' }));
    expect(decodeMessage(payload('{"v": 1'), [b], 1).samples[0]).toMatchObject({
      quality: 'bad',
      value: null,
      reason: 'decode error: payload is not JSON',
    });
    expect(decodeMessage(payload({ w: 1 }), [b], 1).samples[0]!.reason).toBe('decode error: no "v" in payload');
    expect(decodeMessage(payload({ v: 'abc' }), [b], 1).samples[0]!.reason).toBe(
      'decode error: expected a number, got string',
    );
    expect(decodeMessage(payload({ v: [1] }), [b], 1).samples[0]!.reason).toBe(
      'decode error: expected a number, got array',
    );
    expect(decodeMessage(payload('nope'), [bindTag(tag({}))], 1).samples[0]!.reason).toBe(
      'decode error: payload is not a JSON value',
    );
  });

  it('one message serves every tag of its topic', () => {
    const a = bindTag({ ...tag({ jsonPath: 'a' }), id: 'a' });
    const b = bindTag({ ...tag({ jsonPath: 'b', type: 'int16' }), id: 'b' });
    const out = decodeMessage(payload({ a: 1.5, b: 70000 }), [a, b], 9).samples;
    expect(out).toEqual([
      { tagId: 'a', ts: 9, value: 1.5, quality: 'good' },
      { tagId: 'b', ts: 9, value: null, quality: 'bad', reason: 'decode error: 70000 is out of range for int16' },
    ]);
  });

  it('coerces values to the tag type', () => {
    expect(coerceJsonValue('23.5', 'float64')).toEqual({ ok: true, value: 23.5 });
    expect(coerceJsonValue(1, 'bool')).toEqual({ ok: true, value: true });
    expect(coerceJsonValue('false', 'bool')).toEqual({ ok: true, value: false });
    expect(coerceJsonValue(7, 'string')).toEqual({ ok: true, value: '7' });
    expect(coerceJsonValue(1.5, 'int32').ok).toBe(false);
    expect(coerceJsonValue(null, 'float64').ok).toBe(false);
    expect(coerceJsonValue({}, 'string').ok).toBe(false);
  });

  it('parses timestamps', () => {
    expect(parseTimestamp(1000)).toBe(1000);
    expect(parseTimestamp(-5)).toBeNull();
    expect(parseTimestamp('2024-01-01T00:00:00Z')).toBe(Date.UTC(2024, 0, 1));
    expect(parseTimestamp('soon')).toBeNull();
    expect(parseTimestamp(null)).toBeNull();
  });

  it('a timestampPath that is not a path is refused up front', () => {
    expect(() => bindTag(tag({ timestampPath: 'a..b' }))).toThrow(/timestampPath/);
  });
});
