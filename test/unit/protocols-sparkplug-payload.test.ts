/**
 * Sparkplug B payload decoding against bytes encoded by another
 * implementation (protobufjs 7 with the Eclipse Tahu sparkplug_b.proto), our
 * own encoder round-tripped, and malformed input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DataType,
  type Metric,
  decodePayload,
  encodePayload,
  impliedDataType,
  metricValue,
} from '../../protocols/sparkplug/payload.js';
import { ProtobufError, ProtoReader } from '../../protocols/sparkplug/protobuf.js';

const TS = 1_700_000_000_123;

/**
 * An NBIRTH with one metric of every served datatype, plus a null, a DataSet,
 * a metric with properties, a NaN float and a historical metric; encoded by
 * protobufjs 7.6 from sparkplug_b.proto (Int8/16/32 as two's complement uint32,
 * Int64 as two's complement uint64).
 */
const NBIRTH_HEX =
  '08fbd095ffbc3112120a05626453657118fbd095ffbc3120085803121c0a144e6f646520436f6e74726f6c2f526562697274681001200b700012280a164c696e65322f434e43312f5370696e646c6554656d70100218f6d095ffbc3120096500002642120e0a0269381003200150fbffffff0f120f0a036931361004200250d4fdffff0f120f0a03693332100520035090ddfbff0f12140a03693634100620045880ccbbbcdeffffffff01120b0a0275381007200550fa01120d0a037531361008200650e8fb03120f0a03753332100920075080d0acf30e12120a03753634100a200858ffffffffffffff0f12120a0364626c100b200a698dedb5a0f7c680be120c0a04666c6167100c200b700112160a0474657874100d200c7a0a4cc3a475667420e29c9312110a047768656e100e200d58fbd095ffbc31120f0a076e6f7468696e67100f20093801121b0a057461626c65101020108a010d0801120161180322040a020801123d0a097769746850726f70731011200a4a230a075175616c6974790a07656e67556e69741205080318c0011208080c420464656743690000000000000440120e0a036e616e10122009650000c07f12110a0468697374101320092801650000803f1800';
/** a DDATA by alias only (no names, no datatypes), seq 7, from the same encoder */
const DDATA_HEX = '08e3d895ffbc31120e100218e2d895ffbc316500002942120810035080ffffff0f1807';

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const byName = (metrics: Metric[], name: string) => metrics.find((m) => m.name === name)!;
const valueOfMetric = (m: Metric) => metricValue(m, m.datatype ?? impliedDataType(m.value));

