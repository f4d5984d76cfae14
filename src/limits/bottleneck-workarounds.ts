import type Bottleneck from 'bottleneck';
import type { Cluster, Redis } from 'ioredis';

/**
 * The behaviours of bottleneck 2.19.5 in clustered mode (Redis) that the limiter works around, through
 * bottleneck's public API (and, for the third, one command on the connection the limiter gives it).
 * test/limits/bottleneck-behaviour.test.ts checks that bottleneck still behaves this way (the third: the late
 * grant test of test/limits/lease.test.ts): when an upgrade changes one, a test fails and its workaround can go.
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
 *
 * 3. **A grant's due time is not public.** A clustered grant is decided by bottleneck's `register` script with
 *    the process's `Date.now()` of the call (its first argument after the keys), which answers the `wait`
 *    before the job may run (minTime); the job runs after that wait once the answer is back. A slow answer or
 *    a busy event loop runs it later than the time the shared pacing gave it, where it may join grants given
 *    after it. `watchGrantDue` wraps that one command on bottleneck's own connection (a duplicate this
 *    module's user created) and reports `now + wait`, the time the pacing gave each grant.
 */

/** Reports the due time (`now + wait`, epoch ms) of each grant bottleneck's `register` script gives on `client`. */
export function watchGrantDue(client: Redis | Cluster, onDue: (dueAt: number) => void): void {
  type Callback = (err: unknown, reply: unknown) => void;
  const commands = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  const define = client.defineCommand.bind(client);
  client.defineCommand = (name: string, definition: { lua: string; numberOfKeys?: number; readOnly?: boolean }) => {
    define(name, definition);
    if (name !== 'register') return;
    const register = commands[name]!.bind(client);
    commands[name] = (...args: unknown[]) => {
      const callback = args.at(-1);
      const now = Number(args[1 + Number(args[0])]);
      if (typeof callback !== 'function') return register(...args);
      return register(...args.slice(0, -1), (err: unknown, reply: unknown) => {
        if (!err && Array.isArray(reply) && Number(reply[0]) === 1 && Number.isFinite(now)) onDue(now + Number(reply[1]));
        (callback as Callback)(err, reply);
      });
    };
  };
}

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
