export type { LiveClientIdentity, UpgradeAuthorizer, UpgradeDecision } from './live-hub.js';
export { MemoryLiveSource } from './memory-live-source.js';
export { createServer, type GreenlineServer, SECURITY_HEADERS, type ServerOptions } from './server.js';
export type * from './contract.js';
export type * from './ports.js';
