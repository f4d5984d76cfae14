import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelAdapters } from '../../src/channels/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  DEFAULT_RUNS,
  digits,
  envelopeArb,
  expectPolite,
  formArb,
  FUZZ_TIMEOUT_MS,
  junk,
  runsOf,
  send,
  signingArb,
  Tally,
  type Answer,
} from './fuzz-kit.js';

/**
 * Fuzzing of every channel adapter's routes (issue 13, item 4): random and malformed webhooks (random fields,
 * wrong types and encodings, huge and empty values, wrong content types, forged and missing keys) over real
 * HTTP to the whole app with the built-in sandbox and a real Redis. Twilio requests carry a valid signature
 * over the random payload most of the time, so that they reach the adapter's logic rather than the door.
 * Property: a 2xx with the route's polite reply, or a 4xx; never a 5xx, a dropped connection or a hang.
 */

const AT_KEY = 'at-callback-key-fuzz-0123456789abcdef';
const TWILIO_TOKEN = 'twilio-fuzz-auth-token-0123456789abcdef';
const PUBLIC_URL = 'https://kiunga.example.org';

const RUNS = Number(process.env.FUZZ_RUNS_PER_ROUTE ?? DEFAULT_RUNS.channelRoute);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    AT_CALLBACK_KEY: AT_KEY,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    PUBLIC_URL,
    SMS_PIN_ENABLED: 'true',
    CALLBACK_DELAY_MS: '50',
  });
});
afterAll(async () => {
  await server?.close();
});

/** Numbers as aggregators send them: the demo customers written every way, nobody's, foreign, broken. */
const msisdn = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      '+254711000001',
      '+254711000002',
      '254711000003',
      '0711000004',
      '+254 711 000002',
      '+254711000009',
      '+255711000009',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('+15005550006', '+2547', '+254711000001000', 'MPESA', '+', '00254711000001', 'tel:+254711000001'),
  },
  { weight: 1, arbitrary: digits(1, 15).map((d) => `+${d}`) },
);
const id = (prefix: string) =>
  fc.oneof(
    fc.constant(`${prefix}fuzz`),
    fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/).map((s) => `${prefix}${s}`),
  );
/** What a customer types: keypad digits with `*` and `#`, keywords, menus' 0/00/98. */
const keyed = fc.oneof(
  digits(0, 6),
  fc.constantFrom('0', '00', '98', '*', '#', '1*1234', '1234', '2468', '1*2468*1', '*384*123#'),
  fc.array(fc.constantFrom('1', '2', '3', '0', '00', '98', '1234', '2468', '9'), { maxLength: 6 }).map((a) => a.join('*')),
);
const smsText = fc.oneof(
  fc.constantFrom('BAL 2468', 'BAL', 'HELP', 'MINI 1234', 'STOP', 'KIUNGA BAL 1234', 'bal 2468', 'SEND 100 000000001 2468', 'LANG sw'),
  fc
    .tuple(fc.constantFrom('BAL', 'MINI', 'SEND', 'HELP', 'LANG', 'PIN'), fc.array(junk, { maxLength: 3 }))
    .map(([k, rest]) => [k, ...rest].join(' ')),
);
const atQuery = (extra: fc.Arbitrary<string> = fc.constant('')) =>
  fc
    .tuple(
      fc.oneof(
        { weight: 10, arbitrary: fc.constant(`key=${encodeURIComponent(AT_KEY)}`) },
        {
          weight: 1,
          arbitrary: fc.constantFrom('', 'key=', 'key=wrong', `key=${AT_KEY}x`, `key=${AT_KEY}&key=${AT_KEY}`, 'key=%ZZ', `KEY=${AT_KEY}`),
        },
      ),
      extra,
    )
    .map(([key, more]) => [key, more].filter(Boolean).join('&'));
