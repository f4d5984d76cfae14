import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from '../helpers/server.js';
import {
  allNodes,
  AMINA,
  atCall,
  atPost,
  AT_KEY,
  BARAKA,
  CHANYA,
  DUMA,
  placedCalls,
  savings,
  spoken,
  startVoiceServer,
  type Reply,
} from './helpers.js';

/**
 * Call-back journeys through Africa's Talking's voice callback: a missed call is rejected (no charge) and
 * becomes a call-back; AT's answer request is matched to it by `sessionId`; the banking flow runs by keypad;
 * every reply is well-formed voice XML (parsed strictly), names with `&` and `<` included.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startVoiceServer({ CALLBACK_MAX_PER_HOUR: '100' });
  // A customer whose name would break unescaped XML.
  server.services.sandbox!.bank.client(3)!.firstname = `Cha&nya<"O'Neil">`;
});
afterAll(async () => {
  await server?.close();
});

const inbound = (callerNumber: string, query = `key=${AT_KEY}`) =>
  atPost(
    server,
    { sessionId: `ATVId_in_${Date.now()}`, direction: 'Inbound', isActive: '1', callerNumber, destinationNumber: '+254711082000' },
    query,
  );

const tags = (r: Reply) => r.xml!.children.map((c) => c.name);
const getDigits = (r: Reply) => allNodes(r.xml!).find((n) => n.name === 'GetDigits');

/** A missed call from `msisdn`, then AT answering the call-back Kiunga placed (found by its sessionId). */
async function callBack(msisdn: string) {
  const before = server.services.calls!.list(msisdn).length;
  const missed = await inbound(msisdn);
  expect(missed.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Reject/></Response>');
  const calls = await placedCalls(server, msisdn, before + 1);
  expect(calls).toHaveLength(before + 1);
  // The sandbox dialer's call id stands for AT's sessionId (what AT.VOICE.call returns).
  return { ref: calls.at(-1)!.ref, call: atCall(server, msisdn, calls.at(-1)!.id) };
}

describe("Africa's Talking voice callback", () => {
  it('should refuse requests without the callback key', async () => {
    expect((await inbound(AMINA, '')).status).toBe(403);
    expect((await inbound(AMINA, 'key=wrong-key-wrong-key-wrong')).status).toBe(403);
    await sleep(150);
    expect(server.services.calls!.list(AMINA)).toHaveLength(0);
  });

  it('should reject a missed call, call back, take the PIN and send money once', async () => {
    const { ref, call } = await callBack(BARAKA);
    const before = [savings(server, 2), savings(server, 1)];

    const answer = await call.answer();
    expect(answer.status).toBe(200);
    expect(tags(answer)).toEqual(['GetDigits', 'Redirect']);
    expect(getDigits(answer)!.attrs).toEqual({
      finishOnKey: '#',
      timeout: '10',
      callbackUrl: `https://kiunga.example.org/channels/africastalking/voice?key=${AT_KEY}&seq=1`,
    });
    // One Say inside GetDigits (AT nests one), in AT's voice.
    expect(getDigits(answer)!.children.map((c) => [c.name, c.attrs])).toEqual([['Say', { voice: 'woman' }]]);
    expect(spoken(answer)).toBe(
      'Hello. This is the call you asked for from your bank. Welcome Baraka. Enter your PIN: Then press the hash key.',
    );
    expect(answer.xml!.children[1]!.text).toBe(getDigits(answer)!.attrs.callbackUrl);

    const menu = await call.press('2468');
    expect(getDigits(menu)!.attrs).toMatchObject({ numDigits: '1' });
    expect(getDigits(menu)!.attrs.finishOnKey).toBeUndefined();
    expect(spoken(menu)).toBe(
      'Main menu For Balance, press 1. For Mini statement, press 2. For Send money, press 3. For Language, press 6.',
    );

    await call.press('3');
    expect(spoken(await call.press('0711000001'))).toBe('Amount to Amina W.: Then press the hash key.');
    expect(spoken(await call.press('200'))).toMatch(/^Pay KES 200\.00 to Amina W\. from Akiba Savings 000000002\? Enter PIN to confirm:/);
    const done = await call.press('2468');
    expect(tags(done)).toEqual(['Say']);
    expect(spoken(done)).toMatch(
      /^Done: KES 200\.00 to Amina W\. \(ref [0-9A-F]{8}\)\. An SMS receipt will follow\. Thank you for banking with us\.$/,
    );
    expect([savings(server, 2), savings(server, 1)]).toEqual([before[0]! - 200, before[1]! + 200]);
    // The same GetDigits result posted again: same answer, no second transfer.
    expect((await call.press('2468')).body).toBe(done.body);
    expect([savings(server, 2), savings(server, 1)]).toEqual([before[0]! - 200, before[1]! + 200]);

    for (let i = 0; i < 100 && !server.services.outbox!.list(BARAKA).some((m) => m.text.startsWith('You sent')); i++) await sleep(20);
    expect(server.services.outbox!.list(BARAKA).at(-1)?.text).toMatch(/^You sent KES 200\.00 to Amina W\./);

    // AT's final request: the session ends and the call-back is done.
    expect((await call.end()).status).toBe(200);
    expect((await server.services.callbacks.get(ref))?.state).toBe('done');
  });

  it('should escape names with & and < so the XML stays well-formed', async () => {
    const { call } = await callBack(CHANYA);
    const answer = await call.answer();
    expect(answer.body).toContain('Welcome Cha&amp;nya&lt;&quot;O&apos;Neil&quot;&gt;. Enter your PIN:');
    expect(spoken(answer)).toContain(`Welcome Cha&nya<"O'Neil">. Enter your PIN:`);
    await call.end();
  });

  it('should speak English on AT for a French customer (AT text-to-speech is English only)', async () => {
    await server.services.store.set(server.services.keys.language(DUMA), 'fr');
    const { call } = await callBack(DUMA);
    const answer = await call.answer();
    expect(spoken(answer)).toBe(
      'Hello. This is the call you asked for from your bank. Welcome Duma. Enter your PIN: Then press the hash key.',
    );
    await call.end();
  });

  it('should re-prompt twice on silence (the Redirect after GetDigits), then say goodbye', async () => {
    const { call } = await callBack(AMINA);
    await call.answer();
    expect(spoken(await call.silence())).toBe('We did not hear anything. Welcome Amina. Enter your PIN: Then press the hash key.');
    await call.silence();
    const bye = await call.silence();
    expect(tags(bye)).toEqual(['Say']);
    expect(spoken(bye)).toBe('We did not hear from you, so we are ending this call. Goodbye.');
    await call.end();
  });

  it('should find the call-back by clientRequestId when the sessionId is not known yet', async () => {
    const { ref } = await callBack(AMINA);
    const sessionId = `ATVId_${Date.now()}`;
    const answer = await atPost(server, { sessionId, direction: 'Outbound', isActive: '1', callerNumber: AMINA, clientRequestId: ref });
    expect(spoken(answer)).toContain('Welcome Amina. Enter your PIN:');
    // Later requests carry only the sessionId (and, whatever AT repeats, no direction is needed).
    const call = atCall(server, AMINA, sessionId);
    const menu = await atPost(server, { sessionId, isActive: '1', dtmfDigits: '1234' }, `key=${AT_KEY}&seq=1`);
    expect(spoken(menu)).toMatch(/^Main menu/);
    await call.end();
  });

  it('should ask no PIN on an outbound call Kiunga did not place', async () => {
    const answer = await atPost(server, {
      sessionId: 'ATVId_unknown_1',
      direction: 'Outbound',
      isActive: '1',
      callerNumber: AMINA,
      destinationNumber: '+254711082000',
    });
    expect(tags(answer)).toEqual(['Say']);
    expect(spoken(answer)).toContain('We only call you when you ask us to');
    expect(answer.body).not.toContain('GetDigits');
  });

  it('should call again once after no answer, then give up and let the number ask again', async () => {
    const { ref, call } = await callBack(BARAKA);
    const placed = server.services.calls!.list(BARAKA).length;
    expect((await call.end('NO_ANSWER')).status).toBe(200);
    const again = await placedCalls(server, BARAKA, placed + 1);
    expect(again).toHaveLength(placed + 1);
    expect(again.at(-1)!.ref).toBe(ref);
    expect((await server.services.callbacks.get(ref))?.attempts).toBe(2);
    await atCall(server, BARAKA, again.at(-1)!.id).end('USER_BUSY');
    const record = await server.services.callbacks.get(ref);
    expect(record).toMatchObject({ state: 'missed', outcome: 'busy' });
    // A repeated final report changes nothing; the number may ask again.
    await atCall(server, BARAKA, again.at(-1)!.id).end('USER_BUSY');
    await sleep(100);
    expect(server.services.calls!.list(BARAKA).filter((c) => c.ref === ref)).toHaveLength(2);
    expect((await server.services.callbacks.request({ msisdn: BARAKA, source: 'sms' })).status).toBe('queued');
  });
});
