import { defineConfig } from 'vitest/config';

/**
 * The resilience suite (test/resilience, docs/resilience.md): real Kiunga, sandbox and redis-server
 * processes under faults, then the invariants. Scenarios run one file at a time, after the rest of the
 * suite: each starts five or more server processes, which other files beside them would slow past the
 * hop deadline on a 2-core machine.
 */
export default defineConfig({
  test: {
    include: ['test/resilience/**/*.test.ts'],
    globals: false,
    // Installs or names missing programs and starts a Redis for the run when none answers at REDIS_URL.
    globalSetup: ['test/helpers/global-setup.ts'],
    // After every file: no PIN, code or key in any process's log lines, audit entries or sessions.
    setupFiles: ['test/helpers/secret-scan.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
