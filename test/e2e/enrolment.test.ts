import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';
import { findLeaks, registerSecret } from '../helpers/secret-sentinel.js';

/**
 * Enrolment against an external Fineract (threat T11, issue 10's acceptance): the sandbox runs alone, Kiunga
 * points at it with FINERACT_URL, so no demo PIN is seeded and every customer must enrol. Activation codes are
 * read from the sandbox outbox (MESSAGING_PROVIDER=sandbox, accepted with KIUNGA_ALLOW_INSECURE for the test).
 */

const ADMIN = 'enrolment-admin-token-0123456789';
const SUPPORT = '+254700000000';
const BARAKA = { msisdn: '+254711000002', clientId: 2, birthYear: '1990' };
const CHANYA = { msisdn: '+254711000003', clientId: 3 };
const AMINA = { msisdn: '+254711000001', clientId: 1 };

/** Settings of a Kiunga that treats the lone sandbox as a real Fineract. */
const external = (sandbox: Sandbox, extra: Record<string, string> = {}) => ({
  FINERACT_URL: sandbox.url,
  PIN_PEPPER: 'enrolment-test-pepper-0123456789abcdef',
  MESSAGING_PROVIDER: 'sandbox',
  KIUNGA_ALLOW_INSECURE: 'messaging,callback-key,fineract-password,sim-swap',
  ADMIN_TOKEN: ADMIN,
  SUPPORT_PHONE: SUPPORT,
  ...extra,
});

