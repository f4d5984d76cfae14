/**
 * The shared limiter on a real 3-master Redis Cluster (started on loopback for this file, about 2-3 s):
 * bottleneck's keys share one hash tag (`b_{id}_...`), so its Lua scripts are legal on a Cluster, and
 * its subscriber is a duplicate of the store's Cluster client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { createFineractGateway } from '../../src/fineract/gateway.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { startCluster, stopAll } from '../session/helpers/redis-server.js';
import { hits, httpTo, maxInWindow, uniqueId } from './helpers.js';

let sandbox: Sandbox;
let stores: RedisStore[] = [];

beforeAll(async () => {
  const [{ url }, s] = await Promise.all([startCluster(), startSandbox({ port: 0 })]);
  sandbox = s;
  stores = [createRedisStore(url), createRedisStore(url)];
  await Promise.all(stores.map((st) => st.ping()));
}, 30_000);
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await sandbox.close();
  await stopAll();
});

describe('shared limiter on a Redis Cluster', () => {
  it('holds the rate across two processes and keeps its keys in one slot', async () => {
    const id = uniqueId('cluster');
    const [a, b] = stores.map((s) =>
      createFineractGateway({ primary: httpTo(sandbox), redis: s.client, id, ratePerSecond: 20, maxConcurrent: 5, maxQueueMs: 10_000 }),
    ) as [ReturnType<typeof createFineractGateway>, ReturnType<typeof createFineractGateway>];
    try {
      await Promise.all([a.ready(), b.ready()]);
      // Warm the HTTP connections: their set-up is not the limiter's jitter.
      await Promise.all([a.request('GET', '/clients/1'), b.request('GET', '/clients/1')]);
      await new Promise((r) => setTimeout(r, 1_000));
      sandbox.control.clearRequests();
      const started = Date.now();
      await Promise.all(Array.from({ length: 20 }, () => [a.request('GET', '/clients/1'), b.request('GET', '/clients/1')]).flat());
      const elapsed = Date.now() - started;
      expect(hits(sandbox)).toHaveLength(40);
      expect(maxInWindow(hits(sandbox).map((r) => r.at))).toBeLessThanOrEqual(21);
      expect(elapsed).toBeGreaterThan(1_500);
      expect(elapsed).toBeLessThan(3_500);

      const cluster = stores[0]!.client as Cluster;
      const slots = new Set<number>();
      for (const node of cluster.nodes('master')) {
        const found = await node.keys(`b_{${id}}_*`);
        if (found.length) slots.add(Number(await node.cluster('KEYSLOT', found[0]!)));
        if (found.length) await node.del(...found);
      }
      expect(slots.size).toBe(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
