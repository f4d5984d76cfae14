/**
 * Threat T28: lookups of numbers never matched to a customer spend their own share of the Fineract budget
 * and, within it, wait in the gateway's queue behind every other call (priority `low`). A returning
 * customer's lookup that arrives after a burst of them is sent first. The whole server runs (real Redis, the
 * built-in sandbox over HTTP), at 2 Fineract requests a second so that the queue's order shows in the
 * sandbox's log of requests received.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { syntheticMsisdn } from '../../src/sandbox/synthetic.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    FINERACT_RATE_LIMIT: '2',
    // Unknown numbers may use most of the budget here: the test is about their place in the queue.
    FINERACT_UNKNOWN_LOOKUP_SHARE: '0.9',
    SANDBOX_CUSTOMERS: '2',
    // Lookups cached for 1 s only: the returning customer's lookup goes to Fineract again.
    FINERACT_CACHE_TTL_S: '1',
  });
}, 30_000);
afterAll(async () => {
  await server?.close();
});

describe('the queue place of lookups of unknown numbers (T28)', () => {
  it("should send a returning customer's lookup before the unknown numbers' lookups queued before it", async () => {
    const { fineract, sandbox } = server.services;
    const returning = syntheticMsisdn(0);
    const nsnOf = (e164: string) => e164.slice(4);
    // Served once: the number is known from now on. Then its cached lookup expires.
    expect((await fineract.findClientByPhone(returning))?.msisdn).toBe(returning);
    await sleep(1500);
    sandbox!.control.clearRequests();

    const unknown = Array.from({ length: 6 }, (_, i) => `+254733${String(i).padStart(6, '0')}`);
    const floods = unknown.map((n) => fineract.findClientByPhone(n).catch((e: unknown) => e));
    await sleep(50); // every unknown lookup's first search is waiting for a token
    expect(server.services.gateway.stats().limiter.queued.low).toBeGreaterThan(0);
    const found = await fineract.findClientByPhone(returning, { deadlineAt: Date.now() + 3000 });
    expect(found?.msisdn).toBe(returning);

    const searches = sandbox!.control.requests.filter((r) => r.path.endsWith('/search')).map((r) => r.query);
    const first = searches.findIndex((q) => q.includes(nsnOf(returning)));
    // At 2 a second, FIFO would send the six unknown searches first (3 s); `low` lets it pass all but the one
    // already started when it came.
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThanOrEqual(1);
    await Promise.all(floods);
  }, 30_000);
});
