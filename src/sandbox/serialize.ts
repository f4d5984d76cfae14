import { toLocalDateArray } from './dates.js';
import type { Cents, CurrencyRecord } from './model.js';

/**
 * Fineract's wire conventions, in one place (docs/fineract.md §9):
 * Gson omits null keys, LocalDate is `[y, m, d]`, amounts are JSON numbers (BigDecimal, sometimes with
 * trailing zeros), enums are `{id, code, value}` plus status booleans, error bodies carry `httpStatusCode` as
 * a string, and container errors (tenant, authentication) are Spring's own body, not Fineract's.
 */

/** A JSON fragment written verbatim, used for BigDecimal amounts such as `10000.000000`. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** Serialises like Gson with default settings: null and undefined object members are omitted. */
export function stringify(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map((v) => stringify(v)).join(',')}]`;
  if (typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v === null || v === undefined) continue;
      parts.push(`${JSON.stringify(k)}:${stringify(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
  return JSON.stringify(value);
}

/** Money as a plain JSON number (`12500`, `1828.03`). */
export const money = (amount: Cents): number => amount / 100;

/** Money as a scale-6 BigDecimal (`10000.000000`), the way DECIMAL(19,6) columns come out. */
export const decimal6 = (amount: Cents): RawJson => new RawJson((amount / 100).toFixed(6));

export const localDate = (iso: string | undefined): [number, number, number] | undefined =>
  iso === undefined ? undefined : toLocalDateArray(iso);

/** Fineract turns many empty collections into null, so the key disappears. */
export const nonEmpty = <T>(items: T[]): T[] | undefined => (items.length > 0 ? items : undefined);

// ---- enum objects --------------------------------------------------------------------------------------

export function currencyData(c: CurrencyRecord): Record<string, unknown> {
  return {
    code: c.code,
    name: c.name,
    decimalPlaces: c.decimalPlaces,
    inMultiplesOf: c.inMultiplesOf,
    displaySymbol: c.displaySymbol,
    nameCode: `currency.${c.code}`,
    displayLabel: `${c.name} (${c.displaySymbol})`,
  };
}

const CLIENT_STATUS: Record<number, [string, string]> = {
  100: ['clientStatusType.pending', 'Pending'],
  300: ['clientStatusType.active', 'Active'],
  600: ['clientStatusType.closed', 'Closed'],
  700: ['clientStatusType.rejected', 'Rejected'],
  800: ['clientStatusType.withdraw', 'Withdrawn'],
};

export function clientStatus(id: number): Record<string, unknown> {
  const [code, value] = CLIENT_STATUS[id] ?? ['clientStatusType.invalid', 'Invalid'];
  return { id, code, value };
}

const SAVINGS_STATUS: Record<number, [string, string]> = {
  100: ['savingsAccountStatusType.submitted.and.pending.approval', 'Submitted and pending approval'],
  200: ['savingsAccountStatusType.approved', 'Approved'],
  300: ['savingsAccountStatusType.active', 'Active'],
  400: ['savingsAccountStatusType.withdrawn.by.applicant', 'Withdrawn by applicant'],
  500: ['savingsAccountStatusType.rejected', 'Rejected'],
  600: ['savingsAccountStatusType.closed', 'Closed'],
  700: ['savingsAccountStatusType.pre.mature.closure', 'Premature Closed'],
  800: ['savingsAccountStatusType.matured', 'Matured'],
};

export function savingsStatus(id: number): Record<string, unknown> {
  const [code, value] = SAVINGS_STATUS[id] ?? ['savingsAccountStatusType.invalid', 'Invalid'];
  return {
    id,
    code,
    value,
    submittedAndPendingApproval: id === 100,
    approved: id === 200,
    rejected: id === 500,
    withdrawnByApplicant: id === 400,
    active: id === 300,
    closed: id === 600,
    prematureClosed: id === 700,
    transferInProgress: id === 303,
    transferOnHold: id === 304,
    matured: id === 800,
  };
}

export const savingsSubStatusNone = (): Record<string, unknown> => ({
  id: 0,
  code: 'SavingsAccountSubStatusEnum.none',
  value: 'None',
  none: true,
  inactive: false,
  dormant: false,
  escheat: false,
  block: false,
  blockCredit: false,
  blockDebit: false,
});

const DEPOSIT_TYPES: Record<number, [string, string]> = {
  100: ['depositAccountType.savingsDeposit', 'Savings'],
  200: ['depositAccountType.fixedDeposit', 'Fixed Deposit'],
  300: ['depositAccountType.recurringDeposit', 'Recurring Deposit'],
  400: ['depositAccountType.currentDeposit', 'Current Deposit'],
};

export function depositType(id: number): Record<string, unknown> {
  const [code, value] = DEPOSIT_TYPES[id] ?? ['depositAccountType.invalid', 'Invalid'];
  return { id, code, value };
}

export const accountTypeIndividual = (): Record<string, unknown> => ({
  id: 1,
  code: 'accountType.individual',
  value: 'Individual',
});

const LOAN_STATUS: Record<number, [string, string]> = {
  100: ['loanStatusType.submitted.and.pending.approval', 'Submitted and pending approval'],
  200: ['loanStatusType.approved', 'Approved'],
  300: ['loanStatusType.active', 'Active'],
  400: ['loanStatusType.withdrawn.by.client', 'Withdrawn by applicant'],
  500: ['loanStatusType.rejected', 'Rejected'],
  600: ['loanStatusType.closed.obligations.met', 'Closed (obligations met)'],
  601: ['loanStatusType.closed.written.off', 'Closed (written off)'],
  602: ['loanStatusType.closed.reschedule.outstanding.amount', 'Closed (rescheduled)'],
  700: ['loanStatusType.overpaid', 'Overpaid'],
};

export function loanStatus(id: number): Record<string, unknown> {
  const [code, value] = LOAN_STATUS[id] ?? ['loanStatusType.invalid', 'Invalid'];
  return {
    id,
    code,
    value,
    pendingApproval: id === 100,
    waitingForDisbursal: id === 200,
    active: id === 300,
    closedObligationsMet: id === 600,
    closedWrittenOff: id === 601,
    closedRescheduled: id === 602,
    closed: id >= 600 && id < 700,
    overpaid: id === 700,
  };
}

const SAVINGS_TXN_TYPES: Record<number, [string, string]> = {
  1: ['deposit', 'Deposit'],
  2: ['withdrawal', 'Withdrawal'],
  3: ['interestPosting', 'Interest posting'],
  4: ['withdrawalFee', 'Withdrawal fee'],
  5: ['annualFee', 'Annual fee'],
  7: ['payCharge', 'Pay Charge'],
  20: ['onHold', 'Amount on hold'],
  21: ['release', 'Release Amount'],
};

/** SavingsAccountTransactionEnumData: id, code, value and one boolean per kind. */
export function savingsTxnType(id: number): Record<string, unknown> {
  const [name, value] = SAVINGS_TXN_TYPES[id] ?? ['invalid', 'Invalid'];
  return {
    id,
    code: `savingsAccountTransactionType.${name}`,
    value,
    deposit: id === 1,
    dividendPayout: id === 8,
    withdrawal: id === 2,
    interestPosting: id === 3,
    feeDeduction: id === 4 || id === 5 || id === 7,
    initiateTransfer: id === 12,
    approveTransfer: id === 13,
    withdrawTransfer: id === 14,
    rejectTransfer: id === 15,
    overdraftInterest: id === 17,
    writtenoff: id === 16,
    overdraftFee: false,
    withholdTax: id === 18,
    escheat: id === 19,
    amountHold: id === 20,
    amountRelease: id === 21,
    accrual: id === 10,
  };
}

// ---- error bodies ---------------------------------------------------------------------------------------

export interface ParamError {
  developerMessage: string;
  defaultUserMessage: string;
  userMessageGlobalisationCode: string;
  parameterName?: string;
  value?: unknown;
  args?: { value: unknown }[];
}

/** ApiGlobalErrorResponse: note `httpStatusCode` is a string. */
export function fineractError(status: number, code: string, message: string, errors: ParamError[] = []): Record<string, unknown> {
  return {
    developerMessage: message,
    httpStatusCode: String(status),
    defaultUserMessage: message,
    userMessageGlobalisationCode: code,
    errors: nonEmpty(errors),
  };
}

export function paramError(code: string, message: string, parameterName = 'id', args: unknown[] = [], value?: unknown): ParamError {
  return {
    developerMessage: message,
    defaultUserMessage: message,
    userMessageGlobalisationCode: code,
    parameterName,
    value,
    args: nonEmpty(args.map((v) => ({ value: v }))),
  };
}

/** 404 from AbstractPlatformResourceNotFoundException, e.g. `error.msg.client.id.invalid`. */
export function notFoundBody(specificCode: string, message: string, id: number | string): Record<string, unknown> {
  return fineractError(404, 'error.msg.resource.not.found', 'The requested resource is not available.', [
    paramError(specificCode, message, 'id', [id]),
  ]);
}

/** 403 from AbstractPlatformDomainRuleException (docs/fineract.md §9.1), e.g. insufficient funds. */
export function domainRuleBody(code: string, message: string, args: unknown[] = []): Record<string, unknown> {
  return {
    developerMessage: 'Request was understood but caused a domain rule violation.',
    httpStatusCode: '403',
    defaultUserMessage: 'Errors contain reason for domain rule violation.',
    userMessageGlobalisationCode: 'validation.msg.domain.rule.violation',
    errors: [paramError(code, message, 'id', args)],
  };
}

/** 400 from PlatformApiDataValidationException. */
export function validationBody(errors: ParamError[]): Record<string, unknown> {
  return fineractError(400, 'validation.msg.validation.errors.exist', 'Validation errors exist.', errors);
}

/** Spring Boot's default error body, used for container-level rejections (tenant, credentials, routing). */
export function springErrorBody(status: number, error: string, path: string): Record<string, unknown> {
  return { timestamp: new Date().toISOString(), status, error, path };
}
