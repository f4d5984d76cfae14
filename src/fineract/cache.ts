import type { Logger } from '../logger.js';
import { tagSafe, type Keys } from '../session/keys.js';
import type { KeyValueStore } from '../session/store.js';
import { takeEarlyRead, type HopContext } from '../session/hop-context.js';

/**
 * A read-through cache of Fineract lookup data in the shared store (Redis or in-process), so that every
 * process reuses what one process loaded: the client behind a phone number (including "no client"), a
 * client's account list, the product lists. Balances and statements are never cached: a customer must see
 * the money as it is.
 *
 * - Values are stored as JSON under `<prefix>:{lc:<name>:<id>}:lookup` (one key, own hash tag: Cluster-safe;
 *   the id is used as is only when short and plain, hashed otherwise, as in `keys.ts`).
 * - A loader result of `null` is a negative entry ("no client with this number"), cached for
 *   `negativeTtlMs` (default a fifth of the TTL) so that a number enrolled a moment later is found soon;
 *   call `invalidate` on enrolment to make it immediate; `negativeTtlMs: 0` caches no `null`. `undefined`
 *   is returned but never cached.
 * - Within a hop (`hop`, session/hop-context.ts) the entry read with the session lock or the PIN check
 *   (`KeyValueStore.readAhead`) is taken instead of reading it again.
 * - Concurrent misses of one key in one process load once (single flight); other processes may load the
 *   same key at the same moment (no distributed lock: the loads are cheap, idempotent reads, and the rate
 *   limiter bounds them).
 * - The cache never fails a call: when the store cannot answer, or holds something unreadable, the loader
 *   runs and its result is returned (the write-back is attempted and its failure only logged). A loader
 *   failure is never cached and propagates unchanged.
 * - `invalidate` deletes the entry (it rejects when the store cannot: the caller must know) and keeps a load already in flight in this process from writing its
 *   (now stale) result back.
 */
export interface LookupCache {
  getOrLoad<T>(
    name: string,
    id: string | number,
    ttlMs: number,
    load: () => Promise<T>,
    options?: { negativeTtlMs?: number; hop?: HopContext },
  ): Promise<T>;
  invalidate(name: string, id: string | number): Promise<void>;
  stats(): LookupCacheStats;
}

export interface LookupCacheStats {
  hits: number;
  /** Hits on a cached `null`. */
  negativeHits: number;
  misses: number;
  /** Store reads or writes that failed (the call went on without the cache). */
  storeErrors: number;
}

export interface LookupCacheOptions {
  store: KeyValueStore;
  keys: Keys;
  logger?: Logger;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const ERROR_LOG_INTERVAL_MS = 5_000;

/** The store key of one cached lookup: `<prefix>:{lc:<name>:<id>}:lookup`. */
export function lookupKey(keys: Keys, name: string, id: string | number): string {
  if (!NAME.test(name)) throw new TypeError(`invalid cache name ${JSON.stringify(name)}`);
  return `${keys.prefix}:{lc:${name}:${tagSafe(id)}}:lookup`;
}

interface Flight {
  promise: Promise<unknown>;
  /** Set by `invalidate` while the load runs: do not write the result back. */
  stale: boolean;
}

export function createLookupCache(options: LookupCacheOptions): LookupCache {
  const { store, keys } = options;
  const log = options.logger?.child({ component: 'lookup-cache' });
  const inFlight = new Map<string, Flight>();
  const stats: LookupCacheStats = { hits: 0, negativeHits: 0, misses: 0, storeErrors: 0 };
  let lastErrorLog = -Infinity;

  function storeFailed(op: string, err: unknown): void {
    stats.storeErrors++;
    const t = performance.now();
    if (t - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = t;
    log?.warn({ op, reason: err instanceof Error ? err.message : String(err) }, 'lookup cache unavailable; loading from Fineract');
  }

  /** The cached value, or `miss`; never throws. */
  async function read(key: string, hop: HopContext | undefined): Promise<{ value: unknown } | 'miss'> {
    let raw: string | null;
    try {
      raw = await (takeEarlyRead(hop, key) ?? store.get(key));
    } catch (err) {
      storeFailed('get', err);
      return 'miss';
    }
    if (raw === null) return 'miss';
    try {
      const entry = JSON.parse(raw) as unknown;
      if (typeof entry === 'object' && entry !== null && 'v' in entry) return { value: (entry as { v: unknown }).v };
    } catch {
      // unreadable: treat as a miss, the load overwrites it
    }
    return 'miss';
  }

  async function load<T>(key: string, ttlMs: number, negativeTtlMs: number, loader: () => Promise<T>): Promise<T> {
    const flight: Flight = { promise: Promise.resolve(), stale: false };
    flight.promise = (async () => {
      try {
        const value = await loader();
        const ttl = value === null ? negativeTtlMs : ttlMs;
        if (value !== undefined && ttl > 0 && !flight.stale) {
          await store.set(key, JSON.stringify({ v: value }), ttl).catch((err: unknown) => storeFailed('set', err));
        }
        return value;
      } finally {
        if (inFlight.get(key) === flight) inFlight.delete(key);
      }
    })();
    inFlight.set(key, flight);
    return flight.promise as Promise<T>;
  }

  return {
    async getOrLoad<T>(
      name: string,
      id: string | number,
      ttlMs: number,
      loader: () => Promise<T>,
      opts: { negativeTtlMs?: number; hop?: HopContext } = {},
    ): Promise<T> {
      if (!(ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${ttlMs}`);
      const negativeTtlMs = opts.negativeTtlMs ?? Math.max(1, Math.floor(ttlMs / 5));
      const key = lookupKey(keys, name, id);
      const joined = inFlight.get(key);
      if (joined) return joined.promise as Promise<T>;

      const cached = await read(key, opts.hop);
      if (cached !== 'miss') {
        stats.hits++;
        if (cached.value === null) stats.negativeHits++;
        return cached.value as T;
      }
      // Another caller may have started the load while we read the store.
      const late = inFlight.get(key);
      if (late) return late.promise as Promise<T>;
      stats.misses++;
      return load(key, ttlMs, negativeTtlMs, loader);
    },

    async invalidate(name: string, id: string | number): Promise<void> {
      const key = lookupKey(keys, name, id);
      const flight = inFlight.get(key);
      if (flight) {
        flight.stale = true;
        inFlight.delete(key);
      }
      await store.delete(key);
    },

    stats: () => ({ ...stats }),
  };
}
