import type { Cluster, Redis } from 'ioredis';
import type { KeyValueStore } from '../session/store.js';
import { FINAL_APPROVAL_STATES, type ApprovalRecord, type ApprovalState } from './approval.js';

/**
 * Where approval records live (approval-service.ts decides, approval-records.ts reads and changes them through
 * the backends of this file): a record per approval, a sorted set per state and per approver waiting, each
 * change a compare-and-set on the record's version. On Redis each step is one Lua script (record, indexes and
 * the void mark move together); on the in-process store the same steps run serialised in this process.
 */

/** Most closed approvals listed per state (the oldest drop off the list, never off the audit trail). */
const CLOSED_LIST_MAX = 10_000;

export interface Backend {
  read(id: string): Promise<string | null>;
  /** Writes a new record unless one exists (`exists`) or its id was voided (`voided`). */
  create(record: ApprovalRecord, ttlMs: number): Promise<'created' | 'exists' | 'voided'>;
  /** Marks `id` void with `value` unless its record exists; true when it is void (now or before). */
  voidUnlessCreated(id: string, value: string, ttlMs: number): Promise<boolean>;
  /** Writes `next` only while the stored record still has `prev.version`; moves the indexes with it. */
  swap(prev: ApprovalRecord, next: ApprovalRecord, ttlMs: number): Promise<boolean>;
  /** Ids in a set, newest first. */
  ids(set: string, limit: number): Promise<string[]>;
}

export interface KeyNames {
  record(id: string): string;
  /** Set when no approval may be created with this id any more (`voidRequest`). */
  voided(id: string): string;
  state(state: ApprovalState): string;
  waiting(clientId: number): string;
}

// KEYS: record, void mark, state set, approvers' waiting sets. ARGV: json, ttl ms, id, score.
// Returns 1 when created, 0 when the record exists, -1 when the id was voided.
const CREATE_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
for i = 3, #KEYS do redis.call('ZADD', KEYS[i], ARGV[4], ARGV[3]) end
return 1`;

// KEYS: record, void mark. ARGV: value, ttl ms. Returns 0 when the record exists, else 1 (void, now or before).
const VOID_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
return 1`;

// KEYS: record, old state set, new state set, approvers' waiting sets.
// ARGV: expected version, json, ttl ms, id, score, '1' when closed (off the waiting sets), list max (0: none).
const SWAP_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if tostring(cjson.decode(cur).version) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if KEYS[2] ~= KEYS[3] then
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
  local max = tonumber(ARGV[7])
  if max > 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -max - 1) end
end
if ARGV[6] == '1' then for i = 4, #KEYS do redis.call('ZREM', KEYS[i], ARGV[4]) end end
return 1`;

interface ApprovalScripts {
  kiungaApprovalCreate(...args: (string | number)[]): Promise<number>;
  kiungaApprovalVoid(...args: (string | number)[]): Promise<number>;
  kiungaApprovalSwap(...args: (string | number)[]): Promise<number>;
}

export const isFinal = (state: ApprovalState) => FINAL_APPROVAL_STATES.includes(state);

export function redisBackend(store: KeyValueStore, client: Redis | Cluster, keys: KeyNames): Backend {
  client.defineCommand('kiungaApprovalCreate', { lua: CREATE_LUA });
  client.defineCommand('kiungaApprovalVoid', { lua: VOID_LUA });
  client.defineCommand('kiungaApprovalSwap', { lua: SWAP_LUA });
  const scripts = client as unknown as ApprovalScripts;
  // The store waits for its very first connection (and says why it cannot); the raw client would not.
  const ready = async () => {
    if (client.status !== 'ready') await store.ping();
  };
  return {
    read: (id) => store.get(keys.record(id)),
    async create(record, ttlMs) {
      await ready();
      const sets = [keys.state(record.state), ...record.approvers.map((a) => keys.waiting(a.clientId))];
      const created = await scripts.kiungaApprovalCreate(
        2 + sets.length,
        keys.record(record.id),
        keys.voided(record.id),
        ...sets,
        JSON.stringify(record),
        ttlMs,
        record.id,
        record.createdAt,
      );
      return created === 1 ? 'created' : created === 0 ? 'exists' : 'voided';
    },
    async voidUnlessCreated(id, value, ttlMs) {
      await ready();
      return (await scripts.kiungaApprovalVoid(2, keys.record(id), keys.voided(id), value, ttlMs)) === 1;
    },
    async swap(prev, next, ttlMs) {
      await ready();
      const waiting = next.approvers.map((a) => keys.waiting(a.clientId));
      const swapped = await scripts.kiungaApprovalSwap(
        3 + waiting.length,
        keys.record(next.id),
        keys.state(prev.state),
        keys.state(next.state),
        ...waiting,
        String(prev.version),
        JSON.stringify(next),
        ttlMs,
        next.id,
        next.createdAt,
        next.state === 'pending' ? '0' : '1',
        isFinal(next.state) ? CLOSED_LIST_MAX : 0,
      );
      return swapped === 1;
    },
    async ids(set, limit) {
      await ready();
      return (client as Redis).zrevrange(set, 0, limit - 1);
    },
  };
}

/** The in-process store: sets as JSON objects (id → score), every change serialised in this process. */
export function storeBackend(store: KeyValueStore, keys: KeyNames): Backend {
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(step: () => Promise<T>): Promise<T> => {
    const run = queue.then(step);
    queue = run.catch(() => undefined);
    return run;
  };
  const readSet = async (set: string) => JSON.parse((await store.get(set)) ?? '{}') as Record<string, number>;
  const edit = async (set: string, change: (entries: Record<string, number>) => void) => {
    const entries = await readSet(set);
    change(entries);
    await store.set(set, JSON.stringify(entries));
  };
  return {
    read: (id) => store.get(keys.record(id)),
    create: (record, ttlMs) =>
      serial(async () => {
        if ((await store.get(keys.voided(record.id))) !== null) return 'voided' as const;
        if (!(await store.setIfAbsent(keys.record(record.id), JSON.stringify(record), ttlMs))) return 'exists' as const;
        for (const set of [keys.state(record.state), ...record.approvers.map((a) => keys.waiting(a.clientId))])
          await edit(set, (e) => void (e[record.id] = record.createdAt));
        return 'created' as const;
      }),
    voidUnlessCreated: (id, value, ttlMs) =>
      serial(async () => {
        if ((await store.get(keys.record(id))) !== null) return false;
        await store.setIfAbsent(keys.voided(id), value, ttlMs);
        return true;
      }),
    swap: (prev, next, ttlMs) =>
      serial(async () => {
        const raw = await store.get(keys.record(next.id));
        if (!raw || (JSON.parse(raw) as ApprovalRecord).version !== prev.version) return false;
        await store.set(keys.record(next.id), JSON.stringify(next), ttlMs);
        if (prev.state !== next.state) {
          await edit(keys.state(prev.state), (e) => void delete e[next.id]);
          await edit(keys.state(next.state), (e) => {
            e[next.id] = next.createdAt;
            const ordered = Object.entries(e).sort((a, b) => b[1] - a[1]);
            if (isFinal(next.state)) for (const [id] of ordered.slice(CLOSED_LIST_MAX)) delete e[id];
          });
        }
        if (next.state !== 'pending') for (const a of next.approvers) await edit(keys.waiting(a.clientId), (e) => void delete e[next.id]);
        return true;
      }),
    async ids(set, limit) {
      return Object.entries(await readSet(set))
        .sort((a, b) => b[1] - a[1])
        .slice(0, limit)
        .map(([id]) => id);
    },
  };
}
