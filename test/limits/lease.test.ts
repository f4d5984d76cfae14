/**
 * Leases (src/limits/limiter-lease.ts, used by src/limits/limiter.ts): one bottleneck grant reserves a batch of
 * tokens, and calls arriving while it lasts start from process memory, with no Redis round trip. The shared
 * limit must still hold across processes: each "process" here is a limiter on its own Redis connection,
 * sharing one limiter id.
 */
import { describe, expect, it } from 'vitest';
import type { SharedLimiter } from '../../src/limits/limiter-types.js';
import { maxInWindow, twoProcesses, uniqueId } from '../gateway/helpers.js';

const fx = twoProcesses();
const { ids, limiter } = fx;

/** One call that records when it started. */
const call = (l: SharedLimiter, starts: number[]) =>
  l.schedule({
    priority: 'read',
    startBy: Date.now() + 30_000,
    where: 'GET /x',
    run: async () => void starts.push(Date.now()),
  });

describe('limiter leases', () => {
  it('should start most calls of a steady stream from a lease in memory, not one grant (three Redis scripts) each', async () => {
    const id = uniqueId('lease-stream');
    ids.push(id);
    // A lease long enough not to lapse during the test: the count below does not depend on speed.
    const l = await limiter(fx.redisA, { id, ratePerSecond: 2_000, maxConcurrent: 256, leaseMs: 30_000 });
    const starts: number[] = [];
    for (let i = 0; i < 100; i++) await call(l, starts); // one at a time, as hops come
    const stats = l.stats();
    expect(starts).toHaveLength(100);
    expect(stats.started).toBe(100);
    // Leases of 10, then 64 (a quarter of maxConcurrent, for calls not here yet): three grants for a hundred calls.
    expect(stats.batches, JSON.stringify(stats)).toBeLessThanOrEqual(5);
    expect(stats.fromLease).toBeGreaterThanOrEqual(95);
  });

  it("should hold a lease's running slots until it lapses, then free them for the other processes", async () => {
    const id = uniqueId('lease-slots');
    ids.push(id);
    // A lease of 4 tokens (a quarter of 16 in flight) that would last five minutes holds 4 slots; B wants all 16.
    const a = await limiter(fx.redisA, { id, ratePerSecond: 2_000, maxConcurrent: 16, leaseMs: 300_000 });
    const b = await limiter(fx.redisB, { id, ratePerSecond: 2_000, maxConcurrent: 16 });
    await call(a, []);
    // B's calls run until A's lease ends: at most 12 at once while it holds its 4 slots.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let running = 0;
    let most = 0;
    const bCalls = Array.from({ length: 16 }, () =>
      b.schedule({
        priority: 'read',
        startBy: Date.now() + 30_000,
        where: 'GET /x',
        run: async () => {
          most = Math.max(most, ++running);
          await held;
          running--;
        },
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(most).toBeLessThanOrEqual(12); // A's unused tokens still hold their slots: the cap across processes holds
    await a.close(); // the lease lapses: its slots are freed
    release();
    await Promise.all(bCalls);
    expect(a.stats().wastedTokens).toBe(3);
  });

  it('should start nothing from a grant that comes later than its due time plus the lease (the call waits for the next grant)', async () => {
    const id = uniqueId('lease-late');
    ids.push(id);
    // The limiter's clock runs a second ahead of bottleneck's until the first grant was seen late: that grant's
    // callback comes, in the limiter's eyes, a second after the time bottleneck gave it. A late grant started at
    // once would put its calls beside grants given after it (each process can hold one).
    let ahead = 1_000;
    const l = await limiter(fx.redisA, { id, ratePerSecond: 20, maxConcurrent: 4, now: () => Date.now() + ahead });
    const starts: number[] = [];
    const pending = l.schedule({
      priority: 'read',
      startBy: Date.now() + 30_000,
      where: 'GET /x',
      run: async () => void starts.push(Date.now()),
    });
    for (const end = Date.now() + 5_000; l.stats().lateGrants === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
    ahead = 0;
    await pending;
    const stats = l.stats();
    expect(stats.lateGrants, JSON.stringify(stats)).toBe(1);
    expect(starts).toHaveLength(1);
    expect(stats.batches).toBe(2); // the late grant started nothing; the next one started the call
    expect(stats.wastedTokens).toBe(1);
  });

  it('should keep a burst across two limiters within the shared rate (plus one lease each)', async () => {
    const id = uniqueId('lease-burst');
    ids.push(id);
    // 40/s: leases of up to 2 tokens (rate / 20), paced at 38/s; each limiter alone could run its 80 calls at once.
    const options = { id, ratePerSecond: 40, maxConcurrent: 8 };
    const [a, b] = await Promise.all([limiter(fx.redisA, options), limiter(fx.redisB, options)]);
    const starts: number[] = [];
    const calls = Array.from({ length: 80 }, () => [call(a, starts), call(b, starts)]).flat();
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(starts).toHaveLength(160);
    const first = Math.min(...starts);
    expect(maxInWindow(starts), `starts (ms): ${starts.map((t) => t - first).join(' ')}`).toBeLessThanOrEqual(40 + 2 * 2);
    // Both limiters got a share, and every grant but the last ones was used.
    expect(a.stats().started + b.stats().started).toBe(160);
    expect(Math.min(a.stats().started, b.stats().started)).toBeGreaterThan(0);
  }, 30_000);
});
