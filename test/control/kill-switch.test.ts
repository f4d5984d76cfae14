/**
 * The kill switches end to end (issue 10, threat T17), over real HTTP: two server processes on one Redis
 * prefix; `money` switched off through the admin API of one refuses a USSD transfer on the other within a
 * second while the balance still works, and switched back on the transfer works; the channel, `all` and
 * flow switches give each channel its polite maintenance answer and run nothing else.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';

const ALICE = 'alice-token-for-switch-tests-0123456789';
const AMINA = '+254711000001';
const PAUSED_MONEY = 'END Sorry, sending money is paused for maintenance. Nothing was sent. Balances and statements still work.';
const PAUSED = 'Sorry, this service is paused for maintenance. Please try again later.';

let one: TestServer;
let two: TestServer;
beforeAll(async () => {
  const shared = { REDIS_PREFIX: `kiunga-test-${randomBytes(4).toString('hex')}`, CALLBACK_DELAY_MS: '0' };
  one = await startTestServer({ ...shared, ADMIN_TOKENS: `alice:${ALICE}` });
  two = await startTestServer(shared);
});
afterAll(async () => {
  await one?.close();
  await two?.close();
});
beforeEach(async () => {
  for (const scope of ['all', 'money', 'channel:ussd', 'channel:sms', 'channel:voice', 'flow:banking']) {
    await switchTo(scope, false);
  }
  await sleep(1000);
});

async function switchTo(scope: string, off: boolean, reason = 'maintenance window') {
  const res = await fetch(`${one.url}/admin/switches/${scope}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
    body: JSON.stringify(off ? { off, reason } : { off }),
  });
  expect([scope, res.status]).toEqual([scope, 200]);
}

const committedTransfers = (s: TestServer) =>
  s.services.sandbox!.control.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/accounttransfers') && r.committed).length;

/** Dial, PIN, Send money, recipient, amount: the session rests on the PIN confirmation. */
async function toConfirmation(s: TestServer) {
  const session = atSession(s, AMINA);
  await session.send();
  await session.send('1234');
  await session.send('3');
  await session.send('0711000002');
  expect((await session.send('50')).body).toMatch(/^CON Pay KES 50\.00 to Baraka O\./);
  return session;
}

// The two processes share one job queue (one Redis prefix): either may send an SMS or place a call.
const sent = (to: string) => [...one.services.outbox!.list(to), ...two.services.outbox!.list(to)].sort((a, b) => a.at.localeCompare(b.at));
const placed = (to: string) => [...one.services.calls!.list(to), ...two.services.calls!.list(to)];
const idle = () => Promise.all([one.services.queue.idle(), two.services.queue.idle()]);

const post = (s: TestServer, path: string, form: Record<string, string>) =>
  fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  }).then(async (r) => ({ status: r.status, body: await r.text() }));

