import type { z } from 'zod';
import { deadlineOf, type ClientCore } from './client-core.js';
import { FineractRejected, FineractUnavailable, FineractUnexpectedShape, OwnershipError } from './errors.js';
import { requestWithMeta } from './http.js';
import { CLIENT_DUPLICATE_EXTERNAL_ID, LOAN_DUPLICATE_EXTERNAL_ID, MAKER_CHECKER_PENDING } from './rejection-codes.js';
import { externalId, id, isoDate, minorToDecimal, rejected } from './request-values.js';
import type {
  CallOptions,
  LoanProduct,
  LoanQuote,
  LoanStatus,
  LoanSubmission,
  LoanTermsRequest,
  NewClient,
  SavingsProduct,
  TermRange,
} from './types.js';
import {
  ClientPage,
  CreatedResult,
  LoanPage,
  LoanProductData,
  LoanProductList,
  LoanScheduleData,
  LoanStatusData,
  SavingsProductList,
} from './wire.js';

/**
 * The Fineract client's origination calls (docs/fineract.md §5.3): the products, a new client and a loan
 * application, each created once under its external id, a loan's schedule quoted and its status read.
 */

/** The origination calls, on the client's shared core. */
export function createOriginationCalls(core: ClientCore) {
  const { http, log, get, businessDate } = core;

  const toMinor = (major: number, decimalPlaces: number): number => Math.round(major * 10 ** decimalPlaces);

  function toLoanProduct(p: LoanProductData): LoanProduct {
    const dp = p.currency.decimalPlaces ?? 2;
    const range = (min: number | undefined, def: number, max: number | undefined): TermRange => ({
      ...(min !== undefined ? { min } : {}),
      default: def,
      ...(max !== undefined ? { max } : {}),
    });
    const cents = (v: number | undefined): number | undefined => (v === undefined ? undefined : toMinor(v, dp));
    return {
      id: p.id,
      name: p.name,
      shortName: p.shortName ?? p.name,
      currency: p.currency.code,
      decimalPlaces: dp,
      principalCents: range(cents(p.minPrincipal), cents(p.principal) ?? 0, cents(p.maxPrincipal)),
      numberOfRepayments: range(p.minNumberOfRepayments, p.numberOfRepayments, p.maxNumberOfRepayments),
      repaymentEvery: p.repaymentEvery,
      repaymentFrequencyTypeId: p.repaymentFrequencyType.id,
      interestRatePerPeriod: p.interestRatePerPeriod ?? 0,
      interestRateFrequencyTypeId: p.interestRateFrequencyType?.id ?? p.repaymentFrequencyType.id,
      ...(p.annualInterestRate !== undefined ? { annualInterestRate: p.annualInterestRate } : {}),
      // LoanProductData.status is `loanProduct.active` or `loanProduct.inActive` (closeDate passed).
      active: p.status === undefined || p.status === 'loanProduct.active',
    };
  }

  async function listLoanProducts(call?: CallOptions): Promise<LoanProduct[]> {
    return (await get(LoanProductList, '/loanproducts', undefined, {}, call)).map(toLoanProduct);
  }

  async function listSavingsProducts(call?: CallOptions): Promise<SavingsProduct[]> {
    return (await get(SavingsProductList, '/savingsproducts', undefined, {}, call)).map((p) => ({
      id: p.id,
      name: p.name,
      shortName: p.shortName ?? p.name,
      currency: p.currency.code,
      nominalAnnualInterestRate: p.nominalAnnualInterestRate ?? 0,
    }));
  }

  /** A create's answer: the new id, or a maker-checker hold (FineractRejected), or unknown (FineractUnavailable). */
  function createdId(body: unknown, status: number, what: string, pick: (r: z.infer<typeof CreatedResult>) => number | undefined): number {
    const parsed = CreatedResult.safeParse(body);
    if (parsed.success && parsed.data.rollbackTransaction === true) {
      throw new FineractRejected(`Fineract holds ${what} for maker-checker approval; nothing happened yet`, status, MAKER_CHECKER_PENDING);
    }
    const created = parsed.success ? pick(parsed.data) : undefined;
    if (created === undefined) throw new FineractUnavailable(`Fineract answered ${what} without an id`, status);
    return created;
  }

  async function findClientIdByExternalId(ext: string, call?: CallOptions): Promise<number | null> {
    // `external_id like ?` in Fineract: `_` and `%` are wildcards there, so only an exact match counts.
    const page = await get(ClientPage, '/clients', { externalId: ext, limit: '10' }, { readFrom: 'primary' }, call);
    return page.pageItems.find((c) => c.externalId === ext)?.id ?? null;
  }

  async function createClient(req: NewClient, call?: CallOptions): Promise<{ clientId: number; created: boolean }> {
    const ext = externalId(req.externalId);
    const firstname = req.firstName.trim().slice(0, 50);
    const lastname = req.lastName.trim().slice(0, 50);
    if (firstname === '' || lastname === '')
      throw rejected('first and last names are required', 'validation.msg.client.firstname.cannot.be.blank');
    const today = await businessDate();
    const body = {
      officeId: id(req.officeId),
      legalFormId: 1,
      firstname,
      lastname,
      externalId: ext,
      active: req.active,
      ...(req.active ? { activationDate: today } : {}),
      submittedOnDate: today,
      ...(req.mobileNo !== undefined ? { mobileNo: req.mobileNo.slice(0, 50) } : {}),
      ...(req.dateOfBirth !== undefined ? { dateOfBirth: isoDate(req.dateOfBirth, 'dateOfBirth') } : {}),
      dateFormat: 'yyyy-MM-dd',
      locale: 'en',
    };
    try {
      const res = await requestWithMeta(http, 'POST', '/clients', { body, ...deadlineOf(call) });
      const clientId = createdId(res.body, res.status, 'POST /clients', (r) => r.clientId ?? r.resourceId);
      log?.info({ clientId, active: req.active }, 'client created');
      return { clientId, created: true };
    } catch (err) {
      if (!(err instanceof FineractRejected && err.code === CLIENT_DUPLICATE_EXTERNAL_ID)) throw err;
      const clientId = await findClientIdByExternalId(ext, call);
      if (clientId === null) throw new FineractUnavailable('Fineract reported a duplicate client external id but lists none');
      log?.info({ clientId }, 'client existed already with this external id');
      return { clientId, created: false };
    }
  }

  /** The body of `POST /loans` for these terms, the rest from the product (as Fineract's loan template would fill it). */
  async function loanBody(req: LoanTermsRequest, call?: CallOptions): Promise<Record<string, unknown>> {
    const product = await get(LoanProductData, `/loanproducts/${id(req.productId)}`, undefined, {}, call);
    const dp = product.currency.decimalPlaces ?? 2;
    if (!Number.isSafeInteger(req.principalCents) || req.principalCents <= 0) {
      throw rejected('principal must be a positive whole number of minor units', 'validation.msg.loan.principal.not.greater.than.zero');
    }
    if (!Number.isSafeInteger(req.numberOfRepayments) || req.numberOfRepayments <= 0) {
      throw rejected('numberOfRepayments must be a positive integer', 'validation.msg.loan.numberOfRepayments.not.greater.than.zero');
    }
    const today = await businessDate();
    const frequency = product.repaymentFrequencyType.id;
    return {
      clientId: id(req.clientId),
      productId: product.id,
      loanType: 'individual',
      principal: minorToDecimal(req.principalCents, dp),
      // The term must equal numberOfRepayments x repaymentEvery, in the same unit (LoanScheduleValidator).
      loanTermFrequency: req.numberOfRepayments * product.repaymentEvery,
      loanTermFrequencyType: frequency,
      numberOfRepayments: req.numberOfRepayments,
      repaymentEvery: product.repaymentEvery,
      repaymentFrequencyType: frequency,
      interestRatePerPeriod: product.interestRatePerPeriod ?? 0,
      amortizationType: product.amortizationType.id,
      interestType: product.interestType.id,
      interestCalculationPeriodType: product.interestCalculationPeriodType.id,
      transactionProcessingStrategyCode: product.transactionProcessingStrategyCode,
      expectedDisbursementDate: isoDate(req.expectedDisbursementDate ?? today, 'expectedDisbursementDate'),
      submittedOnDate: today,
      dateFormat: 'yyyy-MM-dd',
      locale: 'en',
    };
  }

  function toLoanStatus(l: LoanStatusData): LoanStatus {
    return {
      loanId: l.id,
      ...(l.clientId !== undefined ? { clientId: l.clientId } : {}),
      ...(l.externalId !== undefined ? { externalId: l.externalId } : {}),
      statusId: l.status.id,
      ...(l.status.code !== undefined ? { statusCode: l.status.code } : {}),
      ...(l.timeline?.approvedOnDate ? { approvedOnDate: l.timeline.approvedOnDate } : {}),
      ...(l.timeline?.actualDisbursementDate ? { disbursedOnDate: l.timeline.actualDisbursementDate } : {}),
      ...(l.timeline?.rejectedOnDate ? { rejectedOnDate: l.timeline.rejectedOnDate } : {}),
    };
  }

  async function findLoanByExternalId(ext: string, call?: CallOptions): Promise<LoanStatus | null> {
    const page = await get(LoanPage, '/loans', { externalId: externalId(ext), limit: '10' }, { readFrom: 'primary' }, call);
    const hit = page.pageItems.find((l) => l.externalId === ext);
    return hit ? toLoanStatus(hit) : null;
  }

  async function submitLoan(req: LoanSubmission, call?: CallOptions): Promise<{ loanId: number; created: boolean }> {
    const ext = externalId(req.externalId);
    const body = { ...(await loanBody(req, call)), externalId: ext };
    try {
      const res = await requestWithMeta(http, 'POST', '/loans', { body, ...deadlineOf(call) });
      const loanId = createdId(res.body, res.status, 'POST /loans', (r) => r.loanId ?? r.resourceId);
      log?.info({ loanId, clientId: req.clientId, productId: req.productId }, 'loan application submitted');
      return { loanId, created: true };
    } catch (err) {
      // Sent before (a retry after a timeout, a racing approval): m_loan.external_id is unique, read that loan.
      if (!(err instanceof FineractRejected && err.code === LOAN_DUPLICATE_EXTERNAL_ID)) throw err;
      const existing = await findLoanByExternalId(ext, call);
      if (existing === null) throw new FineractUnavailable('Fineract reported a duplicate loan external id but lists none');
      if (existing.clientId !== undefined && existing.clientId !== req.clientId) {
        log?.error({ loanId: existing.loanId, clientId: req.clientId }, 'a loan with this external id belongs to another client');
        throw new OwnershipError();
      }
      log?.info({ loanId: existing.loanId }, 'loan existed already with this external id');
      return { loanId: existing.loanId, created: false };
    }
  }

  async function calculateLoanSchedule(req: LoanTermsRequest, call?: CallOptions): Promise<LoanQuote> {
    const body = await loanBody(req, call);
    const raw = await http.request('POST', '/loans', { query: { command: 'calculateLoanSchedule' }, body, ...deadlineOf(call) });
    const parsed = LoanScheduleData.safeParse(raw);
    if (!parsed.success) throw new FineractUnexpectedShape('Fineract answered calculateLoanSchedule with an unexpected shape');
    const s = parsed.data;
    const dp = s.currency.decimalPlaces ?? 2;
    const periods = s.periods
      .filter((p) => p.period !== undefined)
      .map((p) => {
        const principalCents = toMinor(p.principalDue ?? 0, dp);
        const interestCents = toMinor(p.interestDue ?? 0, dp);
        return {
          period: p.period as number,
          dueDate: p.dueDate,
          principalCents,
          interestCents,
          totalCents: p.totalDueForPeriod !== undefined ? toMinor(p.totalDueForPeriod, dp) : principalCents + interestCents,
        };
      });
    const first = periods[0];
    if (!first) throw new FineractUnexpectedShape('Fineract calculated a schedule without instalments');
    return {
      currency: s.currency.code,
      instalmentCents: first.totalCents,
      totalRepaymentCents: toMinor(s.totalRepaymentExpected, dp),
      totalInterestCents:
        s.totalInterestCharged !== undefined ? toMinor(s.totalInterestCharged, dp) : periods.reduce((sum, p) => sum + p.interestCents, 0),
      periods,
    };
  }

  async function getLoanStatus(loanId: number, call?: CallOptions): Promise<LoanStatus> {
    return toLoanStatus(await get(LoanStatusData, `/loans/${id(loanId)}`, undefined, { readFrom: 'primary' }, call));
  }

  return {
    listLoanProducts,
    listSavingsProducts,
    createClient,
    submitLoan,
    findLoanByExternalId,
    calculateLoanSchedule,
    getLoanStatus,
  };
}
