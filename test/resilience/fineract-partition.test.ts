/**
 * A network partition between the Kiunga processes and Fineract, both alive (docs/resilience.md): every
 * process reaches the sandbox through a TCP proxy (tcp-proxy.ts) that the scenario black-holes for
 * PARTITION_MS while two transfers are in flight (Fineract has taken the POST, its answer is held), then heals.
 * Unlike Fineract down (a refused connection), nothing fails fast: every call waits for its own timeout until
 * the circuit breaker opens. Meanwhile every hop must be answered politely inside the deadline, with no
 * outcome claimed that is not known and `/readyz` saying Fineract is unreachable; the transfers in flight are
 * told by one SMS each once their outcome is found after the healing; and the processes serve again by
 * themselves. Then the invariants.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../helpers/server.js';
import { deploy, readyz, waitReady, HOP_DEADLINE_MS, type Deployment } from './cluster.js';
import { checkInvariants, verifyAuditCli } from './invariants.js';
import { barrier, nextCustomer, Traffic } from './traffic.js';
import { recordResult } from './results.js';
import { TcpProxy } from './tcp-proxy.js';

/** Longer than several Fineract timeouts (FINERACT_TIMEOUT_MS) and a hop's deadline. */
const PARTITION_MS = 8000;

let proxy: TcpProxy | undefined;
let d: Deployment;
let traffic: Traffic;

beforeAll(async () => {
  d = await deploy({
    redisUrl: REDIS_URL,
    prepare: async (kiunga, sandbox) => {
      const target = new URL(sandbox.fineractUrl);
      proxy = await new TcpProxy({ host: target.hostname, port: Number(target.port) }, sandbox.fineractUrl).start();
      for (const k of kiunga) k.setEnv({ FINERACT_URL: proxy.url });
    },
  });
  traffic = new Traffic(() => d.kiunga);
});
afterAll(async () => {
  proxy?.heal();
  await traffic?.close();
  await d?.stop();
  await proxy?.close();
});

describe('a network partition between the Kiunga processes and Fineract', () => {
  it('cut off: polite answers inside the deadline and not ready; the transfers in flight told once; healed: serves again', async () => {
    const cutProxy = proxy!;
    const since = traffic.mark();
    await waitReady(d.kiunga);

    // Two customers confirm with Fineract's writes held 1 s; the partition starts 400 ms later, so Fineract
    // takes both POSTs and their answers never come through.
    let cutAt = 0;
    let cut: Promise<void> = Promise.resolve();
    const beforeConfirm = barrier(2, async () => {
      await d.sandbox.control({ writeLatencyMs: 1000 });
      cut = sleep(400).then(() => {
        cutProxy.blackhole();
        cutAt = performance.now();
      });
    });
    const inFlight = await Promise.all(
      [0, 1].map(() => {
        const from = nextCustomer();
        return traffic.transfer(from, from + 100, { beforeConfirm, redials: 0 });
      }),
    );
    await cut;
    await d.sandbox.control({ reset: true });
    for (const intent of inFlight) expect(intent.replies.at(-1)).toMatch(/^END Your payment of KES .* is being processed/);

    // Cut off: not ready (Fineract unreachable), and sessions end politely without claiming what is not known.
    const unready = await readyz(d.kiunga[0]!);
    expect({ status: unready.status, fineract: unready.body.fineract, store: unready.body.store }).toEqual({
      status: 503,
      fineract: 'unavailable',
      store: 'ok',
    });
    const during = await Promise.all([
      ...[0, 1, 2].map(() => traffic.balance(nextCustomer())),
      ...[0, 1].map(() => {
        const from = nextCustomer();
        return traffic.transfer(from, from + 100, { redials: 0 }).then((i) => i.replies.join(' | '));
      }),
    ]);
    for (const answer of during) {
      expect(answer ?? '').not.toMatch(/^END (Balance|Done)/);
    }
    await sleep(Math.max(0, PARTITION_MS - (performance.now() - cutAt)));

    // Healed: ready again by themselves, and whole sessions served.
    cutProxy.heal();
    const healedAt = performance.now();
    await waitReady(d.kiunga, 30_000);
    const readyAfterMs = Math.round(performance.now() - healedAt);
    const after = await Promise.all([
      ...[0, 1, 2].map(() => traffic.balance(nextCustomer())),
      ...[0, 1, 2].map(() => {
        const from = nextCustomer();
        return traffic.transfer(from, from + 100, { redials: 1 }).then((i) => i.replies.join(' | '));
      }),
    ]);
    for (const answer of after) expect(answer).toMatch(/^END (Balance|Done)/);

    // The invariants wait for the resolutions: each transfer in flight committed once and told once.
    const report = await checkInvariants(d, traffic, { since, settleMs: 45_000 });
    recordResult('network partition between the Kiunga processes and Fineract', report, {
      partitionMs: Math.round(healedAt - cutAt),
      readyAfterHealMs: readyAfterMs,
    });
    expect(report.violations).toEqual([]);
    expect(report.maxServerMs).toBeLessThanOrEqual(HOP_DEADLINE_MS);
  });

  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
