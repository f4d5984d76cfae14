import type { Cluster, Redis } from 'ioredis';
import type { KeyValueStore } from '../session/store.js';

/**
 * Token buckets shared by every process (threats T22, T28). A bucket holds up to `capacity` tokens and
 * refills at `perSecond`; a request takes `cost` tokens from EVERY bucket it names, or from none: all the
 * buckets of one request are checked and taken in one Lua script, one round trip, atomic. The script
 * reads Redis's own clock (`TIME`), so processes with skewed clocks agree. The keys of one call must
 * share a Redis Cluster hash tag (`abuseKey` gives them one).
 *
 * Without Redis the buckets live in this process (one process, like the in-process session store).
 */

export interface BucketSpec {
  key: string;
  capacity: number;
  perSecond: number;
  /** Tokens this request takes (default 1); more than `capacity` counts as `capacity`. */
  cost?: number;
}

export type TakeResult =
  { ok: true } | { ok: false; /** Index of the first bucket that was short. */ refused: number; retryAfterMs: number };

export interface TokenBuckets {
  take(specs: readonly BucketSpec[]): Promise<TakeResult>;
}

// KEYS: the buckets (hashes t = tokens, ts = ms of the last take). ARGV: capacity, per-ms rate, cost, for each.
const TAKE_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local left = {}
for i, key in ipairs(KEYS) do
  local cap, rate, cost = tonumber(ARGV[i * 3 - 2]), tonumber(ARGV[i * 3 - 1]), tonumber(ARGV[i * 3])
  local v = redis.call('HMGET', key, 't', 'ts')
  local tokens, ts = tonumber(v[1]), tonumber(v[2])
  if tokens == nil or ts == nil then tokens = cap; ts = now end
  tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
  if tokens < cost then return {i, math.ceil((cost - tokens) / rate)} end
  left[i] = tokens - cost
end
for i, key in ipairs(KEYS) do
  local cap, rate = tonumber(ARGV[i * 3 - 2]), tonumber(ARGV[i * 3 - 1])
  redis.call('HSET', key, 't', tostring(left[i]), 'ts', string.format('%.0f', now))
  redis.call('PEXPIRE', key, math.ceil(cap / rate) + 1000)
end
return {0, 0}`;

interface TakeScript {
  kiungaTakeTokens(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<[number, number]>;
}

const costOf = (s: BucketSpec) => Math.min(s.cost ?? 1, s.capacity);

export function createTokenBuckets(store: KeyValueStore, options: { now?: () => number } = {}): TokenBuckets {
  const client = (store as { client?: Redis | Cluster }).client;
  if (store.kind === 'redis' && client) {
    client.defineCommand('kiungaTakeTokens', { lua: TAKE_LUA });
    const script = client as unknown as TakeScript;
    return {
      // A promise chain, not an async method: every hop takes from the buckets.
      take(specs) {
        if (specs.length === 0) return Promise.resolve({ ok: true });
        const args: (string | number)[] = specs.map((s) => s.key);
        for (const s of specs) args.push(s.capacity, s.perSecond / 1000, costOf(s));
        const send = () =>
          script
            .kiungaTakeTokens(specs.length, ...args)
            .then(([refused, retryAfterMs]): TakeResult =>
              refused === 0 ? { ok: true } : { ok: false, refused: refused - 1, retryAfterMs },
            );
        // The store waits for its very first connection (and says why it cannot); the raw client would not.
        return client.status === 'ready' ? send() : store.ping().then(send);
      },
    };
  }
  return memoryBuckets(options.now ?? Date.now);
}

function memoryBuckets(now: () => number): TokenBuckets {
  const buckets = new Map<string, { tokens: number; ts: number; expires: number }>();
  let sweepAt = 0;
  return {
    async take(specs) {
      const t = now();
      if (t >= sweepAt) {
        for (const [key, b] of buckets) if (b.expires <= t) buckets.delete(key);
        sweepAt = t + 60_000;
      }
      const left: number[] = [];
      for (const [i, s] of specs.entries()) {
        const b = buckets.get(s.key);
        const rate = s.perSecond / 1000;
        const tokens = b ? Math.min(s.capacity, b.tokens + Math.max(0, t - b.ts) * rate) : s.capacity;
        if (tokens < costOf(s)) return { ok: false, refused: i, retryAfterMs: Math.ceil((costOf(s) - tokens) / rate) };
        left.push(tokens - costOf(s));
      }
      for (const [i, s] of specs.entries()) {
        buckets.set(s.key, { tokens: left[i]!, ts: t, expires: t + Math.ceil(s.capacity / (s.perSecond / 1000)) + 1000 });
      }
      return { ok: true };
    },
  };
}
