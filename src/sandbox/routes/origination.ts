import type { Bank } from '../bank.js';
import { JsonCommand } from '../json-command.js';
import { buildFlatSchedule } from '../loan-schedule.js';
import type { ClientRecord, LoanRecord } from '../model.js';
import { HttpError, intParam, ok, type CommandName, type Route } from '../router.js';
import { currencyData, domainRuleBody, fineractError, notFoundBody, paramError, validationBody, type ParamError } from '../serialize.js';
import { loanView, requireLoan, scheduleView } from './loans.js';
import { unknownCommand } from './money.js';

/**
 * Origination (docs/fineract.md §5.3): `POST /clients`, `POST /loans` (submit, or `?command=calculateLoanSchedule`),
 * `GET /loans` (with `externalId`) and the back-office steps `POST /loans/{id}?command=approve|disburse|reject`.
 */

/** ClientApiCollectionConstants.CLIENT_CREATE_REQUEST_DATA_PARAMETERS. */
const CLIENT_CREATE_PARAMS = [
  'familyMembers',
  'address',
  'locale',
  'dateFormat',
  'groupId',
  'accountNo',
  'externalId',
  'mobileNo',
  'emailAddress',
  'firstname',
  'middlename',
  'lastname',
  'fullname',
  'officeId',
  'active',
  'activationDate',
  'staffId',
  'submittedOnDate',
  'savingsProductId',
  'dateOfBirth',
  'genderId',
  'clientTypeId',
  'clientClassificationId',
  'clientNonPersonDetails',
  'displayName',
  'legalFormId',
  'datatables',
  'isStaff',
] as const;

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

const APPROVE_PARAMS = ['locale', 'dateFormat', 'approvedOnDate', 'approvedLoanAmount', 'expectedDisbursementDate', 'note'] as const;
const DISBURSE_PARAMS = [
  'locale',
  'dateFormat',
  'actualDisbursementDate',
  'transactionAmount',
  'paymentTypeId',
  'externalId',
  'note',
  'accountNumber',
  'checkNumber',
  'routingCode',
  'receiptNumber',
  'bankNumber',
] as const;
const REJECT_PARAMS = ['locale', 'dateFormat', 'rejectedOnDate', 'note'] as const;

const accountNo = (id: number): string => String(id).padStart(9, '0');
const nextId = (rows: readonly { id: number }[]): number => 1 + rows.reduce((m, r) => Math.max(m, r.id), 0);

/** PlatformDataIntegrityException → 403 ApiGlobalErrorResponse.dataIntegrityError. */
function dataIntegrityBody(code: string, message: string, parameterName: string, value: string): Record<string, unknown> {
  return {
    ...fineractError(403, code, message, [paramError(code, message, parameterName, [value])]),
    developerMessage: 'The request caused a data integrity issue to be fired by the database.',
  };
}

/** A JSON boolean, or the strings "true"/"false" (FromJsonHelper.extractBooleanNamed); null when absent. */
function booleanValue(cmd: JsonCommand, name: string): boolean | null {
  const v = cmd.raw(name);
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw new HttpError(
    400,
    validationBody([
      paramError(`validation.msg.client.${name}.must.be.true.or.false`, `The parameter \`${name}\` must be set as true or false.`, name),
    ]),
  );
}

