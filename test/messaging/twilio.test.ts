import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTwilioClient, twilioFailure, type TwilioClient } from '../../src/messaging/twilio-client.js';
import { TwilioMessenger } from '../../src/messaging/twilio-messenger.js';
import { TwilioDialer } from '../../src/messaging/twilio-dialer.js';
import { PermanentDeliveryError, TransientDeliveryError } from '../../src/messaging/errors.js';
import { FakeProvider, twilioError } from './fake-provider.js';

/**
 * The Twilio adapters, through the real `twilio` SDK (its own request code, with a RequestClient that
 * sends to a loopback fake instead of api.twilio.com): what goes on the wire, and how answers are judged.
 */

const SID = 'AC00000000000000000000000000000001';
const TOKEN = 'twilio-test-token';
const FROM = '+15005550006';
const AMINA = '+254711000001';
const PUBLIC_URL = 'https://kiunga.example/base/';
let fake: FakeProvider;
let client: TwilioClient;

const message = (status = 'queued', extra: Record<string, unknown> = {}) => ({
  sid: `SM${'0'.repeat(30)}01`,
  account_sid: SID,
  status,
  to: AMINA,
  from: FROM,
  body: 'x',
  error_code: null,
  ...extra,
});
const call = () => ({ sid: `CA${'0'.repeat(30)}07`, account_sid: SID, status: 'queued', to: AMINA, from: FROM });

beforeAll(async () => {
  fake = await new FakeProvider().start();
  client = createTwilioClient({ accountSid: SID, authToken: TOKEN, apiBaseUrl: fake.url, timeoutMs: 500 });
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

describe('Twilio SMS', () => {
  it('should post To, From and Body to the account Messages resource with Basic auth, and return the sid', async () => {
    fake.on('/Messages.json', () => ({ status: 201, body: message() }));
    const { id } = await new TwilioMessenger({ client, from: FROM }).send({ to: AMINA, text: 'Balance KES 12,500.00 & more', ref: 'r1' });
    expect(id).toBe(`SM${'0'.repeat(30)}01`);
    const req = fake.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`);
    expect(Object.fromEntries(req.pairs)).toEqual({ To: AMINA, From: FROM, Body: 'Balance KES 12,500.00 & more' });
    expect(req.raw).not.toContain('undefined');
  });

  it('should give up on an invalid or opted-out number and retry on 429, 5xx and no answer', async () => {
    const messenger = new TwilioMessenger({ client, from: FROM });
    const cases: [() => ReturnType<typeof twilioError>, typeof TransientDeliveryError | typeof PermanentDeliveryError, string][] = [
      [() => twilioError(400, 21211, "The 'To' number is not a valid phone number."), PermanentDeliveryError, 'HTTP 400 code 21211'],
      [() => twilioError(400, 21610, 'Attempt to send to unsubscribed recipient'), PermanentDeliveryError, 'HTTP 400 code 21610'],
      [() => twilioError(429, 20429, 'Too Many Requests'), TransientDeliveryError, 'HTTP 429 code 20429'],
      [() => twilioError(503, 20500, 'Service unavailable'), TransientDeliveryError, 'HTTP 503 code 20500'],
    ];
    for (const [answer, kind, reason] of cases) {
      fake.on('/Messages.json', answer);
      const err = await messenger.send({ to: AMINA, text: 'hi' }).catch((e: unknown) => e);
      expect(err, reason).toBeInstanceOf(kind);
      expect((err as Error).message).toContain(reason);
      expect((err as Error).message).not.toContain('711000001');
    }
    fake.on('/Messages.json', () => ({ status: 201, body: message(), delayMs: 2000 }));
    await expect(messenger.send({ to: AMINA, text: 'hi' })).rejects.toBeInstanceOf(TransientDeliveryError);
    // A message Twilio created already failed: judged by its error code.
    fake.on('/Messages.json', () => ({ status: 201, body: message('failed', { error_code: 21610 }) }));
    await expect(messenger.send({ to: AMINA, text: 'hi' })).rejects.toBeInstanceOf(PermanentDeliveryError);
  });

  it('should map errors without a status (network) to transient', () => {
    expect(twilioFailure(Object.assign(new Error('socket hang up'), { isAxiosError: true, code: 'ECONNRESET' }), 'sms')).toBeInstanceOf(
      TransientDeliveryError,
    );
    expect(twilioFailure(new Error('odd'), 'sms')).toBeInstanceOf(TransientDeliveryError);
  });
});

describe('Twilio calls', () => {
  it('should create the call with the voice and status webhooks under PUBLIC_URL, carrying the ref', async () => {
    fake.on('/Calls.json', () => ({ status: 201, body: call() }));
    const dialer = new TwilioDialer({ client, from: FROM, publicUrl: PUBLIC_URL });
    const { id } = await dialer.call({ to: AMINA, ref: 'cb-42' });
    expect(id).toBe(`CA${'0'.repeat(30)}07`);
    const req = fake.requests[0]!;
    expect(req.path).toBe(`/2010-04-01/Accounts/${SID}/Calls.json`);
    const single = Object.fromEntries(req.pairs.filter(([k]) => k !== 'StatusCallbackEvent'));
    expect(single).toEqual({
      To: AMINA,
      From: FROM,
      Url: 'https://kiunga.example/base/channels/twilio/voice?ref=cb-42',
      Method: 'POST',
      StatusCallback: 'https://kiunga.example/base/channels/twilio/voice/status?ref=cb-42',
      StatusCallbackMethod: 'POST',
      Timeout: '30',
    });
    expect(req.pairs.filter(([k]) => k === 'StatusCallbackEvent').map(([, v]) => v)).toEqual([
      'initiated',
      'ringing',
      'answered',
      'completed',
    ]);
    expect(req.raw).not.toContain('undefined');
  });

  it('should give up when Twilio may not call that number (geo permissions) and retry on 5xx', async () => {
    const dialer = new TwilioDialer({ client, from: FROM, publicUrl: PUBLIC_URL });
    fake.on('/Calls.json', () => twilioError(400, 21215, 'Account not authorized to call this number'));
    await expect(dialer.call({ to: AMINA, ref: 'cb-1' })).rejects.toBeInstanceOf(PermanentDeliveryError);
    fake.on('/Calls.json', () => twilioError(500, 20500, 'Internal'));
    await expect(dialer.call({ to: AMINA, ref: 'cb-1' })).rejects.toBeInstanceOf(TransientDeliveryError);
  });
});
