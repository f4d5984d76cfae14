import type { Bank } from '../bank.js';
import { JsonCommand } from '../json-command.js';
import { buildFlatSchedule } from '../loan-schedule.js';
import type { LoanRecord } from '../model.js';
import { HttpError, intParam, ok, type Route } from '../router.js';
import { currencyData, domainRuleBody, notFoundBody, paramError, type ParamError } from '../serialize.js';
import { loanView, scheduleView } from './loans.js';
import { accountNo, dataIntegrityBody, loanCommandResult, nextId } from './new-records.js';

/**
 * Origination (docs/fineract.md §5.3): loan applications, `POST /loans` (submit, or
 * `?command=calculateLoanSchedule`) and `GET /loans` (with `externalId`). Their back-office steps are in
 * loan-commands.ts.
 */

/** The submission keys the sandbox understands (a subset of LoanApiConstants' supported parameters). */
const LOAN_SUBMIT_PARAMS = [
  'locale',
  'dateFormat',
  'clientId',
  'groupId',
  'productId',
  'externalId',
  'loanType',
  'principal',
  'loanTermFrequency',
  'loanTermFrequencyType',
  'numberOfRepayments',
  'repaymentEvery',
  'repaymentFrequencyType',
  'interestRatePerPeriod',
  'amortizationType',
  'interestType',
  'interestCalculationPeriodType',
  'allowPartialPeriodInterestCalcualtion',
  'transactionProcessingStrategyCode',
  'expectedDisbursementDate',
  'submittedOnDate',
  'repaymentsStartingFromDate',
  'graceOnPrincipalPayment',
  'graceOnInterestPayment',
  'graceOnInterestCharged',
  'linkAccountId',
  'charges',
  'collateral',
  'loanOfficerId',
  'loanPurposeId',
  'fundId',
  'datatables',
] as const;

interface LoanTerms {
  clientId: number;
  productId: number;
  principal: number;
  numberOfRepayments: number;
  repaymentEvery: number;
  interestRatePerPeriod: number;
  expectedDisbursementDate: string;
  submittedOnDate: string;
  externalId?: string;
}

/** A non-negative decimal such as interestRatePerPeriod (`zeroOrPositiveAmount`). */
function rate(cmd: JsonCommand, name: string, errors: ParamError[]): number | undefined {
  if (!cmd.has(name)) {
    errors.push(paramError(`validation.msg.loan.${name}.cannot.be.blank`, `The parameter \`${name}\` is mandatory.`, name));
    return undefined;
  }
  const v = cmd.raw(name);
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isFinite(n) || n < 0) {
    errors.push(
      paramError(`validation.msg.loan.${name}.not.zero.or.greater`, `The parameter \`${name}\` must be zero or greater.`, name, [], v),
    );
    return undefined;
  }
  return n;
}

/**
 * LoanApplicationValidator.validateForCreate as far as the sandbox's products go: mandatory terms, the supported
 * enumerations (monthly repayments, flat interest, equal instalments), the term matching the repayments, and the
 * product's principal and repayment ranges. The same checks guard `calculateLoanSchedule`.
 */
