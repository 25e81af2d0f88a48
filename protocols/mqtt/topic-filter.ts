/**
 * MQTT topic filters (MQTT 5 section 4.7): matching topics against them, and
 * the fewest subscriptions that cover a set of filters. Pure.
 *
 * - `+` matches exactly one level, `#` (the whole last level) any number of
 *   levels, the parent included: `a/#` matches `a`, `a/b`, `a/b/c`.
 * - A filter that starts with a wildcard does not match topics that start
 *   with `$` (`$SYS/…`).
 */

/** Why a string is not a valid topic filter, or null when it is one. */
export function topicFilterError(filter: string): string | null {
  if (filter.length === 0) return 'a topic filter is not empty';
  if (filter.includes('\u0000')) return 'a topic filter has no NUL character';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '+') continue;
    if (level === '#') {
      if (i !== levels.length - 1) return '"#" is only allowed as the last level';
      continue;
    }
    if (/[+#]/.test(level)) return '"+" and "#" must fill a whole level';
  }
  return null;
}

export const isWildcardFilter = (filter: string): boolean => /(^|\/)[+#](\/|$)/.test(filter);

interface TrieNode<T> {
  readonly children: Map<string, TrieNode<T>>;
  /** values whose filter ends here */
  readonly values: T[];
}

const node = <T>(): TrieNode<T> => ({ children: new Map(), values: [] });

/**
 * Values indexed by topic filter; `match(topic)` returns the values of every
 * filter that matches the topic, each value once, in insertion order per filter.
 * Cost per lookup: proportional to the topic's levels and the wildcards on the way,
 * not to the number of filters.
 */
export class TopicRouter<T> {
  private readonly root: TrieNode<T> = node();
  private readonly exact = new Map<string, T[]>();
  private wildcards = 0;

  add(filter: string, value: T): void {
    if (!isWildcardFilter(filter)) {
      const list = this.exact.get(filter);
      if (list) list.push(value);
      else this.exact.set(filter, [value]);
      return;
    }
    this.wildcards++;
    let n = this.root;
    for (const level of filter.split('/')) {
      let next = n.children.get(level);
      if (!next) {
        next = node();
        n.children.set(level, next);
      }
      n = next;
    }
    n.values.push(value);
  }

  match(topic: string): T[] {
    const exact = this.exact.get(topic);
    if (this.wildcards === 0) return exact ?? [];
    const out: T[] = exact ? [...exact] : [];
    const levels = topic.split('/');
    const dollar = topic.startsWith('$');
    const walk = (n: TrieNode<T>, i: number): void => {
      // `#` matches the remaining levels, the parent level included
      if (!(dollar && i === 0)) {
        const hash = n.children.get('#');
        if (hash) out.push(...hash.values);
      }
      if (i === levels.length) {
        out.push(...n.values);
        return;
      }
      const lit = n.children.get(levels[i]!);
      if (lit) walk(lit, i + 1);
      if (!(dollar && i === 0)) {
        const plus = n.children.get('+');
        if (plus) walk(plus, i + 1);
      }
    };
    walk(this.root, 0);
    return out.length > 1 ? [...new Set(out)] : out;
  }
}

/** Whether every topic that `b` matches is matched by `a` too. */
export function filterCovers(a: string, b: string): boolean {
  if (a === b) return true;
  const la = a.split('/');
  const lb = b.split('/');
  for (let i = 0; i < la.length; i++) {
    const x = la[i]!;
    if (x === '#') return !(i === 0 && lb[0]!.startsWith('$'));
    if (i >= lb.length) return false;
    const y = lb[i]!;
    if (y === '#') return false;
    if (x === '+') {
      if (i === 0 && y.startsWith('$')) return false;
      continue;
    }
    if (x !== y) return false;
  }
  return la.length === lb.length;
}

/** Whether some topic matches both filters. */
export function filtersIntersect(a: string, b: string): boolean {
  const la = a.split('/');
  const lb = b.split('/');
  for (let i = 0; ; i++) {
    const x = la[i];
    const y = lb[i];
    if (x === undefined || y === undefined) return x === y || x === '#' || y === '#';
    if (i === 0) {
      // a wildcard first level never matches a `$` topic
      if ((x === '+' || x === '#') && y.startsWith('$')) return false;
      if ((y === '+' || y === '#') && x.startsWith('$')) return false;
    }
    if (x === '#' || y === '#') return true;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
}

export interface PlannedSubscription {
  readonly filter: string;
  readonly qos: 0 | 1 | 2;
  /** the requested filters this subscription serves (itself included) */
  readonly serves: readonly string[];
  /**
   * another subscription shares some topic with this one: a broker may send
   * such a message once per subscription, so the copies must be told apart
   * (MQTT 5 subscription identifiers)
   */
  readonly overlaps: boolean;
}

/**
 * The subscriptions for a set of filters: a filter covered by another one is
 * not subscribed on its own (a broker may deliver a message once per
 * matching subscription), and the covering subscription takes the highest
 * QoS of the filters it serves.
 */
export function planSubscriptions(requests: ReadonlyMap<string, 0 | 1 | 2>): PlannedSubscription[] {
  const filters = [...requests.keys()];
  const coveredBy = new Map<string, string>();
  for (const f of filters) {
    // filters that cover each other (`#` and `+/#`) match the same topics: the smaller string serves both
    const cover = filters.find((g) => g !== f && filterCovers(g, f) && !(filterCovers(f, g) && g > f));
    if (cover !== undefined) coveredBy.set(f, cover);
  }
  const root = (f: string): string => {
    let cur = f;
    const seen = new Set<string>();
    while (coveredBy.has(cur) && !seen.has(cur)) {
      seen.add(cur);
      cur = coveredBy.get(cur)!;
    }
    return cur;
  };
  const plan = new Map<string, { qos: 0 | 1 | 2; serves: string[] }>();
  for (const f of filters) {
    const r = root(f);
    const entry = plan.get(r) ?? { qos: 0 as 0 | 1 | 2, serves: [] };
    entry.qos = Math.max(entry.qos, requests.get(f)!) as 0 | 1 | 2;
    entry.serves.push(f);
    plan.set(r, entry);
  }
  const subscribed = [...plan.keys()];
  return [...plan].map(([filter, e]) => ({
    filter,
    qos: e.qos,
    serves: e.serves,
    overlaps: subscribed.some((g) => g !== filter && filtersIntersect(g, filter)),
  }));
}
