import type { Cluster, Redis } from 'ioredis';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { RedisStore } from '../session/redis-store.js';

/**
 * Where the audit trail lives: one append-only Redis stream and its head (the last entry's sequence number
 * and hash), both under the hash tag `{audit}` so the one script that appends may touch both on a Redis
 * Cluster. Without Redis, the same log is kept in this process (one per store), with the same chain.
 */

/** The last entry of the chain: its sequence number and hash. Before the first entry: `GENESIS`. */
export interface Head {
  seq: number;
  hash: string;
}

/** What comes before entry 1: sequence 0, and 64 zeros as the hash its `prev` holds. */
export const GENESIS: Head = Object.freeze({ seq: 0, hash: '0'.repeat(64) });

/** One stream entry as stored: the stream id, the canonical JSON of the entry, and the hash written with it. */
export interface StoredEntry {
  id: string;
  entry: string;
  hash: string;
}

export type AppendResult = { ok: true; ids: string[]; length: number } | { ok: false; head: string | null };

export interface AuditStream {
  /** The stream's key (also what checkpoints name as their log). */
  readonly key: string;
  readonly headKey: string;
  /** The head as written by the last append (null before the first one). */
  readHead(): Promise<string | null>;
  /**
   * Appends `entries` (in order) and sets the head to `next`, only while the head is still `expected` (null:
   * no entry yet); otherwise appends nothing and answers the head found, so the caller rebuilds its chain on
   * it. One atomic step: two processes never both link to the same head.
   */
  append(expected: string | null, entries: { entry: string; hash: string }[], next: string): Promise<AppendResult>;
  /** Up to `limit` entries after the stream id `after` (from the start when undefined), oldest first. */
  page(after: string | undefined, limit: number): Promise<StoredEntry[]>;
  /** The newest `count` entries, newest first. */
  recent(count: number): Promise<StoredEntry[]>;
}

/** The head's stored form, `<seq>:<hash>`. */
export const formatHead = (head: Head): string => `${head.seq}:${head.hash}`;

/** Reads a stored head; undefined when it is not one (the head key was tampered with). */
export function parseHead(raw: string | null): Head | undefined {
  if (raw === null) return GENESIS;
  const m = /^(\d{1,15}):([0-9a-f]{64})$/.exec(raw);
  return m ? { seq: Number(m[1]), hash: m[2]! } : undefined;
}

/** A stream id as Redis writes them (`<ms>-<n>`). */
export const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

// KEYS[1] the stream, KEYS[2] its head; ARGV[1] the head expected ('' for none), ARGV[2] the new head, then
// pairs of (entry, hash). Refuses (0, head found) when the head moved; else appends all, sets the head and
// answers (1, ids, length).
const APPEND = `
local head = redis.call('GET', KEYS[2])
if (head or '') ~= ARGV[1] then return {0, head} end
local ids = {}
for i = 3, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'e', ARGV[i], 'h', ARGV[i + 1])
end
redis.call('SET', KEYS[2], ARGV[2])
return {1, ids, redis.call('XLEN', KEYS[1])}`;

interface AppendScript {
  kiungaAuditAppend(stream: string, head: string, ...args: string[]): Promise<[0, string | null] | [1, string[], number]>;
}

/** The audit stream of a store: the Redis stream when the store is Redis, else this process's copy. */
export function auditStream(store: KeyValueStore, keys: Pick<Keys, 'prefix'>): AuditStream {
  const key = `${keys.prefix}:{audit}:log`;
  const headKey = `${keys.prefix}:{audit}:head`;
  return store.kind === 'redis' ? redisStream((store as RedisStore).client, store, key, headKey) : memoryStream(store, key, headKey);
}

function redisStream(client: Redis | Cluster, store: KeyValueStore, key: string, headKey: string): AuditStream {
  client.defineCommand('kiungaAuditAppend', { numberOfKeys: 2, lua: APPEND });
  const script = client as unknown as AppendScript;
  // The store's client sends nothing before its first connection; its ping waits for that connection.
  let connected: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    connected ??= store.ping().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    return connected;
  };
  return {
    key,
    headKey,
    async readHead() {
      await ready();
      return client.get(headKey);
    },
    async append(expected, entries, next) {
      await ready();
      const args = entries.flatMap((e) => [e.entry, e.hash]);
      const reply = await script.kiungaAuditAppend(key, headKey, expected ?? '', next, ...args);
      return reply[0] === 1 ? { ok: true, ids: reply[1], length: reply[2] } : { ok: false, head: reply[1] ?? null };
    },
    async page(after, limit) {
      await ready();
      const rows = await client.xrange(key, after === undefined ? '-' : `(${after}`, '+', 'COUNT', limit);
      return rows.map(([id, fields]) => storedEntry(id, fields));
    },
    async recent(count) {
      await ready();
      const rows = await client.xrevrange(key, '+', '-', 'COUNT', count);
      return rows.map(([id, fields]) => storedEntry(id, fields));
    },
  };
}

/** A stream entry's fields (`e`, `h`) as a `StoredEntry`; missing fields read as empty (a tampered entry). */
function storedEntry(id: string, fields: string[]): StoredEntry {
  const field = (name: string) => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]!;
    return '';
  };
  return { id, entry: field('e'), hash: field('h') };
}

/** In-process logs, one set per memory store, so every trail and reader on that store sees the same log. */
const memoryLogs = new WeakMap<KeyValueStore, Map<string, { entries: StoredEntry[]; head: string | null; last: number }>>();

function memoryStream(store: KeyValueStore, key: string, headKey: string): AuditStream {
  let logs = memoryLogs.get(store);
  if (!logs) memoryLogs.set(store, (logs = new Map()));
  let log = logs.get(key);
  if (!log) logs.set(key, (log = { entries: [], head: null, last: 0 }));
  const state = log;
  return {
    key,
    headKey,
    readHead: async () => state.head,
    async append(expected, entries, next) {
      if (state.head !== expected) return { ok: false, head: state.head };
      const ids = entries.map((e) => {
        const id = `${++state.last}-0`;
        state.entries.push({ id, ...e });
        return id;
      });
      state.head = next;
      return { ok: true, ids, length: state.entries.length };
    },
    async page(after, limit) {
      const from = after === undefined ? 0 : state.entries.findIndex((e) => compareIds(e.id, after) > 0);
      return from < 0 ? [] : state.entries.slice(from, from + limit);
    },
    recent: async (count) => state.entries.slice(-count).reverse(),
  };
}

/** Orders two stream ids (`<ms>-<n>`) as Redis does. */
function compareIds(a: string, b: string): number {
  const [am = 0n, an = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bn = 0n] = b.split('-').map(BigInt);
  return am === bm ? Number(an - bn) : am < bm ? -1 : 1;
}
