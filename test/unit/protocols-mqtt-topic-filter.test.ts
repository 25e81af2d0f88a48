/** MQTT topic filters: validation, matching (a trie), covering, and the subscription plan. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TopicRouter,
  filterCovers,
  filtersIntersect,
  planSubscriptions,
  topicFilterError,
} from '../../protocols/mqtt/topic-filter.js';

/** The MQTT matching rules, written plainly, as a reference for the trie. */
function matchesReference(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

describe('topic filters', () => {
  it('validates filters', () => {
    for (const ok of ['a', 'a/b', '+', '#', 'a/+/c', 'a/#', '+/+', '/a', 'a//b', '$SYS/#']) {
      expect(topicFilterError(ok), ok).toBeNull();
    }
    expect(topicFilterError('a/#/b')).toMatch(/last level/);
    expect(topicFilterError('a+/b')).toMatch(/whole level/);
    expect(topicFilterError('a/b#')).toMatch(/whole level/);
    expect(topicFilterError('')).not.toBeNull();
  });

  it('matches like the MQTT rules, $-topics included', () => {
    const router = new TopicRouter<string>();
    const filters = ['plant/+/temp', 'plant/#', 'plant/cnc1/temp', '#', '+/cnc1/+', '$SYS/#', 'a/+'];
    for (const f of filters) router.add(f, f);
    const check = (topic: string) =>
      expect(router.match(topic).sort(), topic).toEqual(filters.filter((f) => matchesReference(f, topic)).sort());
    for (const topic of [
      'plant/cnc1/temp',
      'plant',
      'plant/x',
      'other/cnc1/y',
      '$SYS/broker/load',
      'a',
      'a/b',
      'a/b/c',
      '',
    ]) {
      check(topic);
    }
    expect(router.match('plant')).toEqual(expect.arrayContaining(['plant/#', '#']));
    expect(router.match('$SYS/x')).toEqual(['$SYS/#']);

    const level = fc.constantFrom('a', 'b', '$x', '');
    const filterLevel = fc.constantFrom('a', 'b', '+', '$x');
    fc.assert(
      fc.property(
        fc.array(
          fc
            .tuple(fc.array(filterLevel, { minLength: 1, maxLength: 4 }), fc.boolean())
            .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/')),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join('/')),
        (fs, topic) => {
          const r = new TopicRouter<string>();
          const unique = [...new Set(fs)];
          for (const f of unique) r.add(f, f);
          expect(r.match(topic).sort()).toEqual(unique.filter((f) => matchesReference(f, topic)).sort());
        },
      ),
      { numRuns: 500 },
    );
  });

  it('one value per filter, several values on one filter all come back', () => {
    const r = new TopicRouter<string>();
    r.add('a/b', 'x');
    r.add('a/b', 'y');
    r.add('a/+', 'z');
    expect(r.match('a/b')).toEqual(['x', 'y', 'z']);
  });

  it('knows which filter covers which', () => {
    expect(filterCovers('a/#', 'a/b/c')).toBe(true);
    expect(filterCovers('a/#', 'a')).toBe(true);
    expect(filterCovers('a/#', 'a/+')).toBe(true);
    expect(filterCovers('a/+', 'a/b')).toBe(true);
    expect(filterCovers('a/+', 'a/#')).toBe(false);
    expect(filterCovers('a/+', 'a/b/c')).toBe(false);
    expect(filterCovers('a/b', 'a/+')).toBe(false);
    expect(filterCovers('#', '$SYS/x')).toBe(false);
    expect(filterCovers('+/x', '$SYS/x')).toBe(false);
    expect(filterCovers('a/b/#', 'a')).toBe(false);
    // covering agrees with matching
    fc.assert(
      fc.property(
        fc.constantFrom('a/#', 'a/+', '+/b', '#', 'a/b', '+/#', 'a/+/c', '+/+'),
        fc.constantFrom('a/#', 'a/+', '+/b', '#', 'a/b', '+/#', 'a/+/c', '+/+', 'a/b/c', 'a'),
        fc.constantFrom('a', 'a/b', 'a/b/c', 'x/b', 'a/x/c', 'x'),
        (a, b, topic) => {
          if (filterCovers(a, b) && matchesReference(b, topic)) expect(matchesReference(a, topic)).toBe(true);
        },
      ),
    );
  });

  it('subscribes to covering filters only, with the highest QoS they serve', () => {
    const plan = planSubscriptions(
      new Map<string, 0 | 1 | 2>([
        ['plant/cnc1/temp', 2],
        ['plant/+/temp', 0],
        ['plant/#', 1],
        ['hall/env', 0],
        ['#', 0],
        ['+/#', 1],
      ]),
    );
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ filter: '#', qos: 2 });
    expect([...plan[0]!.serves].sort()).toEqual(['#', '+/#', 'hall/env', 'plant/#', 'plant/+/temp', 'plant/cnc1/temp']);

    const two = planSubscriptions(
      new Map<string, 0 | 1 | 2>([
        ['a/+', 0],
        ['a/b', 1],
        ['c/d', 0],
        ['a/+/x', 2],
      ]),
    );
    expect(two.map((s) => [s.filter, s.qos, [...s.serves].sort()])).toEqual([
      ['a/+', 1, ['a/+', 'a/b']],
      ['c/d', 0, ['c/d']],
      ['a/+/x', 2, ['a/+/x']],
    ]);
  });

  it('knows which filters share a topic, and flags overlapping subscriptions', () => {
    expect(filtersIntersect('wild/+/temp', 'wild/hall/#')).toBe(true);
    expect(filtersIntersect('a/+', 'a/b/c')).toBe(false);
    expect(filtersIntersect('a/#', 'a')).toBe(true);
    expect(filtersIntersect('+/b', 'a/+')).toBe(true);
    expect(filtersIntersect('a/b', 'a/c')).toBe(false);
    expect(filtersIntersect('#', '$SYS/x')).toBe(false);
    const topics = ['a', 'a/b', 'a/b/c', 'x/b', 'a/x/c', 'x', 'a/c'];
    const filters = ['a/#', 'a/+', '+/b', '#', 'a/b', '+/#', 'a/+/c', '+/+', 'a/b/c', 'a', 'x/#'];
    for (const f of filters) {
      for (const g of filters) {
        const shared = topics.some((t) => matchesReference(f, t) && matchesReference(g, t));
        if (shared) expect(filtersIntersect(f, g), `${f} ∩ ${g}`).toBe(true);
      }
    }
    const plan = planSubscriptions(
      new Map<string, 0 | 1 | 2>([
        ['wild/+/temp', 1],
        ['wild/hall/#', 1],
        ['wild/hall/temp', 1],
        ['plant/meter1', 1],
      ]),
    );
    expect(plan.map((p) => [p.filter, p.overlaps])).toEqual([
      ['wild/+/temp', true],
      ['wild/hall/#', true],
      ['plant/meter1', false],
    ]);
  });
});
