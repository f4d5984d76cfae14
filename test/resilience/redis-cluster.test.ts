/**
 * A Redis Cluster master frozen under three Kiunga processes (docs/resilience.md): three masters with a replica
 * each (`cluster-node-timeout` 1 s), Kiunga on their `redis-cluster://` URL. The master frozen owns the job
 * queue's slot (`{<prefix>:bull}`: every receipt SMS goes through it) and the kill switches' (`{switches}`, the
 * prefix is chosen so); the abuse buckets (`{abuse}`) are on another master, and sessions (spread by session
 * id) land on it a third of the time. SIGSTOP: its connections stay open and nothing answers, as a
 * frozen VM or a partition leaves them. It is frozen while transfers are in flight at Fineract; the Cluster
 * promotes its replica; from then, each process must serve whole balance sessions within RECOVERY_BOUND_MS
 * (the store's `slotsRefreshInterval` 5 s + `slotsRefreshTimeout` 1 s + margin), and a transfer confirmed on
 * each once that bound is over must be done with its receipt SMS, all while the old master is still frozen. SIGCONT is the heal (it
 * rejoins as a replica); then the invariants.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, clusterNodes, infoField, startCluster, stopAll, type RedisProcess } from '../session/helpers/redis-server.js';
import { deploy, waitReady, type Deployment, type KiungaProcess } from './cluster.js';
import { checkInvariants, verifyAuditCli } from './invariants.js';
import { nextCustomer, Traffic } from './traffic.js';
import { recordResult } from './results.js';
import { probe, receiptWithin, slowBalances, transfersDuring } from './failover-probes.js';

/** After another node reports the replica promoted, each process must serve whole sessions within this time. */
const RECOVERY_BOUND_MS = 10_000;

let nodes: RedisProcess[] = [];
let url = '';
let d: Deployment;
let traffic: Traffic;
const frozen = new Set<number>();

function resumeAll() {
  for (const pid of frozen) process.kill(pid, 'SIGCONT');
  frozen.clear();
}

/** Slot ranges of each master as `--cluster create` assigns them to three masters. */
const slotOwner = (slot: number) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2);

/**
 * A fresh key prefix whose job queue slot (`{<prefix>:bull}`) is on the master of the kill switches' slot
 * (`{switches}`), so that freezing one master takes both: the receipts and the switches' state.
 */
async function prefixBesideSwitches(port: number): Promise<string> {
  const switches = slotOwner(Number(await cli(port, 'cluster', 'keyslot', '{switches}')));
  for (;;) {
    const prefix = `kiunga-chaos-${randomBytes(4).toString('hex')}`;
    if (slotOwner(Number(await cli(port, 'cluster', 'keyslot', `{${prefix}:bull}`))) === switches) return prefix;
  }
}

beforeAll(async () => {
  ({ nodes, url } = await startCluster({ replicas: 1, nodeTimeoutMs: 1000, requireFullCoverage: false }));
  d = await deploy({ redisUrl: url, prefix: await prefixBesideSwitches(nodes[0]!.port) });
  traffic = new Traffic(() => d.kiunga);
});
afterAll(async () => {
  // A stopped process must never outlive the run stopped; resumed first, so the processes' closes finish too.
  resumeAll();
  await traffic?.close();
  await d?.stop();
  await stopAll();
});

