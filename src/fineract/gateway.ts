import type { Cluster, Redis } from 'ioredis';
import { Counter, Histogram, type Metric } from 'prom-client';
import type { Logger } from '../logger.js';
import { CircuitBreaker, withBreaker, type BreakerOptions, type BreakerSnapshot } from './breaker.js';
import { FineractNotSent } from './not-sent.js';
import { FineractNotFound, FineractRejected, FineractUnauthorized, FineractUnavailable } from './errors.js';
import type { FineractRequester, HttpMethod, RequestOptions } from './http.js';
import { createSharedLimiter, RateLimited, type Priority } from '../limits/limiter.js';
import type { LimiterOptions, LimiterStats } from '../limits/limiter-types.js';
import { createReplicaRouter, type ReadFrom, type RouterStats } from './replicas.js';

export { FineractNotSent, type NotSentReason } from './not-sent.js';
export type { Priority } from '../limits/limiter.js';
export type { ReadFrom } from './replicas.js';
export type { BreakerOptions, BreakerSnapshot, BreakerState } from './breaker.js';

/**
 * The gateway that protects the back office (threat T12): every Fineract call of every process goes
 * through it. Layers, outside in:
 *
 * 1. **Deadline**: the call's deadline is `deadlineAt` (a hop's calls are given the hop's), and the queue
 *    wait is also capped by `maxQueueMs`. A call that cannot start in time is refused with
 *    `FineractNotSent('queue deadline')` (a `FineractUnavailable`; nothing was sent: for a write, money
 *    did not move). A read in flight is aborted at the hop deadline (an answer after it is useless); a
 *    write that started is never aborted by the gateway (only by the HTTP layer's own timeout, or by the
 *    caller's `signal`), so its outcome is never made unknown by the queue.
 * 2. **Fail fast**: when the circuit of every upstream able to serve the call is open, refuse at once with
 *    `FineractNotSent('circuit open')` instead of queueing.
 * 3. **Shared limiter** (`limits/limiter.ts`): `ratePerSecond` and `maxConcurrent` across all processes through
 *    Redis (bottleneck), writes before reads, bounded queue. A 429 from Fineract empties the current
 *    second's tokens everywhere.
 * 4. **Routing** (`replicas.ts`): GETs round-robin to the read replicas with fallback to the primary,
 *    everything else to the primary. One token covers a replica attempt and its fallback, so no instance
 *    sees more than the configured rate.
 * 5. **Circuit breaker per upstream** (`breaker.ts`).
 *
 * `close()` closes the limiter and every upstream; the Redis client stays open (it belongs to the store).
 */
export interface GatewayRequestOptions extends RequestOptions {
  /**
   * (From `RequestOptions`.) Latest epoch-ms time the call may start, and when a read is aborted: the hop's
   * deadline for a call made while serving a hop (`HopContext.deadline`, passed down by the caller); without
   * it only `maxQueueMs` bounds the wait.
   */
  deadlineAt?: number;
  /** `primary` forces a GET to the primary (a read right after a write). */
  readFrom?: ReadFrom;
}

export interface FineractGatewayOptions {
  primary: FineractRequester;
  replicas?: FineractRequester[];
  /** The store's ioredis client (standalone, Sentinel or Cluster); undefined = in-process limiter. */
  redis?: Redis | Cluster;
  /** Limiter id shared by all processes (default `kiunga-fineract`). */
  id?: string;
  /** Calls per second across all processes (FINERACT_RATE_LIMIT). */
  ratePerSecond: number;
  /** Calls in flight at once across all processes. */
  maxConcurrent: number;
  /**
   * Fraction of the rate and concurrency the processes split and spend from memory, with no Redis round trip
   * (FINERACT_RATE_LOCAL_SHARE; default 0: every call goes through the shared limiter). See `limits/limiter.ts`.
   */
  localShare?: number;
  /** Per upstream; see `breaker.ts` for the defaults. */
  breaker?: BreakerOptions;
  /** Longest wait in the queue for a call with no deadline (default 10,000 ms). */
  maxQueueMs?: number;
  /** Calls waiting in this process at most (default 1,000). */
  maxQueued?: number;
  /** A call needs at least this much time before its deadline to start (default 50 ms). */
  minStartMs?: number;
  /** Pacing below the rate that absorbs start-to-arrival jitter (default 0.05; see `limits/limiter.ts`). */
  paceMargin?: number;
  /** While calls wait, how often the shared reservoir may refill (default 100 ms; nothing runs while none wait). */
  heartbeatMs?: number;
  /** Slot of a call still running after this long is released (a crashed process; default 30,000 ms). */
  maxRunMs?: number;
  /** The clock guard: no shared-limiter script while this process's clock is skewed (see `limits/limiter.ts`). */
  clock?: LimiterOptions['clock'];
  logger?: Logger;
  now?: () => number;
}

