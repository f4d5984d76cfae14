import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smsSegments } from '../../src/text/gsm.js';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';
import { atSms, messageId, outboxOf, storedValues, twilioFields, twilioSms, twimlMessage } from './helpers.js';

const AMINA = '+254711000001'; // client 1, PIN 1234, savings 12,500.00
const BARAKA = '+254711000002'; // client 2, PIN 2468
const CHANYA = '+254711000003'; // client 3, PIN 1357
const DUMA = '+254711000004'; // client 4, PIN 8642
const NOBODY = '+254711000009';
const TOKEN = 'twilio-auth-token-for-tests-0123';
const PUBLIC_URL = 'https://kiunga.example.com';
const CALLBACK_KEY = 'at-callback-key-0123456789abcdef';
const twilioOpts = { token: TOKEN, publicUrl: PUBLIC_URL };

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ TWILIO_AUTH_TOKEN: TOKEN, PUBLIC_URL, AT_SMS_KEYWORD: 'Kiunga', SMS_PIN_ENABLED: 'true' });
});
afterAll(async () => {
  await server?.close();
});

const at = (from: string, text: string, extra: Record<string, string> = {}) => atSms(server, from, text, extra);
const failures = async (clientId: number) => {
  const { failures: n } = await server.services.pins.status(clientId);
  return n === 0 ? null : String(n);
};
const lastText = async (to: string) => (await outboxOf(server, to)).at(-1)?.text ?? '';
const forgetLanguage = (msisdn: string) => server.services.store.delete(server.services.keys.language(msisdn));

