export type { LiveClientIdentity, UpgradeAuthorizer, UpgradeDecision } from './live-hub.js';
export { MemoryLiveSource } from './memory-live-source.js';
export { createServer, type GreenlineServer, SECURITY_HEADERS, type ServerOptions } from './server.js';
export { DOCS_PATH, openApiDocument } from './api/openapi.js';
export type { DefinedRoute } from './api/route-book.js';
export type * from './contract.js';
export type * from './ports.js';
export {
  Authenticator,
  type AuthenticatorOptions,
  DEMO_ACCOUNTS,
  type Principal,
  principalOf,
  requestUser,
  type RouteAccess,
  seedAccounts,
} from './auth/index.js';
export { readTlsFiles, TlsError, type TlsMaterial } from './tls.js';
