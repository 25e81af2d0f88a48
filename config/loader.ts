/**
 * Loads a plant model from YAML or JSON: `${ENV}` substitution, schema
 * validation, cross-reference checks, every problem reported at once with its
 * path and line, and the result frozen.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ConfigProblem, ConfigError, formatPath } from './errors.js';
import { PlantConfig } from './schema.js';
import { closest, crossCheck } from './validate.js';

export interface LoadOptions {
  /** variables for `${NAME}` substitution; defaults to process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** shown in messages; relative store paths resolve against its folder */
  fileName?: string;
}

export function loadConfigFile(file: string, options: Omit<LoadOptions, 'fileName'> = {}): PlantConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError(
      'GL_ERR_CONFIG_READ',
      [{ path: '', message: reason, hint: 'check the path given to --config' }],
      file,
    );
  }
  return loadConfigText(text, { ...options, fileName: file });
}

export function loadConfigText(text: string, options: LoadOptions = {}): PlantConfig {
  const env = options.env ?? process.env;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({
      path: '',
      message: e.message.split('\n')[0] ?? e.message,
      line: e.linePos?.[0]?.line,
      hint: 'fix the syntax first (indentation uses spaces; quote values containing ": " or "#")',
    }));
    throw new ConfigError('GL_ERR_CONFIG_SYNTAX', problems, options.fileName);
  }
  const lineOf = (path: readonly PropertyKey[], keyNode = false): number | undefined => {
    const node = nodeAt(doc.contents, path, keyNode);
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : lineCounter.linePos(offset).line;
  };

  const problems: ConfigProblem[] = [];
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // an alias to an anchor that does not exist, or an alias bomb
    throw new ConfigError(
      'GL_ERR_CONFIG_SYNTAX',
      [
        {
          path: '',
          message: err instanceof Error ? err.message.split('\n')[0]! : String(err),
          hint: 'check the YAML anchors (&name) and aliases (*name): each alias must name an anchor defined before it',
        },
      ],
      options.fileName,
    );
  }
  const raw = substituteEnv(js, env, [], problems);

  const parsed = PlantConfig.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.flatMap((issue) => describeIssue(issue)));
  problems.push(...crossCheck(raw));

  if (problems.length > 0) {
    const located = problems.map((p) => {
      if (p.line !== undefined) return p;
      const line = lineOf(splitPath(p.path));
      return line === undefined ? p : { ...p, line };
    });
    throw new ConfigError('GL_ERR_CONFIG', dedupe(located), options.fileName);
  }
  const config = parsed.data as PlantConfig;
  if (options.fileName && !isAbsolute(config.store.path) && config.store.path !== ':memory:') {
    (config.store as { path: string }).path = resolve(dirname(options.fileName), config.store.path);
  }
  const tls = config.server.tls as { certFile: string; keyFile: string } | undefined;
  if (options.fileName && tls) {
    tls.certFile = resolve(dirname(options.fileName), tls.certFile);
    tls.keyFile = resolve(dirname(options.fileName), tls.keyFile);
  }
  return deepFreeze(config);
}

/** Checks an already-built object (used by tests and tools that build configs in code). */
export function validateConfig(raw: unknown): PlantConfig {
  const problems: ConfigProblem[] = [];
  const parsed = PlantConfig.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.flatMap((issue) => describeIssue(issue)));
  problems.push(...crossCheck(raw));
  if (problems.length > 0) throw new ConfigError('GL_ERR_CONFIG', dedupe(problems));
  return deepFreeze(parsed.data as PlantConfig);
}

// ---------- ${ENV} substitution ----------

const ENV_REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function substituteEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path: (string | number)[],
  problems: ConfigProblem[],
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(ENV_REF, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$${') return '${';
      const v = env[name!];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push({
        path: formatPath(path),
        message: `environment variable ${name} is not set`,
        hint: `export ${name}=… before starting, or give a default: \${${name}:-value}`,
      });
      return match;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, i], problems));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, [...path, k], problems);
    return out;
  }
  return value;
}

// ---------- turning zod issues into problems a person can act on ----------

let schemaKeys: string[] | undefined;

function describeIssue(issue: z.core.$ZodIssue): ConfigProblem[] {
  const path = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        schemaKeys ??= collectKeys(PlantConfig);
        const guess = closest(key, schemaKeys);
        return {
          path: formatPath([...issue.path, key]),
          message: `unknown key "${key}"`,
          hint: guess
            ? `did you mean "${guess}"? Unknown keys are refused so that typos cannot pass`
            : 'remove it; see the config reference for the keys allowed here',
        };
      });
    case 'invalid_type':
      if (/received undefined/.test(issue.message)) {
        return [
          { path, message: 'is required', hint: `add \`${String(issue.path.at(-1) ?? 'it')}\` (${issue.expected})` },
        ];
      }
      return [{ path, message: `must be ${article(issue.expected)}`, hint: issue.message }];
    case 'invalid_union': {
      const disc = (issue as { discriminator?: string; options?: unknown[] }).discriminator;
      const options = (issue as { options?: unknown[] }).options;
      if (disc && options) {
        return [{ path, message: `must be one of: ${options.map(String).join(', ')}` }];
      }
      return [{ path, message: 'does not match any allowed form', hint: issue.message }];
    }
    case 'invalid_value':
      return [{ path, message: `must be one of: ${issue.values.map((v) => String(v)).join(', ')}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** every object key anywhere in the schema, for "did you mean" hints */
function collectKeys(schema: unknown): string[] {
  const keys = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (s: unknown) => {
    if (!s || typeof s !== 'object' || seen.has(s)) return;
    seen.add(s);
    const def = (s as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return;
    const shape = def.shape as Record<string, unknown> | undefined;
    if (shape) {
      for (const [k, v] of Object.entries(shape)) {
        keys.add(k);
        visit(v);
      }
    }
    for (const field of ['innerType', 'element', 'in', 'out', 'valueType', 'schema', 'left', 'right'])
      visit(def[field]);
    if (Array.isArray(def.options)) def.options.forEach(visit);
  };
  visit(schema);
  return [...keys];
}

// ---------- helpers ----------

function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/** the YAML node at a path, or the nearest existing ancestor (a missing key points at its parent) */
function nodeAt(root: unknown, path: readonly PropertyKey[], keyNode: boolean): Node | undefined {
  let node = root as Node | undefined;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === part);
      if (!pair) return node;
      if (keyNode && part === path.at(-1)) return pair.key as Node;
      node = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof part === 'number') {
      const next = node.items[part] as Node | undefined;
      if (!next) return node;
      node = next;
    } else {
      return node;
    }
  }
  return node;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
