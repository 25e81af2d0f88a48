/**
 * From an MQTT message to Samples, for the JSON format. Pure.
 *
 * - A tag with `jsonPath` takes the value at that path of the JSON payload.
 * - A tag without one takes the whole payload: a JSON scalar (`23.5`,
 *   `true`, `"ok"`), or the raw text when it is not JSON (`ON`, `RUNNING`).
 * - The timestamp comes from `timestampPath` (ms since epoch, or an ISO 8601
 *   string); when the path is omitted, absent or not a time, receive time.
 * - Values are checked against the tag's type:
 *   - numeric types: JSON numbers, or decimal text (`"23.5"`, `" 1e3 "`);
 *     integer types must be integers within range. `NaN`, `Infinity`
 *     (as text, or a JSON number too large for a double) are
 *     `decode error: NaN` / `Infinity` / `-Infinity`.
 *   - `bool`: JSON `true` / `false`, the numbers `1` / `0`, and the words
 *     `true` / `false`, `on` / `off`, `yes` / `no`, `1` / `0` in any case,
 *     as a JSON string or as the raw payload.
 *   - `string`: any scalar (numbers and booleans as their JSON text); with
 *     no `jsonPath`, a JSON object or array payload is kept as its text.
 *   A mismatch is `bad` with `decode error: …`; so is an empty payload.
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

const TRUE_WORDS = new Set(['true', 'on', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'off', 'no', '0']);
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

const nonFiniteReason = (n: number): string =>
  `decode error: ${Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity'}`;

export function coerceJsonValue(raw: unknown, type: DataType): Coerced {
  if (type === 'string') {
    if (typeof raw === 'string') return { ok: true, value: raw };
    if (typeof raw === 'number' || typeof raw === 'boolean') return { ok: true, value: String(raw) };
    return { ok: false, reason: `decode error: expected a string, got ${kindOf(raw)}` };
  }
  if (type === 'bool') {
    if (typeof raw === 'boolean') return { ok: true, value: raw };
    if (raw === 0 || raw === 1) return { ok: true, value: raw === 1 };
    if (typeof raw === 'string') {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return { ok: true, value: true };
      if (FALSE_WORDS.has(word)) return { ok: true, value: false };
    }
    return { ok: false, reason: `decode error: expected a boolean, got ${kindOf(raw)}` };
  }
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && DECIMAL.test(raw.trim())) n = Number(raw);
  else if (typeof raw === 'string' && NON_FINITE.test(raw.trim())) {
    const t = raw.trim().toLowerCase();
    return { ok: false, reason: nonFiniteReason(t.endsWith('nan') ? Number.NaN : t.startsWith('-') ? -1 / 0 : 1 / 0) };
  } else return { ok: false, reason: `decode error: expected a number, got ${kindOf(raw)}` };
  if (!Number.isFinite(n)) return { ok: false, reason: nonFiniteReason(n) };
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
    if (payload.byteLength === 0) {
      samples.push({ tagId, ts, value: null, quality: 'bad', reason: 'decode error: empty payload' });
      continue;
    }
    if (b.valuePath === null) {
      if (doc.ok) {
        // a string tag keeps a whole JSON document as its text
        const structured = doc.value !== null && typeof doc.value === 'object';
        raw = structured && b.tag.type === 'string' ? text : doc.value;
      } else {
        // not JSON: the raw text, when the tag's type can read it (`ON`, `RUNNING`, `NaN`)
        const value = coerceJsonValue(text, b.tag.type);
        const readable = value.ok || b.tag.type === 'bool' || NON_FINITE.test(text.trim());
        samples.push(
          value.ok
            ? { tagId, ts, value: value.value, quality: 'good' }
            : {
                tagId,
                ts,
                value: null,
                quality: 'bad',
                reason: readable ? value.reason : 'decode error: payload is not a JSON value',
              },
        );
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