export interface GatewayStats {
  limiter: LimiterStats;
  /** One per upstream: `primary`, `replica-1`, `replica-2`, ... */
  upstreams: BreakerSnapshot[];
  routing: RouterStats;
  /** Calls refused at the door because every usable circuit was open. */
  circuitRefused: number;
}

export interface FineractGateway extends FineractRequester {
  request<T = unknown>(method: HttpMethod, path: string, options?: GatewayRequestOptions): Promise<T>;
  /** True once the shared limiter is connected (see `SharedLimiter.ready`); false after `timeoutMs`. Never rejects. */
  ready(timeoutMs?: number): Promise<boolean>;
  /** For /metrics and /readyz: queue, refusals, breaker states. Cheap (no I/O). */
  stats(): GatewayStats;
  /**
   * Prometheus metrics of the calls that reached an upstream (registered by the app on /metrics): counts
   * by upstream, kind (read, write) and outcome, and their latency. Calls refused before sending are in
   * `stats()` (`kiunga_fineract_refused`).
   */
  readonly metrics: Metric[];
}

/** How a call that reached Fineract ended, the `outcome` label of `kiunga_fineract_requests_total`. */
export type CallOutcome = 'ok' | 'rejected' | 'not-found' | 'unauthorized' | 'unavailable' | 'error';

function outcomeOf(err: unknown): CallOutcome {
  // FineractNotSent is a FineractUnavailable, but it never reaches an upstream's wrapper (refused before it).
  if (err instanceof FineractUnavailable) return 'unavailable';
  if (err instanceof FineractRejected) return 'rejected';
  if (err instanceof FineractNotFound) return 'not-found';
  if (err instanceof FineractUnauthorized) return 'unauthorized';
  return 'error';
}