describe('Sparkplug B payload decoding', () => {
  it('reads a birth encoded by protobufjs: payload fields, names, aliases, timestamps', () => {
    const p = decodePayload(hex(NBIRTH_HEX));
    expect(p.timestamp).toBe(TS);
    expect(p.seq).toBe(0);
    expect(p.metrics).toHaveLength(20);
    const temp = byName(p.metrics, 'Line2/CNC1/SpindleTemp');
    expect(temp).toMatchObject({ alias: 2, timestamp: TS - 5, datatype: DataType.Float });
    expect(valueOfMetric(temp)).toEqual({ ok: true, value: 41.5 });
    expect(byName(p.metrics, 'bdSeq').value).toEqual({ kind: 'long', value: 3n });
    expect(byName(p.metrics, 'hist').isHistorical).toBe(true);
  });

  it('turns every served datatype into a Sample value', () => {
    const p = decodePayload(hex(NBIRTH_HEX));
    const v = (name: string) => valueOfMetric(byName(p.metrics, name));
    expect(v('i8')).toEqual({ ok: true, value: -5 });
    expect(v('i16')).toEqual({ ok: true, value: -300 });
    expect(v('i32')).toEqual({ ok: true, value: -70000 });
    expect(v('i64')).toEqual({ ok: true, value: -9_000_000_000 });
    expect(v('u8')).toEqual({ ok: true, value: 250 });
    expect(v('u16')).toEqual({ ok: true, value: 65000 });
    expect(v('u32')).toEqual({ ok: true, value: 4_000_000_000 });
    expect(v('u64')).toEqual({ ok: true, value: Number.MAX_SAFE_INTEGER });
    expect(v('dbl')).toEqual({ ok: true, value: -1.25e-7 });
    expect(v('flag')).toEqual({ ok: true, value: true });
    expect(v('text')).toEqual({ ok: true, value: 'Läuft ✓' });
    expect(v('when')).toEqual({ ok: true, value: TS });
    expect(v('withProps')).toEqual({ ok: true, value: 2.5 });
    expect(byName(p.metrics, 'withProps').properties).toEqual({ Quality: 192, engUnit: 'degC' });
  });

  it('a null metric, NaN, and datatypes it does not serve are not values', () => {
    const p = decodePayload(hex(NBIRTH_HEX));
    expect(valueOfMetric(byName(p.metrics, 'nothing'))).toEqual({ ok: false, reason: 'null value' });
    expect(valueOfMetric(byName(p.metrics, 'nan'))).toEqual({ ok: false, reason: 'decode error: NaN' });
    expect(valueOfMetric(byName(p.metrics, 'table'))).toEqual({
      ok: false,
      reason: 'decode error: unsupported datatype (DataSet)',
    });
    for (const datatype of [DataType.Bytes, DataType.Template, DataType.Int32Array, 99]) {
      const r = metricValue({ datatype, value: { kind: 'bytes', value: new Uint8Array(2) } }, datatype);
      expect(r.ok).toBe(false);
      expect((r as { reason: string }).reason).toMatch(/^decode error: unsupported datatype \(/);
    }
    expect(
      metricValue({ datatype: DataType.Double, value: { kind: 'double', value: -1 / 0 } }, DataType.Double),
    ).toEqual({ ok: false, reason: 'decode error: -Infinity' });
    expect(
      metricValue({ datatype: DataType.Boolean, value: { kind: 'string', value: 'x' } }, DataType.Boolean),
    ).toEqual({
      ok: false,
      reason: 'decode error: Boolean metric carries a string value',
    });
    expect(metricValue({ datatype: DataType.Int32 }, DataType.Int32)).toEqual({
      ok: false,
      reason: 'decode error: metric has no value',
    });
  });

  it('reads a data message by alias', () => {
    const p = decodePayload(hex(DDATA_HEX));
    expect(p).toMatchObject({ timestamp: TS + 1000, seq: 7 });
    expect(p.metrics).toEqual([
      { alias: 2, timestamp: TS + 999, value: { kind: 'float', value: 42.25 } },
      { alias: 3, value: { kind: 'int', value: 4294967168 } },
    ]);
    // the datatype comes from the birth: Int8 here
    expect(metricValue(p.metrics[1]!, DataType.Int8)).toEqual({ ok: true, value: -128 });
  });

  it('round-trips what it encodes', () => {
    const bytes = encodePayload({
      timestamp: TS,
      seq: 255,
      uuid: 'u-1',
      metrics: [
        { name: 'Node Control/Rebirth', timestamp: TS, datatype: DataType.Boolean, value: true },
        { name: 'i8', alias: 3, datatype: DataType.Int8, value: -5 },
        { name: 'i64', datatype: DataType.Int64, value: -9_000_000_000n },
        { name: 'u64', datatype: DataType.UInt64, value: 18446744073709551615n },
        { name: 'f', datatype: DataType.Float, value: 1.5 },
        { name: 'd', datatype: DataType.Double, value: -2.75 },
        { name: 's', datatype: DataType.String, value: 'x✓' },
        { name: 'n', datatype: DataType.Double, isNull: true },
        {
          name: 'p',
          datatype: DataType.Int32,
          value: -1,
          properties: { unit: { type: DataType.String, value: 'kW' } },
        },
      ],
    });
    const p = decodePayload(bytes);
    expect(p).toMatchObject({ timestamp: TS, seq: 255, uuid: 'u-1' });
    const values = p.metrics.map((m) => [m.name, valueOfMetric(m)]);
    expect(values).toEqual([
      ['Node Control/Rebirth', { ok: true, value: true }],
      ['i8', { ok: true, value: -5 }],
      ['i64', { ok: true, value: -9_000_000_000 }],
      ['u64', { ok: true, value: 2 ** 64 }],
      ['f', { ok: true, value: 1.5 }],
      ['d', { ok: true, value: -2.75 }],
      ['s', { ok: true, value: 'x✓' }],
      ['n', { ok: false, reason: 'null value' }],
      ['p', { ok: true, value: -1 }],
    ]);
    expect(p.metrics[8]!.properties).toEqual({ unit: 'kW' });
  });

  it('a truncated payload throws a ProtobufError, wherever it is cut', () => {
    const full = hex(NBIRTH_HEX);
    let thrown = 0;
    for (let n = 1; n < full.length; n++) {
      try {
        decodePayload(full.subarray(0, n));
      } catch (err) {
        expect(err).toBeInstanceOf(ProtobufError);
        thrown++;
      }
    }
    // a cut exactly between two top-level fields is a valid, shorter payload; every other cut is caught
    expect(thrown).toBeGreaterThan(full.length - 30);
    expect(() => decodePayload(full.subarray(0, 40))).toThrow(/truncated/);
  });

  it('text, JSON and random bytes are refused with a ProtobufError, never anything else', () => {
    expect(() => decodePayload(Buffer.from('{"temp": 21.5}'))).toThrow(ProtobufError);
    expect(() => decodePayload(Buffer.from('hello world'))).toThrow(ProtobufError);
    expect(() => decodePayload(Uint8Array.of(0x12, 0x05, 0x0a))).toThrow(/truncated/);
    expect(() =>
      decodePayload(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
    ).toThrow(/varint/);
    // metrics (field 2) sent as a varint: wrong wire type
    expect(() => decodePayload(Uint8Array.of(0x10, 0x01))).toThrow(/Payload.metrics: wire type 0/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodePayload(bytes);
        } catch (err) {
          if (!(err instanceof ProtobufError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('an empty payload is a payload without metrics', () => {
    expect(decodePayload(new Uint8Array(0))).toEqual({ metrics: [] });
  });

  it('reads 64-bit varints exactly', () => {
    const r = new ProtoReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
    expect(r.uint64()).toBe(18446744073709551615n);
    const small = new ProtoReader(Uint8Array.of(0xac, 0x02));
    expect(small.uint64Number()).toBe(300);
  });
});
