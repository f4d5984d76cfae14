import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_SAVINGS } from '../../src/sandbox/index.js';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Maker-checker on a business account over USSD (issue 11 acceptance, threats T15 and T33), Africa's Talking
 * hops over real HTTP, real Redis, the built-in sandbox: Amina (initiator) raises payments from Duma Traders'
 * account, Baraka (approver) approves one, rejects one, and lets one expire. Funds are held meanwhile, money
 * moves once and only on approval, both are told by SMS, and every transition is in the audit trail.
 */

const AMINA = { msisdn: '+254711000001', pin: '1234' };
const BARAKA = { msisdn: '+254711000002', pin: '2468' };
const DUMA = DEMO_SAVINGS.duma.id;
const BARAKA_ACCOUNT = DEMO_SAVINGS.baraka.id;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const bank = () => server.services.sandbox!.bank;
const ledger = (id: number) => bank().balance(bank().savingsAccount(id)!);
const available = (id: number) => bank().availableBalance(bank().savingsAccount(id)!);
const transfersFromDuma = () => bank().data.transfers.filter((t) => t.fromAccountId === DUMA).length;
const sms = (to: string) => server.services.outbox!.list(to).map((m) => m.text);

/** Amina raises a payment from Duma Traders to Baraka over USSD; returns the last screen and the approval. */
async function raise(amount: string) {
  const s = atSession(server, AMINA.msisdn);
  await s.send();
  const menu = await s.send(AMINA.pin);
  expect(menu.body).toContain('9. Business: Duma Traders Ltd');
  expect(menu.body).not.toContain('Approvals');
  await s.send('9');
  await s.send('0711000002');
  const confirm = await s.send(amount);
  expect(confirm.body).toContain('from Duma Traders Ltd 000000004?');
  const end = await s.send(AMINA.pin);
  const ref = /\(ref ([A-Z0-9]{8})\)/.exec(end.body)?.[1];
  const approval = (await server.services.approvals.list('pending', 500)).find((a) => a.ref === ref);
  return { end, approval: approval! };
}

/** Baraka opens Approvals and picks the newest request. */
async function openNewest() {
  const s = atSession(server, BARAKA.msisdn);
  await s.send();
  const menu = await s.send(BARAKA.pin);
  expect(menu.body).toMatch(/10\. Approvals \(\d+\)/);
  const list = await s.send('10');
  const shown = await s.send('1');
  return { s, list, shown };
}

async function auditOf(approvalId: string): Promise<string[]> {
  await server.services.audit.flush();
  const out: string[] = [];
  for await (const record of server.services.audit.entries()) {
    const entry = record.entry as { type?: string; data?: Record<string, unknown> };
    if (entry.data?.approvalId === approvalId) out.push(entry.type!);
  }
  return out;
}

