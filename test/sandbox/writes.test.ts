import { describe, expect, it } from 'vitest';
import { addDays, addMonths } from '../../src/sandbox/dates.js';
import { DEMO_LOANS, DEMO_SAVINGS, type Sandbox } from '../../src/sandbox/index.js';
import { BUSINESS_DATE, balance, call, codes, repaymentBody, savingsTxnBody, transferBody, type Json, sandboxForEachTest } from './api.js';

let sandbox: Sandbox;

sandboxForEachTest((s) => (sandbox = s));

const AMINA = DEMO_SAVINGS.amina.id;
const BARAKA = DEMO_SAVINGS.baraka.id;
const CLOSED = DEMO_SAVINGS.estherClosed.id;
const LOAN = DEMO_LOANS.amina.id;

/** Every running balance equals the previous one plus the signed amount, and the last equals the balance. */
function expectConsistentRunningBalances(rows: Json[], accountBalance: number): void {
  const oldestFirst = [...rows].filter((t) => !t.reversed).reverse();
  let running = 0;
  for (const t of oldestFirst) {
    running = Math.round((running + (t.entryType === 'CREDIT' ? t.amount : -t.amount)) * 100) / 100;
    expect(t.runningBalance).toBe(running);
  }
  expect(running).toBe(accountBalance);
}

