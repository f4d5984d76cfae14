import Bottleneck from 'bottleneck';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { PACE_MARGIN } from '../constants.js';
import { FineractNotSent, type NotSentReason } from '../fineract/not-sent.js';

/**
 * The shared admission control in front of Fineract: a request rate and a concurrency cap that hold
 * across every Kiunga process (through Redis), a priority queue per process (writes before reads), and a
 * start deadline per call so nothing waits for ever.
 *
 * Two layers:
 *
 * 1. **Tokens: bottleneck**, clustered on Redis (`datastore: 'ioredis'`) or in-process when there is no
 *    Redis. A token is a reservoir unit (`reservoir = reservoirRefreshAmount = ratePerSecond`,
 *    `reservoirRefreshInterval: 1000`) plus one of `maxConcurrent` running slots, held until the call
 *    settles. Starts are also paced (`minTime`, shared through Redis) a little below the rate
 *    (`paceMargin`): a reservoir alone lets a second's calls out in one burst, and a burst delayed on
 *    its way (a new connection, a busy event loop) lands on Fineract together with the next one. In clustered mode bottleneck refreshes the reservoir only when some limiter runs a script,
 *    and a limiter that only waits runs one on its heartbeat (default 5 s): with the default, 20/s ran as
 *    20 per 5 s (measured). `heartbeatMs` (default 100) bounds that delay, so the achieved rate is the
 *    configured one. `expiration` (`maxRunMs`) frees the slot of a process that died mid-call.
 * 2. **Waiters: our own queue.** bottleneck cannot take a job out of its queue, and a job it starts costs a
 *    token even if its caller gave up. So the calls wait here, in two FIFO lists (writes, then reads), each
 *    with a timer at its start deadline; each process keeps exactly one token request pending in
 *    bottleneck, and when that token is granted it goes to the best call still waiting, and the next token
 *    is requested at once. A call that gave up costs nothing; at most one token is ever spent on an empty
 *    queue.
 *
 * Guarantees and limits:
 * - No more than `ratePerSecond` calls start per refresh interval across all processes, at least
 *   `minTime` apart, and no more than `maxConcurrent` run at once. Measured at a sandbox Fineract, two
 *   processes at 20/s never put more than 21 calls in any sliding second (test/gateway/shared-limit).
 *   A burst of k calls on an idle limiter takes (k - 1) x minTime to start: the price of smoothness.
 * - Priority is per process: a write waits only behind the writes of its own process. Across processes,
 *   tokens are shared fairly (bottleneck gives freed capacity to the process running the fewest calls).
 * - A call that cannot start by its start deadline is refused with `FineractNotSent('queue deadline')`:
 *   at its deadline, or at once when even the full rate could not reach it in time. A call that started
 *   is never cut by the limiter.
 * - The queue of a process holds at most `maxQueued` calls; when full, a new write sheds the newest read,
 *   and a call with nothing to shed is refused with `FineractNotSent('queue full')`.
 * - With Redis down, calls are refused at once with `FineractNotSent('limiter unavailable')` rather than
 *   sent unlimited; bottleneck re-creates its state when Redis comes back empty.
 * - bottleneck keeps its settings in Redis; at start-up this process writes its own rate and concurrency
 *   there, so a changed `FINERACT_RATE_LIMIT` applies at the next deployment (the last process to start wins).
 * - bottleneck takes "now" from each process's clock: keep the hosts' clocks in sync (NTP).
 */
export type Priority = 'write' | 'read';

export interface LimiterOptions {
  /** A live ioredis client (standalone, Sentinel or Cluster) shared with the store; undefined = in-process. */
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
   * is allowed to start and the moment it reaches Fineract (event loop, network), so that Fineract itself
   * does not see more than the rate in any one-second window. 0 paces at exactly the rate.
   */
  paceMargin?: number;
  /** How often each process runs bottleneck's heartbeat (default 100 ms; 5,000 is bottleneck's default and far too slow). */
  heartbeatMs?: number;
  /** Calls waiting in this process at most (default 1,000). */
  maxQueued?: number;
  /** A running call's slot is freed after this long even if the call still runs (crashed process; default 30,000). */
  maxRunMs?: number;
  logger?: Logger;
  now?: () => number;
}

export interface LimiterTask<T> {
  priority: Priority;
  /** Latest epoch-ms time the task may start. */
  startBy: number;
  /** `METHOD /path`, for errors and logs (never the query string). */
  where: string;
  /** The caller's cancellation: aborted while waiting = refused like a missed deadline. */
  signal?: AbortSignal;
  run: () => Promise<T>;
}

