import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createKeys } from '../../src/session/keys.js';
import { AfricasTalkingSimSwap, createAtInsights, parseAtDate, type AtInsightsApi } from '../../src/security/africastalking-sim-swap.js';
import { SimSwapUnavailable } from '../../src/security/sim-swap.js';
import { FakeProvider } from '../messaging/fake-provider.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The Africa's Talking Insights SIM-swap check (threat T4), through the real `africastalking` SDK against a
 * loopback fake of AT's Insights API: what goes on the wire, how the asynchronous answer (AT's callback) is
 * used, and that every way of not knowing refuses the transfer (fails closed) without moving money.
 */

const AMINA = '+254711000001';
const KEY = 'at-callback-key-0123456789';
let fake: FakeProvider;
let insights: AtInsightsApi;

const queued = (requestId: string) => ({
  status: 'Processed',
  transactionId: 'c9ff6053-b237-4d16-a4fe-0c88e45457a2',
  totalCost: { amount: 0.05, currencyCode: 'USD' },
  responses: [
    {
      cost: { amount: 5, currencyCode: 'KES' },
      phoneNumber: { carrierName: 'Safaricom', countryCode: 254, networkCode: 'Safaricom', number: AMINA, numberType: 'Mobile' },
      requestId,
      status: 'Queued',
    },
  ],
});
const ddmmyyyy = (d: Date) =>
  `${String(d.getUTCDate()).padStart(2, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${d.getUTCFullYear()}`;
const daysAgo = (n: number) => ddmmyyyy(new Date(Date.now() - n * 86_400_000));

beforeAll(async () => {
  fake = await new FakeProvider().start();
  insights = createAtInsights({ username: 'kiunga-test', apiKey: 'at-test-key', insightsUrl: fake.url });
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

/** Plays AT's callback once the check has registered its request (bounded wait, no timing assertion). */
async function answer(c: AfricasTalkingSimSwap, body: Record<string, unknown>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await c.recordCallback(body)) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('the check never registered its request');
}

function check(overrides: Partial<ConstructorParameters<typeof AfricasTalkingSimSwap>[0]> = {}) {
  return new AfricasTalkingSimSwap({
    api: insights,
    store: createMemoryStore(),
    keys: createKeys('kiunga-test'),
    logger: createLogger('silent'),
    maxAgeDays: 7,
    waitMs: 1500,
    cacheS: 3600,
    pollMs: 10,
    ...overrides,
  });
}

describe("Africa's Talking SIM-swap check", () => {
  it('should post username and phoneNumbers as JSON with the apiKey header, then take the answer from the callback', async () => {
    fake.on('/v1/sim-swap', () => ({ status: 200, body: queued('ATSwpid_1') }));
    const c = check();
    const pending = c.recentlySwapped(AMINA);
    // AT answers later, on the callback, for the request id it gave.
    await answer(c, { status: 'Swapped', lastSimSwapDate: daysAgo(2), requestId: 'ATSwpid_1', transactionId: 't', providerRefId: 'p' });
    expect(await pending).toBe(true);
    const req = fake.to('/v1/sim-swap')[0]!;
    expect(req.method).toBe('POST');
    expect(req.headers.apikey).toBe('at-test-key');
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(req.raw)).toEqual({ username: 'kiunga-test', phoneNumbers: [AMINA] });
    // The answer is reused: no second billed request.
    expect(await c.recentlySwapped(AMINA)).toBe(true);
    expect(fake.to('/v1/sim-swap')).toHaveLength(1);
  });

  it('should judge the answer by the date of the last SIM change', async () => {
    const cases: [string, string, boolean][] = [
      ['NotSwapped', '01-01-1900', false],
      ['Swapped', daysAgo(30), false],
      ['Swapped', daysAgo(1), true],
      ['Swapped', 'unknown', true], // swapped, date unreadable: refused
      ['NotSwapped', daysAgo(0), true], // contradictory: the recent date wins
    ];
    for (const [i, [status, date, swapped]] of cases.entries()) {
      fake.on('/v1/sim-swap', () => ({ status: 200, body: queued(`ATSwpid_j${i}`) }));
      const c = check();
      const pending = c.recentlySwapped(AMINA);
      await answer(c, { status, lastSimSwapDate: date, requestId: `ATSwpid_j${i}` });
      expect(await pending, `${status} ${date}`).toBe(swapped);
    }
  });

  it('should fail closed: a provider error, a refused number, no answer in time or an answer it cannot use all reject', async () => {
    const outcomes: [string, () => { status: number; body?: unknown }][] = [
      ['HTTP 500', () => ({ status: 500, body: { error: 'boom' } })],
      ['not Processed', () => ({ status: 200, body: { status: 'Failed', errorMessage: 'InsufficientCredit' } })],
      [
        'unsupported number',
        () => ({
          status: 200,
          body: { status: 'Processed', responses: [{ phoneNumber: { number: AMINA }, status: 'UnsupportedPhoneNumber' }] },
        }),
      ],
    ];
    for (const [name, answer] of outcomes) {
      fake.on('/v1/sim-swap', answer);
      await expect(check().recentlySwapped(AMINA), name).rejects.toBeInstanceOf(SimSwapUnavailable);
    }
    // Queued, but the callback never comes within the wait.
    fake.on('/v1/sim-swap', () => ({ status: 200, body: queued('ATSwpid_late') }));
    await expect(check({ waitMs: 200 }).recentlySwapped(AMINA)).rejects.toBeInstanceOf(SimSwapUnavailable);
    // AT could not tell ("Failed").
    const c = check();
    const pending = c.recentlySwapped(AMINA);
    await answer(c, { status: 'Failed', requestId: 'ATSwpid_late' });
    await expect(pending).rejects.toBeInstanceOf(SimSwapUnavailable);
  });

  it('should store only answers to requests it made', async () => {
    const c = check();
    expect(await c.recordCallback({ status: 'NotSwapped', lastSimSwapDate: '01-01-1900', requestId: 'ATSwpid_forged' })).toBe(false);
    expect(await c.recordCallback({})).toBe(false);
  });

  it("should read AT's DD-MM-YYYY dates, and 01-01-1900 as never", () => {
    expect(parseAtDate('03-12-2026')).toBe('2026-12-03');
    expect(parseAtDate('01-01-1900')).toBeUndefined();
    expect(parseAtDate('31-02-2026')).toBeUndefined();
    expect(parseAtDate('2026-12-03')).toBeUndefined();
    expect(parseAtDate(undefined)).toBeUndefined();
  });
});