const voiceQuery = fc.oneof(
  fc.constant(''),
  fc
    .tuple(fc.option(junk, { nil: undefined }), fc.option(fc.oneof(digits(1, 3), junk), { nil: undefined }))
    .map(([ref, seq]) =>
      [ref === undefined ? '' : `ref=${encodeURIComponent(ref)}`, seq === undefined ? '' : `seq=${encodeURIComponent(seq)}`]
        .filter(Boolean)
        .join('&'),
    ),
);

interface Route {
  name: string;
  path: string;
  query: fc.Arbitrary<string>;
  fields: Record<string, fc.Arbitrary<string>>;
  twilio?: true;
  /** What a 2xx body must look like (the route's polite reply). */
  reply: RegExp;
  /** What a 4xx body must look like, when the route promises a format for it (USSD: a polite END). */
  refusal?: RegExp;
}

const TWIML = /^<\?xml version="1\.0" encoding="UTF-8"\?><Response(?:\/>|>[\s\S]*<\/Response>)$/;
const AT_XML = /^(?:|<\?xml version="1\.0" encoding="UTF-8"\?><Response(?:\/>|>[\s\S]*<\/Response>))$/;

const ROUTES: Route[] = [
  {
    name: 'AT USSD',
    path: '/channels/africastalking/ussd',
    query: atQuery(),
    fields: {
      sessionId: id('ATUid_'),
      serviceCode: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('*384*123#', '*384*124#') },
        { weight: 1, arbitrary: fc.constantFrom('*384#', '*999#', '#', '*') },
      ),
      phoneNumber: msisdn,
      networkCode: fc.constantFrom('63902', '63903', ''),
      text: keyed,
    },
    reply: /^(CON|END) [\s\S]+$/,
    refusal: /^(END [\s\S]+|forbidden)$/,
  },
  {
    name: 'AT USSD end-of-session',
    path: '/channels/africastalking/ussd/events',
    query: atQuery(),
    fields: {
      sessionId: id('ATUid_'),
      phoneNumber: msisdn,
      status: fc.constantFrom('Success', 'Incomplete', 'Failed'),
      input: keyed,
      durationInMillis: digits(1, 6),
      hopsCount: digits(1, 2),
      lastAppResponse: junk,
    },
    reply: /^OK$/,
  },
  {
    name: 'AT SMS',
    path: '/channels/africastalking/sms',
    query: atQuery(),
    fields: {
      from: msisdn,
      to: fc.constantFrom('22384', '+22384', 'KIUNGA'),
      text: smsText,
      date: fc.constantFrom('2026-11-20 09:00:00', 'yesterday', ''),
      id: id('ATXid_'),
      linkId: id('L'),
      networkCode: fc.constantFrom('63902', ''),
    },
    reply: /^OK$/,
  },
  {
    name: 'AT SMS delivery report',
    path: '/channels/africastalking/sms/delivery',
    query: atQuery(),
    fields: {
      id: id('ATXid_'),
      status: fc.constantFrom('Success', 'Failed', 'Rejected', 'Buffered', 'Sent', 'Submitted'),
      phoneNumber: msisdn,
      failureReason: fc.constantFrom('InsufficientCredit', 'UserInBlacklist', ''),
      networkCode: fc.constantFrom('63902', ''),
    },
    reply: /^OK$/,
  },
  {
    name: 'AT voice',
    path: '/channels/africastalking/voice',
    query: atQuery(voiceQuery),
    fields: {
      sessionId: id('ATVId_'),
      direction: fc.constantFrom('Inbound', 'Outbound', 'inbound', ''),
      isActive: fc.constantFrom('1', '0', 'true', ''),
      callerNumber: msisdn,
      destinationNumber: fc.constantFrom('+254711082000', ''),
      clientRequestId: junk,
      dtmfDigits: keyed,
      hangupCause: fc.constantFrom('NORMAL_CLEARING', 'USER_BUSY', 'NO_ANSWER', 'CALL_REJECTED', 'UNSPECIFIED'),
      durationInSeconds: digits(1, 4),
    },
    reply: AT_XML,
  },
  {
    name: 'Twilio SMS',
    path: '/channels/twilio/sms',
    query: fc.constant(''),
    twilio: true,
    fields: {
      MessageSid: id('SM'),
      SmsSid: id('SM'),
      AccountSid: fc.constant('AC00000000000000000000000000000000'),
      From: msisdn,
      To: fc.constantFrom('+15005550006', ''),
      Body: smsText,
      NumMedia: fc.constantFrom('0', '1'),
    },
    reply: TWIML,
  },
  {
    name: 'Twilio voice',
    path: '/channels/twilio/voice',
    query: voiceQuery,
    twilio: true,
    fields: {
      CallSid: id('CA'),
      Direction: fc.constantFrom('inbound', 'outbound-api', 'outbound-dial', ''),
      From: msisdn,
      To: msisdn,
      Digits: keyed,
      CallStatus: fc.constantFrom('ringing', 'in-progress', 'completed'),
    },
    reply: TWIML,
  },
  {
    name: 'Twilio voice status',
    path: '/channels/twilio/voice/status',
    query: voiceQuery,
    twilio: true,
    fields: {
      CallSid: id('CA'),
      CallStatus: fc.constantFrom('completed', 'busy', 'no-answer', 'failed', 'canceled', 'ringing', 'x'),
      Direction: fc.constantFrom('inbound', 'outbound-api', ''),
      CallDuration: digits(1, 4),
    },
    reply: TWIML,
  },
];

