import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';

const CUSTOMERS = [
  { msisdn: '+254711000001', name: 'Amina', pin: '1234', balance: 'Akiba Savings 000000001: KES 12,500.00' },
  { msisdn: '+254711000002', name: 'Baraka', pin: '2468', balance: 'Akiba Savings 000000002: KES 3,000.00' },
  { msisdn: '+254711000003', name: 'Chanya', pin: '1357', balance: 'Akiba Savings 000000003: KES 100,000.00' },
  { msisdn: '+254711000004', name: 'Duma', pin: '8642', balance: 'Akiba Savings 000000004: KES 250,000.00' },
];

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ HOP_DEADLINE_MS: '10000' });
});
afterAll(async () => {
  await server?.close();
});

describe('300 concurrent USSD sessions', () => {
  it("should answer every hop once, each with its own customer's data", async () => {
    const sessions = Array.from({ length: 300 }, (_, i) => {
      const customer = CUSTOMERS[i % CUSTOMERS.length]!;
      return { customer, s: atSession(server, customer.msisdn) };
    });
    const transcripts = await Promise.all(
      sessions.map(async ({ customer, s }) => {
        const hops = [await s.send(), await s.send(customer.pin), await s.send('1')];
        return { customer, hops };
      }),
    );
    for (const { customer, hops } of transcripts) {
      expect(hops.map((h) => h.status)).toEqual([200, 200, 200]);
      expect(hops[0]!.body).toBe(`CON Welcome ${customer.name}. Enter your PIN:`);
      expect(hops[1]!.body).toMatch(/^CON Main menu/);
      expect(hops[2]!.body).toBe(`END Balance\n${customer.balance}`);
    }
  });
});
