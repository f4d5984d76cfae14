import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, newSessionId, type TestServer } from '../helpers/server.js';
import type { RedisStore } from '../../src/session/redis-store.js';

/**
 * Money tells the truth through the AT USSD route over HTTP, with the sandbox and real Redis:
 * T24 (a reused session id never reuses an idempotency key), T25 (no money moves on a hop that did not show
 * the confirmation first), a client closed in Fineract after the lookup cache saw it active, and T30
 * (a resolution past its maximum age only looks).
 */

const AMINA = '+254711000001';
const BARAKA = '+254711000002';
const ADMIN = 'admin-token-for-money-tests-0123456789';
let server: TestServer;

const balance = (s: TestServer, accountId: number) => {
  const bank = s.services.sandbox!.bank;
  return bank.balance(bank.savingsAccount(accountId)!) / 100;
};
const commits = (s: TestServer) =>
  s.services.sandbox!.control.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/accounttransfers') && r.committed).length;
const posts = (s: TestServer) =>
  s.services.sandbox!.control.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/accounttransfers')).length;

/** One AT session under a session id the test chooses (AT repeats every input in `text`). */
function session(s: TestServer, phoneNumber: string, sessionId = newSessionId()) {
  const inputs: string[] = [];
  return {
    sessionId,
    async send(input?: string) {
      if (input !== undefined) inputs.push(input);
      return (await s.ussd({ sessionId, serviceCode: '*384*123#', phoneNumber, networkCode: '63902', text: inputs.join('*') })).body;
    },
    /** A first hop carrying a whole dial string (`*384*123*1234*3*...#`). */
    async dial(text: string) {
      inputs.push(...text.split('*'));
      return (await s.ussd({ sessionId, serviceCode: '*384*123#', phoneNumber, networkCode: '63902', text })).body;
    },
  };
}

/** Dial, PIN, send money, recipient, amount, PIN: the whole transfer, one hop each. */
async function send(s: TestServer, from: string, pin: string, to: string, amount: string, sessionId?: string) {
  const c = session(s, from, sessionId);
  await c.send();
  await c.send(pin);
  await c.send('3');
  await c.send(to);
  const confirm = await c.send(amount);
  expect(confirm).toMatch(/^CON Pay KES /);
  return c.send(pin);
}

