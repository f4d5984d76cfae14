import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PINS } from '../../src/security/demo-pins.js';
import { findLeaks } from '../helpers/secret-sentinel.js';
import { newSessionId, startTestServer, type TestServer } from '../helpers/server.js';
import { DEFAULT_RUNS, digits, FORM, FUZZ_TIMEOUT_MS, HANG_MS, runsOf, Tally } from './fuzz-kit.js';

/**
 * Fuzzing of the engine through the AT USSD route (issue 13, item 4): random input sequences for the demo
 * customers (menu keys, their PIN and wrong ones, `*`, `#`, 0/00/98, long strings, Unicode, control
 * characters), posted the way Africa's Talking does (cumulative `text`), with aggregator retries, concurrent
 * duplicates, latest-input-only hops, end-of-session notices and hops from another number mixed in, over
 * real HTTP to the whole app with the built-in sandbox and a real Redis. After every sequence:
 * - every answer was `CON`/`END` text (200, or 400 with a polite END for a malformed hop);
 * - the session's lock is released, the session answers another hop, and a new dial by the number works;
 * - no demo PIN appears in a log line the sequence wrote (the suite's secret sentinel scans them all again
 *   after the file).
 */

const AT_KEY = 'at-callback-key-fuzz-sessions-0123456789';
const RUNS = Number(process.env.FUZZ_SESSION_RUNS ?? DEFAULT_RUNS.sessions);
const USSD = `/channels/africastalking/ussd?key=${encodeURIComponent(AT_KEY)}`;
const EVENTS = `/channels/africastalking/ussd/events?key=${encodeURIComponent(AT_KEY)}`;

let server: TestServer;
beforeAll(async () => {
  // PIN_MAX_FAILURES at its highest, and every case starts unlocked: random PINs should not end the exploration.
  server = await startTestServer({ AT_CALLBACK_KEY: AT_KEY, PIN_MAX_FAILURES: '10', CALLBACK_DELAY_MS: '50' });
});
afterAll(async () => {
  await server?.close();
});

interface Customer {
  msisdn: string;
  clientId?: number;
  serviceCode: string;
}
const CUSTOMERS: Customer[] = [
  { msisdn: '+254711000001', clientId: 1, serviceCode: '*384*123#' },
  { msisdn: '+254711000002', clientId: 2, serviceCode: '*384*123#' },
  { msisdn: '+254711000003', clientId: 3, serviceCode: '*384*124#' },
  { msisdn: '+254711000003', clientId: 3, serviceCode: '*384*123#' },
  { msisdn: '+254711000004', clientId: 4, serviceCode: '*384*123#' },
  { msisdn: '+254711000009', serviceCode: '*384*123#' }, // nobody's: the sign-up
  { msisdn: '+255711000009', clientId: 7, serviceCode: '*384*123#' }, // a customer without a PIN
];

/** One keypress-worth of input, weighted towards what moves a session forward. */
const input = (pin: string | undefined): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13') },
    { weight: pin ? 4 : 0, arbitrary: fc.constant(pin ?? '') },
    { weight: 2, arbitrary: fc.constantFrom('0', '00', '98', '99') },
    { weight: 2, arbitrary: digits(1, 9) }, // wrong PINs, amounts, account numbers, IDs, dates
    { weight: 1, arbitrary: fc.constantFrom('000000001', '000000002', '000000004', '5501', '01011990', '23456789', '100', '10000') },
    { weight: 1, arbitrary: fc.constantFrom('*', '#', '**', '*#', '#*', '', ' ', '1#', '*1') },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom('\u0000', '\n', '\ufffd', '\u202e1', 'Amina Wanjiru', 'é', '١٢٣٤') },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('1', '2', '*', '#', '0'), minLength: 50, maxLength: 1_100 }) },
  );

/** How a hop is delivered. */
type Delivery = 'append' | 'retry' | 'twice-at-once' | 'latest-only' | 'end-notice' | 'other-number';
const delivery: fc.Arbitrary<Delivery> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Delivery>('append') },
  { weight: 1, arbitrary: fc.constantFrom<Delivery>('retry', 'twice-at-once', 'latest-only', 'end-notice', 'other-number') },
);

const sequence = fc.constantFrom(...CUSTOMERS).chain((customer) =>
  fc.record({
    customer: fc.constant(customer),
    hops: fc.array(fc.record({ input: input(customer.clientId ? DEMO_PINS[customer.clientId] : undefined), how: delivery }), {
      minLength: 1,
      maxLength: 6,
    }),
  }),
);