describe('POST /accounttransfers, savings to savings', () => {
  it('moves the money on both legs and answers {savingsId, resourceId}', async () => {
    const r = await call(sandbox, '/accounttransfers', { body: transferBody({ transferAmount: 1234.56 }) });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ savingsId: AMINA, resourceId: 1 });
    expect(balance(sandbox, AMINA)).toBe(12_500_00 - 1234_56);
    expect(balance(sandbox, BARAKA)).toBe(3_000_00 + 1234_56);
  });

  it('puts a transfer object on both savings legs and keeps running balances consistent', async () => {
    const { json } = await call(sandbox, '/accounttransfers', { body: transferBody() });
    for (const [accountId, entryType] of [
      [AMINA, 'DEBIT'],
      [BARAKA, 'CREDIT'],
    ] as const) {
      const account = (await call(sandbox, `/savingsaccounts/${accountId}?associations=transactions`)).json;
      const leg = account.transactions[0];
      expect(leg).toMatchObject({ entryType, amount: 500, date: [2026, 11, 25] });
      expect(leg.transfer).toEqual({
        id: json.resourceId,
        reversed: false,
        currency: expect.objectContaining({ code: 'KES' }),
        transferAmount: 500,
        transferDate: [2026, 11, 25],
        transferDescription: 'Kiunga send REF001',
      });
      expectConsistentRunningBalances(account.transactions, account.summary.accountBalance);
    }
  });

  it('keeps the transfer retrievable by id and in the list, newest first and paged', async () => {
    for (const ref of ['A', 'B', 'C'])
      await call(sandbox, '/accounttransfers', { body: transferBody({ transferDescription: `ref ${ref}` }) });
    await call(sandbox, '/accounttransfers', {
      body: transferBody({ fromClientId: 2, fromAccountId: BARAKA, toClientId: 1, toAccountId: AMINA, transferDescription: 'back' }),
    });
    const one = await call(sandbox, '/accounttransfers/2');
    expect(one.json).toMatchObject({
      id: 2,
      reversed: false,
      transferAmount: 500,
      transferDate: [2026, 11, 25],
      transferDescription: 'ref B',
      fromOffice: { id: 1, name: 'Head Office' },
      fromClient: { id: 1, displayName: 'Amina Wanjiru' },
      fromAccountType: { id: 2, code: 'accountType.savings' },
      fromAccount: { id: AMINA, accountNo: '000000001' },
      toClient: { id: 2 },
      toAccountType: { id: 2 },
      toAccount: { id: BARAKA, accountNo: '000000002' },
    });
    const page = await call(sandbox, `/accounttransfers?fromAccountId=${AMINA}&fromAccountType=2&offset=1&limit=1`);
    expect(page.json.totalFilteredRecords).toBe(3);
    expect(page.json.pageItems.map((t: Json) => t.transferDescription)).toEqual(['ref B']);
    const all = await call(sandbox, '/accounttransfers');
    expect(all.json.pageItems.map((t: Json) => t.id)).toEqual([4, 3, 2, 1]);
    const missing = await call(sandbox, '/accounttransfers/99');
    expect(missing.status).toBe(404);
    expect(codes(missing)).toEqual(['error.msg.accounttransfer.id.invalid']);
  });

  it('refuses with 403 and the exact insufficient-funds body of docs/fineract.md §9.1, moving nothing', async () => {
    const r = await call(sandbox, '/accounttransfers', { body: transferBody({ transferAmount: 12_500.01 }) });
    expect(r.status).toBe(403);
    expect(r.json).toEqual({
      developerMessage: 'Request was understood but caused a domain rule violation.',
      httpStatusCode: '403',
      defaultUserMessage: 'Errors contain reason for domain rule violation.',
      userMessageGlobalisationCode: 'validation.msg.domain.rule.violation',
      errors: [
        {
          developerMessage: 'Insufficient account balance.',
          defaultUserMessage: 'Insufficient account balance.',
          userMessageGlobalisationCode: 'error.msg.savingsaccount.transaction.insufficient.account.balance',
          parameterName: 'id',
          args: [{ value: 'transactionAmount' }, { value: 12500 }, {}, { value: 12500.01 }],
        },
      ],
    });
    expect(balance(sandbox, AMINA)).toBe(12_500_00);
    expect(balance(sandbox, BARAKA)).toBe(3_000_00);
  });

  it('counts holds against the available balance', async () => {
    // Amina's staff account: 800.00 with 200.00 on hold.
    const body = transferBody({ fromAccountId: DEMO_SAVINGS.aminaStaff.id, transferAmount: 600.01 });
    expect((await call(sandbox, '/accounttransfers', { body })).status).toBe(403);
    expect((await call(sandbox, '/accounttransfers', { body: { ...body, transferAmount: 600 } })).status).toBe(200);
  });

  it('is atomic: a closed, missing or unknown target leaves the source untouched', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ toClientId: 5, toAccountId: CLOSED }, 400, 'error.msg.savingsaccount.transaction.account.is.not.active'],
      [{ toAccountId: 999 }, 404, 'error.msg.saving.account.id.invalid'],
      [{ toAccountType: 1, toAccountId: DEMO_LOANS.aminaClosed.id }, 400, 'error.msg.loan.repayment.or.waiver.account.is.not.active'],
      [{ toAccountType: 1, toAccountId: 999 }, 404, 'error.msg.loan.id.invalid'],
      [{ toClientId: 999 }, 404, 'error.msg.client.id.invalid'],
      [{ toOfficeId: 9 }, 404, 'error.msg.office.id.invalid'],
    ];
    for (const [overrides, status, code] of cases) {
      const r = await call(sandbox, '/accounttransfers', { body: transferBody(overrides) });
      expect([r.status, codes(r)[0]]).toEqual([status, code]);
    }
    expect(balance(sandbox, AMINA)).toBe(12_500_00);
    expect(sandbox.bank.savingsAccount(AMINA)?.transactions.length).toBe(8);
    expect(sandbox.bank.data.transfers).toEqual([]);
  });

  it('refuses a closed or missing source account', async () => {
    const closed = await call(sandbox, '/accounttransfers', { body: transferBody({ fromClientId: 5, fromAccountId: CLOSED }) });
    expect([closed.status, codes(closed)]).toEqual([400, ['error.msg.savingsaccount.transaction.account.is.not.active']]);
    expect(closed.json.errors[0]).toMatchObject({ parameterName: 'transactionDate', value: BUSINESS_DATE });
    const missing = await call(sandbox, '/accounttransfers', { body: transferBody({ fromAccountId: 999 }) });
    expect([missing.status, missing.json.userMessageGlobalisationCode, codes(missing)]).toEqual([
      404,
      'error.msg.resource.not.found',
      ['error.msg.saving.account.id.invalid'],
    ]);
  });

  it('does not check that the source account belongs to fromClientId (Fineract does not either)', async () => {
    const r = await call(sandbox, '/accounttransfers', { body: transferBody({ fromClientId: 3 }) });
    expect(r.status).toBe(200);
  });
});

