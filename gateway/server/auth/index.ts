export {
  accessOf,
  installAccessControl,
  principalOf,
  requestUser,
  ROUTE_ACCESS,
  ROUTE_FAMILIES,
  type RouteAccess,
  type RouteEntry,
} from './access-control.js';
export {
  AUTH_DEFAULTS,
  type AccountStore,
  type AuthCounters,
  Authenticator,
  type AuthenticatorOptions,
  type Principal,
} from './authenticator.js';
export { registerAuthRoutes } from './auth-routes.js';
export { FIRST_ADMIN, seedAccounts, type SeedOptions, type SeedResult } from './bootstrap.js';
export { DEMO_ACCOUNTS } from './demo-accounts.js';
export { CAPABILITIES, can, capabilitiesOf, ROLE_CAPABILITIES } from './permissions.js';
