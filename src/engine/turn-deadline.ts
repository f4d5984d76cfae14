import { settlesWithin } from '../time.js';

/**
 * A hop's deadline (turn-runner.ts keeps to it): when the engine stops waiting, how long a retry of the lock
 * holder's hop waits for the lock, and how long a hop past its deadline waits for its writes.
 */

/**
 * How long before its deadline a retry of the lock holder's own hop stops waiting for the lock: the time to
 * read the session and hand the outcome to the SMS (a few store round trips).
 */
export const LOST_HOP_MARGIN_MS = 400;
/**
 * Once a hop's deadline has passed, the longest it waits for its writes (the record, the lock's release, the
 * deferred writes) before answering: part of the margin `hopDeadline` keeps before the aggregator's own
 * deadline. A store that stops answering (Redis out of reach) would otherwise hold the answer for each
 * write's command timeout in turn (finding F4 in docs/resilience.md); the writes go on, unawaited.
 */
const PAST_DEADLINE_WRITES_MS = 300;

/** Waits for `work` until `PAST_DEADLINE_WRITES_MS` after `deadlineAt` at most; true when it settled. */
export function settledByDeadline(work: Promise<unknown>, deadlineAt: number): Promise<boolean> {
  return settlesWithin(work, Math.max(0, deadlineAt + PAST_DEADLINE_WRITES_MS - Date.now()));
}

/**
 * The internal deadline of a hop that must be answered within `budgetMs` of arrival: the engine stops
 * waiting earlier (25%, at most 1 s), keeping time to persist and answer even when a burst keeps the event
 * loop busy and timers fire late (measured: 300 ms late under 1,000 simultaneous sessions on 2 cores).
 */
export function hopDeadline(budgetMs: number, arrivedAt = Date.now()): number {
  return arrivedAt + budgetMs - Math.min(1000, Math.round(budgetMs * 0.25));
}