describe("SMS keywords through Africa's Talking", () => {
  it('should answer BAL 1234 from the registered number with the balance, through the messenger, without the PIN', async () => {
    const before = (await outboxOf(server, AMINA)).length;
    const res = await at(AMINA, 'BAL 1234');
    expect(res.status).toBe(200);
    const sent = await outboxOf(server, AMINA);
    expect(sent.length).toBe(before + 1);
    const reply = sent.at(-1)!;
    expect(reply.text).toBe('Balance\nAkiba Savings 000000001: KES 12,500.00');
    expect(reply.text).not.toMatch(/\b1234\b/);
    expect(reply.ref).toMatch(/^at:ATXid_/);
  });

  it('should be case-insensitive and tolerant of extra spaces', async () => {
    await at(AMINA, '   bal     1234  ');
    expect(await lastText(AMINA)).toContain('KES 12,500.00');
  });

  it('should answer one reply to a message id delivered twice, and check the PIN once', async () => {
    const before = (await outboxOf(server, DUMA)).length;
    const id = messageId();
    const first = await at(DUMA, 'BAL 1111', { id });
    const again = await at(DUMA, 'BAL 1111', { id });
    const concurrent = await Promise.all([at(DUMA, 'BAL 1111', { id }), at(DUMA, 'BAL 1111', { id })]);
    expect([first, again, ...concurrent].map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const sent = await outboxOf(server, DUMA);
    expect(sent.length).toBe(before + 1);
    expect(sent.at(-1)!.text).toBe('Wrong PIN. 2 attempt(s) left before your PIN is locked.');
    expect(await failures(4)).toBe('1');
    await server.services.pins.unlock(4);
  });

  it('should echo linkId, short code and service keyword with the reply job of a premium message, never "undefined"', async () => {
    const jobs: Record<string, unknown>[] = [];
    const queue = server.services.queue;
    const add = queue.add.bind(queue);
    queue.add = async (name, data, opts) => {
      if (name === 'sms') jobs.push(data);
      return add(name, data, opts);
    };
    try {
      await at(AMINA, 'KIUNGA BAL 1234', { linkId: 'SampleLinkId123' });
      await at(AMINA, 'HELP', { linkId: 'undefined' });
    } finally {
      queue.add = add;
    }
    expect(jobs[0]).toMatchObject({ to: AMINA, linkId: 'SampleLinkId123', shortCode: '22384', keyword: 'Kiunga' });
    // The service keyword in front of the message is not part of the command.
    expect(jobs[0]!.text).toBe('Balance\nAkiba Savings 000000001: KES 12,500.00');
    expect(jobs[1]).not.toHaveProperty('linkId');
    expect(jobs[1]).not.toHaveProperty('keyword');
  });

  it('should answer SALIO in Swahili and SOLDE in French', async () => {
    await at(CHANYA, 'SALIO 1357');
    expect(await lastText(CHANYA)).toMatch(/^Salio\nAkiba Savings 000000003: KES 100,000\.00$/);
    await at(CHANYA, 'SOLDE 1357');
    const fr = await lastText(CHANYA);
    expect(fr).toMatch(/^Solde\nAkiba Savings 000000003: 100 000,00 KES$/);
    // French amounts are formatted with narrow no-break spaces: sent as GSM-7 look-alikes, not UCS-2.
    expect(smsSegments(fr).encoding).toBe('GSM-7');
    await forgetLanguage(CHANYA);
  });

  it('should remember LANG SW for the next SMS and for USSD', async () => {
    await at(AMINA, 'lang sw');
    expect(await lastText(AMINA)).toBe('Lugha imehifadhiwa.');
    await at(AMINA, 'BAL 1234');
    expect(await lastText(AMINA)).toMatch(/^Salio\n/);
    const ussd = atSession(server, AMINA);
    expect((await ussd.send()).body).toBe('CON Karibu Amina. Weka PIN yako:');
    await at(AMINA, 'LUGHA EN');
    expect(await lastText(AMINA)).toBe('Language saved.');
    await at(AMINA, 'LANG DE');
    expect(await lastText(AMINA)).toMatch(/^To change language, send LANG and EN, SW or FR\.\n/);
    await forgetLanguage(AMINA);
  });

  it('should answer MINI with the statement rows that fit two SMS parts', async () => {
    await at(AMINA, 'MINI 1234');
    const text = await lastText(AMINA);
    expect(text).toMatch(/^Mini statement 000000001\n\d\d\/\d\d\/\d{4} [+-]KES /);
    expect(smsSegments(text).segments).toBeLessThanOrEqual(2);
  });

  it('should answer an unknown keyword, an empty message or a PIN-less BAL politely, without counting a PIN', async () => {
    await at(BARAKA, 'HELLO THERE');
    expect(await lastText(BARAKA)).toBe(
      'Send BAL and your PIN for your balance, MINI and your PIN for a mini statement, CALL to be called back, or LANG EN, SW or FR for your language.',
    );
    await at(BARAKA, '');
    expect(await lastText(BARAKA)).toMatch(/^Send BAL and your PIN/);
    for (const text of ['BAL', 'BAL 12', 'BAL 1234 5678', 'BAL 12345678']) {
      await at(BARAKA, text);
      expect(await lastText(BARAKA)).toMatch(/^To get your balance, send BAL, a space and your PIN\.\nSend BAL/);
    }
    expect(await failures(2)).toBeNull();
    await at(BARAKA, 'MSAADA');
    expect(await lastText(BARAKA)).toMatch(/^Tuma SALIO na PIN yako/);
    await forgetLanguage(BARAKA);
  });

  it('should answer CALL through the requestCallback actor', async () => {
    await at(BARAKA, 'CALL');
    const texts = server.services.translator;
    const known = ['queued', 'pending', 'limit', 'refused', 'unavailable'].map((k) => texts.t('en', `sms.callback.${k}`));
    expect(known).toContain(await lastText(BARAKA));
  });

  it('should tell an unregistered number politely', async () => {
    await at(NOBODY, 'BAL 1234');
    expect(await lastText(NOBODY)).toBe('This number is not registered for mobile banking. Please visit a branch to register.');
  });

  it('should refuse malformed notifications with 4xx and send nothing', async () => {
    const before = server.services.outbox!.list().length;
    expect((await atSms(server, AMINA, 'x'.repeat(1601))).status).toBe(400);
    expect((await atSms(server, AMINA, 'BAL 1234', { id: '' })).status).toBe(400);
    expect((await atSms(server, AMINA, 'BAL 1234', { id: 'bad id with spaces' })).status).toBe(400);
    const noFrom = await fetch(`${server.url}/channels/africastalking/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'text=BAL&id=ATXid_1',
    });
    expect(noFrom.status).toBe(400);
    const json = await fetch(`${server.url}/channels/africastalking/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: AMINA, text: 'BAL 1234', id: 'ATXid_2' }),
    });
    expect(json.status).toBe(415);
    // An alphanumeric sender is not a customer: read, not answered.
    expect((await atSms(server, 'Safaricom', 'Promo')).status).toBe(200);
    await server.services.queue.idle();
    expect(server.services.outbox!.list().length).toBe(before);
  });
});

