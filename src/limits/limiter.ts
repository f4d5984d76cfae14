import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { PACE_MARGIN } from '../constants.js';
import { createTokenSource } from './bottleneck-tokens.js';
import { RateLimited, type RefusalReason } from './rate-limited.js';
import { createWaitingRoom, systemClock, type Clock, type WaitingTask } from './waiting-room.js';

export { RateLimited, type RefusalReason } from './rate-limited.js';
export type { Priority } from './waiting-room.js';

/**
 * The shared admission control used in front of Fineract, outbound SMS and calls: a rate and a concurrency
 * cap that hold across every Kiunga process (through Redis), a waiting room per process (writes before
 * reads), and a start-by time per call so nothing waits for ever. A call it refuses never ran: it rejects
 * with `RateLimited`, which each user maps to its own error.
 *
 * Two layers:
 *
 * 1. **Tokens** (`bottleneck-tokens.ts`): bottleneck, clustered on Redis or in-process. Starts are paced
 *    (`minTime`) a little below the rate (`paceMargin`): a reservoir alone lets a second's calls out in one
 *    burst, and a burst delayed on its way (a new connection, a busy event loop) lands on the upstream
 *    together with the next one.
 * 2. **Waiters** (`waiting-room.ts`): calls wait in this process, each with a timer at its start-by time.
 *    The process keeps exactly one token request pending in bottleneck while anybody waits; a granted token
 *    goes to the best call still waiting, and the next one is requested at once. A call that gave up costs
 *    nothing; at most one grant is ever spent on an empty room.
 *
 * Guarantees and limits:
 * - No more than `ratePerSecond` calls start per refresh interval across all processes, at least
 *   `minTime` apart, and no more than `maxConcurrent` run at once. Measured at a sandbox Fineract, two
 *   processes at 20/s never put more than 21 calls in any sliding second (test/gateway/shared-limit).
 *   A burst of k calls on an idle limiter takes (k - 1) x minTime to start: the price of smoothness.
 * - Across processes, tokens are shared fairly (bottleneck gives freed capacity to the process running
 *   the fewest calls).
 * - With Redis down, calls are refused at once (`limiter unavailable`) rather than run unlimited;
 *   the limiter re-creates its state when Redis comes back empty.
 * - bottleneck takes "now" from each process's clock: keep the hosts' clocks in sync (NTP).
 */

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
  /** Calls waiting in this process at most (default 1,000). */
  maxQueued?: number;
  /** A running call's slot is freed after this long even if the call still runs (crashed process; default 30,000). */
  maxRunMs?: number;
  logger?: Logger;
  now?: () => number;
}

export type LimiterTask<T> = WaitingTask<T>;