describe('fuzzing the channel adapters over HTTP', () => {
  it('covers every route of every channel adapter the app serves, with at least 10,000 cases in all', () => {
    const served = channelAdapters(server.services).flatMap((adapter) => adapter.routes.map((r) => r.path));
    expect(ROUTES.map((r) => r.path).sort()).toEqual(served.sort());
    const { channelRoute, hooks, admin, sessions } = DEFAULT_RUNS;
    expect(ROUTES.length * channelRoute + hooks + admin + sessions).toBeGreaterThanOrEqual(10_000);
  });

  for (const route of ROUTES) {
    it(
      `${route.name}: random and malformed requests get a polite 2xx or a 4xx, never a 5xx or a hang`,
      async () => {
        const tally = new Tally();
        const request = fc.record({ query: route.query, envelope: envelopeArb(formArb(route.fields)), signing: signingArb });
        await fc.assert(
          fc.asyncProperty(request, async ({ query, envelope, signing }) => {
            const target = `${route.path}${query ? `?${query}` : ''}`;
            const answer: Answer = await send(server.url, {
              target,
              envelope,
              twilio: route.twilio ? { signing, token: TWILIO_TOKEN, publicUrl: PUBLIC_URL } : undefined,
            });
            const what = `${route.name} ${envelope.kind} ${target}`;
            expectPolite(answer, what);
            if (answer.status < 300) expect(answer.body, what).toMatch(route.reply);
            else if (route.refusal) expect(answer.body, what).toMatch(route.refusal);
            tally.add(`${envelope.kind}:${answer.status}`);
            tally.add(answer.status < 300 ? 'reached' : 'refused');
            if (route.twilio && signing === 'valid' && envelope.kind === 'form')
              tally.add(answer.status === 403 ? 'signed-403' : 'signed-passed');
          }),
          runsOf(RUNS),
        );
        // The fuzzing must reach the adapter's logic, not stop at the door: a good share of the cases answered
        // 2xx (a quarter to a half, by route; FUZZ_DEBUG=1 prints the counts), and every validly signed Twilio
        // form passed the signature check.
        if (process.env.FUZZ_DEBUG) console.log(JSON.stringify([...tally.counts]));
        expect(tally.get('reached'), JSON.stringify([...tally.counts])).toBeGreaterThan(RUNS * 0.15);
        if (route.twilio) expect(tally.get('signed-403'), JSON.stringify([...tally.counts])).toBe(0);
      },
      FUZZ_TIMEOUT_MS,
    );
  }
});
