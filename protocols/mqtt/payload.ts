/**
 * From an MQTT message to Samples, for the JSON format. Pure.
 *
 * - A tag with `jsonPath` takes the value at that path of the JSON payload.
 * - A tag without one takes the whole payload: a JSON scalar (`23.5`,
 *   `true`, `"ok"`), or for a `string` tag the raw text when it is not JSON.
 * - The timestamp comes from `timestampPath` (ms since epoch, or an ISO 8601
 *   string); when the path is omitted, absent or not a time, receive time.
 * - Values are checked against the tag's type: numbers for numeric types
 *   (numeric strings such as "23.5" are accepted), integers within range for
 *   integer types; booleans (or 0/1, "true"/"false") for `bool`; anything
 *   scalar for `string`. A mismatch is `bad` with `decode error: …`.
 */
import type { DataType, MqttTag } from '../../config/schema.js';
import type { Sample, SampleValue } from '../types.js';
import { type PathSegment, compileJsonPath, lookupJsonPath } from './json-path.js';

export interface TopicBinding {
  readonly tag: MqttTag;
  /** null: the whole payload */
  readonly valuePath: readonly PathSegment[] | null;
  readonly timestampPath: readonly PathSegment[] | null;
}

/** Compiles a tag's paths; throws with a message naming the tag when one is not a path. */
export function bindTag(tag: MqttTag): TopicBinding {
  const compile = (path: string | undefined, field: string): readonly PathSegment[] | null => {
    if (path === undefined) return null;
    const compiled = compileJsonPath(path);
    if (!compiled.ok) throw new Error(`tag "${tag.id}" ${field}: ${compiled.error}`);
    return compiled.segments;
  };
  return {
    tag,
    valuePath: compile(tag.jsonPath, 'jsonPath'),
    timestampPath: compile(tag.timestampPath, 'timestampPath'),
  };
}

export interface DecodedMessage {
  readonly samples: Sample[];
  /** tags whose payload carried a timestamp that is not a time (receive time was used) */
  readonly badTimestamps: string[];
}

type Coerced = { ok: true; value: SampleValue } | { ok: false; reason: string };

const INTEGER_RANGES: Partial<Record<DataType, [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

export function coerceJsonValue(raw: unknown, type: DataType): Coerced {
  if (type === 'string') {
    if (typeof raw === 'string') return { ok: true, value: raw };
    if (typeof raw === 'number' || typeof raw === 'boolean') return { ok: true, value: String(raw) };
    return { ok: false, reason: `decode error: expected a string, got ${kindOf(raw)}` };
  }
  if (type === 'bool') {
    if (typeof raw === 'boolean') return { ok: true, value: raw };
    if (raw === 0 || raw === 1) return { ok: true, value: raw === 1 };
    if (raw === 'true' || raw === 'false') return { ok: true, value: raw === 'true' };
    return { ok: false, reason: `decode error: expected a boolean, got ${kindOf(raw)}` };
  }
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) n = Number(raw);
  else return { ok: false, reason: `decode error: expected a number, got ${kindOf(raw)}` };
  if (!Number.isFinite(n)) return { ok: false, reason: 'decode error: not a finite number' };
  const range = INTEGER_RANGES[type];
  if (range) {
    if (!Number.isInteger(n)) return { ok: false, reason: `decode error: ${n} is not an integer (${type})` };
    if (n < range[0] || n > range[1]) return { ok: false, reason: `decode error: ${n} is out of range for ${type}` };
  }
  return { ok: true, value: n };
}

/** ms since epoch from a payload timestamp, or null when it is not one. */
export function parseTimestamp(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isFinite(raw) && raw > 0 ? raw : null;
  if (typeof raw === 'string' && raw.trim() !== '') {
    const t = Date.parse(raw);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

export function decodeMessage(
  payload: Uint8Array,
  bindings: readonly TopicBinding[],
  receivedAt: number,
): DecodedMessage {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  let parsed: { ok: true; value: unknown } | { ok: false; error: string } | undefined;
  const json = () => {
    if (parsed === undefined) {
      try {
        parsed = { ok: true, value: JSON.parse(text) as unknown };
      } catch (err) {
        parsed = { ok: false, error: (err as Error).message };
      }
    }
    return parsed;
  };

  const samples: Sample[] = [];
  const badTimestamps: string[] = [];
  for (const b of bindings) {
    const tagId = b.tag.id;
    const doc = json();

    let ts = receivedAt;
    if (b.timestampPath && doc.ok) {
      const found = lookupJsonPath(doc.value, b.timestampPath);
      if (found.found) {
        const t = parseTimestamp(found.value);
        if (t === null) badTimestamps.push(tagId);
        else ts = t;
      }
    }

    let raw: unknown;
    if (b.valuePath === null) {
      if (doc.ok) raw = doc.value;
      else if (b.tag.type === 'string') raw = text;
      else {
        samples.push({ tagId, ts, value: null, quality: 'bad', reason: 'decode error: payload is not a JSON value' });
        continue;
      }
    } else {
      if (!doc.ok) {
        samples.push({ tagId, ts, value: null, quality: 'bad', reason: 'decode error: payload is not JSON' });
        continue;
      }
      const found = lookupJsonPath(doc.value, b.valuePath);
      if (!found.found) {
        samples.push({
          tagId,
          ts,
          value: null,
          quality: 'bad',
          reason: `decode error: no "${found.missing}" in payload`,
        });
        continue;
      }
      raw = found.value;
    }

    const value = coerceJsonValue(raw, b.tag.type);
    samples.push(
      value.ok
        ? { tagId, ts, value: value.value, quality: 'good' }
        : { tagId, ts, value: null, quality: 'bad', reason: value.reason },
    );
  }
  return { samples, badTimestamps };
}
