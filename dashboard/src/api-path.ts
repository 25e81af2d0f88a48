/** API paths with their query, relative to the page (pure: the view models build links with it). */

export type QueryValue = string | number | boolean | null | undefined;

/** `api/x` plus the parameters that have a value, in the order given */
export function apiPath(path: string, query: Readonly<Record<string, QueryValue>> = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === '') continue;
    params.append(name, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}
