/**
 * Sparkplug B payloads (the `org.eclipse.tahu.protobuf.Payload` message of
 * sparkplug_b.proto, v3.0) to and from bytes. Pure.
 *
 * Decoding keeps what a host needs: payload timestamp and seq; per metric
 * name, alias, timestamp, datatype, the is_null / is_historical /
 * is_transient flags, the scalar properties (for the `Quality` property),
 * and the value. DataSet, Template, extension and metadata bodies are
 * skipped (their datatypes are not served); their presence is still noted,
 * so the metric reports `unsupported datatype` rather than `no value`.
 *
 * 64-bit integers (`long_value`) stay BigInt here; `metricValue()` turns a
 * metric into a Sample value according to its datatype.
 */
import type { SampleValue } from '../types.js';
import { ProtoReader, ProtoWriter, WireType } from './protobuf.js';

/** Sparkplug B datatype codes (spec v3.0, section 6.4.16). */
export const DataType = {
  Unknown: 0,
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
  UUID: 15,
  DataSet: 16,
  Bytes: 17,
  File: 18,
  Template: 19,
  PropertySet: 20,
  PropertySetList: 21,
  Int8Array: 22,
  Int16Array: 23,
  Int32Array: 24,
  Int64Array: 25,
  UInt8Array: 26,
  UInt16Array: 27,
  UInt32Array: 28,
  UInt64Array: 29,
  FloatArray: 30,
  DoubleArray: 31,
  BooleanArray: 32,
  StringArray: 33,
  DateTimeArray: 34,
} as const;
export type DataTypeName = keyof typeof DataType;

const NAMES = new Map<number, string>(Object.entries(DataType).map(([k, v]) => [v, k]));
export const dataTypeName = (code: number): string => NAMES.get(code) ?? `datatype ${code}`;

/** The value carried in a metric's `oneof value`, by field. */
export type MetricWireValue =
  | { kind: 'int'; value: number } // int_value (uint32 on the wire)
  | { kind: 'long'; value: bigint } // long_value (uint64 on the wire)
  | { kind: 'float'; value: number }
  | { kind: 'double'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'string'; value: string }
  | { kind: 'bytes'; value: Uint8Array }
  | { kind: 'dataset' | 'template' | 'extension' };

export type PropertyScalar = number | bigint | boolean | string | null;

export interface Metric {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype?: number;
  isHistorical?: boolean;
  isTransient?: boolean;
  isNull?: boolean;
  /** scalar properties by key; nested property sets are left out */
  properties?: Record<string, PropertyScalar>;
  value?: MetricWireValue;
}

export interface Payload {
  timestamp?: number;
  seq?: number;
  uuid?: string;
  metrics: Metric[];
  body?: Uint8Array;
}

/** Decodes a Sparkplug B payload; throws a ProtobufError when the bytes are not one. */
export function decodePayload(bytes: Uint8Array): Payload {
  const r = new ProtoReader(bytes);
  const payload: Payload = { metrics: [] };
  while (!r.done) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        r.expect(wire, WireType.varint, 'Payload.timestamp');
        payload.timestamp = r.uint64Number();
        break;
      case 2:
        r.expect(wire, WireType.bytes, 'Payload.metrics');
        payload.metrics.push(decodeMetric(r.message()));
        break;
      case 3:
        r.expect(wire, WireType.varint, 'Payload.seq');
        payload.seq = r.uint64Number();
        break;
      case 4:
        r.expect(wire, WireType.bytes, 'Payload.uuid');
        payload.uuid = r.string();
        break;
      case 5:
        r.expect(wire, WireType.bytes, 'Payload.body');
        payload.body = r.bytes();
        break;
      default:
        r.skip(wire);
    }
  }
  return payload;
}

function decodeMetric(r: ProtoReader): Metric {
  const m: Metric = {};
  while (!r.done) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        r.expect(wire, WireType.bytes, 'Metric.name');
        m.name = r.string();
        break;
      case 2:
        r.expect(wire, WireType.varint, 'Metric.alias');
        m.alias = r.uint64Number();
        break;
      case 3:
        r.expect(wire, WireType.varint, 'Metric.timestamp');
        m.timestamp = r.uint64Number();
        break;
      case 4:
        r.expect(wire, WireType.varint, 'Metric.datatype');
        m.datatype = r.uint32();
        break;
      case 5:
        r.expect(wire, WireType.varint, 'Metric.is_historical');
        m.isHistorical = r.bool();
        break;
      case 6:
        r.expect(wire, WireType.varint, 'Metric.is_transient');
        m.isTransient = r.bool();
        break;
      case 7:
        r.expect(wire, WireType.varint, 'Metric.is_null');
        m.isNull = r.bool();
        break;
      case 9:
        r.expect(wire, WireType.bytes, 'Metric.properties');
        m.properties = decodePropertySet(r.message());
        break;
      case 10:
        r.expect(wire, WireType.varint, 'Metric.int_value');
        m.value = { kind: 'int', value: r.uint32() };
        break;
      case 11:
        r.expect(wire, WireType.varint, 'Metric.long_value');
        m.value = { kind: 'long', value: r.uint64() };
        break;
      case 12:
        r.expect(wire, WireType.fixed32, 'Metric.float_value');
        m.value = { kind: 'float', value: r.float() };
        break;
      case 13:
        r.expect(wire, WireType.fixed64, 'Metric.double_value');
        m.value = { kind: 'double', value: r.double() };
        break;
      case 14:
        r.expect(wire, WireType.varint, 'Metric.boolean_value');
        m.value = { kind: 'boolean', value: r.bool() };
        break;
      case 15:
        r.expect(wire, WireType.bytes, 'Metric.string_value');
        m.value = { kind: 'string', value: r.string() };
        break;
      case 16:
        r.expect(wire, WireType.bytes, 'Metric.bytes_value');
        m.value = { kind: 'bytes', value: r.bytes() };
        break;
      case 17:
      case 18:
      case 19:
        r.expect(wire, WireType.bytes, 'Metric value');
        r.skip(wire);
        m.value = { kind: field === 17 ? 'dataset' : field === 18 ? 'template' : 'extension' };
        break;
      default:
        // 8 (metadata) and anything newer
        r.skip(wire);
    }
  }
  return m;
}

