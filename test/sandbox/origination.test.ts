import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_PRODUCTS, type Sandbox } from '../../src/sandbox/index.js';
import { BUSINESS_DATE, call, codes, type Json, sandboxForEachTest } from './api.js';

/**
 * Origination in the sandbox, checked against the Fineract source (docs/fineract.md §5.3): client and loan
 * creation with their validation and external-id uniqueness, the schedule calculation, the loan list by external
 * id, and the back-office approve / disburse / reject commands with their hooks.
 */

let sandbox: Sandbox;

sandboxForEachTest((s) => (sandbox = s));

const DATES = { dateFormat: 'yyyy-MM-dd', locale: 'en' };
const BIASHARA = DEMO_PRODUCTS.loans.biashara;

const clientBody = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  officeId: 1,
  legalFormId: 1,
  firstname: 'Neema',
  lastname: 'Achieng',
  externalId: 'kiunga-profile-1',
  mobileNo: '+254711000009',
  dateOfBirth: '1990-04-12',
  active: true,
  activationDate: BUSINESS_DATE,
  submittedOnDate: BUSINESS_DATE,
  ...DATES,
  ...overrides,
});

const loanBody = (clientId: number, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  clientId,
  productId: BIASHARA,
  loanType: 'individual',
  principal: 10000,
  loanTermFrequency: 6,
  loanTermFrequencyType: 2,
  numberOfRepayments: 6,
  repaymentEvery: 1,
  repaymentFrequencyType: 2,
  interestRatePerPeriod: 2.5,
  amortizationType: 1,
  interestType: 1,
  interestCalculationPeriodType: 1,
  transactionProcessingStrategyCode: 'mifos-standard-strategy',
  expectedDisbursementDate: BUSINESS_DATE,
  submittedOnDate: BUSINESS_DATE,
  externalId: 'kiunga-app-1',
  ...DATES,
  ...overrides,
});

async function newClient(overrides: Record<string, unknown> = {}): Promise<number> {
  const r = await call(sandbox, '/clients', { body: clientBody(overrides) });
  expect(r.status).toBe(200);
  return r.json.clientId as number;
}

describe('GET /loanproducts, GET /savingsproducts (what a catalogue reads)', () => {
  it('lists loan products as LoanProductData: ranges as BigDecimals, repayments, rate, frequency, status', async () => {
    const r = await call(sandbox, '/loanproducts');
    expect(r.status).toBe(200);
    expect(r.json.map((p: Json) => p.id)).toEqual([DEMO_PRODUCTS.loans.biashara, DEMO_PRODUCTS.loans.assetFinance]);
    expect(r.json[0]).toMatchObject({
      id: BIASHARA,
      name: 'Biashara Loan',
      shortName: 'BIA',
      status: 'loanProduct.active',
      currency: { code: 'KES', decimalPlaces: 2 },
      principal: 20000,
      minPrincipal: 5000,
      maxPrincipal: 50000,
      numberOfRepayments: 6,
      minNumberOfRepayments: 3,
      maxNumberOfRepayments: 12,
      repaymentEvery: 1,
      repaymentFrequencyType: { id: 2 },
      interestRatePerPeriod: 2.5,
      interestRateFrequencyType: { id: 2 },
      amortizationType: { id: 1 },
      interestType: { id: 1 },
      interestCalculationPeriodType: { id: 1 },
      transactionProcessingStrategyCode: 'mifos-standard-strategy',
    });
    // BigDecimals keep their scale on the wire, as Gson writes them.
    expect(r.text).toContain('"minPrincipal":5000.000000');
  });

  it('lists the plain savings products only (deposit_type_enum 100)', async () => {
    const r = await call(sandbox, '/savingsproducts');
    expect(r.status).toBe(200);
    expect(r.json.map((p: Json) => p.id)).toEqual([DEMO_PRODUCTS.savings.akiba, DEMO_PRODUCTS.savings.staff]);
    expect(r.json[0]).toMatchObject({ id: 1, name: expect.any(String), shortName: expect.any(String), currency: { code: 'KES' } });
    expect(typeof r.json[0].nominalAnnualInterestRate).toBe('number');
  });
});

