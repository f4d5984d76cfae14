import { currentContext, runInContext } from '../session/hop-context.js';

/**
 * The current hop's absolute deadline (epoch milliseconds, `Date.now()` clock), carried through async calls
 * so that every call made while serving a hop (Fineract, Redis, the rate limiter) knows how long it may wait,
 * without plumbing.
 *
 * The turn runner wraps each hop: `runWithDeadline(Date.now() + budgetMs, () => runHop(...))`. The gateway
 * reads `currentDeadline()` when a call gives no `deadlineAt` of its own. It is kept in the hop's one async
 * context (session/hop-context.ts).
 */

/**
 * Runs `fn` with `deadlineAt` as the current deadline. Nested calls can only shorten the deadline, never
 * extend it: the effective deadline is the earlier of the outer one and `deadlineAt`.
 */
export function runWithDeadline<T>(deadlineAt: number, fn: () => Promise<T>): Promise<T> {
  if (!Number.isFinite(deadlineAt)) throw new RangeError(`deadlineAt must be a finite epoch time, got ${deadlineAt}`);
  const outer = currentContext()?.deadline;
  return runInContext({ deadline: outer === undefined ? deadlineAt : Math.min(outer, deadlineAt) }, fn);
}

/** The deadline of the hop being served, or undefined outside `runWithDeadline`. */
export function currentDeadline(): number | undefined {
  return currentContext()?.deadline;
}

/** Milliseconds left before the current deadline (may be negative), or undefined when there is none. */
export function remainingMs(now: number = Date.now()): number | undefined {
  const deadline = currentContext()?.deadline;
  return deadline === undefined ? undefined : deadline - now;
}
