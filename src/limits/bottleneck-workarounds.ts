import type Bottleneck from 'bottleneck';

/**
 * The two behaviours of bottleneck 2.19.5 in clustered mode (Redis) that the limiter works around, through
 * bottleneck's public API only. test/limits/bottleneck-behaviour.test.ts checks that bottleneck still behaves
 * this way: when an upgrade changes either, that test fails and the workaround here can go.
 *
 * 1. **The reservoir refreshes only when a script runs.** A clustered limiter refills its reservoir
 *    (`reservoirRefreshInterval`) inside its Lua scripts, and a limiter that only waits runs one on its
 *    heartbeat (`heartbeatInterval`, default 5 s): with the default, 20 calls a second ran as 20 per 5 s.
 *    A short heartbeat fixes that but runs a script every few milliseconds in every process, idle or not.
 *    Instead, `refreshWhileWaiting` runs the cheapest public call that runs a script (`currentReservoir()`)
 *    every `everyMs`, only while a token request is waiting; the heartbeat keeps its default.
 *
 * 2. **Redis 7 prefixes `ERR ` to script errors.** bottleneck recognises `SETTINGS_KEY_NOT_FOUND` and
 *    `UNKNOWN_CLIENT` (its keys are gone: a Redis restart without persistence, a failover) only without the
 *    prefix, so on Redis 7 it never re-creates its keys and every later call fails. `lostState` recognises
 *    those errors; the limiter then builds a new bottleneck instance on a new connection, whose start-up
 *    (`init`, `register_client`) re-creates the keys.
 */

/** True for the error bottleneck raises when its keys in Redis are gone (with or without Redis 7's `ERR `). */
export function lostState(err: unknown): boolean {
  return err instanceof Error && /^(ERR )?(SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT)$/.test(err.message);
}

/**
 * Runs a script of `limiter` (which refreshes the shared reservoir and tells a waiting process of the new
 * capacity) every `everyMs` until the returned function is called, skipping a turn when `gate` says no (the
 * clock guard). Errors go to `onError`.
 */
export function refreshWhileWaiting(
  limiter: Bottleneck,
  everyMs: number,
  onError: (err: unknown) => void,
  gate?: () => boolean,
): () => void {
  const timer = setInterval(() => {
    if (gate && !gate()) return;
    limiter.currentReservoir().catch(onError);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
