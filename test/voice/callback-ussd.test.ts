import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { atSession, type TestServer } from '../helpers/server.js';
import { atSms } from '../sms/helpers.js';
import {
  AMINA,
  atCall,
  BARAKA,
  CHANYA,
  NOBODY,
  placedCalls,
  spoken,
  startVoiceServer,
  twilioCall,
  twilioPost,
  TWILIO_NUMBER,
  newCallSid,
} from './helpers.js';

/**
 * "Call me back" on the USSD menu and the SMS keyword CALL: END first, the call a few seconds later (the USSD dialog must be closed),
 * then the same flow by voice. One at a time and a few per hour; foreign and unknown numbers are never called.
 */

let server: TestServer;
beforeAll(async () => {
  // USSD through the test helper's AT sessions, which carry no callback key.
  server = await startVoiceServer({ CALLBACK_DELAY_MS: '400', CALLBACK_MAX_PER_HOUR: '2', AT_CALLBACK_KEY: '' });
});
afterAll(async () => {
  await server?.close();
});

async function askOnUssd(msisdn: string, pin: string) {
  const s = atSession(server, msisdn);
  await s.send();
  const menu = await s.send(pin);
  expect(menu.body).toContain('8. Call me back');
  return s.send('8');
}

describe('Call me back on USSD', () => {
  it('should end the USSD session, then call a few seconds later, and the call runs the banking flow', async () => {
    const reply = await askOnUssd(AMINA, '1234');
    expect(reply.body).toBe('END We will call you in a moment. The call is free for you.');
    // Not while the USSD dialog may still be open.
    expect(server.services.calls!.list(AMINA)).toHaveLength(0);
    const calls = await placedCalls(server, AMINA);
    expect(calls).toHaveLength(1);

    // Asking again (USSD or a missed call) while that call is on its way places no second call.
    expect((await askOnUssd(AMINA, '1234')).body).toBe('END A call to you is already on its way. Please wait for it.');
    const missed = await twilioPost(server, '/channels/twilio/voice', {
      CallSid: newCallSid(),
      From: AMINA,
      To: TWILIO_NUMBER,
      Direction: 'inbound',
    });
    expect(missed.body).toContain('<Reject reason="busy"/>');
    await sleep(600);
    expect(server.services.calls!.list(AMINA)).toHaveLength(1);

    const call = twilioCall(server, AMINA, calls[0]!.ref);
    expect(spoken(await call.answer())).toContain('Welcome Amina. Enter your PIN:');
    expect(spoken(await call.press('1234'))).toMatch(/^Main menu For Balance, press 1\./);
    await call.status('completed');
  });

  it('should allow only a few call-backs per number per hour', async () => {
    for (let i = 0; i < 2; i++) {
      expect((await askOnUssd(BARAKA, '2468')).body).toBe('END We will call you in a moment. The call is free for you.');
      const calls = await placedCalls(server, BARAKA, i + 1);
      await twilioCall(server, BARAKA, calls[i]!.ref).status('completed');
    }
    expect((await askOnUssd(BARAKA, '2468')).body).toBe('END You have asked for too many calls. Please try again later.');
    await sleep(600);
    expect(server.services.calls!.list(BARAKA)).toHaveLength(2);
  });

  it("should call back on the SMS keyword CALL (through Africa's Talking), then answer on AT", async () => {
    expect((await atSms(server, CHANYA, 'call')).status).toBe(200);
    const [placed] = await placedCalls(server, CHANYA);
    expect(placed).toMatchObject({ to: CHANYA });
    for (let i = 0; i < 50 && !server.services.outbox!.list(CHANYA).length; i++) await sleep(20);
    expect(server.services.outbox!.list(CHANYA).at(-1)?.text).toBe('We will call you back on this number shortly.');
    const call = atCall(server, CHANYA, placed!.id);
    expect(spoken(await call.answer())).toContain('Welcome Chanya. Enter your PIN:');
    await call.end();
    expect((await server.services.callbacks.get(placed!.ref))?.state).toBe('done');
  });

  it('should never call a foreign or an unregistered number back', async () => {
    for (const from of ['+255754000001', '+447700900123', NOBODY]) {
      const missed = await twilioPost(server, '/channels/twilio/voice', {
        CallSid: newCallSid(),
        From: from,
        To: TWILIO_NUMBER,
        Direction: 'inbound',
      });
      expect(missed.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>');
    }
    await sleep(600);
    for (const to of ['+255754000001', '+447700900123', NOBODY]) expect(server.services.calls!.list(to)).toHaveLength(0);
    expect(await server.services.callbacks.request({ msisdn: '+255754000001', source: 'sms' })).toEqual({
      status: 'refused',
      reason: 'not-home',
    });
  });
});
