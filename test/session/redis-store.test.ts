import { afterAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createRedisStore } from '../../src/session/redis-store.js';
import { StoreUnavailable } from '../../src/session/errors.js';
import { createLogger } from '../../src/logger.js';
import { storeContract } from './store-contract.js';
import { lockContract } from './lock-contract.js';
import { REDIS_URL, deleteByPrefix, testPrefix } from './helpers/fixtures.js';
import { freePort } from './helpers/redis-server.js';

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

  it('fails fast, without the password, when Redis was never reachable', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const port = await freePort();
    const store = createRedisStore(`redis://kiunga:S3cr%40tPw@127.0.0.1:${port}`, { logger, connectTimeoutMs: 300 });
    const started = performance.now();
    const err = await store.get('k').catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(StoreUnavailable);
    expect(elapsed).toBeLessThan(1000); // waits at most connectTimeoutMs for the first connection
    // Past start-up nothing waits any more.
    const again = performance.now();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailable);
    expect(performance.now() - again).toBeLessThan(50);
    await store.close();
    const text = `${(err as Error).message} ${(err as Error).stack} ${lines.join('')}`;
    expect(lines.join('')).toContain('redis unavailable');
    expect(text).not.toContain('S3cr');
    expect(text).not.toContain('S3cr%40tPw');
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
