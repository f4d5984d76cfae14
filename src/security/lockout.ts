import type { Cluster, Redis } from 'ioredis';
import type { KeyValueStore } from '../session/store.js';

/**
 * The lockout state machine of one subject (a customer, or a phone number), threat T26: a lock is a
 * weapon in the hands of anyone who can claim a number, so every lock ends by itself and only repeated
 * locks escalate to a hard one.
 *
 * - Wrong PINs are counted; the count is forgotten `failureWindowMs` after the last wrong PIN (or at once
 *   on a right PIN).
 * - At `maxFailures` the subject is locked for `lockMs`; each further lock doubles (`lockMs`, 2×, 4×, ...,
 *   at most `maxLockMs`). The count of locks ("escalation") is forgotten `memoryMs` after the last lock
 *   ended, or on a right PIN.
 * - The lock after `hardLockAfter` timed ones is hard: it ends only when an operator clears the subject.
 *   `hardLockAfter: 0` makes every lock hard (the behaviour before time-boxed locks).
 *
 * On Redis every step (read, expire, count, lock, write) is one Lua script on one key: atomic across
 * every process, so concurrent wrong PINs never compare past the limit and never lose a count. Times come
 * from the caller's clock (`now`), so tests can move time; the key's TTL only collects the garbage once
 * everything in it has expired (a hard lock has none). The in-process fallback runs the same steps in
 * JavaScript, serialised per key.
 */

export interface LockoutPolicy {
  maxFailures: number;
  lockMs: number;
  hardLockAfter: number;
  failureWindowMs: number;
  memoryMs: number;
  maxLockMs: number;
}

export interface SubjectState {
  /** Locked now (timed or hard). */
  locked: boolean;
  /** End of a timed lock (epoch ms); undefined when not locked or hard. */
  until?: number;
  hard: boolean;
  /** Wrong PINs counted towards the next lock. */
  failures: number;
  /** Locks remembered for escalation. */
  locks: number;
}

export type FailOutcome =
  | { kind: 'wrong'; left: number }
  /** `fresh`: this failure set the lock (tell the customer once); `until` undefined: hard. */
  | { kind: 'locked'; until?: number; locks: number; fresh: boolean };

export interface LockoutStore {
  status(key: string, now: number): Promise<SubjectState>;
  /** Counts one wrong PIN (nothing is counted while locked). */
  fail(key: string, now: number): Promise<FailOutcome>;
  /** Forgets everything: failures, lock, escalation (a right PIN, an operator's unlock). */
  clear(key: string): Promise<void>;
  /**
   * Ends a timed lock now and keeps the escalation (a self-unlock by one-time code): the next lock is as long as
   * it would have been. A hard lock stays. True when a timed lock was ended.
   */
  lift(key: string, now: number): Promise<boolean>;
}

interface Raw {
  /** failures, failure window end, lock end (-1 hard, 0 none), locks, escalation memory end (-1 forever). */
  n: number;
  nx: number;
  u: number;
  lv: number;
  lx: number;
}

// The lockout step of one subject as a Lua function, shared by the lockout script and the PIN check script
// (pin-store.ts). key: the subject's hash (n, nx, u, lv, lx); a: op, now, maxFailures, lockMs, hardLockAfter,
// failureWindowMs, memoryMs, maxLockMs. Returns status: {locked, until, failures, locks};
// fail: {'wrong', left} or {'locked', until, locks, fresh}; lift: {lifted, 0, 0, locks}.
export const LOCKOUT_LUA_FUNCTION = `
local function lockout(key, a)
local now = tonumber(a[2])
local v = redis.call('HMGET', key, 'n', 'nx', 'u', 'lv', 'lx')
local n, nx, u, lv, lx = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0, tonumber(v[5]) or 0
if nx <= now then n = 0 end
local hard = u < 0
if not hard and lx >= 0 and lx <= now then lv = 0 end
local locked = hard or u > now
if a[1] == 'status' then return {locked and 1 or 0, string.format('%.0f', u), n, lv} end
if a[1] == 'lift' then
  if hard or not locked then return {0, 0, 0, 0} end
  redis.call('HSET', key, 'u', 0, 'n', 0, 'nx', 0)
  return {1, 0, 0, lv}
end
if locked then return {'locked', string.format('%.0f', u), lv, 0} end
local max = tonumber(a[3])
n = n + 1
local fresh = 0
if n < max then
  nx = now + tonumber(a[6])
else
  n = 0
  nx = 0
  lv = lv + 1
  fresh = 1
  if lv > tonumber(a[5]) then
    u = -1
    lx = -1
  else
    local d = tonumber(a[4]) * math.pow(2, lv - 1)
    if d > tonumber(a[8]) then d = tonumber(a[8]) end
    u = now + d
    lx = u + tonumber(a[7])
  end
end
local f = function(x) return string.format('%.0f', x) end
redis.call('HSET', key, 'n', n, 'nx', f(nx), 'u', f(u), 'lv', lv, 'lx', f(lx))
if u < 0 then
  redis.call('PERSIST', key)
else
  redis.call('PEXPIRE', key, f(math.max(nx, u, lx, now + 1000) - now + 1000))
end
if fresh == 1 then return {'locked', f(u), lv, 1} end
return {'wrong', max - n}
end
`;

