/**
 * Who may do what: each role's capabilities, written once. Routes declare
 * the capability they need (`access-control.ts`); everything else asks
 * `can()`.
 *
 * - viewer: reads everything (the factory engineers)
 * - operator: viewer + acts on alarms (acknowledge, shelve, unshelve, reset)
 * - energy: viewer + exports
 * - admin: everything: also takes alarms out of service and back (`alarms.manage`), and manages users
 */
import { ROLES, type Role } from '../../../config/schema.js';
import type { Capability } from '../contract.js';

export const CAPABILITIES: readonly Capability[] = ['read', 'alarms.act', 'alarms.manage', 'export', 'users.manage'];

export const ROLE_CAPABILITIES: Readonly<Record<Role, ReadonlySet<Capability>>> = {
  viewer: new Set<Capability>(['read']),
  operator: new Set<Capability>(['read', 'alarms.act']),
  energy: new Set<Capability>(['read', 'export']),
  admin: new Set<Capability>(['read', 'alarms.act', 'alarms.manage', 'export', 'users.manage']),
};

/** API tokens never carry these: managing users and tokens needs a sign-in with a password. */
export const NOT_FOR_TOKENS: ReadonlySet<Capability> = new Set<Capability>(['users.manage']);

export function isRole(x: unknown): x is Role {
  return typeof x === 'string' && (ROLES as readonly string[]).includes(x);
}

/** a role stored by another version that this one does not know may do nothing */
export function capabilitiesOf(role: string): ReadonlySet<Capability> {
  return isRole(role) ? ROLE_CAPABILITIES[role] : new Set();
}

export function can(role: string, capability: Capability): boolean {
  return capabilitiesOf(role).has(capability);
}

/** `role` may do nothing that `ceiling` may not: the rule for a token's role */
export function withinRole(role: Role, ceiling: string): boolean {
  const limit = capabilitiesOf(ceiling);
  for (const c of ROLE_CAPABILITIES[role]) if (!limit.has(c)) return false;
  return true;
}

/** the roles that hold a capability, for messages */
export function rolesWith(capability: Capability): Role[] {
  return ROLES.filter((r) => ROLE_CAPABILITIES[r].has(capability));
}

/** capabilities in their canonical order */
export function sortedCapabilities(set: ReadonlySet<Capability>): Capability[] {
  return CAPABILITIES.filter((c) => set.has(c));
}