describe('GET /search?resource=clientIdentifiers', () => {
  it('answers CLIENTIDENTIFIER rows: identifier id and key, the client as parent with its status', async () => {
    const r = await call(sandbox, '/search?query=12345678&resource=clientIdentifiers&exactMatch=true');
    expect(r.status).toBe(200);
    expect(r.json).toEqual([
      {
        entityId: 31,
        entityName: '12345678',
        entityType: 'CLIENTIDENTIFIER',
        parentId: 3,
        parentName: 'Chanya Mwangi',
        entityStatus: expect.objectContaining({ id: 300 }),
      },
    ]);
    const like = await call(sandbox, '/search?query=4567&resource=clientIdentifiers');
    // Every identifier with 4567 in its key, newest first (`order by ci.id desc`), an inactive passport included.
    expect(like.json.map((x: Json) => x.entityId)).toEqual([31, 22, 21, 11]);
    const clientsOnly = await call(sandbox, '/search?query=12345678&resource=clients');
    expect(clientsOnly.json).toEqual([]);
  });
});

describe('POST /clients', () => {
  it('creates an active person and answers {officeId, clientId, resourceId, resourceExternalId}', async () => {
    const r = await call(sandbox, '/clients', { body: clientBody() });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      officeId: 1,
      clientId: expect.any(Number),
      resourceId: r.json.clientId,
      resourceExternalId: 'kiunga-profile-1',
    });
    const read = await call(sandbox, `/clients/${r.json.clientId}`);
    expect(read.json).toMatchObject({
      externalId: 'kiunga-profile-1',
      active: true,
      status: { id: 300 },
      displayName: 'Neema Achieng',
      dateOfBirth: [1990, 4, 12],
      activationDate: [2026, 11, 25],
    });
  });

  it('creates a pending client (status 100) when active is false or absent', async () => {
    const { active: _a, activationDate: _d, ...body } = clientBody({ externalId: 'p-absent', mobileNo: undefined });
    const absent = await call(sandbox, '/clients', { body });
    const no = await call(sandbox, '/clients', {
      body: clientBody({ externalId: 'p-false', mobileNo: undefined, active: false, activationDate: undefined }),
    });
    for (const r of [absent, no]) {
      expect(r.status).toBe(200);
      expect((await call(sandbox, `/clients/${r.json.clientId}`)).json.status.id).toBe(100);
    }
  });

  it('refuses a second client with the same external id: 403 error.msg.client.duplicate.externalId, nothing added', async () => {
    await newClient();
    const before = sandbox.bank.data.clients.length;
    const r = await call(sandbox, '/clients', { body: clientBody({ firstname: 'Other' }) });
    expect(r.status).toBe(403);
    expect(r.json.userMessageGlobalisationCode).toBe('error.msg.client.duplicate.externalId');
    expect(codes(r)).toEqual(['error.msg.client.duplicate.externalId']);
    expect(r.json.errors[0].parameterName).toBe('externalId');
    expect(sandbox.bank.data.clients.length).toBe(before);
  });

  it('refuses a second client with the same mobileNo string (unique m_client.mobile_no), not another spelling', async () => {
    await newClient();
    const same = await call(sandbox, '/clients', { body: clientBody({ externalId: 'other' }) });
    expect(same.status).toBe(403);
    expect(codes(same)).toEqual(['error.msg.client.duplicate.mobileNo']);
    const spelling = await call(sandbox, '/clients', { body: clientBody({ externalId: 'other', mobileNo: '0711000009' }) });
    expect(spelling.status).toBe(200);
  });

  it('validates as ClientDataValidator does', async () => {
    const noName = await call(sandbox, '/clients', { body: clientBody({ firstname: undefined, lastname: undefined }) });
    expect(noName.status).toBe(400);
    expect(codes(noName)).toEqual(['validation.msg.client.id..no.name.details.passed']);

    const noLast = await call(sandbox, '/clients', { body: clientBody({ lastname: undefined }) });
    expect(codes(noLast)).toEqual(['validation.msg.client.lastname.cannot.be.blank']);

    const both = await call(sandbox, '/clients', { body: clientBody({ fullname: 'Neema Trading' }) });
    expect(codes(both)).toEqual(['validation.msg.client.fullname.cannot.also.be.provided.when.firstname.is.populated']);

    const noOffice = await call(sandbox, '/clients', { body: clientBody({ officeId: undefined }) });
    expect(codes(noOffice)).toEqual(['validation.msg.client.officeId.cannot.be.blank']);

    const noActivation = await call(sandbox, '/clients', { body: clientBody({ activationDate: undefined }) });
    expect(codes(noActivation)).toEqual(['validation.msg.client.activationDate.cannot.be.blank']);

    const unknown = await call(sandbox, '/clients', { body: clientBody({ nationalId: '12345678' }) });
    expect(codes(unknown)).toEqual(['error.msg.parameter.unsupported']);

    const noFormat = await call(sandbox, '/clients', { body: clientBody({ dateFormat: undefined }) });
    expect(codes(noFormat)).toEqual(['validation.msg.missing.dateFormat.parameter']);

    const office = await call(sandbox, '/clients', { body: clientBody({ officeId: 99 }) });
    expect(office.status).toBe(404);
    expect(codes(office)).toEqual(['error.msg.office.id.invalid']);
  });

  it('GET /clients?externalId= filters the page with SQL LIKE, as ClientReadPlatformServiceImpl does', async () => {
    const mine = await newClient({ externalId: 'p_1', mobileNo: '+254722000001' });
    const other = await newClient({ externalId: 'pX1', mobileNo: '+254722000002' });
    const exact = await call(sandbox, '/clients?externalId=pX1');
    expect(exact.json).toMatchObject({ totalFilteredRecords: 1, pageItems: [{ id: other, externalId: 'pX1' }] });
    const like = await call(sandbox, '/clients?externalId=p_1');
    expect(like.json.pageItems.map((c: Json) => c.id)).toEqual([mine, other]);
    expect((await call(sandbox, '/clients?externalId=none')).json).toEqual({ totalFilteredRecords: 0, pageItems: [] });
  });
});