export interface LimiterStats {
  mode: 'redis' | 'local';
  /** The Redis connection is up (always true in-process). */
  connected: boolean;
  queued: { write: number; read: number };
  /** Calls of this process running now. */
  running: number;
  /** Calls of this process started since start-up. */
  started: number;
  /** Calls refused without being sent, by reason. */
  refused: Record<Exclude<NotSentReason, 'circuit open'>, number>;
  /** Tokens granted when nobody was waiting any more. */
  wastedTokens: number;
  /** Bottleneck jobs granted; each carries a batch of up to rate/20 calls. */
  batches: number;
  /** Times a 429 from Fineract emptied the shared reservoir. */
  penalties: number;
}

export interface SharedLimiter {
  /** Runs `task.run` once a token is granted; rejects with `FineractNotSent` if it cannot start in time. */
  schedule<T>(task: LimiterTask<T>): Promise<T>;
  /** Fineract answered 429: spend the rest of this second's tokens, in every process (at most once a second). */
  penalize(): void;
  /**
   * Waits until the limiter is connected and its settings are written: true; or false after `timeoutMs`
   * (default 3,000) if Redis is not there yet. Never rejects: until connected, calls are refused with
   * `FineractNotSent('limiter unavailable')`, and the limiter connects by itself when Redis comes.
   */
  ready(timeoutMs?: number): Promise<boolean>;
  stats(): LimiterStats;
  /** Refuses the waiting calls, waits (up to 5 s) for running ones, and leaves Redis; the shared client stays open. */
  close(): Promise<void>;
}

interface Waiter {
  priority: Priority;
  startBy: number;
  where: string;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
  start(): Promise<void>;
  refuse(reason: NotSentReason): void;
}

const ID = /^[A-Za-z0-9_.:-]{1,100}$/;
const ERROR_LOG_INTERVAL_MS = 5_000;
const CLOSE_WAIT_MS = 5_000;

