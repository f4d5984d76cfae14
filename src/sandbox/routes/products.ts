import type { Bank } from '../bank.js';
import type { LoanProductRecord, SavingsProductRecord } from '../model.js';
import { HttpError, ok, selectFields, type Route } from '../router.js';
import { currencyData, decimal6, fineractError, localDate, notFoundBody } from '../serialize.js';

/** LoanProductData (docs/fineract.md §7), amounts as scale-6 BigDecimals. */
function loanProductView(bank: Bank, p: LoanProductRecord): Record<string, unknown> {
  const months = { id: 2, value: 'Months' };
  return {
    id: p.id,
    name: p.name,
    shortName: p.shortName,
    description: p.description,
    status: 'loanProduct.active',
    startDate: localDate(p.startDate),
    currency: currencyData(bank.currency(p.currencyCode)),
    principal: decimal6(p.principal),
    minPrincipal: decimal6(p.minPrincipal),
    maxPrincipal: decimal6(p.maxPrincipal),
    numberOfRepayments: p.numberOfRepayments,
    minNumberOfRepayments: p.minNumberOfRepayments,
    maxNumberOfRepayments: p.maxNumberOfRepayments,
    repaymentEvery: p.repaymentEvery,
    repaymentFrequencyType: { ...months, code: 'repaymentFrequency.periodFrequencyType.months' },
    interestRatePerPeriod: p.interestRatePerPeriod,
    interestRateFrequencyType: { id: 2, code: 'interestRateFrequency.periodFrequencyType.months', value: 'Per month' },
    annualInterestRate: p.interestRatePerPeriod * 12,
    amortizationType: { id: 1, code: 'amortizationType.equal.installments', value: 'Equal installments' },
    interestType: { id: 1, code: 'interestType.flat', value: 'Flat' },
    interestCalculationPeriodType: {
      id: 1,
      code: 'interestCalculationPeriodType.same.as.repayment.period',
      value: 'Same as repayment period',
    },
    transactionProcessingStrategyCode: 'mifos-standard-strategy',
    transactionProcessingStrategyName: 'Mifos style',
  };
}

const LOAN_PRODUCT_FIELDS: ReadonlySet<string> = new Set([
  'id',
  'name',
  'shortName',
  'description',
  'status',
  'startDate',
  'closeDate',
  'currency',
  'principal',
  'minPrincipal',
  'maxPrincipal',
  'numberOfRepayments',
  'minNumberOfRepayments',
  'maxNumberOfRepayments',
  'repaymentEvery',
  'repaymentFrequencyType',
  'interestRatePerPeriod',
  'minInterestRatePerPeriod',
  'maxInterestRatePerPeriod',
  'interestRateFrequencyType',
  'annualInterestRate',
  'amortizationType',
  'interestType',
  'interestCalculationPeriodType',
  'transactionProcessingStrategyCode',
  'transactionProcessingStrategyName',
]);

/** SavingsProductData; `/savingsproducts` lists plain savings products only (deposits have their own APIs). */
function savingsProductView(bank: Bank, p: SavingsProductRecord): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    shortName: p.shortName,
    description: p.description,
    currency: currencyData(bank.currency(p.currencyCode)),
    nominalAnnualInterestRate: p.nominalAnnualInterestRate,
    interestCompoundingPeriodType: { id: 1, code: 'savings.interest.period.savingsCompoundingInterestPeriodType.daily', value: 'Daily' },
    interestPostingPeriodType: {
      id: 4,
      code: 'savings.interest.posting.period.savingsPostingInterestPeriodType.monthly',
      value: 'Monthly',
    },
    interestCalculationType: { id: 1, code: 'savingsInterestCalculationType.dailybalance', value: 'Daily Balance' },
    interestCalculationDaysInYearType: { id: 365, code: 'savingsInterestCalculationDaysInYearType.days365', value: '365 Days' },
    withdrawalFeeForTransfers: false,
    allowOverdraft: false,
    enforceMinRequiredBalance: false,
    withHoldTax: false,
    isDormancyTrackingActive: false,
    accountingRule: { id: 1, code: 'accountingRuleType.none', value: 'NONE' },
  };
}

