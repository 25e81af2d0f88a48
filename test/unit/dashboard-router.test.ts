import { describe, expect, it } from 'vitest';
import { parseRoute, routeHash } from '../../dashboard/src/router.js';

describe('dashboard router', () => {
  it('opens the plant overview for an empty, root or unknown hash', () => {
    for (const hash of ['', '#', '#/', '#/nothing-here', '#/overview?x=1']) expect(parseRoute(hash)).toBe('overview');
  });

  it('opens the live tags page for #/live, with or without slashes', () => {
    for (const hash of ['#/live', '#/live/', '#live', '#/live?tag=a']) expect(parseRoute(hash)).toBe('live');
  });

  it('gives each page a hash that leads back to it', () => {
    expect(routeHash('overview')).toBe('#/');
    expect(routeHash('live')).toBe('#/live');
    expect(parseRoute(routeHash('live'))).toBe('live');
    expect(parseRoute(routeHash('overview'))).toBe('overview');
  });
});
