import * as ua from 'node-opcua';
import { describe, expect, it } from 'vitest';
import { OpcuaDevice, OpcuaTag } from '../../config/schema.js';
import { formatBrowseName, formatBrowsePath, parseBrowsePath } from '../../protocols/opcua/browse-path.js';
import { certificateDer, resolveNodeIdText } from '../../protocols/opcua/client.js';
import {
  defaultQueueSize,
  effectiveLimit,
  isFilterRefusal,
  type MonitorParams,
  planMonitoredItems,
} from '../../protocols/opcua/monitor-plan.js';
import { firstCertificate } from '../../protocols/opcua/pki.js';

describe('OPC UA browse paths', () => {
  it('parses names with and without a namespace prefix', () => {
    expect(parseBrowsePath('/Objects/1:Factory/1:Line2/1:CNC1/1:State')).toEqual({
      ok: true,
      elements: [
        { namespaceIndex: 0, name: 'Objects' },
        { namespaceIndex: 1, name: 'Factory' },
        { namespaceIndex: 1, name: 'Line2' },
        { namespaceIndex: 1, name: 'CNC1' },
        { namespaceIndex: 1, name: 'State' },
      ],
    });
  });

  it('reads & escapes and keeps other characters as they are', () => {
    const parsed = parseBrowsePath('/Objects/2:Temp &/ Hum/3:12&:00/2:a&&b/2:Spindle speed (rpm)');
    expect(parsed.ok && parsed.elements.map((e) => `${e.namespaceIndex}|${e.name}`)).toEqual([
      '0|Objects',
      '2|Temp / Hum',
      '3|12:00',
      '2|a&b',
      '2|Spindle speed (rpm)',
    ]);
  });

  it('refuses what is not a path', () => {
    expect(parseBrowsePath('Objects/1:A')).toMatchObject({ ok: false });
    expect(parseBrowsePath('/Objects//1:A')).toMatchObject({ ok: false, error: 'a browse path has an empty name' });
    expect(parseBrowsePath('/Objects/1:')).toMatchObject({ ok: false });
    expect(parseBrowsePath('/Objects/A&')).toMatchObject({ ok: false });
    expect(parseBrowsePath('/99999:A')).toMatchObject({ ok: false });
  });

  it('formats what it parses back', () => {
    for (const text of ['/Objects/1:Factory/1:CNC1', '/Objects/2:Temp &/ Hum/3:12&:00/0:a&&b']) {
      const parsed = parseBrowsePath(text);
      if (!parsed.ok) throw new Error(parsed.error);
      const again = parseBrowsePath(formatBrowsePath(parsed.elements));
      expect(again).toEqual(parsed);
    }
    expect(formatBrowseName(0, '12:00')).toBe('12&:00');
    expect(formatBrowseName(4, 'a/b')).toBe('4:a&/b');
  });
});

describe('OPC UA monitored item plan', () => {
  const p = (samplingIntervalMs: number, deadband: MonitorParams['deadband'] = null, queueSize = 3): MonitorParams => ({
    samplingIntervalMs,
    queueSize,
    deadband,
  });

  it('groups items by their parameters and cuts groups into batches', () => {
    const entries = [
      ...Array.from({ length: 5 }, (_, i) => ({ item: `a${i}`, params: p(500) })),
      { item: 'slow', params: p(5000) },
      { item: 'd1', params: p(500, { type: 'absolute', value: 1 }) },
      { item: 'd2', params: p(500, { type: 'absolute', value: 1 }) },
      { item: 'd3', params: p(500, { type: 'percent', value: 1 }) },
      { item: 'q', params: p(500, null, 10) },
    ];
    const batches = planMonitoredItems(entries, 2);
    expect(batches.map((b) => b.items)).toEqual([
      ['a0', 'a1'],
      ['a2', 'a3'],
      ['a4'],
      ['slow'],
      ['d1', 'd2'],
      ['d3'],
      ['q'],
    ]);
    expect(batches[4]!.params.deadband).toEqual({ type: 'absolute', value: 1 });
  });

  it('sizes the default queue to one publishing interval', () => {
    expect(defaultQueueSize(1000, 500)).toBe(3);
    expect(defaultQueueSize(1000, 1000)).toBe(2);
    expect(defaultQueueSize(100, 1000)).toBe(2);
    expect(defaultQueueSize(60_000, 10)).toBe(100);
    expect(defaultQueueSize(1000, 0)).toBe(100);
  });

  it('takes the smaller limit, ignoring a server that sets none', () => {
    expect(effectiveLimit(1000, null)).toBe(1000);
    expect(effectiveLimit(1000, 0)).toBe(1000);
    expect(effectiveLimit(1000, 250)).toBe(250);
    expect(effectiveLimit(100, 250)).toBe(100);
  });

  it('knows which status codes refuse a filter, not the item', () => {
    expect(isFilterRefusal('BadMonitoredItemFilterUnsupported')).toBe(true);
    expect(isFilterRefusal('BadFilterNotAllowed')).toBe(true);
    expect(isFilterRefusal('BadNodeIdUnknown')).toBe(false);
  });
});

