/**
 * Fineract misbehaving under three Kiunga processes (docs/resilience.md): slow, down, answering 500, timing
 * out after committing, and replaying a cached 500. Customers send money and read balances through the
 * USSD route while the sandbox is set to the fault; then the invariants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../helpers/server.js';
import { deploy, FINERACT_TIMEOUT_MS, type Deployment } from './cluster.js';
import { checkInvariants, verifyAuditCli } from './invariants.js';
import { barrier, nextCustomer, Traffic } from './traffic.js';
import { recordResult } from './results.js';

let d: Deployment;
let traffic: Traffic;
let mark = { intents: 0, hops: 0 };

beforeAll(async () => {
  d = await deploy({ redisUrl: REDIS_URL });
  traffic = new Traffic(() => d.kiunga);
});
afterAll(async () => {
  await traffic?.close();
  await d?.stop();
});

/** `n` customers each send money to another at once; `fault` is set once all are on their confirmation screens. */
async function transfers(n: number, fault?: () => Promise<unknown>) {
  const beforeConfirm = fault ? barrier(n, fault) : undefined;
  return Promise.all(
    Array.from({ length: n }, () => {
      const from = nextCustomer();
      return traffic.transfer(from, from + 100, { beforeConfirm });
    }),
  );
}

async function invariants(scenario: string) {
  await d.sandbox.control({ reset: true });
  const report = await checkInvariants(d, traffic, { since: mark });
  mark = traffic.mark();
  recordResult(scenario, report);
  expect(report.violations).toEqual([]);
  return report;
}

describe('Fineract faults', () => {
  it('baseline: transfers and balances with nothing wrong', async () => {
    const intents = await transfers(4);
    expect(intents.every((i) => /^END Done: /.test(i.replies.at(-1) ?? ''))).toBe(true);
    await invariants('baseline');
  });

  it('slow: every answer late by more than the Fineract timeout', async () => {
    await transfers(3, () => d.sandbox.control({ latencyMs: FINERACT_TIMEOUT_MS + 500 }));
    await Promise.all([traffic.balance(nextCustomer()), traffic.balance(nextCustomer())]);
    await invariants('Fineract slow (latency past FINERACT_TIMEOUT_MS)');
  });

  it('down: every connection reset', async () => {
    await transfers(3, () => d.sandbox.control({ failMode: 'reset' }));
    await traffic.balance(nextCustomer());
    await invariants('Fineract down (connections reset)');
  });

  it('500: every request answered 500 before it runs', async () => {
    await transfers(3, () => d.sandbox.control({ failMode: '500' }));
    await invariants('Fineract answering 500');
  });

  it('timing out after committing: the write commits, the answer never comes in time', async () => {
    await transfers(3, () => d.sandbox.control({ timeoutAfterCommit: { count: 3, mode: 'delay', ms: FINERACT_TIMEOUT_MS + 1500 } }));
    await invariants('Fineract timing out after committing (answer late)');
    await transfers(2, () => d.sandbox.control({ timeoutAfterCommit: { count: 2, mode: 'destroy', ms: 0 } }));
    await invariants('Fineract committing, then dropping the connection');
  });

  it('replaying a cached 500: the write fails inside the command and its key replays the 500', async () => {
    await transfers(3, () => d.sandbox.control({ failMode: 'command-500' }));
    await invariants('Fineract replaying a cached 500 (command-500)');
  });
  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
