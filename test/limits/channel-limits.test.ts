/**
 * Abuse limits on the channel routes, over real HTTP with the sandbox and real Redis (threats T22, T28),
 * and the door's refusals counted in /metrics (T1, T2): a refused request does no work (no session, no
 * Fineract call, no SMS) and gets a polite answer per channel, never a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, newSessionId, type TestServer } from '../helpers/server.js';
import { atSms, postForm, twilioFields, twilioSms } from '../sms/helpers.js';

const KEY = 'callback-key-0123456789abcdef';
const TOKEN = 'twilio-auth-token-0123456789';
const PUBLIC_URL = 'https://kiunga.example.org';
const BUSY = 'END Too many requests. Please try again in a few minutes.';
let perNumber: TestServer;
let perSource: TestServer;

beforeAll(async () => {
  // Loopback is trusted by default (an aggregator or proxy): only the per-number buckets apply.
  perNumber = await startTestServer({
    LIMIT_NUMBER_PER_MIN: '3',
    AT_CALLBACK_KEY: KEY,
    TWILIO_AUTH_TOKEN: TOKEN,
    PUBLIC_URL,
    FINERACT_HOOK_SECRET: 'hook-secret-0123456789abcdef',
  });
  // No trusted source: the test's own address is one caller with a per-source bucket.
  perSource = await startTestServer({ LIMIT_SOURCE_PER_MIN: '5', TRUSTED_SOURCES: '' });
});
afterAll(async () => {
  await perNumber?.close();
  await perSource?.close();
});

const ussd = (server: TestServer, phoneNumber: string, sessionId = newSessionId(), query = `?key=${KEY}`) =>
  server.ussd({ sessionId, serviceCode: '*384*123#', phoneNumber, networkCode: '63902', text: '' }, query);
const received = (server: TestServer) => server.services.sandbox!.control.requests.length;
const metrics = async (server: TestServer) => (await fetch(`${server.url}/metrics`)).text();

describe('per-number limits (LIMIT_NUMBER_PER_MIN)', () => {
  it('should answer the hop over the limit with a polite END before any work', async () => {
    const number = '+254733100001'; // nobody's: every hop would cost a Fineract lookup
    for (let i = 0; i < 3; i++) expect((await ussd(perNumber, number)).body).toMatch(/^CON Welcome\. This number has no bank account yet/);
    const before = received(perNumber);
    const sessionId = newSessionId();
    const refused = await ussd(perNumber, number, sessionId);
    expect([refused.status, refused.body]).toEqual([200, BUSY]);
    expect(received(perNumber)).toBe(before);
    expect(await perNumber.services.store.get(perNumber.services.keys.session('ussd', `at:${sessionId}`))).toBeNull();
    // Another number is not affected.
    expect((await ussd(perNumber, '+254711000001')).body).toMatch(/^CON Welcome Amina/);
  });

  it('should count a number across channels and answer SMS over the limit with 429 and no SMS', async () => {
    const number = '+254733100002';
    for (let i = 0; i < 2; i++) expect((await ussd(perNumber, number)).status).toBe(200);
    expect((await atSms(perNumber, number, 'HELP', {}, `?key=${KEY}`)).status).toBe(200);
    const refused = await atSms(perNumber, number, 'HELP', {}, `?key=${KEY}`);
    expect(refused.status).toBe(429);
    const tw = await twilioSms(perNumber, twilioFields(number, 'HELP'), { token: TOKEN, publicUrl: PUBLIC_URL });
    expect(tw.status).toBe(429);
    expect(tw.body).not.toContain('<Message>');
    // Only the one admitted SMS was answered.
    await new Promise((r) => setTimeout(r, 300));
    expect(perNumber.services.outbox!.list(number).length).toBeLessThanOrEqual(1);
  });
});

describe('per-source limits (LIMIT_SOURCE_PER_MIN, TRUSTED_SOURCES)', () => {
  it('should refuse the request over the limit from one untrusted address, whatever the number', async () => {
    for (let i = 0; i < 5; i++)
      expect((await ussd(perSource, `+2547331002${String(i).padStart(2, '0')}`, newSessionId(), '')).status).toBe(200);
    const before = received(perSource);
    const refused = await ussd(perSource, '+254711000001', newSessionId(), '');
    expect([refused.status, refused.body]).toEqual([200, BUSY]);
    const sms = await atSms(perSource, '+254711000002', 'HELP');
    expect(sms.status).toBe(429);
    expect(received(perSource)).toBe(before);
    expect(await metrics(perSource)).toMatch(
      /kiunga_refused_requests_total\{route="\/channels\/africastalking\/ussd",reason="source limit"\} 1/,
    );
  });

  it('should not limit a trusted aggregator address per source (the default trusts loopback)', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await ussd(perNumber, `+2547331003${String(i).padStart(2, '0')}`);
      expect(res.body).not.toBe(BUSY);
    }
  });
});

describe('refused keys and signatures (403) are logged and counted', () => {
  it('should count each refusal by route and reason, and log the masked number, never the key', async () => {
    expect((await ussd(perNumber, '+254711000001', newSessionId(), '')).status).toBe(403);
    expect((await ussd(perNumber, '+254711000001', newSessionId(), '?key=wrong-key-0123456789')).status).toBe(403);
    expect(
      (
        await twilioSms(perNumber, twilioFields('+254711000001', 'HELP'), {
          token: TOKEN,
          publicUrl: PUBLIC_URL,
          signature: 'bm90IGEgc2lnbmF0dXJl',
        })
      ).status,
    ).toBe(403);
    expect((await postForm(perNumber, '/hooks/fineract/not-the-secret-0123456789/', {})).status).toBe(403);
    const text = await metrics(perNumber);
    expect(text).toMatch(/kiunga_refused_requests_total\{route="\/channels\/africastalking\/ussd",reason="no key"\} [1-9]/);
    expect(text).toMatch(/kiunga_refused_requests_total\{route="\/channels\/africastalking\/ussd",reason="wrong key"\} 1/);
    expect(text).toMatch(/kiunga_refused_requests_total\{route="\/channels\/twilio\/sms",reason="invalid signature"\} 1/);
    expect(text).toMatch(/kiunga_refused_requests_total\{route="[^"]*hooks[^"]*",reason="[^"]+"\} 1/);
    expect(text).toMatch(/kiunga_refused_requests_total\{route="\/channels\/africastalking\/ussd",reason="number limit"\} [1-9]/);
    expect(text).not.toContain('not-the-secret');
    const refusals = perNumber.logs.lines.filter((l) => l.includes('"request refused"'));
    expect(refusals.some((l) => l.includes('"reason":"wrong key"') && l.includes('"msisdn":"+2547******01"'))).toBe(true);
    expect(perNumber.logs.text).not.toContain('wrong-key-0123456789');
    expect(perNumber.logs.text).not.toContain('bm90IGEgc2lnbmF0dXJl');
    expect(perNumber.logs.text).not.toContain('+254711000001');
  });
});
