import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchClusterSlots } from '../../src/session/cluster-slots-watch.js';
import { cli, clusterNodes, startCluster, stopAll, type RedisProcess } from './helpers/redis-server.js';

/**
 * The slot map watcher of a Cluster-mode store (src/session/cluster-slots-watch.ts), on a real three-master
 * Cluster whose map changes for real: slot 0 moves from the first master to the second (empty, so no key has to
 * move), then back. The whole failover, a master frozen and its replica promoted, is
 * test/session/redis-cluster-failover.test.ts.
 */

const TICK_MS = 100;
let nodes: RedisProcess[] = [];
const clients: Cluster[] = [];

beforeAll(async () => {
  ({ nodes } = await startCluster());
}, 30_000);
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await stopAll();
});

/** A Cluster client, ready, with ioredis's own periodic reload off: every reload it makes is the watcher's. */
async function connect(): Promise<Cluster> {
  const client = new Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }]);
  clients.push(client);
  await once(client, 'ready');
  return client;
}

/** Counts a client's slot map reloads from now on (ioredis emits 'refresh' after each one). */
function reloads(client: Cluster): { count: number } {
  const counter = { count: 0 };
  client.on('refresh', () => counter.count++);
  return counter;
}

/** Moves the empty slot 0 to `to`, as a resharding does, and waits until every master says so. */
async function moveSlotZero(from: RedisProcess, to: RedisProcess): Promise<void> {
  const fromId = (await cli(from.port, 'cluster', 'myid')).trim();
  const toId = (await cli(to.port, 'cluster', 'myid')).trim();
  await cli(to.port, 'cluster', 'setslot', '0', 'importing', fromId);
  await cli(from.port, 'cluster', 'setslot', '0', 'migrating', toId);
  for (const node of [to, from, ...nodes.filter((n) => n !== to && n !== from)])
    await cli(node.port, 'cluster', 'setslot', '0', 'node', toId);
  const ownerSeenBy = async (node: RedisProcess) =>
    (await clusterNodes(node.port)).find((n) => n.slots.some(([a, b]) => a <= 0 && 0 <= b))?.id;
  await expect.poll(async () => (await Promise.all(nodes.map(ownerSeenBy))).every((id) => id === toId), { timeout: 5000 }).toBe(true);
}

describe('Cluster slot map watcher', () => {
  it('should have every watched connection reload its map once per change of the map, never per tick, and drop a connection that ended', async () => {
    const store = await connect();
    const queue = await connect();
    const limiter = await connect();
    const counted = { store: reloads(store), queue: reloads(queue), limiter: reloads(limiter) };
    const errors: Error[] = [];
    const told: number[] = [];
    const watcher = watchClusterSlots({
      client: store,
      intervalMs: TICK_MS,
      onError: (err) => errors.push(err),
      onChange: (connections) => told.push(connections),
    });
    try {
      for (const client of [store, queue, limiter]) watcher.watch(client);
      const counts = () => ({
        changes: watcher.changes,
        store: counted.store.count,
        queue: counted.queue.count,
        limiter: counted.limiter.count,
      });

      // Ten ticks on an unchanged map: the first fingerprint is only remembered, the same one again is nothing.
      await sleep(10 * TICK_MS);
      expect(counts()).toEqual({ changes: 0, store: 0, queue: 0, limiter: 0 });

      // The map changes: every connection reloads its map, once per change the watcher saw. Masters learn the new
      // owner one after another, so a tick between two of them may see the old map again and then the new one:
      // each flip is a change; usually there is one.
      await moveSlotZero(nodes[0]!, nodes[1]!);
      await expect.poll(() => watcher.changes).toBeGreaterThanOrEqual(1);
      await sleep(10 * TICK_MS);
      const first = watcher.changes;
      expect(counts()).toEqual({ changes: first, store: first, queue: first, limiter: first });
      expect(told).toEqual(Array(first).fill(3));

      // A connection that ended leaves the set: the next change reloads the two others only.
      limiter.disconnect();
      await expect.poll(() => watcher.watching).toBe(2);
      await moveSlotZero(nodes[1]!, nodes[0]!);
      await expect.poll(() => watcher.changes).toBeGreaterThan(first);
      await sleep(10 * TICK_MS);
      const second = watcher.changes - first;
      expect(counts()).toEqual({ changes: first + second, store: first + second, queue: first + second, limiter: first });
      expect(told.slice(first)).toEqual(Array(second).fill(2));
      console.info('slot map changes seen per move:', { first, second });
      expect(errors).toEqual([]);
    } finally {
      watcher.close();
    }
  }, 30_000);

  it('should stop asking once closed', async () => {
    const store = await connect();
    const watcher = watchClusterSlots({ client: store, intervalMs: TICK_MS, onError: () => undefined });
    watcher.watch(store);
    // A few ticks first, so that it has a fingerprint the change below would differ from.
    await sleep(3 * TICK_MS);
    watcher.close();
    expect(watcher.watching).toBe(0);
    const counted = reloads(store);
    await moveSlotZero(nodes[0]!, nodes[2]!);
    await sleep(5 * TICK_MS);
    expect({ changes: watcher.changes, reloads: counted.count }).toEqual({ changes: 0, reloads: 0 });
  });
});
