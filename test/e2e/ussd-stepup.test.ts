import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, atSession, newSessionId, type TestServer } from '../helpers/server.js';
import { CHALLENGE_ISSUES_PER_HOUR, challengeKey } from '../../src/security/challenge.js';
import type { RedisStore } from '../../src/session/redis-store.js';
import { atCall, newCallSid, placedCalls, spoken, startVoiceServer, twilioCall, twilioPost, TWILIO_NUMBER } from '../voice/helpers.js';

/**
 * Step-up on money over real HTTP (threat T31): from OTP_THRESHOLD (10,000) up, the right PIN sends a
 * one-time code by SMS for that exact amount, payee and account; only that code, typed once, moves the money.
 * Codes are read from the sandbox outbox, balances from the sandbox's ledger.
 */

const DUMA = { msisdn: '+254711000004', pin: '8642', clientId: 4, accountId: 4 };
const CHANYA = { msisdn: '+254711000003', pin: '1357', clientId: 3, accountId: 3 };
const AMINA = { msisdn: '+254711000001', pin: '1234', clientId: 1, accountId: 1 };
const BARAKA_ACCOUNT = 2;
type Customer = typeof DUMA;

let server: TestServer;

/** Balance of a sandbox savings account, in cents (exact). */
const balance = (s: TestServer, accountId: number) => {
  const bank = s.services.sandbox!.bank;
  return bank.balance(bank.savingsAccount(accountId)!);
};
const committedTransfers = (s: TestServer) =>
  s.services.sandbox!.control.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/accounttransfers') && r.committed).length;
/** The one-time code SMS sent to a number, oldest first (their `ref` names the challenge). */
const codeSms = (s: TestServer, msisdn: string) => s.services.outbox!.list(msisdn).filter((m) => m.ref?.startsWith('otp-'));

/** The code of the newest code SMS, once more than `seen` of them reached the customer (the `otp` job ran). */
async function codeAfter(s: TestServer, msisdn: string, seen: number): Promise<string> {
  for (let waited = 0; waited < 5000; waited += 20) {
    const list = codeSms(s, msisdn);
    const code = list.length > seen ? /\b(\d{6})\b/.exec(list.at(-1)!.text)?.[1] : undefined;
    if (code) return code;
    await sleep(20);
  }
  throw new Error(`no new one-time code SMS for ${msisdn}`);
}

/** Dial, PIN, Send money, Baraka, amount, PIN: the session rests where the PIN led (the code prompt, or done). */
async function payBaraka(s: TestServer, who: Customer, amount: string) {
  const seen = codeSms(s, who.msisdn).length;
  const session = atSession(s, who.msisdn);
  await session.send();
  expect((await session.send(who.pin)).body).toMatch(/^CON Main menu/);
  await session.send('3');
  expect((await session.send('0711000002')).body).toBe('CON Amount to Baraka O.:');
  expect((await session.send(amount)).body).toMatch(/^CON Pay KES [\d,.]+ to Baraka O\./);
  const afterPin = await session.send(who.pin);
  /** The code this PIN had sent by SMS. */
  const code = () => codeAfter(s, who.msisdn, seen);
  return { session, afterPin, code };
}

/** Dials again (a new session) and types the PIN: where the customer lands. */
async function redial(s: TestServer, who: Customer) {
  const session = atSession(s, who.msisdn);
  await session.send();
  const afterPin = await session.send(who.pin);
  return { session, afterPin };
}

beforeAll(async () => {
  server = await startTestServer();
  // Duma pays here as a customer paying their own money; the demo mandate would hold it for approval (issue 11).
  await server.services.mandates.remove('000000004');
});
afterAll(async () => {
  await server?.close();
});
beforeEach(async () => {
  server.services.sandbox!.control.reset();
  for (const who of [DUMA, CHANYA]) await server.services.challenges.revoke(who.clientId);
});

