import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Load tests (vitest.load.config.ts) and the resilience suite (vitest.resilience.config.ts) run alone afterwards.
    exclude: ['test/load/**', 'test/resilience/**', '**/node_modules/**'],
    globals: false,
    // Installs or names missing programs and starts a Redis for the run when none answers at REDIS_URL.
    globalSetup: ['test/helpers/global-setup.ts'],
    // After every file: no PIN, one-time code or token in a captured log line, audit entry or session.
    setupFiles: ['test/helpers/secret-scan.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most test files wait on Redis, HTTP and timers rather than on the CPU: three files at a time halve the
    // run on a 2-core machine (vitest's default would be one). Tests never assert how fast something runs; the
    // few that bound a recovery (a Redis failover followed within seconds) leave a margin for a loaded machine.
    maxWorkers: 3,
  },
});
