/** The MQTT part of the plant model: wildcard topics, TLS, sessions, Sparkplug B settings. */
import { describe, expect, it } from 'vitest';
import { Device, MqttDevice } from '../../config/schema.js';
import { DriverError, createDriver } from '../../protocols/index.js';

const base = { protocol: 'mqtt', id: 'd', url: 'mqtt://127.0.0.1:1883' };
const problems = (input: Record<string, unknown>) => {
  const r = Device.safeParse({ ...base, ...input });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};
const ctx = { emit: () => {}, now: () => Date.now(), log: { debug() {}, info() {}, warn() {}, error() {} } };

describe('MQTT device config', () => {
  it('accepts topic filters and refuses malformed ones', () => {
    expect(
      problems({
        tags: [
          { id: 't', topic: 'plant/+/temp' },
          { id: 'u', topic: 'plant/#', qos: 2 },
        ],
      }),
    ).toEqual([]);
    expect(problems({ tags: [{ id: 't', topic: 'plant/#/temp' }] })).toEqual([
      'tags.0.topic: must be a topic or a filter: "+" fills a whole level, "#" only the whole last level',
    ]);
    expect(problems({ tags: [{ id: 't', topic: 'plant/cnc+' }] })).toHaveLength(1);
    expect(problems({ tags: [{ id: 't' }] })).toEqual(['tags.0.topic: a tag of format json needs a topic']);
  });

  it('keeps each format’s keys to that format', () => {
    expect(problems({ tags: [{ id: 't', metric: 'm' }] })).toEqual([
      'tags.0.topic: a tag of format json needs a topic',
      'tags.0.metric: `metric` is for format sparkplug-b',
    ]);
    expect(problems({ sparkplug: { groupId: 'g' }, tags: [{ id: 't', topic: 'a', deviceId: 'x' }] })).toEqual([
      'sparkplug: sparkplug settings need format: sparkplug-b',
      'tags.0.deviceId: `deviceId` is for format sparkplug-b',
    ]);
    expect(problems({ format: 'sparkplug-b', tags: [{ id: 't', metric: 'm' }] })).toEqual([
      'sparkplug: format sparkplug-b needs `sparkplug: { groupId }`',
    ]);
    expect(
      problems({
        format: 'sparkplug-b',
        sparkplug: { groupId: 'g' },
        tags: [
          { id: 't', metric: 'm', topic: 'x', jsonPath: 'v' },
          { id: 'u', metric: 'm', edgeNodeId: 'e' },
        ],
      }),
    ).toEqual([
      'tags.0.topic: `topic` is for format json',
      'tags.0.jsonPath: `jsonPath` is for format json',
      'tags.0.edgeNodeId: name the edge node here or in `sparkplug.edgeNodeId`',
    ]);
    expect(
      problems({
        format: 'sparkplug-b',
        sparkplug: { groupId: 'a/b', hostId: 'h#' },
        tags: [{ id: 't', metric: 'm', edgeNodeId: 'e' }],
      }),
    ).toEqual([
      'sparkplug.groupId: must be one topic level: no "/", "+" or "#"',
      'sparkplug.hostId: must be one topic level: no "/", "+" or "#"',
    ]);
  });

  it('a persistent session needs a clientId; TLS needs a TLS URL and a whole client certificate', () => {
    expect(problems({ cleanSession: false, tags: [{ id: 't', topic: 'a' }] })).toEqual([
      'clientId: a persistent session (cleanSession: false) needs a fixed clientId',
    ]);
    expect(problems({ cleanSession: 'false', clientId: 'gw-1', tags: [{ id: 't', topic: 'a' }] })).toEqual([]);
    expect(problems({ tls: { ca: '/ca.pem' }, tags: [{ id: 't', topic: 'a' }] })).toEqual([
      'tls: TLS settings need an mqtts:// or wss:// URL',
    ]);
    expect(
      problems({ url: 'mqtts://broker:8883', tls: { ca: '/ca.pem', cert: '/c.pem' }, tags: [{ id: 't', topic: 'a' }] }),
    ).toEqual(['tls: a client certificate needs both `cert` and `key`']);
  });

  it('fills in the defaults', () => {
    const d = MqttDevice.parse({ ...base, url: 'mqtts://b:8883', tls: {}, tags: [{ id: 't', topic: 'a' }] });
    expect(d).toMatchObject({
      cleanSession: true,
      sessionExpirySeconds: 3600,
      maxPayloadBytes: 1_048_576,
      qos: 1,
      format: 'json',
      tls: { rejectUnauthorized: true },
    });
    const s = MqttDevice.parse({
      ...base,
      format: 'sparkplug-b',
      sparkplug: { groupId: 'g', edgeNodeId: 'e' },
      tags: [{ id: 't', metric: 'm' }],
    });
    expect(s.sparkplug).toEqual({ groupId: 'g', edgeNodeId: 'e', requestRebirth: true });
  });

  it('createDriver takes both formats', () => {
    const json = MqttDevice.parse({ ...base, tags: [{ id: 't', topic: 'a/+' }] });
    expect(createDriver(json, ctx).status().state).toBe('idle');
    const spb = MqttDevice.parse({
      ...base,
      format: 'sparkplug-b',
      sparkplug: { groupId: 'g', edgeNodeId: 'e' },
      tags: [{ id: 't', metric: 'm' }],
    });
    expect(createDriver(spb, ctx).status().counters).toMatchObject({ messages: 0, rebirthRequests: 0 });
    // a config that skipped the schema still gets a clear error before any I/O
    const unchecked = { ...json, tags: [{ ...json.tags[0]!, topic: 'a/#/b' }] } as MqttDevice;
    expect(() => createDriver(unchecked, ctx)).toThrow(DriverError);
    expect(() => createDriver(unchecked, ctx)).toThrow(/GL_ERR_DRIVER_CONFIG.*"#" is only allowed as the last level/);
  });
});