describe('kill switches across processes', () => {
  it('should refuse a transfer on a second process within one second of money switched off on the first, keep the balance, and move money once back on', async () => {
    // A customer already on the confirmation screen when the switch goes off.
    const waiting = await toConfirmation(two);
    const commits = committedTransfers(two);
    await switchTo('money', true, 'Fineract upgrade');
    await sleep(1000);

    expect((await waiting.send('1234')).body).toBe(PAUSED_MONEY);
    // A new money journey is refused at the menu, before a recipient and an amount are typed.
    const fresh = atSession(two, AMINA);
    await fresh.send();
    await fresh.send('1234');
    expect((await fresh.send('3')).body).toBe(PAUSED_MONEY);
    // Reads stay on.
    const reads = atSession(two, AMINA);
    await reads.send();
    await reads.send('1234');
    expect((await reads.send('1')).body).toMatch(/^(CON|END) Balance/);
    expect(committedTransfers(two)).toBe(commits);
    await idle();
    expect(sent(AMINA).filter((m) => /code/i.test(m.text))).toEqual([]);

    await switchTo('money', false);
    await sleep(1000);
    const again = await toConfirmation(two);
    expect((await again.send('1234')).body).toMatch(/^END Done: KES 50\.00 to Baraka O\./);
    expect(committedTransfers(two)).toBe(commits + 1);
  });

  it('should answer USSD with a maintenance END while channel:ussd is off, and nothing else', async () => {
    await switchTo('channel:ussd', true);
    await sleep(1000);
    const s = atSession(two, AMINA);
    expect((await s.send()).body).toBe(`END ${PAUSED}`);
    // No session was started.
    expect(await two.services.store.get(two.services.keys.session('ussd', `at:${s.sessionId}`))).toBeNull();
    // Other channels are on: an SMS is answered by its flow.
    const sms = await post(two, '/channels/africastalking/sms', {
      from: AMINA,
      to: '22384',
      text: 'HELP',
      date: '2026-11-20 09:00:00',
      id: `ATXid_${randomBytes(4).toString('hex')}`,
    });
    expect(sms.status).toBe(200);
    await idle();
    expect(sent(AMINA).at(-1)?.text).toMatch(/^Send BAL/);
  });

  it('should reply to an SMS with the maintenance text while channel:sms is off', async () => {
    await switchTo('channel:sms', true);
    await sleep(1000);
    const sms = await post(two, '/channels/africastalking/sms', {
      from: AMINA,
      to: '22384',
      text: 'BAL 1234',
      date: '2026-11-20 09:00:00',
      id: `ATXid_${randomBytes(4).toString('hex')}`,
    });
    expect(sms).toEqual({ status: 200, body: 'OK' });
    await idle();
    expect(sent(AMINA).at(-1)?.text).toBe(PAUSED);
    // USSD still works.
    expect((await atSession(two, AMINA).send()).body).toMatch(/^CON /);
  });

  it('should speak the maintenance text and hang up on a call, and reject a missed call with no call-back, while channel:voice is off', async () => {
    await switchTo('channel:voice', true);
    await sleep(1000);
    const call = await post(two, '/channels/africastalking/voice', {
      sessionId: `ATVId_out_${randomBytes(4).toString('hex')}`,
      direction: 'Outbound',
      isActive: '1',
      callerNumber: AMINA,
    });
    expect(call.status).toBe(200);
    expect(call.body).toContain(PAUSED);
    expect(call.body).not.toContain('GetDigits');
    const missed = {
      sessionId: `ATVId_in_${randomBytes(4).toString('hex')}`,
      direction: 'Inbound',
      isActive: '1',
      callerNumber: '+254711000003',
    };
    expect((await post(two, '/channels/africastalking/voice', missed)).body).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Reject/></Response>',
    );
    await sleep(300);
    await idle();
    expect(placed('+254711000003')).toEqual([]);

    // Back on, the same missed call gets its call-back (so the check above can fail).
    await switchTo('channel:voice', false);
    await sleep(1000);
    await post(two, '/channels/africastalking/voice', { ...missed, sessionId: `ATVId_in_${randomBytes(4).toString('hex')}` });
    const since = performance.now();
    while (placed('+254711000003').length === 0 && performance.now() - since < 5000) await sleep(100);
    expect(placed('+254711000003').length).toBe(1);
  });

  it('should pause every channel with all, and one flow with flow:<id>', async () => {
    await switchTo('all', true);
    await sleep(1000);
    expect((await atSession(two, AMINA).send()).body).toBe(`END ${PAUSED}`);
    await switchTo('all', false);
    await switchTo('flow:banking', true);
    await sleep(1000);
    expect((await atSession(two, AMINA).send()).body).toBe(`END ${PAUSED}`);
  });

  it('should list every scope, refuse an unknown one, and require a short reason to switch off', async () => {
    const auth = { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' };
    const list = (await (await fetch(`${one.url}/admin/switches`, { headers: auth })).json()) as {
      switches: { scope: string; off: boolean }[];
    };
    expect(list.switches.map((s) => s.scope)).toEqual([
      'all',
      'money',
      'channel:ussd',
      'channel:sms',
      'channel:voice',
      'flow:agent',
      'flow:banking',
      'flow:sms',
    ]);
    const put = (scope: string, body: unknown) =>
      fetch(`${one.url}/admin/switches/${scope}`, { method: 'PUT', headers: auth, body: JSON.stringify(body) }).then((r) => r.status);
    expect(await put('flow:nope', { off: true, reason: 'x' })).toBe(404);
    expect(await put('channel:fax', { off: true, reason: 'x' })).toBe(404);
    expect(await put('money', { off: true })).toBe(400);
    expect(await put('money', { off: true, reason: '   ' })).toBe(400);
    expect(await put('money', { off: true, reason: 'x'.repeat(201) })).toBe(400);
    expect(await put('money', { off: 'yes', reason: 'x' })).toBe(400);
    expect(await put('money', { off: true, reason: 'x'.repeat(200) })).toBe(200);
  });
});
