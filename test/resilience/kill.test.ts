/**
 * A Kiunga process SIGKILLed under load (docs/resilience.md): mid-hop (reads in flight at Fineract),
 * mid-transfer (the transfer's POST in flight), and while its job worker resolves a transfer (the job left
 * active in Redis, taken again by another process's worker once its lock expires), while the sessions carry
 * on on the two other processes; the killed process is then started again, as a supervisor would. A hop that
 * died with its process is sent again to another one, as the aggregator retries. And between two keypresses of
 * a voice call-back: AT's next request reaches another process, which carries the call on.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_LOCK_MS, STALLED_CHECK_MS } from '../../src/jobs/queue.js';
import { SYNTHETIC_PIN } from '../../src/sandbox/synthetic.js';
import { REDIS_URL } from '../helpers/server.js';
import { atCall, atPost } from '../voice/helpers.js';
import { deploy, waitReady, type Deployment, type KiungaProcess } from './cluster.js';
import { checkInvariants, verifyAuditCli } from './invariants.js';
import { barrier, kes, msisdnOf, nextCustomer, Traffic } from './traffic.js';
import { recordResult } from './results.js';
import { resolutionRunning } from './resolution.js';

let d: Deployment;
let traffic: Traffic;

beforeAll(async () => {
  d = await deploy({ redisUrl: REDIS_URL });
  traffic = new Traffic(() => d.kiunga);
});
afterAll(async () => {
  await traffic?.close();
  await d?.stop();
});

/** SIGKILL after `afterMs`, keeping the SMS it sent so far (its outbox dies with it), then start it again. */
async function killAndRestart(proc: KiungaProcess, afterMs: number, downMs = 1500): Promise<void> {
  await sleep(afterMs);
  await traffic.collectSms();
  await proc.kill('SIGKILL');
  await sleep(downMs);
  await proc.start();
}

async function invariants(scenario: string, since: { intents: number; hops: number }) {
  await d.sandbox.control({ reset: true });
  const report = await checkInvariants(d, traffic, { since, settleMs: 45_000 });
  recordResult(scenario, report);
  expect(report.violations).toEqual([]);
  return report;
}

/** Where AT's voice requests go: the load balancer's choice of process, set by the scenario before each one. */
const balancer = { url: '' };

/** The ids of the calls placed to `msisdn` by every process running (each sandbox dialer keeps its own). */
async function callsTo(msisdn: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const k of d.kiunga) {
    const res = await fetch(`${k.url}/sandbox/calls?to=${encodeURIComponent(msisdn)}`).catch(() => undefined);
    if (res?.ok) for (const c of (await res.json()) as { id: string }[]) ids.add(c.id);
  }
  return ids;
}

/**
 * A missed call from `msisdn` to `proc` (AT's inbound request, answered `<Reject/>`), the call-back a worker
 * places (after CALLBACK_DELAY_MS, on whichever process), and its answer on `proc`: the PIN prompt. The call's
 * later requests go wherever `balancer` points.
 */
async function voiceCallBack(proc: KiungaProcess, msisdn: string) {
  const before = await callsTo(msisdn);
  balancer.url = proc.url;
  const missed = await atPost(balancer, {
    sessionId: `ATVId_in_${randomBytes(4).toString('hex')}`,
    direction: 'Inbound',
    isActive: '1',
    callerNumber: msisdn,
    destinationNumber: '+254711082000',
  });
  expect(missed).toMatchObject({ status: 200, body: expect.stringContaining('<Reject/>') });
  let id: string | undefined;
  for (let i = 0; i < 100 && id === undefined; i++) {
    await sleep(150);
    id = [...(await callsTo(msisdn))].find((c) => !before.has(c));
  }
  if (!id) throw new Error(`no call-back placed to ${msisdn} within 15 s`);
  const call = atCall(balancer, msisdn, id);
  const answered = await call.answer();
  expect(answered.status).toBe(200);
  return { ...call, id, prompt: answered.body.includes('<GetDigits') };
}

