import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from './store.js';
import { LockLost, StoreUnavailable, checkTtl } from './errors.js';
import { parseRedisUrl, scrubSecrets } from './redis-url.js';
import { startEarlyReads } from './hop-context.js';
import { watchSentinelSwitches } from './sentinel-switch.js';
import { checkClusterCoverage } from './cluster-coverage.js';
import { watchClusterSlots } from './cluster-slots-watch.js';

export interface RedisStoreOptions {
  /** Receives connection errors (at most one line per 5 s) and recoveries. Secrets are scrubbed. */
  logger?: Logger;
  /** Connect timeout, and how long the first commands wait for the very first connection (default 1000). */
  connectTimeoutMs?: number;
  /** A command that gets no reply within this time rejects with `StoreUnavailable` (default 1000). */
  commandTimeoutMs?: number;
}

/** The Redis store, with its live ioredis client for components that need Redis itself (job queue, limiter). */
export interface RedisStore extends KeyValueStore {
  readonly kind: 'redis';
  readonly client: Redis | Cluster;
}

// Deletes KEYS[1] only while it holds ARGV[1] (lock release).
const DELETE_IF_EQUALS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// INCR, then give the counter its TTL when it has none yet (on the first increment).
const INCREMENT_WITH_TTL = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

// Takes the lock KEYS[1] (token ARGV[1], TTL ARGV[2] ms); when taken, returns {1, GET KEYS[2]}.
const LOCK_AND_GET = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, redis.call('GET', KEYS[2])} end
return {0, false}`;

// Only while the lock KEYS[2] still holds ARGV[3]: SET KEYS[1] ARGV[1] PX ARGV[2] and release the lock
// (returns 1). A lock that expired or was taken over writes nothing (returns 0).
const SET_AND_UNLOCK = `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1`;

interface Scripts {
  kiungaLockAndGet(lockKey: string, key: string, token: string, ttlMs: number): Promise<[number, string | null]>;
  kiungaSetAndUnlock(key: string, lockKey: string, value: string, ttlMs: number, token: string): Promise<number>;
  kiungaDeleteIfEquals(key: string, value: string): Promise<number>;
  kiungaIncrementWithTtl(key: string, ttlMs: number, by: number): Promise<number>;
}

/** Reconnect forever, backing off to one attempt a second, so service resumes on its own. */
const backoff = (times: number): number => Math.min(times * 100, 1000);

const ERROR_LOG_INTERVAL_MS = 5000;

/** Waits for `promise` or for `ms`, whichever comes first; the timer never outlives the wait. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Creates the shared store on Redis. Accepted URLs (credentials percent-encoded; `rediss` variants use TLS):
 *
 * - `redis://[[user]:password@]host[:6379][/db]`, `rediss://...`: one server.
 * - `redis-sentinel://[[user]:password@]host1[:26379],host2[:26379]/<masterName>[/db][?sentinelPassword=...&sentinelUsername=...]`:
 *   the master of `masterName` found through Sentinel; the credentials are the data node's.
 * - `redis-cluster://[[user]:password@]host1[:6379],host2[:6379]`: a Redis Cluster, found from any of the
 *   seed nodes. Keys built by `keys.ts` keep each session's and each customer's keys in one slot.
 *
 * A USSD hop must never hang on Redis, so the store fails fast: commands are not queued while
 * disconnected (`enableOfflineQueue: false`), a command in flight when the connection drops is rejected at
 * once and never replayed later (`maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`: a
 * late replay could take a lock or count a PIN failure behind the caller's back), and every command has a
 * timeout. Meanwhile the client reconnects forever (100 ms, 200 ms, ... capped at 1 s), so service resumes
 * by itself. Only the very first commands after start-up wait for the first connection, up to
 * `connectTimeoutMs`. Every failure is thrown as `StoreUnavailable`, without the password.
 */
export function createRedisStore(url: string, options: RedisStoreOptions = {}): RedisStore {
  const { logger, connectTimeoutMs = 1000, commandTimeoutMs = 1000 } = options;
  const target = parseRedisUrl(url);
  const scrub = (message: string) => scrubSecrets(message, target.secrets);

  const failFast = {
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // How long a connection being dropped may take to close before it is destroyed (ioredis: 2 s). A healthy
    // server closes at once; one cut off by a partition never answers, and the client reconnects (or, behind
    // Sentinel, moves to the new master) only once it is gone.
    disconnectTimeout: 250,
    // A command answered READONLY reached a replica: the primary this connection was opened to has been demoted
    // and nothing closed the connection (a managed Redis failing over behind one DNS name, a manual REPLICAOF).
    // Every write would fail on it for good. Reconnecting resolves the name again, or asks the Sentinels, and
    // reaches the new primary; the command itself fails (1: not sent again).
    reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 1 : false),
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  } satisfies RedisOptions;

  // Auto-pipelining (below): commands sent in one turn of the event loop (a hop's concurrent reads, the record's
  // write with the hop's audit entry) leave in one write, so Redis reads them at once: one round trip and one
  // read event on the server, whatever the network does with separate writes.
  let client: Redis | Cluster;
  switch (target.mode) {
    case 'standalone':
      client = new Redis({
        ...failFast,
        host: target.host,
        port: target.port,
        db: target.db,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        retryStrategy: backoff,
      });
      break;
    case 'sentinel':
      client = new Redis({
        ...failFast,
        sentinels: target.sentinels,
        name: target.name,
        db: target.db,
        ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
        ...(target.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
        sentinelRetryStrategy: backoff,
        sentinelCommandTimeout: commandTimeoutMs,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        retryStrategy: backoff,
      });
      break;
    case 'cluster':
      client = new Cluster(target.nodes, {
        redisOptions: failFast,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        clusterRetryStrategy: backoff,
        slotsRefreshTimeout: connectTimeoutMs,
        // Without it ioredis 5 reloads the slot map only on a MOVED reply or a node connection that closes.
        // A master that goes silent without closing anything (a partition, a frozen VM) is failed over by the
        // Cluster, yet every command for its slots would still go to it and time out for as long as TCP holds
        // the connection (minutes). Reloaded every 5 s (ioredis 4's default), each client reaches the promoted
        // replica at most about 5 s + `slotsRefreshTimeout` after the promotion, each at its own moment. Cost:
        // one short-lived connection and one CLUSTER SLOTS per interval for this client and for each client
        // duplicated from it (the job queue's, the rate limiter's inherit the option). This is now the backstop:
        // the slot map watcher below has every connection reload its map at once, 0.4 to 1.7 s after the
        // promotion in 11 runs of test/session/redis-cluster-failover.test.ts (4.0 to 4.6 s without it), with
        // one command a second on a connection already open. Shortening this interval instead would open a new
        // connection per client at every reload.
        slotsRefreshInterval: 5000,
      } satisfies ClusterOptions);
      break;
  }

  client.defineCommand('kiungaDeleteIfEquals', { numberOfKeys: 1, lua: DELETE_IF_EQUALS });
  client.defineCommand('kiungaIncrementWithTtl', { numberOfKeys: 1, lua: INCREMENT_WITH_TTL });
  client.defineCommand('kiungaLockAndGet', { numberOfKeys: 2, lua: LOCK_AND_GET });
  client.defineCommand('kiungaSetAndUnlock', { numberOfKeys: 2, lua: SET_AND_UNLOCK });
  const scripts = client as unknown as Scripts;

  // ioredis emits 'error' on every failed (re)connect; an 'error' event nobody listens to would be
  // reported as unhandled. Log at most one line per interval, and say when the connection comes back.
  let lastErrorLog = -Infinity;
  let down = false;
  const onError = (err: Error & { code?: string }) => {
    down = true;
    const now = performance.now();
    if (now - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = now;
    logger?.warn({ code: err.code, reason: scrub(err.message), mode: target.mode }, 'redis unavailable');
  };
  client.on('error', onError);
  if (client instanceof Cluster) client.on('node error', onError);
  // Behind Sentinel, this connection and those duplicated from it move to the new master when the Sentinels
  // announce a failover, even when the old one was cut off rather than killed (sentinel-switch.ts).
  let lastSentinelErrorLog = -Infinity;
  const switchWatcher =
    target.mode === 'sentinel'
      ? watchSentinelSwitches({
          sentinels: target.sentinels,
          name: target.name,
          connection: {
            connectTimeout: connectTimeoutMs,
            disconnectTimeout: failFast.disconnectTimeout,
            retryStrategy: backoff,
            ...(target.sentinelUsername ? { username: target.sentinelUsername } : {}),
            ...(target.sentinelPassword ? { password: target.sentinelPassword } : {}),
            ...(target.tls ? { tls: {} } : {}),
          },
          onError: (err: Error & { code?: string }) => {
            const now = performance.now();
            if (now - lastSentinelErrorLog < ERROR_LOG_INTERVAL_MS) return;
            lastSentinelErrorLog = now;
            logger?.warn({ code: err.code, reason: scrub(err.message) }, 'redis sentinel unreachable: a failover is noticed by the others');
          },
          onSwitch: (from, to) => logger?.warn({ from, to }, 'redis sentinel failover: moving to the new master'),
        })
      : undefined;
  if (switchWatcher) switchWatcher.watch(client as Redis);
  // In a Cluster, this connection and those duplicated from it reload their slot map together as soon as the
  // Cluster's map changes (a replica promoted), even when the old master went silent instead of closing its
  // connections (cluster-slots-watch.ts). One CLUSTER SLOTS a second, on this client; nothing on a hop's path.
  const slotsWatcher =
    client instanceof Cluster
      ? watchClusterSlots({
          client,
          onError,
          onChange: (connections) => logger?.warn({ connections }, "redis cluster slot map changed: reloading every connection's map"),
        })
      : undefined;
  if (slotsWatcher && client instanceof Cluster) slotsWatcher.watch(client);
  // Connections duplicated from this one (the job queue's, the rate limiter's subscriber) report their
  // reconnect errors through the same throttled log instead of ioredis's "Unhandled error event" lines.
  // Their commands are never auto-pipelined: a worker's blocking wait must not hold the commands behind it.
  const duplicate = client.duplicate.bind(client) as (...args: unknown[]) => Redis | Cluster;
  (client as { duplicate: (...args: unknown[]) => Redis | Cluster }).duplicate = (...args: unknown[]) => {
    const noPipelining = { enableAutoPipelining: false };
    if (client instanceof Cluster) args = [args[0], { ...noPipelining, ...(args[1] as object | undefined) }];
    else args = [{ ...noPipelining, ...(args[0] as object | undefined) }];
    const copy = duplicate(...args);
    copy.on('error', onError);
    if (switchWatcher && copy instanceof Redis) switchWatcher.watch(copy);
    if (slotsWatcher && copy instanceof Cluster) slotsWatcher.watch(copy);
    return copy;
  };

  // Start-up: the first commands may wait for the first connection; after that, never.
  let everReady = false;
  const graceEnds = performance.now() + connectTimeoutMs;
  const firstReady = new Promise<void>((resolve) => {
    client.on('ready', () => {
      void warmUp().then(() => {
        // Once per process: a Cluster that stops every slot while one master is failed (cluster-coverage.ts).
        if (!everReady && client instanceof Cluster) void checkClusterCoverage(client, logger);
        if (down || !everReady) logger?.info({ mode: target.mode }, 'redis connection ready');
        down = false;
        everReady = true;
        resolve();
      });
    });
  });

  /**
   * A Cluster connects to its nodes lazily and, with the offline queue off, rejects commands for a node
   * that is still connecting; connect to every master before declaring the store ready.
   */
  async function warmUp(): Promise<void> {
    if (!(client instanceof Cluster)) return;
    await Promise.allSettled(client.nodes('master').map((node) => node.ping()));
  }

  let closed = false;

  async function ensureReady(): Promise<void> {
    if (closed) throw new StoreUnavailable('redis store is closed');
    if (everReady && client.status === 'ready') return;
    const remaining = graceEnds - performance.now();
    if (!everReady && remaining > 0) {
      await settleWithin(firstReady, remaining);
      if (everReady && client.status === 'ready') return;
    }
    throw new StoreUnavailable(`redis is not connected (${client.status})`);
  }

  const failure = (op: string, err: unknown) => {
    const e = err as Error & { code?: string };
    return new StoreUnavailable(`redis ${op} failed: ${scrub(String(e?.message))}`, e?.code);
  };

  /** Sends `command`, its failure as `StoreUnavailable`. */
  function send<T>(op: string, command: () => Promise<T>): Promise<T> {
    let sent: Promise<T>;
    try {
      sent = command();
    } catch (err) {
      return Promise.reject(failure(op, err));
    }
    return sent.catch((err: unknown) => {
      throw failure(op, err);
    });
  }

  /**
   * Runs `command` once the store is ready. Connected (every hop's case), the command is sent at once,
   * without an async wrapper around it: each promise a command makes costs every hop.
   */
  function run<T>(op: string, command: () => Promise<T>): Promise<T> {
    if (!closed && everReady && client.status === 'ready') return send(op, command);
    return ensureReady().then(() => send(op, command));
  }

  /** `checkTtl(ttlMs)`, a bad TTL as a rejection (as from an async method). */
  function ttlOrReject(ttlMs: number): number | Promise<never> {
    try {
      return checkTtl(ttlMs);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  return {
    kind: 'redis',
    client,

    get: (key) => run('get', () => client.get(key)),

    readAhead(hop, keys) {
      startEarlyReads(hop, keys, (key) => run('get', () => client.get(key)));
    },

    async set(key, value, ttlMs) {
      const ttl = ttlMs === undefined ? undefined : checkTtl(ttlMs);
      await run('set', () => (ttl === undefined ? client.set(key, value) : client.set(key, value, 'PX', ttl)));
    },

    async setIfAbsent(key, value, ttlMs) {
      const ttl = checkTtl(ttlMs);
      return (await run('set', () => client.set(key, value, 'PX', ttl, 'NX'))) === 'OK';
    },

    async delete(key) {
      await run('del', () => client.del(key));
    },

    deleteIfEquals(key, value) {
      return run('deleteIfEquals', () => scripts.kiungaDeleteIfEquals(key, value)).then((n) => n === 1);
    },

    async increment(key, ttlMs, by = 1) {
      if (!Number.isSafeInteger(by)) throw new RangeError('increment must be an integer');
      if (ttlMs === undefined) return run('incr', () => client.incrby(key, by));
      const ttl = checkTtl(ttlMs);
      return run('increment', () => scripts.kiungaIncrementWithTtl(key, ttl, by));
    },

    // The hop's own two round trips: promise chains rather than async methods (one promise each, not two).
    lockAndGet(lockKey, token, lockTtlMs, key) {
      const ttl = ttlOrReject(lockTtlMs);
      if (typeof ttl !== 'number') return ttl;
      return run('lockAndGet', () => scripts.kiungaLockAndGet(lockKey, key, token, ttl)).then(([locked, value]) => ({
        locked: locked === 1,
        value: locked === 1 ? (value ?? null) : null,
      }));
    },

    setAndUnlock(key, value, ttlMs, lockKey, token) {
      const ttl = ttlOrReject(ttlMs);
      if (typeof ttl !== 'number') return ttl;
      return run('setAndUnlock', () => scripts.kiungaSetAndUnlock(key, lockKey, value, ttl, token)).then((written) => {
        if (written !== 1) throw new LockLost(lockKey);
      });
    },

    async ping() {
      await run('ping', () => client.ping());
    },

    async close() {
      if (closed) return;
      closed = true;
      switchWatcher?.close();
      slotsWatcher?.close();
      if (client.status === 'ready')
        await settleWithin(
          client.quit().catch(() => undefined),
          commandTimeoutMs,
        );
      client.disconnect();
    },
  };
}
