import { describe, expect, it } from 'vitest';
import { addDays } from '../../src/sandbox/dates.js';
import { DEMO_SAVINGS, type Sandbox } from '../../src/sandbox/index.js';
import { BUSINESS_DATE, balance, call, codes, savingsTxnBody, transferBody, type Json, sandboxForEachTest } from './api.js';

/**
 * Holds on savings as Fineract runs them (docs/fineract.md §4.4): shapes, validation, the available-balance
 * arithmetic, withdrawals and transfers blocked by a hold, release, double release and idempotent replay.
 */

let sandbox: Sandbox;

sandboxForEachTest((s) => (sandbox = s));

const AMINA = DEMO_SAVINGS.amina.id;
const DUMA = DEMO_SAVINGS.duma.id;
const CLOSED = DEMO_SAVINGS.estherClosed.id;

const holdBody = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  transactionDate: BUSINESS_DATE,
  dateFormat: 'yyyy-MM-dd',
  locale: 'en',
  transactionAmount: 5000,
  reasonForBlock: 'Kiunga approval AB12CD34',
  ...overrides,
});

const hold = (accountId: number, body: Record<string, unknown> = holdBody(), idempotencyKey?: string) =>
  call(sandbox, `/savingsaccounts/${accountId}/transactions?command=holdAmount`, {
    body,
    ...(idempotencyKey ? { idempotencyKey } : {}),
  });

const release = (accountId: number, holdId: number, idempotencyKey?: string) =>
  call(sandbox, `/savingsaccounts/${accountId}/transactions/${holdId}?command=releaseAmount`, {
    body: {},
    ...(idempotencyKey ? { idempotencyKey } : {}),
  });

const account = async (accountId: number): Promise<Json> =>
  (await call(sandbox, `/savingsaccounts/${accountId}?associations=transactions`)).json;

