import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from '../helpers/server.js';
import {
  allNodes,
  AMINA,
  BARAKA,
  CHANYA,
  newCallSid,
  placedCalls,
  savings,
  spoken,
  startVoiceServer,
  twilioCall,
  twilioPost,
  TWILIO_NUMBER,
  type Reply,
} from './helpers.js';

/**
 * Call-back journeys through Twilio's webhook formats, every request signed with the twilio library over
 * PUBLIC_URL: a missed call is rejected (first verb) and becomes a call-back; the answered call runs the
 * banking flow (the same file as USSD) by keypad; the money moves once; the receipt is spoken and sent by SMS.
 */

let server: TestServer;
beforeAll(async () => {
  // Many call-backs to the same numbers here; the hourly cap has its own test.
  server = await startVoiceServer({ CALLBACK_MAX_PER_HOUR: '100' });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.services.sandbox!.control.reset();
});

const missedCall = (from: string, signature: 'valid' | 'forged' | 'missing' = 'valid') =>
  twilioPost(
    server,
    '/channels/twilio/voice',
    { CallSid: newCallSid(), From: from, To: TWILIO_NUMBER, Direction: 'inbound', CallStatus: 'ringing' },
    signature,
  );

const verbs = (r: Reply) => r.xml!.children.map((c) => c.name);
const gather = (r: Reply) => allNodes(r.xml!).find((n) => n.name === 'Gather');
const committed = () =>
  server.services.sandbox!.control.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/accounttransfers') && r.committed)
    .length;

/** Rings off a missed call from `msisdn` and returns the ref of the call-back Kiunga places. */
async function callBack(msisdn: string): Promise<string> {
  const before = server.services.calls!.list(msisdn).length;
  const missed = await missedCall(msisdn);
  expect(missed.status).toBe(200);
  const calls = await placedCalls(server, msisdn, before + 1);
  expect(calls).toHaveLength(before + 1);
  return calls.at(-1)!.ref;
}

describe('a missed call to the Twilio number', () => {
  it('should be rejected with Reject as the first and only verb, and turn into one call-back', async () => {
    const missed = await missedCall(BARAKA);
    expect(missed.status).toBe(200);
    expect(missed.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>');
    const calls = await placedCalls(server, BARAKA);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ to: BARAKA, ref: expect.stringMatching(/^[a-z0-9]{20}$/) });
    const call = twilioCall(server, BARAKA, calls[0]!.ref);
    await call.answer();
    await call.status('completed');
  });
});

