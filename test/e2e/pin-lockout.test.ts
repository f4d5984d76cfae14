import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';

const CHANYA = '+254711000003';
const ADMIN = 'admin-token-0123456789abcdef';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKEN: ADMIN });
});
afterAll(async () => {
  await server?.close();
});

describe('PIN lockout', () => {
  it('should lock the customer after three wrong PINs, across sessions, until an operator unlocks', async () => {
    const first = atSession(server, CHANYA);
    await first.send();
    expect((await first.send('1111')).body).toBe('CON Wrong PIN. 2 attempt(s) left. Enter your PIN:');
    expect((await first.send('2222')).body).toBe('CON Wrong PIN. 1 attempt(s) left. Enter your PIN:');

    // The third wrong PIN comes in another session: the count is per customer, not per session.
    const second = atSession(server, CHANYA);
    await second.send();
    const locked = await second.send('3333');
    // A first lock is time-boxed (T26): the screen offers a self-unlock by SMS code.
    expect(locked.body).toMatch(/^CON Your PIN is locked for a while/);
    expect(locked.body).toContain('1. Unlock with a code by SMS');

    // Even the right PIN is refused now.
    const third = atSession(server, CHANYA);
    await third.send();
    expect((await third.send('1357')).body).toMatch(/^CON Your PIN is locked for a while/);

    const unlock = await fetch(`${server.url}/admin/customers/3/pin/lock`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(unlock.status).toBe(200);
    const fourth = atSession(server, CHANYA);
    await fourth.send();
    expect((await fourth.send('1357')).body).toMatch(/^CON Main menu/);
  });

  it('should not let concurrent guesses exceed the limit', async () => {
    const sessions = Array.from({ length: 6 }, () => atSession(server, '+254711000004'));
    await Promise.all(sessions.map((s) => s.send()));
    const replies = await Promise.all(sessions.map((s, i) => s.send(String(1000 + i))));
    const wrong = replies.filter((r) => r.body.startsWith('CON Wrong PIN'));
    const locked = replies.filter((r) => r.body.startsWith('CON Your PIN is locked for a while'));
    expect(wrong.length).toBe(2);
    expect(locked.length).toBe(4);
  });
});