function decodePropertySet(r: ProtoReader): Record<string, PropertyScalar> {
  const keys: string[] = [];
  const values: PropertyScalar[] = [];
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1) {
      r.expect(wire, WireType.bytes, 'PropertySet.keys');
      keys.push(r.string());
    } else if (field === 2) {
      r.expect(wire, WireType.bytes, 'PropertySet.values');
      values.push(decodePropertyValue(r.message()));
    } else r.skip(wire);
  }
  const out: Record<string, PropertyScalar> = {};
  keys.forEach((k, i) => {
    if (i < values.length) out[k] = values[i]!;
  });
  return out;
}

function decodePropertyValue(r: ProtoReader): PropertyScalar {
  let type = 0;
  let value: PropertyScalar = null;
  let isNull = false;
  while (!r.done) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        r.expect(wire, WireType.varint, 'PropertyValue.type');
        type = r.uint32();
        break;
      case 2:
        r.expect(wire, WireType.varint, 'PropertyValue.is_null');
        isNull = r.bool();
        break;
      case 3:
        r.expect(wire, WireType.varint, 'PropertyValue.int_value');
        value = r.uint32();
        break;
      case 4:
        r.expect(wire, WireType.varint, 'PropertyValue.long_value');
        value = r.uint64();
        break;
      case 5:
        r.expect(wire, WireType.fixed32, 'PropertyValue.float_value');
        value = r.float();
        break;
      case 6:
        r.expect(wire, WireType.fixed64, 'PropertyValue.double_value');
        value = r.double();
        break;
      case 7:
        r.expect(wire, WireType.varint, 'PropertyValue.boolean_value');
        value = r.bool();
        break;
      case 8:
        r.expect(wire, WireType.bytes, 'PropertyValue.string_value');
        value = r.string();
        break;
      default:
        r.skip(wire);
    }
  }
  if (isNull) return null;
  // the same sign rules as metric values
  if (typeof value === 'number' && type >= DataType.Int8 && type <= DataType.Int32) return signedInt(value, type);
  if (typeof value === 'bigint') return type === DataType.Int64 ? BigInt.asIntN(64, value) : value;
  return value;
}

/** int_value carries Int8 / Int16 / Int32 as two's complement in a uint32 */
function signedInt(raw: number, datatype: number): number {
  if (datatype === DataType.Int8) return (raw << 24) >> 24;
  if (datatype === DataType.Int16) return (raw << 16) >> 16;
  return raw | 0;
}

export type MetricValueResult = { ok: true; value: SampleValue } | { ok: false; reason: string };

const nonFinite = (v: number): MetricValueResult => ({
  ok: false,
  reason: `decode error: ${Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity'}`,
});

const INT_TYPES = new Set<number>([
  DataType.Int8,
  DataType.Int16,
  DataType.Int32,
  DataType.UInt8,
  DataType.UInt16,
  DataType.UInt32,
]);

/**
 * The datatype a value field implies, for a metric that arrives without one
 * and has no birth to take it from.
 */
export function impliedDataType(value: MetricWireValue | undefined): number {
  switch (value?.kind) {
    case 'int':
      return DataType.UInt32;
    case 'long':
      return DataType.UInt64;
    case 'float':
      return DataType.Float;
    case 'double':
      return DataType.Double;
    case 'boolean':
      return DataType.Boolean;
    case 'string':
      return DataType.String;
    case 'bytes':
      return DataType.Bytes;
    case 'dataset':
      return DataType.DataSet;
    case 'template':
      return DataType.Template;
    default:
      return DataType.Unknown;
  }
}

/**
 * A metric's value as a Sample value: integers and floats as numbers (64-bit
 * integers exact up to 2^53), Boolean as boolean, String / Text / UUID as
 * strings, DateTime as ms since epoch. NaN and infinite floats, a missing
 * value and any other datatype are decode errors.
 */
