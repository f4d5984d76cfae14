import { afterAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/session/redis-store.js';
import { storeContract } from './store-contract.js';
import { lockContract } from './lock-contract.js';
import { REDIS_URL, deleteByPrefix, testPrefix } from './helpers/fixtures.js';

const prefix = testPrefix();
const open = async () => createRedisStore(REDIS_URL);

storeContract(`redis standalone (${REDIS_URL})`, open, prefix);
lockContract('redis standalone', open, prefix);

afterAll(async () => {
  const store = createRedisStore(REDIS_URL);
  await deleteByPrefix(store, prefix);
  await store.close();
});

describe('redis store', () => {
  it('is of kind redis', async () => {
    const store = await open();
    expect(store.kind).toBe('redis');
    await store.close();
  });

  it('refuses a malformed URL without repeating it', () => {
    for (const url of ['http://user:hunter2@host', 'redis://user:hunter2@', 'redis://user:hunter2@h:99999']) {
      expect(() => createRedisStore(url)).toThrow(TypeError);
      try {
        createRedisStore(url);
      } catch (err) {
        expect((err as Error).message).not.toContain('hunter2');
      }
    }
  });
});
