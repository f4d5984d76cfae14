/**
 * A network partition between one Kiunga process and Redis that outlasts a job's lock (docs/resilience.md),
 * while that process's job worker resolves a transfer. Every Kiunga process reaches Redis through a TCP proxy
 * of its own (tcp-proxy.ts), since which worker takes the job is known only once it runs (bullmq's
 * `processedBy`); the proxy of that process is black-holed while the job's lookup is at Fineract, for longer
 * than the lock (JOB_LOCK_MS) and the next stalled-job check (STALLED_CHECK_MS). Another process's worker must
 * take the job and the customer get one SMS; healed, the cut-off process must send no second SMS, double no
 * record, and serve again by itself. Then the invariants.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_LOCK_MS, STALLED_CHECK_MS } from '../../src/jobs/queue.js';
import { SYNTHETIC_PIN } from '../../src/sandbox/synthetic.js';
import { REDIS_URL } from '../helpers/server.js';
import { deploy, readyz, waitReady, HOP_DEADLINE_MS, type Deployment, type KiungaProcess } from './cluster.js';
import { auditEntries, checkInvariants, verifyAuditCli } from './invariants.js';
import { accountOf, kes, msisdnOf, nextCustomer, Traffic } from './traffic.js';
import { recordResult } from './results.js';
import { resolutionRunning } from './resolution.js';
import { startRedisProxy, type TcpProxy } from './tcp-proxy.js';

/**
 * When the customer's SMS must have come, from the cut: the job's lock lasts at most JOB_LOCK_MS from its last
 * renewal (before the cut, its holder renewing nothing since); the next stalled-job check of another process's
 * worker, at most STALLED_CHECK_MS later, moves it back to wait (bullmq moves a job at the first check that
 * finds it without its lock and already marked as possibly stalled by an earlier check); then a worker runs it
 * (its lookup, each Fineract answer 1.2 s late, then the receipt's SMS job: about 3.7 s). 6 s for that and for
 * this test's polling on a loaded 2-core machine: the SMS comes 11.5 to 13.9 s after the cut when the checks
 * fall early, 18.6 to 18.7 s when they fall late (four runs).
 */
const SMS_BOUND_MS = JOB_LOCK_MS + STALLED_CHECK_MS + 6000;
/** The partition lasts at least this long (and until the SMS came): past the lock, a stalled check, the new run. */
const PARTITION_MS = JOB_LOCK_MS + STALLED_CHECK_MS + 6000;

const proxies = new Map<KiungaProcess, TcpProxy>();
let d: Deployment;
let traffic: Traffic;

beforeAll(async () => {
  // Each process reaches Redis through its own proxy; the tests and the sandbox reach it directly.
  d = await deploy({
    redisUrl: REDIS_URL,
    prepare: async (kiunga) => {
      for (const k of kiunga) {
        const proxy = await startRedisProxy(REDIS_URL);
        proxies.set(k, proxy);
        k.setEnv({ REDIS_URL: proxy.url });
      }
    },
  });
  traffic = new Traffic(() => d.kiunga);
});
afterAll(async () => {
  for (const proxy of proxies.values()) proxy.heal();
  await traffic?.close();
  await d?.stop();
  for (const proxy of proxies.values()) await proxy.close();
});

/** Waits until the sandbox holds a request of the resolution's lookup (the account's search) unanswered. */
async function lookupInFlight(account: number, since: number, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    const held = (await d.sandbox.requests()).find(
      (r) => r.method === 'GET' && r.path.includes(`/savingsaccounts/${account}`) && r.status === undefined && r.at >= since,
    );
    if (held) return;
    await sleep(20);
  }
  throw new Error(`the resolution's lookup of account ${account} was not seen at the sandbox within ${timeoutMs} ms`);
}

