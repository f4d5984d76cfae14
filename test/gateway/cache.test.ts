/**
 * The lookup cache on the real stores: Redis (shared by processes), the in-process map, and a Redis that is
 * down (the cache must fall through to the loader, never fail the call).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLookupCache, lookupKey } from '../../src/fineract/cache.js';
import { FineractUnavailable } from '../../src/fineract/errors.js';
import { createKeys } from '../../src/session/keys.js';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import type { KeyValueStore } from '../../src/session/store.js';
import { openRedis } from './helpers.js';

const keys = createKeys(`kiunga-test-cache-${randomBytes(4).toString('hex')}`);

let redis: RedisStore;
beforeAll(async () => {
  redis = await openRedis();
});
afterAll(async () => {
  const left = await redis.client.keys(`${keys.prefix}:*`);
  if (left.length) await redis.client.del(...left);
  await redis.close();
});

/** A loader that counts its calls. */
function loader<T>(value: T, delayMs = 0) {
  const fn = async () => {
    fn.calls++;
    if (delayMs) await sleep(delayMs);
    return value;
  };
  fn.calls = 0;
  return fn;
}

describe.each([
  ['redis', () => redis as KeyValueStore],
  ['memory', () => createMemoryStore() as KeyValueStore],
])('lookup cache on the %s store', (_kind, store) => {
  it('serves the second lookup from the store, without calling Fineract', async () => {
    const cache = createLookupCache({ store: store(), keys });
    const load = loader({ clientId: 1, displayName: 'Amina Wanjiru' });
    const id = `+2547110${randomBytes(2).readUInt16BE()}`;
    expect(await cache.getOrLoad('client-by-phone', id, 60_000, load)).toEqual({ clientId: 1, displayName: 'Amina Wanjiru' });
    expect(await cache.getOrLoad('client-by-phone', id, 60_000, load)).toEqual({ clientId: 1, displayName: 'Amina Wanjiru' });
    expect(load.calls).toBe(1);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1 });
  });

  it('caches a null ("no such client") for the shorter negative TTL', async () => {
    const cache = createLookupCache({ store: store(), keys });
    const load = loader(null);
    const id = `none-${randomBytes(3).toString('hex')}`;
    expect(await cache.getOrLoad('client-by-phone', id, 10_000, load, { negativeTtlMs: 150 })).toBeNull();
    expect(await cache.getOrLoad('client-by-phone', id, 10_000, load, { negativeTtlMs: 150 })).toBeNull();
    expect(load.calls).toBe(1);
    expect(cache.stats().negativeHits).toBe(1);
    await sleep(200);
    await cache.getOrLoad('client-by-phone', id, 10_000, load, { negativeTtlMs: 150 });
    expect(load.calls).toBe(2);
  });

  it('caches no null at all with negativeTtlMs 0', async () => {
    const cache = createLookupCache({ store: store(), keys });
    const load = loader(null);
    const id = `nocache-${randomBytes(3).toString('hex')}`;
    await cache.getOrLoad('client-by-phone', id, 10_000, load, { negativeTtlMs: 0 });
    await cache.getOrLoad('client-by-phone', id, 10_000, load, { negativeTtlMs: 0 });
    expect(load.calls).toBe(2);
    expect(cache.stats().storeErrors).toBe(0);
  });

  it('loads once for concurrent misses of one key (single flight)', async () => {
    const cache = createLookupCache({ store: store(), keys });
    const load = loader([{ id: 1, name: 'Akiba Savings' }], 30);
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad('products', 'savings', 60_000, load)));
    expect(load.calls).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
  });

  it('never caches a failed load, and passes the error on unchanged', async () => {
    const cache = createLookupCache({ store: store(), keys });
    const id = `fail-${randomBytes(3).toString('hex')}`;
    const boom = new FineractUnavailable('down', 503);
    await expect(cache.getOrLoad('accounts', id, 60_000, () => Promise.reject(boom))).rejects.toBe(boom);
    const load = loader({ savings: [], loans: [] });
    await cache.getOrLoad('accounts', id, 60_000, load);
    expect(load.calls).toBe(1);
  });

  it('invalidates an entry, and keeps a load in flight from writing back a stale value', async () => {
    const cache = createLookupCache({ store: store(), keys });
    const id = `inv-${randomBytes(3).toString('hex')}`;
    await cache.getOrLoad('accounts', id, 60_000, loader('v1'));
    await cache.invalidate('accounts', id);
    expect(await cache.getOrLoad('accounts', id, 60_000, loader('v2'))).toBe('v2');

    const slow = cache.getOrLoad('accounts', id + 'x', 60_000, loader('stale', 50));
    await sleep(10);
    await cache.invalidate('accounts', id + 'x');
    expect(await slow).toBe('stale'); // its own caller still gets it
    const fresh = loader('fresh');
    expect(await cache.getOrLoad('accounts', id + 'x', 60_000, fresh)).toBe('fresh');
    expect(fresh.calls).toBe(1);
  });
});

