import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { LocalShareStats } from './local-share.js';
import type { RefusalReason } from './rate-limited.js';
import type { Priority, WaitingTask } from './waiting-room.js';

/** What the shared limiter (limiter.ts) is given, what it does for its users, and what it tells of itself. */

export interface LimiterOptions {
  /** A live ioredis client (standalone, Sentinel or Cluster) of the store; undefined = in-process. */
  redis?: Redis | Cluster;
  /** The limiter id, the same in every process sharing the limit (letters, digits, `_.:-`). */
  id: string;
  /** Calls per second, across all processes (positive integer). */
  ratePerSecond: number;
  /** Calls in flight at once, across all processes. */
  maxConcurrent: number;
  /**
   * Calls are started at most every `1000 / (ratePerSecond * (1 - paceMargin))` ms across all processes
   * (default `PACE_MARGIN`, 0.05: 20/s is paced at 19/s). The margin absorbs the jitter between the moment a call
   * is allowed to start and the moment it reaches the upstream (event loop, network), so that the upstream
   * does not see more than the rate in any one-second window. 0 paces at exactly the rate.
   */
  paceMargin?: number;
  /**
   * While calls wait, how often the shared reservoir is given a chance to refill (default 100 ms): bottleneck's
   * own 5 s heartbeat would run 20 calls a second as 20 per 5 s. Nothing runs while nobody waits.
   */
  heartbeatMs?: number;
  /**
   * How long after its due time a grant's tokens stay usable in this process (default `1000 * paceMargin` ms,
   * 50 ms): the pace margin then also absorbs the spread of a lease's starts; a grant answered later starts
   * nothing. 0: a grant's tokens go only to the calls waiting when it comes, however late.
   */
  leaseMs?: number;
  /**
   * Fraction of the rate and of `maxConcurrent` split among the live processes and spent from memory, with no
   * Redis round trip (`local-share.ts`); the shared path keeps the rest. 0 (the default) or no Redis: none.
   */
  localShare?: number;
  /** How often a process with a local share says it is alive and counts the others (default 5,000 ms). */
  shareHeartbeatMs?: number;
  /** Monotonic clock of the local share (default `performance.now`; tests drive it). */
  monotonicNow?: () => number;
  /** Calls waiting in this process at most (default 1,000). */
  maxQueued?: number;
  /** A running call's slot is freed after this long even if the call still runs (crashed process; default 30,000). */
  maxRunMs?: number;
  logger?: Logger;
  /** Epoch milliseconds (default `Date.now`); also compared with bottleneck's due times, which use `Date.now`. */
  now?: () => number;
  /**
   * The clock guard (Redis): bottleneck's scripts take "now" from this process, so while the guard says its
   * clock is skewed the limiter runs none of them: calls are refused (`limiter unavailable`), bottleneck's
   * instance leaves Redis, and a new one joins once the clock is right.
   */
  clock?: { ok(): boolean; onChange(listener: (ok: boolean) => void): void };
}

export type LimiterTask<T> = WaitingTask<T>;

export interface LimiterStats {
  mode: 'redis' | 'local';
  /** The Redis connection is up (always true in-process). */
  connected: boolean;
  queued: Record<Priority, number>;
  /** Calls of this process running now. */
  running: number;
  /** Calls of this process started since start-up. */
  started: number;
  /** Calls refused without being run, by reason. */
  refused: Record<RefusalReason, number>;
  /** Tokens granted but never used (a lease lapsed, or nobody was waiting any more). */
  wastedTokens: number;
  /** Bottleneck grants (each a Redis round trip); each leases up to rate/20 tokens. */
  batches: number;
  /** Calls started from a lease's tokens without a grant of their own (no Redis round trip). */
  fromLease: number;
  /** Calls started from this process's local share (no Redis round trip). */
  fromLocal: number;
  /** Grants that came after their due time plus `leaseMs` and started nothing (their tokens are in `wastedTokens`). */
  lateGrants: number;
  /** This process's local share now (all 0 when there is none). */
  localShare: LocalShareStats;
  /** Times the upstream's "too many requests" emptied the shared reservoir. */
  penalties: number;
}

export interface SharedLimiter {
  /** Runs `task.run` once a token is granted; rejects with `RateLimited` if it cannot start in time. */
  schedule<T>(task: LimiterTask<T>): Promise<T>;
  /** The upstream answered 429: spend the rest of this second's tokens, in every process (at most once a second). */
  penalize(): void;
  /**
   * Waits until the limiter is connected and its settings are written: true; or false after `timeoutMs`
   * (default 3,000) if Redis is not there yet. Never rejects: until connected, calls are refused
   * (`limiter unavailable`), and the limiter connects by itself when Redis comes.
   */
  ready(timeoutMs?: number): Promise<boolean>;
  stats(): LimiterStats;
  /** Refuses the waiting calls, waits (up to 5 s) for running ones, and leaves Redis; the store's client stays open. */
  close(): Promise<void>;
}
