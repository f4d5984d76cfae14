import { performance } from 'node:perf_hooks';
import type { Cluster, Redis } from 'ioredis';

/**
 * A process's local share of a shared limit: a fixed part of the rate and of the concurrency cap, split among
 * the live processes, that this process spends from memory with no Redis round trip. The shared limiter
 * (bottleneck) is configured with the rest, so the two never add up to more than the limit.
 *
 * - **Pools**: `floor(share × rate)` calls per second and `floor(share × maxConcurrent)` running slots; the
 *   shared path keeps `rate − pool` and `maxConcurrent − slots`.
 * - **Live processes**: a sorted set of process ids scored by Redis's own clock (`TIME`), written every
 *   `heartbeatMs` by one script that also drops entries older than `expireMs` and counts the rest. Nothing
 *   else runs while idle. Scores never come from a host's clock, so a clock step on one host changes nothing.
 * - **A process's share**: at most `floor(pool × (1 − paceMargin) / live)` starts in any sliding second (a log
 *   of its recent starts, not a bucket refilled each second, which would allow twice that across a second's
 *   edge), and `floor(slots / live)` calls running at once. Within the second starts are not spread: calls far
 *   under the limit come one or two at a time, and pacing them would send the second of two close calls
 *   through Redis. The pace margin is kept on the pool, for the jitter between a start and its arrival. A
 *   share of 0 (more processes than the pool can feed) means no local calls.
 *
 * Why the sum of shares never exceeds the pools (durations are measured on this host's monotonic clock):
 * - a share stays in use for `settleMs` after it was last granted (a start counts for one second, a running
 *   call up to `maxRunMs`);
 * - a process uses its share only within `validMs` (3 heartbeats) of sending its last successful heartbeat,
 *   so the count it uses is never older than that; with Redis unreachable it has no share;
 * - a process shrinks its share as soon as it sees a larger count;
 * - a process that (re-)registers while others are live takes a share only after `validMs + settleMs` plus a
 *   heartbeat of slack (`joinMs`): by then every other process has counted it and the larger shares they had
 *   before have settled. A process alone at its first registration has nobody to wait for; one that had been
 *   counted before waits even when alone (the set may have been lost with Redis's data);
 * - an entry is dropped `expireMs` (the same length) after its last heartbeat: by then its process stopped
 *   using its share (`validMs`) and that share settled, so the others may grow at once. A dead process's share
 *   stays unused until then (underuse, never overuse).
 *
 * A process's share shrinks when another joins and grows when one leaves (a closed process removes its entry
 * once its local calls have settled; a dead one's expires).
 *
 * Redis losing the set (a restart without persistence, a failover to a replica without it) is the one case
 * where the sum may pass the pool for a while: a process started just then sees itself alone while the
 * others still use their shares, until their next heartbeat finds their entries gone (they then wait as if
 * new): at most the pool again for a heartbeat and a second. bottleneck loses its running count the same way.
 */

export interface LocalShareOptions {
  /** The store's client (standalone, Sentinel or Cluster). */
  redis: Redis | Cluster;
  /** The limiter id, the same in every process sharing the limit. */
  id: string;
  /** Fraction of the limit split among the processes (0 < share < 1). */
  share: number;
  ratePerSecond: number;
  maxConcurrent: number;
  paceMargin: number;
  /** How often the live set is written and counted (default 5,000 ms). */
  heartbeatMs?: number;
  /** How long a granted local call still counts: max(1 s, the longest a call's slot is held). */
  settleMs: number;
  /** Monotonic milliseconds (tests drive it). */
  now?: () => number;
  onError: (err: unknown, what: string) => void;
}

export interface LocalShareStats {
  /** Live processes last counted (0: not counted yet, or the count is too old to use). */
  processes: number;
  /** Starts a second this process may make locally now (0: none). */
  perSecond: number;
  /** Calls this process may run locally at once now. */
  slots: number;
  /** Local calls running now. */
  running: number;
}

export interface LocalShare {
  /** What the shared path is left with. */
  readonly shared: { ratePerSecond: number; maxConcurrent: number };
  /** True when a call may start locally now (a token of this second and a free slot of this process's share). */
  canStart(): boolean;
  /** A call started locally: takes the token and a slot. */
  started(): void;
  /** A local call ended: frees its slot. */
  ended(): void;
  /** Milliseconds until the next token, when only the rate stands in the way (else undefined). */
  nextTokenIn(): number | undefined;
  /** No local starts for `ms` (the upstream answered 429). */
  pause(ms: number): void;
  /** Settles once the first heartbeat answered or failed. */
  ready(): Promise<void>;
  stats(): LocalShareStats;
  /** Stops the heartbeat; removes this process's entry once its local calls have settled. */
  close(): Promise<void>;
}

