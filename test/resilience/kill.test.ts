/**
 * A Kiunga process SIGKILLed under load (docs/resilience.md): mid-hop (reads in flight at Fineract) and
 * mid-transfer (the transfer's POST in flight), while the sessions carry on on the two other processes; the
 * killed process is then started again, as a supervisor would. A hop that died with its process is sent
 * again to another one, as the aggregator retries.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../helpers/server.js';
import { deploy, waitReady, type Deployment, type KiungaProcess } from './cluster.js';
import { checkInvariants, verifyAuditCli } from './invariants.js';
import { barrier, nextCustomer, Traffic } from './traffic.js';
import { recordResult } from './results.js';

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
  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
