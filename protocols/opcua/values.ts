/**
 * OPC UA DataValue → Sample. Pure.
 *
 * Quality follows the status code's severity (its top two bits): good,
 * uncertain (value kept, reason = the code's name) or bad (value null,
 * reason = the code's name, e.g. `BadNodeIdUnknown`).
 *
 * Values: Boolean; the integer and float types as numbers (NaN and ±Infinity
 * are decode errors, as for Modbus); Int64/UInt64 as numbers (exact up to
 * 2^53); String and LocalizedText as strings; DateTime as ms since epoch.
 * Anything else (arrays, structures, ByteStrings, GUIDs, node ids) is
 * `bad` / `decode error: unsupported type …`.
 *
 * Timestamp: the source timestamp, else the server timestamp, else now.
 */
import type { DataValue } from 'node-opcua';
import type { Quality, Sample, SampleValue } from '../types.js';

/**
 * Publishing intervals a subscription may stay silent before the server sends
 * a keep-alive. A monitored item reports only changes, so the driver re-sends
 * unchanged values on each publish; this bounds how long a healthy tag goes
 * without a sample.
 */
export const OPCUA_MAX_KEEPALIVE_COUNT = 10;

/**
 * Built-in data type ids (OPC UA Part 6, 5.1.2) and variant array kinds:
 * fixed by the specification, declared here so that this module does not
 * load node-opcua at run time.
 */
export const DataType = {
  Null: 0,
  Boolean: 1,
  SByte: 2,
  Byte: 3,
  Int16: 4,
  UInt16: 5,
  Int32: 6,
  UInt32: 7,
  Int64: 8,
  UInt64: 9,
  Float: 10,
  Double: 11,
  String: 12,
  DateTime: 13,
  Guid: 14,
  ByteString: 15,
  XmlElement: 16,
  NodeId: 17,
  ExpandedNodeId: 18,
  StatusCode: 19,
  QualifiedName: 20,
  LocalizedText: 21,
  ExtensionObject: 22,
  DataValue: 23,
  Variant: 24,
  DiagnosticInfo: 25,
} as const;
const DATA_TYPE_NAMES = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k])) as Record<number, string>;

export const VariantArrayType = { Scalar: 0, Array: 1, Matrix: 2 } as const;
const ARRAY_TYPE_NAMES: Record<number, string> = { 1: 'Array', 2: 'Matrix' };

export type Converted = { ok: true; value: SampleValue } | { ok: false; reason: string };

const TWO_32 = 2 ** 32;

function int64ToNumber(v: unknown, signed: boolean): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [hi, lo] = v as [unknown, unknown];
  if (typeof hi !== 'number' || typeof lo !== 'number') return null;
  const high = signed && hi >= 0x80000000 ? hi - TWO_32 : hi;
  return high * TWO_32 + lo;
}

export function severityOf(statusValue: number): Quality {
  const severity = (statusValue >>> 30) & 0b11;
  return severity === 0 ? 'good' : severity === 1 ? 'uncertain' : 'bad';
}

export function convertVariant(dataType: number, arrayType: number, value: unknown): Converted {
  if (arrayType !== VariantArrayType.Scalar) {
    return {
      ok: false,
      reason: `decode error: unsupported type (${ARRAY_TYPE_NAMES[arrayType] ?? 'array'} of ${DATA_TYPE_NAMES[dataType] ?? dataType})`,
    };
  }
  switch (dataType) {
    case DataType.Null:
      return { ok: false, reason: 'decode error: empty value' };
    case DataType.Boolean:
      return typeof value === 'boolean' ? { ok: true, value } : { ok: false, reason: 'decode error: not a boolean' };
    case DataType.SByte:
    case DataType.Byte:
    case DataType.Int16:
    case DataType.UInt16:
    case DataType.Int32:
    case DataType.UInt32:
    case DataType.Float:
    case DataType.Double: {
      if (typeof value !== 'number') return { ok: false, reason: 'decode error: not a number' };
      if (Number.isNaN(value)) return { ok: false, reason: 'decode error: NaN' };
      if (!Number.isFinite(value))
        return { ok: false, reason: `decode error: ${value > 0 ? 'Infinity' : '-Infinity'}` };
      return { ok: true, value };
    }
    case DataType.Int64:
    case DataType.UInt64: {
      const n = int64ToNumber(value, dataType === DataType.Int64);
      return n === null ? { ok: false, reason: 'decode error: malformed 64-bit integer' } : { ok: true, value: n };
    }
    case DataType.String:
      return typeof value === 'string' || value === null
        ? { ok: true, value: value ?? '' }
        : { ok: false, reason: 'decode error: not a string' };
    case DataType.LocalizedText: {
      const text = (value as { text?: unknown } | null)?.text;
      return { ok: true, value: typeof text === 'string' ? text : '' };
    }
    case DataType.DateTime:
      return value instanceof Date && Number.isFinite(value.getTime())
        ? { ok: true, value: value.getTime() }
        : { ok: false, reason: 'decode error: not a date' };
    default:
      return { ok: false, reason: `decode error: unsupported type (${DATA_TYPE_NAMES[dataType] ?? dataType})` };
  }
}

const validTime = (d: Date | null | undefined): number | null => {
  if (!d) return null;
  const t = d.getTime();
  // OPC UA encodes "no timestamp" as the minimum date (1601); treat anything before 1970 as absent.
  return Number.isFinite(t) && t > 0 ? t : null;
};

export function dataValueToSample(tagId: string, dv: DataValue, now: number): Sample {
  const ts = validTime(dv.sourceTimestamp) ?? validTime(dv.serverTimestamp) ?? now;
  const status = dv.statusCode;
  const quality = severityOf(status.value);
  if (quality === 'bad') return { tagId, ts, value: null, quality, reason: status.name };
  const converted = convertVariant(Number(dv.value.dataType), Number(dv.value.arrayType), dv.value.value);
  if (!converted.ok) return { tagId, ts, value: null, quality: 'bad', reason: converted.reason };
  return quality === 'good'
    ? { tagId, ts, value: converted.value, quality }
    : { tagId, ts, value: converted.value, quality, reason: status.name };
}
