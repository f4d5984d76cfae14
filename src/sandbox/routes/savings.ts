import { SAVINGS_CREDIT_TYPES, displayName, type Bank } from '../bank.js';
import { isIsoDate } from '../dates.js';
import type { SavingsAccountRecord, SavingsTxnRecord } from '../model.js';
import { HttpError, intParam, ok, selectFields, type Route } from '../router.js';
import {
  currencyData,
  decimal6,
  depositType,
  localDate,
  money,
  nonEmpty,
  notFoundBody,
  paramError,
  savingsStatus,
  savingsSubStatusNone,
  savingsTxnType,
  springErrorBody,
  validationBody,
} from '../serialize.js';

/** Top-level names `fields=` accepts on a savings account (SavingsAccountsApiResource's response parameters). */
const SAVINGS_FIELDS: ReadonlySet<string> = new Set([
  'id',
  'accountNo',
  'depositType',
  'externalId',
  'clientId',
  'clientName',
  'groupId',
  'groupName',
  'savingsProductId',
  'savingsProductName',
  'fieldOfficerId',
  'fieldOfficerName',
  'status',
  'subStatus',
  'timeline',
  'currency',
  'nominalAnnualInterestRate',
  'interestCompoundingPeriodType',
  'interestPostingPeriodType',
  'interestCalculationType',
  'interestCalculationDaysInYearType',
  'minRequiredOpeningBalance',
  'lockinPeriodFrequency',
  'lockinPeriodFrequencyType',
  'withdrawalFeeForTransfers',
  'allowOverdraft',
  'overdraftLimit',
  'minRequiredBalance',
  'enforceMinRequiredBalance',
  'onHoldFunds',
  'savingsAmountOnHold',
  'withHoldTax',
  'lastActiveTransactionDate',
  'isDormancyTrackingActive',
  'summary',
  'transactions',
  'charges',
]);

/** A `fromDate`/`toDate` search parameter: `yyyy-MM-dd` unless `dateFormat` says otherwise (only that pattern here). */
function searchDate(query: URLSearchParams, name: string): string | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const format = query.get('dateFormat') ?? 'yyyy-MM-dd';
  if (format !== 'yyyy-MM-dd' || !isIsoDate(raw)) {
    // DateUtils.parseLocalDate: validation.msg.invalid.date.pattern, parameter "date".
    throw new HttpError(
      400,
      validationBody([paramError('validation.msg.invalid.date.pattern', `The parameter date (${raw}) format is invalid`, 'date', [], raw)]),
    );
  }
  return raw;
}

export function requireSavings(bank: Bank, id: number): SavingsAccountRecord {
  const a = bank.savingsAccount(id);
  if (!a) {
    throw new HttpError(
      404,
      notFoundBody('error.msg.saving.account.id.invalid', `Savings account with identifier ${id} does not exist`, id),
    );
  }
  return a;
}

const currencyOf = (bank: Bank, a: SavingsAccountRecord): Record<string, unknown> =>
  currencyData(bank.currency(bank.savingsProduct(a.productId)?.currencyCode ?? 'KES'));

/** SavingsAccountTransactionData (docs/fineract.md §4.2). */
export function savingsTxnView(bank: Bank, a: SavingsAccountRecord, t: SavingsTxnRecord): Record<string, unknown> {
  const paymentType = t.paymentTypeId ? bank.data.paymentTypes.find((p) => p.id === t.paymentTypeId) : undefined;
  return {
    id: t.id,
    transactionType: savingsTxnType(t.typeId),
    entryType: SAVINGS_CREDIT_TYPES.has(t.typeId) ? 'CREDIT' : 'DEBIT',
    accountId: a.id,
    accountNo: a.accountNo,
    date: localDate(t.date),
    submittedOnDate: localDate(t.submittedOnDate),
    currency: currencyOf(bank, a),
    paymentDetailData: paymentType
      ? { id: t.id, paymentType: { id: paymentType.id, name: paymentType.name }, receiptNumber: t.receiptNumber }
      : undefined,
    amount: money(t.amount),
    runningBalance: money(t.runningBalance),
    reversed: t.reversed,
    note: t.note,
    transfer: t.transferId !== undefined ? transferBasicView(bank, a, t.transferId) : undefined,
    interestedPostedAsOn: false,
    submittedByUsername: 'mifos',
    isManualTransaction: false,
    isReversal: false,
    // rs.getLong of NULL columns: 0, never absent (SavingsAccountTransactionsMapper).
    originalTransactionId: 0,
    lienTransaction: t.lien ?? false,
    releaseTransactionId: t.releaseId ?? 0,
    reasonForBlock: t.reasonForBlock,
  };
}

