import { describe, expect, it } from 'vitest';
import { createSharedLimiter } from '../../src/limits/limiter.js';

describe('limiter batches at high rates', () => {
  it('should grant many calls per bottleneck job when the rate is high (its per-job cost capped a process near 400/s)', async () => {
    const limiter = createSharedLimiter({ id: 'batching-test', ratePerSecond: 2000, maxConcurrent: 256 });
    await limiter.ready();
    try {
      let ran = 0;
      await Promise.all(
        Array.from({ length: 200 }, () =>
          limiter.schedule({ priority: 'read', startBy: Date.now() + 10_000, where: 'GET /x', run: async () => void ran++ }),
        ),
      );
      expect(ran).toBe(200);
      const stats = limiter.stats();
      expect(stats.started).toBe(200);
      // 2000/s gives batches of up to 100: a handful of jobs, not 200.
      expect(stats.batches).toBeLessThanOrEqual(10);
    } finally {
      await limiter.close();
    }
  });

  it('should keep one call per job at low rates, where pacing spreads calls over the second', async () => {
    const limiter = createSharedLimiter({ id: 'batching-test-low', ratePerSecond: 19, maxConcurrent: 16 });
    await limiter.ready();
    try {
      await Promise.all(
        Array.from({ length: 3 }, () =>
          limiter.schedule({ priority: 'read', startBy: Date.now() + 10_000, where: 'GET /x', run: async () => undefined }),
        ),
      );
      expect(limiter.stats().batches).toBe(3);
    } finally {
      await limiter.close();
    }
  });
});
