/**
 * The demo's accounts, one per role, with passwords printed in the README
 * and on the demo's sign-in page. They exist only while the config says
 * `server.demoAccounts: true` (the demo plant does); on any other config
 * they are removed at start, so no documented password opens a real plant.
 */
import type { DemoAccount } from '../contract.js';

export const DEMO_ACCOUNTS: readonly DemoAccount[] = [
  { username: 'viewer', password: 'viewer-demo', role: 'viewer' },
  { username: 'operator', password: 'operator-demo', role: 'operator' },
  { username: 'energy', password: 'energy-demo', role: 'energy' },
  { username: 'admin', password: 'admin-demo', role: 'admin' },
];