describe('POST /loans (submit)', () => {
  it('submits a loan "Submitted and pending approval" (100) with its external id', async () => {
    const clientId = await newClient();
    const r = await call(sandbox, '/loans', { body: loanBody(clientId) });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      officeId: 1,
      clientId,
      loanId: expect.any(Number),
      resourceId: r.json.loanId,
      resourceExternalId: 'kiunga-app-1',
    });
    const loan = await call(sandbox, `/loans/${r.json.loanId}`);
    expect(loan.json).toMatchObject({
      externalId: 'kiunga-app-1',
      clientId,
      loanProductId: BIASHARA,
      status: { id: 100, code: 'loanStatusType.submitted.and.pending.approval', pendingApproval: true },
      principal: 10000,
      numberOfRepayments: 6,
      timeline: { submittedOnDate: [2026, 11, 25], expectedDisbursementDate: [2026, 11, 25] },
    });
    expect(loan.json.summary).toBeUndefined();
  });

  it('refuses a second loan with the same external id: 403 error.msg.loan.duplicate.externalId, one loan', async () => {
    const clientId = await newClient();
    await call(sandbox, '/loans', { body: loanBody(clientId) });
    const r = await call(sandbox, '/loans', { body: loanBody(clientId, { principal: 20000 }) });
    expect(r.status).toBe(403);
    expect(r.json.userMessageGlobalisationCode).toBe('error.msg.loan.duplicate.externalId');
    expect(r.json.developerMessage).toBe('The request caused a data integrity issue to be fired by the database.');
    expect(sandbox.bank.data.loans.filter((l) => l.externalId === 'kiunga-app-1')).toHaveLength(1);
  });

  it('refuses a loan for a client who is not active (403 error.msg.client.not.active.exception)', async () => {
    const clientId = await newClient({ active: false, activationDate: undefined });
    const r = await call(sandbox, '/loans', { body: loanBody(clientId) });
    expect(r.status).toBe(403);
    expect(codes(r)).toEqual(['error.msg.client.not.active.exception']);
  });

  it("refuses terms outside the product's ranges and a term that does not match the repayments", async () => {
    const clientId = await newClient();
    const big = await call(sandbox, '/loans', { body: loanBody(clientId, { principal: 60000 }) });
    expect(big.status).toBe(400);
    expect(codes(big)).toEqual(['validation.msg.loan.principal.amount.is.not.within.min.max.range']);
    expect(big.json.errors[0].defaultUserMessage).toBe('The parameter `principal` amount 60000.0 must be between 5000.0 and 50000.0 .');

    const many = await call(sandbox, '/loans', { body: loanBody(clientId, { numberOfRepayments: 13, loanTermFrequency: 13 }) });
    expect(codes(many)).toEqual(['validation.msg.loan.numberOfRepayments.is.not.within.expected.range']);

    const term = await call(sandbox, '/loans', { body: loanBody(clientId, { loanTermFrequency: 5 }) });
    expect(codes(term)).toEqual(['validation.msg.loan.loanTermFrequency.less.than.repayment.structure.suggests']);

    const missing = await call(sandbox, '/loans', { body: loanBody(clientId, { principal: undefined, submittedOnDate: undefined }) });
    expect(codes(missing)).toEqual([
      'validation.msg.loan.principal.cannot.be.blank',
      'validation.msg.loan.submittedOnDate.cannot.be.blank',
    ]);

    const product = await call(sandbox, '/loans', { body: loanBody(clientId, { productId: 99 }) });
    expect(product.status).toBe(404);
    expect(codes(product)).toEqual(['error.msg.loanproduct.id.invalid']);
    expect(sandbox.bank.data.loans.filter((l) => l.clientId === clientId)).toHaveLength(0);
  });

  it('GET /loans?externalId= answers a page with exactly that loan', async () => {
    const clientId = await newClient();
    const { json } = await call(sandbox, '/loans', { body: loanBody(clientId) });
    const page = await call(sandbox, '/loans?externalId=kiunga-app-1');
    expect(page.status).toBe(200);
    expect(page.json).toMatchObject({
      totalFilteredRecords: 1,
      pageItems: [{ id: json.loanId, externalId: 'kiunga-app-1', status: { id: 100 } }],
    });
    expect((await call(sandbox, '/loans?externalId=kiunga-app')).json).toEqual({ totalFilteredRecords: 0, pageItems: [] });
  });
});

