import type { CaseTable, Step } from './harness.js';

/** Africa's Talking USSD: `CON`/`END` text answers, the callback key, the polite END for whatever is wrong. */

const USSD = '/channels/africastalking/ussd';
const GENERIC = 'END Sorry, something went wrong. Please try again.';
const hop = (text: string, extra: Partial<Step> & Pick<Step, 'status'>, phoneNumber = '+254711000001'): Step => ({
  path: USSD,
  query: 'key=$KEY',
  form: { sessionId: 'ATUid_$ID', serviceCode: '*384*123#', phoneNumber, text, networkCode: '63902' },
  ...extra,
});

export const atUssdCases: CaseTable = {
  adapter: 'africastalking-ussd',
  // A low per-number limit, so that one case can run into it (the clock moves 10 minutes between cases).
  env: { LIMIT_NUMBER_PER_MIN: '6' },
  cases: [
    {
      name: 'dial, PIN, balance: CON then END, with Server-Timing',
      steps: [
        hop('', { status: 200, body: 'CON Welcome Amina. Enter your PIN:', headers: { 'server-timing': /^hop;dur=\d+(\.\d)?$/ } }),
        hop('1234', { status: 200, body: /^CON Main menu\n1\. Balance/ }),
        hop('1234*1', { status: 200, body: /^END .*KES 12,500\.00/s }),
      ],
    },
    {
      name: 'the same hop posted again gets the recorded answer',
      threat: 'T9',
      steps: [
        hop('', { status: 200 }),
        hop('1234', { status: 200, body: /^CON Main menu/ }),
        hop('1234', { status: 200, body: /^CON Main menu/ }),
      ],
    },
    {
      name: 'a dial string carrying the PIN answers in one hop, and the PIN is never logged',
      threat: 'T6',
      steps: [hop('1234*1', { status: 200, body: /^END .*KES 12,500\.00/s })],
    },
    {
      name: 'no key and a wrong key: 403',
      threat: 'T1',
      steps: [
        { ...hop('', { status: 403, body: 'forbidden' }), query: '' },
        { ...hop('', { status: 403, body: 'forbidden' }), query: 'key=wrong-key-0123456789' },
      ],
    },
    {
      name: 'a hop from another number in the same session: a polite END',
      threat: 'T8',
      steps: [hop('', { status: 200, body: /^CON Welcome Amina/ }), hop('1234', { status: 200, body: GENERIC }, '+254711000002')],
    },
    {
      name: 'malformed fields: 400 with a polite END',
      threat: 'T22',
      steps: [
        hop('', { status: 400, body: GENERIC }, 'not-a-number'),
        {
          ...hop('', { status: 400, body: GENERIC }),
          form: { sessionId: 'bad id with spaces', serviceCode: '*384*123#', phoneNumber: '+254711000001', text: '' },
        },
        hop('1234\u0000', { status: 400, body: GENERIC }),
        hop('9'.repeat(1001), { status: 400, body: GENERIC }),
      ],
    },
    {
      name: 'a body that is not a form: 415',
      steps: [
        {
          path: USSD,
          query: 'key=$KEY',
          raw: { type: 'application/json', body: '{"text":"1234"}' },
          status: 415,
          body: 'END expected application/x-www-form-urlencoded',
        },
      ],
    },
    {
      name: 'over the per-number limit: a polite END and Retry-After, admitted again a minute later',
      threat: 'T22',
      steps: [
        ...Array.from({ length: 6 }, () => hop('', { status: 200, body: /^CON Welcome Amina/ })),
        hop('', { status: 200, body: 'END Too many requests. Please try again in a few minutes.', headers: { 'retry-after': /^\d+$/ } }),
        hop('', { status: 200, body: /^CON Welcome Amina/, advanceMs: 60_000 }),
      ],
    },
    {
      name: "AT's end-of-session notification (which repeats every input, PIN included): OK, and the session is gone",
      threat: 'T6',
      steps: [
        hop('', { status: 200 }),
        {
          path: `${USSD}/events`,
          query: 'key=$KEY',
          form: {
            sessionId: 'ATUid_$ID',
            phoneNumber: '+254711000001',
            status: 'Success',
            input: '1234*1',
            lastAppResponse: 'END Balance KES 12,500.00',
          },
          status: 200,
          body: 'OK',
        },
        { path: `${USSD}/events`, query: 'key=$KEY', form: { status: 'Success' }, status: 400, body: 'missing or invalid sessionId' },
      ],
    },
  ],
};
