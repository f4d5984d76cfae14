import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Threat T8: a session is bound to the phone number and the service code it started with. A hop that reuses
 * the session id with another number or another service code is refused and does not touch the session.
 */

const AMINA = '+254711000001';
const BARAKA = '+254711000002';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('a USSD session belongs to its number and service code (T8)', () => {
  it('should refuse a hop that reuses a session id with another service code, and leave the session as it was', async () => {
    const s = atSession(server, AMINA, '*384*123#');
    expect((await s.send()).body).toBe('CON Welcome Amina. Enter your PIN:');
    const key = server.services.keys.session('ussd', `at:${s.sessionId}`);
    const before = await server.services.store.get(key);
    const other = await server.ussd({
      sessionId: s.sessionId,
      serviceCode: '*384*999#',
      phoneNumber: AMINA,
      networkCode: '63902',
      text: '1234',
    });
    expect(other.body.startsWith('END ')).toBe(true);
    expect(other.body).not.toMatch(/Main menu|Balance/);
    expect(await server.services.store.get(key)).toBe(before);
    expect((await s.send('1234')).body).toMatch(/^CON Main menu/);
  });

  it('should refuse a hop from another number in the middle of a session, without showing that session', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    expect((await s.send('1234')).body).toMatch(/^CON Main menu/);
    // Baraka's phone (or a forger) sends the next hop of Amina's session: it must not see her balance.
    const hijack = await server.ussd({
      sessionId: s.sessionId,
      serviceCode: '*384*123#',
      phoneNumber: BARAKA,
      networkCode: '63902',
      text: '1234*1',
    });
    expect(hijack.body.startsWith('END ')).toBe(true);
    expect(hijack.body).not.toMatch(/12,500|Akiba|000000001/);
    expect((await s.send('1')).body).toMatch(/^END Balance\nAkiba Savings 000000001: KES 12,500\.00$/);
  });
});
