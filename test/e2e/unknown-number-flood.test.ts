/**
 * Threat T28, acceptance: 2,000 first hops from unknown numbers arrive while 20 returning customers read
 * their balances. Lookups of unknown numbers may spend only FINERACT_UNKNOWN_LOOKUP_SHARE of the Fineract
 * budget, so every returning customer is answered, and Fineract never sees more than FINERACT_RATE_LIMIT
 * requests in any one-second window (counted where Fineract counts: the sandbox's log of requests received).
 * The test's address is loopback, trusted like an aggregator's: only the per-number buckets and the lookup
 * cap stand between the flood and Fineract.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { startTestServer, newSessionId, type TestServer } from '../helpers/server.js';
import { syntheticMsisdn, SYNTHETIC_PIN } from '../../src/sandbox/synthetic.js';

const RATE = 40;
const RETURNING = 20;
const FLOOD = 2000;
let server: TestServer;
let pool: Pool;

beforeAll(async () => {
  server = await startTestServer({
    FINERACT_RATE_LIMIT: String(RATE),
    SANDBOX_CUSTOMERS: String(RETURNING),
    // Lookups cached for 1 s only: the returning customers' entries expire before the flood, so they too
    // need Fineract to be found (a customer back after the cache TTL), and compete with the flood for it.
    FINERACT_CACHE_TTL_S: '1',
    ...(process.env.KIUNGA_TEST_UNKNOWN_SHARE ? { FINERACT_UNKNOWN_LOOKUP_SHARE: process.env.KIUNGA_TEST_UNKNOWN_SHARE } : {}),
  });
  pool = new Pool(server.url, { connections: 128 });
}, 30_000);
afterAll(async () => {
  await pool?.close();
  await server?.close();
});

async function hop(sessionId: string, phoneNumber: string, text: string): Promise<{ status: number; body: string }> {
  const { statusCode, body } = await pool.request({
    method: 'POST',
    path: '/channels/africastalking/ussd',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ sessionId, serviceCode: '*384*1#', phoneNumber, networkCode: '63902', text }).toString(),
  });
  return { status: statusCode, body: await body.text() };
}

/** A returning customer's balance: dial, PIN, 1. Returns the last screen. */
async function balance(i: number): Promise<string> {
  const sessionId = newSessionId();
  const msisdn = syntheticMsisdn(i);
  const first = await hop(sessionId, msisdn, '');
  if (!first.body.startsWith('CON ')) return first.body;
  const menu = await hop(sessionId, msisdn, SYNTHETIC_PIN);
  if (!menu.body.startsWith('CON ')) return menu.body;
  return (await hop(sessionId, msisdn, `${SYNTHETIC_PIN}*1`)).body;
}

/** The most requests Fineract received in any one-second window. */
function worstSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= 1000) j++;
    worst = Math.max(worst, i - j + 1);
  }
  return worst;
}

describe('a flood of unknown numbers (T28)', () => {
  it('should answer every returning customer and keep Fineract within its rate', async () => {
    // Returning customers: each has been served before (their number is known to Kiunga). They come for
    // the first time here, so their own first lookups are capped too: each tries until served.
    const warm = await Promise.all(
      Array.from({ length: RETURNING }, async (_, i) => {
        for (let attempt = 0; attempt < 100; attempt++) {
          const screen = await balance(i);
          if (screen.startsWith('END Balance')) return screen;
          expect(screen).toMatch(/^END Sorry, the service is not available/);
          await sleep(250);
        }
        return 'never served';
      }),
    );
    expect(warm.every((b) => b.startsWith('END Balance'))).toBe(true);
    await sleep(1500); // every cached lookup has expired
    const control = server.services.sandbox!.control;
    control.clearRequests();
    const refusedBefore = server.services.unknownLookupsRefused?.() ?? 0;

    let sent = 0;
    let floodStarted!: () => void;
    const started = new Promise<void>((resolve) => (floodStarted = resolve));
    const floodReplies: { status: number; body: string }[] = [];
    const flood = Promise.all(
      Array.from({ length: 100 }, async () => {
        while (sent < FLOOD) {
          const i = sent++;
          if (i === 200) floodStarted();
          floodReplies.push(await hop(newSessionId(), `+254733${String(i).padStart(6, '0')}`, ''));
        }
      }),
    );
    await started;
    const balances = await Promise.all(Array.from({ length: RETURNING }, (_, i) => balance(i)));
    await flood;

    expect(balances.filter((b) => !b.startsWith('END Balance'))).toEqual([]);
    expect(balances.every((b) => b.includes('KES 100,000.00'))).toBe(true);
    expect(floodReplies).toHaveLength(FLOOD);
    expect(floodReplies.every((r) => r.status === 200 && /^(CON|END) /.test(r.body))).toBe(true);
    // Some unknown numbers were looked up in Fineract (their share of the budget), most were refused unsent.
    expect(control.requests.filter((r) => r.path.endsWith('/search')).length).toBeGreaterThan(0);
    expect((server.services.unknownLookupsRefused?.() ?? 0) - refusedBefore).toBeGreaterThan(FLOOD / 2);
    expect(worstSecond(control.requests.map((r) => r.at))).toBeLessThanOrEqual(RATE + 1);
  }, 60_000);
});
