import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';
import { availableCents, holdLockAsDeadProcess, POLITE } from '../helpers/money.js';

/**
 * Threat T29 for an agent's cash-out request: the agent's PIN raises a request the customer confirms on their
 * own phone, with the cash held on the customer's savings. A process dies (or is slow) after raising it and
 * before writing the session; Africa's Talking retries the same hop. The agent, with a queue at the counter,
 * must read that the request was sent (once), never "try again" followed by "a request is already waiting".
 * The dead process is simulated as it leaves Redis: the request raised (by the hop itself, whose session
 * record is then put back as it was before the hop) and, while it is "still running", its session lock.
 */

const AGENT_CODE = '*384*124#';
const CHANYA = { msisdn: '+254711000003', pin: '1357' };
const AMINA = { phone: '0711000001', clientId: 1, accountId: 1 };
const BARAKA = { phone: '0711000002', clientId: 2, accountId: 2 };
const SENT = /^END Request sent \(ref ([A-Z0-9]{8})\)\. (Amina W\.|Baraka O\.) must confirm on their own phone within \d+ min\./;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ HOP_DEADLINE_MS: '3000', FINERACT_TIMEOUT_MS: '1500' });
});
afterAll(async () => {
  await server?.close();
});

/** Chanya's session up to the cash-out confirmation (PIN asked) for `phone` and `amount`. */
async function toCashOutConfirm(phone: string, amount: string) {
  const session = atSession(server, CHANYA.msisdn, AGENT_CODE);
  await session.send();
  await session.send(CHANYA.pin);
  await session.send('2');
  await session.send(phone);
  expect((await session.send(amount)).body).toMatch(/^CON Cash-out KES [\d,.]+ for /);
  return session;
}

/**
 * The confirming hop runs and raises the request; then its session record is put back as it was before the hop,
 * as when the process died between raising the request and writing the session. Returns the request's ref.
 */
async function raisedByProcessThatDied(session: Awaited<ReturnType<typeof toCashOutConfirm>>): Promise<string> {
  const { store, keys } = server.services;
  const key = keys.session('ussd', `at:${session.sessionId}`);
  const before = (await store.get(key))!;
  const sent = (await session.send(CHANYA.pin)).body;
  expect(sent).toMatch(SENT);
  await store.set(key, before, 600_000);
  return SENT.exec(sent)![1]!;
}

const waitingFromChanya = async (clientId: number) =>
  (await server.services.approvals.waitingFor(clientId)).filter((a) => a.kind === 'cash-out' && a.requester.clientId === 3);

describe('a retried cash-out request whose first process died (threat T29)', () => {
  it('should keep the polite end when the process holding the session raised nothing, and hold nothing', async () => {
    const available = availableCents(server, AMINA.accountId);
    const session = await toCashOutConfirm(AMINA.phone, '200');
    await holdLockAsDeadProcess(server, session.sessionId, `${CHANYA.pin}*2*${AMINA.phone}*200*${CHANYA.pin}`);

    expect((await session.send(CHANYA.pin)).body).toBe(POLITE);
    expect(await waitingFromChanya(AMINA.clientId)).toHaveLength(0);
    expect(availableCents(server, AMINA.accountId)).toBe(available);
    // The agent's next try is a new request, not refused as one already waiting; it is then cancelled.
    const next = await toCashOutConfirm(AMINA.phone, '200');
    expect((await next.send(CHANYA.pin)).body).toMatch(SENT);
    const [raised] = await waitingFromChanya(AMINA.clientId);
    expect((await server.services.approvals.cancel(raised!.id, 'operator:test')).outcome).toBe('cancelled');
    expect(availableCents(server, AMINA.accountId)).toBe(available);
  });

  it('should answer that the request was sent when the process still holding the session had raised it, and hold the cash once', async () => {
    const available = availableCents(server, AMINA.accountId);
    const session = await toCashOutConfirm(AMINA.phone, '300');
    const ref = await raisedByProcessThatDied(session);
    await holdLockAsDeadProcess(server, session.sessionId, `${CHANYA.pin}*2*${AMINA.phone}*300*${CHANYA.pin}`);

    const retry = (await session.resend()).body;
    expect(retry).toMatch(SENT);
    expect(SENT.exec(retry)![1]).toBe(ref);
    expect(await waitingFromChanya(AMINA.clientId)).toHaveLength(1);
    expect(availableCents(server, AMINA.accountId)).toBe(available - 300_00);
  });

  it('should answer the same request again, not "already waiting", when the dead process left no lock and the hop runs again', async () => {
    const available = availableCents(server, BARAKA.accountId);
    const session = await toCashOutConfirm(BARAKA.phone, '400');
    const ref = await raisedByProcessThatDied(session);

    const retry = (await session.resend()).body;
    expect(retry).toMatch(SENT);
    expect(SENT.exec(retry)![1]).toBe(ref);
    expect(await waitingFromChanya(BARAKA.clientId)).toHaveLength(1);
    expect(availableCents(server, BARAKA.accountId)).toBe(available - 400_00);
  });
});
