import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from '../helpers/server.js';
import { newSessionId } from '../helpers/server.js';
import { AMINA, AT_KEY, BARAKA, newCallSid, startVoiceServer, twilioPost, TWILIO_NUMBER } from '../voice/helpers.js';

/**
 * Threats T1 and T2, route by route. Africa's Talking signs nothing: every AT route must ask for the callback
 * key; every Twilio route must check X-Twilio-Signature. A forged request gets 403 and leaves no trace: no
 * session, no PIN attempt counted, no SMS queued, no call placed.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startVoiceServer({ CALLBACK_MAX_PER_HOUR: '100', SMS_PIN_ENABLED: 'true' });
});
afterAll(async () => {
  await server?.close();
});

const form = async (path: string, fields: Record<string, string>) => {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, body: await res.text() };
};

/** Query strings that must not pass for the key: none, wrong, a prefix, an extension, another case, two keys, the key in the body. */
const forgedQueries = [
  '',
  '?key=',
  '?key=wrong',
  `?key=${AT_KEY.slice(0, -1)}`,
  `?key=${AT_KEY}x`,
  `?key=${AT_KEY.toUpperCase()}`,
  `?key=${AT_KEY}&key=${AT_KEY}`,
  `?Key=${AT_KEY}`,
];

describe("every Africa's Talking route asks for the callback key (T1)", () => {
  it('should answer 403 on every AT route for a missing or forged key, and change nothing', async () => {
    const ussdSession = newSessionId();
    const smsId = `ATXid_forged_${Date.now()}`;
    const routes: [string, Record<string, string>][] = [
      [
        '/channels/africastalking/ussd',
        { sessionId: ussdSession, serviceCode: '*384*123#', phoneNumber: AMINA, networkCode: '63902', text: '0000' },
      ],
      ['/channels/africastalking/ussd/events', { sessionId: ussdSession, phoneNumber: AMINA, status: 'Success', input: '0000' }],
      [
        '/channels/africastalking/sms',
        { from: AMINA, to: '22384', text: 'BAL 0000', date: new Date().toISOString(), id: smsId, networkCode: '63902' },
      ],
      ['/channels/africastalking/sms/delivery', { id: smsId, status: 'Success', phoneNumber: AMINA, networkCode: '63902' }],
      [
        '/channels/africastalking/voice',
        {
          sessionId: `ATVId_forged_${Date.now()}`,
          direction: 'Inbound',
          isActive: '1',
          callerNumber: BARAKA,
          destinationNumber: '+254711082000',
        },
      ],
    ];
    for (const [path, fields] of routes) {
      for (const query of forgedQueries) {
        const r = await form(`${path}${query}`, query === '' ? { ...fields, key: AT_KEY } : fields);
        expect([path, query, r.status]).toEqual([path, query, 403]);
      }
    }
    const { services } = server;
    await services.queue.idle();
    await sleep(150); // a call-back would be queued with a 50 ms delay
    expect(await services.store.get(services.keys.session('ussd', `at:${ussdSession}`))).toBeNull();
    expect(await services.store.get(services.keys.pinFailures(1))).toBeNull();
    expect(services.outbox!.list(AMINA)).toEqual([]);
    expect(services.calls!.list(BARAKA)).toEqual([]);
  });

  it('should serve every AT route with the right key', async () => {
    const sessionId = newSessionId();
    const hop = await form(`/channels/africastalking/ussd?key=${AT_KEY}`, {
      sessionId,
      serviceCode: '*384*123#',
      phoneNumber: AMINA,
      text: '',
    });
    expect(hop).toEqual({ status: 200, body: 'CON Welcome Amina. Enter your PIN:' });
    const events = await form(`/channels/africastalking/ussd/events?key=${AT_KEY}`, { sessionId, phoneNumber: AMINA, status: 'Success' });
    expect(events.status).toBe(200);
    const delivery = await form(`/channels/africastalking/sms/delivery?key=${AT_KEY}`, {
      id: 'ATXid_ok',
      status: 'Success',
      phoneNumber: AMINA,
    });
    expect(delivery.status).toBe(200);
  });
});

describe('every Twilio route checks X-Twilio-Signature (T2)', () => {
  it('should answer 403 on every Twilio route for a missing or forged signature, and change nothing', async () => {
    const sms = {
      MessageSid: `SM${Date.now()}`,
      AccountSid: 'AC' + '0'.repeat(32),
      From: BARAKA,
      To: TWILIO_NUMBER,
      Body: 'BAL 0000',
      NumMedia: '0',
    };
    const call = {
      CallSid: newCallSid(),
      AccountSid: 'AC' + '0'.repeat(32),
      From: BARAKA,
      To: TWILIO_NUMBER,
      Direction: 'inbound',
      CallStatus: 'ringing',
    };
    const routes: [string, Record<string, string>][] = [
      ['/channels/twilio/sms', sms],
      ['/channels/twilio/voice', call],
      ['/channels/twilio/voice/status', { ...call, CallStatus: 'completed', CallDuration: '3' }],
    ];
    for (const [path, fields] of routes) {
      for (const signature of ['missing', 'forged'] as const) {
        const r = await twilioPost(server, path, fields, signature);
        expect([path, signature, r.status]).toEqual([path, signature, 403]);
      }
    }
    const { services } = server;
    await services.queue.idle();
    await sleep(150);
    expect(await services.store.get(services.keys.pinFailures(2))).toBeNull();
    expect(services.calls!.list(BARAKA)).toEqual([]);
    expect(services.outbox!.list(BARAKA)).toEqual([]);
  });
});
