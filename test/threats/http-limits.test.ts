import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Threat T22: denial of service through the HTTP routes. Bodies above the limit (16 KB: AT and Twilio send
 * well under 4 KB) are refused with 413 before any route runs, on every route and for every body type;
 * malformed bodies get a 4xx with a short reason; none of it is a 5xx, and the server keeps serving.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ FINERACT_HOOK_SECRET: 'hook-secret-for-threat-tests-0123456789' });
});
afterAll(async () => {
  await server?.close();
});

const ROUTES = [
  '/channels/africastalking/ussd',
  '/channels/africastalking/ussd/events',
  '/channels/africastalking/sms',
  '/channels/africastalking/sms/delivery',
  '/channels/africastalking/voice',
  '/channels/twilio/sms',
  '/channels/twilio/voice',
  '/channels/twilio/voice/status',
  '/hooks/fineract',
  '/hooks/fineract/hook-secret-for-threat-tests-0123456789/',
  '/admin/customers/1/pin/lock',
  '/no/such/route',
];

const post = async (path: string, body: string | Uint8Array, headers: Record<string, string>) => {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body: body as BodyInit });
  return { status: res.status, body: await res.text() };
};

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };

describe('body limits and malformed bodies (T22)', () => {
  it('should refuse a 20 KB body with 413 on every route, form-encoded or JSON, before any route runs', async () => {
    const form = new URLSearchParams({
      sessionId: 'ATUid_big',
      phoneNumber: '+254711000001',
      serviceCode: '*384*123#',
      text: '',
      pad: 'x'.repeat(20_000),
    }).toString();
    const json = JSON.stringify({ entityName: 'SAVINGSACCOUNT', actionName: 'DEPOSIT', pad: 'x'.repeat(20_000) });
    for (const path of ROUTES) {
      const f = await post(path, form, FORM);
      expect([path, 'form', f.status]).toEqual([path, 'form', 413]);
      const j = await post(path, json, JSON_TYPE);
      expect([path, 'json', j.status]).toEqual([path, 'json', 413]);
    }
  });

  it('should refuse a 5 MB body and a form with hundreds of fields without a 5xx', async () => {
    const huge = await post('/channels/africastalking/ussd', 'text=' + '1'.repeat(5_000_000), FORM);
    expect(huge.status).toBe(413);
    const fields = Array.from({ length: 500 }, (_, i) => `f${i}=1`).join('&');
    const many = await post('/channels/africastalking/ussd', fields, FORM);
    expect(many.status).toBeGreaterThanOrEqual(400);
    expect(many.status).toBeLessThan(500);
  });

  it('should answer malformed JSON, bad encodings and bad charsets with a 4xx, never a 5xx', async () => {
    const cases: [string, string | Uint8Array, Record<string, string>][] = [
      ['/hooks/fineract', '{"entityName": ', JSON_TYPE],
      ['/hooks/fineract', '\u0000\u0001', JSON_TYPE],
      ['/hooks/fineract', '{"a":1}', { 'content-type': 'application/json; charset=utf-7' }],
      ['/channels/africastalking/ussd', 'text=%', FORM],
      ['/channels/africastalking/ussd', 'sessionId=x', { ...FORM, 'content-encoding': 'gzip' }],
      ['/channels/africastalking/ussd', 'sessionId=x', { ...FORM, 'content-encoding': 'br, zstd, nonsense' }],
      [
        '/channels/africastalking/sms',
        new Uint8Array([0xff, 0xfe, 0x00, 0x3d]),
        { 'content-type': 'application/x-www-form-urlencoded; charset=utf-16' },
      ],
      ['/channels/twilio/sms', 'Body=%E0%A4%A', FORM],
    ];
    for (const [path, body, headers] of cases) {
      const r = await post(path, body, headers);
      expect([path, headers, r.status >= 400 && r.status < 500]).toEqual([path, headers, true]);
      expect(r.body).not.toMatch(/at .*\.(ts|js):\d+|Error:/); // no stack trace
    }
  });

  it('should keep serving customers after a flood of oversized and malformed requests', async () => {
    const junk = Array.from({ length: 120 }, (_, i) =>
      i % 2 === 0 ? post('/channels/africastalking/ussd', 'text=' + '9'.repeat(40_000), FORM) : post('/hooks/fineract', '{"x":', JSON_TYPE),
    );
    const statuses = (await Promise.all(junk)).map((r) => r.status);
    expect(statuses.every((s) => s >= 400 && s < 500)).toBe(true);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const s = atSession(server, '+254711000001');
    expect((await s.send()).body).toBe('CON Welcome Amina. Enter your PIN:');
  });
});
