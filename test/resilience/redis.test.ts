/**
 * Redis going away under three Kiunga processes (docs/resilience.md): restarted mid-session (SIGKILL, then
 * the same server again with its append-only file, as a production Redis keeps its data), and failing
 * over behind Sentinel (master SIGKILLed; three Sentinels promote the replica; Kiunga follows through its
 * redis-sentinel:// URL). Transfers are in flight at Fineract when Redis dies; then the invariants.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startRedis, stopAll, type RedisProcess } from '../session/helpers/redis-server.js';
import { deploy, waitReady, type Deployment } from './cluster.js';
import { checkInvariants, verifyAuditCli } from './invariants.js';
import { nextCustomer, Traffic } from './traffic.js';
import { recordResult } from './results.js';
import { slowBalances, transfersDuring } from './failover-probes.js';
import { startSentinels, waitForMaster, type Sentinels } from './sentinels.js';

/** Every write on disk before it is acknowledged: a restart loses nothing Kiunga was told was written. */
const PERSISTENT = ['--appendonly', 'yes', '--appendfsync', 'always'];

afterAll(stopAll);

async function invariants(d: Deployment, traffic: Traffic, scenario: string, since: { intents: number; hops: number }) {
  const report = await checkInvariants(d, traffic, { since, settleMs: 45_000 });
  recordResult(scenario, report);
  expect(report.violations).toEqual([]);
  return report;
}

describe('Redis restarted mid-session', () => {
  let redis: RedisProcess;
  let d: Deployment;
  let traffic: Traffic;
  beforeAll(async () => {
    redis = await startRedis({ extra: PERSISTENT });
    d = await deploy({ redisUrl: redis.url });
    traffic = new Traffic(() => d.kiunga);
  });
  afterAll(async () => {
    await traffic?.close();
    await d?.stop();
  });

  it('keeps every promise while Redis is killed and started again', async () => {
    const since = traffic.mark();
    const restart = async () => {
      await redis.kill();
      await sleep(1500);
      await redis.restart();
    };
    await Promise.all([transfersDuring(traffic, d, 4, restart), slowBalances(traffic, 3, 700)]);
    // Back to normal: new sessions are served in full again.
    await waitReady(d.kiunga);
    const after = await Promise.all([0, 1].map(() => traffic.transfer(nextCustomer(), 150)));
    expect(after.map((i) => i.replies.at(-1))).toEqual([expect.stringMatching(/^END Done: /), expect.stringMatching(/^END Done: /)]);
    await invariants(d, traffic, 'Redis restarted mid-session (SIGKILL, AOF)', since);
  });

  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});

describe('Redis failing over behind Sentinel', () => {
  let cluster: Sentinels;
  let d: Deployment;
  let traffic: Traffic;
  beforeAll(async () => {
    cluster = await startSentinels('kiunga-chaos');
    d = await deploy({ redisUrl: cluster.url });
    // The seeded PINs are on the replica before the master can fail.
    await cli(cluster.master.port, 'wait', '1', '5000');
    traffic = new Traffic(() => d.kiunga);
  });
  afterAll(async () => {
    await traffic?.close();
    await d?.stop();
  });

  it('keeps every promise while the master is killed and the replica promoted', async () => {
    const since = traffic.mark();
    const failover = async () => {
      await cluster.master.kill();
      await waitForMaster(cluster, cluster.replica.port);
    };
    await Promise.all([transfersDuring(traffic, d, 4, failover), slowBalances(traffic, 3, 900)]);
    await waitReady(d.kiunga);
    const after = await Promise.all([0, 1].map(() => traffic.transfer(nextCustomer(), 150)));
    expect(after.map((i) => i.replies.at(-1))).toEqual([expect.stringMatching(/^END Done: /), expect.stringMatching(/^END Done: /)]);
    await invariants(d, traffic, 'Redis failing over behind Sentinel (master SIGKILL)', since);
  });

  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
