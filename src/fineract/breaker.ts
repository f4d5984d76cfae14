import type { Logger } from '../logger.js';
import { FineractNotSent } from './not-sent.js';
import { FineractError, FineractUnavailable } from './errors.js';
import type { FineractRequester, HttpMethod, RequestOptions } from './http.js';

/**
 * A circuit breaker per Fineract upstream (the primary and each read replica separately).
 *
 * - **closed**: calls pass. It opens after `consecutiveFailures` retryable failures in a row, or when at
 *   least `minimumCalls` calls in the last `windowMs` include a share of failures of `failureRatio` or more.
 * - **open**: calls fail at once with `FineractNotSent('circuit open')` (nothing is sent) for `coolDownMs`.
 * - **half-open**: after the cool-down exactly one call (the probe) goes through; the others still fail
 *   fast. The probe's success closes the circuit (counters reset); its failure opens it for another
 *   cool-down.
 *
 * A failure is a `FineractUnavailable` from the upstream: network error, reset, 5xx, 408/429, an
 * unparseable answer, or the HTTP layer's own timeout (a 425, "same idempotency key still in flight", is
 * ignored). An answer the upstream gave on purpose (4xx
 * `FineractRejected`, 404 `FineractNotFound`, 401/403 `FineractUnauthorized`) proves it is up: a success.
 * A call cut short by the caller's own signal (the hop's deadline) says little about the upstream when it
 * was short, so it counts as a failure only when it had run for `slowCallMs` or more (a slow upstream is,
 * for a USSD hop, a down upstream); otherwise it is ignored.
 *
 * State is per process and in memory: two processes may open at slightly different moments. This is on
 * purpose: a breaker must be cheap (no Redis round trip per call) and must keep working when Redis does
 * not; each process sees the same upstream and reaches the same verdict within a few calls.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Retryable failures in a row that open the circuit (default 5). */
  consecutiveFailures?: number;
  /** Failure share in the window that opens the circuit (default 0.5). */
  failureRatio?: number;
  /** Calls the window must hold before the ratio is judged (default 20). */
  minimumCalls?: number;
  /** Length of the sliding window for the ratio (default 10,000 ms). */
  windowMs?: number;
  /** How long the circuit stays open before a probe (default 5,000 ms). */
  coolDownMs?: number;
  /** A call aborted by the caller counts as a failure only if it ran at least this long (default 1,000 ms). */
  slowCallMs?: number;
}

export interface BreakerSnapshot {
  name: string;
  state: BreakerState;
  /** Retryable failures in a row so far (closed state). */
  consecutiveFailures: number;
  /** Calls and failures judged in the current window. */
  windowCalls: number;
  windowFailures: number;
  /** Times the circuit opened since start. */
  opened: number;
  /** Calls refused without being sent because the circuit was open (or the probe was taken). */
  rejected: number;
  /** When the circuit last opened (epoch ms), if it is open or half-open. */
  openedAt?: number;
}

/** The outcome of one call, as the breaker judges it. */
export type CallOutcome = 'success' | 'failure' | 'ignored';

/** Permission for one call; hand it back to `record`. */
export interface BreakerTicket {
  readonly probe: boolean;
  readonly generation: number;
}

const BUCKETS = 10;

export class CircuitBreaker {
  readonly #consecutiveLimit: number;
  readonly #ratio: number;
  readonly #minimumCalls: number;
  readonly #bucketMs: number;
  readonly #coolDownMs: number;
  readonly slowCallMs: number;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  readonly #onChange: ((state: BreakerState, snapshot: BreakerSnapshot) => void) | undefined;

  /** 'closed' or 'open'; half-open is 'open' once the cool-down has passed. */
  #phase: 'closed' | 'open' = 'closed';
  #openUntil = 0;
  #openedAt: number | undefined;
  #probeInFlight = false;
  /** Bumped on every transition: results of calls let through under an older state are ignored. */
  #generation = 0;
  #consecutive = 0;
  #opened = 0;
  #rejected = 0;
  readonly #bucketIds = new Array<number>(BUCKETS).fill(-1);
  readonly #bucketCalls = new Array<number>(BUCKETS).fill(0);
  readonly #bucketFailures = new Array<number>(BUCKETS).fill(0);

