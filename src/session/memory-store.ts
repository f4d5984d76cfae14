import type { KeyValueStore } from './store.js';
import { LockLost, StoreUnavailable, checkTtl } from './errors.js';

/** The in-process store, with its entry count for metrics and tests. */
export interface MemoryStore extends KeyValueStore {
  readonly kind: 'memory';
  /** Entries held right now, expired ones not yet swept included. */
  size(): number;
  /** The live keys (for counts by key pattern, as SCAN does on Redis). */
  liveKeys(): string[];
}

export interface MemoryStoreOptions {
  /** How often expired entries are removed even when nobody reads them (default 30 s). */
  sweepIntervalMs?: number;
}

interface Entry {
  value: string;
  /** performance.now() deadline; Infinity when the entry has no TTL. */
  expiresAt: number;
}

/**
 * The single-process fallback store: a Map with Redis-like TTL semantics (`set` without a TTL makes the
 * key persistent, `increment` keeps an existing TTL). Expired entries are dropped when read and by a
 * periodic sweep that does not keep the process alive. Every operation runs synchronously inside one
 * call, so each is atomic within the process; nothing is shared with other processes or survives a restart.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const entries = new Map<string, Entry>();
  let closed = false;

  const now = () => performance.now();

  function sweep(): void {
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
  }
  const sweeper = setInterval(sweep, options.sweepIntervalMs ?? 30_000);
  sweeper.unref();

  function live(key: string): Entry | undefined {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  function open(): void {
    if (closed) throw new StoreUnavailable('memory store is closed');
  }

  function deadline(ttlMs: number | undefined): number {
    return ttlMs === undefined ? Infinity : now() + checkTtl(ttlMs);
  }

  return {
    kind: 'memory',
    size: () => entries.size,
    liveKeys: () => [...entries.keys()].filter((key) => live(key) !== undefined),

    async get(key) {
      open();
      return live(key)?.value ?? null;
    },

    async set(key, value, ttlMs) {
      open();
      entries.set(key, { value, expiresAt: deadline(ttlMs) });
    },

    async setIfAbsent(key, value, ttlMs) {
      open();
      const expiresAt = deadline(ttlMs);
      if (live(key) !== undefined) return false;
      entries.set(key, { value, expiresAt });
      return true;
    },

    async delete(key) {
      open();
      entries.delete(key);
    },

    async lockAndGet(lockKey, token, lockTtlMs, key) {
      open();
      if (live(lockKey) !== undefined) return { locked: false, value: null };
      entries.set(lockKey, { value: token, expiresAt: deadline(lockTtlMs) });
      return { locked: true, value: live(key)?.value ?? null };
    },

    async setAndUnlock(key, value, ttlMs, lockKey, token) {
      open();
      const expiresAt = deadline(ttlMs);
      if (live(lockKey)?.value !== token) throw new LockLost(lockKey);
      entries.set(key, { value, expiresAt });
      entries.delete(lockKey);
    },

    async deleteIfEquals(key, value) {
      open();
      if (live(key)?.value !== value) return false;
      entries.delete(key);
      return true;
    },

    async increment(key, ttlMs, by = 1) {
      open();
      if (!Number.isSafeInteger(by)) throw new RangeError('increment must be an integer');
      const expiresAt = deadline(ttlMs);
      const entry = live(key);
      if (entry === undefined) {
        entries.set(key, { value: String(by), expiresAt });
        return by;
      }
      // Same rule as Redis INCR: the value must be a decimal integer.
      if (!/^-?\d+$/.test(entry.value)) throw new TypeError('value is not an integer');
      const next = Number(entry.value) + by;
      if (!Number.isSafeInteger(next)) throw new RangeError('increment would overflow');
      entry.value = String(next);
      // Like the Redis script: a counter asked to expire gets its TTL when it has none yet.
      if (entry.expiresAt === Infinity) entry.expiresAt = expiresAt;
      return next;
    },

    async ping() {
      open();
    },

    async close() {
      closed = true;
      clearInterval(sweeper);
      entries.clear();
    },
  };
}
