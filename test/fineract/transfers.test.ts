import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { todayIn } from '../../src/fineract/business-date.js';
import { type FineractClientOptions } from '../../src/fineract/client.js';
import {
  INSUFFICIENT_FUNDS,
  INVALID_INSTANCE_TYPE,
  MAKER_CHECKER_PENDING,
  isInsufficientFunds,
} from '../../src/fineract/rejection-codes.js';
import { sanitizeDescription } from '../../src/fineract/request-values.js';
import { FineractNotFound, FineractRejected, FineractUnavailable, OwnershipError } from '../../src/fineract/errors.js';
import type { FineractClient, TransferRequest } from '../../src/fineract/types.js';
import { addDays, addMonths } from '../../src/sandbox/dates.js';
import { DEMO_LOANS, DEMO_SAVINGS, startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { AMINA, BARAKA, BUSINESS_DATE, demoClient } from './fixtures.js';

const LOAN = DEMO_LOANS.amina.id;

let sandbox: Sandbox;
const clients: FineractClient[] = [];
let keySeq = 0;

function client(overrides: Partial<FineractClientOptions> = {}, target: Sandbox = sandbox): FineractClient {
  const c = demoClient(target.url, { today: () => BUSINESS_DATE, ...overrides });
  clients.push(c);
  return c;
}

const request = (overrides: Partial<TransferRequest> = {}): TransferRequest => ({
  from: AMINA,
  to: { ...BARAKA, type: 'savings' },
  amount: '500.00',
  description: `Kiunga send T${++keySeq}`,
  idempotencyKey: `key-${keySeq}-${Date.now()}`,
  ...overrides,
});

/** The transfer transaction id (what findTransfer finds) of the transfer detail a POST answered. */
const transactionOf = (detailId: number): number => sandbox.bank.data.transfers.find((t) => t.detailId === detailId)!.id;
const balance = (accountId: number): number => sandbox.bank.balance(sandbox.bank.savingsAccount(accountId)!);
const posts = (): number => sandbox.control.requests.filter((r) => r.method === 'POST').length;

beforeEach(async () => {
  sandbox = await startSandbox({ businessDate: BUSINESS_DATE });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await sandbox.close();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe('transfer', () => {
  it('moves money once, sends the idempotency key and returns the transfer detail id the POST answered', async () => {
    const req = request({ amount: '1234.56' });
    expect(await client().transfer(req)).toEqual({ detailId: 1, replayed: false });
    expect(balance(AMINA.accountId)).toBe(12_500_00 - 1234_56);
    expect(balance(BARAKA.accountId)).toBe(3_000_00 + 1234_56);
    const post = sandbox.control.requests.find((r) => r.method === 'POST');
    expect(post).toMatchObject({ path: '/fineract-provider/api/v1/accounttransfers', idempotencyKey: req.idempotencyKey, committed: true });
    expect(sandbox.bank.data.transfers[0]).toMatchObject({
      date: BUSINESS_DATE,
      description: req.description,
      amount: 1234_56,
      toClientId: 2,
    });
  });

  it('returns the original result, marked replayed, when the same key is sent again', async () => {
    const req = request();
    const first = await client().transfer(req);
    const again = await client().transfer(req);
    expect(again).toEqual({ detailId: first.detailId, replayed: true });
    expect(balance(AMINA.accountId)).toBe(12_500_00 - 500_00);
  });

  it('refuses a source account of another customer before moving anything (OwnershipError)', async () => {
    const err = client().transfer(request({ from: { ...AMINA, accountId: BARAKA.accountId } }));
    await expect(err).rejects.toBeInstanceOf(OwnershipError);
    expect(posts()).toBe(0);
    expect(balance(BARAKA.accountId)).toBe(3_000_00);
  });

  it('refuses an inactive source account before posting', async () => {
    const closed = { clientId: 5, officeId: 1, accountId: DEMO_SAVINGS.estherClosed.id };
    const err = client().transfer(request({ from: closed }));
    await expect(err).rejects.toBeInstanceOf(FineractRejected);
    await expect(err).rejects.toHaveProperty('code', 'error.msg.savingsaccount.transaction.account.is.not.active');
    expect(posts()).toBe(0);
  });

  it('sends only the POST when the caller already read the source with its owner checked', async () => {
    const result = await client().transfer(request({ checked: { sourceDecimalPlaces: 2, loan: false } }));
    expect(result).toEqual({ detailId: sandbox.bank.data.transfers[0]!.detailId, replayed: false });
    expect(sandbox.control.requests.map((r) => `${r.method} ${r.path.replace('/fineract-provider/api/v1', '')}`)).toEqual([
      'POST /accounttransfers',
    ]);
    expect(balance(AMINA.accountId)).toBe(12_500_00 - 500_00);
  });

  it('lets Fineract refuse an inactive source when the caller checked it earlier (nothing moves)', async () => {
    const closed = { clientId: 5, officeId: 1, accountId: DEMO_SAVINGS.estherClosed.id };
    const err = client().transfer(request({ from: closed, checked: { sourceDecimalPlaces: 2, loan: false } }));
    await expect(err).rejects.toHaveProperty('code', 'error.msg.savingsaccount.transaction.account.is.not.active');
    expect(sandbox.control.requests.filter((r) => r.method === 'POST' && r.committed)).toEqual([]);
  });

  it('surfaces insufficient funds as FineractRejected 403 that isInsufficientFunds recognises', async () => {
    const err = client().transfer(request({ amount: '12500.01' }));
    await expect(err).rejects.toBeInstanceOf(FineractRejected);
    await expect(err).rejects.toMatchObject({
      httpStatus: 403,
      code: INSUFFICIENT_FUNDS,
      topLevelCode: 'validation.msg.domain.rule.violation',
      retryable: false,
    });
    await expect(err).rejects.toSatisfy(isInsufficientFunds);
    expect(isInsufficientFunds(new FineractRejected('x', 400, 'error.msg.savingsaccount.transaction.account.is.not.active'))).toBe(false);
    expect(isInsufficientFunds(new Error(INSUFFICIENT_FUNDS))).toBe(false);
    expect(balance(AMINA.accountId)).toBe(12_500_00);
  });

  it('validates the amount, key and description before any call', async () => {
    for (const amount of ['0', '0.00', '-1', '1e3', '500.001', 'abc', '', '12345678901234']) {
      const err = client().transfer(request({ amount }));
      await expect(err, amount).rejects.toBeInstanceOf(FineractRejected);
    }
    for (const idempotencyKey of ['', 'has space', 'x'.repeat(129), 'ünï']) {
      await expect(client().transfer(request({ idempotencyKey }))).rejects.toBeInstanceOf(FineractRejected);
    }
    await expect(client().transfer(request({ description: ' \n\u2713 ' }))).rejects.toMatchObject({
      code: 'validation.msg.accounttransfer.transferDescription.cannot.be.blank',
    });
    expect(posts()).toBe(0);
    expect(await client().transfer(request({ amount: '0.5' }))).toMatchObject({ replayed: false });
    expect(balance(BARAKA.accountId)).toBe(3_000_50);
  });

  it('sanitises the description to printable ASCII, at most 200 characters', async () => {
    expect(sanitizeDescription('  Pay\tJosé  Müller\n✓ ref-42  ')).toBe('Pay Jose Muller ref-42');
    expect(sanitizeDescription('x'.repeat(250))).toHaveLength(200);
    const raw = `Lipa ${'é'.repeat(10)} ✓ REF-${keySeq}`;
    const { detailId } = await client().transfer(request({ description: raw }));
    expect(sandbox.bank.data.transfers[0]?.description).toBe(sanitizeDescription(raw));
    expect(await client().findTransfer({ fromAccountId: AMINA.accountId, description: raw })).toEqual({
      transactionId: transactionOf(detailId),
    });
  });

  it('dates the transfer with today() by default, or the date the caller passes', async () => {
    const future = client({ today: () => addDays(BUSINESS_DATE, 1) }).transfer(request());
    await expect(future).rejects.toMatchObject({ httpStatus: 400, code: 'error.msg.savingsaccount.transaction.in.the.future' });
    await client().transfer(request({ date: addDays(BUSINESS_DATE, -1) }));
    expect(sandbox.bank.data.transfers[0]?.date).toBe(addDays(BUSINESS_DATE, -1));
    expect(todayIn('Africa/Nairobi')()).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(() => todayIn('Not/AZone')).toThrow();
  });

  it('is atomic: a transfer to a closed account leaves the source untouched', async () => {
    const err = client().transfer(request({ to: { clientId: 5, officeId: 1, accountId: DEMO_SAVINGS.estherClosed.id, type: 'savings' } }));
    await expect(err).rejects.toMatchObject({ httpStatus: 400, code: 'error.msg.savingsaccount.transaction.account.is.not.active' });
    expect(balance(AMINA.accountId)).toBe(12_500_00);
    expect(sandbox.bank.savingsAccount(AMINA.accountId)?.transactions).toHaveLength(8);
  });

  it('maps a write to a read-only instance (405) to FineractRejected error.msg.invalid.instance.type', async () => {
    const replica = await startSandbox({ businessDate: BUSINESS_DATE, readOnly: true });
    try {
      const err = client({}, replica).transfer(request());
      await expect(err).rejects.toBeInstanceOf(FineractRejected);
      await expect(err).rejects.toMatchObject({ httpStatus: 405, code: INVALID_INSTANCE_TYPE, retryable: false });
    } finally {
      await replica.close();
    }
  });

  it('treats a maker-checker answer as pending: FineractRejected, nothing moved', async () => {
    sandbox.control.makerChecker = true;
    const err = client().transfer(request());
    await expect(err).rejects.toMatchObject({ code: MAKER_CHECKER_PENDING, httpStatus: 200 });
    expect(balance(AMINA.accountId)).toBe(12_500_00);
  });

  it('maps 500 and errorRate to a retryable FineractUnavailable', async () => {
    sandbox.control.errorRate = 1;
    const err = client().transfer(request());
    await expect(err).rejects.toBeInstanceOf(FineractUnavailable);
    await expect(err).rejects.toMatchObject({ httpStatus: 500, retryable: true });
  });
});

describe('loans', () => {
  const dueDate = addMonths(addDays(BUSINESS_DATE, -70), 3);

  it('getLoanRepaymentInfo gives the outstanding total and the next instalment from the schedule', async () => {
    expect(await client().getLoanRepaymentInfo(1, LOAN)).toEqual({
      loanId: LOAN,
      currency: 'KES',
      totalOutstanding: 30_000,
      totalOverdue: 0,
      nextInstalment: { dueDate, amount: 3750 },
    });
    await expect(client().getLoanRepaymentInfo(2, LOAN)).rejects.toBeInstanceOf(OwnershipError);
    await expect(client().getLoanRepaymentInfo(1, 999)).rejects.toBeInstanceOf(FineractNotFound);
    expect(await client().getLoanRepaymentInfo(1, DEMO_LOANS.aminaClosed.id)).toEqual({
      loanId: DEMO_LOANS.aminaClosed.id,
      currency: 'KES',
      totalOutstanding: 0,
      totalOverdue: 0,
    });
  });

  it("repayLoan pays from the customer's savings and the schedule moves on", async () => {
    const c = client();
    const { detailId } = await c.repayLoan({
      from: AMINA,
      loanId: LOAN,
      amount: '1000',
      description: 'Kiunga loan L1',
      idempotencyKey: 'loan-1',
    });
    expect(detailId).toBe(1);
    expect(balance(AMINA.accountId)).toBe(12_500_00 - 1000_00);
    expect(await c.getLoanRepaymentInfo(1, LOAN)).toMatchObject({ totalOutstanding: 29_000, nextInstalment: { dueDate, amount: 2750 } });
    await c.repayLoan({ from: AMINA, loanId: LOAN, amount: '2750.00', description: 'Kiunga loan L2', idempotencyKey: 'loan-2' });
    expect(await c.getLoanRepaymentInfo(1, LOAN)).toMatchObject({
      totalOutstanding: 26_250,
      nextInstalment: { dueDate: addMonths(dueDate, 1), amount: 3750 },
    });
    expect(sandbox.bank.data.transfers.map((t) => t.toAccountType)).toEqual([1, 1]);
  });

  it('repayLoan and transfer refuse a loan of another customer before posting', async () => {
    const other = DEMO_LOANS.duma.id;
    await expect(
      client().repayLoan({ from: AMINA, loanId: other, amount: '10', description: 'x', idempotencyKey: 'k' }),
    ).rejects.toBeInstanceOf(OwnershipError);
    await expect(client().transfer(request({ to: { clientId: 1, officeId: 1, accountId: other, type: 'loan' } }))).rejects.toBeInstanceOf(
      OwnershipError,
    );
    expect(posts()).toBe(0);
  });

  it('surfaces a COB-locked loan as FineractRejected 409 error.msg.loan.locked', async () => {
    sandbox.control.loanLocked = true;
    const err = client().repayLoan({ from: AMINA, loanId: LOAN, amount: '10', description: 'x', idempotencyKey: 'locked' });
    await expect(err).rejects.toMatchObject({ httpStatus: 409, code: 'error.msg.loan.locked' });
  });
});