describe('POST /loans?command=calculateLoanSchedule', () => {
  it("computes the flat schedule without storing anything, rounding as Fineract's Money does", async () => {
    const before = sandbox.bank.data.loans.length;
    const { externalId: _e, ...body } = loanBody(1);
    const r = await call(sandbox, '/loans?command=calculateLoanSchedule', { body });
    expect(r.status).toBe(200);
    expect(sandbox.bank.data.loans.length).toBe(before);
    expect(r.json).toMatchObject({
      currency: { code: 'KES' },
      totalPrincipalExpected: 10000,
      totalInterestCharged: 1500,
      totalRepaymentExpected: 11500,
    });
    const periods = r.json.periods as Json[];
    expect(periods[0]).toMatchObject({ dueDate: [2026, 11, 25], principalDisbursed: 10000 });
    expect(periods[0].period).toBeUndefined();
    const instalments = periods.slice(1);
    expect(instalments.map((p) => p.principalDue)).toEqual([1666.67, 1666.67, 1666.67, 1666.67, 1666.67, 1666.65]);
    expect(instalments.map((p) => p.interestDue)).toEqual([250, 250, 250, 250, 250, 250]);
    expect(instalments[0]).toMatchObject({ period: 1, dueDate: [2026, 12, 25], totalDueForPeriod: 1916.67 });
  });

  it('validates the terms as a submission does, and is not a command (no idempotency store, no hook)', async () => {
    const r = await call(sandbox, '/loans?command=calculateLoanSchedule', { body: loanBody(1, { principal: 1000 }) });
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(['validation.msg.loan.principal.amount.is.not.within.min.max.range']);
    const again = await call(sandbox, '/loans?command=calculateLoanSchedule', { body: loanBody(1), idempotencyKey: 'same' });
    const twice = await call(sandbox, '/loans?command=calculateLoanSchedule', {
      body: loanBody(1, { principal: 20000 }),
      idempotencyKey: 'same',
    });
    expect(again.json.totalInterestCharged).toBe(1500);
    expect(twice.json.totalInterestCharged).toBe(3000);
    expect(twice.headers.get('x-served-from-cache')).toBeNull();
  });

  it('needs an existing, active client, as Fineract validates it (the reason for LOAN_QUOTE_CLIENT_ID)', async () => {
    const { clientId: _c, externalId: _e, ...noClient } = loanBody(1);
    const none = await call(sandbox, '/loans?command=calculateLoanSchedule', { body: noClient });
    expect(none.status).toBe(400);
    expect(codes(none)).toEqual(['validation.msg.loan.clientId.cannot.be.blank']);
    const unknown = await call(sandbox, '/loans?command=calculateLoanSchedule', { body: loanBody(999_999) });
    expect(unknown.status).toBe(404);
    expect(codes(unknown)).toEqual(['error.msg.client.id.invalid']);
    const pending = await newClient({
      active: false,
      activationDate: undefined,
      externalId: 'kiunga-profile-2',
      mobileNo: '+254711000091',
    });
    const inactive = await call(sandbox, '/loans?command=calculateLoanSchedule', { body: loanBody(pending) });
    expect(inactive.status).toBe(403);
    expect(codes(inactive)).toEqual(['error.msg.client.not.active.exception']);
  });

  it('answers an unknown command with 400 error.msg.unsupported.query.parameter.value', async () => {
    const r = await call(sandbox, '/loans?command=calculate', { body: loanBody(1) });
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(['error.msg.unsupported.query.parameter.value']);
  });
});

