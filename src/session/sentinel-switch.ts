import { Redis, type RedisOptions } from 'ioredis';

/**
 * Moves a Sentinel-mode store's connections to the new master when the Sentinels announce a failover.
 *
 * A master cut off by a partition (not killed) sends no reset: commands time out, but a connection to it stays
 * open for as long as TCP retransmits (minutes), and ioredis asks the Sentinels for the master again only when
 * a connection drops. So every connection would keep waiting on the old master long after the Sentinels
 * promoted its replica (`test/resilience/sentinel-partition.test.ts`).
 *
 * The watcher subscribes, on every Sentinel (so that one Sentinel down loses nothing), to `+switch-master`
 * (`<name> <old ip> <old port> <new ip> <new port>`), and on a switch of this store's master drops each
 * watched connection that is `ready`, which makes ioredis reconnect and ask the Sentinels. A connection that
 * is not `ready` is already reconnecting and will ask them anyway; dropping it then would be wrong: ioredis
 * gives a connection up for good (status `end`) when it is dropped while it resolves the master. That is what
 * ioredis's own `failoverDetector` does on a failover that finds its connections reconnecting (the master
 * killed rather than cut off): its detector from the last connection stays subscribed and drops the next one
 * mid-connect. The same announcement comes from every Sentinel: each switch is handled once.
 */
export interface SentinelSwitchWatcher {
  /** Watches `client` until it ends (the store's client and the connections duplicated from it). */
  watch(client: Redis): void;
  /** Switches seen and acted on (tests, metrics). */
  readonly switches: number;
  close(): void;
}

export interface SentinelSwitchOptions {
  sentinels: readonly { host: string; port: number }[];
  /** The master's name, as in `SENTINEL MONITOR`. */
  name: string;
  /** How each Sentinel is reached: credentials, TLS, timeouts, retry strategy. */
  connection: RedisOptions;
  onError(err: Error): void;
  onSwitch?(from: string, to: string): void;
}

export function watchSentinelSwitches(options: SentinelSwitchOptions): SentinelSwitchWatcher {
  const watched = new Set<Redis>();
  let last = '';
  let switches = 0;
  const onMessage = (channel: string, message: string) => {
    const [name, oldHost, oldPort, newHost, newPort] = message.split(' ');
    if (channel !== '+switch-master' || name !== options.name || message === last) return;
    last = message;
    switches++;
    options.onSwitch?.(`${oldHost}:${oldPort}`, `${newHost}:${newPort}`);
    for (const client of watched) if (client.status === 'ready') client.disconnect(true);
  };
  const listeners = options.sentinels.map(({ host, port }) => {
    // A subscriber reconnects and subscribes again by itself (ioredis's autoResubscribe).
    const listener = new Redis({ ...options.connection, host, port, enableOfflineQueue: true, maxRetriesPerRequest: null });
    listener.on('error', options.onError);
    listener.on('message', onMessage);
    listener.subscribe('+switch-master').catch(options.onError);
    return listener;
  });
  return {
    watch(client) {
      watched.add(client);
      client.once('end', () => watched.delete(client));
    },
    get switches() {
      return switches;
    },
    close() {
      watched.clear();
      for (const listener of listeners) listener.disconnect();
    },
  };
}
