import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { watchSentinelSwitches, type SentinelSwitchWatcher } from '../../src/session/sentinel-switch.js';

/**
 * The failover watcher of a Sentinel-mode store (src/session/sentinel-switch.ts). The Sentinels' announcement
 * is a message on their `+switch-master` channel; here the local Redis stands in for the Sentinels (a
 * subscription to it twice is two Sentinels announcing the same switch), so each case publishes the
 * announcement itself. The whole failover, with real Sentinels and a master cut off by a partition, is
 * test/resilience/sentinel-partition.test.ts; a master killed, test/resilience/redis.test.ts.
 */

const REDIS = { host: '127.0.0.1', port: 6379 };
const NAME = `kiunga-switch-${process.pid}`;
const closing: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

function watcher(sentinels = [REDIS, REDIS]): SentinelSwitchWatcher {
  const errors: Error[] = [];
  const w = watchSentinelSwitches({ sentinels, name: NAME, connection: {}, onError: (err) => errors.push(err) });
  closing.push(() => w.close());
  return w;
}

async function publisher(): Promise<Redis> {
  const client = new Redis(REDIS);
  closing.push(() => client.quit());
  // Both subscriptions are in place before anything is announced.
  for (let i = 0; i < 50 && Number((await client.pubsub('NUMSUB', '+switch-master'))[1]) < 2; i++) await sleep(20);
  return client;
}

const announce = (p: Redis, name = NAME) => p.publish('+switch-master', `${name} 127.0.0.1 7001 127.0.0.1 7002`);

describe('Sentinel failover watcher', () => {
  it('should drop each ready connection once per failover, however many Sentinels announce it, and let it reconnect', async () => {
    const w = watcher();
    const client = new Redis(REDIS);
    closing.push(() => client.quit());
    await once(client, 'ready');
    w.watch(client);
    let drops = 0;
    client.on('reconnecting', () => drops++);
    const p = await publisher();
    await announce(p);
    await once(client, 'ready');
    await sleep(200);
    expect({ drops, switches: w.switches, status: client.status }).toEqual({ drops: 1, switches: 1, status: 'ready' });
    // Another master's failover is not this store's.
    await announce(p, `${NAME}-other`);
    await sleep(200);
    expect({ drops, switches: w.switches }).toEqual({ drops: 1, switches: 1 });
  });

  it('should leave a connection that is still resolving the master alone: ioredis would give it up for good', async () => {
    // A "Sentinel" that takes connections and never answers keeps the client resolving the master (status
    // `connecting`) for as long as the test wants.
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    closing.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const client = new Redis({
      sentinels: [{ host: '127.0.0.1', port: (silent.address() as AddressInfo).port }],
      name: NAME,
      sentinelCommandTimeout: 200,
      sentinelRetryStrategy: () => 50,
      retryStrategy: () => 50,
      enableOfflineQueue: false,
    });
    client.on('error', () => undefined);
    closing.push(() => client.disconnect());
    const w = watcher();
    w.watch(client);
    const p = await publisher();
    await sleep(100);
    expect(client.status).toBe('connecting');
    await announce(p);
    await sleep(600);
    expect(w.switches).toBe(1);
    // Dropped mid-connect, ioredis rejects the connect ("Connection is closed.") and ends the client: no
    // reconnect ever again. Left alone, it goes on asking the Sentinels, who now name the new master.
    expect(client.status).toBe('connecting');
  });
});
