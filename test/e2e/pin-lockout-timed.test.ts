/**
 * Threat T26 end to end (AT USSD over HTTP, the sandbox, real Redis, the job queue and the sandbox
 * outbox): a lock ends by itself, the customer hears of it by SMS, locks escalate to a hard one that only
 * an operator lifts, and the operator's unlock also forgets the escalation. PIN_LOCK_S is 1 s here so the
 * test can wait a lock out; the durations themselves are checked with a moved clock in the PIN contract.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';

const BARAKA = { msisdn: '+254711000002', clientId: 2, pin: '2468' };
const CHANYA = { msisdn: '+254711000003', clientId: 3, pin: '1357' };
const ADMIN = 'admin-token-0123456789abcdef';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKEN: ADMIN, PIN_LOCK_S: '1', PIN_HARD_LOCK_AFTER: '2' });
});
afterAll(async () => {
  await server?.close();
});

const admin = async (method: string, clientId: number) => {
  const res = await fetch(`${server.url}/admin/customers/${clientId}/pin${method === 'DELETE' ? '/lock' : ''}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { locked: boolean; hard: boolean; until?: string; failures: number; locks: number };
};

/** Waits (polling, at most 10 s) until `check` holds. */
async function until<T>(what: string, probe: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe();
    if (check(value)) return value;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const texts = (to: string) => server.services.outbox!.list(to).map((m) => m.text);

/** Three wrong PINs in one session; returns the last screen. */
async function threeWrong(msisdn: string): Promise<string> {
  const s = atSession(server, msisdn);
  await s.send();
  await s.send('0000');
  await s.send('0001');
  return (await s.send('0002')).body;
}

async function dialWith(msisdn: string, pin: string): Promise<string> {
  const s = atSession(server, msisdn);
  await s.send();
  return (await s.send(pin)).body;
}

describe('PIN lockout that cannot be a weapon (T26)', () => {
  it('should lock for PIN_LOCK_S only, tell the customer by SMS, then take the right PIN', async () => {
    expect(await threeWrong(BARAKA.msisdn)).toMatch(
      /^CON Your PIN is locked for a while after too many wrong attempts\. An SMS tells you when/,
    );
    expect(await dialWith(BARAKA.msisdn, BARAKA.pin)).toMatch(/^CON Your PIN is locked for a while/);
    const sms = await until(
      'the lock SMS',
      async () => texts(BARAKA.msisdn),
      (t) => t.some((x) => x.startsWith('Your PIN is locked for')),
    );
    const notice = sms.find((x) => x.startsWith('Your PIN is locked for'))!;
    expect(notice).toMatch(/^Your PIN is locked for 1 min \(until \d\d:\d\d\) after too many wrong attempts\./);
    expect(notice).toContain('The bank never asks for your PIN.');
    expect(notice).not.toMatch(/000[012]/);

    await until(
      'the lock to end',
      () => admin('GET', BARAKA.clientId),
      (s) => !s.locked,
    );
    expect(await dialWith(BARAKA.msisdn, BARAKA.pin)).toMatch(/^CON Main menu/);
    expect(await admin('GET', BARAKA.clientId)).toMatchObject({ locked: false, failures: 0, locks: 0 });
    // One SMS for one lock, however many hops met it.
    expect(texts(BARAKA.msisdn).filter((x) => x.startsWith('Your PIN is locked'))).toHaveLength(1);
  });

  it('should escalate: after PIN_HARD_LOCK_AFTER timed locks the next is hard, until an operator unlocks', async () => {
    expect(await threeWrong(CHANYA.msisdn)).toMatch(/^CON Your PIN is locked for a while/);
    expect(await admin('GET', CHANYA.clientId)).toMatchObject({ locked: true, hard: false, locks: 1 });
    await until(
      'lock 1 to end',
      () => admin('GET', CHANYA.clientId),
      (s) => !s.locked,
    );

    expect(await threeWrong(CHANYA.msisdn)).toMatch(/^CON Your PIN is locked for a while/);
    expect(await admin('GET', CHANYA.clientId)).toMatchObject({ locked: true, hard: false, locks: 2 });
    await until(
      'lock 2 to end',
      () => admin('GET', CHANYA.clientId),
      (s) => !s.locked,
    );

    expect(await threeWrong(CHANYA.msisdn)).toMatch(/^END Your PIN is locked/);
    const hard = await admin('GET', CHANYA.clientId);
    expect(hard).toMatchObject({ locked: true, hard: true, locks: 3 });
    expect(hard.until).toBeUndefined();
    await until(
      'the hard-lock SMS',
      async () => texts(CHANYA.msisdn),
      (t) => t.some((x) => x.startsWith('Your PIN is locked after too many wrong attempts. Call customer care')),
    );
    expect(texts(CHANYA.msisdn).filter((x) => x.startsWith('Your PIN is locked'))).toHaveLength(3);
    await sleep(1500); // longer than every timed lock so far: a hard lock does not end by itself
    expect(await dialWith(CHANYA.msisdn, CHANYA.pin)).toMatch(/^END Your PIN is locked/);

    expect(await admin('DELETE', CHANYA.clientId)).toMatchObject({ locked: false });
    expect(await admin('GET', CHANYA.clientId)).toMatchObject({ locked: false, hard: false, failures: 0, locks: 0 });
    // The reset forgot the escalation: three wrong PINs make a first, timed lock again.
    expect(await threeWrong(CHANYA.msisdn)).toMatch(/^CON Your PIN is locked for a while/);
    expect(await admin('GET', CHANYA.clientId)).toMatchObject({ locked: true, hard: false, locks: 1 });
    await admin('DELETE', CHANYA.clientId);
    expect(await dialWith(CHANYA.msisdn, CHANYA.pin)).toMatch(/^CON Main menu/);
  });
});
