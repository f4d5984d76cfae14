/**
 * The abuse buckets (threats T22, T28): a request takes from every bucket it names or from none, shared
 * by every process on one Redis (one Lua script, one round trip), or in one process without Redis.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createKeys } from '../../src/session/keys.js';
import { createTokenBuckets, type TokenBuckets } from '../../src/limits/buckets.js';
import { abuseKey, createAbuseLimiter, plainAddress } from '../../src/limits/abuse.js';
import { REDIS_URL, deleteByPrefix, testPrefix } from '../session/helpers/fixtures.js';

const prefix = testPrefix();
const keys = createKeys(prefix);
const redis: RedisStore[] = [];
const openRedis = () => {
  const store = createRedisStore(REDIS_URL);
  redis.push(store);
  return store;
};

afterAll(async () => {
  await deleteByPrefix(redis[0] ?? openRedis(), prefix);
  for (const store of redis) await store.close();
});

let clock = 1_000_000;
const backends: [string, () => TokenBuckets][] = [
  ['memory', () => createTokenBuckets(createMemoryStore(), { now: () => clock })],
  ['redis', () => createTokenBuckets(openRedis())],
];

let n = 0;
const key = (name: string) => abuseKey(keys, 'test', `${name}-${n++}`);

describe.each(backends)('token buckets: %s', (_name, open) => {
  it('gives a bucket its capacity, then refuses with the time until a token is back', async () => {
    const buckets = open();
    const spec = { key: key('a'), capacity: 3, perSecond: 3 / 60 };
    for (let i = 0; i < 3; i++) expect(await buckets.take([spec])).toEqual({ ok: true });
    const refused = await buckets.take([spec]);
    expect(refused).toMatchObject({ ok: false, refused: 0 });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(15_000);
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(20_000);
  });

  it('takes from every bucket or from none', async () => {
    const buckets = open();
    const small = { key: key('small'), capacity: 1, perSecond: 1 / 60 };
    const big = { key: key('big'), capacity: 10, perSecond: 10 / 60 };
    expect(await buckets.take([big, small])).toEqual({ ok: true });
    expect(await buckets.take([big, small])).toMatchObject({ ok: false, refused: 1 });
    // The refused request took nothing from the big bucket: 9 tokens are left there.
    for (let i = 0; i < 9; i++) expect(await buckets.take([big])).toEqual({ ok: true });
    expect(await buckets.take([big])).toMatchObject({ ok: false, refused: 0 });
  });

  it('counts a cost of several tokens, capped at the capacity', async () => {
    const buckets = open();
    const spec = { key: key('cost'), capacity: 4, perSecond: 4 / 60, cost: 3 };
    expect(await buckets.take([spec])).toEqual({ ok: true });
    expect(await buckets.take([spec])).toMatchObject({ ok: false });
    const huge = { key: key('huge'), capacity: 2, perSecond: 2 / 60, cost: 50 };
    expect(await buckets.take([huge])).toEqual({ ok: true });
    expect(await buckets.take([huge])).toMatchObject({ ok: false });
  });
});

describe('token buckets: refill', () => {
  it('refills at the configured rate (memory, moved clock)', async () => {
    const buckets = createTokenBuckets(createMemoryStore(), { now: () => clock });
    const spec = { key: key('refill'), capacity: 2, perSecond: 1 };
    await buckets.take([spec]);
    await buckets.take([spec]);
    expect(await buckets.take([spec])).toMatchObject({ ok: false });
    clock += 1000;
    expect(await buckets.take([spec])).toEqual({ ok: true });
    expect(await buckets.take([spec])).toMatchObject({ ok: false });
  });

  it('shares one bucket between two store clients (two processes) on Redis', async () => {
    const a = createTokenBuckets(openRedis());
    const b = createTokenBuckets(openRedis());
    const spec = { key: key('shared'), capacity: 4, perSecond: 4 / 3600 };
    const results = await Promise.all([a, b, a, b, a, b, a, b].map((x) => x.take([spec])));
    expect(results.filter((r) => r.ok)).toHaveLength(4);
  });
});

describe('abuse limiter', () => {
  it('limits per number and per source, and never per source for a trusted address', async () => {
    const abuse = createAbuseLimiter({
      store: openRedis(),
      keys: createKeys(`${prefix}-abuse-${n++}`),
      numberPerMin: 2,
      sourcePerMin: 3,
      trustedSources: ['10.1.0.0/16', '2001:db8::1'],
    });
    expect(await abuse.admit({ source: '192.0.2.7', msisdn: '+254722000001' })).toEqual({ ok: true });
    expect(await abuse.admit({ source: '192.0.2.7', msisdn: '+254722000001' })).toEqual({ ok: true });
    expect(await abuse.admit({ source: '192.0.2.7', msisdn: '+254722000001' })).toMatchObject({ ok: false, bucket: 'number' });
    expect(await abuse.admit({ source: '192.0.2.7', msisdn: '+254722000002' })).toEqual({ ok: true });
    expect(await abuse.admit({ source: '192.0.2.7', msisdn: '+254722000003' })).toMatchObject({ ok: false, bucket: 'source' });
    // An aggregator's address: thousands of customers, never one caller.
    for (let i = 0; i < 10; i++) expect(await abuse.admit({ source: '10.1.2.3', msisdn: `+25472200010${i}` })).toEqual({ ok: true });
    expect(await abuse.admit({ source: '2001:db8::1', msisdn: '+254722000200' })).toEqual({ ok: true });
    // ...but the per-number bucket still applies to it.
    await abuse.admit({ source: '10.1.2.3', msisdn: '+254722000300' });
    await abuse.admit({ source: '10.1.2.3', msisdn: '+254722000300' });
    expect(await abuse.admit({ source: '10.1.2.3', msisdn: '+254722000300' })).toMatchObject({ ok: false, bucket: 'number' });
    expect(abuse.trusted(plainAddress('::ffff:10.1.9.9'))).toBe(true);
    expect(abuse.trusted('10.2.0.1')).toBe(false);
  });

  it('answers the same trust for an address however many others came between (its kept verdicts are bounded)', () => {
    const abuse = createAbuseLimiter({
      store: createMemoryStore(),
      keys: createKeys(`${prefix}-abuse-${n++}`),
      numberPerMin: 2,
      sourcePerMin: 3,
      trustedSources: ['10.1.0.0/16', '2001:db8::1'],
    });
    for (let round = 0; round < 3; round++) {
      // 3,000 addresses, more than the verdicts kept, half of them in the trusted subnet.
      for (let i = 0; i < 3000; i++) {
        const address = i % 2 === 0 ? `10.1.${i >> 8}.${i & 255}` : `192.0.${i >> 8}.${i & 255}`;
        expect(abuse.trusted(address)).toBe(i % 2 === 0);
      }
      expect(abuse.trusted('2001:db8::1')).toBe(true);
      expect(abuse.trusted('2001:db8::2')).toBe(false);
      expect(abuse.trusted('not-an-address')).toBe(false);
    }
  });

  it('lets requests through when the store is down (the runner answers them politely anyway)', async () => {
    const store = createMemoryStore();
    await store.close();
    const abuse = createAbuseLimiter({
      store,
      keys,
      numberPerMin: 1,
      sourcePerMin: 1,
      trustedSources: [],
      buckets: { take: () => Promise.reject(new Error('down')) },
    });
    expect(await abuse.admit({ source: '192.0.2.1', msisdn: '+254722000001' })).toEqual({ ok: true });
  });
});