describe('SIM-swap check failing closed in the USSD money journey', () => {
  let server: TestServer;
  const balance = (id: number) => {
    const bank = server.services.sandbox!.bank;
    return bank.balance(bank.savingsAccount(id)!) / 100;
  };

  beforeAll(async () => {
    server = await startTestServer({
      SIM_SWAP_PROVIDER: 'africastalking',
      AT_USERNAME: 'kiunga-test',
      AT_API_KEY: 'at-test-key',
      AT_CALLBACK_KEY: KEY,
      SIM_SWAP_WAIT_MS: '300',
    });
    // The server's SDK client reads the same process-wide Insights URL.
    createAtInsights({ username: 'kiunga-test', apiKey: 'at-test-key', insightsUrl: fake.url });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('should refuse the transfer politely and move no money when the provider fails', async () => {
    fake.on('/v1/sim-swap', () => ({ status: 503, body: { error: 'unavailable' } }));
    const before = [balance(1), balance(2)];
    const ussd = (text: string, sessionId: string) =>
      fetch(`${server.url}/channels/africastalking/ussd?key=${KEY}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ sessionId, serviceCode: '*384*123#', phoneNumber: AMINA, networkCode: '63902', text }).toString(),
      }).then((r) => r.text());
    const sessionId = `ATUid_simswap_${Date.now()}`;
    const inputs = ['', '1234', '3', '0711000002', '500', '1234'];
    const screens: string[] = [];
    for (let i = 0; i < inputs.length; i++) screens.push(await ussd(inputs.slice(1, i + 1).join('*'), sessionId));
    expect(screens[4]).toMatch(/^CON Pay KES 500\.00/);
    expect(screens[5]).toBe(
      'END For your security we could not complete the SIM check. No money was moved. Please try again in a few minutes.',
    );
    expect([balance(1), balance(2)]).toEqual(before);
    expect(fake.to('/v1/sim-swap').length).toBeGreaterThan(0);
  });

  it('should accept the SIM-swap callback only with the AT callback key', async () => {
    const post = (query: string) =>
      fetch(`${server.url}/channels/africastalking/sim-swap${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'NotSwapped', lastSimSwapDate: '01-01-1900', requestId: 'ATSwpid_x' }),
      });
    expect((await post('')).status).toBe(403);
    expect((await post('?key=wrong-key-0123456789')).status).toBe(403);
    const ok = await post(`?key=${KEY}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ignored' });
  });
});