describe('POST /savingsaccounts/{id}/transactions?command=holdAmount', () => {
  it('answers the hold transaction id as resourceId and lowers the available balance, not the ledger', async () => {
    const r = await hold(DUMA);
    expect(r.status).toBe(200);
    const holdId = sandbox.bank.savingsAccount(DUMA)!.transactions.at(-1)!.id;
    expect(r.json).toEqual({ officeId: 1, clientId: 4, savingsId: DUMA, resourceId: holdId });
    const a = await account(DUMA);
    expect(a.summary).toMatchObject({ accountBalance: 250_000, availableBalance: 245_000 });
    expect(a.savingsAmountOnHold).toBe(5000);
    expect(a).not.toHaveProperty('onHoldFunds');
    expect(balance(sandbox, DUMA)).toBe(250_000_00);
    // lastActiveTransactionDate counts deposits and withdrawals only: still the withdrawal 30 days ago.
    expect(a.lastActiveTransactionDate).toEqual([2026, 10, 26]);
  });

  it('lists the hold as an AMOUNT_HOLD row with its reason, the running balance less the hold', async () => {
    const { json } = await hold(DUMA);
    const row = (await account(DUMA)).transactions[0];
    expect(row).toMatchObject({
      id: json.resourceId,
      transactionType: { id: 20, code: 'savingsAccountTransactionType.onHold', value: 'Amount on hold', amountHold: true },
      entryType: 'DEBIT',
      date: [2026, 11, 25],
      amount: 5000,
      runningBalance: 245_000,
      reversed: false,
      lienTransaction: false,
      releaseTransactionId: 0,
      reasonForBlock: 'Kiunga approval AB12CD34',
    });
    expect(row).not.toHaveProperty('paymentDetailData');
    const one = await call(sandbox, `/savingsaccounts/${DUMA}/transactions/${json.resourceId}`);
    expect(one.json).toMatchObject({ id: json.resourceId, transactionType: { id: 20 }, releaseTransactionId: 0 });
  });

  it('refuses a hold beyond the withdrawable balance (400 insufficient.balance, no parameter), holds included', async () => {
    const over = await hold(AMINA, holdBody({ transactionAmount: 12_500.01 }));
    expect(over.status).toBe(400);
    expect(over.json).toMatchObject({ httpStatusCode: '400', userMessageGlobalisationCode: 'validation.msg.validation.errors.exist' });
    expect(over.json.errors).toEqual([
      {
        developerMessage: 'Failed data validation due to: insufficient.balance.',
        defaultUserMessage: 'Failed data validation due to: insufficient.balance.',
        userMessageGlobalisationCode: 'validation.msg.savingsaccount.insufficient.balance',
        args: [{}, { value: [AMINA] }],
      },
    ]);
    // The whole balance may be held; after that, nothing more.
    expect((await hold(AMINA, holdBody({ transactionAmount: 12_500 }))).status).toBe(200);
    expect(codes(await hold(AMINA, holdBody({ transactionAmount: 0.01 })))).toEqual(['validation.msg.savingsaccount.insufficient.balance']);
    expect(sandbox.bank.savingsAccount(AMINA)!.transactions.filter((t) => t.typeId === 20)).toHaveLength(1);
  });

  it('accumulates the field errors in the validator order with Fineract codes and parameter names', async () => {
    const r = await hold(DUMA, holdBody({ transactionAmount: -5, reasonForBlock: ' ', transactionDate: addDays(BUSINESS_DATE, -40) }));
    expect(r.status).toBe(400);
    expect(r.json.errors.map((e: Json) => [e.userMessageGlobalisationCode, e.parameterName])).toEqual([
      ['validation.msg.savingsaccount.transactionAmount.not.greater.than.zero', 'transactionAmount'],
      ['validation.msg.savingsaccount.reasonForBlock.cannot.be.blank', 'reasonForBlock'],
      ['validation.msg.savingsaccount.date.validation.msg.date.can.not.be.before.last.transaction.date', 'date'],
    ]);
    expect(r.json.errors[2].args).toEqual([{ value: '2026-10-26' }, { value: ['Amount can be put on hold only after last transaction'] }]);
  });

  it('counts the reason length after trimming, at most 100', async () => {
    expect((await hold(DUMA, holdBody({ reasonForBlock: `${'r'.repeat(100)}   ` }))).status).toBe(200);
    const long = await hold(DUMA, holdBody({ reasonForBlock: 'r'.repeat(101) }));
    expect(long.json.errors).toEqual([
      expect.objectContaining({
        userMessageGlobalisationCode: 'validation.msg.savingsaccount.reasonForBlock.exceeds.max.length',
        parameterName: 'reasonForBlock',
        args: [{ value: 100 }, { value: 'r'.repeat(101) }],
      }),
    ]);
  });

  it('answers a hold without an amount with the 500 of a NullPointerException, as Fineract does', async () => {
    const body = holdBody();
    delete body.transactionAmount;
    const r = await hold(DUMA, body);
    expect(r.status).toBe(500);
    expect(r.json).toEqual({
      Exception: 'Cannot invoke "java.math.BigDecimal.compareTo(java.math.BigDecimal)" because "amount" is null',
    });
    expect(sandbox.bank.savingsAccount(DUMA)!.savingsAmountOnHold).toBe(0);
  });

  it('reports a missing date as blank and as before the last transaction', async () => {
    const body = holdBody();
    delete body.transactionDate;
    expect(codes(await hold(DUMA, body))).toEqual([
      'validation.msg.savingsaccount.transactionDate.cannot.be.blank',
      'validation.msg.savingsaccount.date.validation.msg.date.can.not.be.before.last.transaction.date',
    ]);
  });

  it('needs dateFormat with a date and refuses keys outside the hold parameters', async () => {
    expect(codes(await hold(DUMA, holdBody({ dateFormat: undefined })))).toEqual(['validation.msg.missing.dateFormat.parameter']);
    expect(codes(await hold(DUMA, holdBody({ paymentTypeId: 1 })))).toEqual(['error.msg.parameter.unsupported']);
  });

  it('accepts a hold dated after the business date (no future-date rule for holds)', async () => {
    expect((await hold(DUMA, holdBody({ transactionDate: addDays(BUSINESS_DATE, 3) }))).status).toBe(200);
  });

  it('refuses a lien (no sandbox product allows one) and an inactive account', async () => {
    expect(codes(await hold(DUMA, holdBody({ lienAllowed: true })))).toEqual([
      'validation.msg.savingsaccount.lien.is.not.allowed.in.product.level',
    ]);
    // An account that is no longer active, of an active client: the validator's error, next to the others.
    sandbox.bank.savingsAccount(DUMA)!.statusId = 600;
    const inactive = await hold(DUMA, holdBody({ transactionAmount: 300_000 }));
    expect(inactive.json.errors.map((e: Json) => [e.userMessageGlobalisationCode, e.parameterName])).toEqual([
      ['validation.msg.savingsaccount.not.in.active.state', 'status'],
      ['validation.msg.savingsaccount.insufficient.balance', undefined],
    ]);
  });

  it('refuses an account of a client who is no longer active before reading the amount (403 domain rule)', async () => {
    const closed = await hold(CLOSED, holdBody({ transactionAmount: 1 }));
    expect(closed.status).toBe(403);
    expect(codes(closed)).toEqual(['error.msg.client.not.active.exception']);
  });

  it('answers 404 for an unknown account', async () => {
    const r = await hold(999);
    expect(r.status).toBe(404);
    expect(codes(r)).toEqual(['error.msg.saving.account.id.invalid']);
  });

  it('replays the first answer for the same Idempotency-Key, and holds once', async () => {
    const first = await hold(DUMA, holdBody(), 'hold-key-1');
    const again = await hold(DUMA, holdBody(), 'hold-key-1');
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('x-served-from-cache')).toBe('true');
    expect(sandbox.bank.savingsAccount(DUMA)!.savingsAmountOnHold).toBe(5000_00);
    // The key is scoped by command (HOLDAMOUNT, SAVINGSACCOUNT), not by account: another account replays it too.
    expect((await hold(AMINA, holdBody({ transactionAmount: 1 }), 'hold-key-1')).json).toEqual(first.json);
  });
});

