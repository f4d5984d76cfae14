/** Why the rate limiter refused a call without running it. */
export type RefusalReason =
  /** The call could not start before its start-by time (or its caller gave up waiting). */
  | 'queue deadline'
  /** This process's waiting room is at its high-water mark and the call was the one shed. */
  | 'queue full'
  /** The shared limiter's store (Redis) could not be reached. */
  | 'limiter unavailable'
  /** The limiter is closing. */
  | 'closed';

export const REFUSAL_REASONS: readonly RefusalReason[] = ['queue deadline', 'queue full', 'limiter unavailable', 'closed'];

/**
 * A call the rate limiter refused: it never ran. Each user maps it to its own error (the Fineract gateway
 * to `FineractNotSent`, outbound SMS and calls to a transient delivery error that the job queue retries).
 */
export class RateLimited extends Error {
  constructor(
    readonly reason: RefusalReason,
    /** What the call was (`METHOD /path`, `sms <provider>`): never a query string or personal data. */
    readonly where: string,
  ) {
    super(`${where} not run: ${reason}`);
    this.name = 'RateLimited';
  }
}
