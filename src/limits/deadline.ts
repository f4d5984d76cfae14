/**
 * A hop's absolute deadline (epoch milliseconds, `Date.now()` clock), which every call made while serving the
 * hop (Fineract, Redis, the rate limiter) is given so that it knows how long it may wait. The turn runner
 * puts it in the hop's context (`HopContext.deadline`, session/hop-context.ts); actors and services pass it
 * on explicitly (the gateway's `deadlineAt`).
 */

/** Milliseconds left before `deadline` (may be negative), or undefined when there is none. */
export function remainingMs(deadline: number | undefined, now: number = Date.now()): number | undefined {
  return deadline === undefined ? undefined : deadline - now;
}
