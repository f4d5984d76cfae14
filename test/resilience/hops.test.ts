/**
 * What aggregators and clocks do to hops (docs/resilience.md): the same hop twice at once on two processes,
 * the confirming hop on all three processes at once beside other hops of the session, session ids reused
 * (by the same number after the end, by another number meanwhile), and the wall clock of one process
 * stepped forwards and back by 20 minutes while sessions run across it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../helpers/server.js';
import { deploy, waitReady, type Deployment } from './cluster.js';
import { checkInvariants, verifyAuditCli } from './invariants.js';
import { msisdnOf, nextCustomer, Traffic } from './traffic.js';
import { dumpHops, recordResult } from './results.js';

let d: Deployment;
let traffic: Traffic;

beforeAll(async () => {
  // The third process's wall clock can be stepped while it runs (clock-offset.mjs).
  d = await deploy({ redisUrl: REDIS_URL, prepare: (kiunga) => kiunga[2]!.useSteppableClock() });
  traffic = new Traffic(() => d.kiunga);
});
afterAll(async () => {
  await traffic?.close();
  await d?.stop();
});

async function invariants(scenario: string, since: { intents: number; hops: number }) {
  const report = await checkInvariants(d, traffic, { since });
  recordResult(scenario, report);
  expect(report.violations).toEqual([]);
  return report;
}

describe('hops as aggregators send them', () => {
  it('duplicates: every hop sent twice, the confirming one twice at once on two processes', async () => {
    const since = traffic.mark();
    const [a, b, c] = d.kiunga;
    const intents = await Promise.all(
      Array.from({ length: 4 }, () => {
        const from = nextCustomer();
        return traffic.transfer(from, from + 100, { confirm: (send) => Promise.all([send(a), send(b)]) });
      }),
    );
    // A balance session whose every hop is repeated (the aggregator's retry) on another process.
    const s = traffic.session(nextCustomer());
    for (const input of [undefined, '4321', '1']) {
      const first = await s.send(input, a);
      expect((await s.resend(c)).body).toBe(first.body);
    }
    // Both answers of one confirmation say the same thing.
    for (const i of intents) expect(new Set(i.replies).size).toBe(1);
    await invariants('duplicate hops (each hop twice, on two processes)', since);
  });

  it('concurrent: the confirming hop on all three processes at once, and two different hops of one session at once', async () => {
    const since = traffic.mark();
    await Promise.all(
      Array.from({ length: 4 }, () => {
        const from = nextCustomer();
        return traffic.transfer(from, from + 100, { confirm: (send) => Promise.all(d.kiunga.map((p) => send(p))) });
      }),
    );
    // Balance and mini statement of one session typed at once (a customer's double key press).
    for (let k = 0; k < 3; k++) {
      const s = traffic.session(nextCustomer());
      await s.send();
      await s.send('4321');
      await Promise.all([traffic.hop(s.sessionId, s.msisdn, `${s.text}*1`), traffic.hop(s.sessionId, s.msisdn, `${s.text}*2`)]);
    }
    await invariants('concurrent hops (one confirmation on three processes; two keys at once)', since);
  });

  it('session ids reused: by the same number after the end, and by another number meanwhile', async () => {
    const since = traffic.mark();
    const from = nextCustomer();
    const first = await traffic.transfer(from, from + 100);
    expect(first.replies.at(-1)).toMatch(/^END Done: /);
    // The same id and number dial again and repeat every text of the ended session: nothing moves again.
    const again = traffic.session(from, first.sessionId);
    const texts = traffic.hops.filter((h) => h.sessionId === first.sessionId && h.body).map((h) => h.text);
    for (const text of [...new Set(texts)]) {
      const r = await traffic.hop(again.sessionId, again.msisdn, text);
      expect(r.status).toBe(200);
    }
    // Another number on a session id in use: answered politely, the owner's session carries on.
    const owner = nextCustomer();
    const intruder = nextCustomer();
    const s = traffic.session(owner);
    await s.send();
    await s.send('4321');
    const stolen = await traffic.hop(s.sessionId, msisdnOf(intruder), '');
    expect(stolen.body).toMatch(/^END /);
    expect((await s.send('1')).body).toMatch(/^END .*Balance|^END /);
    await invariants('session ids reused (same number after END; another number meanwhile)', since);
  });

  it('clock steps: one process 20 minutes ahead, then 20 minutes behind, while sessions cross it', async () => {
    const since = traffic.mark();
    const stepped = d.kiunga[2]!;
    const wave = () =>
      Promise.all(
        Array.from({ length: 4 }, () => {
          const from = nextCustomer();
          return traffic.transfer(from, from + 100, { redials: 0 });
        }),
      );
    // Beside the invariants: once every clock is right again, the service is back on every process.
    const resumed: string[] = [];
    for (const offset of [20 * 60_000, -20 * 60_000]) {
      const steps = (async () => {
        await sleep(300);
        await stepped.stepClock(offset);
        await sleep(2000);
        await stepped.stepClock(0);
      })();
      await Promise.all([wave(), steps]);
      const notReady = await waitReady(d.kiunga).then(
        () => undefined,
        (error: unknown) => (error as Error).message,
      );
      if (notReady) {
        resumed.push(`after a ${offset / 60_000} min step and back: ${notReady}`);
        break;
      }
      const after = await Promise.all(d.kiunga.map(() => traffic.transfer(nextCustomer(), 150, { redials: 0 })));
      for (const i of after)
        if (!/^END Done: /.test(i.replies.at(-1) ?? '')) resumed.push(`after a ${offset / 60_000} min step and back: ${i.replies.at(-1)}`);
    }
    const report = await checkInvariants(d, traffic, { since });
    report.violations.unshift(...resumed);
    if (resumed.length > 0) dumpHops(report.violations, traffic.hops.slice(since.hops), d);
    recordResult('clock steps (one process +20 min then back, -20 min then back)', report);
    expect(report.violations).toEqual([]);
  });

  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
