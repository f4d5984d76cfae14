import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Load tests run alone afterwards (vitest.load.config.ts).
    exclude: ['test/load/**', '**/node_modules/**'],
    globals: false,
    // Installs or names missing programs and starts a Redis for the run when none answers at REDIS_URL.
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