export interface LimiterStats {
  mode: 'redis' | 'local';
  /** The Redis connection is up (always true in-process). */
  connected: boolean;
  queued: { write: number; read: number };
  /** Calls of this process running now. */
  running: number;
  /** Calls of this process started since start-up. */
  started: number;
  /** Calls refused without being run, by reason. */
  refused: Record<RefusalReason, number>;
  /** Tokens granted when nobody was waiting any more. */
  wastedTokens: number;
  /** Bottleneck grants; each carries a batch of up to rate/20 calls. */
  batches: number;
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

const ID = /^[A-Za-z0-9_.:-]{1,100}$/;
const ERROR_LOG_INTERVAL_MS = 5_000;
const CLOSE_WAIT_MS = 5_000;

export function createSharedLimiter(options: LimiterOptions): SharedLimiter {
  const { ratePerSecond, maxConcurrent, redis } = options;
  if (!Number.isInteger(ratePerSecond) || ratePerSecond <= 0)
    throw new RangeError(`ratePerSecond must be a positive integer, got ${ratePerSecond}`);
  if (!Number.isInteger(maxConcurrent) || maxConcurrent <= 0)
    throw new RangeError(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
  if (!ID.test(options.id)) throw new TypeError(`invalid limiter id ${JSON.stringify(options.id)}`);
  const clock: Clock = options.now ? { ...systemClock, now: options.now } : systemClock;
  const now = clock.now;
  const heartbeatMs = options.heartbeatMs ?? 100;
  const paceMargin = options.paceMargin ?? PACE_MARGIN;
  if (!(paceMargin >= 0 && paceMargin < 1)) throw new RangeError(`paceMargin must be in [0, 1), got ${paceMargin}`);
  const log = options.logger?.child({ component: 'rate-limiter', limiter: options.id });

  // One bottleneck job costs a few milliseconds of its own bookkeeping (it yields to the event loop several
  // times), which capped a process near 400 calls a second whatever the configured rate. At high rates one
  // job therefore carries a batch of tokens (its weight): at most 5% of a second's calls start together, so
  // the pacing still spreads them over the second. At 20 calls a second a batch is one call, as before.
  const maxBatch = Math.max(1, Math.min(maxConcurrent, Math.floor(ratePerSecond / 20)));

  let lastErrorLog = -Infinity;
  const logError = (err: unknown, what: string) => {
    const t = now();
    if (t - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = t;
    log?.warn({ reason: err instanceof Error ? err.message : String(err) }, what);
  };

  const tokens = createTokenSource({
    ...(redis ? { redis } : {}),
    id: options.id,
    ratePerSecond,
    maxConcurrent,
    minTime: (1_000 * maxBatch) / (ratePerSecond * (1 - paceMargin)),
    refreshMs: heartbeatMs,
    maxRunMs: options.maxRunMs ?? 30_000,
    onError(err, what) {
      logError(err, what);
      if (!tokens.connected()) room.refuseAll('limiter unavailable');
    },
  });

  let isReady = false;
  const readyPromise = tokens.ready().then(() => void (isReady = true));
  readyPromise.catch((err: unknown) => logError(err, 'rate limiter failed to start'));

  const room = createWaitingRoom({
    ratePerSecond,
    clock,
    ...(options.maxQueued !== undefined ? { maxQueued: options.maxQueued } : {}),
    onWaiting: () => pump(),
  });
  let tokenPending = false;
  let wastedTokens = 0;
  let batches = 0;
  let penalties = 0;
  let lastPenalty = -Infinity;
  let closed = false;

  /** Keeps one token request (for a batch of up to `maxBatch` calls) pending while anybody waits. */
  function pump(): void {
    const waiting = room.waiting();
    if (tokenPending || closed || waiting === 0) return;
    tokenPending = true;
    const weight = Math.min(waiting, maxBatch);
    let granted = false;
    tokens
      .request(weight, async () => {
        granted = true;
        tokenPending = false;
        batches++;
        const runs = room.startUpTo(weight);
        wastedTokens += weight - runs.length;
        pump();
        await Promise.all(runs);
      })
      .catch((err: unknown) => {
        if (granted) return; // expiration: the call outlived maxRunMs; its caller still gets its answer
        tokenPending = false;
        logError(err, 'rate limiter could not queue a call');
        if (!tokens.connected()) room.refuseAll('limiter unavailable');
        else clock.setTimer(pump, heartbeatMs);
      });
  }

  return {
    schedule<T>(task: LimiterTask<T>): Promise<T> {
      if (closed) return room.refuse('closed', task.where);
      return room.wait(task, () => (tokens.connected() ? undefined : 'limiter unavailable'));
    },

    penalize(): void {
      const t = now();
      if (t - lastPenalty < 1_000) return;
      lastPenalty = t;
      penalties++;
      log?.warn('the upstream answered 429: pausing calls until the next refill');
      tokens.spend(ratePerSecond).catch((err: unknown) => logError(err, 'rate limiter penalty failed'));
    },

    async ready(timeoutMs = 3_000): Promise<boolean> {
      let timer: unknown;
      const timedOut = new Promise<false>((resolve) => (timer = clock.setTimer(() => resolve(false), timeoutMs)));
      const ok = await Promise.race([
        readyPromise.then(
          () => true,
          () => false,
        ),
        timedOut,
      ]);
      clock.clearTimer(timer);
      if (!ok) log?.warn({ timeoutMs }, 'rate limiter not connected yet: calls are refused until Redis answers');
      return ok;
    },

    stats(): LimiterStats {
      return {
        mode: tokens.mode,
        connected: tokens.connected() && isReady,
        ...room.stats(),
        wastedTokens,
        batches,
        penalties,
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      room.refuseAll('closed');
      await room.idle(CLOSE_WAIT_MS);
      // Let bottleneck record the last frees before leaving.
      for (let i = 0; i < 50 && tokens.busy() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      await tokens.close().catch(() => undefined);
    },
  };
}

/** True when `err` is the limiter's refusal (the call never ran). */
export function isRateLimited(err: unknown): err is RateLimited {
  return err instanceof RateLimited;
}
