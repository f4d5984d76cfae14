import Bottleneck from 'bottleneck';
import type { Cluster, Redis } from 'ioredis';
import { lostState, refreshWhileWaiting, watchGrantDue } from './bottleneck-workarounds.js';

/**
 * The tokens of the shared limit: bottleneck, clustered on Redis (`datastore: 'ioredis'`) or in-process when
 * there is no Redis, used through its public API only.
 *
 * A grant is `weight` reservoir units (`reservoir = reservoirRefreshAmount = ratePerSecond`,
 * `reservoirRefreshInterval: 1000`) plus `weight` of `maxConcurrent` running slots, held until the granted
 * function settles. Starts are also spaced (`minTime`, shared through Redis). `expiration` (`maxRunMs`) frees
 * the slots of a process that died mid-call.
 *
 * Redis: bottleneck gets a connection of its own (a duplicate of the store's client, and a subscriber), so
 * that closing it never touches the store's client. bottleneck keeps its settings in Redis; at start-up this
 * process writes its own rate and concurrency there, so a changed rate applies at the next deployment (the
 * last process to start wins). When its keys are lost (Redis restarted empty), a new instance re-creates them
 * (`bottleneck-workarounds.ts`).
 */

export interface TokenSourceOptions {
  redis?: Redis | Cluster;
  /** The limiter id, the same in every process sharing the limit. */
  id: string;
  ratePerSecond: number;
  maxConcurrent: number;
  /** Milliseconds between two grants, across all processes. */
  minTime: number;
  /** While a request waits: how often to let the shared reservoir refresh (Redis), or bottleneck's heartbeat (in-process). */
  refreshMs: number;
  /** A grant's slots are freed after this long even if its function still runs. */
  maxRunMs: number;
  onError: (err: unknown, what: string) => void;
  /**
   * Redis: may this process's clock be handed to bottleneck's scripts now (the clock guard)? With it, every
   * script runs only when it says yes: bottleneck's own heartbeat is replaced by one that asks first.
   */
  gate?: () => boolean;
}

export interface TokenSource {
  readonly mode: 'redis' | 'local';
  /** Resolves once connected with the settings written; rejects if start-up failed. */
  ready(): Promise<void>;
  /** The Redis connection is up (always true in-process). */
  connected(): boolean;
  /**
   * Asks for one grant of `weight` tokens; `granted` runs when it is given and holds the slots until it
   * settles. Its `dueAt` is the time (epoch ms, this host's clock) the shared pacing gave the grant, which a slow
   * Redis answer or a busy event loop may have passed (Redis only; undefined in-process). Rejects when the grant
   * could not be asked for (Redis unreachable, keys lost).
   */
  request(weight: number, granted: (dueAt: number | undefined) => Promise<void>): Promise<void>;
  /** Spends `n` tokens of the current second in every process. */
  spend(n: number): Promise<void>;
  /** Grants still running in this process (bottleneck's count). */
  busy(): number;
  /**
   * Leaves Redis at once (the clock guard saw a skew): no script runs until `resume()`; requests reject and
   * `connected()` is false. Grants still held are freed by their expiration in Redis.
   */
  suspend(): void;
  /**
   * Joins Redis again (after `suspend()`) with a new instance that clears and re-creates bottleneck's keys
   * (its public `clearDatastore`): before the skew was seen, a script may have stored this process's wrong
   * time (a refill 20 minutes ahead stops every process's refills). The other processes' instances then find
   * themselves unknown and are rebuilt; calls running meanwhile are forgotten by the shared count once.
   */
  resume(): void;
  /** Leaves Redis (closes this source's own connection); the store's client stays open. */
  close(): Promise<void>;
}

interface Generation {
  limiter: Bottleneck;
  connection?: Bottleneck.IORedisConnection;
  client?: Redis | Cluster;
  ready: Promise<void>;
  keepAlive?: NodeJS.Timeout;
  disposed?: boolean;
  /** Resolves when the instance is discarded: requests still waiting on it ask the next one. */
  gone: Promise<void>;
  leave: () => void;
  /** The due time of the latest grant answered on this instance's connection (one request at a time). */
  due: { at?: number };
}

/** bottleneck's default heartbeat, which keeps a process registered (its clients time out after 10 s). */
const HEARTBEAT_MS = 5_000;
/** Long enough never to fire: with a gate, bottleneck's own heartbeat is replaced by a gated one. */
const NO_HEARTBEAT_MS = 86_400_000;

