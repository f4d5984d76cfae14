import { defineConfig } from 'vitest/config';

/**
 * Load tests run alone, after the rest of the suite: they start several server processes and measure
 * deadlines and rates, which other test files running beside them on a 2-core machine would distort.
 */
export default defineConfig({
  test: {
    include: ['test/load/**/*.test.ts'],
    globals: false,
    // Installs or names missing programs and starts a Redis for the run when none answers at REDIS_URL.
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