function loanTerms(bank: Bank, body: unknown): LoanTerms {
  const cmd = new JsonCommand('loan', body, LOAN_SUBMIT_PARAMS);
  // productId first: LoanProductNotFoundException before any field rule.
  const productId = cmd.positiveInt('productId', true);
  cmd.throwIfErrors();
  const product = bank.loanProduct(productId as number);
  if (!product) {
    throw new HttpError(
      404,
      notFoundBody('error.msg.loanproduct.id.invalid', `Loan product with identifier ${productId} does not exist`, productId as number),
    );
  }
  const clientId = cmd.positiveInt('clientId', true);
  cmd.throwIfErrors();
  const client = bank.client(clientId as number);
  if (!client)
    throw new HttpError(
      404,
      notFoundBody('error.msg.client.id.invalid', `Client with identifier ${clientId} does not exist`, clientId as number),
    );
  if (client.statusId !== 300) {
    throw new HttpError(
      403,
      domainRuleBody('error.msg.client.not.active.exception', `The Client with id \`${client.id}\` is not active`, [client.id]),
    );
  }
  const loanType = cmd.text('loanType', true, 20);
  if (loanType !== undefined && loanType !== 'individual') {
    cmd.errors.push(
      paramError(
        'validation.msg.loan.loanType.invalid',
        `The parameter \`loanType\` has an unsupported value: ${loanType}.`,
        'loanType',
        [],
        loanType,
      ),
    );
  }
  const principal = cmd.amount('principal', true);
  const loanTermFrequency = cmd.positiveInt('loanTermFrequency', true);
  const loanTermFrequencyType = cmd.oneOf('loanTermFrequencyType', [2] as const);
  const numberOfRepayments = cmd.positiveInt('numberOfRepayments', true);
  const repaymentEvery = cmd.positiveInt('repaymentEvery', true);
  const repaymentFrequencyType = cmd.oneOf('repaymentFrequencyType', [2] as const);
  const interestRatePerPeriod = rate(cmd, 'interestRatePerPeriod', cmd.errors);
  cmd.oneOf('amortizationType', [1] as const);
  cmd.oneOf('interestType', [1] as const);
  cmd.oneOf('interestCalculationPeriodType', [1] as const);
  const strategy = cmd.text('transactionProcessingStrategyCode', true, 100);
  if (strategy !== undefined && strategy !== 'mifos-standard-strategy') {
    cmd.errors.push(
      paramError(
        'validation.msg.loan.transactionProcessingStrategyCode.is.not.supported',
        `The strategy ${strategy} is not supported by the sandbox.`,
        'transactionProcessingStrategyCode',
        [],
        strategy,
      ),
    );
  }
  const expectedDisbursementDate = cmd.date('expectedDisbursementDate', true);
  const submittedOnDate = cmd.date('submittedOnDate', true);
  const externalId = cmd.text('externalId', false, 100);
  // LoanScheduleValidator.validateSelectedPeriodFrequencyTypeIsTheSame
  if (loanTermFrequencyType !== undefined && repaymentFrequencyType !== undefined && loanTermFrequencyType !== repaymentFrequencyType) {
    cmd.errors.push(
      paramError(
        'validation.msg.loan.loanTermFrequencyType.not.the.same.as.repaymentFrequencyType',
        'The parameters loanTermFrequencyType and repaymentFrequencyType must be the same.',
        'loanTermFrequencyType',
      ),
    );
  } else if (loanTermFrequency !== undefined && repaymentEvery !== undefined && numberOfRepayments !== undefined) {
    const suggested = repaymentEvery * numberOfRepayments;
    if (loanTermFrequency !== suggested) {
      const more = loanTermFrequency > suggested;
      cmd.errors.push(
        paramError(
          `validation.msg.loan.loanTermFrequency.${more ? 'greater' : 'less'}.than.repayment.structure.suggests`,
          `The parameter loanTermFrequency is ${more ? 'greater' : 'less'} than the suggested loan term as indicated by numberOfRepayments and repaymentEvery.`,
          'loanTermFrequency',
          [loanTermFrequency, numberOfRepayments, repaymentEvery],
        ),
      );
    }
  }
  // LoanProductDataValidator.validateMinMaxConstraints: inMinAndMaxAmountRange, inMinMaxRange.
  if (principal !== undefined && (principal < product.minPrincipal || principal > product.maxPrincipal)) {
    const [amount, min, max] = [principal, product.minPrincipal, product.maxPrincipal].map((c) => (c / 100).toFixed(1));
    cmd.errors.push(
      paramError(
        'validation.msg.loan.principal.amount.is.not.within.min.max.range',
        `The parameter \`principal\` amount ${amount} must be between ${min} and ${max} .`,
        'principal',
        [amount, min, max],
        amount,
      ),
    );
  }
  if (
    numberOfRepayments !== undefined &&
    (numberOfRepayments < product.minNumberOfRepayments || numberOfRepayments > product.maxNumberOfRepayments)
  ) {
    cmd.errors.push(
      paramError(
        'validation.msg.loan.numberOfRepayments.is.not.within.expected.range',
        `The parameter \`numberOfRepayments\` must be between ${product.minNumberOfRepayments} and ${product.maxNumberOfRepayments}.`,
        'numberOfRepayments',
        [numberOfRepayments, product.minNumberOfRepayments, product.maxNumberOfRepayments],
        numberOfRepayments,
      ),
    );
  }
  cmd.throwIfErrors();
  if ((submittedOnDate as string) > bank.businessDate) {
    throw new HttpError(
      403,
      domainRuleBody('error.msg.loan.submittal.cannot.be.in.the.future', 'The date on which a loan is submitted cannot be in the future.', [
        submittedOnDate,
      ]),
    );
  }
  if ((expectedDisbursementDate as string) < (submittedOnDate as string)) {
    throw new HttpError(
      403,
      domainRuleBody(
        'error.msg.loan.submittal.cannot.be.after.expected.disbursal.date',
        'The date on which a loan is submitted cannot be after its expected disbursement date.',
        [submittedOnDate, expectedDisbursementDate],
      ),
    );
  }
  return {
    clientId: client.id,
    productId: product.id,
    principal: principal as number,
    numberOfRepayments: numberOfRepayments as number,
    repaymentEvery: repaymentEvery as number,
    interestRatePerPeriod: interestRatePerPeriod as number,
    expectedDisbursementDate: expectedDisbursementDate as string,
    submittedOnDate: submittedOnDate as string,
    ...(externalId !== undefined ? { externalId } : {}),
  };
}

