/**
 * Generates the config reference (config/REFERENCE.md) from the schema itself,
 * so the document cannot drift from what the loader accepts. A unit test
 * checks that the committed file is current; `npm run docs:config` rewrites it.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { PlantConfig } from './schema.js';

interface Row {
  path: string;
  type: string;
  required: boolean;
  default?: string;
  notes: string;
}

type Def = Record<string, unknown> & { type: string };
const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;
const describe = (s: unknown): string | undefined => z.globalRegistry.get(s as z.ZodType)?.description;

function unwrap(s: unknown): { inner: unknown; optional: boolean; dflt?: unknown; description?: string } {
  let cur = s;
  let optional = false;
  let dflt: unknown;
  let description = describe(s);
  for (;;) {
    const def = defOf(cur);
    if (def.type === 'optional') optional = true;
    else if (def.type === 'default') {
      optional = true;
      dflt = typeof def.defaultValue === 'function' ? (def.defaultValue as () => unknown)() : def.defaultValue;
    } else if (def.type === 'pipe' && defOf(def.in).type === 'transform') {
      // preprocess: the accepted input is what the output schema takes
    } else break;
    cur = def.type === 'pipe' ? def.out : def.innerType;
    description ??= describe(cur);
  }
  return { inner: cur, optional, dflt, ...(description ? { description } : {}) };
}

function typeName(s: unknown): { type: string; notes: string[] } {
  const def = defOf(s);
  const checks = ((def.checks as { _zod: { def: Record<string, unknown> } }[] | undefined) ?? []).map(
    (c) => c._zod.def,
  );
  const notes: string[] = [];
  for (const c of checks) {
    if (c.check === 'greater_than') notes.push(`${c.inclusive ? '≥' : '>'} ${String(c.value)}`);
    if (c.check === 'less_than') notes.push(`${c.inclusive ? '≤' : '<'} ${String(c.value)}`);
    if (c.check === 'min_length' && def.type === 'array') notes.push(`at least ${String(c.minimum)}`);
    if (c.check === 'number_format' && String(c.format).includes('int')) notes.push('integer');
  }
  switch (def.type) {
    case 'string':
      return { type: 'string', notes };
    case 'number':
      return { type: notes.includes('integer') ? 'integer' : 'number', notes: notes.filter((n) => n !== 'integer') };
    case 'boolean':
      return { type: 'boolean', notes };
    case 'literal':
      return { type: (def.values as unknown[]).map((v) => JSON.stringify(v)).join(' \\| '), notes };
    case 'enum':
      return {
        type: Object.values(def.entries as Record<string, string>)
          .map((v) => `\`${v}\``)
          .join(' \\| '),
        notes,
      };
    case 'array':
      return { type: `list of ${typeName(unwrap(def.element).inner).type}`, notes };
    case 'record':
      return { type: `map of ${typeName(unwrap(def.valueType).inner).type}`, notes };
    case 'object':
      return { type: 'object', notes };
    case 'union':
      return {
        type: (def.options as unknown[]).map((o) => typeName(unwrap(o).inner).type).join(' or '),
        notes,
      };
    case 'pipe':
      return { type: 'string', notes: ['parsed, see notes'] };
    default:
      return { type: def.type, notes };
  }
}

function walk(schema: unknown, path: string, rows: Row[], required: boolean): void {
  const { inner, optional, dflt, description } = unwrap(schema);
  const def = defOf(inner);
  const { type, notes } = typeName(inner);
  const row: Row = {
    path,
    type,
    required: required && !optional,
    notes: [description, ...notes].filter(Boolean).join('; '),
  };
  if (dflt !== undefined && def.type !== 'object') row.default = `\`${JSON.stringify(dflt)}\``;
  if (path !== '') rows.push(row);

  if (def.type === 'object') {
    for (const [key, value] of Object.entries(def.shape as Record<string, unknown>)) {
      walk(value, path === '' ? key : `${path}.${key}`, rows, true);
    }
  } else if (def.type === 'array') {
    const element = unwrap(def.element).inner;
    const edef = defOf(element);
    if (edef.type === 'object') walk(element, `${path}[]`, rows, true);
    else if (edef.type === 'union' && edef.discriminator) walkUnion(edef, `${path}[]`, rows);
  } else if (def.type === 'union' && def.discriminator) {
    walkUnion(def, path, rows);
  }
}

function walkUnion(def: Def, path: string, rows: Row[]) {
  const key = def.discriminator as string;
  for (const option of def.options as unknown[]) {
    const shape = defOf(option).shape as Record<string, unknown>;
    const tag = unwrap(shape[key]).inner;
    const values = (defOf(tag).values as unknown[] | undefined) ?? Object.values((defOf(tag).entries as object) ?? {});
    walk(option, `${path} (${key}: ${values.join(' / ')})`, rows, true);
  }
}

export function renderReference(): string {
  const rows: Row[] = [];
  walk(PlantConfig, '', rows, true);
  const lines = [
    '# Plant model reference',
    '',
    'Generated from `config/schema.ts` by `npm run docs:config`; do not edit by hand.',
    '',
    'A plant model is one YAML (or JSON) file. Unknown keys are errors. Any string may use',
    '`${NAME}` or `${NAME:-default}` to take a value from the environment (write `$${` for a',
    'literal `${`); numbers and booleans may come from the environment too. Relative',
    "`store.path` values resolve against the config file's folder. Validate a file with",
    '`greenline check-config FILE`: it lists every problem with its path and line.',
    '',
    'Modbus addresses: `hr:0`, `ir:0x0034`, `coil:5`, `di:3` are 0-based wire offsets; `40001`,',
    '`30053`, `400001`, `00001`, `10001` are 1-based manual numbers (area by the first digit);',
    'append `.N` for bit N (0–15) of a register. Word orders name the byte order of a 32-bit value',
    '(A = most significant): `ABCD` big-endian, `CDAB` word-swapped, `BADC` byte-swapped,',
    '`DCBA` little-endian; 64-bit values extend the same pattern.',
    '',
    '| key | type | required | default | notes |',
    '|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| \`${r.path}\` | ${r.type} | ${r.required ? 'yes' : ''} | ${r.default ?? ''} | ${r.notes.replace(/\|/g, '\\|')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export const REFERENCE_FILE = fileURLToPath(new URL('./REFERENCE.md', import.meta.url)).replace(
  /\/dist\/config\//,
  '/config/',
);

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(REFERENCE_FILE, renderReference());
  process.stdout.write(`wrote ${REFERENCE_FILE}\n`);
}