describe('a network partition between one Kiunga process and Redis, longer than a job lock', () => {
  it('while its worker resolves a transfer: another worker takes the job, one SMS; healed: nothing twice, serves again', async () => {
    const since = traffic.mark();
    await waitReady(d.kiunga);
    for (const proxy of proxies.values()) expect(proxy.connections).toBeGreaterThan(0);

    const from = nextCustomer();
    const { intent, jobs, running, worker: victim } = await resolutionRunning(d, traffic, from);
    const takenAt = Date.now();
    try {
      const proxy = proxies.get(victim)!;
      const generation = victim.generation;
      // Cut while the lookup is at Fineract: its answer comes back to a process that cannot reach Redis.
      await lookupInFlight(accountOf(from), takenAt - 1000, 1000);
      await traffic.collectSms();
      proxy.blackhole();
      const cutAt = performance.now();
      await d.sandbox.control({ reset: true });

      // Cut off: not ready, a dial on it ends politely; the load balancer takes it out of rotation and the
      // two others serve sessions, a transfer included.
      const unready = await readyz(victim);
      expect({ status: unready.status, store: unready.body.store }).toEqual({ status: 503, store: 'unavailable' });
      const dial = await traffic.session(nextCustomer()).send(undefined, victim);
      expect(dial.body).toMatch(/^END /);
      traffic.outOfRotation.add(victim);
      const during = await Promise.all([
        traffic.balance(nextCustomer()),
        traffic.balance(nextCustomer()),
        (async () => {
          const other = nextCustomer();
          return (await traffic.transfer(other, other + 100, { redials: 0 })).replies.join(' | ');
        })(),
      ]);
      for (const answer of during) expect(answer).toMatch(/^END (Balance|Done)/);

      // The SMS from another process's worker, once the lock expired and a stalled check handed the job over.
      const amount = kes(intent.amountCents);
      const about = (to: number) => [...traffic.sms.values()].filter((m) => m.to === msisdnOf(to) && m.text.includes(amount));
      while (about(from).length === 0 && performance.now() - cutAt < SMS_BOUND_MS + 10_000) {
        await sleep(250);
        await traffic.collectSms();
      }
      const smsAfterMs = Math.round(performance.now() - cutAt);
      const stillCut = await readyz(victim);
      expect(stillCut.status).toBe(503);
      await sleep(Math.max(0, PARTITION_MS - (performance.now() - cutAt)));

      // Healed: what the cut-off process held (its lookup's settle, the job's failure, lock renewals) reaches
      // Redis late; it must be ready again by itself and serve a whole session and a transfer on its own.
      proxy.heal();
      const healedAt = performance.now();
      const partitionMs = Math.round(healedAt - cutAt);
      await waitReady([victim], 20_000);
      const readyAfterMs = Math.round(performance.now() - healedAt);
      traffic.outOfRotation.delete(victim);
      const own = traffic.session(nextCustomer());
      let last = '';
      for (const input of [undefined, SYNTHETIC_PIN, '1']) last = (await own.send(input, victim)).body ?? '';
      expect(last).toMatch(/^END Balance/);
      const next = nextCustomer();
      const after = await traffic.transfer(next, next + 100, { redials: 0, confirm: (send) => send(victim) });
      expect(after.replies.join(' | ')).toMatch(/^END Done/);
      // A stalled-job check's interval after the healing, for anything the late commands would set going.
      await sleep(Math.max(0, STALLED_CHECK_MS - (performance.now() - healedAt)));

      const report = await checkInvariants(d, traffic, { since, settleMs: 45_000 });
      await traffic.collectSms();
      expect(report.violations).toEqual([]);
      expect(report.maxServerMs).toBeLessThanOrEqual(HOP_DEADLINE_MS);

      const done = await jobs.job(running.id);
      const moved = (await d.sandbox.ledger()).filter((t) => t.fromAccountId === accountOf(from) && t.amountCents === intent.amountCents);
      const ref = moved[0]?.description.split(' ').at(-1);
      const audited = (await auditEntries(d))
        .filter((e) => ref !== undefined && e.data?.ref === ref)
        .map((e) => (e.type === 'money.outcome' ? `${e.type} ${String(e.data?.status)}` : e.type));
      expect({
        moved: moved.length,
        sender: about(from).map((m) => m.text.slice(0, 9)),
        recipient: about(from + 100).map((m) => m.text.slice(0, 12)),
        fromTheCutOffProcess: [...about(from), ...about(from + 100)].filter((m) => m.key.startsWith(`${victim.name}#`)).length,
        audited: audited.sort(),
        takenAgainAfterStall: done.stalledCounter,
        by: done.processedBy === running.processedBy ? 'the cut-off worker' : 'another worker',
        state: done.state,
        cutOffProcess: { alive: victim.alive, restarted: victim.generation !== generation },
      }).toEqual({
        moved: 1,
        sender: ['You sent '],
        recipient: ['You received'],
        fromTheCutOffProcess: 0,
        audited: ['money.attempt', 'money.outcome done', 'money.outcome processing'],
        takenAgainAfterStall: 1,
        by: 'another worker',
        state: 'completed',
        cutOffProcess: { alive: true, restarted: false },
      });
      expect(partitionMs).toBeGreaterThan(JOB_LOCK_MS + STALLED_CHECK_MS);
      expect(smsAfterMs).toBeLessThan(SMS_BOUND_MS);
      recordResult('network partition longer than the job lock while its worker resolves a transfer', report, {
        partitionMs,
        smsAfterCutMs: smsAfterMs,
        boundMs: SMS_BOUND_MS,
        readyzWhileCutMs: Math.round(unready.ms),
        readyAfterHealMs: readyAfterMs,
      });
    } finally {
      await jobs.close();
    }
  });

  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
