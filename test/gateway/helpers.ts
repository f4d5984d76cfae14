import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FineractHttp } from '../../src/fineract/http.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { afterAll, beforeAll, expect } from 'vitest';
import { createSharedLimiter } from '../../src/limits/limiter.js';
import type { LimiterOptions, SharedLimiter } from '../../src/limits/limiter-types.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A limiter id no other test (or earlier run) uses. */
export const uniqueId = (what: string) => `kiunga-test-${what}-${randomBytes(4).toString('hex')}`;

/** A direct HTTP requester to a sandbox with the demo credentials. */
export function httpTo(sandbox: Sandbox, timeoutMs = 5_000): FineractHttp {
  return new FineractHttp({ baseUrl: sandbox.url, tenant: 'default', username: 'mifos', password: 'password', timeoutMs });
}

/** One "process": its own Redis connection, built the way the server builds it (fail fast). */
export async function openRedis(url = REDIS_URL): Promise<RedisStore> {
  const store = createRedisStore(url);
  await store.ping();
  return store;
}

/** Deletes bottleneck's keys of one limiter id (`b_{id}_...`). */
export async function dropLimiterKeys(store: RedisStore, id: string): Promise<void> {
  const keys = await store.client.keys(`b_{${id}}_*`);
  if (keys.length) await store.client.del(...keys);
}

/**
 * Two "processes" (a Redis connection each) for a test file, and the shared limiters it makes on them: each
 * limiter is ready when returned; after the file they are closed, the ids pushed to `ids` lose their keys,
 * and the connections close.
 */
export function twoProcesses() {
  const limiters: SharedLimiter[] = [];
  const fx = {
    redisA: undefined as unknown as RedisStore,
    redisB: undefined as unknown as RedisStore,
    ids: [] as string[],
    async limiter(redis: RedisStore, options: Omit<LimiterOptions, 'redis'>): Promise<SharedLimiter> {
      const l = createSharedLimiter({ redis: redis.client, ...options });
      limiters.push(l);
      expect(await l.ready()).toBe(true);
      return l;
    },
  };
  beforeAll(async () => {
    [fx.redisA, fx.redisB] = await Promise.all([openRedis(), openRedis()]);
  });
  afterAll(async () => {
    await Promise.all(limiters.map((l) => l.close()));
    for (const id of fx.ids) await dropLimiterKeys(fx.redisA, id);
    await Promise.all([fx.redisA.close(), fx.redisB.close()]);
  });
  return fx;
}

/** The most requests that arrived within any window of `windowMs` (sliding). */
export function maxInWindow(times: readonly number[], windowMs = 1_000): number {
  const at = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i]! - at[j]! >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

/** Requests the sandbox received on one API path suffix (e.g. `/clients/1`). */
export function hits(sandbox: Sandbox, suffix?: string, method?: string) {
  return sandbox.control.requests.filter((r) => (!suffix || r.path.endsWith(suffix)) && (!method || r.method === method));
}

/** Samples how many requests the sandbox holds at once (received, not yet answered) until `stop()`. */
export function watchInFlight(sandboxes: Sandbox[], everyMs = 2): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const n = sandboxes.reduce((sum, s) => sum + s.control.requests.filter((r) => r.status === undefined).length, 0);
      max = Math.max(max, n);
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

/** The rejection of a promise that must reject. */
export async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}