export const productRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/loanproducts',
    permission: 'READ_LOANPRODUCT',
    handler: ({ bank, query }) =>
      ok(
        selectFields(
          bank.data.loanProducts.map((p) => loanProductView(bank, p)),
          query.get('fields'),
          LOAN_PRODUCT_FIELDS,
        ),
      ),
  },
  {
    method: 'GET',
    pattern: '/loanproducts/{productId}',
    permission: 'READ_LOANPRODUCT',
    handler: ({ bank, params, query }) => {
      const id = params.productId as number;
      const p = bank.loanProduct(id);
      if (!p)
        throw new HttpError(404, notFoundBody('error.msg.loanproduct.id.invalid', `Loan product with identifier ${id} does not exist`, id));
      return ok(selectFields(loanProductView(bank, p), query.get('fields'), LOAN_PRODUCT_FIELDS));
    },
  },
  {
    method: 'GET',
    pattern: '/savingsproducts',
    permission: 'READ_SAVINGSPRODUCT',
    handler: ({ bank }) => ok(bank.data.savingsProducts.filter((p) => p.depositTypeId === 100).map((p) => savingsProductView(bank, p))),
  },
  {
    method: 'GET',
    pattern: '/savingsproducts/{productId}',
    permission: 'READ_SAVINGSPRODUCT',
    handler: ({ bank, params }) => {
      const id = params.productId as number;
      const p = bank.savingsProduct(id);
      if (!p || p.depositTypeId !== 100) {
        throw new HttpError(
          404,
          notFoundBody('error.msg.savingsproduct.id.invalid', `Savings product with identifier ${id} does not exist`, id),
        );
      }
      return ok(savingsProductView(bank, p));
    },
  },
  {
    method: 'GET',
    pattern: '/paymenttypes',
    permission: 'READ_PAYMENTTYPE',
    handler: ({ bank }) => ok(bank.data.paymentTypes),
  },
];

function officeView(o: { id: number; name: string; openingDate: string; hierarchy: string }): Record<string, unknown> {
  return { id: o.id, name: o.name, nameDecorated: o.name, openingDate: localDate(o.openingDate), hierarchy: o.hierarchy };
}

export const officeRoutes: Route[] = [
  { method: 'GET', pattern: '/offices', permission: 'READ_OFFICE', handler: ({ bank }) => ok(bank.data.offices.map(officeView)) },
  {
    method: 'GET',
    pattern: '/offices/{officeId}',
    permission: 'READ_OFFICE',
    handler: ({ bank, params }) => {
      const id = params.officeId as number;
      const o = bank.office(id);
      if (!o) throw new HttpError(404, notFoundBody('error.msg.office.id.invalid', `Office with identifier ${id} does not exist`, id));
      return ok(officeView(o));
    },
  },
  {
    // Open path: a credential check, not a login (docs/fineract.md §1).
    method: 'POST',
    pattern: '/authentication',
    permission: null,
    handler: ({ body, credentialsValid }) => {
      const b = (body ?? {}) as { username?: unknown; password?: unknown };
      const username = typeof b.username === 'string' ? b.username : '';
      const password = typeof b.password === 'string' ? b.password : '';
      if (!credentialsValid(username, password)) {
        throw new HttpError(401, fineractError(401, 'error.msg.not.authenticated', 'Unauthenticated. Please login.'));
      }
      return ok({
        username,
        userId: 1,
        base64EncodedAuthenticationKey: Buffer.from(`${username}:${password}`).toString('base64'),
        authenticated: true,
        officeId: 1,
        officeName: 'Head Office',
        roles: [{ id: 1, name: 'Super user', description: 'This role provides all application permissions.' }],
        permissions: ['ALL_FUNCTIONS'],
        shouldRenewPassword: false,
        isTwoFactorAuthenticationRequired: false,
      });
    },
  },
];
