import { describe, expect, it } from 'vitest';
import { CLIENT_DUPLICATE_MOBILE_NO, CLIENT_NOT_ACTIVE } from '../../src/fineract/rejection-codes.js';
import { FineractRejected, OwnershipError } from '../../src/fineract/errors.js';
import type { FineractClient } from '../../src/fineract/types.js';
import { DEMO_PRODUCTS, type Sandbox } from '../../src/sandbox/index.js';
import { call } from '../sandbox/api.js';
import { BUSINESS_DATE, clientForEachTest } from './fixtures.js';

/** The origination calls of the Fineract client over real HTTP against the sandbox (docs/fineract.md §5.3). */

let sandbox: Sandbox;
let fineract: FineractClient;

clientForEachTest((s, f) => {
  sandbox = s;
  fineract = f;
});

const BIASHARA = DEMO_PRODUCTS.loans.biashara;

let numbers = 0;
/** A person with a number of their own: Fineract's m_client.mobile_no is unique. */
const person = (externalId: string, active = true) => ({
  externalId,
  firstName: 'Neema',
  lastName: 'Achieng',
  officeId: 1,
  active,
  mobileNo: `+2547220000${String(++numbers).padStart(2, '0')}`,
  dateOfBirth: '1990-04-12',
});

const loansWith = (externalId: string) => sandbox.bank.data.loans.filter((l) => l.externalId === externalId);

describe('products', () => {
  it('lists the loan products with their ranges in minor units', async () => {
    const products = await fineract.listLoanProducts();
    const biashara = products.find((p) => p.id === BIASHARA);
    expect(biashara).toEqual({
      id: BIASHARA,
      name: 'Biashara Loan',
      shortName: 'BIA',
      currency: 'KES',
      decimalPlaces: 2,
      principalCents: { min: 5_000_00, default: 20_000_00, max: 50_000_00 },
      numberOfRepayments: { min: 3, default: 6, max: 12 },
      repaymentEvery: 1,
      repaymentFrequencyTypeId: 2,
      interestRatePerPeriod: 2.5,
      interestRateFrequencyTypeId: 2,
      annualInterestRate: 30,
      active: true,
    });
    expect(products.map((p) => p.id)).toContain(DEMO_PRODUCTS.loans.assetFinance);
  });

  it('lists the plain savings products only', async () => {
    const products = await fineract.listSavingsProducts();
    expect(products.map((p) => p.id)).toEqual([DEMO_PRODUCTS.savings.akiba, DEMO_PRODUCTS.savings.staff]);
    expect(products[0]).toMatchObject({ currency: 'KES', shortName: expect.any(String) });
  });
});

describe('findClientByIdentifier', () => {
  it('finds the client holding an ID number, whatever the spacing typed, and no one for an unknown one', async () => {
    // Demo: Chanya (3) holds National ID 12345678; Baraka (2) an inactive passport A1234567.
    expect(await fineract.findClientByIdentifier('12345678')).toBe(3);
    expect(await fineract.findClientByIdentifier('12 345-678')).toBe(3);
    expect(await fineract.findClientByIdentifier('a1234567')).toBe(2);
    expect(await fineract.findClientByIdentifier('1234567')).toBeNull();
    expect(await fineract.findClientByIdentifier('99999999')).toBeNull();
  });

  it('never lets the input act as a LIKE wildcard', async () => {
    expect(await fineract.findClientByIdentifier('%')).toBeNull();
    expect(await fineract.findClientByIdentifier('1234567_')).toBeNull();
    expect(sandbox.control.requests.filter((r) => r.path.endsWith('/search'))).toHaveLength(0);
  });
});