describe('OTP step-up on money over USSD (threat T31)', () => {
  it('should ask for the code sent by SMS for a transfer of 10,000, naming the amount and the payee, and move it once with that code', async () => {
    const before = [balance(server, DUMA.accountId), balance(server, BARAKA_ACCOUNT)];
    const commits = committedTransfers(server);
    const { session, afterPin, code: sent } = await payBaraka(server, DUMA, '10000');
    expect(afterPin.body).toBe(
      'CON Enter the code sent by SMS for KES 10,000.00 to Baraka O.:\n1. Send the code again\n2. Cancel the payment\n3. Get the code in a call',
    );
    // The right PIN alone moved nothing.
    expect([balance(server, DUMA.accountId), balance(server, BARAKA_ACCOUNT)]).toEqual(before);
    const code = await sent();
    expect(codeSms(server, DUMA.msisdn).at(-1)!.text).toBe(`Code ${code} to send KES 10,000.00 to Baraka O. Never share it.`);
    // The code travels by SMS, never on the USSD screen.
    expect(afterPin.body).not.toContain(code);

    const done = await session.send(code);
    expect(done.body).toMatch(/^END Done: KES 10,000\.00 to Baraka O\. \(ref [0-9A-F]{8}\)/);
    expect([balance(server, DUMA.accountId), balance(server, BARAKA_ACCOUNT)]).toEqual([before[0]! - 1_000_000, before[1]! + 1_000_000]);
    expect(committedTransfers(server) - commits).toBe(1);
  });

  it('should send the same code again on request, three sends at most', async () => {
    const { session, code } = await payBaraka(server, DUMA, '10000');
    const first = await code();
    const sends = codeSms(server, DUMA.msisdn).length;
    expect((await session.send('1')).body).toMatch(/^CON The code was sent again by SMS\. Enter the code for KES 10,000\.00/);
    expect(await codeAfter(server, DUMA.msisdn, sends)).toBe(first);
    await session.send('1');
    expect((await session.send('1')).body).toMatch(/^CON No more codes can be sent\./);
    await codeAfter(server, DUMA.msisdn, sends + 1);
    expect(
      codeSms(server, DUMA.msisdn)
        .slice(-3)
        .map((m) => /\d{6}/.exec(m.text)?.[0]),
    ).toEqual([first, first, first]);
    expect((await session.send('2')).body).toBe('END Payment cancelled. No money was moved.');
  });

  it('should move nothing below the threshold without a code', async () => {
    const sent = codeSms(server, DUMA.msisdn).length;
    const before = balance(server, DUMA.accountId);
    const { afterPin } = await payBaraka(server, DUMA, '9999.99');
    expect(afterPin.body).toMatch(/^END Done: KES 9,999\.99 to Baraka O\./);
    expect(balance(server, DUMA.accountId)).toBe(before - 999_999);
    // No `otp` job was queued: nothing arrives even after a while.
    await sleep(300);
    expect(codeSms(server, DUMA.msisdn)).toHaveLength(sent);
  });

  it('should move nothing after three wrong codes, and the right code no longer works', async () => {
    const before = [balance(server, DUMA.accountId), balance(server, BARAKA_ACCOUNT)];
    const { session, code: sent } = await payBaraka(server, DUMA, '10000');
    const code = await sent();
    const wrong = (n: number) => String((Number(code) + n) % 1_000_000).padStart(6, '0');
    expect((await session.send(wrong(1))).body).toMatch(
      /^CON Wrong code\. 2 attempt\(s\) left\. Enter the code for KES 10,000\.00 to Baraka O\.:/,
    );
    expect((await session.send(wrong(2))).body).toMatch(/^CON Wrong code\. 1 attempt\(s\) left\./);
    expect((await session.send(wrong(3))).body).toBe('END Too many wrong codes. No money was moved.');
    expect([balance(server, DUMA.accountId), balance(server, BARAKA_ACCOUNT)]).toEqual(before);
    // The challenge is void: a redial shows the menu, not the code prompt.
    expect((await redial(server, DUMA)).afterPin.body).toMatch(/^CON Main menu/);
  });

  it('should move nothing with an expired code', async () => {
    const before = [balance(server, DUMA.accountId), balance(server, BARAKA_ACCOUNT)];
    const { session, code: sent } = await payBaraka(server, DUMA, '10000');
    const code = await sent();
    // Five minutes pass: the stored challenge's expiry moves into the past (the service compares it with its clock).
    const redis = (server.services.store as RedisStore).client;
    await redis.hset(challengeKey(server.services.keys, DUMA.clientId, 'money'), 'exp', String(Date.now() - 1000));
    expect((await session.send(code)).body).toBe('END The code has expired. No money was moved. Start again for a new code.');
    expect([balance(server, DUMA.accountId), balance(server, BARAKA_ACCOUNT)]).toEqual(before);
  });

  it('should move nothing with a code sent for a different amount, and void the code when the intent differs', async () => {
    const before = [balance(server, CHANYA.accountId), balance(server, BARAKA_ACCOUNT)];
    const commits = committedTransfers(server);
    // Session A: 10,000 → code 1.
    const a = await payBaraka(server, CHANYA, '10000');
    const codeFor10k = await a.code();
    // Session B cancels it; session C asks 12,000 → code 2.
    const b = await redial(server, CHANYA);
    expect(b.afterPin.body).toMatch(/^CON Enter the code for KES 10,000\.00 to Baraka O\.:/);
    expect((await b.session.send('2')).body).toBe('END Payment cancelled. No money was moved.');
    const c = await payBaraka(server, CHANYA, '12000');
    expect(c.afterPin.body).toMatch(/^CON Enter the code sent by SMS for KES 12,000\.00 to Baraka O\.:/);
    const codeFor12k = await c.code();
    expect(codeSms(server, CHANYA.msisdn).at(-1)!.text).toContain('to send KES 12,000.00 to Baraka O.');
    // The 10,000 code typed for the 12,000 payment: wrong.
    if (codeFor10k !== codeFor12k) expect((await c.session.send(codeFor10k)).body).toMatch(/^CON Wrong code\. 2 attempt\(s\) left\./);
    // The 12,000 code typed in the session whose intent is 10,000: bound to another intent, so void.
    expect((await a.session.send(codeFor12k)).body).toBe(
      'END That code was for another payment, so it is no longer valid. No money was moved.',
    );
    expect((await c.session.send(codeFor12k)).body).toBe('END The code has expired. No money was moved. Start again for a new code.');
    expect([balance(server, CHANYA.accountId), balance(server, BARAKA_ACCOUNT)]).toEqual(before);
    expect(committedTransfers(server) - commits).toBe(0);
  });

  it('should resume at the code prompt when the customer dials again within the validity, and move the money once', async () => {
    const before = [balance(server, DUMA.accountId), balance(server, BARAKA_ACCOUNT)];
    const commits = committedTransfers(server);
    const first = await payBaraka(server, DUMA, '10000');
    const code = await first.code();
    const again = await redial(server, DUMA);
    expect(again.afterPin.body).toBe(
      'CON Enter the code for KES 10,000.00 to Baraka O.:\n1. Send the code again\n2. Cancel the payment\n3. Get the code in a call',
    );
    expect((await again.session.send(code)).body).toMatch(/^END Done: KES 10,000\.00 to Baraka O\./);
    // The first session, still open on its code prompt, cannot use the code again.
    expect((await first.session.send(code)).body).toBe('END The code has expired. No money was moved. Start again for a new code.');
    expect([balance(server, DUMA.accountId), balance(server, BARAKA_ACCOUNT)]).toEqual([before[0]! - 1_000_000, before[1]! + 1_000_000]);
    expect(committedTransfers(server) - commits).toBe(1);
  });

  it('should not move money on the first hop of a dial string that carries the PIN and the code (threat T25)', async () => {
    const before = balance(server, CHANYA.accountId);
    await server.services.challenges.revoke(CHANYA.clientId);
    const code = await (await payBaraka(server, CHANYA, '10000')).code();
    // *384*123*1357*<code>#: the PIN and the code in one hop. The code prompt needs a hop of its own.
    const sessionId = newSessionId();
    const hop = (text: string) =>
      server.ussd({ sessionId, serviceCode: '*384*123#', phoneNumber: CHANYA.msisdn, networkCode: '63902', text });
    expect((await hop(`${CHANYA.pin}*${code}`)).body).toMatch(/^CON Enter the code for KES 10,000\.00 to Baraka O\.:/);
    expect(balance(server, CHANYA.accountId)).toBe(before);
    expect((await hop(`${CHANYA.pin}*${code}*${code}`)).body).toMatch(/^END Done: KES 10,000\.00/);
    expect(balance(server, CHANYA.accountId)).toBe(before - 1_000_000);
  });

  it('should say so and move nothing when too many codes were asked this hour, never asking for a code that was not sent', async () => {
    // Amina on a fresh credential: every payment, however small, asks for a code; each amount is a new one.
    // One session: after each code prompt, 00 goes home and the next payment starts.
    await server.services.challenges.markFreshCredential(AMINA.clientId);
    const before = balance(server, AMINA.accountId);
    const session = atSession(server, AMINA.msisdn);
    await session.send();
    await session.send(AMINA.pin);
    const pay = async (amount: string) => {
      await session.send('3');
      await session.send('0711000002');
      await session.send(amount);
      return (await session.send(AMINA.pin)).body;
    };
    for (let i = 0; i < CHALLENGE_ISSUES_PER_HOUR; i++) {
      expect(await pay(String(10 + i))).toMatch(/^CON Enter the code sent by SMS for KES \d+\.00/);
      expect((await session.send('00')).body).toMatch(/^CON Main menu/);
    }
    expect(await pay('99')).toBe('END Too many codes were asked for this hour. No money was moved. Please try again later.');
    expect(balance(server, AMINA.accountId)).toBe(before);
  });

  it('should keep the code out of the logs and the stored session', async () => {
    const { session, code: sent } = await payBaraka(server, DUMA, '10000');
    const code = await sent();
    await session.send(code);
    expect(server.logs.text).not.toContain(code);
    const record = await server.services.store.get(server.services.keys.session('ussd', `at:${session.sessionId}`));
    expect(record).toBeTruthy();
    expect(record).not.toContain(code);
  });
});