async function endSession(s: TestServer, sessionId: string, phoneNumber: string) {
  const res = await fetch(`${s.url}/channels/africastalking/ussd/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ sessionId, phoneNumber, status: 'Success', durationInMillis: '9000', hopsCount: '6' }).toString(),
  });
  expect(res.status).toBe(200);
}

/** Lets the session record run out its TTL now (what Redis does after USSD_SESSION_TTL_S). */
async function expireSession(s: TestServer, sessionId: string) {
  const key = s.services.keys.session('ussd', `at:${sessionId}`);
  await (s.services.store as RedisStore).client.pexpire(key, 1);
  for (let i = 0; i < 100 && (await s.services.store.get(key)) !== null; i++) await sleep(10);
  expect(await s.services.store.get(key)).toBeNull();
}

const sms = (s: TestServer, to: string) => s.services.outbox!.list(to).map((m) => m.text);

beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKEN: ADMIN });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.services.sandbox!.control.reset();
});

describe('a reused session id never reuses a money movement (threat T24)', () => {
  it('should move exactly what each customer confirmed when a session id comes back after /events and after the TTL', async () => {
    const start = [balance(server, 1), balance(server, 2)];
    const startCommits = commits(server);
    const sentBefore = sms(server, AMINA).filter((t) => t.startsWith('You sent')).length;
    const sentBeforeBaraka = sms(server, BARAKA).filter((t) => t.startsWith('You sent')).length;
    const id = newSessionId();

    // Amina sends 500 on a session id; AT ends the session and later hands the same id out again.
    expect(await send(server, AMINA, '1234', '0711000002', '500', id)).toMatch(/^END Done: KES 500\.00 to Baraka O\./);
    await endSession(server, id, AMINA);
    // Same customer, same session id, another amount.
    expect(await send(server, AMINA, '1234', '0711000002', '300', id)).toMatch(/^END Done: KES 300\.00 to Baraka O\./);
    await endSession(server, id, AMINA);
    // Another customer on the same session id.
    expect(await send(server, BARAKA, '2468', '0711000001', '200', id)).toMatch(/^END Done: KES 200\.00 to Amina W\./);
    // After the TTL: the record expires, the id comes back, for the same customer and for another one.
    await expireSession(server, id);
    expect(await send(server, BARAKA, '2468', '0711000001', '200', id)).toMatch(/^END Done: KES 200\.00 to Amina W\./);
    await expireSession(server, id);
    expect(await send(server, AMINA, '1234', '0711000002', '500', id)).toMatch(/^END Done: KES 500\.00 to Baraka O\./);

    // Every "Done" moved money: 500 + 300 + 500 out of Amina, 200 + 200 back in.
    expect([balance(server, 1), balance(server, 2)]).toEqual([start[0]! - 1300 + 400, start[1]! + 1300 - 400]);
    expect(commits(server) - startCommits).toBe(5);
    // No SMS claims a movement that did not happen: one receipt per movement, with its own amount.
    await server.services.queue.idle();
    const aminaSent = sms(server, AMINA)
      .filter((t) => t.startsWith('You sent'))
      .slice(sentBefore);
    expect(aminaSent.map((t) => /KES ([\d,.]+)/.exec(t)?.[1])).toEqual(['500.00', '300.00', '500.00']);
    const barakaSent = sms(server, BARAKA)
      .filter((t) => t.startsWith('You sent'))
      .slice(sentBeforeBaraka);
    expect(barakaSent.map((t) => /KES ([\d,.]+)/.exec(t)?.[1])).toEqual(['200.00', '200.00']);
    // Five movements, five different references.
    expect(new Set([...aminaSent, ...barakaSent].map((t) => /\(ref ([0-9A-F]{8})\)/.exec(t)?.[1])).size).toBe(5);
  });
});

describe('a money confirmation needs a hop of its own (threat T25)', () => {
  it('should move nothing on a first hop that carries the whole transfer and the PIN, and show the confirmation', async () => {
    const before = [balance(server, 1), balance(server, 2)];
    const startPosts = posts(server);
    const first = session(server, AMINA);
    expect(await first.dial('1234*3*0711000002*500*1234')).toBe(
      'CON Pay KES 500.00 to Baraka O. from Akiba Savings 000000001? Enter PIN to confirm:',
    );
    // Replayed under a new session id (a captured dial string): again nothing moves.
    const replay = session(server, AMINA);
    expect(await replay.dial('1234*3*0711000002*500*1234')).toMatch(/^CON Pay KES 500\.00 to Baraka O\./);
    expect([balance(server, 1), balance(server, 2)]).toEqual(before);
    expect(posts(server)).toBe(startPosts);
    // The customer who saw the screen confirms on a hop of its own.
    expect(await first.send('1234')).toMatch(/^END Done: KES 500\.00 to Baraka O\./);
    expect([balance(server, 1), balance(server, 2)]).toEqual([before[0]! - 500, before[1]! + 500]);
  });
});

describe('a client closed in Fineract', () => {
  it('should refuse the transfer politely although the lookup cache still says active', async () => {
    const bank = server.services.sandbox!.bank;
    const before = [balance(server, 1), balance(server, 2)];
    const startCommits = commits(server);
    const c = session(server, AMINA);
    await c.send();
    await c.send('1234');
    await c.send('3');
    await c.send('0711000002');
    expect(await c.send('100')).toMatch(/^CON Pay KES 100\.00/);
    // Closed in the back office while the customer reads the confirmation. Fineract closes a client only once
    // its savings accounts are closed (docs/fineract.md §6.1): the account goes first, and the debit is refused.
    const client = bank.client(1)!;
    const account = bank.savingsAccount(1)!;
    const status = [client.statusId, account.statusId] as const;
    account.statusId = 600;
    client.statusId = 600;
    try {
      expect(await c.send('1234')).toBe('END Your account is not active, so no money was moved. Please visit a branch.');
    } finally {
      [client.statusId, account.statusId] = status;
    }
    expect([balance(server, 1), balance(server, 2)]).toEqual(before);
    expect(commits(server)).toBe(startCommits);
  });
});

describe('a resolution past TRANSFER_RESOLVE_MAX_AGE_S (threat T30)', () => {
  it('should only look for the transfer, never send it again, list it for operators and count it', async () => {
    const s = await startTestServer({
      ADMIN_TOKEN: ADMIN,
      TRANSFER_RESOLVE_MAX_AGE_S: '1',
      HOP_DEADLINE_MS: '1500',
      FINERACT_TIMEOUT_MS: '500',
    });
    try {
      const before = [balance(s, 1), balance(s, 2)];
      const c = session(s, AMINA);
      await c.send();
      await c.send('1234');
      await c.send('3');
      await c.send('0711000002');
      await c.send('700');
      // The write never runs (a read-only instance answers 405): the outcome stays uncertain.
      s.services.sandbox!.control.readOnly = true;
      expect(await c.send('1234')).toMatch(
        /^END Your payment of KES 700\.00 to Baraka O\. is being processed \(ref [0-9A-F]{8}\)\. An SMS will confirm the result\.$/,
      );
      s.services.sandbox!.control.readOnly = false;
      // The resolution job runs once the original call must have ended; by then the record is past 1 s.
      for (let i = 0; i < 200 && !sms(s, AMINA).some((t) => t.startsWith('We could not confirm')); i++) await sleep(50);
      expect(sms(s, AMINA).filter((t) => t.startsWith('We could not confirm'))).toEqual([
        expect.stringMatching(
          /^We could not confirm your payment of KES 700\.00 to Baraka O\. \(ref [0-9A-F]{8}\)\. It will not be sent again\./,
        ),
      ]);
      // It looked (transactions search) and never sent again.
      expect(commits(s)).toBe(0);
      expect([balance(s, 1), balance(s, 2)]).toEqual(before);

      const unauthorised = await fetch(`${s.url}/admin/transfers?status=uncertain`);
      expect(unauthorised.status).toBe(401);
      const res = await fetch(`${s.url}/admin/transfers?status=uncertain`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { status: string; transfers: Record<string, unknown>[] };
      expect(body.status).toBe('uncertain');
      expect(body.transfers).toEqual([
        expect.objectContaining({
          clientId: 1,
          kind: 'send',
          amount: '700.00',
          currency: 'KES',
          counterparty: 'Baraka O.',
          pastMaxAge: true,
          collision: false,
        }),
      ]);
      // Masked number only.
      expect(JSON.stringify(body)).not.toContain('711000001');
      expect(body.transfers[0]!.sender).toMatch(/\*/);

      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/^kiunga_transfers_uncertain 1$/m);
      expect(metrics).toMatch(/^kiunga_transfer_unresolved_past_max_age_total 1$/m);
      expect(metrics).toMatch(/^# TYPE kiunga_transfer_key_collisions_total counter$/m);
    } finally {
      await s.close();
    }
  });
});
