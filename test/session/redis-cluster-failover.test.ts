/**
 * A Redis Cluster master that stops answering without closing its connections (a network partition, a frozen
 * VM: no RST ever reaches the client) is failed over by the Cluster after `cluster-node-timeout`; the store
 * must then follow the promoted replica within seconds, although its connection to the old master stays open.
 * The connections made from the store's client (the job queue's, the rate limiter's) must follow too. The
 * fault here is SIGSTOP on the master's process: the kernel keeps its TCP connections open and acknowledges
 * what is sent, and nothing answers; SIGCONT is the heal. Six redis-server processes of this file's own (three
 * masters, one replica each, about 3 s to start), all resumed (SIGCONT) and killed in afterAll.
 *
 * Each of the three connections must be served within SERVED_BOUND_MS of the promotion. The store's slot map
 * watcher (src/session/cluster-slots-watch.ts) makes them all reload their map, at worst about 2.3 s after it
 * (the next tick within 1 s, a reload that asks the frozen node first 1 s more, the job queue's command then
 * sent again once its connection to the frozen node is dropped, 0.25 s more); the bound leaves a second more
 * for a loaded machine. ioredis's own reload every 5 s alone misses the bound whenever a client's reload falls
 * between the freeze and the promotion: its next one comes 5 s later. Left to chance (each client's timer has
 * its own phase), a run without the watcher would pass whenever every reload happened to come just after the
 * promotion, so the master is frozen in the phase that misses for the store's client: 3.8 s after its last
 * reload, so that its next one (1.2 s later, up to 1 s more when it asks the frozen node first) comes before
 * the promotion (about 2 to 2.9 s after the freeze) and the one after that at least 6.2 s after the freeze.
 * Without the watcher, 5 of 5 runs failed (slowest 4.0 to 4.6 s). The watcher's one warn line per change,
 * naming every connection, is checked too: without the watcher it is never written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { pino } from 'pino';
import { z } from 'zod';
import { createBullQueue } from '../../src/jobs/queue.js';
import type { JobQueue } from '../../src/jobs/queue-contract.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { cli, clusterNodes, infoField, startCluster, stopAll, type RedisProcess } from './helpers/redis-server.js';
import { captureLogs, recoversWithin, testPrefix, within } from './helpers/fixtures.js';

/** Short, so the Cluster promotes the replica about 2-3 s after the freeze. */
const NODE_TIMEOUT_MS = 1000;
/** How long after the promotion the tests keep trying (the heal, and the figures when the bound below is missed). */
const RECOVERY_BOUND_MS = 10_000;
/** How long after the promotion each connection must be served on the frozen master's slots. */
const SERVED_BOUND_MS = 3500;
/** The master is frozen this long after the store's client last reloaded its slot map (see above). */
const FREEZE_AFTER_RELOAD_MS = 3800;

let nodes: RedisProcess[] = [];
const frozen = new Set<number>();
const prefix = testPrefix();

beforeAll(async () => {
  ({ nodes } = await startCluster({ replicas: 1, nodeTimeoutMs: NODE_TIMEOUT_MS }));
}, 30_000);
afterAll(async () => {
  // A stopped process still dies of SIGKILL, but resume it first so it never outlives the run stopped.
  for (const pid of frozen) process.kill(pid, 'SIGCONT');
  frozen.clear();
  await stopAll();
});

/**
 * Starts a new `attempt` every 100 ms, without waiting for the ones in flight (a command sent to the frozen master
 * takes the whole command timeout to fail, which would hide a recovery in the meantime), until one succeeds or
 * `ms` pass; `afterMs` is when the first success came, from `since`.
 */
async function firstServed(since: number, ms: number, attempt: () => Promise<unknown>) {
  const errors = new Map<string, number>();
  let servedAt: number | undefined;
  const tries: Promise<void>[] = [];
  while (servedAt === undefined && performance.now() - since < ms) {
    tries.push(
      within(attempt(), 1500).then(
        () => void (servedAt ??= performance.now()),
        (err: unknown) => {
          const message = (err as Error).message;
          errors.set(message, (errors.get(message) ?? 0) + 1);
        },
      ),
    );
    await sleep(100);
  }
  await Promise.all(tries);
  const afterMs = Math.round((servedAt ?? performance.now()) - since);
  return { recovered: servedAt !== undefined, afterMs, errors: Object.fromEntries(errors) };
}