describe('a hold blocks money leaving the account', () => {
  it('refuses a withdrawal that would dip into held funds (403 insufficient.account.balance) and allows one that does not', async () => {
    await hold(AMINA, holdBody({ transactionAmount: 12_000 }));
    const w = await call(sandbox, `/savingsaccounts/${AMINA}/transactions?command=withdrawal`, {
      body: savingsTxnBody({ transactionAmount: 500.01 }),
    });
    expect(w.status).toBe(403);
    expect(codes(w)).toEqual(['error.msg.savingsaccount.transaction.insufficient.account.balance']);
    const ok = await call(sandbox, `/savingsaccounts/${AMINA}/transactions?command=withdrawal`, {
      body: savingsTxnBody({ transactionAmount: 500 }),
    });
    expect(ok.status).toBe(200);
    expect((await account(AMINA)).summary).toMatchObject({ accountBalance: 12_000, availableBalance: 0 });
  });

  it('refuses an account transfer from the held funds and moves nothing', async () => {
    await hold(AMINA, holdBody({ transactionAmount: 12_000 }));
    const t = await call(sandbox, '/accounttransfers', { body: transferBody({ transferAmount: 600 }) });
    expect(t.status).toBe(403);
    expect(codes(t)).toEqual(['error.msg.savingsaccount.transaction.insufficient.account.balance']);
    expect(balance(sandbox, AMINA)).toBe(12_500_00);
    expect(sandbox.bank.data.transfers).toHaveLength(0);
  });

  it('lets deposits in while held', async () => {
    await hold(AMINA, holdBody({ transactionAmount: 12_500 }));
    const d = await call(sandbox, `/savingsaccounts/${AMINA}/transactions?command=deposit`, {
      body: savingsTxnBody({ transactionAmount: 100 }),
    });
    expect(d.status).toBe(200);
    expect((await account(AMINA)).summary).toMatchObject({ accountBalance: 12_600, availableBalance: 100 });
  });
});