describe('a Redis Cluster master frozen (SIGSTOP) under three processes', () => {
  it('every process follows the promoted replica within the bound, the master still frozen; then every promise kept', async () => {
    const since = traffic.mark();
    await waitReady(d.kiunga);
    const seed = nodes[0]!.port;
    const view = await clusterNodes(seed);
    const ownerOf = async (tag: string) => {
      const slot = Number(await cli(seed, 'cluster', 'keyslot', `{${tag}}`));
      return view.find((n) => n.flags.includes('master') && n.slots.some(([a, b]) => a <= slot && slot <= b))!;
    };
    const master = await ownerOf(`${d.prefix}:bull`);
    const replica = view.find((n) => n.masterId === master.id)!;
    const witness = view.find((n) => n.flags.includes('master') && n.id !== master.id)!;
    // The switches' slot by construction (prefixBesideSwitches); the abuse buckets' slot is on another master.
    const colocated = {
      bull: true,
      switches: (await ownerOf('switches')).id === master.id,
      abuse: (await ownerOf('abuse')).id === master.id,
    };
    // What Kiunga wrote so far (the seeded PINs among them) is on the replica before its master freezes.
    const written = Number(await infoField(master.port, 'replication', 'master_repl_offset'));
    await expect
      .poll(async () => Number(await infoField(replica.port, 'replication', 'slave_repl_offset')), { timeout: 5000 })
      .toBeGreaterThanOrEqual(written);
    const pid = Number(await infoField(master.port, 'server', 'process_id'));

    // Four customers confirm with Fineract's writes held 1 s; the master is frozen 400 ms later, and three
    // balance sessions (pauses between hops) span the failover.
    let frozenAt = 0;
    let promotedAt = 0;
    const freeze = async () => {
      frozen.add(pid);
      process.kill(pid, 'SIGSTOP');
      frozenAt = performance.now();
      await expect
        .poll(async () => (await clusterNodes(witness.port)).find((n) => n.id === replica.id)?.flags.includes('master'), {
          timeout: 20_000,
          interval: 100,
        })
        .toBe(true);
      promotedAt = performance.now();
    };
    await Promise.all([transfersDuring(traffic, d, 4, freeze), slowBalances(traffic, 3, 900)]);

    // Promoted; the old master is still frozen. Every process serves whole sessions again.
    const probes = await Promise.all(d.kiunga.map((k) => probe(traffic, k, promotedAt, RECOVERY_BOUND_MS + 5000)));
    // A transfer on each process, and its receipt from the job queue (whose slot was on the frozen master).
    const transferOn = async (k: KiungaProcess) => {
      const from = nextCustomer();
      const intent = await traffic.transfer(from, from + 100, { redials: 0, confirm: (send) => send(k) });
      const reply = intent.replies.at(-1) ?? '';
      const sms = /^END Done/.test(reply) && (await receiptWithin(traffic, from, intent.amountCents, RECOVERY_BOUND_MS));
      return { proc: k.name, reply: reply.slice(0, 60), sms };
    };
    // At once: within the bound, a process whose slot map still names the frozen master may hold the confirming
    // hop past the deadline ("being processed", the SMS later); only kept by the invariants, not required whole.
    const early = await Promise.all(d.kiunga.map(transferOn));
    // Past the bound, still frozen: each must be done whole, with its receipt.
    await sleep(Math.max(0, promotedAt + RECOVERY_BOUND_MS - performance.now()));
    const transfers = await Promise.all(d.kiunga.map(transferOn));
    const receiptsAt = Math.round(performance.now() - promotedAt);
    const stillFrozen = frozen.has(pid);

    // The heal: the old master wakes up, learns it was failed over and follows the new one as its replica.
    resumeAll();
    const healedAt = performance.now();
    await expect.poll(() => infoField(master.port, 'replication', 'role'), { timeout: 10_000 }).toBe('slave');
    await waitReady(d.kiunga);
    const after = await Promise.all([0, 1].map(() => traffic.transfer(nextCustomer(), 150)));
    expect(after.map((i) => i.replies.at(-1))).toEqual([expect.stringMatching(/^END Done: /), expect.stringMatching(/^END Done: /)]);

    const report = await checkInvariants(d, traffic, { since, settleMs: 45_000 });
    const served = probes.map((p) => p.servedAfterMs ?? Infinity);
    const figures = {
      promotedAfterFreezeMs: Math.round(promotedAt - frozenAt),
      slowestServedAfterPromotionMs: Math.max(...served),
      earlyTransfersWhole: early.filter((t) => t.sms).length,
      receiptsAfterPromotionMs: receiptsAt,
      frozenMs: Math.round(healedAt - frozenAt),
      switchesOnFrozenMaster: Number(colocated.switches),
      abuseOnFrozenMaster: Number(colocated.abuse),
    };
    recordResult('Redis Cluster master frozen (SIGSTOP)', report, figures);
    console.info('cluster master frozen:', { ...figures, probes, early, transfers });
    if ([...early, ...transfers].some((t) => !t.sms))
      // What the processes said while the old master was frozen: why a transfer was not done whole.
      for (const k of d.kiunga) console.info(k.name, k.lines.filter((l) => /"level":(40|50|60)/.test(l)).join('\n'));
    for (const p of probes) expect(p.servedAfterMs ?? Infinity, JSON.stringify(p)).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    for (const t of transfers) expect(t).toEqual({ proc: t.proc, reply: expect.stringMatching(/^END Done/), sms: true });
    expect(stillFrozen).toBe(true);
    expect(colocated.switches).toBe(true);
    expect(report.violations).toEqual([]);
  });

  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
