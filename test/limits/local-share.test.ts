/**
 * The local share (src/limits/local-share.ts): each process spends a part of the limit from memory, so a lone
 * call far under the limit makes no Redis round trip, while the sum of everything stays within the limit.
 * Each "process" is a limiter on its own Redis connection, sharing one limiter id, on the real Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createSharedLimiter } from '../../src/limits/limiter.js';
import type { LimiterOptions, SharedLimiter } from '../../src/limits/limiter-types.js';
import { liveSetKey } from '../../src/limits/local-share.js';
import type { RedisStore } from '../../src/session/redis-store.js';
import { dropLimiterKeys, maxInWindow, openRedis, REDIS_URL, uniqueId } from '../gateway/helpers.js';

const stores: RedisStore[] = [];
const limiters: SharedLimiter[] = [];
const ids: string[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) c.kill();
  await Promise.all(limiters.map((l) => l.close()));
  for (const id of ids) {
    await dropLimiterKeys(stores[0]!, id);
    await stores[0]!.client.del(liveSetKey(id));
  }
  await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
});

/** A "process": a limiter on a Redis connection of its own. */
async function processOn(options: Omit<LimiterOptions, 'redis'>): Promise<{ limiter: SharedLimiter; store: RedisStore }> {
  const store = await openRedis();
  stores.push(store);
  const limiter = createSharedLimiter({ redis: store.client, ...options });
  limiters.push(limiter);
  expect(await limiter.ready()).toBe(true);
  return { limiter, store };
}

const call = (l: SharedLimiter, starts: number[] = [], holdMs = 0) =>
  l.schedule({
    priority: 'read',
    startBy: Date.now() + 30_000,
    where: 'GET /x',
    run: async () => {
      starts.push(Date.now());
      if (holdMs) await sleep(holdMs);
    },
  });

/** Polls `check` every 20 ms until it holds (or fails the test after `ms`). */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await sleep(20)) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
  }
}

/**
 * Redis's MONITOR through `redis-cli`: every command a client sent (not those a script runs) that touches `id`,
 * as its words. ioredis's own monitor() loses track of its replies on a Redis other test files keep busy.
 */
