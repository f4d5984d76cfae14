/**
 * `cluster-require-full-coverage` decides whether one failed master stops the whole Cluster. With `yes` (Redis's
 * default) every node answers CLUSTERDOWN to every command once any slot has no working master, so a master
 * that dies without a replica to take over stops every session, and a failover stops them all for the
 * election. With `no`, the other masters keep serving their slots; Kiunga keeps every multi-key operation in
 * one slot, so it needs nothing more. The store warns at start-up when a master says `yes`
 * (src/session/cluster-coverage.ts). Each case runs on three masters of its own (no replica, so nothing takes
 * over), `cluster-node-timeout` 1 s.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { createLogger } from '../../src/logger.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { checkClusterCoverage } from '../../src/session/cluster-coverage.js';
import { LogCapture } from '../helpers/server.js';
import { cli, clusterNodes, startCluster, stopAll } from './helpers/redis-server.js';
import { testPrefix } from './helpers/fixtures.js';

const WARNING = /cluster-require-full-coverage yes/;

afterAll(async () => {
  await stopAll();
});

describe.each([
  { requireFullCoverage: true, served: false },
  { requireFullCoverage: false, served: true },
])('redis cluster, cluster-require-full-coverage $requireFullCoverage', ({ requireFullCoverage, served }) => {
  let store: RedisStore | undefined;
  afterAll(async () => {
    await store?.close();
  });

  it(`${served ? 'serves' : 'refuses'} the other masters' slots while one master is failed, and ${requireFullCoverage ? 'warns' : 'says nothing'} at start-up`, async () => {
    const { nodes, url } = await startCluster({ nodeTimeoutMs: 1000, requireFullCoverage });
    const logs = new LogCapture();
    const logger = createLogger('info', logs);
    store = createRedisStore(url, { logger });
    await store.ping();
    // The store reads the setting of every master once it is connected, without holding its start-up.
    if (requireFullCoverage) await expect.poll(() => WARNING.test(logs.text), { timeout: 5000 }).toBe(true);
    else expect(await checkClusterCoverage(store.client as Cluster, logger)).toEqual([]);

    const [victim, witness] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    // A key of a master that stays up.
    const view = await clusterNodes(witness.port);
    const kept = view.find((n) => n.port === witness.port)!;
    let key = '';
    for (let i = 0; !key; i++) {
      const candidate = `${testPrefix()}:{coverage-${i}}`;
      const slot = Number(await cli(witness.port, 'cluster', 'keyslot', candidate));
      if (kept.slots.some(([a, b]) => a <= slot && slot <= b)) key = candidate;
    }
    await store.set(key, 'before', 60_000);

    // The victim dies with no replica to take over: once the others mark it failed, its slots have no master.
    const victimId = view.find((n) => n.port === victim.port)!.id;
    await victim.kill();
    await expect
      .poll(async () => (await clusterNodes(witness.port)).find((n) => n.id === victimId)?.flags.includes('fail'), {
        timeout: 15_000,
        interval: 100,
      })
      .toBe(true);
    const state = /cluster_state:(\w+)/.exec(await cli(witness.port, 'cluster', 'info'))?.[1];
    expect(state).toBe(requireFullCoverage ? 'fail' : 'ok');

    // Five writes and reads of the surviving master's key.
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      try {
        await store.set(key, `during-${i}`, 60_000);
        outcomes.push((await store.get(key)) ?? 'missing');
      } catch (err) {
        outcomes.push((err as Error).name);
      }
    }
    if (served) expect(outcomes).toEqual(['during-0', 'during-1', 'during-2', 'during-3', 'during-4']);
    else expect(outcomes).toEqual(Array(5).fill('StoreUnavailable'));
    if (!requireFullCoverage) expect(logs.text).not.toMatch(WARNING);
  }, 40_000);
});
