/**
 * What the limiter relies on in bottleneck (clustered on a real Redis), and the workarounds of
 * src/limits/bottleneck-workarounds.ts. When a bottleneck upgrade changes one of these behaviours, the test
 * of that behaviour fails: the workaround may then go.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Bottleneck from 'bottleneck';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lostState } from '../../src/limits/bottleneck-workarounds.js';
import { createSharedLimiter, RateLimited } from '../../src/limits/limiter.js';
import type { SharedLimiter } from '../../src/limits/limiter-types.js';
import type { RedisStore } from '../../src/session/redis-store.js';
import { dropLimiterKeys, openRedis, REDIS_URL, uniqueId } from '../gateway/helpers.js';

let store: RedisStore;
const ids: string[] = [];
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  store = await openRedis();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  for (const id of ids) await dropLimiterKeys(store, id);
  await store.close();
});

/** A clustered bottleneck on its own connection, as the limiter builds it, with a heartbeat that never comes. */
async function clustered(options: Bottleneck.ConstructorOptions): Promise<{ limiter: Bottleneck; id: string }> {
  const id = uniqueId('bottleneck');
  ids.push(id);
  const connection = new Bottleneck.IORedisConnection({ client: store.client.duplicate() });
  const limiter = new Bottleneck({
    id: `{${id}}`,
    datastore: 'ioredis',
    connection,
    clearDatastore: true,
    heartbeatInterval: 600_000,
    ...options,
  });
  limiter.on('error', () => undefined);
  closers.push(() => connection.disconnect(false));
  await limiter.ready();
  return { limiter, id };
}

function limiterOn(id: string): SharedLimiter {
  ids.push(id);
  const limiter = createSharedLimiter({ redis: store.client, id, ratePerSecond: 20, maxConcurrent: 4 });
  closers.push(() => limiter.close());
  return limiter;
}

const call = (limiter: SharedLimiter, run: () => Promise<unknown> = async () => 'ok') =>
  limiter.schedule({ priority: 'read', startBy: Date.now() + 2_000, where: 'GET /x', run });

describe('bottleneck (clustered) as the limiter relies on it', () => {
  it('should refill its reservoir only when a script runs, so a waiting job needs a nudge (refreshWhileWaiting)', async () => {
    // A second's interval: the first job's own scripts (register, then free when it ends) all run well inside
    // it even on a busy machine, so none of them refreshes the reservoir (at 50 ms, a late free did).
    const { limiter } = await clustered({ reservoir: 1, reservoirRefreshAmount: 1, reservoirRefreshInterval: 1_000 });
    await limiter.schedule(async () => 'first');
    let second = false;
    const waiting = limiter.schedule(async () => void (second = true));
    await sleep(3_000); // three refresh intervals pass, and no script runs
    expect(second).toBe(false);
    expect(limiter.counts().QUEUED).toBe(1);
    await limiter.currentReservoir(); // the nudge: a script runs, the reservoir refills, the job is told
    await waiting;
    expect(second).toBe(true);
  });

  it('should not recover from its keys being lost while Redis 7 prefixes ERR to script errors (lostState)', async () => {
    const { limiter, id } = await clustered({ maxConcurrent: 2 });
    await dropLimiterKeys(store, id); // as a Redis restart without persistence would
    const version = Number(/redis_version:(\d+)/.exec(await store.client.info('server'))?.[1]);
    const err = await limiter.currentReservoir().then(
      () => undefined,
      (e: unknown) => e,
    );
    if (version >= 7) {
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toBe('ERR SETTINGS_KEY_NOT_FOUND');
      expect(lostState(err)).toBe(true);
    } else {
      expect(err).toBeUndefined(); // bottleneck re-creates its keys by itself: no workaround needed there
    }
  });
});

describe('shared limiter on Redis', () => {
  it("should re-create bottleneck's lost keys by itself and serve again (a Redis restart without persistence)", async () => {
    const id = uniqueId('lost-keys');
    const limiter = limiterOn(id);
    expect(await limiter.ready()).toBe(true);
    expect(await call(limiter)).toBe('ok');
    await dropLimiterKeys(store, id);
    let served: unknown;
    for (let i = 0; i < 10 && served === undefined; i++) {
      served = await call(limiter).catch((e: unknown) => {
        if (!(e instanceof RateLimited)) throw e;
        return undefined;
      });
      if (served === undefined) await sleep(200); // the new instance connects and re-creates the keys
    }
    expect(served).toBe('ok');
    expect((await store.client.keys(`b_{${id}}_*`)).length).toBeGreaterThan(0);
  }, 60_000);

  it("should run no Redis script while nobody waits (at most bottleneck's own 5 s heartbeat)", async () => {
    const id = uniqueId('idle');
    const limiter = limiterOn(id);
    expect(await limiter.ready()).toBe(true);
    await Promise.all(Array.from({ length: 5 }, () => call(limiter)));
    let commands = 0;
    const monitor = await startMonitor((line) => {
      if (line.includes(`b_{${id}}_`)) commands++;
    });
    closers.push(async () => void monitor.kill());
    await sleep(1_000); // idle: only time passes
    // The heartbeat of 100 ms this replaces ran ten scripts a second in every process.
    expect(commands).toBeLessThanOrEqual(1);
  });
});

/**
 * Redis's MONITOR through `redis-cli`, one call per line it prints. ioredis's own monitor() loses track of its
 * replies when monitored lines arrive with MONITOR's OK on a Redis other test files keep busy.
 */
async function startMonitor(onLine: (line: string) => void): Promise<ChildProcess> {
  const child = spawn('redis-cli', ['-u', REDIS_URL, 'monitor'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let rest = '';
  const started = once(child.stdout!, 'data'); // "OK": monitoring from here on
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  await started;
  return child;
}
