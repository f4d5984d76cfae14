import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, newSessionId, type TestServer } from '../helpers/server.js';

const CALLBACK_KEY = 'test-callback-key-0123456789';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ AT_CALLBACK_KEY: CALLBACK_KEY, ADMIN_TOKEN: 'admin-token-0123456789abcdef' });
});
afterAll(async () => {
  await server?.close();
});

const post = async (body: string | Uint8Array, contentType: string, query = `?key=${CALLBACK_KEY}`) => {
  const res = await fetch(`${server.url}/channels/africastalking/ussd${query}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: body as BodyInit,
  });
  return { status: res.status, body: await res.text() };
};

const valid = { sessionId: 'ATUid_valid', serviceCode: '*384*123#', phoneNumber: '+254711000001', text: '' };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('malformed and forged USSD webhooks', () => {
  it('should answer 403 without the callback key, and with a wrong one, changing nothing (T1)', async () => {
    const sessionId = newSessionId();
    for (const query of ['', '?key=wrong', `?key=${CALLBACK_KEY}x`]) {
      const r = await post(form({ ...valid, sessionId }), 'application/x-www-form-urlencoded', query);
      expect(r.status).toBe(403);
    }
    const { services } = server;
    expect(await services.store.get(services.keys.session('ussd', `at:${sessionId}`))).toBeNull();
    const ok = await post(form({ ...valid, sessionId }), 'application/x-www-form-urlencoded');
    expect(ok.status).toBe(200);
  });

  for (const missing of ['sessionId', 'phoneNumber', 'serviceCode']) {
    it(`should end politely with a 4xx when ${missing} is missing`, async () => {
      const fields: Record<string, string> = { ...valid, sessionId: newSessionId() };
      delete fields[missing];
      const r = await post(form(fields), 'application/x-www-form-urlencoded');
      expect(r.status).toBe(400);
      expect(r.body.startsWith('END ')).toBe(true);
    });
  }

  it('should refuse a phone number that is not one', async () => {
    const r = await post(form({ ...valid, sessionId: newSessionId(), phoneNumber: 'hello' }), 'application/x-www-form-urlencoded');
    expect(r.status).toBe(400);
    expect(r.body.startsWith('END ')).toBe(true);
  });

  it('should refuse a 100 KB text with a 4xx, never a 5xx', async () => {
    const r = await post(form({ ...valid, sessionId: newSessionId(), text: '1'.repeat(100_000) }), 'application/x-www-form-urlencoded');
    expect(r.status).toBe(413);
  });

  it('should refuse a long text under the body limit politely', async () => {
    const r = await post(form({ ...valid, sessionId: newSessionId(), text: '1*'.repeat(2_000) }), 'application/x-www-form-urlencoded');
    expect(r.status).toBe(400);
    expect(r.body.startsWith('END ')).toBe(true);
  });

  it('should refuse a wrong content type with 415', async () => {
    for (const [body, type] of [
      [JSON.stringify(valid), 'application/json'],
      ['sessionId=x', 'text/plain'],
    ] as const) {
      const r = await post(body, type);
      expect(r.status).toBe(415);
    }
  });

  it('should refuse a body that is not parseable or has an unsupported charset with a 4xx', async () => {
    const r = await post('sessionId=x', 'application/x-www-form-urlencoded; charset=ebcdic');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  });

  it('should answer invalid UTF-8 without a 5xx and without corrupting the session', async () => {
    const sessionId = newSessionId();
    const start = await post(form({ ...valid, sessionId }), 'application/x-www-form-urlencoded');
    expect(start.body).toBe('CON Welcome Amina. Enter your PIN:');
    const raw = Buffer.concat([
      Buffer.from(`sessionId=${sessionId}&serviceCode=*384*123%23&phoneNumber=%2B254711000001&text=`),
      Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
    ]);
    const bad = await post(raw, 'application/x-www-form-urlencoded');
    expect(bad.status).toBeLessThan(500);
    const percent = await post(
      `sessionId=${sessionId}&serviceCode=*384*123%23&phoneNumber=%2B254711000001&text=%C3%28%FF`,
      'application/x-www-form-urlencoded',
    );
    expect(percent.status).toBeLessThan(500);
    // The session still works: the next well-formed hop continues it.
    const next = await post(form({ ...valid, sessionId, text: '1234' }), 'application/x-www-form-urlencoded');
    expect(next.body).toMatch(/^CON Main menu/);
  });

  it('should accept the end-of-session notification and drop the session', async () => {
    const sessionId = newSessionId();
    await post(form({ ...valid, sessionId }), 'application/x-www-form-urlencoded');
    const r = await fetch(`${server.url}/channels/africastalking/ussd/events?key=${CALLBACK_KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({
        sessionId,
        phoneNumber: '+254711000001',
        status: 'Incomplete',
        input: '1234',
        durationInMillis: '5000',
        hopsCount: '1',
      }),
    });
    expect(r.status).toBe(200);
    const { services } = server;
    expect(await services.store.get(services.keys.session('ussd', `at:${sessionId}`))).toBeNull();
    expect(server.logs.text).not.toContain('1234');
  });

  it('should protect the admin API with the bearer token (T17)', async () => {
    const url = `${server.url}/admin/customers/1/pin`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: 'Bearer admin-token-0123456789abcdef' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ clientId: 1, locked: false, hard: false, failures: 0, locks: 0 });
  });
});
