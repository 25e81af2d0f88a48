/**
 * Browse paths as written in a config: `/Objects/1:Factory/1:Line2/1:CNC1/1:State`.
 * Pure.
 *
 * The path starts at the Root folder; each `/` follows a hierarchical
 * reference (Organizes, HasComponent, HasProperty and their subtypes) to the
 * node with that browse name. A name is `ns:Name`, or just `Name` for
 * namespace 0 (the standard nodes such as `Objects`). Inside a name, `&`
 * escapes the next character, so `&/`, `&:` and `&&` stand for `/`, `:` and
 * `&` (the escape of the OPC UA relative path text format).
 *
 * Namespace indexes are the server's; a server may renumber its namespaces
 * when its configuration changes, which is one reason paths are resolved
 * again after every connect.
 */

export interface BrowsePathElement {
  readonly namespaceIndex: number;
  readonly name: string;
}

export type ParsedBrowsePath =
  | { readonly ok: true; readonly elements: readonly BrowsePathElement[] }
  | { readonly ok: false; readonly error: string };

const NAMESPACE_PREFIX = /^(\d+):/;

export function parseBrowsePath(text: string): ParsedBrowsePath {
  if (!text.startsWith('/')) return { ok: false, error: 'a browse path starts with "/" (the Root folder)' };
  const elements: BrowsePathElement[] = [];
  // split on unescaped "/", keeping escapes for the per-segment step
  const segments: string[] = [];
  let current = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '&') {
      if (i + 1 >= text.length) return { ok: false, error: 'a browse path ends with a lone "&"' };
      current += c + text[i + 1];
      i++;
    } else if (c === '/') {
      segments.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  segments.push(current);
  for (const segment of segments) {
    let rest = segment;
    let namespaceIndex = 0;
    const m = NAMESPACE_PREFIX.exec(segment);
    if (m) {
      namespaceIndex = Number(m[1]);
      if (!Number.isSafeInteger(namespaceIndex) || namespaceIndex > 65535) {
        return { ok: false, error: `namespace index ${m[1]} is out of range (0 … 65535)` };
      }
      rest = segment.slice(m[0].length);
    }
    const name = rest.replace(/&(.)/g, '$1');
    if (name === '') return { ok: false, error: 'a browse path has an empty name' };
    elements.push({ namespaceIndex, name });
  }
  return { ok: true, elements };
}

/** One element as written in a path: `1:State`, `Objects`; reserved characters escaped. */
export function formatBrowseName(namespaceIndex: number, name: string): string {
  const escaped = name.replace(/[&/]/g, '&$&');
  // a name that starts like a namespace prefix needs its colon escaped
  const safe = /^\d+:/.test(escaped) ? escaped.replace(':', '&:') : escaped;
  return namespaceIndex === 0 ? safe : `${namespaceIndex}:${safe}`;
}

export function formatBrowsePath(elements: readonly BrowsePathElement[]): string {
  return elements.map((e) => `/${formatBrowseName(e.namespaceIndex, e.name)}`).join('');
}
