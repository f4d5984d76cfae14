import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Threat T17: the operator API. Only the exact bearer token passes (no prefix, no extension, no other
 * scheme, not in the query); a refused call changes nothing; the token never reaches a log line; error
 * answers carry no personal data; with no token configured the API does not exist.
 */

const TOKEN = 'admin-token-for-threat-tests-0123456789';
const CLIENT = 4; // Duma Traders, locked and unlocked by these tests

let server: TestServer;
let off: TestServer;
beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKEN: TOKEN });
  off = await startTestServer({});
});
afterAll(async () => {
  await server?.close();
  await off?.close();
});

const call = (s: TestServer, method: string, path: string, authorization?: string) =>
  fetch(`${s.url}${path}`, { method, headers: authorization === undefined ? {} : { authorization } }).then(async (r) => ({
    status: r.status,
    body: await r.text(),
  }));

describe('the admin API (T17)', () => {
  it('should refuse every credential but the exact bearer token with 401, and change nothing', async () => {
    const { pins } = server.services;
    for (let i = 0; i < 5; i++) await pins.verify(CLIENT, '0000');
    expect(await pins.isLocked(CLIENT)).toBe(true);
    const forged = [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer wrong',
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.toUpperCase()}`,
      `Bearer  ${TOKEN}`,
      `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`,
      TOKEN,
    ];
    for (const authorization of forged) {
      for (const [method, path] of [
        ['GET', `/admin/customers/${CLIENT}/pin`],
        ['DELETE', `/admin/customers/${CLIENT}/pin/lock`],
        ['DELETE', `/admin/customers/${CLIENT}/pin/lock?token=${TOKEN}`],
      ] as const) {
        const r = await call(server, method, path, authorization);
        expect([authorization, method, path, r.status, r.body]).toEqual([authorization, method, path, 401, 'unauthorized']);
      }
    }
    expect(await pins.isLocked(CLIENT)).toBe(true);
    const ok = await call(server, 'DELETE', `/admin/customers/${CLIENT}/pin/lock`, `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await pins.isLocked(CLIENT)).toBe(false);
  });

  it('should log each call, allowed or refused, without the token or the Authorization header', async () => {
    const before = server.logs.lines.length;
    await call(server, 'GET', `/admin/customers/${CLIENT}/pin`, `Bearer ${TOKEN}`);
    await call(server, 'GET', `/admin/customers/${CLIENT}/pin`, `Bearer ${TOKEN}-guess`);
    const lines = server.logs.lines.slice(before).join('\n');
    expect(lines).toContain('admin call');
    expect(lines).toContain('admin call refused');
    expect(lines).not.toContain(TOKEN);
    expect(server.logs.text).not.toContain(TOKEN);
  });

  it('should answer errors without echoing what was sent (no phone number, no token)', async () => {
    const r = await call(server, 'GET', `/admin/customers/${encodeURIComponent('+254711000001')}/pin`, `Bearer ${TOKEN}`);
    expect(r.status).toBe(400);
    expect(r.body).not.toMatch(/711000001|\+254/);
    const missing = await call(server, 'GET', `/admin/customers/+254711000001`, `Bearer ${TOKEN}`);
    expect(missing.status).toBe(404);
    expect(missing.body).not.toMatch(/711000001/);
  });

  it('should not exist when no admin token is configured, whatever is sent', async () => {
    for (const authorization of [undefined, 'Bearer ', `Bearer ${TOKEN}`, 'Bearer undefined']) {
      const r = await call(off, 'GET', `/admin/customers/${CLIENT}/pin`, authorization);
      expect(r.status).toBe(404);
    }
  });
});