export function createFineractGateway(options: FineractGatewayOptions): FineractGateway {
  const now = options.now ?? Date.now;
  const maxQueueMs = options.maxQueueMs ?? 10_000;
  const minStartMs = options.minStartMs ?? 50;
  const logger = options.logger;

  const requests = new Counter({
    name: 'kiunga_fineract_requests_total',
    help:
      'Fineract calls sent, by upstream, kind (read, write) and outcome (ok; rejected: a 4xx business or validation ' +
      'error; not-found; unauthorized; unavailable: 5xx, 429, timeout, network; error: anything else).',
    labelNames: ['upstream', 'kind', 'outcome'],
    registers: [],
  });
  const seconds = new Histogram({
    name: 'kiunga_fineract_request_duration_seconds',
    help: 'Time a Fineract call took once sent (queue wait excluded), by upstream and kind.',
    labelNames: ['upstream', 'kind'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8],
    registers: [],
  });

  // A 429 from any upstream (even one whose read then fell back to the primary) slows everybody down.
  let penalize = (): void => undefined;
  // The calls' wrappers below are promise chains rather than async functions: every promise made while serving
  // a hop costs an allocation and a microtask on the hop's path.
  const observe = (name: string, upstream: FineractRequester): FineractRequester => ({
    request<T = unknown>(method: HttpMethod, path: string, opts?: RequestOptions): Promise<T> {
      const kind = method === 'GET' ? 'read' : 'write';
      const end = seconds.startTimer({ upstream: name, kind });
      const done = (outcome: CallOutcome) => {
        end();
        requests.inc({ upstream: name, kind, outcome });
      };
      let sent: Promise<T>;
      try {
        sent = upstream.request<T>(method, path, opts);
      } catch (err) {
        sent = Promise.reject(err as Error);
      }
      return sent.then(
        (value) => {
          done('ok');
          return value;
        },
        (err: unknown) => {
          if (err instanceof FineractUnavailable && err.httpStatus === 429) penalize();
          done(outcomeOf(err));
          throw err;
        },
      );
    },
    close: () => upstream.close(),
  });
  const behindBreaker = (name: string, upstream: FineractRequester) =>
    withBreaker(observe(name, upstream), new CircuitBreaker(name, options.breaker, { now, ...(logger ? { logger } : {}) }), now);
  const primary = behindBreaker('primary', options.primary);
  const replicas = (options.replicas ?? []).map((r, i) => behindBreaker(`replica-${i + 1}`, r));
  const router = createReplicaRouter({ primary, replicas, ...(logger ? { logger } : {}) });
  const limiter = createSharedLimiter({
    id: options.id ?? 'kiunga-fineract',
    ratePerSecond: options.ratePerSecond,
    maxConcurrent: options.maxConcurrent,
    ...(options.redis ? { redis: options.redis } : {}),
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.paceMargin !== undefined ? { paceMargin: options.paceMargin } : {}),
    ...(options.maxQueued !== undefined ? { maxQueued: options.maxQueued } : {}),
    ...(options.maxRunMs !== undefined ? { maxRunMs: options.maxRunMs } : {}),
    ...(options.localShare !== undefined ? { localShare: options.localShare } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(logger ? { logger } : {}),
    now,
  });
  penalize = () => limiter.penalize();
  let circuitRefused = 0;
  let closing: Promise<void> | undefined;

  function call<T>(method: HttpMethod, path: string, opts: GatewayRequestOptions): Promise<T> {
    const { deadlineAt: hopDeadline, priority: givenPriority, readFrom, ...http } = opts;
    const where = `${method} ${path}`;
    const isWrite = method !== 'GET';
    const priority: Priority = givenPriority ?? (isWrite ? 'write' : 'read');
    const startBy = Math.min(hopDeadline ?? Infinity, now() + maxQueueMs) - minStartMs;

    if (!router.canServe(method, readFrom)) {
      circuitRefused++;
      return Promise.reject(new FineractNotSent('circuit open', where));
    }

    return limiter
      .schedule<T>({
        priority,
        startBy,
        where,
        ...(http.signal ? { signal: http.signal } : {}),
        run: () => {
          // A read is useless after the hop's deadline: the HTTP layer aborts it then, on the timer it keeps for the
          // call's own timeout (no second controller, timer and signal per read). A write that started runs to its end.
          const abortAt = !isWrite && hopDeadline !== undefined ? Math.min(hopDeadline, http.abortAt ?? Infinity) : http.abortAt;
          try {
            return router.request<T>(method, path, {
              ...http,
              ...(abortAt !== undefined ? { abortAt } : {}),
              ...(readFrom ? { readFrom } : {}),
            });
          } catch (err) {
            return Promise.reject(err as Error);
          }
        },
      })
      .catch((err: unknown) => {
        // The limiter's refusal: nothing reached Fineract.
        throw err instanceof RateLimited ? new FineractNotSent(err.reason, where) : err;
      });
  }

  return {
    request: <T = unknown>(method: HttpMethod, path: string, opts: GatewayRequestOptions = {}) => call<T>(method, path, opts),
    ready: (timeoutMs?: number) => limiter.ready(timeoutMs),
    stats: () => ({
      limiter: limiter.stats(),
      upstreams: [primary, ...replicas].map((u) => u.breaker.snapshot()),
      routing: router.stats(),
      circuitRefused,
    }),
    metrics: [requests, seconds],
    close(): Promise<void> {
      closing ??= (async () => {
        await limiter.close();
        await router.close();
      })();
      return closing;
    },
  };
}
