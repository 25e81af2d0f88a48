/**
 * The small path language MQTT tags use to find a value in a JSON payload:
 * dotted keys and array indexes, `temperature`, `flow.value`,
 * `readings[0].v`, with an optional leading `$.` (or `$`). Pure.
 */

export type PathSegment = string | number;

export type CompiledPath =
  | { ok: true; path: string; segments: readonly PathSegment[] }
  | { ok: false; path: string; error: string };

const KEY = /^[A-Za-z0-9_-]+/;
const INDEX = /^\[(\d+)\]/;

export function compileJsonPath(path: string): CompiledPath {
  let rest = path.trim();
  if (rest.startsWith('$')) rest = rest.slice(1);
  if (rest.startsWith('.')) rest = rest.slice(1);
  const segments: PathSegment[] = [];
  let expectKey = true;
  while (rest.length > 0) {
    const index = INDEX.exec(rest);
    if (index) {
      segments.push(Number(index[1]));
      rest = rest.slice(index[0].length);
      expectKey = false;
      continue;
    }
    let at = 0;
    if (!expectKey) {
      if (!rest.startsWith('.')) break;
      at = 1;
    }
    const key = KEY.exec(rest.slice(at));
    if (!key) break;
    segments.push(key[0]);
    rest = rest.slice(at + key[0].length);
    expectKey = false;
  }
  if (rest.length > 0 || segments.length === 0) {
    return {
      ok: false,
      path,
      error: `"${path}" is not a JSON path: use dotted keys and indexes such as "flow.value" or "readings[0].v"`,
    };
  }
  return { ok: true, path, segments };
}

export type PathLookup = { found: true; value: unknown } | { found: false; missing: string };

const describeSegments = (segments: readonly PathSegment[]): string =>
  segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');

/** The value at `segments` inside `root`, or which part of the path is missing. */
export function lookupJsonPath(root: unknown, segments: readonly PathSegment[]): PathLookup {
  let node: unknown = root;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (typeof seg === 'number') {
      if (!Array.isArray(node) || seg >= node.length)
        return { found: false, missing: describeSegments(segments.slice(0, i + 1)) };
      node = node[seg];
    } else {
      if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, seg)) {
        return { found: false, missing: describeSegments(segments.slice(0, i + 1)) };
      }
      node = (node as Record<string, unknown>)[seg];
    }
  }
  return { found: true, value: node };
}
