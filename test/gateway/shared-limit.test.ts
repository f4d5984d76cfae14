/**
 * The shared limit across processes, measured where it matters: at a real (sandbox) Fineract. Each
 * "process" is a gateway on its own Redis connection, sharing one limiter id.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFineractGateway, FineractNotSent, type FineractGateway } from '../../src/fineract/gateway.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import type { RedisStore } from '../../src/session/redis-store.js';
import { dropLimiterKeys, failure, hits, httpTo, maxInWindow, openRedis, uniqueId, watchInFlight } from './helpers.js';

let sandbox: Sandbox;
let redisA: RedisStore;
let redisB: RedisStore;
const ids: string[] = [];
let gateways: FineractGateway[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  [redisA, redisB] = await Promise.all([openRedis(), openRedis()]);
});
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
  sandbox.control.reset();
  sandbox.control.clearRequests();
});
afterAll(async () => {
  for (const id of ids) await dropLimiterKeys(redisA, id);
  await Promise.all([redisA.close(), redisB.close()]);
  await sandbox.close();
});

/** Two gateways ("processes") on two Redis connections sharing one limiter. */
async function twoProcesses(
  options: { ratePerSecond: number; maxConcurrent: number; paceMargin?: number },
  warm = false,
): Promise<[FineractGateway, FineractGateway]> {
  const id = uniqueId('shared');
  ids.push(id);
  const make = (redis: RedisStore) =>
    createFineractGateway({ primary: httpTo(sandbox), redis: redis.client, id, maxQueueMs: 20_000, ...options });
  const pair: [FineractGateway, FineractGateway] = [make(redisA), make(redisB)];
  gateways.push(...pair);
  expect(await Promise.all(pair.map((g) => g.ready()))).toEqual([true, true]);
  if (warm) {
    // Warm the HTTP connections (their set-up is not the limiter's doing), then let the reservoir refill.
    await Promise.all(pair.map((g) => g.request('GET', '/clients/1')));
    await new Promise((r) => setTimeout(r, 1_000));
  }
  sandbox.control.clearRequests();
  return pair;
}

describe('shared rate limit (two processes, one Redis)', () => {
  it('achieves the configured rate, never more: 120 calls at 20/s', async () => {
    const [a, b] = await twoProcesses({ ratePerSecond: 20, maxConcurrent: 10 }, true);
    const started = Date.now();
    const calls = Array.from({ length: 60 }, () => [a.request('GET', '/clients/1'), b.request('GET', '/clients/2')]).flat();
    const results = await Promise.allSettled(calls);
    const elapsed = Date.now() - started;

    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const arrivals = hits(sandbox).map((r) => r.at);
    expect(arrivals).toHaveLength(120);
    // The ceiling: at no moment did Fineract see more than 20 calls in a second (+1 for clock slack).
    const first = Math.min(...arrivals);
    const timeline = arrivals.map((t) => t - first).join(' ');
    expect(maxInWindow(arrivals), `arrivals (ms): ${timeline}`).toBeLessThanOrEqual(21);
    // The floor: the rate is really used, not throttled to a fraction (the 5 s heartbeat gave 4/s).
    expect(elapsed, `arrivals (ms): ${timeline}`).toBeLessThan(8_000);
    expect(elapsed).toBeGreaterThan(4_500);
    // Both processes got their share.
    expect(a.stats().limiter.started).toBe(61); // with the warm-up call
    expect(b.stats().limiter.started).toBe(61);
    // A token is asked for only while somebody waits: none is spent on an empty queue, but the last one. (A grant
    // answered after its due time plus the lease, on a loaded machine, is not used either: one token each here.)
    const [sa, sb] = [a.stats().limiter, b.stats().limiter];
    expect(sa.wastedTokens + sb.wastedTokens - sa.lateGrants - sb.lateGrants, JSON.stringify([sa, sb])).toBeLessThanOrEqual(2);
  });

  it('refills the shared reservoir on time when it is the binding limit (heartbeat pitfall)', async () => {
    // No pacing margin: each second's 20 tokens run out and waiting processes depend on bottleneck's
    // heartbeat to see the refill. With its 5 s default this ran 20 calls per 5 s.
    const [a, b] = await twoProcesses({ ratePerSecond: 20, maxConcurrent: 10, paceMargin: 0 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 30 }, () => [a.request('GET', '/clients/1'), b.request('GET', '/clients/1')]).flat());
    const elapsed = Date.now() - started;
    expect(hits(sandbox)).toHaveLength(60);
    expect(elapsed).toBeGreaterThan(2_500);
    expect(elapsed).toBeLessThan(4_500);
  });

  it('caps the calls in flight across both processes', async () => {
    const [a, b] = await twoProcesses({ ratePerSecond: 200, maxConcurrent: 3 });
    sandbox.control.latencyMs = 150;
    const watch = watchInFlight([sandbox]);
    const started = Date.now();
    await Promise.all(Array.from({ length: 8 }, () => [a.request('GET', '/clients/1'), b.request('GET', '/clients/1')]).flat());
    const elapsed = Date.now() - started;
    const maxInFlight = await watch.stop();

    expect(hits(sandbox)).toHaveLength(16);
    expect(maxInFlight).toBe(3); // never more, and really 3 (not serialised to 1)
    expect(elapsed).toBeGreaterThanOrEqual(Math.floor(16 / 3) * 150); // 6 rounds of 150 ms at best
  });

  it('refuses at once, sending nothing, when Redis is down', async () => {
    // A real client to a port nothing listens on: the limiter cannot know the shared count.
    const { createRedisStore } = await import('../../src/session/redis-store.js');
    const dead = createRedisStore('redis://127.0.0.1:1', { connectTimeoutMs: 200 });
    const gateway = createFineractGateway({
      primary: httpTo(sandbox),
      redis: dead.client,
      id: uniqueId('dead'),
      ratePerSecond: 10,
      maxConcurrent: 2,
    });
    gateways.push(gateway);
    try {
      const started = Date.now();
      const err = await failure(gateway.request('GET', '/clients/1'));
      expect(err).toBeInstanceOf(FineractNotSent);
      expect(err).toMatchObject({ kind: 'unavailable', reason: 'limiter unavailable', executed: false });
      expect(Date.now() - started).toBeLessThan(100);
      expect(hits(sandbox)).toHaveLength(0);
      expect(gateway.stats().limiter.connected).toBe(false);
      expect(await gateway.ready(100)).toBe(false); // bounded: start-up does not hang on Redis
    } finally {
      await gateway.close();
      await dead.close();
    }
  });

  it('leaves the shared Redis client open on close', async () => {
    const [a] = await twoProcesses({ ratePerSecond: 10, maxConcurrent: 2 });
    await a.request('GET', '/clients/1');
    await a.close();
    await expect(redisA.ping()).resolves.toBeUndefined();
    expect(await failure(a.request('GET', '/clients/1'))).toMatchObject({ reason: 'closed' });
  });
});