describe('the call-back call on Twilio', () => {
  it('should take the PIN by keypad, send money once, speak the receipt and send the SMS receipt', async () => {
    const ref = await callBack(AMINA);
    const before = [savings(server, 1), savings(server, 2)];
    const commits = committed();
    const call = twilioCall(server, AMINA, ref);

    const answer = await call.answer();
    expect(answer.status).toBe(200);
    expect(verbs(answer)).toEqual(['Gather']);
    expect(gather(answer)!.attrs).toMatchObject({ input: 'dtmf', finishOnKey: '#', actionOnEmptyResult: 'true', method: 'POST' });
    expect(gather(answer)!.attrs.numDigits).toBeUndefined();
    expect(gather(answer)!.attrs.action).toMatch(/^https:\/\/kiunga\.example\.org\/channels\/twilio\/voice\?ref=[a-z0-9]{20}&seq=1$/);
    expect(spoken(answer)).toBe(
      'Hello. This is the call you asked for from your bank. Welcome Amina. Enter your PIN: Then press the hash key.',
    );
    const say = allNodes(answer.xml!).find((n) => n.name === 'Say')!;
    expect(say.attrs).toEqual({ voice: 'Polly.Amy', language: 'en-GB' });

    const menu = await call.press('1234');
    expect(gather(menu)!.attrs).toMatchObject({ numDigits: '1' });
    expect(spoken(menu)).toBe(
      'Main menu For Balance, press 1. For Mini statement, press 2. For Send money, press 3. For Pay loan, press 4. For Language, press 6.',
    );
    expect(spoken(menu)).not.toContain('Call me back');

    expect(spoken(await call.press('3'))).toBe("Enter the recipient's phone number: Then press the hash key.");
    expect(spoken(await call.press('0711000002'))).toBe('Amount to Baraka O.: Then press the hash key.');
    const confirm = await call.press('500');
    expect(spoken(confirm)).toBe(
      'Pay KES 500.00 to Baraka O. from Akiba Savings 000000001? Enter PIN to confirm: Then press the hash key.',
    );
    const confirmAction = call.next;

    const done = await call.press('1234');
    expect(verbs(done)).toEqual(['Say', 'Say', 'Hangup']);
    expect(spoken(done)).toMatch(
      /^Done: KES 500\.00 to Baraka O\. \(ref [0-9A-F]{8}\)\. An SMS receipt will follow\. Thank you for banking with us\.$/,
    );
    expect([savings(server, 1), savings(server, 2)]).toEqual([before[0]! - 500, before[1]! + 500]);

    // Twilio repeating the confirming request gets the same answer, and no money moves again.
    const again = await call.repeat('1234', confirmAction);
    expect(again.body).toBe(done.body);
    expect([savings(server, 1), savings(server, 2)]).toEqual([before[0]! - 500, before[1]! + 500]);
    expect(committed() - commits).toBe(1);

    // The SMS receipts go out through the job queue.
    for (let i = 0; i < 100 && !server.services.outbox!.list(BARAKA).some((m) => m.text.startsWith('You received')); i++) await sleep(20);
    expect(server.services.outbox!.list(AMINA).at(-1)?.text).toMatch(/^You sent KES 500\.00 to Baraka O\. \(ref [0-9A-F]{8}\)\.$/);
    expect(server.services.outbox!.list(BARAKA).at(-1)?.text).toMatch(/^You received KES 500\.00 from Amina W\./);

    // The call ends: the session is gone, the call-back is done, and the number may ask again.
    expect((await call.status('completed')).status).toBe(200);
    expect(await server.services.store.get(server.services.keys.session('voice', `twilio:${call.callSid}`))).toBeNull();
    expect((await server.services.callbacks.get(ref))?.state).toBe('done');

    // Nothing typed is ever said back or logged: no reply of the call and no log line holds the PIN.
    for (const r of [answer, menu, confirm, done]) expect(r.body).not.toContain('1234');
    expect(server.logs.text).not.toMatch(/"(Digits|dtmfDigits|value|pin)":"1234"|Digits=1234/);
  });

  it('should read the balance and pay the loan by keypad', async () => {
    const ref = await callBack(AMINA);
    const call = twilioCall(server, AMINA, ref);
    await call.answer();
    await call.press('1234');
    const balance = await call.press('1');
    expect(verbs(balance).at(-1)).toBe('Hangup');
    expect(spoken(balance)).toBe(
      `Balance Akiba Savings 000000001: KES ${savings(server, 1).toLocaleString('en-KE', { minimumFractionDigits: 2 })} Thank you for banking with us.`,
    );
    await call.status('completed');

    const second = twilioCall(server, AMINA, await callBack(AMINA));
    await second.answer();
    await second.press('1234');
    const loan = await second.press('4');
    expect(spoken(loan)).toMatch(
      /^Loan 000000101: KES 30,000\.00 outstanding\. Next instalment KES [\d,.]+ due [\d/]+\. For Pay instalment, press 1\. For Other amount, press 2\.$/,
    );
    expect(spoken(await second.press('2'))).toBe('Amount to Loan 000000101: Then press the hash key.');
    await second.press('1000');
    const before = savings(server, 1);
    const done = await second.press('1234');
    expect(spoken(done)).toMatch(/^Done: KES 1,000\.00 to Loan 000000101 \(ref [0-9A-F]{8}\)\./);
    expect(savings(server, 1)).toBe(before - 1000);
    await second.status('completed');
  });

  it('should say a wrong key is invalid and read the menu again; 0 goes back and * home', async () => {
    const call = twilioCall(server, CHANYA, await callBack(CHANYA));
    await call.answer();
    await call.press('1357');
    const wrong = await call.press('9');
    expect(spoken(wrong)).toMatch(/^Invalid choice\. Main menu For Balance, press 1\./);
    // 0 goes back, * home, as 0 and 00 do on USSD (a menu gathers one key).
    expect(spoken(await call.press('6'))).toMatch(/^Choose language/);
    expect(spoken(await call.press('0'))).toMatch(/^Main menu/);
    await call.press('3');
    expect(spoken(await call.press('*'))).toMatch(/^Main menu/);
    // The mini statement is read in full, then the call ends.
    const statement = await call.press('2');
    expect(spoken(statement)).toMatch(
      /^Mini statement 000000003 (\d\d\/\d\d\/\d{4} [+-]KES [\d,]+\.\d\d ){2,10}Thank you for banking with us\.$/,
    );
    expect(verbs(statement).at(-1)).toBe('Hangup');
    await call.status('completed');
  });

  it('should re-prompt twice on silence, then say goodbye and hang up', async () => {
    const call = twilioCall(server, BARAKA, await callBack(BARAKA));
    await call.answer();
    const first = await call.press('');
    expect(spoken(first)).toBe('We did not hear anything. Welcome Baraka. Enter your PIN: Then press the hash key.');
    const second = await call.press('');
    expect(spoken(second)).toBe(spoken(first));
    const third = await call.press('');
    expect(verbs(third)).toEqual(['Say', 'Hangup']);
    expect(spoken(third)).toBe('We did not hear from you, so we are ending this call. Goodbye.');
    await call.status('completed');
  });

  it('should speak English where Twilio has no voice for the language (Swahili) and no recording exists', async () => {
    const call = twilioCall(server, CHANYA, await callBack(CHANYA));
    await call.answer();
    await call.press('1357');
    const languages = await call.press('6');
    expect(spoken(languages)).toBe('Choose language For English, press 1. For Kiswahili, press 2. For Francais, press 3.');
    const french = await call.press('3');
    expect(spoken(french)).toMatch(/^Menu principal Pour Solde, tapez 1\./);
    expect(allNodes(french.xml!).find((n) => n.name === 'Say')!.attrs).toEqual({ voice: 'Polly.Lea', language: 'fr-FR' });
    await call.press('6');
    const swahili = await call.press('2');
    expect(spoken(swahili)).toMatch(/^Main menu For Balance, press 1\./);
    expect(allNodes(swahili.xml!).find((n) => n.name === 'Say')!.attrs).toEqual({ voice: 'Polly.Amy', language: 'en-GB' });
    await call.status('completed');
    // Back to English for the other tests.
    await server.services.store.set(server.services.keys.language(CHANYA), 'en');
  });
});

