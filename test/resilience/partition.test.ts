/**
 * A network partition between one Kiunga process and Redis, both alive (docs/resilience.md): the process
 * reaches Redis through a TCP proxy (tcp-proxy.ts) that the scenario black-holes for PARTITION_MS while two
 * transfers confirmed on that process are in flight at Fineract, then heals. Meanwhile the process must answer
 * its hops politely inside the deadline and say it is not ready; the two others serve the sessions the load
 * balancer sends them; once healed it must serve again by itself. Then the invariants.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../helpers/server.js';
import { deploy, readyz, waitReady, HOP_DEADLINE_MS, type Deployment } from './cluster.js';
import { checkInvariants, verifyAuditCli } from './invariants.js';
import { barrier, nextCustomer, Traffic } from './traffic.js';
import { recordResult } from './results.js';
import { startRedisProxy, type TcpProxy } from './tcp-proxy.js';

/** Longer than a hop's deadline and the store's timeouts, shorter than a job's lock (JOB_LOCK_MS). */
const PARTITION_MS = 8000;

let proxy: TcpProxy;
let d: Deployment;
let traffic: Traffic;

beforeAll(async () => {
  proxy = await startRedisProxy(REDIS_URL);
  // Only kiunga-1 goes through the proxy; the others, the tests and the sandbox reach Redis directly.
  d = await deploy({ redisUrl: REDIS_URL, prepare: (kiunga) => kiunga[0]!.setEnv({ REDIS_URL: proxy.url }) });
  traffic = new Traffic(() => d.kiunga);
});
afterAll(async () => {
  proxy?.heal();
  await traffic?.close();
  await d?.stop();
  await proxy?.close();
});

describe('a network partition between one Kiunga process and Redis', () => {
  it('cut off: polite answers and not ready while the others serve; healed: serves again by itself', async () => {
    const since = traffic.mark();
    const victim = d.kiunga[0]!;
    await waitReady(d.kiunga);
    expect(proxy.connections).toBeGreaterThan(0);

    // Two customers confirm on kiunga-1 with Fineract's writes held 1 s; the partition starts 400 ms later.
    let cutAt = 0;
    let cut: Promise<void> = Promise.resolve();
    const beforeConfirm = barrier(2, async () => {
      await d.sandbox.control({ writeLatencyMs: 1000 });
      cut = sleep(400).then(() => {
        proxy.blackhole();
        cutAt = performance.now();
      });
    });
    await Promise.all(
      [0, 1].map(() => {
        const from = nextCustomer();
        return traffic.transfer(from, from + 100, { beforeConfirm, confirm: (send) => send(victim) });
      }),
    );
    await cut;
    await d.sandbox.control({ reset: true });

    // Cut off: /readyz says so (within its own 1.5 s checks), and new sessions dialled on it end politely.
    const unready = await readyz(victim);
    expect({ status: unready.status, store: unready.body.store }).toEqual({ status: 503, store: 'unavailable' });
    const dials = await Promise.all([0, 1, 2].map(() => traffic.session(nextCustomer()).send(undefined, victim)));
    for (const r of dials) expect(r.body).toMatch(/^END /);

    // The load balancer takes it out of rotation: sessions carry on on the two others, transfers included.
    traffic.outOfRotation.add(victim);
    const during = await Promise.all([
      ...[0, 1, 2].map(() => traffic.balance(nextCustomer())),
      ...[0, 1].map(() => {
        const from = nextCustomer();
        return traffic.transfer(from, from + 100, { redials: 0 }).then((i) => i.replies.join(' | '));
      }),
    ]);
    for (const answer of during) expect(answer).toMatch(/^END (Balance|Done)/);
    const stillCut = await readyz(victim);
    expect(stillCut.status).toBe(503);
    await sleep(Math.max(0, PARTITION_MS - (performance.now() - cutAt)));

    // Healed: ready again by itself, back in rotation, and serving whole sessions (one of them on it alone).
    proxy.heal();
    const healedAt = performance.now();
    await waitReady([victim], 20_000);
    const readyAfterMs = Math.round(performance.now() - healedAt);
    traffic.outOfRotation.delete(victim);
    const own = traffic.session(nextCustomer());
    let last = '';
    for (const input of [undefined, '4321', '1']) last = (await own.send(input, victim)).body ?? '';
    expect(last).toMatch(/^END Balance/);
    const after = await Promise.all(
      [0, 1, 2].map(() => {
        const from = nextCustomer();
        return traffic.transfer(from, from + 100, { redials: 0 }).then((i) => i.replies.join(' | '));
      }),
    );
    for (const answer of after) expect(answer).toMatch(/^END Done/);

    const report = await checkInvariants(d, traffic, { since, settleMs: 45_000 });
    recordResult('network partition between one Kiunga process and Redis', report, {
      partitionMs: Math.round(healedAt - cutAt),
      readyzWhileCutMs: Math.round(unready.ms),
      readyAfterHealMs: readyAfterMs,
    });
    expect(report.violations).toEqual([]);
    expect(report.maxServerMs).toBeLessThanOrEqual(HOP_DEADLINE_MS);
  });

  it("leaves a trail the operator's `kiunga audit verify` passes", async () => {
    expect((await verifyAuditCli(d)).output).toMatch(/"ok":true/);
  });
});