/** AccountTransferData.transferBasicDetails: the `transfer` object on each savings leg of a transfer. */
export function transferBasicView(bank: Bank, a: SavingsAccountRecord, transferId: number): Record<string, unknown> | undefined {
  const t = bank.data.transfers.find((x) => x.id === transferId);
  if (!t) return undefined;
  return {
    id: t.id,
    reversed: t.reversed,
    currency: currencyOf(bank, a),
    transferAmount: money(t.amount),
    transferDate: localDate(t.date),
    transferDescription: t.description,
  };
}

function sumOf(a: SavingsAccountRecord, typeIds: number[]): number {
  return money(a.transactions.filter((t) => !t.reversed && typeIds.includes(t.typeId)).reduce((s, t) => s + t.amount, 0));
}

/** SavingsAccountData (docs/fineract.md §4.1); `transactions` only when asked for. */
export function savingsAccountView(bank: Bank, a: SavingsAccountRecord, withTransactions: boolean): Record<string, unknown> {
  const product = bank.savingsProduct(a.productId);
  const client = bank.client(a.clientId);
  const currency = currencyOf(bank, a);
  // lastActiveTransactionDate: the newest live deposit or withdrawal (types 1, 2), else the activation date.
  const last = bank.transactionsNewestFirst(a).find((t) => !t.reversed && (t.typeId === 1 || t.typeId === 2));
  return {
    id: a.id,
    accountNo: a.accountNo,
    depositType: depositType(product?.depositTypeId ?? 100),
    clientId: a.clientId,
    clientName: client ? displayName(client) : undefined,
    savingsProductId: a.productId,
    savingsProductName: product?.name,
    fieldOfficerId: 0,
    status: savingsStatus(a.statusId),
    subStatus: savingsSubStatusNone(),
    timeline: {
      submittedOnDate: localDate(a.submittedOnDate),
      submittedByUsername: 'mifos',
      approvedOnDate: localDate(a.activatedOnDate),
      activatedOnDate: localDate(a.activatedOnDate),
      closedOnDate: localDate(a.closedOnDate),
    },
    currency,
    nominalAnnualInterestRate: product?.nominalAnnualInterestRate,
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
    onHoldFunds: a.onHoldFunds > 0 ? money(a.onHoldFunds) : undefined,
    // total_savings_amount_on_hold, DECIMAL(19,6), read with rs.getBigDecimal: NULL (absent) until the first
    // hold, then a scale-6 number, 0.000000 once every hold is released.
    savingsAmountOnHold:
      a.savingsAmountOnHold !== 0 || a.transactions.some((t) => t.typeId === 20) ? decimal6(a.savingsAmountOnHold) : undefined,
    withHoldTax: false,
    lastActiveTransactionDate: localDate(last?.date ?? a.activatedOnDate),
    isDormancyTrackingActive: false,
    summary: {
      currency,
      totalDeposits: sumOf(a, [1]),
      totalWithdrawals: sumOf(a, [2]),
      totalWithdrawalFees: sumOf(a, [4]),
      totalInterestPosted: sumOf(a, [3]),
      accountBalance: money(bank.balance(a)),
      availableBalance: money(bank.availableBalance(a)),
      totalOverdraftInterestDerived: 0,
      interestNotPosted: 0,
    },
    transactions: withTransactions ? nonEmpty(bank.transactionsNewestFirst(a).map((t) => savingsTxnView(bank, a, t))) : undefined,
  };
}

