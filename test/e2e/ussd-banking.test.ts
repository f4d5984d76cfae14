import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, atSession, newSessionId, type TestServer } from '../helpers/server.js';
import { decodeRecord } from '../../src/engine/session-record.js';

const AMINA = '+254711000001';
const BARAKA = '+254711000002';
const CHANYA = '+254711000003';
const DUMA = '+254711000004';
const NOBODY = '+254711000009';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe("USSD banking over Africa's Talking, with Redis and the sandbox", () => {
  it('should ask for the PIN, show the menu, then the available balance', async () => {
    const s = atSession(server, AMINA);
    const first = await s.send();
    expect(first.status).toBe(200);
    expect(first.body).toBe('CON Welcome Amina. Enter your PIN:');
    const menu = await s.send('1234');
    expect(menu.body).toBe(
      // 9: Amina raises payments from Duma Traders' account under its mandate (sandbox demo data, issue 11);
      // 12: the catalogue shows a loan product on USSD (issue 12).
      'CON Main menu\n1. Balance\n2. Mini statement\n3. Send money\n4. Pay loan\n6. Language\n7. Change PIN\n8. Call me back\n9. Business: Duma Traders Ltd\n12. Apply for a loan',
    );
    const balance = await s.send('1');
    expect(balance.body).toMatch(/^END Balance\nAkiba Savings 000000001: KES 12,500\.00$/);
    expect(balance.body).not.toContain('000000011'); // Staff Savings is a hidden product
  });

  it('should keep the session in Redis between hops', async () => {
    const s = atSession(server, BARAKA);
    await s.send();
    const { services } = server;
    const raw = await services.store.get(services.keys.session('ussd', `at:${s.sessionId}`));
    expect(services.store.kind).toBe('redis');
    expect(raw).toBeTruthy();
    expect((decodeRecord(raw!).snapshot as { value: unknown }).value).toBe('pin');
    const menu = await s.send('2468');
    expect(menu.body).toMatch(/^CON Main menu/);
  });

  it('should find customers whatever format Fineract stored their number in', async () => {
    for (const [msisdn, name] of [
      [BARAKA, 'Baraka'],
      [CHANYA, 'Chanya'],
      [DUMA, 'Duma'],
    ] as const) {
      const s = atSession(server, msisdn);
      expect((await s.send()).body).toBe(`CON Welcome ${name}. Enter your PIN:`);
    }
  });

  it('should offer an unregistered number to open an account', async () => {
    const s = atSession(server, NOBODY);
    const reply = await s.send();
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('CON Welcome. This number has no bank account yet.\n1. Open an account');
  });

  it('should show the latest transactions that fit one screen, newest first, without reversals', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    await s.send('1234');
    const reply = await s.send('2');
    expect(reply.body.startsWith('END Mini statement 000000001\n')).toBe(true);
    const screen = reply.body.slice(4);
    expect(screen.length).toBeLessThanOrEqual(182);
    const rows = screen.split('\n').slice(1);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(rows[0]).toMatch(/^\d\d\/\d\d\/\d{4} \+KES 1,000\.00$/);
    expect(screen).not.toContain('3,000.00'); // the reversed deposit
  });

  it('should go back with 0 and home with 00 without re-running anything', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    await s.send('1234');
    expect((await s.send('6')).body).toMatch(/^CON Choose language/);
    expect((await s.send('0')).body).toMatch(/^CON Main menu/);
    expect((await s.send('6')).body).toMatch(/^CON Choose language/);
    expect((await s.send('00')).body).toMatch(/^CON Main menu/);
    // (9 is Amina's business account since issue 11: 77 is no option.)
    expect((await s.send('77')).body).toMatch(/^CON Invalid choice\.\nMain menu/);
  });

  it('should answer a repeated hop with the same reply without running it again', async () => {
    const s = atSession(server, BARAKA);
    await s.send();
    const wrong = await s.send('0000');
    expect(wrong.body).toBe('CON Wrong PIN. 2 attempt(s) left. Enter your PIN:');
    const replays = await Promise.all([s.resend(), s.resend(), s.resend(), s.resend()]);
    for (const r of replays) expect(r.body).toBe(wrong.body);
    // Had a replay counted as another wrong PIN, one attempt would be left, not two.
    expect((await s.send('2468')).body).toMatch(/^CON Main menu/);
  });

  it('should refuse a hop that reuses a session id from another number (T8)', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    const hijack = await server.ussd({ sessionId: s.sessionId, serviceCode: '*384*123#', phoneNumber: BARAKA, text: '1234' });
    expect(hijack.body.startsWith('END ')).toBe(true);
    expect((await s.send('1234')).body).toMatch(/^CON Main menu/);
  });

  it('should run a dial-string shortcut (*384*123*PIN*1#) in one hop', async () => {
    const reply = await server.ussd({ sessionId: newSessionId(), serviceCode: '*384*123#', phoneNumber: AMINA, text: '1234*1' });
    expect(reply.body).toMatch(/^END Balance\nAkiba Savings 000000001: KES 12,500\.00$/);
  });

  it('should take an input that itself contains * from the text, not by splitting', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    const reply = await s.send('12*34');
    expect(reply.body).toBe('CON Invalid input.\nWelcome Amina. Enter your PIN:');
  });

  it('should never store or log the PIN', async () => {
    const s = atSession(server, DUMA);
    await s.send();
    await s.send('8642');
    const { services } = server;
    const raw = (await services.store.get(services.keys.session('ussd', `at:${s.sessionId}`)))!;
    expect(raw).not.toContain('8642');
    expect(server.logs.text).not.toMatch(/"8642"|\*8642|8642\*/);
  });
});
