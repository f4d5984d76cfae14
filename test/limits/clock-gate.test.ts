/**
 * The limiter behind the clock guard (docs/resilience.md, F2): bottleneck stores the caller's clock in Redis,
 * so a script run in the milliseconds before a step is seen can stop every process's calls for the size of
 * the step. A process coming back from a skew re-creates bottleneck's keys, and the other processes' limiters
 * rebuild and carry on, their waiting calls included.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isRateLimited } from '../../src/limits/limiter.js';
import type { SharedLimiter } from '../../src/limits/limiter-types.js';
import { twoProcesses, uniqueId } from '../gateway/helpers.js';

const TWENTY_MINUTES = 20 * 60_000;
const fx = twoProcesses();
const { ids, limiter } = fx;
afterAll(() => vi.restoreAllMocks());

/** What the clock guard gives the limiter, driven by the test. */
function gate() {
  const listeners: ((ok: boolean) => void)[] = [];
  let ok = true;
  return {
    ok: () => ok,
    onChange: (listener: (ok: boolean) => void) => void listeners.push(listener),
    set(value: boolean) {
      ok = value;
      for (const l of listeners) l(value);
    },
  };
}

const call = (l: SharedLimiter, withinMs: number) =>
  l.schedule({ priority: 'read', startBy: Date.now() + withinMs, where: 'GET /x', run: async () => 'ran' }).then(
    (v) => v,
    (err: unknown) => (isRateLimited(err) ? err.reason : Promise.reject(err)),
  );

describe('limiter and the clock guard', () => {
  it("should undo what a stepped clock stored: a process returning from a skew re-creates the keys, and the others' calls run again", async () => {
    const id = uniqueId('clock-reset');
    ids.push(id);
    const clock = gate();
    const a = await limiter(fx.redisA, { id, ratePerSecond: 5, maxConcurrent: 4, clock });
    const b = await limiter(fx.redisB, { id, ratePerSecond: 5, maxConcurrent: 4 });
    expect([await call(a, 5_000), await call(b, 5_000)]).toEqual(['ran', 'ran']);

    // A's clock steps 20 minutes ahead and one of its calls runs before its guard notices.
    const realNow = Date.now.bind(Date);
    const step = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + TWENTY_MINUTES);
    expect(await call(a, 5_000)).toBe('ran');
    step.mockRestore();
    // Stored in Redis: the next start 20 minutes ahead. B cannot start a call.
    const stuck = call(b, 60_000);
    expect(await call(b, 1_500)).toBe('queue deadline');

    // The guard sees the skew, then the clock right again.
    clock.set(false);
    expect(await call(a, 5_000)).toBe('limiter unavailable');
    clock.set(true);
    await a.ready();
    // B's waiting call and new ones run, and A's.
    expect(await stuck).toBe('ran');
    const after = await Promise.all([call(b, 10_000), call(b, 10_000), call(a, 10_000)]);
    expect(after).toEqual(['ran', 'ran', 'ran']);
  });

  it('should not be held by a token request that was waiting when the skew was seen', async () => {
    const id = uniqueId('clock-pending');
    ids.push(id);
    const clock = gate();
    const a = await limiter(fx.redisA, { id, ratePerSecond: 5, maxConcurrent: 1, clock });
    let finish = () => {};
    const running = a.schedule({
      priority: 'read',
      startBy: Date.now() + 5_000,
      where: 'GET /slow',
      run: () => new Promise<string>((resolve) => (finish = () => resolve('ran'))),
    });
    await new Promise((r) => setTimeout(r, 200)); // it holds the only running slot
    const waiting = call(a, 10_000); // its token request waits in bottleneck
    await new Promise((r) => setTimeout(r, 200));
    clock.set(false);
    expect(await waiting).toBe('limiter unavailable');
    finish();
    expect(await running).toBe('ran');
    clock.set(true);
    expect(await call(a, 5_000)).toBe('ran');
  });

  it('should run no script while the guard says skewed, and refuse at once', async () => {
    const id = uniqueId('clock-off');
    ids.push(id);
    const clock = gate();
    const a = await limiter(fx.redisA, { id, ratePerSecond: 5, maxConcurrent: 4, clock });
    clock.set(false);
    expect(a.stats().connected).toBe(false);
    expect(await call(a, 5_000)).toBe('limiter unavailable');
    clock.set(true);
    let result: unknown;
    for (let i = 0; i < 50 && result !== 'ran'; i++) {
      result = await call(a, 5_000);
      if (result !== 'ran') await new Promise((r) => setTimeout(r, 50));
    }
    expect(result).toBe('ran');
  });
});
