/**
 * Modbus address notation. Two explicit forms, so nobody is off by one:
 *
 * - wire offsets, 0-based, with an area prefix: `hr:0`, `ir:0x0034`, `coil:5`, `di:3`, `hr:10.3`
 * - manual numbers, 1-based, as printed in device manuals: `40001` (= hr:0), `30053` (= ir:52),
 *   six-digit `400001`, `300053`; coils `00001`, discrete inputs `10001`; `40011.3` is bit 3.
 *
 * A bare small number (`52`) is refused: it is exactly the ambiguity this notation removes.
 */

export const MODBUS_AREAS = ['coil', 'discrete-input', 'input-register', 'holding-register'] as const;
export type ModbusArea = (typeof MODBUS_AREAS)[number];

export interface ModbusAddress {
  readonly area: ModbusArea;
  /** 0-based offset on the wire */
  readonly offset: number;
  /** bit 0 (least significant) … 15 inside a register */
  readonly bit?: number;
  /** the notation as written */
  readonly text: string;
}

export type AddressParse = { ok: true; address: ModbusAddress } | { ok: false; error: string };

const PREFIXES: Record<string, ModbusArea> = {
  hr: 'holding-register',
  holding: 'holding-register',
  ir: 'input-register',
  input: 'input-register',
  coil: 'coil',
  co: 'coil',
  di: 'discrete-input',
  discrete: 'discrete-input',
};

const MANUAL_LEADS: Record<string, ModbusArea> = {
  '0': 'coil',
  '1': 'discrete-input',
  '3': 'input-register',
  '4': 'holding-register',
};

const HINT =
  'write a wire offset with its area (hr:0, ir:0x34, coil:5, di:3) or a 1-based manual number (40001, 30053, 400001)';

export function parseModbusAddress(input: unknown): AddressParse {
  const raw = typeof input === 'number' ? String(input) : input;
  if (typeof raw !== 'string' || raw.trim() === '') return { ok: false, error: `missing Modbus address: ${HINT}` };
  const text = raw.trim();

  let area: ModbusArea;
  let offset: number;
  let bitText: string | undefined;

  const prefixed = /^([a-z]+):(0x[0-9a-f]+|\d+)(?:\.(\d+))?$/i.exec(text);
  if (prefixed) {
    const found = PREFIXES[prefixed[1]!.toLowerCase()];
    if (!found) return { ok: false, error: `unknown Modbus area "${prefixed[1]}": use hr, ir, coil or di` };
    area = found;
    offset = Number(prefixed[2]);
    bitText = prefixed[3];
  } else {
    const manual = /^([0134])(\d{4,5})(?:\.(\d+))?$/.exec(text);
    if (!manual) return { ok: false, error: `"${text}" is not a Modbus address: ${HINT}` };
    area = MANUAL_LEADS[manual[1]!]!;
    const number = Number(manual[2]);
    if (number < 1) return { ok: false, error: `"${text}": manual numbers start at 1 (${manual[1]}0001)` };
    offset = number - 1;
    bitText = manual[3];
  }

  if (offset > 65535) return { ok: false, error: `"${text}": offset ${offset} is beyond 65535` };
  if (bitText === undefined) return { ok: true, address: { area, offset, text } };
  if (area === 'coil' || area === 'discrete-input') {
    return { ok: false, error: `"${text}": a bit number only applies to registers, ${area}s are single bits already` };
  }
  const bit = Number(bitText);
  if (bit > 15) return { ok: false, error: `"${text}": bit ${bit} is out of range 0–15` };
  return { ok: true, address: { area, offset, bit, text } };
}

/** The 0-based notation of an address, for logs and the UI. */
export function formatModbusAddress(a: Pick<ModbusAddress, 'area' | 'offset' | 'bit'>): string {
  const prefix =
    a.area === 'holding-register' ? 'hr' : a.area === 'input-register' ? 'ir' : a.area === 'coil' ? 'coil' : 'di';
  return `${prefix}:${a.offset}${a.bit === undefined ? '' : `.${a.bit}`}`;
}