describe('redis cluster: a master frozen (not killed)', () => {
  let store: RedisStore;
  let copy: Cluster;
  let queue: JobQueue<{ job: object }>;
  afterAll(async () => {
    // Resumed first: the queue's close waits (a bounded time) for its connections to quit.
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    frozen.clear();
    await queue?.close(1000);
    copy?.disconnect();
    await store?.close();
  });

  it('the store, a connection duplicated from it and the job queue follow the promoted replica within 3.5 s', async () => {
    const url = `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
    const logs = captureLogs();
    store = createRedisStore(url, { logger: logs.logger });
    // The queue's keys carry the hash tag `{<prefix>:bull}`: this key shares their slot, so one frozen master
    // holds both.
    const key = `{${prefix}:bull}:session`;
    await store.set(key, 'before', 120_000);
    expect(await store.get(key)).toBe('before');
    // A duplicate as the rate limiter makes it: the store's fail-fast options, so it rejects commands until
    // connected to the key's node.
    copy = store.client.duplicate() as Cluster;
    await expect.poll(() => copy.get(key).catch(() => null), { timeout: 5000 }).toBe('before');
    // The job queue's connections are duplicates with no command timeout and the offline queue on.
    queue = createBullQueue({ redis: store.client, prefix, jobs: { job: z.object({}) }, logger: pino({ level: 'silent' }) });
    await queue.add('job', {});

    // The master that owns the key's slot, and its replica.
    const slot = Number(await cli(nodes[0]!.port, 'cluster', 'keyslot', key));
    const view = await clusterNodes(nodes[0]!.port);
    const master = view.find((n) => n.flags.includes('master') && n.slots.some(([a, b]) => a <= slot && slot <= b))!;
    const replica = view.find((n) => n.masterId === master.id)!;
    const witness = view.find((n) => n.flags.includes('master') && n.id !== master.id)!;
    expect(master && replica && witness).toBeTruthy();
    // The replica has the key (replication is asynchronous) before its master is frozen.
    const written = Number(await infoField(master.port, 'replication', 'master_repl_offset'));
    await expect
      .poll(async () => Number(await infoField(replica.port, 'replication', 'slave_repl_offset')), { timeout: 5000 })
      .toBeGreaterThanOrEqual(written);

    // Frozen in the phase of the store's own slot map reloads where they alone would miss the bound (see above).
    await once(store.client, 'refresh');
    await sleep(FREEZE_AFTER_RELOAD_MS);
    const pid = Number(await infoField(master.port, 'server', 'process_id'));
    frozen.add(pid);
    process.kill(pid, 'SIGSTOP');
    const frozenAt = performance.now();

    // Another master reports the replica promoted.
    await expect
      .poll(async () => (await clusterNodes(witness.port)).find((n) => n.id === replica.id)?.flags.includes('master'), {
        timeout: 20_000,
        interval: 100,
      })
      .toBe(true);
    const promotedAt = performance.now();
    const promotedAfterMs = Math.round(promotedAt - frozenAt);

    // Each from the promotion on, at the same time: new commands on the frozen master's slot.
    const [viaStore, viaCopy, viaQueue] = await Promise.all([
      firstServed(promotedAt, RECOVERY_BOUND_MS, async () => {
        await store.set(key, 'after', 120_000);
        expect(await store.get(key)).toBe('after');
      }),
      firstServed(promotedAt, RECOVERY_BOUND_MS, async () => expect(await copy.get(key)).toMatch(/before|after/)),
      // One add, not a poll: a command the queue's connection sent to the frozen master waits for no timeout, and
      // is sent again to the promoted replica once the queue's connection has reloaded its slot map.
      (async () => {
        const added = await within(queue.add('job', {}), RECOVERY_BOUND_MS).then(
          () => true,
          () => false,
        );
        return { recovered: added, afterMs: Math.round(performance.now() - promotedAt) };
      })(),
    ]);
    // The figures for docs/resilience.md.
    const slowestMs = Math.max(viaStore.afterMs, viaCopy.afterMs, viaQueue.afterMs);
    const changed = logs.text().match(/.*redis cluster slot map changed.*/g) ?? [];
    console.info(`cluster master frozen: replica promoted ${promotedAfterMs} ms after the freeze; then`, {
      slowestMs,
      changed,
      viaStore,
      viaCopy,
      viaQueue,
    });
    expect(viaStore).toMatchObject({ recovered: true });
    expect(viaCopy).toMatchObject({ recovered: true });
    expect(viaQueue).toMatchObject({ recovered: true });
    expect(slowestMs).toBeLessThanOrEqual(SERVED_BOUND_MS);
    // One line for the one change, naming how many connections reload (the store's, the copy, the queue's).
    expect(changed).toHaveLength(1);
    expect(Number(/"connections":(\d+)/.exec(changed[0]!)?.[1])).toBeGreaterThanOrEqual(3);

    // The heal: the old master wakes up, learns it was failed over and follows the new one as its replica.
    process.kill(pid, 'SIGCONT');
    frozen.delete(pid);
    await expect.poll(() => cli(master.port, 'info', 'replication'), { timeout: 10_000 }).toMatch(/role:slave/);
    const healed = await recoversWithin(RECOVERY_BOUND_MS, async () => {
      await store.set(key, 'healed', 120_000);
      expect(await store.get(key)).toBe('healed');
    });
    expect(healed).toMatchObject({ recovered: true });
  }, 60_000);
});
