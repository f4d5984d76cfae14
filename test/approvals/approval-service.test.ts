import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemoryQueue, type MemoryQueue } from '../../src/jobs/queue.js';
import { APPROVAL_SETTLE_JOB, SMS_JOB } from '../../src/jobs/catalogue.js';
import { ApprovalRefused, createApprovalService, type RedisApprovalService } from '../../src/approvals/approval-service.js';
import { holdReason } from '../../src/approvals/approval-refs.js';
import type { ApprovalParty, ApprovalRequest } from '../../src/approvals/approval.js';
import type { TransferIntent } from '../../src/money/transfer-types.js';
import { DEMO_SAVINGS } from '../../src/sandbox/index.js';
import { createLogger } from '../../src/logger.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The approval service (issue 11; threats T15, T33) on real Redis and the built-in sandbox over HTTP: funds held
 * at request time, k of M, own-request and second-approval refusals, release on reject, expiry and cancel, one
 * transfer however many approvals race, a failed re-check, and expired approvals never listed.
 */

let server: TestServer;
const logger = createLogger('silent');
const DUMA = DEMO_SAVINGS.duma.id;
const AMINA: ApprovalParty = { clientId: 1, label: 'Amina W.', msisdn: '+254711000001', lang: 'en' };
const BARAKA: ApprovalParty = { clientId: 2, label: 'Baraka O.', msisdn: '+254711000002', lang: 'en' };
const CHANYA: ApprovalParty = { clientId: 3, label: 'Chanya M.', msisdn: '+254711000003', lang: 'sw' };

let clock: number;
let sms: { to: string; text: string }[];
let queue: MemoryQueue;
let recheck: string | undefined;

async function service(): Promise<RedisApprovalService> {
  const s = server.services;
  queue = createMemoryQueue({ logger });
  queue.handle(SMS_JOB, async (job) => void sms.push({ to: job.to, text: job.text }));
  const approvals = createApprovalService({
    store: s.store,
    prefix: server.config.redisPrefix,
    fineract: s.fineract,
    transfers: s.transfers,
    queue,
    translator: s.translator,
    audit: s.audit,
    logger,
    rechecks: { mandate: async () => recheck },
    timeZone: 'Africa/Nairobi',
    ussdCode: '*384*123#',
    executeBudgetMs: 5000,
    // The settle job's backup run is not under test here (it would run long after the test).
    settleDelayMs: 3_600_000,
    now: () => clock,
  });
  approvals.registerJobs(queue);
  await queue.start();
  return approvals;
}

const intent = (amountCents = 5_000_00): TransferIntent => ({
  id: 'replaced-by-the-approval',
  ref: 'REPLACED',
  kind: 'send',
  msisdn: AMINA.msisdn!,
  lang: 'en',
  from: { clientId: 4, officeId: 1, accountId: DUMA },
  to: { clientId: 2, officeId: 1, accountId: DEMO_SAVINGS.baraka.id, type: 'savings' },
  amountCents,
  currency: 'KES',
  counterparty: 'Baraka O.',
  senderLabel: 'Duma Traders',
});

const request = (overrides: Partial<ApprovalRequest> = {}): ApprovalRequest => ({
  kind: 'mandate',
  intent: intent(),
  requester: AMINA,
  approvers: [BARAKA],
  required: 1,
  rule: 'mandate:000000004@v1 band 0- needs 1',
  ttlMs: 3_600_000,
  ...overrides,
});

const bank = () => server.services.sandbox!.bank;
const account = (id: number = DUMA) => bank().savingsAccount(id)!;
/** Ledger and available balances of an account, in minor units, as the sandbox keeps them. */
const balances = (id: number = DUMA) => ({ ledger: bank().balance(account(id)), available: bank().availableBalance(account(id)) });
/** Every SMS job due now has run (the approval jobs scheduled for later stay scheduled). */
const smsQueued = () => vi.waitFor(async () => expect((await queue.counts()).waiting).toBe(0));
const waitingIds = async (approvals: RedisApprovalService, clientId: number) => (await approvals.waitingFor(clientId)).map((r) => r.id);
const transfersFromDuma = () => server.services.sandbox!.bank.data.transfers.filter((t) => t.fromAccountId === DUMA).length;

