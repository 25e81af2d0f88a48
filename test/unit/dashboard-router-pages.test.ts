import { describe, expect, it } from 'vitest';
import { detailHash, parseDetail, parseRoute, routeHash } from '../../dashboard/src/router.js';

describe('dashboard router: energy, health and the detail pages', () => {
  it('opens energy & carbon and health, with or without slashes', () => {
    for (const hash of ['#/energy', '#/energy/', '#energy', '#/energy?x=1']) expect(parseRoute(hash)).toBe('energy');
    for (const hash of ['#/health', '#/health/', '#health']) expect(parseRoute(hash)).toBe('health');
    expect(parseRoute(routeHash('energy'))).toBe('energy');
    expect(parseRoute(routeHash('health'))).toBe('health');
  });

  it('reads a machine or line id from the hash, and keeps the overview highlighted for it', () => {
    expect(parseDetail('#/machine/imm1')).toEqual({ kind: 'machine', id: 'imm1' });
    expect(parseDetail('#/line/line1/')).toEqual({ kind: 'line', id: 'line1' });
    expect(parseDetail('#machine/l1.imm-2?tab=x')).toEqual({ kind: 'machine', id: 'l1.imm-2' });
    expect(parseDetail('#/machine/')).toBeNull();
    expect(parseDetail('#/machine/a/b')).toBeNull();
    expect(parseDetail('#/live')).toBeNull();
    expect(parseDetail('#/machine/%E0%A4%A')).toBeNull();
    expect(parseRoute('#/machine/imm1')).toBe('overview');
  });

  it('gives each detail a hash that leads back to it', () => {
    expect(detailHash('machine', 'imm1')).toBe('#/machine/imm1');
    expect(parseDetail(detailHash('line', 'a b'))).toEqual({ kind: 'line', id: 'a b' });
  });
});
