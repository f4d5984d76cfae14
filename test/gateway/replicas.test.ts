/**
 * Read replicas with real HTTP: one sandbox as the primary (write instance), two as read replicas.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFineractGateway, type FineractGateway, type FineractGatewayOptions } from '../../src/fineract/gateway.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { hits, httpTo } from './helpers.js';

let primary: Sandbox;
let replica1: Sandbox;
let replica2: Sandbox;
let gateway: FineractGateway;

beforeAll(async () => {
  [primary, replica1, replica2] = await Promise.all([startSandbox({ port: 0 }), startSandbox({ port: 0 }), startSandbox({ port: 0 })]);
});
afterEach(async () => {
  await gateway.close();
  for (const s of [primary, replica1, replica2]) {
    s.control.reset();
    s.control.clearRequests();
  }
});
afterAll(async () => {
  await Promise.all([primary.close(), replica1.close(), replica2.close()]);
});

function open(replicas: Sandbox[], extra: Partial<FineractGatewayOptions> = {}): FineractGateway {
  gateway = createFineractGateway({
    primary: httpTo(primary),
    replicas: replicas.map((r) => httpTo(r)),
    ratePerSecond: 200,
    maxConcurrent: 8,
    ...extra,
  });
  return gateway;
}

const count = (s: Sandbox, method?: string) => hits(s, undefined, method).length;

describe('read replicas', () => {
  it('sends GETs round robin to the replicas and none to the primary', async () => {
    open([replica1, replica2]);
    for (let i = 0; i < 6; i++) await gateway.request('GET', '/clients/1');
    expect([count(replica1), count(replica2), count(primary)]).toEqual([3, 3, 0]);
    // Strict alternation, not just an even split.
    const order = [...hits(replica1).map((r) => ({ at: r.at, who: 1 })), ...hits(replica2).map((r) => ({ at: r.at, who: 2 }))]
      .sort((a, b) => a.at - b.at)
      .map((r) => r.who);
    expect(order).toEqual([1, 2, 1, 2, 1, 2]);
    expect(gateway.stats().routing).toMatchObject({ replicaReads: 6, primaryReads: 0, fallbacks: 0 });
  });

  it('sends every write to the primary', async () => {
    open([replica1]);
    await Promise.allSettled([
      gateway.request('POST', '/accounttransfers', { body: {} }),
      gateway.request('PUT', '/clients/1', { body: {} }),
      gateway.request('DELETE', '/clients/1'),
    ]);
    expect(count(primary)).toBe(3);
    expect(count(replica1)).toBe(0);
  });

  it('reads from the primary when asked to (read-your-writes)', async () => {
    open([replica1]);
    await gateway.request('GET', '/savingsaccounts/1', { readFrom: 'primary' });
    expect([count(primary), count(replica1)]).toEqual([1, 0]);
  });

  it('falls back to the primary when a replica is down, then skips it while its circuit is open', async () => {
    open([replica1, replica2], { breaker: { consecutiveFailures: 2, coolDownMs: 60_000 } });
    replica1.control.failMode = 'reset';
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await gateway.request<{ id: number }>('GET', '/clients/1'));
    expect(answers.every((a) => a.id === 1)).toBe(true);
    // replica1 was tried twice (then its circuit opened), each time the primary answered instead.
    expect(count(replica1)).toBe(2);
    expect(count(primary)).toBe(2);
    expect(count(replica2)).toBe(6);
    expect(gateway.stats().upstreams.map((u) => [u.name, u.state])).toEqual([
      ['primary', 'closed'],
      ['replica-1', 'open'],
      ['replica-2', 'closed'],
    ]);
    expect(gateway.stats().routing.fallbacks).toBe(2);
  });

  it('falls back to the primary on a 500 from the replica', async () => {
    open([replica1]);
    replica1.control.failMode = '500';
    await expect(gateway.request('GET', '/clients/2')).resolves.toMatchObject({ id: 2 });
    expect([count(replica1), count(primary)]).toEqual([1, 1]);
  });

  it('makes the call again on the primary when a replica answers 405 (instance type)', async () => {
    open([replica1]);
    // The sandbox answers 405 to a method a route does not have, like a read instance does to a write.
    await gateway.request('GET', '/authentication').catch(() => undefined);
    expect(hits(replica1).map((r) => r.status)).toEqual([405]);
    expect(count(primary)).toBe(1);
  });

  it('does not call the primary again for a 404 from a replica', async () => {
    open([replica1]);
    await expect(gateway.request('GET', '/clients/999999')).rejects.toMatchObject({ kind: 'not-found' });
    expect([count(replica1), count(primary)]).toEqual([1, 0]);
  });

  it('without replicas, reads go to the primary', async () => {
    open([]);
    await gateway.request('GET', '/clients/1');
    expect(count(primary)).toBe(1);
  });

  it('keeps serving reads from replicas while the primary circuit is open, and refuses writes at once', async () => {
    open([replica1], { breaker: { consecutiveFailures: 1, coolDownMs: 60_000 } });
    primary.control.failMode = '500';
    await gateway.request('POST', '/accounttransfers', { body: {} }).catch(() => undefined);
    await sleep(5);
    expect(gateway.stats().upstreams[0]!.state).toBe('open');
    await expect(gateway.request('GET', '/clients/1')).resolves.toMatchObject({ id: 1 });
    await expect(gateway.request('POST', '/accounttransfers', { body: {} })).rejects.toMatchObject({ reason: 'circuit open' });
    expect(count(primary)).toBe(1);
  });
});