describe('maker-checker on a business account over USSD', () => {
  it('holds a payment Amina raises (available down, ledger not), moves nothing, tells Baraka, and refuses her own approval', async () => {
    const [ledger0, available0, moved0] = [ledger(DUMA), available(DUMA), transfersFromDuma()];
    const { end, approval } = await raise('5000');
    expect(end.body).toMatch(/^END Waiting for approval by Baraka O\. \(ref [A-Z0-9]{8}\)\./);
    expect(end.body).not.toContain('Done');
    expect(approval).toMatchObject({ state: 'pending', kind: 'mandate', required: 1, requester: { clientId: 1 } });
    expect(ledger(DUMA)).toBe(ledger0);
    expect(available(DUMA)).toBe(available0 - 5_000_00);
    expect(transfersFromDuma()).toBe(moved0);
    await vi.waitFor(() =>
      expect(sms(BARAKA.msisdn)).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^Amina W\\. asks you to approve KES 5,000\\.00 from Duma Traders Ltd to Baraka O\\. Dial \\*384\\*123# > Approvals\\. Ref ${approval.ref}\\. Expires `,
          ),
        ),
      ),
    );
    // Amina is no approver of her own request: nothing to approve in her menu, and the service refuses it.
    expect(await server.services.approvals.approve(approval.id, 1)).toEqual({ outcome: 'refused', reason: 'own-request' });
  });

  it('Baraka approves with his PIN: the money moves once and the hold is released', async () => {
    const approval = (await server.services.approvals.list('pending', 500))[0]!;
    const [ledger0, baraka0, moved0] = [ledger(DUMA), ledger(BARAKA_ACCOUNT), transfersFromDuma()];
    const { s, list, shown } = await openNewest();
    expect(list.body).toContain('1. KES 5,000.00 to Baraka O. by Amina W., until');
    expect(shown.body).toContain('Amina W.: KES 5,000.00 from Duma Traders Ltd to Baraka O.');
    expect((await s.send('1')).body).toContain('Enter your PIN to approve KES 5,000.00 to Baraka O.');
    const done = await s.send(BARAKA.pin);
    expect(done.body).toMatch(/^END Approved/);
    await vi.waitFor(async () => expect((await server.services.approvals.get(approval.id))!.state).toBe('executed'));
    expect(transfersFromDuma()).toBe(moved0 + 1);
    expect(ledger(DUMA)).toBe(ledger0 - 5_000_00);
    expect(ledger(BARAKA_ACCOUNT)).toBe(baraka0 + 5_000_00);
    expect(available(DUMA)).toBe(ledger(DUMA)); // no hold left
    // Approving again moves nothing.
    expect(await server.services.approvals.approve(approval.id, 2)).toEqual({ outcome: 'refused', reason: 'closed' });
    expect(transfersFromDuma()).toBe(moved0 + 1);
    expect(await auditOf(approval.id)).toEqual(['approval.requested', 'approval.approved', 'approval.executing', 'approval.executed']);
  });

  it('a second request, rejected by Baraka with a reason and his PIN, moves nothing and releases its hold; Amina is told', async () => {
    const [ledger0, available0, moved0] = [ledger(DUMA), available(DUMA), transfersFromDuma()];
    const { approval } = await raise('3000');
    expect(available(DUMA)).toBe(available0 - 3_000_00);
    const { s } = await openNewest();
    expect((await s.send('2')).body).toContain('Why do you reject it?');
    expect((await s.send('1')).body).toContain('Enter your PIN to reject KES 3,000.00');
    expect((await s.send(BARAKA.pin)).body).toBe(`END Rejected (ref ${approval.ref}). No money was moved.`);
    expect((await server.services.approvals.get(approval.id))!).toMatchObject({ state: 'rejected', reason: 'wrong-amount' });
    expect([ledger(DUMA), available(DUMA), transfersFromDuma()]).toEqual([ledger0, available0, moved0]);
    await vi.waitFor(() =>
      expect(sms(AMINA.msisdn)).toContain(
        `Baraka O. rejected the payment of KES 3,000.00 from Duma Traders Ltd to Baraka O. (wrong amount). No money was moved (ref ${approval.ref}).`,
      ),
    );
    expect(await auditOf(approval.id)).toEqual(['approval.requested', 'approval.rejected']);
  });

  it('a third, left to expire, moves nothing, releases its hold, and both are told; then never listed', async () => {
    const { mandates, approvals } = server.services;
    // A short-lived mandate version (the admin API's floor is a minute; the registry itself takes any).
    await mandates.put(
      '000000004',
      { clientId: 4, initiators: [1], approvers: [2], rules: [{ minCents: 0, required: 1 }], expiryS: 1 },
      'system',
    );
    const [ledger0, available0, moved0] = [ledger(DUMA), available(DUMA), transfersFromDuma()];
    const { approval } = await raise('2000');
    expect(available(DUMA)).toBe(available0 - 2_000_00);
    // Past its expiry it is gone from Baraka's list at once, whether or not its job has run yet. The expiry is
    // a second after the request: waitFor's default of one second from here could end just before it.
    const pastExpiry = { timeout: 5000, interval: 50 };
    await vi.waitFor(async () => expect((await approvals.waitingFor(2)).map((a) => a.id)).not.toContain(approval.id), pastExpiry);
    // Drive the expiry job's handler (the delayed bullmq job does the same; whichever runs first wins).
    await vi.waitFor(async () => {
      await approvals.expire(approval.id);
      expect((await approvals.get(approval.id))!.state).toBe('expired');
    }, pastExpiry);
    await vi.waitFor(() => expect(available(DUMA)).toBe(available0));
    expect([ledger(DUMA), transfersFromDuma()]).toEqual([ledger0, moved0]);
    for (const who of [AMINA, BARAKA])
      await vi.waitFor(() =>
        expect(sms(who.msisdn)).toContainEqual(expect.stringContaining(`has expired. No money was moved (ref ${approval.ref})`)),
      );
    expect((await approvals.list('pending', 500)).map((a) => a.id)).not.toContain(approval.id);
    expect(await auditOf(approval.id)).toEqual(['approval.requested', 'approval.expired']);
  });

  it('the audit trail verifies', async () => {
    await server.services.audit.flush();
    expect(await server.services.audit.verify()).toMatchObject({ ok: true });
  });
});
