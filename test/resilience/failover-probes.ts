/**
 * What the Redis scenarios (redis.test.ts, sentinel-partition.test.ts, redis-cluster.test.ts) run across a
 * fault (transfers in flight at Fineract, balance sessions spanning it), and what they ask of each process
 * once the new master is named: a whole balance session served, and a transfer's receipt.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Deployment, KiungaProcess } from './cluster.js';
import { barrier, kes, msisdnOf, nextCustomer, type Traffic } from './traffic.js';

/**
 * `n` customers reach their confirmation screens; once all are there, Fineract's writes are made slow enough
 * that their transfers are in flight when `fault` runs (it is started, not awaited, 400 ms after they confirm).
 */
export async function transfersDuring(traffic: Traffic, d: Deployment, n: number, fault: () => Promise<void>) {
  let faulted: Promise<void> = Promise.resolve();
  const beforeConfirm = barrier(n, async () => {
    await d.sandbox.control({ writeLatencyMs: 1000 });
    faulted = sleep(400).then(fault);
  });
  const intents = await Promise.all(
    Array.from({ length: n }, () => {
      const from = nextCustomer();
      return traffic.transfer(from, from + 100, { beforeConfirm });
    }),
  );
  await faulted;
  await d.sandbox.control({ reset: true });
  return intents;
}

/** Balance sessions of `n` customers, hop by hop with pauses, so that their sessions span the outage. */
export async function slowBalances(traffic: Traffic, n: number, pauseMs: number) {
  await Promise.all(
    Array.from({ length: n }, async () => {
      const s = traffic.session(nextCustomer());
      for (const input of [undefined, '4321', '1']) {
        const r = await s.send(input);
        if (!r.body?.startsWith('CON ')) return;
        await sleep(pauseMs);
      }
    }),
  );
}

/** What a process answered to the balance sessions dialled on it after the failover, until one was served. */
export interface Probe {
  proc: string;
  /** From `from` to the end of the first balance session served in full (undefined: none in the limit). */
  servedAfterMs?: number;
  /** The last replies of the sessions that were not served, with when (ms after `from`). */
  refused: { atMs: number; reply: string }[];
}

/** Dials balance sessions on `proc` alone until one ends on its balance screen, or `limitMs` after `from`. */
export async function probe(traffic: Traffic, proc: KiungaProcess, from: number, limitMs: number): Promise<Probe> {
  const result: Probe = { proc: proc.name, refused: [] };
  while (performance.now() - from < limitMs) {
    const s = traffic.session(nextCustomer());
    let last = '';
    for (const input of [undefined, '4321', '1']) {
      last = (await s.send(input, proc)).body ?? '(no answer)';
      if (!last.startsWith('CON ')) break;
    }
    const atMs = Math.round(performance.now() - from);
    if (/^END Balance/.test(last)) {
      result.servedAfterMs = atMs;
      return result;
    }
    result.refused.push({ atMs, reply: last.slice(0, 60) });
    await sleep(200);
  }
  return result;
}

/** Polls every process's SMS outbox until customer `from` has the "You sent" receipt for `cents`. */
export async function receiptWithin(traffic: Traffic, from: number, cents: number, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    await traffic.collectSms();
    for (const m of traffic.sms.values())
      if (m.to === msisdnOf(from) && m.text.startsWith('You sent ') && m.text.includes(kes(cents))) return true;
    await sleep(250);
  }
  return false;
}
