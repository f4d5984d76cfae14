/**
 * withLock on a given store. `open` returns a new store per call; two of them stand for two processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyValueStore } from '../../src/session/store.js';
import { LockTimeout, withLock } from '../../src/session/lock.js';
import { createKeys } from '../../src/session/keys.js';

export function lockContract(label: string, open: () => Promise<KeyValueStore>, prefix: string): void {
  describe(`withLock: ${label}`, () => {
    const keys = createKeys(prefix);
    let a: KeyValueStore;
    let b: KeyValueStore;
    let n = 0;
    const lockKey = () => keys.lock('ussd', `ATUid_lock${++n}`);

    beforeAll(async () => {
      a = await open();
      b = await open();
    });
    afterAll(async () => {
      await a.close();
      await b.close();
    });

    it('serialises 20 concurrent holders across two store clients, with no overlap', async () => {
      const key = lockKey();
      let inside = 0;
      let maxInside = 0;
      const order: number[] = [];
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          withLock(i % 2 ? a : b, key, { ttlMs: 5000, waitMs: 10_000, retryDelayMs: 5 }, async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            await sleep(3);
            order.push(i);
            inside--;
          }),
        ),
      );
      expect(maxInside).toBe(1);
      expect(order).toHaveLength(20);
      expect(await a.get(key)).toBeNull();
    });

    it('returns what fn returns and frees the lock', async () => {
      const key = lockKey();
      expect(await withLock(a, key, { ttlMs: 1000, waitMs: 100 }, async () => 42)).toBe(42);
      expect(await a.get(key)).toBeNull();
    });

    it('throws LockTimeout when the holder keeps the lock longer than waitMs', async () => {
      const key = lockKey();
      const holder = withLock(a, key, { ttlMs: 5000, waitMs: 100 }, () => sleep(400));
      await sleep(20);
      const started = performance.now();
      const err = await withLock(b, key, { ttlMs: 5000, waitMs: 100, retryDelayMs: 10 }, async () => 'never').catch((e) => e);
      const waited = performance.now() - started;
      expect(err).toBeInstanceOf(LockTimeout);
      expect((err as LockTimeout).key).toBe(key);
      expect(waited).toBeGreaterThanOrEqual(95);
      expect(waited).toBeLessThan(350);
      await holder;
    });

    it('releases the lock when fn throws', async () => {
      const key = lockKey();
      await expect(
        withLock(a, key, { ttlMs: 5000, waitMs: 100 }, async () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await a.get(key)).toBeNull();
      const started = performance.now();
      await withLock(b, key, { ttlMs: 5000, waitMs: 50 }, async () => undefined);
      expect(performance.now() - started).toBeLessThan(50);
    });

    it('lets a holder whose lock expired never release the next holder’s lock', async () => {
      const key = lockKey();
      const slow = withLock(a, key, { ttlMs: 50, waitMs: 100 }, () => sleep(150));
      await sleep(80); // the slow holder's lock has expired
      await withLock(b, key, { ttlMs: 5000, waitMs: 100 }, async () => {
        await slow; // the slow holder finishes and tries to release while we hold the lock
        expect(await b.get(key)).not.toBeNull();
      });
      expect(await a.get(key)).toBeNull();
    });
  });
}
