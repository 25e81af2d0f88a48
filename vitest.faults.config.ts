import { defineConfig } from 'vitest/config';

// The fault-injection suite (npm run test:faults): real peers killed and
// restarted, the gateway killed with SIGKILL, slow and dead live clients,
// fuzzing. Files run one after another: they measure rates and memory.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