// KEYS[1]: the subject's hash. ARGV: as the function's `a` above.
const LOCKOUT_LUA = LOCKOUT_LUA_FUNCTION + 'return lockout(KEYS[1], ARGV)';

interface LockoutScript {
  kiungaPinLockout(key: string, ...args: (string | number)[]): Promise<[number | string, string | number, number, number]>;
}

/** The lockout store on the given key-value store: a Lua script on Redis, serialised steps in process. */
export function createLockoutStore(store: KeyValueStore, policy: LockoutPolicy): LockoutStore {
  const client = (store as { client?: Redis | Cluster }).client;
  if (store.kind === 'redis' && client) return redisLockout(client, policy, store);
  return memoryLockout(store, policy);
}

export const policyArgs = (p: LockoutPolicy) => [p.maxFailures, p.lockMs, p.hardLockAfter, p.failureWindowMs, p.memoryMs, p.maxLockMs];

function redisLockout(client: Redis | Cluster, policy: LockoutPolicy, store: KeyValueStore): LockoutStore {
  client.defineCommand('kiungaPinLockout', { numberOfKeys: 1, lua: LOCKOUT_LUA });
  const script = client as unknown as LockoutScript;
  // The store waits for its very first connection (and says why it cannot); the raw client would not.
  const ready = async () => {
    if (client.status !== 'ready') await store.ping();
  };
  return {
    async status(key, now) {
      await ready();
      const [locked, u, n, lv] = await script.kiungaPinLockout(key, 'status', now, ...policyArgs(policy));
      const until = Number(u);
      return { locked: locked === 1, hard: until < 0, ...(locked === 1 && until > 0 ? { until } : {}), failures: n, locks: lv };
    },
    async fail(key, now) {
      await ready();
      const reply = await script.kiungaPinLockout(key, 'fail', now, ...policyArgs(policy));
      if (reply[0] === 'wrong') return { kind: 'wrong', left: Number(reply[1]) };
      const until = Number(reply[1]);
      return { kind: 'locked', ...(until > 0 ? { until } : {}), locks: Number(reply[2]), fresh: reply[3] === 1 };
    },
    async clear(key) {
      await ready();
      await client.del(key);
    },
    async lift(key, now) {
      await ready();
      const [lifted] = await script.kiungaPinLockout(key, 'lift', now, ...policyArgs(policy));
      return lifted === 1;
    },
  };
}

/** Steps of one key run one after the other in this process (the store's own calls are atomic each). */
const queues = new Map<string, Promise<unknown>>();
export function serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  const tail = next.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return next;
}

function memoryLockout(store: KeyValueStore, policy: LockoutPolicy): LockoutStore {
  const read = async (key: string, now: number): Promise<Raw> => {
    const text = await store.get(key);
    const raw: Raw = text ? (JSON.parse(text) as Raw) : { n: 0, nx: 0, u: 0, lv: 0, lx: 0 };
    if (raw.nx <= now) raw.n = 0;
    if (raw.u >= 0 && raw.lx >= 0 && raw.lx <= now) raw.lv = 0;
    return raw;
  };
  const isLocked = (raw: Raw, now: number) => raw.u < 0 || raw.u > now;
  return {
    async status(key, now) {
      const raw = await read(key, now);
      const locked = isLocked(raw, now);
      return { locked, hard: raw.u < 0, ...(locked && raw.u > 0 ? { until: raw.u } : {}), failures: raw.n, locks: raw.lv };
    },
    fail(key, now) {
      return serialised(key, async (): Promise<FailOutcome> => {
        const raw = await read(key, now);
        if (isLocked(raw, now)) return { kind: 'locked', ...(raw.u > 0 ? { until: raw.u } : {}), locks: raw.lv, fresh: false };
        raw.n += 1;
        let outcome: FailOutcome;
        if (raw.n < policy.maxFailures) {
          raw.nx = now + policy.failureWindowMs;
          outcome = { kind: 'wrong', left: policy.maxFailures - raw.n };
        } else {
          raw.n = 0;
          raw.nx = 0;
          raw.lv += 1;
          if (raw.lv > policy.hardLockAfter) {
            raw.u = -1;
            raw.lx = -1;
          } else {
            raw.u = now + Math.min(policy.lockMs * 2 ** (raw.lv - 1), policy.maxLockMs);
            raw.lx = raw.u + policy.memoryMs;
          }
          outcome = { kind: 'locked', ...(raw.u > 0 ? { until: raw.u } : {}), locks: raw.lv, fresh: true };
        }
        const ttl = raw.u < 0 ? undefined : Math.max(raw.nx, raw.u, raw.lx, now + 1000) - now + 1000;
        await store.set(key, JSON.stringify(raw), ttl);
        return outcome;
      });
    },
    clear(key) {
      return serialised(key, () => store.delete(key));
    },
    lift(key, now) {
      return serialised(key, async () => {
        const text = await store.get(key);
        if (!text) return false;
        const raw = JSON.parse(text) as Raw;
        if (raw.u < 0 || raw.u <= now) return false;
        raw.u = 0;
        raw.n = 0;
        raw.nx = 0;
        const ttl = Math.max(raw.lx, now + 1000) - now + 1000;
        await store.set(key, JSON.stringify(raw), ttl);
        return true;
      });
    },
  };
}
