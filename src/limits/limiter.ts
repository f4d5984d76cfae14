import { channel } from 'node:diagnostics_channel';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { PACE_MARGIN } from '../constants.js';
import { createTokenSource } from './bottleneck-tokens.js';
import { createLocalShare, type LocalShare, type LocalShareStats } from './local-share.js';
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
 *    nothing.
 * 3. **Leases**: one grant reserves a batch of tokens (its bottleneck weight: that many reservoir units and
 *    running slots), sized to this process's recent demand and capped at `rate / 20` (tokens for calls not
 *    waiting yet at a quarter of `maxConcurrent`, so one process never holds every slot). The tokens the waiting
 *    calls do not take stay in process memory until `leaseMs` after the grant's due time (default: the pace
 *    margin's share of a second, 50 ms), and calls arriving meanwhile start from them with no Redis round trip (a bottleneck job costs
 *    three scripts). Unused tokens lapse (`wastedTokens`); the grant's running slots are freed when the lease
 *    has lapsed and its calls have ended. At 20 calls a second a lease is one token, used at once, as before.
 * 4. **Local share** (`local-share.ts`, option `localShare`, FINERACT_RATE_LOCAL_SHARE for Fineract): a fraction
 *    of the rate and of `maxConcurrent` is split among the live processes (counted in Redis every 5 s), and each
 *    spends its part from memory: its share of starts in any sliding second, and running slots of its own.
 *    Bottleneck holds the rest, so local and shared never add up to more than the limit. A call takes the
 *    lease's tokens first, then a local token, then waits for a grant. A lone call far under the limit
 *    therefore makes no Redis round trip. A process takes a share only once every other has counted it (at
 *    once when alone), and has none while its count is stale (Redis unreachable); a 429 pauses its local share
 *    for a second (the other processes pause theirs when Fineract answers them 429).
 *
 * Guarantees and limits:
 * - No more than `ratePerSecond` tokens (less the local pool) are granted per refresh interval across all
 *   processes, the local shares add at most the pool per sliding second (paced like the grants), grants at
 *   least `minTime` apart, and no more than `maxConcurrent` calls run at once (a lease holds as many running
 *   slots as it has tokens; a local call holds one of its process's local slots, outside bottleneck's).
 * - A grant is due at the time bottleneck's pacing gave it (at least `minTime` after the one before, on the
 *   processes' clocks), and its tokens are used by `leaseMs` after that time. A grant answered later (a slow
 *   Redis answer, a busy event loop) starts nothing (`lateGrants`): every process can hold one, and each late
 *   one would join the grants due after it (three processes could each add one to a sliding second). So a
 *   sliding second's shared starts are those of grants due within 1,000 + `leaseMs` ms: with the default lease
 *   (the pace margin's share of a second) at most the shared rate (a batch more where rounding falls badly),
 *   the local shares adding at most their pool. Skew between hosts' clocks adds to it. The limit is kept on
 *   starts; where the upstream counts arrivals, network and event-loop delay after the start move calls across
 *   a second's edge, which the rest of the pace margin absorbs only in part. Measured at a sandbox Fineract, two processes at 20/s never put
 *   more than 21 calls in any sliding second (test/gateway/shared-limit); two limiters bursting at 40/s stay
 *   within 40 + 2 leases (test/limits/lease.test.ts).
 *   A burst of k calls on an idle limiter takes (k - 1) x minTime to start: the price of smoothness.
 * - Across processes, tokens are shared fairly (bottleneck gives freed capacity to the process running
 *   the fewest calls).
 * - With Redis down, calls are refused at once (`limiter unavailable`) rather than run unlimited;
 *   the limiter re-creates its state when Redis comes back empty.
 * - bottleneck takes "now" from each process's clock: with `clock` (the clock guard), a process whose clock is
 *   off Redis's runs none of its scripts and re-creates its keys when it comes back; keep NTP on the hosts.
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
  queued: { write: number; read: number };
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

/** What `START_CHANNEL` publishes for each call started: when (epoch ms, sub-millisecond) and from which path. */
export interface LimiterStart {
  id: string;
  via: 'shared' | 'local';
  at: number;
}
/**
 * A `node:diagnostics_channel` name: every call the limiter starts is published there (a `LimiterStart`), for
 * tests and tracing that compare the limiter's starts with the arrivals the upstream counts. Nothing is built
 * while nobody subscribes.
 */
export const START_CHANNEL = 'kiunga:limiter:start';
const startChannel = channel(START_CHANNEL);

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
  const guard = redis ? options.clock : undefined;
  const clockGate = guard ? () => guard.ok() : undefined;
  /** The clock guard says this process's "now" must not reach bottleneck's scripts. */
  const skewed = () => clockGate !== undefined && !clockGate();

  let lastErrorLog = -Infinity;
  const logError = (err: unknown, what: string) => {
    const t = now();
    if (t - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = t;
    log?.warn({ reason: err instanceof Error ? err.message : String(err) }, what);
  };

  const maxRunMs = options.maxRunMs ?? 30_000;
  if (!(options.localShare === undefined || (options.localShare >= 0 && options.localShare < 1)))
    throw new RangeError(`localShare must be in [0, 1), got ${options.localShare}`);
  const local: LocalShare | undefined =
    redis && options.localShare
      ? createLocalShare({
          redis,
          id: options.id,
          share: options.localShare,
          ratePerSecond,
          maxConcurrent,
          paceMargin,
          settleMs: Math.max(1_000, maxRunMs),
          ...(options.shareHeartbeatMs !== undefined ? { heartbeatMs: options.shareHeartbeatMs } : {}),
          ...(options.monotonicNow ? { now: options.monotonicNow } : {}),
          onError: (err, what) => logError(err, what),
        })
      : undefined;
  // What bottleneck holds across processes: the limit less the local pools.
  const sharedRate = local?.shared.ratePerSecond ?? ratePerSecond;
  const sharedConcurrent = local?.shared.maxConcurrent ?? maxConcurrent;

  // One bottleneck job costs a few milliseconds of its own bookkeeping (it yields to the event loop several
  // times), which capped a process near 400 calls a second whatever the configured rate. At high rates one
  // job therefore carries a batch of tokens (its weight): at most 5% of a second's calls start together, so
  // the pacing still spreads them over the second. At 20 calls a second a batch is one call, as before.
  const maxBatch = Math.max(1, Math.min(sharedConcurrent, Math.floor(sharedRate / 20)));

  const tokens = createTokenSource({
    ...(redis ? { redis } : {}),
    id: options.id,
    ratePerSecond: sharedRate,
    maxConcurrent: sharedConcurrent,
    minTime: (1_000 * maxBatch) / (sharedRate * (1 - paceMargin)),
    refreshMs: heartbeatMs,
    maxRunMs,
    onError(err, what) {
      logError(err, what);
      if (!tokens.connected()) room.refuseAll('limiter unavailable');
    },
    ...(clockGate ? { gate: clockGate } : {}),
  });
  guard?.onChange((ok) => {
    if (ok) return tokens.resume();
    room.refuseAll('limiter unavailable');
    tokens.suspend();
  });

  let isReady = false;
  // Ready once bottleneck is; the local share's first count is awaited too, so a call right after start-up
  // can already be local (it never fails: without a count there is simply no local share).
  const readyPromise = Promise.all([tokens.ready(), local?.ready()]).then(() => void (isReady = true));
  readyPromise.catch((err: unknown) => logError(err, 'rate limiter failed to start'));

  const room = createWaitingRoom({
    ratePerSecond,
    clock,
    ...(options.maxQueued !== undefined ? { maxQueued: options.maxQueued } : {}),
    onWaiting: () => {
      noteArrival();
      pump();
    },
  });
  const leaseMs = options.leaseMs ?? 1_000 * paceMargin;
  if (!(leaseMs >= 0)) throw new RangeError(`leaseMs must be >= 0, got ${leaseMs}`);
  let tokenPending = false;
  let wastedTokens = 0;
  let batches = 0;
  let fromLease = 0;
  let fromLocal = 0;
  let lateGrants = 0;
  /** A pump at the local share's next token, while calls wait for it or a grant. */
  let localTimer: unknown;
  let penalties = 0;
  let lastPenalty = -Infinity;
  let closed = false;
  /** Publishes `count` starts made just now on `START_CHANNEL`. */
  function published(count: number, via: LimiterStart['via']): void {
    if (count === 0 || !startChannel.hasSubscribers) return;
    const at = performance.timeOrigin + performance.now();
    for (let i = 0; i < count; i++) startChannel.publish({ id: options.id, via, at } satisfies LimiterStart);
  }

  /** Calls that came to wait lately, decayed over about a second: what the next lease is sized for. */
  let demand = 0;
  let demandAt = now();
  const DEMAND_DECAY_MS = 1_000;
  function noteArrival(): void {
    const t = now();
    demand = demand * Math.exp(-Math.max(0, t - demandAt) / DEMAND_DECAY_MS) + 1;
    demandAt = t;
  }
  /**
   * Tokens to ask for: what waits now, or what the recent demand will want within one lease, whichever is more.
   * Tokens for calls not here yet hold running slots idle, so they take at most a quarter of `maxConcurrent`:
   * the other processes keep their share.
   */
  const speculativeCap = Math.max(1, Math.floor(sharedConcurrent / 4));
  function leaseSize(waiting: number): number {
    const perSecond = demand * Math.exp(-Math.max(0, now() - demandAt) / DEMAND_DECAY_MS) * (1_000 / DEMAND_DECAY_MS);
    const expected = Math.min(speculativeCap, Math.ceil((perSecond * leaseMs) / 1_000));
    return Math.min(maxBatch, Math.max(waiting, expected, 1));
  }

  interface Lease {
    /** Tokens not used yet. */
    left: number;
    /** Calls started from it and still running. */
    running: number;
    timer: unknown;
    /** Settles the bottleneck grant, which frees its running slots. */
    release: () => void;
    released: boolean;
  }
  /** The lease whose tokens new calls take; earlier ones only wait for their calls to end. */
  let lease: Lease | undefined;

  function finishIfDone(l: Lease): void {
    if (l.released || l.left > 0 || l.running > 0) return;
    l.released = true;
    // bottleneck's `free` would run with a skewed "now": leave Redis instead; the grant's expiration frees its slots.
    if (skewed()) return tokens.suspend();
    l.release();
  }
  /** The lease's unused tokens are given up (its time is over, or the limiter closes). */
  function lapse(l: Lease): void {
    clock.clearTimer(l.timer);
    wastedTokens += l.left;
    l.left = 0;
    if (lease === l) lease = undefined;
    finishIfDone(l);
  }
  /** Starts waiting calls from the current lease's tokens; how many it started. */
  function drainLease(): number {
    const l = lease;
    if (!l || room.waiting() === 0) return 0;
    const runs = room.startUpTo(l.left);
    published(runs.length, 'shared');
    l.left -= runs.length;
    l.running += runs.length;
    for (const run of runs) {
      void run.then(() => {
        l.running--;
        finishIfDone(l);
      });
    }
    if (l.left === 0) lapse(l);
    return runs.length;
  }

  /** Starts waiting calls from this process's local share (its starts in the last second, its own slots). */
  function drainLocal(): void {
    if (!local) return;
    while (room.waiting() > 0 && local.canStart()) {
      const [run] = room.startUpTo(1);
      if (!run) break;
      published(1, 'local');
      local.started();
      fromLocal++;
      void run.then(() => {
        local.ended();
        pump(); // a slot is free again
      });
    }
    const next = room.waiting() > 0 && localTimer === undefined ? local.nextTokenIn() : undefined;
    if (next !== undefined) {
      localTimer = clock.setTimer(() => {
        localTimer = undefined;
        pump();
      }, Math.ceil(next));
      (localTimer as { unref?: () => void } | undefined)?.unref?.();
    }
  }

  /**
   * Starts what the lease covers, then what the local share allows; keeps one token request (a lease of up to
   * `maxBatch`) pending while anybody still waits.
   */
  function pump(): void {
    if (closed) return;
    if (skewed()) {
      room.refuseAll('limiter unavailable');
      return tokens.suspend();
    }
    fromLease += drainLease();
    drainLocal();
    const waiting = room.waiting();
    if (tokenPending || waiting === 0) return;
    tokenPending = true;
    const weight = leaseSize(waiting);
    let granted = false;
    tokens
      .request(
        weight,
        (dueAt) =>
          new Promise<void>((release) => {
            granted = true;
            tokenPending = false;
            batches++;
            if (lease) lapse(lease);
            const l: Lease = { left: weight, running: 0, timer: undefined, release, released: false };
            lease = l;
            // The grant's tokens are used by its due time plus the lease (the pacing gave it that time); one that
            // comes later (a slow Redis answer, a busy event loop) starts nothing: its calls would join the grants
            // given after it, and every process can hold one.
            const t = now();
            const until = dueAt === undefined || leaseMs === 0 ? t + leaseMs : dueAt + leaseMs;
            if (t > until) {
              lateGrants++;
              lapse(l);
              return pump();
            }
            drainLease();
            if (l.left > 0) {
              if (until > t && !closed) {
                l.timer = clock.setTimer(() => lapse(l), until - t);
                (l.timer as { unref?: () => void } | undefined)?.unref?.(); // a lease never keeps a process alive
              } else lapse(l);
            }
            pump();
          }),
      )
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
      return room.wait(task, () => (tokens.connected() && !skewed() ? undefined : 'limiter unavailable'));
    },

    penalize(): void {
      const t = now();
      if (t - lastPenalty < 1_000) return;
      if (skewed()) return;
      lastPenalty = t;
      penalties++;
      if (lease) lapse(lease); // this process's unused tokens too
      local?.pause(1_000); // and its local share, for a second
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
        fromLease,
        fromLocal,
        lateGrants,
        localShare: local?.stats() ?? { processes: 0, perSecond: 0, slots: 0, running: 0 },
        penalties,
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (lease) lapse(lease);
      clock.clearTimer(localTimer);
      room.refuseAll('closed');
      await room.idle(CLOSE_WAIT_MS);
      // Let bottleneck record the last frees before leaving.
      for (let i = 0; i < 50 && tokens.busy() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      await Promise.all([tokens.close().catch(() => undefined), local?.close()]);
    },
  };
}

/** True when `err` is the limiter's refusal (the call never ran). */
export function isRateLimited(err: unknown): err is RateLimited {
  return err instanceof RateLimited;
}