describe('a Kiunga process killed', () => {
  it('mid-hop: reads in flight at Fineract when the process dies', async () => {
    const since = traffic.mark();
    await d.sandbox.control({ latencyMs: 600 });
    const victim = d.kiunga[0]!;
    const killed = killAndRestart(victim, 1500);
    await Promise.all([
      ...Array.from({ length: 6 }, () => traffic.balance(nextCustomer())),
      ...Array.from({ length: 3 }, () => {
        const from = nextCustomer();
        return traffic.transfer(from, from + 100);
      }),
    ]);
    await killed;
    await d.sandbox.control({ reset: true });
    await waitReady(d.kiunga);
    const report = await invariants('Kiunga SIGKILLed mid-hop', since);
    expect(report.hopsKilled).toBeGreaterThan(0);
  });

  it('mid-transfer: the POST in flight at Fineract when the process dies', async () => {
    const since = traffic.mark();
    const n = 6;
    const victim = d.kiunga[1]!;
    let killed: Promise<void> = Promise.resolve();
    const beforeConfirm = barrier(n, async () => {
      await d.sandbox.control({ writeLatencyMs: 1200 });
      killed = killAndRestart(victim, 500);
    });
    await Promise.all(
      Array.from({ length: n }, (_, k) => {
        const from = nextCustomer();
        // Half the customers confirm on the process about to die, the others on the survivors.
        return traffic.transfer(from, from + 100, { beforeConfirm, confirm: (send) => send(k % 2 === 0 ? victim : traffic.pick(victim)) });
      }),
    );
    await killed;
    await waitReady(d.kiunga);
    const report = await invariants('Kiunga SIGKILLed mid-transfer', since);
    expect(report.hopsKilled).toBeGreaterThan(0);
  });

  it('while its worker resolves a transfer: another worker takes the job once its lock expires, one SMS', async () => {
    const since = traffic.mark();
    const from = nextCustomer();
    const { intent, jobs, running, worker: victim } = await resolutionRunning(d, traffic, from);
    try {
      await traffic.collectSms();
      await victim.kill('SIGKILL');
      const killedAt = performance.now();
      await d.sandbox.control({ reset: true });
      const restarted = sleep(1500).then(() => victim.start());
      // The job's lock lasts JOB_LOCK_MS from its last renewal (at most that long after the death); the next
      // stalled-job check, at most STALLED_CHECK_MS later, moves it back to wait; then a worker runs it (one
      // lookup, the receipt's SMS job). 3 s for those and for this loop's reads on a loaded 2-core machine.
      const bound = JOB_LOCK_MS + STALLED_CHECK_MS + 3000;
      const sent = () => [...traffic.sms.values()].filter((m) => m.to === msisdnOf(from) && m.text.includes(kes(intent.amountCents)));
      while (sent().length === 0 && performance.now() - killedAt < bound + 10_000) {
        await sleep(250);
        await traffic.collectSms();
      }
      const smsAfterMs = Math.round(performance.now() - killedAt);
      await restarted;
      await waitReady(d.kiunga);
      const report = await checkInvariants(d, traffic, { since, settleMs: 45_000 });
      expect(report.violations).toEqual([]);
      const done = await jobs.job(running.id);
      expect({
        sms: sent().map((m) => m.text.slice(0, 9)),
        takenAgainAfterStall: done.stalledCounter,
        by: done.processedBy === running.processedBy ? 'the dead worker' : 'another worker',
        state: done.state,
      }).toEqual({ sms: ['You sent '], takenAgainAfterStall: 1, by: 'another worker', state: 'completed' });
      expect(smsAfterMs).toBeLessThan(bound);
      expect(report.done).toBe(1);
      recordResult('Kiunga SIGKILLed while its worker resolves a transfer', report, { smsAfterKillMs: smsAfterMs, boundMs: bound });
    } finally {
      await jobs.close();
    }
  });

  it('mid-call: a voice call-back carries on on another process; a call its process took down ends, and the next is placed', async () => {
    const since = traffic.mark();
    // The first call: missed call and answer on kiunga-1, which dies after the PIN; the balance key and the
    // call's end reach the two others, as AT's requests would through the load balancer.
    const first = msisdnOf(nextCustomer());
    const [one, two, three] = d.kiunga as [KiungaProcess, KiungaProcess, KiungaProcess];
    const call = await voiceCallBack(one, first);
    const pin = await call.press(SYNTHETIC_PIN);
    await one.kill('SIGKILL');
    balancer.url = two.url;
    const balance = await call.press('1');
    balancer.url = three.url;
    const ended = await call.end();
    await one.start();

    // The second call: answered on kiunga-2, which dies before the PIN; AT can only end the call (its request
    // reaches kiunga-3). The number asks again: the call-back is placed once more.
    const second = msisdnOf(nextCustomer());
    const cut = await voiceCallBack(two, second);
    await two.kill('SIGKILL');
    balancer.url = three.url;
    const cutEnded = await cut.end();
    await two.start();
    await waitReady(d.kiunga);
    const again = await voiceCallBack(three, second);

    expect({
      answered: call.prompt,
      pin: pin.body.includes('<GetDigits'),
      balance: /<Say[^>]*>[^<]*Balance/.test(balance.body),
      ended: ended.status,
      cutEnded: cutEnded.status,
      placedAgain: again.id !== cut.id && again.prompt,
    }).toEqual({ answered: true, pin: true, balance: true, ended: 200, cutEnded: 200, placedAgain: true });
    await invariants('Kiunga SIGKILLed mid-call (voice call-back)', since);
  });

  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