const HEARTBEAT_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {added, redis.call('ZCARD', KEYS[1])}`;

interface HeartbeatScript {
  kiungaLimiterLive(key: string, member: string, expireMs: number): Promise<[number, number]>;
}

/** The live set's key: one key, so one slot on a Cluster. */
export const liveSetKey = (id: string) => `kiunga-limiter:{${id}}:live`;

export function createLocalShare(options: LocalShareOptions): LocalShare {
  const { redis, share, ratePerSecond, maxConcurrent, paceMargin, settleMs, onError } = options;
  if (!(share > 0 && share < 1)) throw new RangeError(`share must be in (0, 1), got ${share}`);
  const now = options.now ?? (() => performance.now());
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const poolRate = Math.floor(share * ratePerSecond);
  const poolSlots = Math.floor(share * maxConcurrent);
  const validMs = 3 * heartbeatMs;
  const joinMs = validMs + settleMs + heartbeatMs;
  const expireMs = joinMs;
  const key = liveSetKey(options.id);
  const member = `${process.pid}-${Math.random().toString(36).slice(2, 12)}`;

  redis.defineCommand('kiungaLimiterLive', { numberOfKeys: 1, lua: HEARTBEAT_LUA });
  const script = redis as unknown as HeartbeatScript;

  let live = 0;
  /** When the last successful heartbeat was sent: the count is usable until `validMs` after it. */
  let countedAt = -Infinity;
  /** No share before this time (a registration while others were live, or a 429). */
  let eligibleAt = Infinity;
  /** The latest local starts, newest at `head - 1` (a ring as long as the largest share). */
  const starts = new Float64Array(Math.max(1, Math.floor(poolRate * (1 - paceMargin))));
  let head = 0;
  let pausedUntil = -Infinity;
  starts.fill(-Infinity);
  /** The start `k` back from the newest (k = 1: the newest); -Infinity when there was none. */
  const startBack = (k: number) => starts[(((head - k) % starts.length) + starts.length) % starts.length]!;
  let running = 0;
  let closed = false;

  const shareNow = () => {
    const t = now();
    if (closed || live === 0 || t - countedAt >= validMs || t < eligibleAt || redis.status !== 'ready') return undefined;
    const perSecond = Math.floor((poolRate * (1 - paceMargin)) / live);
    const slots = Math.floor(poolSlots / live);
    return perSecond >= 1 && slots >= 1 ? { perSecond, slots, t } : undefined;
  };

  async function beat(): Promise<void> {
    const sentAt = now();
    try {
      const [added, count] = await script.kiungaLimiterLive(key, member, expireMs);
      if (closed) return;
      // New in the set (the first beat, or the entry had expired), or out of touch long enough that it may have
      // expired unseen: the others must count this process before it takes a share. Alone at its first beat it
      // has nobody to wait for; a process that had been counted before and finds itself alone may be looking at
      // a set Redis lost (a restart without persistence, a failover) while the others still use their shares.
      const rejoin = countedAt > -Infinity;
      if (added === 1 || sentAt - countedAt >= validMs) eligibleAt = count > 1 || rejoin ? now() + joinMs : now();
      live = count;
      countedAt = sentAt;
    } catch (err) {
      onError(err, 'rate limiter live-set heartbeat failed');
    }
  }

  const first = beat();
  const timer = setInterval(() => void beat(), heartbeatMs);
  timer.unref(); // never keeps a process alive

  return {
    shared: { ratePerSecond: ratePerSecond - poolRate, maxConcurrent: maxConcurrent - poolSlots },

    canStart() {
      const s = shareNow();
      // The share-th latest start is a second old: fewer than `perSecond` starts in the last second.
      return s !== undefined && running < s.slots && s.t >= pausedUntil && s.t - startBack(s.perSecond) >= 1_000;
    },

    started() {
      starts[head] = now();
      head = (head + 1) % starts.length;
      running++;
    },

    ended() {
      running--;
    },

    nextTokenIn() {
      const s = shareNow();
      if (!s || running >= s.slots) return undefined;
      return Math.max(0, pausedUntil - s.t, startBack(s.perSecond) + 1_000 - s.t);
    },

    pause(ms) {
      pausedUntil = Math.max(pausedUntil, now() + ms);
    },

    ready: () => first,

    stats() {
      const s = shareNow();
      return { processes: now() - countedAt < validMs ? live : 0, perSecond: s?.perSecond ?? 0, slots: s?.slots ?? 0, running };
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await first;
      // The others may grow as soon as the entry is gone: only once this process's local calls have settled
      // (none running, the last start a second old); otherwise the entry expires by itself.
      if (running > 0 || now() - startBack(1) < 1_000) return;
      await redis.zrem(key, member).catch((err: unknown) => onError(err, 'rate limiter could not leave the live set'));
    },
  };
}