/** A hop's answer is CON/END text: 200, or 400 with a polite END (a malformed hop). */
const ANSWER = /^(CON|END) \S[\s\S]*$/;

async function post(fields: Record<string, string>, path = USSD): Promise<{ status: number; body: string }> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: new URLSearchParams(fields).toString(),
    signal: AbortSignal.timeout(HANG_MS),
  });
  return { status: res.status, body: await res.text() };
}

function expectAnswer(answer: { status: number; body: string }, what: string): void {
  expect([200, 400], `${what}: ${answer.status} ${answer.body.slice(0, 120)}`).toContain(answer.status);
  expect(answer.body, what).toMatch(ANSWER);
  if (answer.status === 400) expect(answer.body, what).toMatch(/^END /);
}

describe('fuzzing USSD sessions through the engine', () => {
  it(
    'random input sequences answer CON/END, leave no lock or broken session, and log no PIN',
    async () => {
      const { services } = server;
      const tally = new Tally();
      const pins = new Map(Object.values(DEMO_PINS).map((pin) => [pin, 'a demo PIN']));
      await fc.assert(
        fc.asyncProperty(sequence, async ({ customer, hops }) => {
          if (customer.clientId) await services.pins.unlock(customer.clientId);
          const firstLine = server.logs.lines.length;
          const sessionId = newSessionId();
          const fields = (text: string) => ({
            sessionId,
            serviceCode: customer.serviceCode,
            phoneNumber: customer.msisdn,
            networkCode: '63902',
            text,
          });
          const typed: string[] = [];
          expectAnswer(await post(fields('')), 'dial');
          for (const [i, { input: value, how }] of hops.entries()) {
            const what = `hop ${i + 1} (${how})`;
            if (how === 'end-notice') {
              const r = await post({ sessionId, phoneNumber: customer.msisdn, status: 'Incomplete', input: typed.join('*') }, EVENTS);
              expect(r.status, what).toBe(200);
              continue;
            }
            if (how === 'retry') {
              expectAnswer(await post(fields(typed.join('*'))), what);
              continue;
            }
            if (how === 'other-number') {
              // Another number posting into this session (threat T8): refused politely, the session untouched.
              const other = customer.msisdn === '+254711000002' ? '+254711000001' : '+254711000002';
              expectAnswer(await post({ ...fields([...typed, value].join('*')), phoneNumber: other }), what);
              continue;
            }
            typed.push(value);
            const text = how === 'latest-only' ? value : typed.join('*');
            if (how === 'twice-at-once') {
              const [a, b] = await Promise.all([post(fields(text)), post(fields(text))]);
              expectAnswer(a, `${what} first`);
              expectAnswer(b, `${what} second`);
              continue;
            }
            const answer = await post(fields(text));
            expectAnswer(answer, what);
            tally.add(answer.status === 400 ? 'refused' : answer.body.startsWith('END') ? 'ended' : 'continued');
            if (answer.status === 200 && answer.body.includes('something went wrong')) tally.add('generic');
          }
          // Never left broken: the lock is released, the session answers again, and the number dials anew.
          expect(await services.store.get(services.keys.lock('ussd', `at:${sessionId}`)), 'the session lock').toBeNull();
          expectAnswer(await post(fields(`${typed.join('*')}*0`)), 'a further hop');
          const freshId = newSessionId();
          const fresh = await post({ ...fields(''), sessionId: freshId });
          expectAnswer(fresh, 'a new dial');
          expect(fresh.status).toBe(200);
          expect(fresh.body, 'a new dial').not.toContain('something went wrong');
          // No PIN in what this sequence logged (checked here too, to shrink to the sequence that leaks).
          const written = server.logs.lines.slice(firstLine).map((text, n) => ({ where: `log line ${firstLine + n + 1}`, text }));
          expect(findLeaks(written, pins)).toEqual([]);
          // Both sessions end as Africa's Talking ends them, with its end-of-session notice (the record is
          // dropped), so the next sequence starts from a clean slate.
          for (const id of [sessionId, freshId]) {
            expect((await post({ sessionId: id, phoneNumber: customer.msisdn, status: 'Success' }, EVENTS)).status).toBe(200);
          }
        }),
        runsOf(RUNS),
      );
      if (process.env.FUZZ_DEBUG) console.log(JSON.stringify([...tally.counts]));
      // The sequences went past the PIN prompt and through the menus, not only into refusals.
      expect(tally.get('continued'), JSON.stringify([...tally.counts])).toBeGreaterThan(RUNS);
    },
    FUZZ_TIMEOUT_MS,
  );
});
