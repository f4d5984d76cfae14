import { AsyncLocalStorage } from 'node:async_hooks';
import { FineractUnavailable } from './errors.js';

/**
 * The current hop's absolute deadline (epoch milliseconds, `Date.now()` clock), carried through async calls
 * so that every Fineract call made while serving a hop knows how long it may wait, without plumbing.
 *
 * The turn runner wraps each hop: `runWithDeadline(Date.now() + budgetMs, () => runHop(...))`. The gateway
 * reads `currentDeadline()` when a call gives no `deadlineAt` of its own.
 */
const storage = new AsyncLocalStorage<number>();

/**
 * Runs `fn` with `deadlineAt` as the current deadline. Nested calls can only shorten the deadline, never
 * extend it: the effective deadline is the earlier of the outer one and `deadlineAt`.
 */
export function runWithDeadline<T>(deadlineAt: number, fn: () => Promise<T>): Promise<T> {
  if (!Number.isFinite(deadlineAt)) throw new RangeError(`deadlineAt must be a finite epoch time, got ${deadlineAt}`);
  const outer = storage.getStore();
  return storage.run(outer === undefined ? deadlineAt : Math.min(outer, deadlineAt), fn);
}

/** The deadline of the hop being served, or undefined outside `runWithDeadline`. */
export function currentDeadline(): number | undefined {
  return storage.getStore();
}

/** Milliseconds left before the current deadline (may be negative), or undefined when there is none. */
export function remainingMs(now: number = Date.now()): number | undefined {
  const deadline = storage.getStore();
  return deadline === undefined ? undefined : deadline - now;
}

/** Why the gateway refused a call without sending it. */
export type NotSentReason =
  /** The call could not start before its deadline (or the gateway's longest queue wait). */
  | 'queue deadline'
  /** This process's queue is at its high-water mark and the call was the one shed. */
  | 'queue full'
  /** The circuit breaker of every upstream able to serve the call is open. */
  | 'circuit open'
  /** The shared rate limiter (Redis) could not be reached. */
  | 'limiter unavailable'
  /** The gateway is closing. */
  | 'closed';

/**
 * A call the gateway refused before anything reached Fineract: for a write, money did NOT move, and the
 * same request may be retried (with the same idempotency key). It is a `FineractUnavailable` (kind
 * `unavailable`, retryable), so flows that branch on `kind` need no change.
 */
export class FineractNotSent extends FineractUnavailable {
  /** Always false: the request never left Kiunga. */
  readonly executed = false as const;
  constructor(
    readonly reason: NotSentReason,
    where: string,
  ) {
    super(`Fineract call ${where} not sent: ${reason}`);
  }
}
