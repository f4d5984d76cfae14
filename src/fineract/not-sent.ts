import { FineractUnavailable } from './errors.js';

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