export function createSharedLimiter(options: LimiterOptions): SharedLimiter {
  const { ratePerSecond, maxConcurrent, redis } = options;
  if (!Number.isInteger(ratePerSecond) || ratePerSecond <= 0) throw new RangeError(`ratePerSecond must be a positive integer, got ${ratePerSecond}`);
  if (!Number.isInteger(maxConcurrent) || maxConcurrent <= 0) throw new RangeError(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
  if (!ID.test(options.id)) throw new TypeError(`invalid limiter id ${JSON.stringify(options.id)}`);
  const now = options.now ?? Date.now;
  const maxQueued = options.maxQueued ?? 1_000;
  const maxRunMs = options.maxRunMs ?? 30_000;
  const heartbeatMs = options.heartbeatMs ?? 100;
  const paceMargin = options.paceMargin ?? PACE_MARGIN;
  if (!(paceMargin >= 0 && paceMargin < 1)) throw new RangeError(`paceMargin must be in [0, 1), got ${paceMargin}`);
  const log = options.logger?.child({ component: 'fineract-limiter' });

  // One bottleneck job costs a few milliseconds of its own bookkeeping (it yields to the event loop several
  // times), which capped a process near 400 calls a second whatever the configured rate. At high rates one
  // job therefore carries a batch of tokens (its weight): at most 5% of a second's calls start together, so
  // the pacing still spreads them over the second. At 20 calls a second a batch is one call, as before.
  const maxBatch = Math.max(1, Math.min(maxConcurrent, Math.floor(ratePerSecond / 20)));

  // Written to Redis at start-up (below). Not `reservoir`: that would hand out a fresh second's tokens
  // every time a process starts.
  const settings = {
    maxConcurrent,
    reservoirRefreshAmount: ratePerSecond,
    reservoirRefreshInterval: 1_000,
    minTime: (1_000 * maxBatch) / (ratePerSecond * (1 - paceMargin)),
  };

  // Clustered: the id becomes a Redis Cluster hash tag, so all of bottleneck's keys (`b_{id}_settings`,
  // `b_{id}_job_weights`, ...) share one slot and its Lua scripts stay legal on a Cluster.
  let connection: Bottleneck.IORedisConnection | undefined;
  let addedListeners: (() => void) | undefined;
  if (redis) {
    const before = new Set(redis.listeners('error'));
    // Uses the live client for commands and `client.duplicate()` (Redis or Cluster) for its subscriber.
    connection = new Bottleneck.IORedisConnection({ client: redis });
    tolerateRedis7ErrorPrefix(connection);
    const added = redis.listeners('error').filter((l) => !before.has(l));
    addedListeners = () => {
      for (const l of added) redis.off('error', l as (...args: unknown[]) => void);
    };
  }
  const bottleneck = new Bottleneck({
    ...settings,
    reservoir: ratePerSecond,
    id: redis ? `{${options.id}}` : options.id,
    heartbeatInterval: heartbeatMs,
    ...(connection ? { datastore: 'ioredis' as const, connection, clearDatastore: false } : {}),
  });

  let lastErrorLog = -Infinity;
  const logError = (err: unknown, what: string) => {
    const t = now();
    if (t - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = t;
    log?.warn({ reason: err instanceof Error ? err.message : String(err) }, what);
  };
  bottleneck.on('error', (err: unknown) => {
    logError(err, 'rate limiter error');
    if (!connected()) refuseAll('limiter unavailable');
  });
  connection?.on('error', (err: unknown) => logError(err, 'rate limiter redis error'));

  let isReady = false;
  const readyPromise: Promise<void> = (async () => {
    await bottleneck.ready();
    // Settings already in Redis win over the constructor's; write ours (a changed rate applies on deploy).
    if (redis) await bottleneck.updateSettings(settings);
    isReady = true;
  })();
  readyPromise.catch((err: unknown) => logError(err, 'rate limiter failed to start'));

  const writes: Waiter[] = [];
  const reads: Waiter[] = [];
  const live = { write: 0, read: 0 };
  let tokenPending = false;
  let running = 0;
  let started = 0;
  let wastedTokens = 0;
  let batches = 0;
  let penalties = 0;
  let lastPenalty = -Infinity;
  let closed = false;
  const refused = { 'queue deadline': 0, 'queue full': 0, 'limiter unavailable': 0, closed: 0 };
  const idle: (() => void)[] = [];

  function connected(): boolean {
    return !redis || redis.status === 'ready';
  }

  function listOf(p: Priority): Waiter[] {
    return p === 'write' ? writes : reads;
  }

  /** Removes settled waiters from the head of a list. */
  function trim(list: Waiter[]): void {
    let i = 0;
    while (i < list.length && list[i]!.settled) i++;
    if (i > 0) list.splice(0, i);
  }

  /** Drops refused waiters from the middle of a list once they outnumber the live ones (bounded memory). */
  function compact(list: Waiter[], liveCount: number): void {
    if (list.length < 2 * liveCount + 64) return;
    let j = 0;
    for (const w of list) if (!w.settled) list[j++] = w;
    list.length = j;
  }

  function takeNext(): Waiter | undefined {
    for (const list of [writes, reads]) {
      trim(list);
      const w = list.shift();
      if (w) return w;
    }
    return undefined;
  }

  /** Keeps one token request (for a batch of up to `maxBatch` calls) pending in bottleneck while anybody waits. */
  function pump(): void {
    const waiting = live.write + live.read;
    if (tokenPending || closed || waiting === 0) return;
    tokenPending = true;
    const weight = Math.min(waiting, maxBatch);
    let granted = false;
    bottleneck
      .schedule({ expiration: maxRunMs, weight }, async () => {
        granted = true;
        tokenPending = false;
        batches++;
        const runs: Promise<void>[] = [];
        while (runs.length < weight) {
          let w = takeNext();
          while (w && now() > w.startBy) {
            w.refuse('queue deadline'); // its timer has not fired yet
            w = takeNext();
          }
          if (!w) break;
          runs.push(w.start()); // takes it off the live count at once, before the next token is asked for
        }
        wastedTokens += weight - runs.length;
        pump();
        await Promise.all(runs);
      })
      .catch((err: unknown) => {
        if (granted) return; // expiration: the call outlived maxRunMs; its caller still gets its answer
        tokenPending = false;
        logError(err, 'rate limiter could not queue a call');
        if (!connected()) refuseAll('limiter unavailable');
        else setTimeout(pump, heartbeatMs).unref();
      });
  }

  function refuseAll(reason: NotSentReason): void {
    for (const list of [writes, reads]) {
      for (const w of list.splice(0)) if (!w.settled) w.refuse(reason);
    }
  }

  /** Live waiters that would start before a new `priority` call and cannot expire before `startBy`. */
  function aheadOf(priority: Priority, startBy: number): number {
    let n = 0;
    for (const list of priority === 'write' ? [writes] : [writes, reads]) {
      for (const w of list) if (!w.settled && w.startBy >= startBy) n++;
    }
    return n;
  }

  /** Sheds the newest waiting read (to make room for a write). */
  function shedNewestRead(): boolean {
    for (let i = reads.length - 1; i >= 0; i--) {
      const w = reads[i]!;
      if (!w.settled) {
        w.refuse('queue full');
        return true;
      }
    }
    return false;
  }

  return {
    schedule<T>(task: LimiterTask<T>): Promise<T> {
      const refuse = (reason: NotSentReason): Promise<T> => {
        if (reason !== 'circuit open') refused[reason]++;
        return Promise.reject(new FineractNotSent(reason, task.where));
      };
      if (closed) return refuse('closed');
      if (task.signal?.aborted) return refuse('queue deadline');
      if (!connected()) return refuse('limiter unavailable');
      const left = task.startBy - now();
      if (left < 0) return refuse('queue deadline');
      // Even at the full shared rate, with a full reservoir now, this call could not be reached in time.
      const reachable = ratePerSecond * (1 + Math.ceil(left / 1000));
      if (aheadOf(task.priority, task.startBy) >= reachable) return refuse('queue deadline');
      if (live.write + live.read >= maxQueued && !(task.priority === 'write' && shedNewestRead())) return refuse('queue full');

      return new Promise<T>((resolve, reject) => {
        const w: Waiter = {
          priority: task.priority,
          startBy: task.startBy,
          where: task.where,
          settled: false,
          timer: undefined,
          refuse(reason) {
            if (w.settled) return;
            w.settled = true;
            live[w.priority]--;
            clearTimeout(w.timer);
            task.signal?.removeEventListener('abort', onAbort);
            if (reason !== 'circuit open') refused[reason]++;
            compact(listOf(w.priority), live[w.priority]);
            reject(new FineractNotSent(reason, w.where));
          },
          async start() {
            if (w.settled) return;
            w.settled = true;
            live[w.priority]--;
            clearTimeout(w.timer);
            task.signal?.removeEventListener('abort', onAbort);
            running++;
            started++;
            try {
              resolve(await task.run());
            } catch (err) {
              reject(err);
            } finally {
              running--;
              if (running === 0) idle.splice(0).forEach((f) => f());
            }
          },
        };
        const onAbort = () => w.refuse('queue deadline');
        task.signal?.addEventListener('abort', onAbort, { once: true });
        w.timer = setTimeout(() => w.refuse('queue deadline'), left);
        live[w.priority]++;
        listOf(w.priority).push(w);
        pump();
      });
    },

    penalize(): void {
      const t = now();
      if (t - lastPenalty < 1_000) return;
      lastPenalty = t;
      penalties++;
      log?.warn('Fineract answered 429: pausing calls until the next refill');
      bottleneck.incrementReservoir(-ratePerSecond).catch((err: unknown) => logError(err, 'rate limiter penalty failed'));
    },

    async ready(timeoutMs = 3_000): Promise<boolean> {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const ok = await Promise.race([readyPromise.then(() => true, () => false), timedOut]);
      clearTimeout(timer);
      if (!ok) log?.warn({ timeoutMs }, 'rate limiter not connected yet: Fineract calls are refused until Redis answers');
      return ok;
    },

    stats(): LimiterStats {
      return {
        mode: redis ? 'redis' : 'local',
        connected: connected() && isReady,
        queued: { ...live },
        running,
        started,
        refused: { ...refused },
        wastedTokens,
        batches,
        penalties,
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      refuseAll('closed');
      if (running > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, CLOSE_WAIT_MS);
          idle.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      // Let bottleneck record the last frees before leaving.
      for (let i = 0; i < 50 && bottleneck.counts().EXECUTING + bottleneck.counts().RUNNING > 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      // With a shared connection, bottleneck's disconnect only clears its heartbeat and unsubscribes
      // (without awaiting: an unsubscribe on a dead subscriber would be an unhandled rejection). Our
      // subscriber is closed right after anyway, so mark the connection terminated: no unsubscribe.
      const internals = connection as unknown as { terminated?: boolean; subscriber?: { disconnect(): void } } | undefined;
      if (internals) internals.terminated = true;
      await Promise.resolve(bottleneck.disconnect(false)).catch(() => undefined);
      // The shared client belongs to the store: only the subscriber (its duplicate) is ours to close.
      internals?.subscriber?.disconnect();
      addedListeners?.();
    },
  };
}

/**
 * Redis 7 prefixes `ERR ` to the error replies of bottleneck's Lua scripts, so bottleneck 2.19.5 no longer
 * recognises `SETTINGS_KEY_NOT_FOUND` and `UNKNOWN_CLIENT` and never re-creates its keys after Redis lost
 * them (a restart without persistence, a failover): every later call failed. Strip the prefix so its own
 * recovery (re-run `init` / `register_client`) works again. Relies on bottleneck's internal
 * `__scriptArgs__`; the Redis-restart test fails without it.
 */
function tolerateRedis7ErrorPrefix(connection: Bottleneck.IORedisConnection): void {
  type Callback = (err: Error | null, replies: unknown) => void;
  const target = connection as unknown as { __scriptArgs__: (name: string, id: string, args: unknown[], cb: Callback) => unknown[] };
  const original = target.__scriptArgs__.bind(connection);
  target.__scriptArgs__ = (name, id, args, cb) =>
    original(name, id, args, (err, replies) => {
      if (err && /^ERR (SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT)$/.test(err.message)) return cb(new Error(err.message.slice(4)), replies);
      cb(err, replies);
    });
}
