import { DataType, DataValue, StatusCodes, Variant, VariantArrayType, coerceInt64, coerceUInt64 } from 'node-opcua';
import { describe, expect, it } from 'vitest';
import { DataType as SpecDataType, dataValueToSample, severityOf } from '../../protocols/opcua/values.js';

const dv = (variant: ConstructorParameters<typeof Variant>[0], extra: Record<string, unknown> = {}) =>
  new DataValue({ value: new Variant(variant), ...extra });

describe('OPC UA DataValue → Sample', () => {
  it('the spec data type ids match node-opcua', () => {
    for (const [name, id] of Object.entries(SpecDataType)) {
      expect(DataType[name as keyof typeof DataType], name).toBe(id);
    }
  });

  it('converts scalars', () => {
    const now = 1000;
    expect(dataValueToSample('t', dv({ dataType: DataType.Double, value: 1.25 }), now)).toEqual({
      tagId: 't',
      ts: now,
      value: 1.25,
      quality: 'good',
    });
    expect(dataValueToSample('t', dv({ dataType: DataType.Boolean, value: true }), now).value).toBe(true);
    expect(dataValueToSample('t', dv({ dataType: DataType.String, value: 'RUN' }), now).value).toBe('RUN');
    expect(dataValueToSample('t', dv({ dataType: DataType.UInt16, value: 65535 }), now).value).toBe(65535);
    expect(dataValueToSample('t', dv({ dataType: DataType.LocalizedText, value: { text: 'Hi' } }), now).value).toBe(
      'Hi',
    );
    const d = new Date('2025-01-01T00:00:00Z');
    expect(dataValueToSample('t', dv({ dataType: DataType.DateTime, value: d }), now).value).toBe(d.getTime());
  });

  it('converts Int64 and UInt64 [high, low] pairs to numbers', () => {
    const now = 0;
    expect(
      dataValueToSample(
        't',
        dv({ dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: coerceInt64(-5) }),
        now,
      ).value,
    ).toBe(-5);
    expect(
      dataValueToSample(
        't',
        dv({ dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: coerceInt64(2 ** 40 + 3) }),
        now,
      ).value,
    ).toBe(2 ** 40 + 3);
    expect(
      dataValueToSample(
        't',
        dv({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: coerceUInt64(2 ** 52) }),
        now,
      ).value,
    ).toBe(2 ** 52);
  });

  it('arrays, structures and NaN are decode errors', () => {
    const arr = dataValueToSample(
      't',
      dv({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1, 2] }),
      0,
    );
    expect(arr).toMatchObject({
      quality: 'bad',
      value: null,
      reason: 'decode error: unsupported type (Array of Double)',
    });
    const guid = dataValueToSample(
      't',
      dv({ dataType: DataType.Guid, value: '72962B91-FA75-4AE6-8D28-B404DC7DAF63' }),
      0,
    );
    expect(guid.reason).toBe('decode error: unsupported type (Guid)');
    expect(dataValueToSample('t', dv({ dataType: DataType.Float, value: Number.NaN }), 0).reason).toBe(
      'decode error: NaN',
    );
    expect(dataValueToSample('t', new DataValue({}), 0).reason).toBe('decode error: empty value');
  });

  it('status severity sets the quality; bad values carry the code name', () => {
    const bad = new DataValue({ statusCode: StatusCodes.BadNodeIdUnknown });
    expect(dataValueToSample('t', bad, 0)).toEqual({
      tagId: 't',
      ts: 0,
      value: null,
      quality: 'bad',
      reason: 'BadNodeIdUnknown',
    });
    const uncertain = dv({ dataType: DataType.Double, value: 3 }, { statusCode: StatusCodes.UncertainLastUsableValue });
    expect(dataValueToSample('t', uncertain, 0)).toEqual({
      tagId: 't',
      ts: 0,
      value: 3,
      quality: 'uncertain',
      reason: 'UncertainLastUsableValue',
    });
    expect(severityOf(StatusCodes.Good.value)).toBe('good');
    expect(severityOf(StatusCodes.BadTimeout.value)).toBe('bad');
  });

  it('takes the source timestamp, else the server timestamp, else now', () => {
    const source = new Date('2025-02-03T04:05:06.007Z');
    const server = new Date('2025-02-03T04:05:07Z');
    const v = { dataType: DataType.Double, value: 1 };
    expect(dataValueToSample('t', dv(v, { sourceTimestamp: source, serverTimestamp: server }), 5).ts).toBe(
      source.getTime(),
    );
    expect(dataValueToSample('t', dv(v, { serverTimestamp: server }), 5).ts).toBe(server.getTime());
    expect(dataValueToSample('t', dv(v), 5).ts).toBe(5);
  });
});