describe('step-up for a first payee and the first money-out after a new PIN (threat T31)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ OTP_NEW_PAYEE: 'true' });
    await s.services.mandates.remove('000000004');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('should ask for a code the first time a customer pays someone, not once that payee was paid', async () => {
    const first = await payBaraka(s, AMINA, '100');
    expect(first.afterPin.body).toMatch(/^CON Enter the code sent by SMS for KES 100\.00 to Baraka O\.:/);
    expect((await first.session.send(await first.code())).body).toMatch(/^END Done: KES 100\.00 to Baraka O\./);
    const second = await payBaraka(s, AMINA, '100');
    expect(second.afterPin.body).toMatch(/^END Done: KES 100\.00 to Baraka O\./);
    // The payees paid are stored as keyed hashes: no account in clear in the key names.
    const keys = await (s.services.store as RedisStore).client.keys(`${s.config.redisPrefix}*payee*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toMatch(/savings:|:2\b/);
  });

  it('should ask for a code on the first money-out after an enrolment or a PIN reset, and only then', async () => {
    await s.services.challenges.markFreshCredential(DUMA.clientId);
    // Duma pays Baraka for the first time too; the fresh credential alone would ask for a code as well.
    const first = await payBaraka(s, DUMA, '100');
    expect(first.afterPin.body).toMatch(/^CON Enter the code sent by SMS for KES 100\.00/);
    expect((await first.session.send(await first.code())).body).toMatch(/^END Done:/);
    expect(await s.services.challenges.isFreshCredential(DUMA.clientId)).toBe(false);
    expect((await payBaraka(s, DUMA, '100')).afterPin.body).toMatch(/^END Done:/);
  });
});

describe('step-up on a fresh credential alone (OTP_NEW_PAYEE=false)', () => {
  it('should ask for a code below the threshold on the first money-out after a new PIN', async () => {
    await server.services.challenges.markFreshCredential(CHANYA.clientId);
    const first = await payBaraka(server, CHANYA, '50');
    expect(first.afterPin.body).toMatch(/^CON Enter the code sent by SMS for KES 50\.00 to Baraka O\.:/);
    expect((await first.session.send(await first.code())).body).toMatch(/^END Done: KES 50\.00/);
    expect((await payBaraka(server, CHANYA, '50')).afterPin.body).toMatch(/^END Done: KES 50\.00/);
  });
});

describe('the code read out in a call instead of the SMS (threat T31)', () => {
  let v: TestServer;
  beforeAll(async () => {
    // USSD through the test helper's AT sessions, which carry no callback key; calls answered over Twilio.
    v = await startVoiceServer({ AT_CALLBACK_KEY: '' });
    await v.services.mandates.remove('000000004');
  });
  afterAll(async () => {
    await v?.close();
  });

  it('should end the USSD session, call the registered number and say the code for that amount and payee, which the redial then takes once', async () => {
    const before = balance(v, DUMA.accountId);
    const { session, afterPin, code } = await payBaraka(v, DUMA, '10000');
    expect(afterPin.body).toContain('\n3. Get the code in a call');
    const sent = await code();
    expect((await session.send('3')).body).toBe(
      'END We will call you in a moment and read you the code. Then dial again and enter it. No money has moved yet.',
    );
    const calls = await placedCalls(v, DUMA.msisdn);
    expect(calls).toHaveLength(1);
    const call = twilioCall(v, DUMA.msisdn, calls[0]!.ref);
    const digits = [...sent].join(', ');
    const answer = await call.answer();
    expect(spoken(answer)).toBe(
      `This is Kiunga. Your code to send KES 10,000.00 to Baraka O is ${digits}. Again: ${digits}. Never share it.`,
    );
    // Said, then the call ends: no keys are gathered, nothing runs through the turn runner.
    expect(answer.body).toContain('<Hangup/>');
    expect(answer.body).not.toContain('<Gather');
    await call.status('completed');
    expect(v.logs.text).not.toContain(sent);

    const again = await redial(v, DUMA);
    expect(again.afterPin.body).toMatch(/^CON Enter the code for KES 10,000\.00 to Baraka O\.:/);
    expect((await again.session.send(sent)).body).toMatch(/^END Done: KES 10,000\.00 to Baraka O\./);
    expect(balance(v, DUMA.accountId)).toBe(before - 1_000_000);
  });

  it("should say no code is waiting when it was cancelled before the call was answered (on Africa's Talking)", async () => {
    const { session } = await payBaraka(v, CHANYA, '10000');
    expect((await session.send('3')).body).toMatch(/^END We will call you in a moment/);
    const calls = await placedCalls(v, CHANYA.msisdn);
    // Cancelled from another session before the phone rang.
    const other = await redial(v, CHANYA);
    expect((await other.session.send('2')).body).toBe('END Payment cancelled. No money was moved.');
    const call = atCall(v, CHANYA.msisdn, calls.at(-1)!.id);
    expect(spoken(await call.answer())).toBe('There is no code waiting for you any more. No money was moved. Goodbye.');
    await call.end();
  });

  it('should step up a payment made in the call-back IVR too: the code by SMS, typed with the keypad, and no call offered during the call', async () => {
    const before = balance(v, DUMA.accountId);
    const seen = codeSms(v, DUMA.msisdn).length;
    const missed = await twilioPost(v, '/channels/twilio/voice', {
      CallSid: newCallSid(),
      From: DUMA.msisdn,
      To: TWILIO_NUMBER,
      Direction: 'inbound',
    });
    expect(missed.status).toBe(200);
    const calls = await placedCalls(v, DUMA.msisdn, v.services.calls!.list(DUMA.msisdn).length + 1);
    const call = twilioCall(v, DUMA.msisdn, calls.at(-1)!.ref);
    await call.answer();
    await call.press(DUMA.pin);
    await call.press('3');
    await call.press('0711000002');
    await call.press('10000');
    const prompt = await call.press(DUMA.pin);
    expect(spoken(prompt)).toBe(
      'Enter the code sent by SMS for KES 10,000.00 to Baraka O.: For Send the code again, press 1. For Cancel the payment, press 2. Then press the hash key.',
    );
    const code = await codeAfter(v, DUMA.msisdn, seen);
    expect(spoken(await call.press(code))).toMatch(/^Done: KES 10,000\.00 to Baraka O\./);
    expect(balance(v, DUMA.accountId)).toBe(before - 1_000_000);
    await call.status('completed');
  });
});