/** ClientDataValidator.validateForCreate, then ClientWritePlatformServiceJpaRepositoryImpl.createClient. */
function createClient(bank: Bank, body: unknown): Record<string, unknown> {
  const cmd = new JsonCommand('client', body, CLIENT_CREATE_PARAMS);
  const officeId = cmd.positiveInt('officeId', true);
  const legalFormId = cmd.has('legalFormId') ? cmd.oneOf('legalFormId', [1, 2] as const) : 1;
  const individual = cmd.has('firstname') || cmd.has('lastname') || cmd.has('middlename');
  const full = cmd.has('fullname');
  let firstname: string | undefined;
  let lastname: string | undefined;
  let fullname: string | undefined;
  if (individual && full) {
    // validateIndividualNamePartsCannotBeUsedWithFullname
    cmd.errors.push(
      paramError(
        'validation.msg.client.fullname.cannot.also.be.provided.when.firstname.is.populated',
        'Failed data validation due to: cannot.also.be.provided.when.firstname.is.populated.',
        'fullname',
      ),
    );
  } else if (full) {
    fullname = cmd.text('fullname', true, 100);
  } else if (individual) {
    firstname = cmd.text('firstname', true, 50);
    cmd.text('middlename', false, 50);
    lastname = cmd.text('lastname', true, 50);
  } else {
    // failWithCode(".no.name.details.passed") on the `id` parameter: the source's double dot is kept.
    cmd.errors.push(
      paramError('validation.msg.client.id..no.name.details.passed', 'Failed data validation due to: .no.name.details.passed.', 'id'),
    );
  }
  const externalId = cmd.text('externalId', false, 100);
  const mobileNo = cmd.text('mobileNo', false, 50);
  const active = booleanValue(cmd, 'active');
  const activationDate = active === true ? cmd.date('activationDate', true) : undefined;
  const submittedOnDate = cmd.date('submittedOnDate', false);
  const dateOfBirth = cmd.date('dateOfBirth', false);
  if (
    dateOfBirth !== undefined &&
    (dateOfBirth >= bank.businessDate || (submittedOnDate !== undefined && dateOfBirth >= submittedOnDate))
  ) {
    cmd.errors.push(
      paramError(
        'validation.msg.client.dateOfBirth.is.greater.than.date',
        `The parameter \`dateOfBirth\` must be less than the provided date`,
        'dateOfBirth',
        [],
        dateOfBirth,
      ),
    );
  }
  cmd.throwIfErrors();
  if (!bank.office(officeId as number)) {
    throw new HttpError(
      404,
      notFoundBody('error.msg.office.id.invalid', `Office with identifier ${officeId} does not exist`, officeId as number),
    );
  }
  if (activationDate !== undefined && activationDate > bank.businessDate) {
    throw new HttpError(
      403,
      domainRuleBody('error.msg.clients.activationDate.in.the.future', `Activation date cannot be in the future.`, [activationDate]),
    );
  }
  // m_client.external_id is UNIQUE: the insert fails and handleDataIntegrityIssues names the external id.
  if (externalId !== undefined && bank.data.clients.some((c) => c.externalId === externalId)) {
    throw new HttpError(
      403,
      dataIntegrityBody(
        'error.msg.client.duplicate.externalId',
        `Client with externalId \`${externalId}\` already exists`,
        'externalId',
        externalId,
      ),
    );
  }
  // m_client.mobile_no is UNIQUE too (0001_initial_schema.xml): the same string twice fails, other spellings pass.
  if (mobileNo !== undefined && bank.data.clients.some((c) => c.mobileNo === mobileNo)) {
    throw new HttpError(
      403,
      dataIntegrityBody('error.msg.client.duplicate.mobileNo', `Client with mobileNo \`${mobileNo}\` already exists`, 'mobileNo', mobileNo),
    );
  }
  const id = nextId(bank.data.clients);
  const client: ClientRecord = {
    id,
    accountNo: accountNo(id),
    legalFormId: legalFormId === 2 ? 2 : 1,
    officeId: officeId as number,
    statusId: active === true ? 300 : 100,
    submittedOnDate: submittedOnDate ?? bank.businessDate,
    ...(externalId !== undefined ? { externalId } : {}),
    ...(firstname !== undefined ? { firstname } : {}),
    ...(lastname !== undefined ? { lastname } : {}),
    ...(fullname !== undefined ? { fullname } : {}),
    ...(mobileNo !== undefined ? { mobileNo } : {}),
    ...(dateOfBirth !== undefined ? { dateOfBirth } : {}),
    ...(activationDate !== undefined ? { activationDate } : {}),
  };
  bank.data.clients.push(client);
  bank.revision++;
  return {
    officeId: client.officeId,
    clientId: id,
    resourceId: id,
    ...(externalId !== undefined ? { resourceExternalId: externalId } : {}),
  };
}

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
  return {
    officeId: bank.client(loan.clientId)?.officeId,
    clientId: loan.clientId,
    loanId: loan.id,
    resourceId: loan.id,
    ...(loan.externalId !== undefined ? { resourceExternalId: loan.externalId } : {}),
  };
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

function loanTransitionError(code: string, message: string): HttpError {
  return new HttpError(400, validationBody([paramError(code, message, 'id')]));
}

const LOAN_COMMANDS: Record<string, CommandName> = {
  approve: { action: 'APPROVE', entity: 'LOAN' },
  disburse: { action: 'DISBURSE', entity: 'LOAN' },
  reject: { action: 'REJECT', entity: 'LOAN' },
};