/** A loan record for the terms, not yet approved (status 100). */
function pendingLoan(bank: Bank, t: LoanTerms): LoanRecord {
  const id = nextId(bank.data.loans);
  return {
    id,
    accountNo: accountNo(id),
    clientId: t.clientId,
    productId: t.productId,
    statusId: 100,
    principal: t.principal,
    numberOfRepayments: t.numberOfRepayments,
    repaymentEvery: t.repaymentEvery,
    interestRatePerPeriod: t.interestRatePerPeriod,
    submittedOnDate: t.submittedOnDate,
    expectedDisbursementDate: t.expectedDisbursementDate,
    schedule: buildFlatSchedule(t.principal, t.numberOfRepayments, t.interestRatePerPeriod, t.expectedDisbursementDate),
    transactions: [],
    ...(t.externalId !== undefined ? { externalId: t.externalId } : {}),
  };
}

function submitLoan(bank: Bank, body: unknown): Record<string, unknown> {
  const terms = loanTerms(bank, body);
  // m_loan.external_id is UNIQUE (LoanApplicationWritePlatformServiceJpaRepositoryImpl.handleDataIntegrityIssues).
  if (terms.externalId !== undefined && bank.data.loans.some((l) => l.externalId === terms.externalId)) {
    throw new HttpError(
      403,
      dataIntegrityBody(
        'error.msg.loan.duplicate.externalId',
        `Loan with externalId \`${terms.externalId}\` already exists`,
        'externalId',
        terms.externalId,
      ),
    );
  }
  const loan = pendingLoan(bank, terms);
  bank.data.loans.push(loan);
  bank.revision++;
  return loanCommandResult(bank, loan);
}

/** LoanScheduleData of a calculation: nothing stored, the record exists only to be rendered. */
function calculateSchedule(bank: Bank, body: unknown): Record<string, unknown> {
  const terms = loanTerms(bank, body);
  const loan = pendingLoan(bank, terms);
  const product = bank.loanProduct(loan.productId);
  const view = scheduleView(bank, loan, currencyData(bank.currency(product?.currencyCode ?? 'KES')));
  // A calculation is the schedule as it will be once disbursed: the expected repayment counts the principal.
  const interest = loan.schedule.reduce((s, p) => s + p.interestDue, 0);
  return { ...view, totalRepaymentExpected: (loan.principal + interest) / 100, totalOutstanding: (loan.principal + interest) / 100 };
}

const isCalculate = (query: URLSearchParams): boolean => query.get('command') === 'calculateLoanSchedule';

export const loanApplicationRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/loans',
    command: (query) => (query.get('command') === null ? { action: 'CREATE', entity: 'LOAN' } : null),
    readWhen: isCalculate,
    handler: ({ bank, body, query }) => ok(isCalculate(query) ? calculateSchedule(bank, body) : submitLoan(bank, body)),
  },
  {
    // LoansApiResource.retrieveAll: a Page of LoanAccountData, filtered by externalId and accountNo.
    method: 'GET',
    pattern: '/loans',
    permission: 'READ_LOAN',
    handler: ({ bank, query }) => {
      const externalId = query.get('externalId');
      const number = query.get('accountNo');
      const all = bank.data.loans
        .filter((l) => (externalId === null || l.externalId === externalId) && (number === null || l.accountNo === number))
        .sort((a, b) => a.id - b.id);
      const offset = intParam(query, 'offset', 0);
      const limit = intParam(query, 'limit', 200, 1, 1000);
      return ok({ totalFilteredRecords: all.length, pageItems: all.slice(offset, offset + limit).map((l) => loanView(bank, l, false)) });
    },
  },
];
