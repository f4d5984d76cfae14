import { PACE_MARGIN } from '../constants.js';
import { createTokenSource } from './bottleneck-tokens.js';
import { createLocalShare, type LocalShare } from './local-share.js';
import { RateLimited } from './rate-limited.js';
import { createWaitingRoom, systemClock, type Clock } from './waiting-room.js';
import { createLeases, type Lease } from './limiter-lease.js';
import { publishStarts } from './limiter-starts.js';
import type { LimiterOptions, LimiterStats, LimiterTask, SharedLimiter } from './limiter-types.js';

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
 * 3. **Leases** (`limiter-lease.ts`): one grant reserves a batch of tokens (its bottleneck weight: that many reservoir units and
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
      leases.noteArrival();
      pump();
    },
  });
  const leaseMs = options.leaseMs ?? 1_000 * paceMargin;
  if (!(leaseMs >= 0)) throw new RangeError(`leaseMs must be >= 0, got ${leaseMs}`);
  let tokenPending = false;
  let batches = 0;
  let fromLease = 0;
  let fromLocal = 0;
  let lateGrants = 0;
  /** A pump at the local share's next token, while calls wait for it or a grant. */
  let localTimer: unknown;
  let penalties = 0;
  let lastPenalty = -Infinity;
  let closed = false;
  const leases = createLeases({
    room,
    clock,
    maxBatch,
    sharedConcurrent,
    leaseMs,
    skewed,
    suspend: () => tokens.suspend(),
    onStarts: (count) => publishStarts(options.id, count, 'shared'),
  });

  /** Starts waiting calls from this process's local share (its starts in the last second, its own slots). */
  function drainLocal(): void {
    if (!local) return;
    while (room.waiting() > 0 && local.canStart()) {
      const [run] = room.startUpTo(1);
      if (!run) break;
      publishStarts(options.id, 1, 'local');
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
    fromLease += leases.drain();
    drainLocal();
    const waiting = room.waiting();
    if (tokenPending || waiting === 0) return;
    tokenPending = true;
    const weight = leases.size(waiting);
    let granted = false;
    tokens
      .request(
        weight,
        (dueAt) =>
          new Promise<void>((release) => {
            granted = true;
            tokenPending = false;
            batches++;
            const l: Lease = leases.open(weight, release);
            // The grant's tokens are used by its due time plus the lease (the pacing gave it that time); one that
            // comes later (a slow Redis answer, a busy event loop) starts nothing: its calls would join the grants
            // given after it, and every process can hold one.
            const t = now();
            const until = dueAt === undefined || leaseMs === 0 ? t + leaseMs : dueAt + leaseMs;
            if (t > until) {
              lateGrants++;
              leases.lapse(l);
              return pump();
            }
            leases.drain();
            if (l.left > 0) {
              if (until > t && !closed) {
                l.timer = clock.setTimer(() => leases.lapse(l), until - t);
                (l.timer as { unref?: () => void } | undefined)?.unref?.(); // a lease never keeps a process alive
              } else leases.lapse(l);
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
      leases.lapseCurrent(); // this process's unused tokens too
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
        wastedTokens: leases.wasted(),
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
      leases.lapseCurrent();
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
