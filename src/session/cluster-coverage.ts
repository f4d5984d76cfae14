import type { Cluster } from 'ioredis';
import type { Logger } from '../logger.js';

/**
 * Warns when a Redis Cluster stops serving every slot while one master is failed.
 *
 * With `cluster-require-full-coverage yes` (Redis's default), a node that sees any slot without a working
 * master sets its cluster state to `fail` and answers `CLUSTERDOWN` to every command, whichever slot it asks
 * for. When a master fails, that lasts from the moment it is marked failed until its replica wins the election
 * (0.85 s measured with `cluster-node-timeout` 1 s and a replica per master: ioredis retries a CLUSTERDOWN
 * every 100 ms, so a command either rides it out or reaches its 1 s timeout), and for as long as no replica can
 * take over (`test/session/redis-cluster-coverage.test.ts`: a master dies with no replica). Kiunga's keys are
 * spread over every master (sessions by their id; the job queue, the kill switches, each limiter in a slot of
 * its own), so during that time every hop fails, not only those whose keys were on the failed master. Every multi-key operation of Kiunga stays in one slot, so
 * nothing needs the whole key space at once: with `cluster-require-full-coverage no` the other masters keep
 * serving their slots (docs/deployment.md, §3).
 *
 * The setting is read with `CONFIG GET` on each master once the store is connected. Managed services often
 * refuse `CONFIG`: then nothing can be known and nothing is said.
 */
export async function checkClusterCoverage(client: Cluster, logger: Logger | undefined): Promise<string[]> {
  const strict: string[] = [];
  await Promise.all(
    client.nodes('master').map(async (node) => {
      try {
        const reply = (await node.config('GET', 'cluster-require-full-coverage')) as unknown;
        if (Array.isArray(reply) && reply[1] === 'yes') strict.push(`${node.options.host ?? ''}:${node.options.port ?? ''}`);
      } catch {
        // CONFIG refused or the node unreachable: nothing to say about it.
      }
    }),
  );
  if (strict.length > 0)
    logger?.warn(
      { nodes: strict.sort() },
      'redis cluster answers CLUSTERDOWN on every slot while one master is failed (cluster-require-full-coverage yes): set it to no',
    );
  return strict;
}