describe('createClient', () => {
  it('creates an active person client with the external id', async () => {
    const { clientId, created } = await fineract.createClient(person('kiunga-p-1'));
    expect(created).toBe(true);
    const stored = sandbox.bank.client(clientId);
    expect(stored).toMatchObject({ externalId: 'kiunga-p-1', statusId: 300, activationDate: BUSINESS_DATE, dateOfBirth: '1990-04-12' });
  });

  it('answers the existing client for a repeated external id, and creates nothing more', async () => {
    const first = await fineract.createClient(person('kiunga-p-2'));
    const before = sandbox.bank.data.clients.length;
    const again = await fineract.createClient(person('kiunga-p-2'));
    expect(again).toEqual({ clientId: first.clientId, created: false });
    expect(sandbox.bank.data.clients.length).toBe(before);
  });

  it('finds the right client when the external id has LIKE wildcards in it', async () => {
    // Fineract filters clients with `external_id like ?`: `p_3` also matches `pX3`.
    await fineract.createClient(person('pX3'));
    const mine = await fineract.createClient(person('p_3'));
    const again = await fineract.createClient(person('p_3'));
    expect(again.clientId).toBe(mine.clientId);
  });

  it("passes on Fineract's refusal of a mobile number another client has, as the same string", async () => {
    await fineract.createClient({ ...person('kiunga-p-5'), mobileNo: '+254711000009' });
    const err = await fineract.createClient({ ...person('kiunga-p-6'), mobileNo: '+254711000009' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FineractRejected);
    expect((err as FineractRejected).code).toBe(CLIENT_DUPLICATE_MOBILE_NO);
  });

  it('creates a pending client when asked, to which no loan can be submitted', async () => {
    const { clientId } = await fineract.createClient(person('kiunga-p-4', false));
    expect(sandbox.bank.client(clientId)?.statusId).toBe(100);
    const err = await fineract
      .submitLoan({ clientId, productId: BIASHARA, principalCents: 10_000_00, numberOfRepayments: 6, externalId: 'app-4' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FineractRejected);
    expect((err as FineractRejected).code).toBe(CLIENT_NOT_ACTIVE);
  });
});

describe('submitLoan', () => {
  it('submits a loan pending approval with the application id as external id', async () => {
    const { clientId } = await fineract.createClient(person('kiunga-p-10'));
    const { loanId, created } = await fineract.submitLoan({
      clientId,
      productId: BIASHARA,
      principalCents: 10_000_00,
      numberOfRepayments: 6,
      externalId: 'app-10',
    });
    expect(created).toBe(true);
    expect(await fineract.getLoanStatus(loanId)).toEqual({
      loanId,
      clientId,
      externalId: 'app-10',
      statusId: 100,
      statusCode: 'loanStatusType.submitted.and.pending.approval',
    });
    expect(await fineract.findLoanByExternalId('app-10')).toMatchObject({ loanId, statusId: 100 });
    expect(await fineract.findLoanByExternalId('app-unknown')).toBeNull();
  });

  it('never submits the same application twice: a repeat reads the existing loan', async () => {
    const { clientId } = await fineract.createClient(person('kiunga-p-11'));
    const req = { clientId, productId: BIASHARA, principalCents: 10_000_00, numberOfRepayments: 6, externalId: 'app-11' };
    const first = await fineract.submitLoan(req);
    const again = await fineract.submitLoan(req);
    expect(again).toEqual({ loanId: first.loanId, created: false });
    expect(loansWith('app-11')).toHaveLength(1);
  });

  it('two concurrent submits with the same external id make one loan', async () => {
    const { clientId } = await fineract.createClient(person('kiunga-p-12'));
    const req = { clientId, productId: BIASHARA, principalCents: 10_000_00, numberOfRepayments: 6, externalId: 'app-12' };
    const results = await Promise.all([fineract.submitLoan(req), fineract.submitLoan(req), fineract.submitLoan(req)]);
    expect(new Set(results.map((r) => r.loanId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(loansWith('app-12')).toHaveLength(1);
  });

  it("refuses to adopt another client's loan that carries the same external id", async () => {
    const a = await fineract.createClient(person('kiunga-p-15'));
    const b = await fineract.createClient(person('kiunga-p-16'));
    const terms = { productId: BIASHARA, principalCents: 10_000_00, numberOfRepayments: 6, externalId: 'app-15' };
    await fineract.submitLoan({ ...terms, clientId: a.clientId });
    await expect(fineract.submitLoan({ ...terms, clientId: b.clientId })).rejects.toBeInstanceOf(OwnershipError);
    expect(loansWith('app-15').map((l) => l.clientId)).toEqual([a.clientId]);
  });

  it('passes on an amount outside the product range as Fineract refuses it', async () => {
    const { clientId } = await fineract.createClient(person('kiunga-p-13'));
    const err = await fineract
      .submitLoan({ clientId, productId: BIASHARA, principalCents: 60_000_00, numberOfRepayments: 6, externalId: 'app-13' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FineractRejected);
    expect((err as FineractRejected).code).toBe('validation.msg.loan.principal.amount.is.not.within.min.max.range');
    expect(loansWith('app-13')).toHaveLength(0);
  });

  it('mirrors the status a back-office user sets in Fineract (approve, disburse)', async () => {
    const { clientId } = await fineract.createClient(person('kiunga-p-14'));
    const { loanId } = await fineract.submitLoan({
      clientId,
      productId: BIASHARA,
      principalCents: 10_000_00,
      numberOfRepayments: 6,
      externalId: 'app-14',
    });
    const approve = await call(sandbox, `/loans/${loanId}?command=approve`, {
      body: { approvedOnDate: BUSINESS_DATE, dateFormat: 'yyyy-MM-dd', locale: 'en' },
    });
    expect(approve.status).toBe(200);
    expect(await fineract.getLoanStatus(loanId)).toMatchObject({ statusId: 200, approvedOnDate: BUSINESS_DATE });
    const disburse = await call(sandbox, `/loans/${loanId}?command=disburse`, {
      body: { actualDisbursementDate: BUSINESS_DATE, dateFormat: 'yyyy-MM-dd', locale: 'en' },
    });
    expect(disburse.status).toBe(200);
    expect(await fineract.getLoanStatus(loanId)).toMatchObject({ statusId: 300, disbursedOnDate: BUSINESS_DATE });
  });
});

describe('calculateLoanSchedule', () => {
  it('quotes 10,000 over 6 monthly repayments of the Biashara Loan (2.5% flat a month)', async () => {
    const quote = await fineract.calculateLoanSchedule({
      clientId: 1,
      productId: BIASHARA,
      principalCents: 10_000_00,
      numberOfRepayments: 6,
    });
    // Flat interest: 10,000 x 2.5% = 250 a month, 1,500 in all; principal 1,666.67 a month, 1,666.65 last.
    expect(quote.totalInterestCents).toBe(1_500_00);
    expect(quote.totalRepaymentCents).toBe(11_500_00);
    expect(quote.instalmentCents).toBe(1_666_67 + 250_00);
    expect(quote.periods.at(-1)).toMatchObject({ principalCents: 1_666_65, interestCents: 250_00, totalCents: 1_916_65 });
    expect(quote.periods).toHaveLength(6);
    expect(quote.periods.reduce((s, p) => s + p.totalCents, 0)).toBe(11_500_00);
    expect(quote.periods[0]?.dueDate).toBe('2026-12-25');
    expect(sandbox.bank.data.loans.filter((l) => l.clientId === 1)).toHaveLength(2);
  });
});
