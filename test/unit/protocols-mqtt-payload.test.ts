/** JSON-format decoding rules beyond the basics: raw payloads, boolean words, NaN / Infinity, empty payloads. */
import { describe, expect, it } from 'vitest';
import { MqttTag } from '../../config/schema.js';
import { bindTag, coerceJsonValue, decodeMessage } from '../../protocols/mqtt/payload.js';

const tag = (input: Record<string, unknown>) =>
  MqttTag.parse({ id: 't', topic: 'x', ...input } as Parameters<typeof MqttTag.parse>[0]);
const decode = (text: string, input: Record<string, unknown>) =>
  decodeMessage(Buffer.from(text), [bindTag(tag(input))], 7).samples[0]!;

describe('MQTT JSON payloads', () => {
  it('reads booleans from JSON, numbers and words, as JSON strings or the raw payload', () => {
    for (const [text, value] of [
      ['true', true],
      ['false', false],
      ['1', true],
      ['0', false],
      ['ON', true],
      ['off', false],
      ['Yes', true],
      ['no', false],
      [' TRUE \n', true],
      ['"on"', true],
      ['"0"', false],
    ] as const) {
      expect(decode(text, { type: 'bool' }), text).toEqual({ tagId: 't', ts: 7, value, quality: 'good' });
    }
    expect(decode('{"state":"OFF"}', { type: 'bool', jsonPath: 'state' }).value).toBe(false);
    for (const text of ['2', 'maybe', '"enabled"', '{}', 'null']) {
      expect(decode(text, { type: 'bool' }), text).toMatchObject({
        quality: 'bad',
        value: null,
        reason: expect.stringMatching(/^decode error: expected a boolean, got /),
      });
    }
  });

  it('reads numbers from JSON and decimal text; NaN and Infinity are decode errors', () => {
    expect(decode('23.5', {}).value).toBe(23.5);
    expect(decode('"  -1e3 "', {}).value).toBe(-1000);
    expect(decode('+5', {}).value).toBe(5);
    expect(decode('.5', {}).value).toBe(0.5);
    expect(decode('NaN', {}).reason).toBe('decode error: NaN');
    expect(decode('Infinity', {}).reason).toBe('decode error: Infinity');
    expect(decode('-inf', {}).reason).toBe('decode error: -Infinity');
    expect(decode('{"v":"NaN"}', { jsonPath: 'v' }).reason).toBe('decode error: NaN');
    expect(decode('{"v":1e999}', { jsonPath: 'v' }).reason).toBe('decode error: Infinity');
    expect(decode('{"v":-1e999}', { jsonPath: 'v' }).reason).toBe('decode error: -Infinity');
    // JSON itself has no NaN literal: the whole document is not JSON
    expect(decode('{"v":NaN}', { jsonPath: 'v' }).reason).toBe('decode error: payload is not JSON');
    expect(decode('0x10', {}).reason).toBe('decode error: payload is not a JSON value');
    expect(decode('{"v":"0x10"}', { jsonPath: 'v' }).reason).toBe('decode error: expected a number, got string');
    expect(coerceJsonValue('1e3', 'int16')).toEqual({ ok: true, value: 1000 });
    expect(coerceJsonValue('', 'float64').ok).toBe(false);
  });

  it('wrong types are decode errors with what was found', () => {
    expect(decode('{"v":true}', { jsonPath: 'v' }).reason).toBe('decode error: expected a number, got boolean');
    expect(decode('{"v":{"x":1}}', { jsonPath: 'v' }).reason).toBe('decode error: expected a number, got object');
    expect(decode('{"v":[1]}', { jsonPath: 'v', type: 'string' }).reason).toBe(
      'decode error: expected a string, got array',
    );
    expect(decode('{"v":null}', { jsonPath: 'v', type: 'bool' }).reason).toBe(
      'decode error: expected a boolean, got null',
    );
    expect(decode('{"v":3.5}', { jsonPath: 'v', type: 'uint16' }).reason).toBe(
      'decode error: 3.5 is not an integer (uint16)',
    );
  });

  it('an empty payload (a cleared retained message) is a decode error for every type', () => {
    for (const type of ['float64', 'bool', 'string']) {
      expect(decode('', { type }), type).toMatchObject({ quality: 'bad', reason: 'decode error: empty payload' });
    }
  });

  it('invalid UTF-8 is read as text with replacement characters, not a crash', () => {
    const s = decodeMessage(Uint8Array.of(0xff, 0xfe, 0x41), [bindTag(tag({ type: 'string' }))], 1).samples[0]!;
    expect(s).toMatchObject({ quality: 'good', value: '\uFFFD\uFFFDA' });
    const n = decodeMessage(Uint8Array.of(0xff, 0xfe), [bindTag(tag({}))], 1).samples[0]!;
    expect(n.quality).toBe('bad');
  });
});