export const savingsRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/savingsaccounts/{accountId}',
    permission: 'READ_SAVINGSACCOUNT',
    handler: ({ bank, params, query }) => {
      const account = requireSavings(bank, params.accountId as number);
      const associations = (query.get('associations') ?? '').split(',').map((s) => s.trim());
      const withTransactions = associations.includes('transactions') || associations.includes('all');
      return ok(selectFields(savingsAccountView(bank, account, withTransactions), query.get('fields'), SAVINGS_FIELDS));
    },
  },
  {
    // Since 1.9.0 (SavingsAccountTransactionsApiResource.searchTransactions, SavingsAccountTransactionsSearchServiceImpl).
    // Answers a Spring Data `PageImpl` as plain Gson writes it: `{total, content, pageable}`. `offset` is a page
    // index (PageRequest.of(offset, limit)), `limit` defaults to 50; the default order is transaction_date,
    // created_date, id, all DESC; reversal rows (`is_reversal`) are left out; an unknown account is an empty page.
    method: 'GET',
    pattern: '/savingsaccounts/{accountId}/transactions/search',
    permission: 'READ_SAVINGSACCOUNT',
    handler: ({ bank, control, params, query }) => {
      if (control.version === '1.8') {
        // Added in 1.9.0: on 1.8 Jersey knows no such path (a container 404, not Fineract's error JSON).
        throw new HttpError(404, springErrorBody(404, 'Not Found', `/savingsaccounts/${params.accountId}/transactions/search`));
      }
      const account = bank.savingsAccount(params.accountId as number);
      const limit = intParam(query, 'limit', 50, 1, 1000);
      const page = intParam(query, 'offset', 0);
      const ascending = query.get('sortOrder')?.toUpperCase() === 'ASC' && query.get('orderBy') !== null;
      const from = searchDate(query, 'fromDate');
      const to = searchDate(query, 'toDate');
      const types = query.get('types')?.split(',').map(Number).filter(Number.isInteger);
      let rows = account ? bank.transactionsNewestFirst(account) : [];
      if (from) rows = rows.filter((t) => t.date >= from);
      if (to) rows = rows.filter((t) => t.date <= to);
      if (types && types.length > 0) rows = rows.filter((t) => types.includes(t.typeId));
      if (query.get('credit') === 'true' && query.get('debit') !== 'true') rows = rows.filter((t) => SAVINGS_CREDIT_TYPES.has(t.typeId));
      if (query.get('debit') === 'true' && query.get('credit') !== 'true') rows = rows.filter((t) => !SAVINGS_CREDIT_TYPES.has(t.typeId));
      if (ascending) rows = rows.reverse();
      const content = account ? rows.slice(page * limit, page * limit + limit).map((t) => savingsTxnView(bank, account, t)) : [];
      const direction = ascending ? 'ASC' : 'DESC';
      const properties = ascending ? (query.get('orderBy') as string).split(',') : ['transaction_date', 'created_date', 'id'];
      return ok({
        total: rows.length,
        content,
        pageable: {
          sort: { orders: properties.map((property) => ({ direction, property, ignoreCase: false, nullHandling: 'NATIVE' })) },
          page,
          size: limit,
        },
      });
    },
  },
  {
    method: 'GET',
    pattern: '/savingsaccounts/{accountId}/transactions/{transactionId}',
    permission: 'READ_SAVINGSACCOUNT',
    handler: ({ bank, params }) => {
      const account = requireSavings(bank, params.accountId as number);
      const txn = account.transactions.find((t) => t.id === params.transactionId);
      if (!txn) {
        const id = params.transactionId as number;
        throw new HttpError(
          404,
          notFoundBody(
            'error.msg.saving.account.transaction.id.invalid',
            `Savings account transaction with identifier ${id} does not exist`,
            id,
          ),
        );
      }
      return ok(savingsTxnView(bank, account, txn));
    },
  },
];