describe('POST /accounttransfers, validation', () => {
  it.each([
    'fromOfficeId',
    'fromClientId',
    'fromAccountType',
    'fromAccountId',
    'toOfficeId',
    'toClientId',
    'toAccountType',
    'toAccountId',
    'transferAmount',
    'transferDescription',
  ])('requires %s', async (name) => {
    const r = await call(sandbox, '/accounttransfers', { body: transferBody({ [name]: undefined }) });
    expect(r.status).toBe(400);
    expect(r.json.userMessageGlobalisationCode).toBe('validation.msg.validation.errors.exist');
    expect(r.json.errors).toEqual([
      expect.objectContaining({
        userMessageGlobalisationCode: `validation.msg.accounttransfer.${name}.cannot.be.blank`,
        parameterName: name,
      }),
    ]);
  });

  it('reports every field error at once, and ids must be positive and account types 1 or 2', async () => {
    const r = await call(sandbox, '/accounttransfers', {
      body: transferBody({
        fromOfficeId: 0,
        fromAccountType: 3,
        toAccountType: 0,
        transferAmount: -5,
        transferDescription: 'x'.repeat(201),
      }),
    });
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual([
      'validation.msg.accounttransfer.fromOfficeId.not.greater.than.zero',
      'validation.msg.accounttransfer.fromAccountType.is.not.one.of.expected.enumerations',
      'validation.msg.accounttransfer.toAccountType.not.greater.than.zero',
      'validation.msg.accounttransfer.transferAmount.not.greater.than.zero',
      'validation.msg.accounttransfer.transferDescription.exceeds.max.length',
    ]);
    const zero = await call(sandbox, '/accounttransfers', { body: transferBody({ transferAmount: 0 }) });
    expect(codes(zero)).toEqual(['validation.msg.accounttransfer.transferAmount.not.greater.than.zero']);
    expect((await call(sandbox, '/accounttransfers', { body: transferBody({ transferDescription: 'x'.repeat(200) }) })).status).toBe(200);
  });

  it('refuses unknown keys with error.msg.parameter.unsupported naming each', async () => {
    const r = await call(sandbox, '/accounttransfers', { body: transferBody({ externalId: 'abc', paymentTypeId: 1 }) });
    expect(r.status).toBe(400);
    expect(r.json.userMessageGlobalisationCode).toBe('validation.msg.validation.errors.exist');
    expect(r.json.errors.map((e: Json) => [e.userMessageGlobalisationCode, e.parameterName])).toEqual([
      ['error.msg.parameter.unsupported', 'externalId'],
      ['error.msg.parameter.unsupported', 'paymentTypeId'],
    ]);
  });

  it('needs dateFormat and locale with a date, and locale with a string amount', async () => {
    const noFormat = await call(sandbox, '/accounttransfers', { body: transferBody({ dateFormat: undefined }) });
    expect([noFormat.status, codes(noFormat)]).toEqual([400, ['validation.msg.missing.dateFormat.parameter']]);
    const noLocale = await call(sandbox, '/accounttransfers', { body: transferBody({ locale: undefined }) });
    expect([noLocale.status, codes(noLocale)]).toEqual([400, ['validation.msg.missing.locale.parameter']]);
    const badDate = await call(sandbox, '/accounttransfers', { body: transferBody({ transferDate: '2026-02-30' }) });
    expect(codes(badDate)).toEqual(['validation.msg.invalid.date.format']);
    const badPattern = await call(sandbox, '/accounttransfers', { body: transferBody({ dateFormat: 'yyyy-MM-dd HH:mm' }) });
    expect(codes(badPattern)).toEqual(['validation.msg.invalid.dateFormat.format']);
    const text = await call(sandbox, '/accounttransfers', {
      body: transferBody({ transferAmount: '1,000.50', transferDate: '25 November 2026', dateFormat: 'dd MMMM yyyy' }),
    });
    expect(text.status).toBe(200);
    expect(balance(sandbox, BARAKA)).toBe(3_000_00 + 1000_50);
    const badAmount = await call(sandbox, '/accounttransfers', { body: transferBody({ transferAmount: 'lots' }) });
    expect(codes(badAmount)).toEqual(['validation.msg.invalid.decimal.format']);
  });

  it('refuses a date after the business date and before the account was activated', async () => {
    const future = await call(sandbox, '/accounttransfers', { body: transferBody({ transferDate: addDays(BUSINESS_DATE, 1) }) });
    expect([future.status, codes(future)]).toEqual([400, ['error.msg.savingsaccount.transaction.in.the.future']]);
    const early = await call(sandbox, '/accounttransfers', { body: transferBody({ transferDate: '2020-01-01' }) });
    expect(codes(early)).toEqual(['error.msg.savingsaccount.transaction.before.activation.date']);
  });

  it('answers a bare error.msg.invalid.request.body for an empty or malformed body', async () => {
    for (const body of [{}, 'not json']) {
      const res = await fetch(`${sandbox.url}/accounttransfers`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('mifos:password').toString('base64')}`,
          'fineract-platform-tenantid': 'default',
          'content-type': 'application/json',
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as Json).userMessageGlobalisationCode).toBe('error.msg.invalid.request.body');
    }
  });
});

describe('savings deposit and withdrawal', () => {
  it('deposits and withdraws exact amounts and answers a CommandProcessingResult', async () => {
    const dep = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=deposit`, {
      body: savingsTxnBody({ transactionAmount: 0.1, receiptNumber: 'QWE123' }),
    });
    expect(dep.status).toBe(200);
    expect(dep.json).toEqual({
      officeId: 1,
      clientId: 2,
      savingsId: BARAKA,
      resourceId: expect.any(Number),
      changes: { paymentTypeId: 2, receiptNumber: 'QWE123' },
    });
    await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=deposit`, { body: savingsTxnBody({ transactionAmount: 0.2 }) });
    const wd = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=withdrawal`, {
      body: savingsTxnBody({ transactionAmount: 3000.3 }),
    });
    expect(wd.status).toBe(200);
    expect(balance(sandbox, BARAKA)).toBe(0);
    const txn = (await call(sandbox, `/savingsaccounts/${BARAKA}/transactions/${dep.json.resourceId}`)).json;
    expect(txn).toMatchObject({
      amount: 0.1,
      paymentDetailData: { paymentType: { id: 2, name: 'Mobile Money' }, receiptNumber: 'QWE123' },
    });
    expect(txn).not.toHaveProperty('transfer');
  });

  it('requires paymentTypeId (1.8+) and an existing payment type', async () => {
    const none = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=deposit`, {
      body: savingsTxnBody({ paymentTypeId: undefined }),
    });
    expect([none.status, codes(none)]).toEqual([400, ['validation.msg.savingsaccount.transaction.paymentTypeId.cannot.be.blank']]);
    const unknown = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=deposit`, {
      body: savingsTxnBody({ paymentTypeId: 77 }),
    });
    expect([unknown.status, codes(unknown)]).toEqual([404, ['error.msg.paymenttype.id.invalid']]);
  });

  it('applies the savings rules: funds, status, dates, amount, unknown keys and commands', async () => {
    const path = (cmd: string, id: number = BARAKA) => `/savingsaccounts/${id}/transactions?command=${cmd}`;
    const cases: [string, number, Record<string, unknown>, number, string][] = [
      ['withdrawal', BARAKA, { transactionAmount: 3000.01 }, 403, 'error.msg.savingsaccount.transaction.insufficient.account.balance'],
      ['deposit', CLOSED, {}, 400, 'error.msg.savingsaccount.transaction.account.is.not.active'],
      ['deposit', BARAKA, { transactionDate: addDays(BUSINESS_DATE, 1) }, 400, 'error.msg.savingsaccount.transaction.in.the.future'],
      [
        'deposit',
        BARAKA,
        { transactionAmount: 0 },
        400,
        'validation.msg.savingsaccount.transaction.transactionAmount.not.greater.than.zero',
      ],
      ['deposit', BARAKA, { externalId: 'x' }, 400, 'error.msg.parameter.unsupported'],
      ['deposit', 999, {}, 404, 'error.msg.saving.account.id.invalid'],
      ['transfer', BARAKA, {}, 400, 'error.msg.unsupported.query.parameter.value'],
    ];
    for (const [cmd, id, overrides, status, code] of cases) {
      const r = await call(sandbox, path(cmd, id), { body: savingsTxnBody(overrides) });
      expect([cmd, r.status, codes(r)[0]]).toEqual([cmd, status, code]);
    }
    expect(balance(sandbox, BARAKA)).toBe(3_000_00);
  });

  it('refuses a back-dated withdrawal that would have overdrawn the account then', async () => {
    // Baraka had 2,000.00 from 60 days ago until 35 days ago.
    const r = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=withdrawal`, {
      body: savingsTxnBody({ transactionAmount: 2500, transactionDate: addDays(BUSINESS_DATE, -50) }),
    });
    expect(r.status).toBe(403);
    const ok = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=withdrawal`, {
      body: savingsTxnBody({ transactionAmount: 2000, transactionDate: addDays(BUSINESS_DATE, -50) }),
    });
    expect(ok.status).toBe(200);
    const account = (await call(sandbox, `/savingsaccounts/${BARAKA}?associations=transactions`)).json;
    expectConsistentRunningBalances(account.transactions, 1000);
  });
});