async function monitor(id: string): Promise<{ lines: string[][]; stop(): void }> {
  const child = spawn('redis-cli', ['-u', REDIS_URL, 'monitor'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[][] = [];
  let rest = '';
  const started = once(child.stdout!, 'data'); // "OK": monitoring from here on
  child.stdout!.on('data', (chunk: Buffer) => {
    const all = (rest + chunk.toString('utf8')).split('\n');
    rest = all.pop() ?? '';
    for (const line of all) {
      if (!line.includes(id) || / lua\]/.test(line)) continue;
      lines.push([...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!));
    }
  });
  await started;
  return { lines, stop: () => void child.kill() };
}

/** Periodic work, not a call's: bottleneck's own heartbeat script (its clock and client id after the keys) and the live set's. */
function isBackground(words: string[]): boolean {
  const [name, , numKeys] = words;
  if (!/^eval(sha)?$/i.test(name ?? '')) return false;
  const keys = words.slice(3, 3 + Number(numKeys));
  if (keys.length === 1 && keys[0]!.endsWith(':live')) return true;
  return keys.every((k) => k.startsWith('b_')) && words.length - 3 - keys.length === 2;
}

describe('local share of the limit', () => {
  it('should start a lone call far under the limit with no Redis command (the shared path costs a grant of three scripts)', async () => {
    const counts: Record<string, { commands: number; fromLocal: number; batches: number }> = {};
    for (const localShare of [0.2, 0]) {
      const id = uniqueId(`local-lone-${localShare}`);
      ids.push(id);
      // The Fineract defaults: 50/s, 16 in flight, a wider pace margin.
      const { limiter } = await processOn({ id, ratePerSecond: 50, maxConcurrent: 16, paceMargin: 0.1, localShare });
      await call(limiter); // connections warm
      await sleep(300); // idle
      const watch = await monitor(id);
      await call(limiter);
      await sleep(300); // anything the call left behind (a free) is sent by then
      watch.stop();
      const own = watch.lines.filter((w) => !isBackground(w));
      const stats = limiter.stats();
      // A grant answered after its due time plus the lease (a loaded machine) starts nothing and is asked again.
      counts[localShare] = { commands: own.length, fromLocal: stats.fromLocal, batches: stats.batches - stats.lateGrants };
    }
    // The control: without a local share the same call is a bottleneck job (submit, register, free).
    expect(counts[0], JSON.stringify(counts)).toMatchObject({ fromLocal: 0, batches: 2 });
    expect(counts[0]!.commands).toBeGreaterThanOrEqual(3);
    expect(counts[0.2], JSON.stringify(counts)).toEqual({ commands: 0, fromLocal: 2, batches: 0 });
  });

  it('should cost an idle process one live-set heartbeat per period and nothing else of its own', async () => {
    const id = uniqueId('local-idle');
    ids.push(id);
    const { limiter } = await processOn({ id, ratePerSecond: 50, maxConcurrent: 16, localShare: 0.2, shareHeartbeatMs: 500 });
    await call(limiter);
    const watch = await monitor(id);
    await sleep(1_600);
    watch.stop();
    const heartbeats = watch.lines.filter((w) => isBackground(w) && w.some((k) => k.endsWith(':live')));
    expect(heartbeats.length).toBeGreaterThanOrEqual(2);
    expect(heartbeats.length).toBeLessThanOrEqual(4);
    expect(watch.lines.filter((w) => !isBackground(w))).toEqual([]);
  });

  it('should shrink the shares when a process joins and grow them once a dead one expires (or a closed one leaves)', async () => {
    const id = uniqueId('local-shares');
    ids.push(id);
    // Pool: 20 of 40/s (19 after the pace margin) and 20 of 40 slots. Heartbeat 100 ms, calls settle in 1 s.
    const options = { id, ratePerSecond: 40, maxConcurrent: 40, localShare: 0.5, shareHeartbeatMs: 100, maxRunMs: 1_000 };
    const a = await processOn(options);
    // Alone at registration: a share at once.
    expect(a.limiter.stats().localShare).toMatchObject({ processes: 1, perSecond: 19, slots: 20 });

    const b = await processOn(options);
    // B must not take a share before A has counted it and A's larger share has settled.
    expect(b.limiter.stats().localShare).toMatchObject({ processes: 2, perSecond: 0 });
    await until('A counts B', () => a.limiter.stats().localShare.processes === 2);
    expect(a.limiter.stats().localShare).toMatchObject({ perSecond: 9, slots: 10 });
    await until('B takes its share', () => b.limiter.stats().localShare.perSecond > 0);
    expect(b.limiter.stats().localShare).toMatchObject({ processes: 2, perSecond: 9, slots: 10 });

    const c = await processOn(options);
    await until('A counts C', () => a.limiter.stats().localShare.processes === 3);
    expect(a.limiter.stats().localShare).toMatchObject({ perSecond: 6, slots: 6 });

    // C dies (its connection drops: no more heartbeats). Its entry stays until it expires: A and B do not grow yet.
    c.store.client.disconnect();
    expect(c.limiter.stats().localShare.perSecond).toBe(0); // no Redis, no local share
    await sleep(300);
    expect(a.limiter.stats().localShare.processes).toBe(3);
    await until('C expires', () => a.limiter.stats().localShare.processes === 2);
    expect(a.limiter.stats().localShare).toMatchObject({ perSecond: 9, slots: 10 });

    // B closes once its local calls settled: it leaves the set and A grows at its next heartbeat.
    await b.limiter.close();
    await until('B leaves', () => a.limiter.stats().localShare.processes === 1, 1_000);
    expect(a.limiter.stats().localShare).toMatchObject({ perSecond: 19, slots: 20 });
  });

  it('should wait before taking a share again when its entry vanished, even alone (Redis lost the set while others may still use theirs)', async () => {
    const id = uniqueId('local-lost');
    ids.push(id);
    const options = { id, ratePerSecond: 40, maxConcurrent: 40, localShare: 0.5, shareHeartbeatMs: 100, maxRunMs: 1_000 };
    const a = await processOn(options);
    expect(a.limiter.stats().localShare).toMatchObject({ processes: 1, perSecond: 19 });
    await a.store.client.del(liveSetKey(id)); // as a Redis restart without persistence would
    await until('A finds its entry gone', () => a.limiter.stats().localShare.perSecond === 0, 2_000);
    expect(a.limiter.stats().localShare.processes).toBe(1);
    await until('A takes its share again', () => a.limiter.stats().localShare.perSecond === 19);
  });

  it('should keep a burst across three processes, and a fourth joining mid-burst, within the rate in every sliding second', async () => {
    const id = uniqueId('local-burst');
    ids.push(id);
    // 40/s: 20 local (19 paced, 6 per process of three, 4 of four), 20 shared through bottleneck (paced at 19/s).
    const options = { id, ratePerSecond: 40, maxConcurrent: 40, localShare: 0.5, shareHeartbeatMs: 100, maxRunMs: 1_000 };
    const ps = [await processOn(options), await processOn(options), await processOn(options)];
    await until('every process has its share', () => ps.every((p) => p.limiter.stats().localShare.perSecond === 6));
    const starts: number[] = [];
    const calls = ps.flatMap((p) => Array.from({ length: 60 }, () => call(p.limiter, starts)));
    await sleep(1_500);
    const late = await processOn(options);
    const lateCalls = Array.from({ length: 40 }, () => call(late.limiter, starts));
    await until('the fourth takes its share', () => late.limiter.stats().localShare.perSecond > 0);
    expect(ps.map((p) => p.limiter.stats().localShare.perSecond)).toEqual([4, 4, 4]);
    const results = await Promise.allSettled([...calls, ...lateCalls]);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(starts).toHaveLength(220);
    const first = Math.min(...starts);
    const stats = [...ps, late].map((p) => p.limiter.stats());
    expect(maxInWindow(starts), `starts (ms): ${starts.map((t) => t - first).join(' ')}; ${JSON.stringify(stats)}`).toBeLessThanOrEqual(40);
    // Both ways were used, by every process.
    for (const s of stats) {
      expect(s.fromLocal).toBeGreaterThan(0);
      expect(s.batches).toBeGreaterThan(0);
    }
  }, 30_000);

  it('should keep the calls in flight within maxConcurrent across processes (local slots are not bottleneck slots)', async () => {
    const id = uniqueId('local-slots');
    ids.push(id);
    // 8 in flight: 4 local slots (2 per process), 4 shared. A high rate: only the slots bind.
    const options = { id, ratePerSecond: 2_000, maxConcurrent: 8, localShare: 0.5, shareHeartbeatMs: 100, maxRunMs: 1_000 };
    const [a, b] = [await processOn(options), await processOn(options)];
    await until('both have a share', () => [a, b].every((p) => p.limiter.stats().localShare.slots === 2));
    let running = 0;
    let most = 0;
    const held = (l: SharedLimiter) =>
      l.schedule({
        priority: 'read',
        startBy: Date.now() + 30_000,
        where: 'GET /x',
        run: async () => {
          most = Math.max(most, ++running);
          await sleep(150);
          running--;
        },
      });
    await Promise.all([a, b].flatMap((p) => Array.from({ length: 16 }, () => held(p.limiter))));
    expect(most).toBeLessThanOrEqual(8);
    expect(most).toBeGreaterThanOrEqual(6); // really in parallel, local and shared together
    expect(a.limiter.stats().fromLocal + b.limiter.stats().fromLocal).toBeGreaterThan(0);
  }, 30_000);
});