describe('lookup cache keys and failures', () => {
  it('uses Cluster-safe keys under the prefix, hashing ids that are not plain', () => {
    expect(lookupKey(keys, 'client-by-phone', '+254711000001')).toBe(`${keys.prefix}:{lc:client-by-phone:+254711000001}:lookup`);
    expect(lookupKey(keys, 'accounts', 7)).toBe(`${keys.prefix}:{lc:accounts:7}:lookup`);
    expect(lookupKey(keys, 'accounts', 'a}b{c')).toMatch(new RegExp(`^${keys.prefix}:\\{lc:accounts:~[A-Za-z0-9_-]{32}\\}:lookup$`));
    expect(() => lookupKey(keys, 'Bad Name', 1)).toThrow(TypeError);
  });

  it('stores JSON that another process reads back', async () => {
    const a = createLookupCache({ store: redis, keys });
    const b = createLookupCache({ store: redis, keys });
    const id = `shared-${randomBytes(3).toString('hex')}`;
    await a.getOrLoad('products', id, 60_000, loader({ id: 1 }));
    const load = loader({ id: 2 });
    expect(await b.getOrLoad('products', id, 60_000, load)).toEqual({ id: 1 });
    expect(load.calls).toBe(0);
    expect(JSON.parse((await redis.get(lookupKey(keys, 'products', id)))!)).toEqual({ v: { id: 1 } });
    expect(await redis.client.pttl(lookupKey(keys, 'products', id))).toBeGreaterThan(59_000);
  });

  it('treats an unreadable entry as a miss', async () => {
    const cache = createLookupCache({ store: redis, keys });
    const id = `junk-${randomBytes(3).toString('hex')}`;
    await redis.set(lookupKey(keys, 'products', id), 'not json', 60_000);
    const load = loader({ ok: true });
    expect(await cache.getOrLoad('products', id, 60_000, load)).toEqual({ ok: true });
    expect(load.calls).toBe(1);
  });

  it('falls through to the loader when the store is down, and never fails the call', async () => {
    const dead = createRedisStore('redis://127.0.0.1:1', { connectTimeoutMs: 100, commandTimeoutMs: 100 });
    try {
      const cache = createLookupCache({ store: dead, keys });
      const load = loader({ clientId: 2 });
      const started = Date.now();
      expect(await cache.getOrLoad('client-by-phone', '+254711000002', 60_000, load)).toEqual({ clientId: 2 });
      expect(await cache.getOrLoad('client-by-phone', '+254711000002', 60_000, load)).toEqual({ clientId: 2 });
      expect(load.calls).toBe(2);
      expect(cache.stats().storeErrors).toBeGreaterThanOrEqual(2);
      expect(Date.now() - started).toBeLessThan(1_000);
      await expect(cache.invalidate('client-by-phone', '+254711000002')).rejects.toThrow(); // the caller must know
    } finally {
      await dead.close();
    }
  });
});