describe('POST /loans/{id}?command=approve|disburse|reject (the back office)', () => {
  let receiver: Server;
  let received: { entity: string; action: string; body: Json }[];

  beforeEach(async () => {
    received = [];
    receiver = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        received.push({
          entity: String(req.headers['x-fineract-entity']),
          action: String(req.headers['x-fineract-action']),
          body: JSON.parse(text || '{}'),
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  async function submitted(): Promise<number> {
    const clientId = await newClient();
    return (await call(sandbox, '/loans', { body: loanBody(clientId) })).json.loanId as number;
  }

  it('approves then disburses, firing the LOAN APPROVE and LOAN DISBURSE hooks', async () => {
    const port = (receiver.address() as AddressInfo).port;
    const hook = await call(sandbox, '/hooks', {
      body: {
        name: 'Web',
        displayName: 'kiunga-origination',
        isActive: true,
        events: [
          { entityName: 'LOAN', actionName: 'APPROVE' },
          { entityName: 'LOAN', actionName: 'DISBURSE' },
        ],
        config: { 'Payload URL': `http://127.0.0.1:${port}/hook/`, 'Content Type': 'json' },
      },
    });
    expect(hook.status).toBe(200);
    const loanId = await submitted();

    const approve = await call(sandbox, `/loans/${loanId}?command=approve`, { body: { approvedOnDate: BUSINESS_DATE, ...DATES } });
    expect(approve.status).toBe(200);
    expect(approve.json).toMatchObject({ loanId, resourceId: loanId, changes: { status: { id: 200 }, approvedOnDate: BUSINESS_DATE } });
    expect((await call(sandbox, `/loans/${loanId}`)).json.status).toMatchObject({ id: 200, waitingForDisbursal: true });

    const disburse = await call(sandbox, `/loans/${loanId}?command=disburse`, {
      body: { actualDisbursementDate: BUSINESS_DATE, ...DATES },
    });
    expect(disburse.status).toBe(200);
    const active = (await call(sandbox, `/loans/${loanId}`)).json;
    expect(active.status).toMatchObject({ id: 300, active: true });
    // disburseLoan's result: the loan as the resource, the disbursement transaction as the sub-resource.
    expect(disburse.json).toMatchObject({ loanId, resourceId: loanId, subResourceId: expect.any(Number) });
    expect(active.summary).toMatchObject({ principalDisbursed: 10000, totalOutstanding: 11500 });

    await sandbox.hooks.idle();
    expect(received.map((h) => `${h.entity} ${h.action}`)).toEqual(['LOAN APPROVE', 'LOAN DISBURSE']);
    expect(received[0]?.body).toMatchObject({ entityName: 'LOAN', actionName: 'APPROVE' });
    expect(JSON.stringify(received[0]?.body)).toContain(`"loanId":${loanId}`);
    // What Kiunga's hook route reads: the loan id in the response, equal to the resource id; no officeId there.
    expect(received[1]?.body.response).toMatchObject({ loanId, resourceId: loanId, subResourceId: disburse.json.subResourceId });
    expect(received[1]?.body.response.officeId).toBeUndefined();
  });

  it('refuses to approve twice and to disburse a loan not approved, as Fineract does', async () => {
    const loanId = await submitted();
    const early = await call(sandbox, `/loans/${loanId}?command=disburse`, { body: { actualDisbursementDate: BUSINESS_DATE, ...DATES } });
    expect(early.status).toBe(400);
    expect(codes(early)).toEqual(['error.msg.loan.disbursal.account.is.not.approve.not.disbursed.state']);
    await call(sandbox, `/loans/${loanId}?command=approve`, { body: { approvedOnDate: BUSINESS_DATE, ...DATES } });
    const twice = await call(sandbox, `/loans/${loanId}?command=approve`, { body: { approvedOnDate: BUSINESS_DATE, ...DATES } });
    expect(twice.status).toBe(400);
    expect(codes(twice)).toEqual(['error.msg.loan.approve.account.is.not.submitted.and.pending.state']);
  });

  it('rejects a submitted loan (status 500)', async () => {
    const loanId = await submitted();
    const r = await call(sandbox, `/loans/${loanId}?command=reject`, { body: { rejectedOnDate: BUSINESS_DATE, ...DATES } });
    expect(r.status).toBe(200);
    const loan = (await call(sandbox, `/loans/${loanId}`)).json;
    expect(loan.status.id).toBe(500);
    expect(loan.timeline.rejectedOnDate).toEqual([2026, 11, 25]);
  });
});
