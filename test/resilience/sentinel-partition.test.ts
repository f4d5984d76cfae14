/**
 * A Redis master cut off by a network partition behind Sentinel, alive (docs/resilience.md): the master is
 * reachable only through a TCP proxy (sentinels.ts, `behindProxy`) for the Sentinels, the replica and the
 * three Kiunga processes. The proxy is black-holed while transfers are in flight at Fineract; the Sentinels
 * promote the replica. Unlike a killed master, a black-holed one closes nothing: a client that waits for its
 * connection to drop keeps it, and with it the old master, for as long as TCP takes to give up (minutes). Each
 * process must serve whole balance sessions within SWITCH_BOUND_MS of the switch, and a transfer's receipt
 * (queued and sent by the job queue's connections) must come, all before the partition heals. Healed, the
 * Sentinels turn the old master into a replica; then the invariants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, stopAll } from '../session/helpers/redis-server.js';
import { deploy, waitReady, type Deployment } from './cluster.js';
import { checkInvariants, verifyAuditCli } from './invariants.js';
import { nextCustomer, Traffic } from './traffic.js';
import { recordResult } from './results.js';
import { probe, receiptWithin, slowBalances, transfersDuring } from './failover-probes.js';
import { startSentinels, waitForMaster, type Sentinels } from './sentinels.js';

/** After a Sentinel names the new master, each process must serve whole sessions within this time. */
const SWITCH_BOUND_MS = 5000;
/** How long after the switch the scenario keeps probing (and the partition lasts, at most) before healing. */
const PROBE_LIMIT_MS = 15_000;

let cluster: Sentinels;
let d: Deployment;
let traffic: Traffic;

beforeAll(async () => {
  cluster = await startSentinels('kiunga-cut', { behindProxy: true });
  d = await deploy({ redisUrl: cluster.url });
  // The seeded PINs are on the replica before the master is cut off.
  await cli(cluster.master.port, 'wait', '1', '5000');
  traffic = new Traffic(() => d.kiunga);
});
afterAll(async () => {
  cluster?.proxy?.heal();
  await traffic?.close();
  await d?.stop();
  await cluster?.proxy?.close();
  await stopAll();
});

describe('a Redis master cut off (not killed) behind Sentinel', () => {
  it('every process follows the failover within the bound, before the partition heals; then every promise kept', async () => {
    const since = traffic.mark();
    await waitReady(d.kiunga);
    const proxy = cluster.proxy!;
    expect(proxy.connections).toBeGreaterThan(0);
    // Connections to one Sentinel (its peers', the replica's and every Kiunga client's failover detector).
    const sentinelClients = /connected_clients:(\d+)/.exec(await cli(cluster.sentinels[0]!.port, 'info', 'clients'))?.[1];

    // Four customers confirm with Fineract's writes held 1 s; the master is cut off 400 ms later, and three
    // balance sessions (pauses between hops) span the failover.
    let cutAt = 0;
    let switchAt = 0;
    const cutOff = async () => {
      proxy.blackhole();
      cutAt = performance.now();
      await waitForMaster(cluster, cluster.replica.port);
      switchAt = performance.now();
    };
    await Promise.all([transfersDuring(traffic, d, 4, cutOff), slowBalances(traffic, 3, 900)]);
    expect(proxy.partitioned).toBe(true);

    // The switch is done; the old master is alive and still cut off. Every process serves whole sessions again.
    const probes = await Promise.all(d.kiunga.map((k) => probe(traffic, k, switchAt, PROBE_LIMIT_MS)));
    // A transfer on each process, and its receipt from the job queue (queued and sent over bullmq's connections).
    const transfers = await Promise.all(
      d.kiunga.map(async (k) => {
        const from = nextCustomer();
        const intent = await traffic.transfer(from, from + 100, { redials: 0, confirm: (send) => send(k) });
        const reply = intent.replies.at(-1) ?? '';
        const sms = /^END Done/.test(reply) && (await receiptWithin(traffic, from, intent.amountCents, SWITCH_BOUND_MS));
        return { proc: k.name, reply: reply.slice(0, 60), sms };
      }),
    );
    const stillCut = proxy.partitioned;
    const receiptsAt = Math.round(performance.now() - switchAt);

    // Healed: the Sentinels make the old master a replica of the new one (and close its clients).
    proxy.heal();
    const healedAt = performance.now();
    await waitReady(d.kiunga);
    const after = await Promise.all([0, 1].map(() => traffic.transfer(nextCustomer(), 150)));
    expect(after.map((i) => i.replies.at(-1))).toEqual([expect.stringMatching(/^END Done: /), expect.stringMatching(/^END Done: /)]);

    const report = await checkInvariants(d, traffic, { since, settleMs: 45_000 });
    const served = probes.map((p) => p.servedAfterMs ?? Infinity);
    recordResult('Redis master cut off (not killed) behind Sentinel', report, {
      failoverMs: Math.round(switchAt - cutAt),
      slowestServedAfterSwitchMs: Math.max(...served),
      receiptsAfterSwitchMs: receiptsAt,
      partitionMs: Math.round(healedAt - cutAt),
      sentinelClients: Number(sentinelClients),
    });
    // The point of the scenario first: served within the bound after the switch, on every process, still cut off.
    for (const p of probes) expect(p.servedAfterMs ?? Infinity, JSON.stringify(p)).toBeLessThanOrEqual(SWITCH_BOUND_MS);
    for (const t of transfers) expect(t).toEqual({ proc: t.proc, reply: expect.stringMatching(/^END Done/), sms: true });
    expect(stillCut).toBe(true);
    expect(report.violations).toEqual([]);
  });

  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
