/**
 * Fineract requests per USSD session (issue 13), counted in the sandbox's request log: a returning customer
 * (lookups cached by an earlier session) checks the balance with one request, and sends money with two: one read
 * before the PIN (balance, activity and ownership of the source: threat T10) and the POST. The receipt names
 * Kiunga's own reference, which Fineract stores in the transfer's description, so no read after the POST maps
 * its transfer detail id to a transaction id (docs/fineract.md §6.2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';

const AMINA = '+254711000001';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  // A first session caches Amina's lookups (client by phone, accounts) and Baraka's, and reads the business date.
  const warm = atSession(server, AMINA);
  await warm.send();
  await warm.send('1234');
  await warm.send('3');
  await warm.send('0711000002');
  expect((await warm.send('10')).body).toMatch(/^CON Pay KES 10\.00/);
  expect((await warm.send('1234')).body).toMatch(/^END Done/);
  await server.services.queue.idle();
});
afterAll(async () => {
  await server?.close();
});

/** The Fineract requests `run` caused, as `METHOD /path?query` without the API prefix. */
async function requestsOf(run: () => Promise<void>): Promise<string[]> {
  const log = server.services.sandbox!.control.requests;
  const from = log.length;
  await run();
  await server.services.queue.idle(); // receipts and anything else the session queued
  return log.slice(from).map((r) => `${r.method} ${r.path.replace('/fineract-provider/api/v1', '')}${r.query ? `?${r.query}` : ''}`);
}

describe('Fineract requests of a returning customer', () => {
  it('should check the balance with one request (the balance itself; identity and accounts come from the cache)', async () => {
    const requests = await requestsOf(async () => {
      const s = atSession(server, AMINA);
      await s.send();
      await s.send('1234');
      expect((await s.send('1')).body).toMatch(/^END Balance/);
    });
    expect(requests).toEqual(['GET /savingsaccounts/1']);
  });

  it('should send money with two requests: the source read before the PIN and the POST', async () => {
    let ref: string | undefined;
    const requests = await requestsOf(async () => {
      const s = atSession(server, AMINA);
      await s.send();
      await s.send('1234');
      await s.send('3');
      await s.send('0711000002');
      expect((await s.send('20')).body).toMatch(/^CON Pay KES 20\.00/);
      const done = (await s.send('1234')).body;
      ref = /^END Done: KES 20\.00 to Baraka O\. \(ref ([0-9A-F]{8})\)/.exec(done)?.[1];
      expect(ref, done).toBeDefined();
    });
    // No read of the client or the source at the PIN hop (the confirmation's read checked them), and none after
    // the POST: the receipts (screen and SMS) name Kiunga's reference, the one in Fineract's description.
    expect(requests).toEqual(['GET /savingsaccounts/1', 'POST /accounttransfers']);
    expect(server.services.sandbox!.bank.data.transfers.at(-1)?.description).toBe(`Kiunga send ${ref}`);
    expect(server.services.outbox!.list(AMINA).at(-1)?.text).toBe(`You sent KES 20.00 to Baraka O. (ref ${ref}).`);
  });
});
