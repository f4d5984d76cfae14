import { afterAll, expect } from 'vitest';
import { scanForSecrets } from './secret-sentinel.js';

// A vitest setup file: after every test file, no registered secret may appear in what the file's servers
// and log captures wrote (test/helpers/secret-sentinel.ts). Registered first, so it runs after the file's
// own afterAll hooks have closed its servers.
afterAll(async () => {
  expect(await scanForSecrets()).toEqual([]);
});