async function enrol(server: TestServer, body: unknown): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  const res = await fetch(`${server.url}/admin/enrolments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown>, text };
}

/** Every SMS the outbox holds for a number (over HTTP, as a tester would read it). */
async function outbox(server: TestServer, msisdn: string): Promise<{ text: string; ref?: string }[]> {
  const res = await fetch(`${server.url}/sandbox/outbox?to=${encodeURIComponent(msisdn)}`);
  return (await res.json()) as { text: string; ref?: string }[];
}

/** The code of the newest activation SMS, once more than `seen` reached the customer. */
async function activationCode(server: TestServer, msisdn: string, seen = 0): Promise<string> {
  for (let waited = 0; waited < 5000; waited += 25) {
    const codes = (await outbox(server, msisdn)).filter((m) => m.text.startsWith('Your Kiunga activation code is'));
    const code = codes.length > seen ? /\b(\d{6})\b/.exec(codes.at(-1)!.text)?.[1] : undefined;
    if (code) return code;
    await sleep(25);
  }
  throw new Error(`no activation code SMS for ${msisdn}`);
}

async function waitForText(server: TestServer, msisdn: string, start: string): Promise<string> {
  for (let waited = 0; waited < 5000; waited += 25) {
    const found = (await outbox(server, msisdn)).find((m) => m.text.startsWith(start));
    if (found) return found.text;
    await sleep(25);
  }
  throw new Error(`no SMS starting "${start}" for ${msisdn}`);
}

describe('enrolment by an operator, against an external Fineract (ENROLMENT_MODE=operator)', () => {
  let sandbox: Sandbox;
  let server: TestServer;
  const codes: string[] = [];
  /** The PINs this file sets, and the codes it was sent (the suite-wide scan looks for them too). */
  const NEW_PINS = ['2580', '7315'];
  for (const pin of NEW_PINS) registerSecret(pin, 'a PIN set by the enrolment test');
  const secretsOfThisFile = () => new Map([...codes, ...NEW_PINS].map((s) => [s, 'a code or PIN of this file']));
  beforeAll(async () => {
    sandbox = await startSandbox();
    server = await startTestServer(external(sandbox));
  });
  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
  });

  it('should enrol +254711000002: code by SMS, a new PIN over USSD, then the balance', async () => {
    expect(server.services.sandbox).toBeUndefined();
    // Nobody has a PIN: the customer is told to contact the institution, before any PIN is asked.
    const before = atSession(server, BARAKA.msisdn);
    expect((await before.send()).body).toBe('END You have no mobile banking PIN yet. Please visit a branch to set one.');

    const started = await enrol(server, { phone: BARAKA.msisdn });
    expect(started.status).toBe(201);
    expect(started.json).toEqual({ clientId: BARAKA.clientId, status: 'code-sent' });
    const code = await activationCode(server, BARAKA.msisdn);
    codes.push(code);
    expect((await outbox(server, BARAKA.msisdn)).at(-1)!.text).toBe(
      `Your Kiunga activation code is ${code}. It expires in 5 minutes. Never share it.`,
    );

    const s = atSession(server, BARAKA.msisdn);
    expect((await s.send()).body).toBe('CON Welcome Baraka. Enter the activation code sent to you by SMS:');
    expect((await s.send(code)).body).toBe('CON Choose a new 4-digit PIN:');
    // The birth year Fineract holds (dateOfBirth [1990, 7, 21]) is refused, with the reason.
    expect((await s.send(BARAKA.birthYear)).body).toBe('CON Your year of birth is too easy to guess. Choose another PIN:');
    expect((await s.send('2580')).body).toBe('CON Enter the new PIN again:');
    expect((await s.send('2580')).body).toMatch(/^CON Main menu\n1\. Balance/);
    expect((await s.send('1')).body).toMatch(/^END Balance\nAkiba Savings 000000002: KES 3,000\.00/);

    expect(await waitForText(server, BARAKA.msisdn, 'Your Kiunga PIN was changed')).toBe(
      `Your Kiunga PIN was changed. Not you? Call ${SUPPORT} now.`,
    );
    // The next session asks for the PIN just set.
    const next = atSession(server, BARAKA.msisdn);
    expect((await next.send()).body).toBe('CON Welcome Baraka. Enter your PIN:');
    expect((await next.send('2580')).body).toMatch(/^CON Main menu/);
  });

  it('should answer 409 once the customer has a PIN, and replace it on reset (the old PIN stops working at once)', async () => {
    expect((await enrol(server, { phone: BARAKA.msisdn })).status).toBe(409);
    const reset = await enrol(server, { phone: '0711 000002', reset: true });
    expect(reset.status).toBe(201);
    expect(reset.json).toEqual({ clientId: BARAKA.clientId, status: 'code-sent' });
    const code = await activationCode(server, BARAKA.msisdn, 1);
    codes.push(code);

    // The old PIN is gone: the session asks for the new activation code instead.
    const s = atSession(server, BARAKA.msisdn);
    expect((await s.send()).body).toBe('CON Welcome Baraka. Enter the activation code sent to you by SMS:');
    // The first activation code was consumed: only the new one works.
    const wrong = codes[0] === code ? '000000' : codes[0]!;
    expect((await s.send(wrong)).body).toBe('CON Wrong code. 2 try(s) left. Enter the activation code from the SMS:');
    expect((await s.send(code)).body).toBe('CON Choose a new 4-digit PIN:');
    expect((await s.send('0002')).body).toBe('CON Digits of your phone number are too easy to guess. Choose another PIN:');
    expect((await s.send('7315')).body).toBe('CON Enter the new PIN again:');
    expect((await s.send('7315')).body).toMatch(/^CON Main menu/);
    expect(await server.services.pins.verify(BARAKA.clientId, '2580')).toMatchObject({ result: 'wrong' });
  });

  it('should answer 404 for an unknown number and 400 for a malformed body, without echoing the number', async () => {
    const unknown = await enrol(server, { phone: '+254799999999' });
    expect(unknown.status).toBe(404);
    expect(unknown.text).not.toContain('799999999');
    for (const body of [{}, { phone: 'not a number' }, { phone: BARAKA.msisdn, reset: 'yes' }, { phone: BARAKA.msisdn, extra: 1 }]) {
      const bad = await enrol(server, body);
      expect(bad.status).toBe(400);
      expect(bad.text).not.toContain('711000002');
    }
    const noToken = await fetch(`${server.url}/admin/enrolments`, { method: 'POST', body: '{}' });
    expect(noToken.status).toBe(401);
  });

  it('should keep every code and PIN out of the logs', () => {
    expect(codes.length).toBeGreaterThan(0);
    expect(findLeaks([{ where: 'logs', text: server.logs.text }], secretsOfThisFile())).toEqual([]);
  });

  it("should audit the enrolment with the operator's name, its completion and the PIN change, with no code or PIN", async () => {
    const { audit } = server.services;
    await audit.flush(5000);
    const entries: Record<string, unknown>[] = [];
    for await (const record of audit.entries()) entries.push(record.entry as unknown as Record<string, unknown>);
    const of = (type: string) => entries.filter((e) => e.type === type);
    expect(of('enrolment.started')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: 'operator:admin', clientId: BARAKA.clientId, data: expect.objectContaining({ reset: false }) }),
        expect.objectContaining({ actor: 'operator:admin', clientId: BARAKA.clientId, data: expect.objectContaining({ reset: true }) }),
      ]),
    );
    expect(of('enrolment.completed').length).toBeGreaterThanOrEqual(2);
    expect(of('pin.changed').length).toBeGreaterThanOrEqual(2);
    expect(of('otp.sent').length).toBeGreaterThanOrEqual(2);
    expect(of('otp.verified').length).toBeGreaterThanOrEqual(2);
    expect(of('otp.failed')).toEqual(
      expect.arrayContaining([expect.objectContaining({ data: expect.objectContaining({ reason: 'wrong' }) })]),
    );
    const text = JSON.stringify(entries);
    // Digits inside the chain's hex hashes are not leaks (findLeaks skips hex runs).
    expect(findLeaks([{ where: 'audit', text }], secretsOfThisFile())).toEqual([]);
    expect(text).not.toContain(BARAKA.msisdn);
  });
});

describe('self enrolment, against an external Fineract (ENROLMENT_MODE=self)', () => {
  let sandbox: Sandbox;
  let server: TestServer;
  beforeAll(async () => {
    sandbox = await startSandbox();
    server = await startTestServer(
      external(sandbox, { ENROLMENT_MODE: 'self', SIM_SWAP_PROVIDER: 'sandbox', SANDBOX_SIM_SWAPPED: AMINA.msisdn }),
    );
  });
  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
  });

  it('should send the code on the spot when a registered client with no PIN dials, then set the PIN and read the balance', async () => {
    const s = atSession(server, CHANYA.msisdn);
    expect((await s.send()).body).toBe('CON Welcome Chanya. Enter the activation code sent to you by SMS:');
    const code = await activationCode(server, CHANYA.msisdn);
    expect((await s.send(code)).body).toBe('CON Choose a new 4-digit PIN:');
    expect((await s.send('4444')).body).toBe('CON A PIN of one digit repeated is too easy to guess. Choose another PIN:');
    expect((await s.send('9876')).body).toBe('CON A PIN of digits in a row (like 3456) is too easy to guess. Choose another PIN:');
    expect((await s.send('3917')).body).toBe('CON Enter the new PIN again:');
    expect((await s.send('3971')).body).toBe('CON The two PINs were different. Choose a new 4-digit PIN:');
    expect((await s.send('3917')).body).toBe('CON Enter the new PIN again:');
    expect((await s.send('3917')).body).toMatch(/^CON Main menu/);
    expect((await s.send('1')).body).toMatch(/^END Balance\n/);
    expect(server.logs.text).not.toMatch(new RegExp(`(?<!\\d)${code}(?!\\d)`));
  });

  it('should resume at the code prompt on a redial, resending the same code', async () => {
    const first = atSession(server, '+254711000004');
    expect((await first.send()).body).toBe('CON Welcome Duma. Enter the activation code sent to you by SMS:');
    const code = await activationCode(server, '+254711000004');
    const again = atSession(server, '+254711000004');
    expect((await again.send()).body).toBe('CON Welcome Duma. Enter the activation code sent to you by SMS:');
    expect((await again.send(code)).body).toBe('CON Choose a new 4-digit PIN:');
  });

  it('should send a recently swapped SIM to a branch, while an operator can still enrol that customer', async () => {
    const s = atSession(server, AMINA.msisdn);
    expect((await s.send()).body).toBe('END Your SIM card changed recently. For your safety, please visit a branch to set your PIN.');
    expect((await outbox(server, AMINA.msisdn)).filter((m) => m.ref?.startsWith('otp-'))).toHaveLength(0);

    expect((await enrol(server, { phone: AMINA.msisdn })).status).toBe(201);
    const code = await activationCode(server, AMINA.msisdn);
    const after = atSession(server, AMINA.msisdn);
    expect((await after.send()).body).toBe('CON Welcome Amina. Enter the activation code sent to you by SMS:');
    expect((await after.send(code)).body).toBe('CON Choose a new 4-digit PIN:');
  });
});
