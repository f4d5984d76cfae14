/**
 * A Redis Cluster master that stops answering without closing its connections (a network partition, a frozen
 * VM: no RST ever reaches the client) is failed over by the Cluster after `cluster-node-timeout`; the store
 * must then follow the promoted replica within seconds, although its connection to the old master stays open.
 * The connections made from the store's client (the job queue's, the rate limiter's) must follow too. The
 * fault here is SIGSTOP on the master's process: the kernel keeps its TCP connections open and acknowledges
 * what is sent, and nothing answers; SIGCONT is the heal. Six redis-server processes of this file's own (three
 * masters, one replica each, about 3 s to start), all resumed (SIGCONT) and killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { pino } from 'pino';
import { z } from 'zod';
import { createBullQueue } from '../../src/jobs/queue.js';
import type { JobQueue } from '../../src/jobs/queue-contract.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { cli, clusterNodes, infoField, startCluster, stopAll, type RedisProcess } from './helpers/redis-server.js';
import { testPrefix } from './helpers/fixtures.js';

/** Short, so the Cluster promotes the replica about 2-3 s after the freeze. */
const NODE_TIMEOUT_MS = 1000;
/** How long after the promotion the store may still fail on the frozen master's slots. */
const RECOVERY_BOUND_MS = 10_000;

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

/** Rejects when `promise` has not settled within `ms` (a connection without a command timeout never does). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Polls `attempt` (each try bounded by 1.5 s, the store's own command timeout first) until it resolves or `ms` pass. */
async function recoversWithin(ms: number, attempt: () => Promise<unknown>) {
  const started = performance.now();
  const errors = new Map<string, number>();
  while (performance.now() - started < ms) {
    try {
      await within(attempt(), 1500);
      return { recovered: true, afterMs: Math.round(performance.now() - started), errors: Object.fromEntries(errors) };
    } catch (err) {
      const message = (err as Error).message;
      errors.set(message, (errors.get(message) ?? 0) + 1);
      await sleep(100);
    }
  }
  return { recovered: false, afterMs: Math.round(performance.now() - started), errors: Object.fromEntries(errors) };
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

  it('the store, a connection duplicated from it and the job queue follow the promoted replica within seconds', async () => {
    const url = `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
    store = createRedisStore(url);
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
    const promotedAfterMs = Math.round(performance.now() - frozenAt);

    // Each from the promotion on, at the same time.
    const [viaStore, viaCopy, viaQueue] = await Promise.all([
      recoversWithin(RECOVERY_BOUND_MS, async () => {
        await store.set(key, 'after', 120_000);
        expect(await store.get(key)).toBe('after');
      }),
      recoversWithin(RECOVERY_BOUND_MS, async () => expect(await copy.get(key)).toMatch(/before|after/)),
      // One add, not a poll: a command the queue's connection sent to the frozen master waits for no timeout.
      (async () => {
        const started = performance.now();
        const added = await within(queue.add('job', {}), RECOVERY_BOUND_MS).then(
          () => true,
          () => false,
        );
        return { recovered: added, afterMs: Math.round(performance.now() - started) };
      })(),
    ]);
    // The figures for docs/resilience.md.
    console.info(`cluster master frozen: replica promoted ${promotedAfterMs} ms after the freeze; then`, {
      viaStore,
      viaCopy,
      viaQueue,
    });
    expect(viaStore).toMatchObject({ recovered: true });
    expect(viaCopy).toMatchObject({ recovered: true });
    expect(viaQueue).toMatchObject({ recovered: true });

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
