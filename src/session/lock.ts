import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from './store.js';
import { LockTimeout } from './errors.js';

export { LockTimeout };

export interface LockOptions {
  /** How long the lock lives if its holder dies; must exceed the longest `fn` (a hop's deadline). */
  ttlMs: number;
  /** How long to wait for another holder before throwing `LockTimeout`. */
  waitMs: number;
  /** Pause between attempts (default 25 ms, with up to 50% jitter so waiters do not move in step). */
  retryDelayMs?: number;
  /** Where a failed release is reported; the lock then expires by its TTL. */
  logger?: Logger;
}

/**
 * Runs `fn` while holding the lock `key`, shared by every process on the same store: acquires with
 * `setIfAbsent(key, randomToken, ttlMs)`, polling until `waitMs` has passed (then `LockTimeout`), and
 * releases with `deleteIfEquals(key, token)` so a holder whose lock expired never frees someone else's.
 * A store outage is not waited out: `StoreUnavailable` from the store propagates at once.
 *
 * The lock is advisory and expires: if `fn` runs longer than `ttlMs`, a second holder can enter.
 */
export async function withLock<T>(store: KeyValueStore, key: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const { ttlMs, waitMs, retryDelayMs = 25, logger } = options;
  const token = randomBytes(16).toString('base64url');
  const started = performance.now();

  while (!(await store.setIfAbsent(key, token, ttlMs))) {
    const waited = performance.now() - started;
    if (waited >= waitMs) throw new LockTimeout(key, Math.round(waited));
    const delay = retryDelayMs * (1 + Math.random() / 2);
    await sleep(Math.min(delay, Math.max(1, waitMs - waited)));
  }

  try {
    return await fn();
  } finally {
    try {
      await store.deleteIfEquals(key, token);
    } catch (err) {
      // Never mask fn's own result or error; the TTL frees the lock.
      logger?.warn({ err, key }, 'lock release failed; it will expire by its TTL');
    }
  }
}