describe('calls Kiunga did not place, and unsigned requests', () => {
  it('should ask no PIN on a call with an unknown ref: it says why and hangs up', async () => {
    const call = twilioCall(server, AMINA, 'aaaaaaaaaaaaaaaaaaaa');
    const reply = await call.answer();
    expect(reply.status).toBe(200);
    expect(verbs(reply)).toEqual(['Say', 'Hangup']);
    expect(spoken(reply)).toContain('We only call you when you ask us to');
    expect(reply.body).not.toMatch(/PIN:/);
    expect(await server.services.store.get(server.services.keys.session('voice', `twilio:${call.callSid}`))).toBeNull();
  });

  it("should ask no PIN when the call is answered by another number than the call-back's", async () => {
    const ref = await callBack(BARAKA);
    const reply = await twilioCall(server, AMINA, ref).answer();
    expect(verbs(reply)).toEqual(['Say', 'Hangup']);
    expect(reply.body).not.toMatch(/PIN:/);
    await twilioCall(server, BARAKA, ref).status('no-answer');
  });

  it('should refuse forged and missing signatures with 403 and change nothing', async () => {
    const placed = server.services.calls!.list(AMINA).length;
    for (const signature of ['forged', 'missing'] as const) {
      const missed = await missedCall(AMINA, signature);
      expect(missed.status).toBe(403);
      expect(missed.body).toBe('forbidden');
    }

    // A call-back in progress: forged key presses do not reach it.
    const ref = await callBack(AMINA);
    const call = twilioCall(server, AMINA, ref);
    await call.answer();
    const before = [savings(server, 1), savings(server, 2)];
    const sessionKey = server.services.keys.session('voice', `twilio:${call.callSid}`);
    const session = await server.services.store.get(sessionKey);
    const base = { CallSid: call.callSid, From: TWILIO_NUMBER, To: AMINA, Direction: 'outbound-api', CallStatus: 'in-progress' };
    for (const signature of ['forged', 'missing'] as const) {
      expect((await twilioPost(server, call.next, { ...base, Digits: '1234' }, signature)).status).toBe(403);
      expect(
        (await twilioPost(server, `/channels/twilio/voice/status?ref=${ref}`, { ...base, CallStatus: 'completed' }, signature)).status,
      ).toBe(403);
    }
    // A signature for other parameters (Digits changed after signing) is forged too.
    const tampered = await fetch(`${server.url}${call.next}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': (await import('twilio')).default.getExpectedTwilioSignature(
          'twilio-test-auth-token-0123456789',
          `https://kiunga.example.org${call.next}`,
          { ...base, Digits: '0000' },
        ),
      },
      body: new URLSearchParams({ ...base, Digits: '1234' }).toString(),
    });
    expect(tampered.status).toBe(403);
    expect(await server.services.store.get(sessionKey)).toBe(session);
    expect((await server.services.callbacks.get(ref))?.state).toBe('answered');
    expect([savings(server, 1), savings(server, 2)]).toEqual(before);
    // One call-back only: the one asked for with a valid signature.
    await new Promise((r) => setTimeout(r, 200));
    expect(server.services.calls!.list(AMINA).length).toBe(placed + 1);
    await call.status('completed');
  });
});
