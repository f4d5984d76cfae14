import type { HopContext } from './hop-context.js';

/**
 * The narrow key-value contract every stateful part of Kiunga is built on (sessions, locks, PIN records,
 * lockout counters, language preferences). Two implementations: Redis (shared by every process) and an
 * in-process map (one process, nothing survives a restart). Keys are built with `keys.ts` so that all keys
 * of one session or one customer share a Redis Cluster hash tag.
 */
export interface KeyValueStore {
  /** 'redis' when shared across processes, 'memory' for the single-process fallback. */
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  /** Sets a value, with an optional time-to-live in milliseconds (no TTL = persistent). */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets only if the key does not exist (SET NX PX). Returns true when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Deletes only while the key still holds `value` (atomic; used to release locks). */
  deleteIfEquals(key: string, value: string): Promise<boolean>;
  /**
   * Atomically adds `by` (default 1, may be negative) to an integer counter and returns the new value; when
   * ttlMs is given, the TTL is set on the first increment.
   */
  increment(key: string, ttlMs?: number, by?: number): Promise<number>;
  /**
   * Takes the lock `lockKey` (SET NX PX with `token`) and, when taken, reads `key`, in one round trip. Both
   * keys must share a Redis Cluster slot (keys.ts gives a session's keys one hash tag).
   */
  lockAndGet(lockKey: string, token: string, lockTtlMs: number, key: string): Promise<{ locked: boolean; value: string | null }>;
  /**
   * Only while `lockKey` still holds `token`: writes `key` and releases the lock, atomically, in one round
   * trip (same slot). Otherwise (the lock expired or another holder took it) writes nothing and rejects
   * with `LockLost`, so a stale holder never overwrites a newer holder's record.
   */
  setAndUnlock(key: string, value: string, ttlMs: number, lockKey: string, token: string): Promise<void>;
  /**
   * Within a hop (`session/hop-context.ts`): starts reading `keys` now (one round trip for all of them and
   * whatever else is sent with it), each kept in `hop`'s scope until the hop takes it where it reads the key:
   * `takeEarlyRead(hop, key) ?? store.get(key)`. Outside a hop nothing. Optional: a store without round trips
   * need not.
   */
  readAhead?(hop: HopContext | undefined, keys: readonly string[]): void;
  /** Rejects when the backing store cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