async function auditTypes(approvalId: string): Promise<string[]> {
  await server.services.audit.flush();
  const out: string[] = [];
  for await (const record of server.services.audit.entries()) {
    const entry = record.entry as { type?: string; data?: Record<string, unknown> };
    if (entry.data?.approvalId === approvalId) out.push(entry.type!);
  }
  return out;
}

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  clock = Date.now();
  sms = [];
  recheck = undefined;
});

/**
 * The expiry as the approver's SMS gives it, as a pattern: the time alone when it falls on the same day in the
 * institution's time zone (Nairobi) as the request, the date first otherwise. An hour's approval raised after
 * 23:00 in Nairobi (20:00 UTC) expires the next day; the exact texts are checked with a fixed clock below.
 */
const expiry = (at: number) => {
  const day = (t: number) => new Date(t + 3 * 3_600_000).toISOString().slice(0, 10);
  return day(at) === day(clock) ? '\\d\\d:\\d\\d' : '\\d\\d/\\d\\d/\\d{4} \\d\\d:\\d\\d';
};

describe('approval service', () => {
  it("gives the expiry as a time on the request's day and with the date after midnight, in the institution's time zone", async () => {
    const approvals = await service();
    // 10:00 and 23:30 in Nairobi (UTC+3), an hour's approval each.
    clock = Date.parse('2026-12-03T07:00:00Z');
    expect(approvals.expiryText('en', clock + 3_600_000)).toBe('11:00');
    clock = Date.parse('2026-12-03T20:30:00Z');
    expect(approvals.expiryText('en', clock + 3_600_000)).toBe('04/12/2026 00:30');
  });

  it('holds the amount at request time (available drops, ledger does not), moves nothing, and tells the approver by SMS', async () => {
    const approvals = await service();
    const before = balances();
    const moved = transfersFromDuma();
    const record = await approvals.request(request());
    expect(record).toMatchObject({ state: 'pending', required: 1, approvedBy: [], version: 1 });
    expect(record.intent.id).toBe(record.id);
    expect(record.ref).toMatch(/^[A-Z2-9]{8}$/);
    expect(balances()).toEqual({ ledger: before.ledger, available: before.available - 5_000_00 });
    expect(account().transactions.find((t) => t.id === record.holdId)).toMatchObject({ reasonForBlock: holdReason(record.ref) });
    expect(transfersFromDuma()).toBe(moved);
    await smsQueued();
    expect(sms).toEqual([
      {
        to: BARAKA.msisdn,
        text: expect.stringMatching(
          new RegExp(
            `^Amina W\\. asks you to approve KES 5,000\\.00 from Duma Traders to Baraka O\\. Dial \\*384\\*123# > Approvals\\. Ref ${record.ref}\\. Expires ${expiry(record.expiresAt)}\\.$`,
          ),
        ),
      },
    ]);
    expect(await waitingIds(approvals, BARAKA.clientId)).toContain(record.id);
    expect(await auditTypes(record.id)).toEqual(['approval.requested']);
    await approvals.cancel(record.id, AMINA.clientId);
  });

  it('refuses a request the account cannot cover: nothing held, nothing written', async () => {
    const approvals = await service();
    const before = balances();
    const err = await approvals.request(request({ intent: intent(900_000_00) })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApprovalRefused);
    expect((err as ApprovalRefused).reason).toBe('insufficient');
    expect(balances()).toEqual(before);
    expect((await approvals.list('pending', 500)).filter((r) => r.intent.amountCents === 900_000_00)).toEqual([]);
  });

  it('executes once on the approval: money moves, hold released, audit of every step', async () => {
    const approvals = await service();
    const before = balances();
    const moved = transfersFromDuma();
    const baraka = balances(DEMO_SAVINGS.baraka.id).ledger;
    const record = await approvals.request(request());
    const result = await approvals.approve(record.id, BARAKA.clientId);
    expect(result).toMatchObject({ outcome: 'executed', approval: { state: 'executed' } });
    // Fineract's detail id (the POST's answer) under its own name; no transaction id was read for it.
    const sent = server.services.sandbox!.bank.data.transfers.at(-1)!;
    expect(result).toMatchObject({ approval: { transferDetailId: sent.detailId } });
    expect(result).not.toHaveProperty('approval.transferTransactionId');
    expect(balances()).toEqual({ ledger: before.ledger - 5_000_00, available: before.available - 5_000_00 });
    expect(balances(DEMO_SAVINGS.baraka.id).ledger).toBe(baraka + 5_000_00);
    expect(transfersFromDuma()).toBe(moved + 1);
    expect(await waitingIds(approvals, BARAKA.clientId)).not.toContain(record.id);
    expect(await auditTypes(record.id)).toEqual(['approval.requested', 'approval.approved', 'approval.executing', 'approval.executed']);
    // Approving again changes nothing.
    expect(await approvals.approve(record.id, BARAKA.clientId)).toEqual({ outcome: 'refused', reason: 'closed' });
    expect(transfersFromDuma()).toBe(moved + 1);
  });

  it('refuses the requester approving their own request, and anyone who is not an approver', async () => {
    const approvals = await service();
    const record = await approvals.request(request());
    expect(await approvals.approve(record.id, AMINA.clientId)).toEqual({ outcome: 'refused', reason: 'own-request' });
    expect(await approvals.approve(record.id, CHANYA.clientId)).toEqual({ outcome: 'refused', reason: 'not-approver' });
    expect(await approvals.reject(record.id, AMINA.clientId, 'other')).toEqual({ outcome: 'refused', reason: 'own-request' });
    expect((await approvals.get(record.id))!.state).toBe('pending');
    await approvals.cancel(record.id, AMINA.clientId);
  });

  it('needs k of M: the first approval waits, the same approver twice is refused, the second executes', async () => {
    const approvals = await service();
    const moved = transfersFromDuma();
    const record = await approvals.request(request({ approvers: [BARAKA, CHANYA], required: 2 }));
    expect(await approvals.approve(record.id, BARAKA.clientId)).toMatchObject({ outcome: 'pending', approval: { approvedBy: [2] } });
    expect(await approvals.approve(record.id, BARAKA.clientId)).toEqual({ outcome: 'refused', reason: 'already-approved' });
    // Listed for the approver still awaited only.
    expect(await waitingIds(approvals, BARAKA.clientId)).not.toContain(record.id);
    expect(await waitingIds(approvals, CHANYA.clientId)).toContain(record.id);
    expect(transfersFromDuma()).toBe(moved);
    expect(await approvals.approve(record.id, CHANYA.clientId)).toMatchObject({ outcome: 'executed' });
    expect(transfersFromDuma()).toBe(moved + 1);
  });

  it('executes once when two approvals arrive at the same time (one transfer in the sandbox)', async () => {
    const approvals = await service();
    const other = await service(); // a second process's service on the same Redis
    const moved = transfersFromDuma();
    const record = await approvals.request(request({ approvers: [BARAKA, CHANYA], required: 1 }));
    const results = await Promise.all([approvals.approve(record.id, BARAKA.clientId), other.approve(record.id, CHANYA.clientId)]);
    expect(results.map((r) => r.outcome).sort()).toEqual(['executed', 'refused']);
    expect(transfersFromDuma()).toBe(moved + 1);
    expect((await approvals.get(record.id))!.approvedBy).toHaveLength(1);
  });

  it('rejects with a reason: nothing moves, the hold is released, the requester is told', async () => {
    const approvals = await service();
    const before = balances();
    const moved = transfersFromDuma();
    const record = await approvals.request(request());
    const result = await approvals.reject(record.id, BARAKA.clientId, 'wrong-amount');
    expect(result).toMatchObject({ outcome: 'rejected', approval: { state: 'rejected', reason: 'wrong-amount' } });
    expect(balances()).toEqual(before);
    expect(transfersFromDuma()).toBe(moved);
    expect((await approvals.get(record.id))!.holdId).toBeUndefined();
    await smsQueued();
    expect(sms.find((m) => m.to === AMINA.msisdn)?.text).toBe(
      `Baraka O. rejected the payment of KES 5,000.00 from Duma Traders to Baraka O. (wrong amount). No money was moved (ref ${record.ref}).`,
    );
    expect(await approvals.approve(record.id, BARAKA.clientId)).toEqual({ outcome: 'refused', reason: 'closed' });
    expect(await auditTypes(record.id)).toEqual(['approval.requested', 'approval.rejected']);
  });

  it('cancels (requester or operator, nobody else): hold released, approvers told', async () => {
    const approvals = await service();
    const before = balances();
    const first = await approvals.request(request());
    expect(await approvals.cancel(first.id, CHANYA.clientId)).toEqual({ outcome: 'refused', reason: 'not-approver' });
    expect(await approvals.cancel(first.id, AMINA.clientId)).toMatchObject({ outcome: 'cancelled' });
    const second = await approvals.request(request());
    expect(await approvals.cancel(second.id, 'operator:alice', 'customer asked')).toMatchObject({ outcome: 'cancelled' });
    expect(balances()).toEqual(before);
    await smsQueued();
    expect(sms.filter((m) => m.text.includes('was cancelled'))).toHaveLength(3); // Baraka twice, Amina once (by the operator)
    expect(await auditTypes(second.id)).toEqual(['approval.requested', 'approval.cancelled']);
  });

  it('expires by its job: hold released, both told, never listed as open once past its expiry even before the job ran', async () => {
    const approvals = await service();
    const before = balances();
    const moved = transfersFromDuma();
    const record = await approvals.request(request({ ttlMs: 60_000 }));
    // An early run of the job changes nothing.
    await expect(approvals.expire(record.id)).rejects.toThrow('not expired yet');
    clock += 60_001;
    // Late job: the record still says pending, yet no list shows it.
    expect((await approvals.get(record.id))!.state).toBe('pending');
    expect(await waitingIds(approvals, BARAKA.clientId)).not.toContain(record.id);
    expect((await approvals.list('pending', 500)).map((r) => r.id)).not.toContain(record.id);
    expect(await approvals.approve(record.id, BARAKA.clientId)).toEqual({ outcome: 'refused', reason: 'closed' });
    await approvals.expire(record.id);
    expect((await approvals.get(record.id))!).toMatchObject({ state: 'expired' });
    expect(balances()).toEqual(before);
    expect(transfersFromDuma()).toBe(moved);
    await smsQueued();
    const told = sms.filter((m) => m.text.includes('has expired')).map((m) => m.to);
    expect(told.sort()).toEqual([AMINA.msisdn, BARAKA.msisdn]);
    expect((await approvals.list('expired', 500)).map((r) => r.id)).toContain(record.id);
    expect(await auditTypes(record.id)).toEqual(['approval.requested', 'approval.expired']);
  });

  it('executes at its expiry job an approval left approved with no settle job (its process died between the two)', async () => {
    const approvals = await service();
    const moved = transfersFromDuma();
    const record = await approvals.request(request());
    // The approving process records the approval, then dies before it queues the settle job.
    const add = queue.add;
    queue.add = async (...args: Parameters<typeof add>) => {
      if (args[0] === APPROVAL_SETTLE_JOB) throw new Error('the process died here');
      return add.apply(queue, args);
    };
    try {
      await expect(approvals.approve(record.id, BARAKA.clientId)).rejects.toThrow('the process died here');
    } finally {
      queue.add = add;
    }
    expect((await approvals.get(record.id))!.state).toBe('approved');
    expect(transfersFromDuma()).toBe(moved);

    await approvals.expire(record.id);
    expect((await approvals.get(record.id))!.state).toBe('executed');
    expect(transfersFromDuma()).toBe(moved + 1);
    expect(account().savingsAmountOnHold).toBe(0);
    await smsQueued();
    expect(sms.filter((m) => m.to === BARAKA.msisdn && m.text.includes('was sent'))).toHaveLength(1);
  });

  it('warns the approvers still awaited before the expiry', async () => {
    const approvals = await service();
    const record = await approvals.request(request());
    await approvals.warn(record.id);
    await smsQueued();
    expect(sms.filter((m) => m.text.startsWith('Reminder:'))).toEqual([{ to: BARAKA.msisdn, text: expect.stringContaining(record.ref) }]);
    await approvals.cancel(record.id, AMINA.clientId);
  });

  it('fails the approval when the re-check before execution fails: nothing moves, hold released', async () => {
    const approvals = await service();
    const before = balances();
    const moved = transfersFromDuma();
    const record = await approvals.request(request());
    recheck = 'mandate-changed';
    const result = await approvals.approve(record.id, BARAKA.clientId);
    expect(result).toMatchObject({ outcome: 'failed', reason: 'mandate-changed', approval: { state: 'failed' } });
    expect(balances()).toEqual(before);
    expect(transfersFromDuma()).toBe(moved);
    expect(await auditTypes(record.id)).toEqual(['approval.requested', 'approval.approved', 'approval.executing', 'approval.failed']);
  });

  it('fails when the money is gone after the release (a competing withdrawal): nothing moves', async () => {
    const approvals = await service();
    const moved = transfersFromDuma();
    const record = await approvals.request(request());
    // The hold covers the amount, so the competing debit can only come between release and transfer; the
    // re-check sees it when the available balance (after the release) no longer covers the payment.
    const heldBefore = account().savingsAmountOnHold - 5_000_00;
    const spare = balances().available; // what is free besides this hold
    // Release this hold behind the service's back and take everything, its money too.
    await server.services.fineract.releaseAmount(DUMA, record.holdId!);
    const taken = await server.services.fineract.holdAmount(DUMA, spare + 5_000_00, 'someone else');
    const result = await approvals.approve(record.id, BARAKA.clientId);
    expect(result).toMatchObject({ outcome: 'failed', reason: 'insufficient' });
    expect(transfersFromDuma()).toBe(moved);
    await server.services.fineract.releaseAmount(DUMA, taken.holdId);
    expect(account().savingsAmountOnHold).toBe(heldBefore);
  });
});