describe('loan repayment and schedule', () => {
  const next = (loan: Json) => loan.repaymentSchedule.periods.find((p: Json) => p.period !== undefined && !p.complete);

  it('derives the next instalment from the schedule and reduces totalOutstanding', async () => {
    const before = (await call(sandbox, `/loans/${LOAN}?associations=repaymentSchedule`)).json;
    const dueDate = addMonths(addDays(BUSINESS_DATE, -70), 3);
    expect(before.summary.totalOutstanding).toBe(30_000);
    expect(next(before)).toMatchObject({ period: 3, dueDate: dueDate.split('-').map(Number), totalOutstandingForPeriod: 3750 });
    const template = (await call(sandbox, `/loans/${LOAN}/transactions/template?command=repayment`)).json;
    expect(template).toMatchObject({
      type: { id: 2, repayment: true },
      date: dueDate.split('-').map(Number),
      amount: 3750,
      principalPortion: 3000,
      interestPortion: 750,
    });
    expect(template.paymentTypeOptions).toHaveLength(3);

    const r = await call(sandbox, `/loans/${LOAN}/transactions?command=repayment`, {
      body: repaymentBody({ externalId: 'ussd-1', receiptNumber: 'R1' }),
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      officeId: 1,
      clientId: 1,
      loanId: LOAN,
      resourceId: expect.any(Number),
      resourceExternalId: 'ussd-1',
      changes: { externalId: 'ussd-1', receiptNumber: 'R1' },
    });
    const after = (await call(sandbox, `/loans/${LOAN}?associations=repaymentSchedule`)).json;
    expect(after.summary.totalOutstanding).toBe(29_000);
    expect(next(after)).toMatchObject({ period: 3, totalOutstandingForPeriod: 2750 });
    expect((await call(sandbox, `/loans/${LOAN}/transactions/template?command=repayment`)).json.amount).toBe(2750);
  });

  it('refuses a duplicate externalId, a closed loan, a future date; paymentTypeId is optional', async () => {
    const post = (o: Record<string, unknown>, id: number = LOAN) =>
      call(sandbox, `/loans/${id}/transactions?command=repayment`, { body: repaymentBody(o) });
    expect((await post({ externalId: 'dup', paymentTypeId: 3 })).status).toBe(200);
    const dup = await post({ externalId: 'dup' });
    expect([dup.status, codes(dup)]).toEqual([400, ['validation.msg.loan.transaction.externalId.value.must.be.unique']]);
    const closed = await post({}, DEMO_LOANS.aminaClosed.id);
    expect([closed.status, codes(closed)]).toEqual([400, ['error.msg.loan.repayment.or.waiver.account.is.not.active']]);
    const future = await post({ transactionDate: addDays(BUSINESS_DATE, 1) });
    expect([future.status, future.json.userMessageGlobalisationCode, codes(future)]).toEqual([
      403,
      'validation.msg.domain.rule.violation',
      ['error.msg.loan.transaction.cannot.be.a.future.date'],
    ]);
    const zero = await post({ transactionAmount: 0 });
    expect(codes(zero)).toEqual(['validation.msg.loan.transaction.transactionAmount.not.greater.than.zero']);
    const missing = await post({}, 999);
    expect([missing.status, codes(missing)]).toEqual([404, ['error.msg.loan.id.invalid']]);
    expect((await call(sandbox, `/loans/${LOAN}/transactions?command=waiveinterest`, { body: repaymentBody() })).status).toBe(400);
  });

  it('pays a loan from savings by transfer (savings to loan), closing it when paid in full', async () => {
    const r = await call(sandbox, '/accounttransfers', {
      body: transferBody({ toClientId: 1, toAccountType: 1, toAccountId: LOAN, transferAmount: 3750 }),
    });
    expect(r.json).toEqual({ savingsId: AMINA, resourceId: 1 });
    expect(balance(sandbox, AMINA)).toBe(12_500_00 - 3750_00);
    expect((await call(sandbox, `/loans/${LOAN}`)).json.summary.totalOutstanding).toBe(26_250);
    const leg = (await call(sandbox, `/savingsaccounts/${AMINA}?associations=transactions`)).json.transactions[0];
    expect(leg.transfer).toMatchObject({ id: 1, transferDescription: 'Kiunga send REF001' });
    expect((await call(sandbox, '/accounttransfers/1')).json).toMatchObject({
      toAccountType: { id: 1, code: 'accountType.loan' },
      toAccount: { id: LOAN, accountNo: '000000101' },
    });

    await call(sandbox, `/savingsaccounts/${AMINA}/transactions?command=deposit`, { body: savingsTxnBody({ transactionAmount: 20_000 }) });
    const rest = await call(sandbox, '/accounttransfers', {
      body: transferBody({ toAccountType: 1, toAccountId: LOAN, transferAmount: 26_250 }),
    });
    expect(rest.status).toBe(200);
    const loan = (await call(sandbox, `/loans/${LOAN}`)).json;
    expect(loan.status).toMatchObject({ id: 600, closed: true });
    expect(loan.summary.totalOutstanding).toBe(0);
    expect(loan).not.toHaveProperty('totalOverpaid');
  });

  it('accepts an overpayment, as Fineract does: the loan becomes overpaid (700)', async () => {
    await call(sandbox, `/savingsaccounts/${AMINA}/transactions?command=deposit`, { body: savingsTxnBody({ transactionAmount: 20_000 }) });
    const r = await call(sandbox, '/accounttransfers', {
      body: transferBody({ toAccountType: 1, toAccountId: LOAN, transferAmount: 30_100 }),
    });
    expect(r.status).toBe(200);
    const loan = (await call(sandbox, `/loans/${LOAN}`)).json;
    expect([loan.status.id, loan.summary.totalOutstanding, loan.totalOverpaid]).toEqual([700, 0, 100]);
    const again = await call(sandbox, `/loans/${LOAN}/transactions?command=repayment`, { body: repaymentBody() });
    expect(codes(again)).toEqual(['error.msg.loan.repayment.or.waiver.account.is.not.active']);
  });
});
