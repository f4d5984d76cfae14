import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { cli, startRedis, stopAll, type RedisProcess } from '../session/helpers/redis-server.js';
import { event, field, freshKeys, rows, trail } from './helpers.js';

/**
 * The audit trail when Redis does not answer (threat T16): a customer's hop is not held, the entry is kept
 * and written once Redis answers, and an append that timed out but ran anyway is never written twice.
 * Runs on a redis-server of its own, since it pauses it.
 */

let redis: RedisProcess;
let store: RedisStore;
beforeAll(async () => {
  redis = await startRedis();
  store = createRedisStore(redis.url);
  await store.ping();
});
afterAll(async () => {
  await store?.close();
  await stopAll();
});

const buffered = async (log: { metrics: { get(): Promise<{ values: { value: number }[] }> }[] }, name = 'kiunga_audit_buffered') => {
  const gauge = log.metrics.find((m) => (m as unknown as { name: string }).name === name)!;
  return (await gauge.get()).values[0]?.value;
};

describe('audit trail while Redis does not answer', () => {
  it('should let record() return, keep the entry, and write it once when Redis answers again', async () => {
    const keys = freshKeys();
    const log = trail(store, keys, { waitMs: 100 });
    await log.record(event(1));
    await log.record(event(2));
    // Writes wait in Redis for 1.5 s: the append outlives the client's 1 s command timeout, then runs.
    await cli(redis.port, 'CLIENT', 'PAUSE', '1500', 'WRITE');
    const third = event(3);
    await log.record(third);
    expect(await buffered(log)).toBe(1);
    expect(await log.flush(10_000)).toBe(true);
    expect(await buffered(log)).toBe(0);

    const stored = await rows(store.client as Redis, keys);
    // Written once: the timed-out append did run, and the retry found it instead of appending a copy.
    expect(stored).toHaveLength(3);
    expect(JSON.parse(field(stored[2]![1], 'e')).data.idempotencyKey).toBe(third.data!.idempotencyKey);
    expect(await verifyAudit({ store, keys })).toEqual({ ok: true, entries: 3, checkpoints: 0 });
    await log.close();
  });
});
