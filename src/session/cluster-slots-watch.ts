import type { Cluster, Redis } from 'ioredis';

/**
 * Makes a Cluster-mode store's connections follow a failover within about a second of each other.
 *
 * A master that goes silent without closing its connections (a partition, a frozen VM) is failed over by the
 * Cluster, but ioredis reloads a client's slot map only on a MOVED reply, a node connection that closes, or its
 * `slotsRefreshInterval`; nothing closes, and the silent master sends no MOVED. Each Cluster client (the
 * store's, and each one duplicated from it: the job queue's, the rate limiter's) keeps its own map and its own
 * 5 s timer, so each kept sending that master's slots to it for up to 5 s + `slotsRefreshTimeout` after the
 * promotion, each at its own moment (test/session/redis-cluster-failover.test.ts).
 *
 * Shortening that interval is no answer: ioredis reloads a map by opening a new connection to a node, asking
 * it, and closing it, for every client at every interval. The watcher instead asks once per tick, with one
 * `CLUSTER SLOTS` on one of the store's own, already open, connections to the masters, reduces the reply to
 * which master serves which slot range, and when that changes has every watched client reload its map
 * (`refreshSlotsCache`, ioredis's public method): one reload per change, for all connections at once.
 *
 * The ticks keep asking the master that answered last, and only when it does not (a timeout: the store's
 * command timeout) move on to the next one, at once. A random master each tick (what a keyless command on the
 * Cluster client does) lands on the silent one a third of the time, after the promotion too: in 2 of 6 runs a
 * connection was then served only 2.5 to 2.9 s after the promotion instead of 0.4 to 1.7 s. Kept, the master
 * asked has usually shown it answers by the time the Cluster promotes the replica: a tick on a master frozen
 * from then on has timed out by 2 s after the freeze, and the promotion came 2.0 to 2.9 s after it. ioredis's
 * own interval stays as the backstop.
 */
export interface ClusterSlotsWatcher {
  /** Watches `client` until it ends (the store's client and the connections duplicated from it). */
  watch(client: Cluster): void;
  /** Slot map changes seen and acted on (tests, metrics). */
  readonly changes: number;
  /** Clients watched now (tests). */
  readonly watching: number;
  close(): void;
}

export interface ClusterSlotsWatchOptions {
  /** The store's own client, through which the slot map is asked for (never a new connection). */
  client: Cluster;
  /** How often the slot map is asked for (default 1000 ms): at most one command per interval. */
  intervalMs?: number;
  /** Receives a tick's or a reload's failure (a node that does not answer); never thrown. */
  onError(err: Error): void;
  /** Called once per change, with the number of connections told to reload their map. */
  onChange?(connections: number): void;
}

/** `CLUSTER SLOTS` reduced to its slot ranges and the address of each range's master, in slot order. */
export function slotsFingerprint(reply: unknown): string {
  if (!Array.isArray(reply)) throw new Error('unexpected CLUSTER SLOTS reply');
  return reply
    .map((entry: unknown) => {
      const [from, to, master] = entry as [number, number, [string, number, ...unknown[]]];
      return { from: Number(from), line: `${from}-${to}@${master[0]}:${master[1]}` };
    })
    .sort((a, b) => a.from - b.from)
    .map((range) => range.line)
    .join(',');
}

export function watchClusterSlots(options: ClusterSlotsWatchOptions): ClusterSlotsWatcher {
  const { client, intervalMs = 1000, onError, onChange } = options;
  const watched = new Set<Cluster>();
  let last: string | undefined;
  let changes = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let turn = 0;
  /** The master asked, for as long as it answers. */
  let asked: Redis | undefined;

  const reloadAll = () => {
    let told = 0;
    for (const watchedClient of watched) {
      // A client that is not ready is (re)connecting, and loads the map itself before it is ready again.
      if (watchedClient.status !== 'ready') continue;
      told++;
      watchedClient.refreshSlotsCache((err) => {
        if (err) onError(err);
      });
    }
    onChange?.(told);
  };

  // Each tick starts `intervalMs` after the previous one started, or at once when that one took longer (it
  // waited for the silent master until the command timeout): one command at a time, at most one per interval.
  const tick = async () => {
    const started = performance.now();
    try {
      const masters = client.status === 'ready' ? client.nodes('master') : [];
      if (asked && !masters.includes(asked)) asked = undefined;
      if (!asked && masters.length > 0) asked = masters[turn++ % masters.length];
      if (asked) {
        const fingerprint = slotsFingerprint(await asked.cluster('SLOTS'));
        if (!closed && last !== undefined && fingerprint !== last) {
          changes++;
          reloadAll();
        }
        last = fingerprint;
      }
    } catch (err) {
      // The next tick, at once when this one waited out the timeout, asks the next master.
      asked = undefined;
      if (!closed) onError(err as Error);
    }
    if (closed) return;
    timer = setTimeout(() => void tick(), Math.max(0, intervalMs - (performance.now() - started)));
    timer.unref();
  };
  timer = setTimeout(() => void tick(), intervalMs);
  timer.unref();

  return {
    watch(watchedClient) {
      watched.add(watchedClient);
      watchedClient.once('end', () => watched.delete(watchedClient));
    },
    get changes() {
      return changes;
    },
    get watching() {
      return watched.size;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      watched.clear();
    },
  };
}