describe('POST /savingsaccounts/{id}/transactions/{holdId}?command=releaseAmount', () => {
  it('answers the release transaction id, restores the available balance and links the hold to it', async () => {
    const holdId = (await hold(DUMA)).json.resourceId;
    const r = await release(DUMA, holdId);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ officeId: 1, clientId: 4, savingsId: DUMA, resourceId: holdId + 1 });
    const a = await account(DUMA);
    expect(a.summary).toMatchObject({ accountBalance: 250_000, availableBalance: 250_000 });
    // The column is no longer NULL once a hold was placed: 0.000000 after the last release.
    expect(a.savingsAmountOnHold).toBe(0);
    const [releaseRow, holdRow] = a.transactions;
    expect(releaseRow).toMatchObject({
      id: holdId + 1,
      transactionType: { id: 21, code: 'savingsAccountTransactionType.release', amountRelease: true },
      entryType: 'CREDIT',
      date: [2026, 11, 25],
      amount: 5000,
      runningBalance: 250_000,
      releaseTransactionId: 0,
    });
    expect(releaseRow).not.toHaveProperty('reasonForBlock');
    // Fineract clears the hold's reason on release (`holdTransaction.updateReason(null)`).
    expect(holdRow).toMatchObject({ id: holdId, releaseTransactionId: holdId + 1 });
    expect(holdRow).not.toHaveProperty('reasonForBlock');
  });

  it('ignores the body: Fineract reads a blank one as {}', async () => {
    const holdId = (await hold(DUMA)).json.resourceId;
    const r = await call(sandbox, `/savingsaccounts/${DUMA}/transactions/${holdId}?command=releaseAmount`, {
      body: { transactionAmount: '1000', whatever: true },
    });
    expect(r.status).toBe(200);
  });

  it('refuses a second release (400 amount.is.not.on.hold on parameter amount) and changes nothing', async () => {
    const holdId = (await hold(DUMA)).json.resourceId;
    await release(DUMA, holdId);
    const again = await release(DUMA, holdId);
    expect(again.status).toBe(400);
    expect(again.json.errors).toEqual([
      {
        developerMessage: 'Failed data validation due to: validation.msg.amount.is.not.on.hold.',
        defaultUserMessage: 'Failed data validation due to: validation.msg.amount.is.not.on.hold.',
        userMessageGlobalisationCode: 'validation.msg.savingsaccount.amount.validation.msg.amount.is.not.on.hold',
        parameterName: 'amount',
        args: [{ value: 5000 }, { value: ['Transaction amount is not on hold'] }],
      },
    ]);
    expect(again.text).toContain('"args":[{"value":5000.000000}');
    expect(sandbox.bank.savingsAccount(DUMA)!.transactions.filter((t) => t.typeId === 21)).toHaveLength(1);
    expect((await account(DUMA)).summary.availableBalance).toBe(250_000);
  });

  it('answers an unknown hold, or a hold of another account, with the 500 of a NullPointerException', async () => {
    const holdId = (await hold(DUMA)).json.resourceId;
    for (const [accountId, id] of [
      [DUMA, 9999],
      [AMINA, holdId],
      [999, holdId],
    ] as const) {
      const r = await release(accountId, id);
      expect(r.status).toBe(500);
      expect(r.json.Exception).toContain('because "holdTransaction" is null');
    }
    expect(sandbox.bank.savingsAccount(DUMA)!.savingsAmountOnHold).toBe(5000_00);
  });

  it('"releases" any transaction of the account, a deposit too: Fineract does not check the type', async () => {
    const holdId = (await hold(AMINA, holdBody({ transactionAmount: 12_000 }))).json.resourceId;
    const deposit = sandbox.bank.savingsAccount(AMINA)!.transactions.find((t) => t.typeId === 1 && !t.reversed)!;
    expect((await release(AMINA, deposit.id)).status).toBe(200);
    // 12,000 held less a 5,000 deposit "released": only 7,000 still counted as held.
    expect((await account(AMINA)).summary).toMatchObject({ accountBalance: 12_500, availableBalance: 5_500 });
    expect((await release(AMINA, holdId)).status).toBe(200);
  });

  it('replays the release for the same Idempotency-Key instead of refusing it', async () => {
    const holdId = (await hold(DUMA)).json.resourceId;
    const first = await release(DUMA, holdId, 'release-key-1');
    const again = await release(DUMA, holdId, 'release-key-1');
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('x-served-from-cache')).toBe('true');
  });

  it('answers 400 for commands the sandbox does not serve on this path', async () => {
    const holdId = (await hold(DUMA)).json.resourceId;
    const r = await call(sandbox, `/savingsaccounts/${DUMA}/transactions/${holdId}?command=undo`, { body: {} });
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(['error.msg.unsupported.query.parameter.value']);
  });

  it('lets the released money leave again', async () => {
    const holdId = (await hold(AMINA, holdBody({ transactionAmount: 12_000 }))).json.resourceId;
    await release(AMINA, holdId);
    const t = await call(sandbox, '/accounttransfers', { body: transferBody({ transferAmount: 12_000 }) });
    expect(t.status).toBe(200);
    expect(balance(sandbox, AMINA)).toBe(500_00);
  });
});