describe('SMS keywords through Twilio', () => {
  it('should answer BAL 1234 as TwiML when the request is signed', async () => {
    const res = await twilioSms(server, twilioFields(AMINA, 'BAL 1234'), twilioOpts);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/xml/);
    expect(res.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Message>/);
    expect(twimlMessage(res.body)).toBe('Balance\nAkiba Savings 000000001: KES 12,500.00');
    expect(res.body).not.toMatch(/\b1234\b/);
  });

  it('should answer a retried MessageSid with the same TwiML, checking the PIN once', async () => {
    const fields = twilioFields(DUMA, 'MINI 9999');
    const first = await twilioSms(server, fields, twilioOpts);
    const again = await twilioSms(server, fields, twilioOpts);
    expect(twimlMessage(first.body)).toBe('Wrong PIN. 2 attempt(s) left before your PIN is locked.');
    expect(again.body).toBe(first.body);
    expect(await failures(4)).toBe('1');
    await server.services.pins.unlock(4);
  });

  it('should refuse a missing or forged signature with 403 and change nothing', async () => {
    const outboxBefore = server.services.outbox!.list().length;
    const forged = [
      await twilioSms(server, twilioFields(CHANYA, 'BAL 9999'), { ...twilioOpts, signature: null }),
      await twilioSms(server, twilioFields(CHANYA, 'BAL 9999'), { ...twilioOpts, signature: 'bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==' }),
      await twilioSms(server, twilioFields(CHANYA, 'BAL 9999'), { token: 'another-token-entirely-0123', publicUrl: PUBLIC_URL }),
      await twilioSms(server, twilioFields(CHANYA, 'BAL 9999'), { token: TOKEN, publicUrl: 'https://attacker.example.com' }),
    ];
    // A body changed after signing (the PIN guessed) does not match its signature either.
    const fields = twilioFields(CHANYA, 'BAL 1357');
    const sig = (await import('twilio')).default.getExpectedTwilioSignature(TOKEN, `${PUBLIC_URL}/channels/twilio/sms`, fields);
    forged.push(await twilioSms(server, { ...fields, Body: 'BAL 9999' }, { ...twilioOpts, signature: sig }));
    for (const res of forged) {
      expect(res.status).toBe(403);
      expect(res.body).toBe('forbidden');
    }
    expect(await failures(3)).toBeNull();
    await server.services.queue.idle();
    expect(server.services.outbox!.list().length).toBe(outboxBefore);
  });

  it('should refuse a signed but malformed webhook with 400, and answer a non-phone sender with an empty response', async () => {
    const noSid = twilioFields(AMINA, 'BAL 1234');
    delete noSid.MessageSid;
    delete noSid.SmsSid;
    expect((await twilioSms(server, noSid, twilioOpts)).status).toBe(400);
    const whatsapp = await twilioSms(server, twilioFields('whatsapp:+254711000001', 'BAL 1234'), twilioOpts);
    expect(whatsapp.status).toBe(200);
    expect(twimlMessage(whatsapp.body)).toBeUndefined();
  });
});

describe('PIN by SMS and the shared lockout', () => {
  it('should lock USSD after three wrong PINs by SMS, and never keep, log or echo a PIN', async () => {
    await at(BARAKA, 'BAL 8081');
    expect(await lastText(BARAKA)).toBe('Wrong PIN. 2 attempt(s) left before your PIN is locked.');
    const tw = await twilioSms(server, twilioFields(BARAKA, 'MINI 8082'), twilioOpts);
    expect(twimlMessage(tw.body)).toBe('Wrong PIN. 1 attempt(s) left before your PIN is locked.');
    await at(BARAKA, 'SALIO 8083');
    expect(await lastText(BARAKA)).toMatch(/^PIN yako imefungwa/);
    await forgetLanguage(BARAKA);
    // Even the right PIN is refused now, by SMS and on USSD.
    await at(BARAKA, 'BAL 2468');
    expect(await lastText(BARAKA)).toMatch(/^Your PIN is locked/);
    const ussd = atSession(server, BARAKA);
    expect((await ussd.send()).body).toBe('CON Welcome Baraka. Enter your PIN:');
    expect((await ussd.send('2468')).body).toMatch(/^CON Your PIN is locked for a while/);

    const everything = [
      ...server.services.outbox!.list().map((e) => e.text),
      tw.body,
      server.logs.text,
      ...(await storedValues(server)),
    ].join('\n');
    for (const pin of ['1234', '2468', '1357', '8081', '8082', '8083', '9999']) expect(everything).not.toMatch(new RegExp(`\\b${pin}\\b`));
    await server.services.pins.unlock(2);
  });
});

describe('settings', () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer({ SMS_PIN_ENABLED: 'false', SMS_MAX_PER_HOUR: '3', AT_CALLBACK_KEY: CALLBACK_KEY });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('should answer PIN keywords with "use USSD" and check no PIN when SMS_PIN_ENABLED=false', async () => {
    await atSms(off, AMINA, 'BAL 9999', {}, `?key=${CALLBACK_KEY}`);
    await atSms(off, AMINA, 'MINI 1234', {}, `?key=${CALLBACK_KEY}`);
    const sent = await outboxOf(off, AMINA);
    expect(sent.map((e) => e.text)).toEqual([
      'For your security we do not accept PINs by SMS. Please use our USSD menu for your balance and statement.',
      'For your security we do not accept PINs by SMS. Please use our USSD menu for your balance and statement.',
    ]);
    expect(await off.services.store.get(off.services.keys.pinFailures(1))).toBeNull();
  });

  it('should require AT_CALLBACK_KEY on the AT SMS routes', async () => {
    expect((await atSms(off, CHANYA, 'HELP')).status).toBe(403);
    expect((await atSms(off, CHANYA, 'HELP', {}, '?key=wrong')).status).toBe(403);
    expect(await outboxOf(off, CHANYA)).toEqual([]);
  });

  it('should stop answering a number after SMS_MAX_PER_HOUR messages', async () => {
    for (let i = 0; i < 5; i++) expect((await atSms(off, DUMA, 'HELP', {}, `?key=${CALLBACK_KEY}`)).status).toBe(200);
    expect((await outboxOf(off, DUMA)).length).toBe(3);
  });

  it('should refuse every Twilio request, signed or not, without TWILIO_AUTH_TOKEN', async () => {
    const res = await twilioSms(off, twilioFields(AMINA, 'HELP'), twilioOpts);
    expect(res.status).toBe(403);
  });
});
