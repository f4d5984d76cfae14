/**
 * Redis restart resilience with our own redis-server child: while Redis is down a store operation fails
 * fast with StoreUnavailable (it must never hang a USSD hop), and the same store object serves again by
 * itself once Redis is back, with no restart of Kiunga.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { StoreUnavailable } from '../../src/session/errors.js';
import { withLock } from '../../src/session/lock.js';
import { cli, freePort, startRedis, stopAll, type RedisProcess } from './helpers/redis-server.js';
import { captureLogs } from './helpers/fixtures.js';

let redis: RedisProcess;
let store: RedisStore;

beforeAll(async () => {
  redis = await startRedis({ extra: ['--enable-debug-command', 'local'] });
  store = createRedisStore(redis.url);
});
afterAll(async () => {
  await store?.close();
  await stopAll();
});

async function timed<T>(promise: Promise<T>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { ms: performance.now() - started, error };
}

describe('redis store across a Redis restart', () => {
  it('rejects a command Redis does not answer after commandTimeoutMs (a hung or unreachable server)', async () => {
    await store.ping();
    const sleeping = cli(redis.port, 'debug', 'sleep', '1.5').catch(() => undefined);
    await sleep(100);
    const { ms, error } = await timed(store.get('k'));
    expect(error).toBeInstanceOf(StoreUnavailable);
    expect(ms).toBeGreaterThan(900); // the default commandTimeoutMs is 1000
    expect(ms).toBeLessThan(3000);
    console.info(`redis hung: get rejected after ${ms.toFixed(0)} ms`);
    await sleeping;
  });

  it('fails fast while Redis is down and recovers by itself when it is back', async () => {
    await store.set('k', 'before');
    expect(await store.get('k')).toBe('before');

    // A command in flight when Redis dies is rejected at once, not kept for a replay.
    const sleeping = cli(redis.port, 'debug', 'sleep', '5').catch(() => undefined);
    await sleep(100);
    const inFlight = timed(store.get('k')).then((r) => ({ ...r, at: performance.now() }));
    await sleep(20);
    const killed = performance.now();
    await redis.kill();
    const lost = await inFlight;
    expect(lost.error).toBeInstanceOf(StoreUnavailable);
    expect(lost.at - killed).toBeGreaterThan(0); // it was really waiting on the sleeping server
    expect(lost.at - killed).toBeLessThan(500);
    await sleeping;

    // Once down, the next command rejects without waiting.
    const first = await timed(store.get('k'));
    expect(first.error).toBeInstanceOf(StoreUnavailable);
    expect(first.ms).toBeLessThan(3000);

    // While it stays down, every operation (a whole hop's worth) keeps failing fast.
    await sleep(300);
    const ops: Promise<unknown>[] = [store.get('k'), store.setIfAbsent('lock', 't', 1000), store.increment('n', 1000)];
    for (const op of ops) {
      const { ms, error } = await timed(op);
      expect(error).toBeInstanceOf(StoreUnavailable);
      expect(ms).toBeLessThan(3000);
    }
    const hop = await timed(withLock(store, 'lock', { ttlMs: 1000, waitMs: 2000 }, async () => 'served'));
    expect(hop.error).toBeInstanceOf(StoreUnavailable);
    console.info(
      `redis down: in-flight get rejected ${(lost.at - killed).toFixed(1)} ms after SIGKILL, ` +
        `next get in ${first.ms.toFixed(1)} ms, a locked hop in ${hop.ms.toFixed(1)} ms`,
    );

    await redis.restart();
    const restarted = performance.now();
    let recovered = false;
    while (!recovered && performance.now() - restarted < 5000) {
      recovered = await store.ping().then(
        () => true,
        () => false,
      );
      if (!recovered) await sleep(20);
    }
    expect(recovered).toBe(true);
    console.info(`redis back: store served again ${(performance.now() - restarted).toFixed(0)} ms after the restart`);
    await store.set('k', 'after');
    expect(await store.get('k')).toBe('after');
    expect(await withLock(store, 'lock', { ttlMs: 1000, waitMs: 100 }, async () => 'served')).toBe('served');
  });

  it('fails fast, without the password, when Redis was never reachable, and connects once it starts', async () => {
    const logs = captureLogs('info');
    const port = await freePort();
    const late = createRedisStore(`redis://:S3cr%40tPw@127.0.0.1:${port}`, { logger: logs.logger, connectTimeoutMs: 300 });
    try {
      const first = await timed(late.get('k'));
      expect(first.error).toBeInstanceOf(StoreUnavailable);
      expect(first.ms).toBeLessThan(1000); // waits at most connectTimeoutMs for the first connection
      // Past start-up nothing waits any more.
      const again = await timed(late.ping());
      expect(again.error).toBeInstanceOf(StoreUnavailable);
      expect(again.ms).toBeLessThan(50);
      const error = first.error as Error;
      const text = `${error.message} ${error.stack} ${logs.text()}`;
      expect(logs.text()).toContain('redis unavailable');
      expect(text).not.toContain('S3cr');

      // Redis comes up after Kiunga.
      await startRedis({ port, extra: ['--requirepass', 'S3cr@tPw'] });
      const started = performance.now();
      let served = false;
      while (!served && performance.now() - started < 5000) {
        served = await late.ping().then(
          () => true,
          () => false,
        );
        if (!served) await sleep(20);
      }
      expect(served).toBe(true);
      expect(logs.text()).toContain('redis connection ready');
    } finally {
      await late.close();
    }
  });
});
