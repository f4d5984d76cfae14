import { defineConfig } from 'vitest/config';

/**
 * Load tests run alone, after the rest of the suite: they start several server processes and measure
 * deadlines and rates, which other test files running beside them on a 2-core machine would distort.
 */
export default defineConfig({
  test: {
    include: ['test/load/**/*.test.ts'],
    globals: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