describe('approval service when Fineract does not answer at execution', () => {
  it('says processing, keeps the approval executing, and the settle job then executes it once', async () => {
    const approvals = await service();
    const moved = transfersFromDuma();
    const record = await approvals.request(request());
    const control = server.services.sandbox!.control;
    control.failMode = 'command-500';
    try {
      const result = await approvals.approve(record.id, BARAKA.clientId);
      expect(result).toMatchObject({ outcome: 'processing', approval: { state: 'executing' } });
    } finally {
      control.failMode = 'none';
    }
    expect(transfersFromDuma()).toBe(moved);
    // What the `approval-settle` job runs (queued when the approval was approved), retried as the job is while
    // Fineract (or the gateway's breaker after the 500s) still refuses.
    await vi.waitFor(() => approvals.settle(record.id), { timeout: 20_000, interval: 500 });
    expect((await approvals.get(record.id))!).toMatchObject({ state: 'executed' });
    await approvals.settle(record.id);
    expect(transfersFromDuma()).toBe(moved + 1);
    expect(account().savingsAmountOnHold).toBe(0);
  });
});

describe('approval service on the in-process store (no Redis)', () => {
  let local: TestServer;
  beforeAll(async () => {
    local = await startTestServer({ REDIS_URL: '' });
  });
  afterAll(async () => {
    await local?.close();
  });

  it('serialises its steps: two approvals at once execute once, a rejection after them is refused', async () => {
    const { approvals, store, sandbox } = local.services;
    expect(store.kind).toBe('memory');
    const moved = () => sandbox!.bank.data.transfers.filter((t) => t.fromAccountId === DUMA).length;
    const before = moved();
    const record = await approvals.request(request({ approvers: [BARAKA, CHANYA], required: 1 }));
    expect((await approvals.waitingFor(CHANYA.clientId)).map((r) => r.id)).toEqual([record.id]);
    const results = await Promise.all([approvals.approve(record.id, BARAKA.clientId), approvals.approve(record.id, CHANYA.clientId)]);
    expect(results.map((r) => r.outcome).sort()).toEqual(['executed', 'refused']);
    expect(moved()).toBe(before + 1);
    expect(await approvals.reject(record.id, CHANYA.clientId, 'other')).toEqual({ outcome: 'refused', reason: 'closed' });
    expect((await approvals.list('executed')).map((r) => r.id)).toEqual([record.id]);
    expect(await approvals.waitingFor(CHANYA.clientId)).toEqual([]);
  });
});