  constructor(
    readonly name: string,
    options: BreakerOptions = {},
    deps: { now?: () => number; logger?: Logger; onStateChange?: (state: BreakerState, snapshot: BreakerSnapshot) => void } = {},
  ) {
    this.#consecutiveLimit = positiveInt(options.consecutiveFailures ?? 5, 'consecutiveFailures');
    this.#ratio = options.failureRatio ?? 0.5;
    if (!(this.#ratio > 0 && this.#ratio <= 1)) throw new RangeError(`failureRatio must be in (0, 1], got ${this.#ratio}`);
    this.#minimumCalls = positiveInt(options.minimumCalls ?? 20, 'minimumCalls');
    this.#bucketMs = Math.max(1, Math.ceil(positiveInt(options.windowMs ?? 10_000, 'windowMs') / BUCKETS));
    this.#coolDownMs = positiveInt(options.coolDownMs ?? 5_000, 'coolDownMs');
    this.slowCallMs = options.slowCallMs ?? 1_000;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.logger?.child({ component: 'fineract-breaker', upstream: name });
    this.#onChange = deps.onStateChange;
  }

  get state(): BreakerState {
    if (this.#phase === 'closed') return 'closed';
    return this.#now() >= this.#openUntil ? 'half-open' : 'open';
  }

  /** True when a call would be let through now. Takes nothing: the probe may still be gone by then. */
  canPass(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && !this.#probeInFlight);
  }

  /** Permission for one call, or null when the call must fail fast (counted as rejected). */
  acquire(): BreakerTicket | null {
    const state = this.state;
    if (state === 'closed') return { probe: false, generation: this.#generation };
    if (state === 'half-open' && !this.#probeInFlight) {
      this.#probeInFlight = true;
      return { probe: true, generation: this.#generation };
    }
    this.#rejected++;
    return null;
  }

  /** Records the outcome of a call let through with `ticket`. */
  record(ticket: BreakerTicket, outcome: CallOutcome): void {
    if (ticket.generation !== this.#generation) return; // the state changed while the call ran
    if (ticket.probe) {
      this.#probeInFlight = false;
      if (outcome === 'success') this.#close();
      else if (outcome === 'failure') this.#open('probe failed');
      return; // ignored: stay half-open, the next call probes again
    }
    if (this.#phase !== 'closed' || outcome === 'ignored') return;
    const bucket = this.#bucket();
    this.#bucketCalls[bucket]!++;
    if (outcome === 'success') {
      this.#consecutive = 0;
      return;
    }
    this.#bucketFailures[bucket]!++;
    this.#consecutive++;
    if (this.#consecutive >= this.#consecutiveLimit) return this.#open(`${this.#consecutive} failures in a row`);
    const { calls, failures } = this.#window();
    if (calls >= this.#minimumCalls && failures / calls >= this.#ratio) this.#open(`${failures} of ${calls} calls failed`);
  }

  snapshot(): BreakerSnapshot {
    const { calls, failures } = this.#window();
    return {
      name: this.name,
      state: this.state,
      consecutiveFailures: this.#consecutive,
      windowCalls: calls,
      windowFailures: failures,
      opened: this.#opened,
      rejected: this.#rejected,
      ...(this.#openedAt !== undefined ? { openedAt: this.#openedAt } : {}),
    };
  }

  #open(why: string): void {
    const reopened = this.#phase === 'open';
    this.#phase = 'open';
    this.#openedAt = this.#now();
    this.#openUntil = this.#openedAt + this.#coolDownMs;
    this.#generation++;
    this.#opened++;
    this.#probeInFlight = false;
    this.#log?.warn({ why, coolDownMs: this.#coolDownMs, reopened }, 'fineract circuit open: failing fast');
    this.#onChange?.('open', this.snapshot());
  }

  #close(): void {
    this.#phase = 'closed';
    this.#openedAt = undefined;
    this.#generation++;
    this.#consecutive = 0;
    this.#bucketIds.fill(-1);
    this.#bucketCalls.fill(0);
    this.#bucketFailures.fill(0);
    this.#log?.info('fineract circuit closed: upstream answers again');
    this.#onChange?.('closed', this.snapshot());
  }

  #bucket(): number {
    const id = Math.floor(this.#now() / this.#bucketMs);
    const i = id % BUCKETS;
    if (this.#bucketIds[i] !== id) {
      this.#bucketIds[i] = id;
      this.#bucketCalls[i] = 0;
      this.#bucketFailures[i] = 0;
    }
    return i;
  }

  #window(): { calls: number; failures: number } {
    const current = Math.floor(this.#now() / this.#bucketMs);
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (current - this.#bucketIds[i]! < BUCKETS) {
        calls += this.#bucketCalls[i]!;
        failures += this.#bucketFailures[i]!;
      }
    }
    return { calls, failures };
  }
}

/**
 * Judges one failed call. `aborted`: the caller's signal had fired; `elapsedMs`: how long the call ran.
 */
export function classifyFailure(err: unknown, aborted: boolean, elapsedMs: number, slowCallMs: number): CallOutcome {
  if (err instanceof FineractNotSent) return 'ignored'; // refused before sending: says nothing about the upstream
  if (err instanceof FineractUnavailable) {
    if (err.httpStatus === 425) return 'ignored'; // the same idempotency key is still being processed: not ill health
    if (aborted) return elapsedMs >= slowCallMs ? 'failure' : 'ignored';
    return 'failure';
  }
  if (err instanceof FineractError) return 'success'; // the upstream answered on purpose
  return 'ignored'; // not a Fineract error: a bug on our side, not the upstream's health
}

/** A requester behind a breaker: the breaker's state for metrics, and whether a call would pass now. */
export interface BreakerRequester extends FineractRequester {
  readonly breaker: CircuitBreaker;
}

/** Wraps one upstream with its breaker. `close()` closes the upstream. */
export function withBreaker(upstream: FineractRequester, breaker: CircuitBreaker, now: () => number = Date.now): BreakerRequester {
  return {
    breaker,
    async request<T = unknown>(method: HttpMethod, path: string, options?: RequestOptions): Promise<T> {
      const ticket = breaker.acquire();
      if (!ticket) throw new FineractNotSent('circuit open', `${method} ${path} (${breaker.name})`);
      const started = now();
      try {
        const result = await upstream.request<T>(method, path, options);
        breaker.record(ticket, 'success');
        return result;
      } catch (err) {
        breaker.record(ticket, classifyFailure(err, options?.signal?.aborted ?? false, now() - started, breaker.slowCallMs));
        throw err;
      }
    },
    close: () => upstream.close(),
  };
}

function positiveInt(n: number, what: string): number {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${what} must be a positive integer, got ${n}`);
  return n;
}