export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const { redis, ratePerSecond, onError } = options;
  // Written to Redis at start-up. Not `reservoir`: that would hand out a fresh second's tokens every time a
  // process starts.
  const settings = {
    maxConcurrent: options.maxConcurrent,
    reservoirRefreshAmount: ratePerSecond,
    reservoirRefreshInterval: 1_000,
    minTime: options.minTime,
  };

  function open(clear = false): Generation {
    let client: Redis | Cluster | undefined;
    let connection: Bottleneck.IORedisConnection | undefined;
    const due: { at?: number } = {};
    if (redis) {
      client = redis.duplicate();
      watchGrantDue(client, (at) => (due.at = at));
      // Uses `client` for commands and `client.duplicate()` for its subscriber; both are closed with it.
      connection = new Bottleneck.IORedisConnection({ client });
      connection.on('error', (err: unknown) => onError(err, 'rate limiter redis error'));
    }
    const limiter = new Bottleneck({
      ...settings,
      reservoir: ratePerSecond,
      // Clustered: the id becomes a Redis Cluster hash tag, so all of bottleneck's keys (`b_{id}_settings`,
      // ...) share one slot and its Lua scripts stay legal on a Cluster.
      id: redis ? `{${options.id}}` : options.id,
      // In-process, the heartbeat is what refills the reservoir; clustered, bottleneck's default (5 s) only
      // keeps this process registered, and `refreshWhileWaiting` refills while somebody waits.
      ...(connection ? { datastore: 'ioredis' as const, connection, clearDatastore: clear } : { heartbeatInterval: options.refreshMs }),
      ...(connection && options.gate ? { heartbeatInterval: NO_HEARTBEAT_MS } : {}),
    });
    // The gated heartbeat: the cheapest script that registers this process, only while its clock is right.
    const keepAlive =
      connection && options.gate
        ? setInterval(() => {
            if (!options.gate?.()) return;
            limiter.currentReservoir().catch((err: unknown) => {
              onError(err, 'rate limiter heartbeat failed');
              if (lostState(err)) rebuild();
            });
          }, HEARTBEAT_MS)
        : undefined;
    keepAlive?.unref();
    limiter.on('error', (err: unknown) => {
      onError(err, 'rate limiter error');
      if (lostState(err)) rebuild();
    });
    const ready = (async () => {
      await limiter.ready();
      // Settings already in Redis win over the constructor's; write ours (a changed rate applies on deploy).
      if (redis) await limiter.updateSettings(settings);
    })();
    let leave = () => {};
    const gone = new Promise<void>((resolve) => (leave = resolve));
    return { limiter, connection, client, ready, keepAlive, gone, leave, due };
  }

  async function dispose(g: Generation): Promise<void> {
    if (g.disposed) return;
    g.disposed = true;
    clearInterval(g.keepAlive);
    g.leave();
    // Closing the connection first marks it terminated, so the limiter's own disconnect does not
    // unsubscribe on a closed subscriber (an unhandled rejection).
    await g.connection?.disconnect(false);
    await Promise.resolve(g.limiter.disconnect(false)).catch(() => undefined);
  }

  let current = open();
  let rebuilding = false;
  let closed = false;
  let suspended = false;

  /** bottleneck's keys are gone: a new instance re-creates them at its start-up. */
  function rebuild(): void {
    if (rebuilding || closed || suspended || !redis) return;
    rebuilding = true;
    const old = current;
    current = open();
    current.ready.then(
      () => (rebuilding = false),
      (err: unknown) => {
        rebuilding = false;
        onError(err, 'rate limiter could not re-create its state');
      },
    );
    void dispose(old).catch(() => undefined);
  }

  return {
    mode: redis ? 'redis' : 'local',
    ready: () => current.ready,
    // Re-creating lost keys is not an outage: Redis answered; calls wait for the new instance.
    connected: () => !current.client || (!suspended && (rebuilding || current.client.status === 'ready')),

    async request(weight, granted) {
      let ran = false;
      for (let attempt = 0; ; attempt++) {
        if (suspended) throw new Error('rate limiter suspended: clock skewed');
        const g = current;
        let abandoned = false;
        let stop: (() => void) | undefined;
        if (redis)
          stop = refreshWhileWaiting(
            g.limiter,
            options.refreshMs,
            (err) => {
              onError(err, 'rate limiter refresh failed');
              if (lostState(err)) rebuild();
            },
            options.gate,
          );
        try {
          const job = g.limiter.schedule({ expiration: options.maxRunMs, weight }, async () => {
            stop?.();
            if (abandoned) return; // a discarded instance's late grant: the request moved on
            ran = true;
            const dueAt = g.due.at;
            g.due.at = undefined;
            await granted(dueAt);
          });
          job.catch(() => undefined); // an abandoned job's end is nobody's concern
          // A job waiting on an instance that is discarded (lost keys, a clock reset) may wait for ever: one
          // granted with a wait stored by a clock 20 minutes ahead waits 20 minutes.
          if ((await Promise.race([job.then(() => 'granted'), g.gone.then(() => 'gone')])) === 'granted' || ran) {
            await job;
            return;
          }
          abandoned = true;
          if (attempt > 0 || suspended || closed) throw new Error('rate limiter instance replaced');
          await current.ready.catch(() => undefined);
        } catch (err) {
          if (!lostState(err)) throw err;
          rebuild();
          // The keys were re-created (a Redis restart, or another process's reset): ask the new instance once.
          if (ran || attempt > 0) throw err;
          await current.ready.catch(() => undefined);
        } finally {
          stop?.();
        }
      }
    },

    async spend(n) {
      await current.limiter.incrementReservoir(-n);
    },

    busy() {
      const counts = current.limiter.counts();
      return counts.EXECUTING + counts.RUNNING;
    },

    suspend() {
      if (suspended || closed || !redis) return;
      suspended = true;
      void dispose(current).catch(() => undefined);
    },

    resume() {
      if (!suspended || closed) return;
      suspended = false;
      // Joining is like a rebuild: calls wait for the new instance rather than being refused.
      rebuilding = true;
      current = open(true);
      current.ready.then(
        () => (rebuilding = false),
        (err: unknown) => {
          rebuilding = false;
          onError(err, 'rate limiter could not rejoin Redis');
        },
      );
    },

    async close() {
      closed = true;
      await dispose(current);
    },
  };
}