export function metricValue(metric: Metric, datatype: number): MetricValueResult {
  const v = metric.value;
  if (metric.isNull) return { ok: false, reason: 'null value' };
  if (v === undefined) return { ok: false, reason: 'decode error: metric has no value' };
  const mismatch = (): MetricValueResult => ({
    ok: false,
    reason: `decode error: ${dataTypeName(datatype)} metric carries a ${v.kind} value`,
  });
  if (INT_TYPES.has(datatype)) {
    // some encoders put small integers in long_value: accept either field
    if (v.kind === 'int') {
      return { ok: true, value: datatype <= DataType.Int32 ? signedInt(v.value, datatype) : v.value };
    }
    if (v.kind === 'long') {
      const low = Number(BigInt.asUintN(32, v.value));
      return { ok: true, value: datatype <= DataType.Int32 ? signedInt(low, datatype) : low };
    }
    return mismatch();
  }
  switch (datatype) {
    case DataType.Int64:
    case DataType.UInt64:
    case DataType.DateTime: {
      if (v.kind === 'int') return { ok: true, value: v.value };
      if (v.kind !== 'long') return mismatch();
      const n = datatype === DataType.Int64 ? BigInt.asIntN(64, v.value) : v.value;
      return { ok: true, value: Number(n) };
    }
    case DataType.Float:
    case DataType.Double: {
      if (v.kind !== 'float' && v.kind !== 'double') return mismatch();
      return Number.isFinite(v.value) ? { ok: true, value: v.value } : nonFinite(v.value);
    }
    case DataType.Boolean:
      return v.kind === 'boolean' ? { ok: true, value: v.value } : mismatch();
    case DataType.String:
    case DataType.Text:
    case DataType.UUID:
      return v.kind === 'string' ? { ok: true, value: v.value } : mismatch();
    default:
      return { ok: false, reason: `decode error: unsupported datatype (${dataTypeName(datatype)})` };
  }
}

// ---------- encoding (for commands the host sends, simulators and tests) ----------

export interface MetricInput {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype: number;
  isNull?: boolean;
  isHistorical?: boolean;
  isTransient?: boolean;
  /** written to the field the datatype uses; omitted (or null) for a null metric */
  value?: number | bigint | boolean | string | Uint8Array | null;
  properties?: Record<string, { type: number; value: number | bigint | boolean | string }>;
}

export interface PayloadInput {
  timestamp?: number;
  seq?: number;
  uuid?: string;
  metrics: readonly MetricInput[];
}

/** Encodes a payload the way the Sparkplug reference implementations do. */
export function encodePayload(p: PayloadInput): Uint8Array {
  const w = new ProtoWriter();
  if (p.timestamp !== undefined) w.varint(1, p.timestamp);
  for (const m of p.metrics) w.message(2, (mw) => encodeMetric(mw, m));
  if (p.seq !== undefined) w.varint(3, p.seq);
  if (p.uuid !== undefined) w.string(4, p.uuid);
  return w.finish();
}

function encodeMetric(w: ProtoWriter, m: MetricInput): void {
  if (m.name !== undefined) w.string(1, m.name);
  if (m.alias !== undefined) w.varint(2, m.alias);
  if (m.timestamp !== undefined) w.varint(3, m.timestamp);
  w.uint32(4, m.datatype);
  if (m.isHistorical) w.varint(5, true);
  if (m.isTransient) w.varint(6, true);
  if (m.isNull) w.varint(7, true);
  if (m.properties) {
    const props = m.properties;
    w.message(9, (pw) => {
      for (const k of Object.keys(props)) pw.string(1, k);
      for (const k of Object.keys(props)) {
        const pv = props[k]!;
        pw.message(2, (vw) => {
          vw.uint32(1, pv.type);
          writeValue(vw, pv.type, pv.value, { int: 3, long: 4, float: 5, double: 6, boolean: 7, string: 8 });
        });
      }
    });
  }
  if (!m.isNull && m.value !== undefined && m.value !== null) {
    writeValue(w, m.datatype, m.value, {
      int: 10,
      long: 11,
      float: 12,
      double: 13,
      boolean: 14,
      string: 15,
      bytes: 16,
    });
  }
}

interface ValueFields {
  int: number;
  long: number;
  float: number;
  double: number;
  boolean: number;
  string: number;
  bytes?: number;
}

function writeValue(
  w: ProtoWriter,
  datatype: number,
  value: number | bigint | boolean | string | Uint8Array,
  f: ValueFields,
): void {
  if (value instanceof Uint8Array) {
    if (f.bytes === undefined) throw new Error('bytes are not a property value');
    w.bytes(f.bytes, value);
    return;
  }
  if (INT_TYPES.has(datatype)) w.uint32(f.int, Number(value));
  else if (datatype === DataType.Int64 || datatype === DataType.UInt64 || datatype === DataType.DateTime)
    w.varint(f.long, typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value))));
  else if (datatype === DataType.Float) w.float(f.float, Number(value));
  else if (datatype === DataType.Double) w.double(f.double, Number(value));
  else if (datatype === DataType.Boolean) w.varint(f.boolean, Boolean(value));
  else if (typeof value === 'string') w.string(f.string, value);
  else throw new Error(`cannot encode a ${typeof value} as ${dataTypeName(datatype)}`);
}