describe('OPC UA node ids from the config', () => {
  const namespaces = ['http://opcfoundation.org/UA/', 'urn:greenline:simulator', 'urn:vendor:plc;v=2'];

  it('looks up nsu= namespace URIs on the server', () => {
    const r = resolveNodeIdText(ua, 'nsu=urn:greenline:simulator;s=Factory.Line2', namespaces);
    expect(r.ok && r.nodeId.toString()).toBe('ns=1;s=Factory.Line2');
    const encoded = resolveNodeIdText(ua, 'nsu=urn:vendor:plc%3Bv=2;i=5', namespaces);
    expect(encoded.ok && encoded.nodeId.toString()).toBe('ns=2;i=5');
    expect(resolveNodeIdText(ua, 'nsu=urn:other;i=5', namespaces)).toEqual({
      ok: false,
      reason: 'namespace not on the server: urn:other',
    });
    expect(resolveNodeIdText(ua, 'ns=3;i=7', namespaces)).toMatchObject({ ok: true });
    expect(resolveNodeIdText(ua, 'i=2258', []).ok).toBe(true);
  });
});

describe('OPC UA config', () => {
  it('takes a node id or a browse path, not both, not neither', () => {
    expect(OpcuaTag.safeParse({ id: 'a', nodeId: 'ns=1;s=A' }).success).toBe(true);
    expect(OpcuaTag.safeParse({ id: 'a', browsePath: '/Objects/1:A/1:B' }).success).toBe(true);
    const both = OpcuaTag.safeParse({ id: 'a', nodeId: 'ns=1;s=A', browsePath: '/Objects/1:A' });
    expect(both.success).toBe(false);
    expect(both.error?.issues[0]?.message).toBe('give exactly one of `nodeId` or `browsePath`');
    expect(OpcuaTag.safeParse({ id: 'a' }).success).toBe(false);
    expect(OpcuaTag.safeParse({ id: 'a', browsePath: 'Objects/1:A' }).success).toBe(false);
  });

  it('checks deadbands and queue sizes', () => {
    const tag = (serverDeadband: unknown, extra: object = {}) =>
      OpcuaTag.safeParse({ id: 'a', nodeId: 'i=1', serverDeadband, ...extra }).success;
    expect(tag({ type: 'absolute', value: 0.5 })).toBe(true);
    expect(tag({ type: 'percent', value: 100 })).toBe(true);
    expect(tag({ type: 'percent', value: 101 })).toBe(false);
    expect(tag({ type: 'absolute', value: -1 })).toBe(false);
    expect(tag({ type: 'relative', value: 1 })).toBe(false);
    expect(tag(undefined, { queueSize: 0 })).toBe(false);
    expect(tag(undefined, { queueSize: 50 })).toBe(true);
  });

  it('does not trust unknown server certificates unless told to', () => {
    const base = { protocol: 'opcua', id: 'd', endpointUrl: 'opc.tcp://h:4840', tags: [{ id: 'a', nodeId: 'i=1' }] };
    const device = OpcuaDevice.parse(base);
    expect(device.trustUnknownServerCertificate).toBe(false);
    expect(device.maxItemsPerCall).toBe(1000);
    expect(OpcuaDevice.parse({ ...base, trustUnknownServerCertificate: 'true' }).trustUnknownServerCertificate).toBe(
      true,
    );
  });
});

describe('certificates', () => {
  it('reads PEM files (chains included) and DER files', () => {
    const a = Buffer.from([0x30, 0x03, 1, 2, 3]);
    const b = Buffer.from([0x30, 0x02, 9, 9]);
    const pem = (d: Buffer) => `-----BEGIN CERTIFICATE-----\n${d.toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(certificateDer(Buffer.from(pem(a) + pem(b)))).toEqual(Buffer.concat([a, b]));
    expect(certificateDer(a)).toEqual(a);
  });

  it('takes the first certificate of a DER chain', () => {
    const long = Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), Buffer.alloc(256, 7)]);
    const next = Buffer.from([0x30, 0x01, 5]);
    expect(firstCertificate(Buffer.concat([long, next]))).toEqual(long);
    expect(firstCertificate(next)).toEqual(next);
  });
});