/** Approve, disburse or reject a loan the way a back-office user does in Fineract. */
function loanTransition(bank: Bank, loanId: number, kind: string, body: unknown): Record<string, unknown> {
  const loan = requireLoan(bank, loanId);
  const changes: Record<string, unknown> = {};
  /** The disbursement transaction (LoanWritePlatformServiceJpaRepositoryImpl.disburseLoan: `withSubEntityId`). */
  let subResourceId: number | undefined;
  if (kind === 'approve') {
    const cmd = new JsonCommand('loanapplication', body, APPROVE_PARAMS);
    const approvedOnDate = cmd.date('approvedOnDate', true);
    cmd.throwIfErrors();
    if (loan.statusId !== 100) {
      throw loanTransitionError(
        'error.msg.loan.approve.account.is.not.submitted.and.pending.state',
        'Loan Account Approval is not allowed. Loan Account is not in submitted and pending approval state.',
      );
    }
    if ((approvedOnDate as string) < loan.submittedOnDate || (approvedOnDate as string) > bank.businessDate) {
      throw new HttpError(
        403,
        domainRuleBody('error.msg.loan.approval.date.not.valid', 'The approval date must be between the submission date and today.', [
          approvedOnDate,
        ]),
      );
    }
    loan.statusId = 200;
    loan.approvedOnDate = approvedOnDate as string;
    Object.assign(changes, { status: { id: 200 }, approvedOnDate: cmd.raw('approvedOnDate') });
  } else if (kind === 'disburse') {
    const cmd = new JsonCommand('loan.disbursement', body, DISBURSE_PARAMS);
    const date = cmd.date('actualDisbursementDate', true);
    cmd.throwIfErrors();
    if (loan.statusId !== 200) {
      throw loanTransitionError(
        'error.msg.loan.disbursal.account.is.not.approve.not.disbursed.state',
        'Loan Disbursal is not allowed. Loan Account is not in approved and not disbursed state.',
      );
    }
    if ((date as string) > bank.businessDate || (date as string) < (loan.approvedOnDate ?? loan.submittedOnDate)) {
      throw new HttpError(
        403,
        domainRuleBody('error.msg.loan.disbursal.date.not.valid', 'The disbursement date must be between the approval date and today.', [
          date,
        ]),
      );
    }
    loan.statusId = 300;
    loan.disbursedOnDate = date as string;
    loan.schedule = buildFlatSchedule(loan.principal, loan.numberOfRepayments, loan.interestRatePerPeriod, date as string);
    subResourceId = 1 + bank.data.loans.reduce((m, l) => Math.max(m, ...l.transactions.map((t) => t.id)), 0);
    loan.transactions.push({
      id: subResourceId,
      typeId: 1,
      date: date as string,
      amount: loan.principal,
      principalPortion: loan.principal,
      interestPortion: 0,
      reversed: false,
    });
    Object.assign(changes, { status: { id: 300 }, actualDisbursementDate: cmd.raw('actualDisbursementDate') });
  } else {
    const cmd = new JsonCommand('loanapplication', body, REJECT_PARAMS);
    const date = cmd.date('rejectedOnDate', true);
    cmd.throwIfErrors();
    if (loan.statusId !== 100) {
      throw loanTransitionError(
        'error.msg.loan.reject.account.is.not.submitted.pending.approval.state',
        'Loan application cannot be rejected. Loan Account is not in Submitted and Pending approval state.',
      );
    }
    loan.statusId = 500;
    loan.rejectedOnDate = date as string;
    loan.closedOnDate = date as string;
    Object.assign(changes, { status: { id: 500 }, rejectedOnDate: cmd.raw('rejectedOnDate') });
  }
  bank.revision++;
  return {
    officeId: bank.client(loan.clientId)?.officeId,
    clientId: loan.clientId,
    loanId: loan.id,
    resourceId: loan.id,
    ...(loan.externalId !== undefined ? { resourceExternalId: loan.externalId } : {}),
    ...(subResourceId !== undefined ? { subResourceId } : {}),
    changes,
  };
}

const isCalculate = (query: URLSearchParams): boolean => query.get('command') === 'calculateLoanSchedule';

export const originationRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/clients',
    command: (query) => (query.get('command') === null ? { action: 'CREATE', entity: 'CLIENT' } : null),
    handler: ({ bank, body }) => ok(createClient(bank, body)),
  },
  {
    method: 'POST',
    pattern: '/loans',
    command: (query) => (query.get('command') === null ? { action: 'CREATE', entity: 'LOAN' } : null),
    readWhen: isCalculate,
    handler: ({ bank, body, query }) => ok(isCalculate(query) ? calculateSchedule(bank, body) : submitLoan(bank, body)),
  },
  {
    method: 'POST',
    pattern: '/loans/{loanId}',
    command: (query) => LOAN_COMMANDS[query.get('command') ?? ''] ?? null,
    handler: ({ bank, params, body, query }) => {
      const kind = query.get('command') ?? '';
      if (!LOAN_COMMANDS[kind]) throw unknownCommand(query);
      return ok(loanTransition(bank, params.loanId as number, kind, body));
    },
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
