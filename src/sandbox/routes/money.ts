import type { Bank } from '../bank.js';
import { JsonCommand } from '../json-command.js';
import {
  checkLoanRepayment,
  checkLoanTxnExternalIdFree,
  checkSavingsCredit,
  checkSavingsDebit,
  postRepayment,
  postSavings,
} from '../ledger.js';
import { nextInstallment } from '../loan-schedule.js';
import { HttpError, ok, type CommandName, type Route } from '../router.js';
import { currencyData, localDate, money, notFoundBody, paramError, validationBody } from '../serialize.js';
import { HOLD_COMMAND, holdAmount, isCommand } from './holds.js';
import { requireLoan } from './loans.js';
import { requireSavings } from './savings.js';

/**
 * Cash-like writes (docs/fineract.md §5.2, §8): `POST /savingsaccounts/{id}/transactions?command=deposit|withdrawal`
 * (and `holdAmount`, served by `holds.ts`)
 * and `POST /loans/{id}/transactions?command=repayment`, plus the repayment template. Transfers live in
 * `transfers.ts`.
 */

/** SavingsAccountConstant.SAVINGS_ACCOUNT_TRANSACTION_REQUEST_DATA_PARAMETERS. */
const SAVINGS_TXN_PARAMS = [
  'locale',
  'dateFormat',
  'transactionDate',
  'transactionAmount',
  'paymentTypeId',
  'accountNumber',
  'checkNumber',
  'routingCode',
  'receiptNumber',
  'bankNumber',
  'retailEntries',
  'childAccountId',
  'note',
] as const;

/** LoanTransactionValidator.validatePaymentTransaction's allowed keys. */
const REPAYMENT_PARAMS = [
  'transactionDate',
  'transactionAmount',
  'externalId',
  'note',
  'locale',
  'dateFormat',
  'paymentTypeId',
  'accountNumber',
  'checkNumber',
  'routingCode',
  'receiptNumber',
  'bankNumber',
  'loanId',
] as const;

const PAYMENT_DETAIL_PARAMS = ['accountNumber', 'checkNumber', 'routingCode', 'receiptNumber', 'bankNumber'] as const;

/** 400 for an unknown `?command=` (UnrecognizedQueryParamException). */
export function unknownCommand(query: URLSearchParams): HttpError {
  const value = query.get('command') ?? '';
  return new HttpError(
    400,
    validationBody([
      paramError(
        'error.msg.unsupported.query.parameter.value',
        `The query parameter command has an unsupported value of: ${value}`,
        'command',
        [value],
        value,
      ),
    ]),
  );
}

function requirePaymentType(bank: Bank, id: number): void {
  if (!bank.data.paymentTypes.some((p) => p.id === id)) {
    throw new HttpError(404, notFoundBody('error.msg.paymenttype.id.invalid', `Payment Type with identifier ${id} does not exist`, id));
  }
}

/** Payment-detail fields echoed in `changes`. */
function paymentChanges(cmd: JsonCommand, paymentTypeId: number | undefined): Record<string, unknown> {
  const changes: Record<string, unknown> = paymentTypeId !== undefined ? { paymentTypeId } : {};
  for (const k of PAYMENT_DETAIL_PARAMS) if (cmd.has(k)) changes[k] = cmd.raw(k);
  return changes;
}

const savingsCommand = (query: URLSearchParams): CommandName | null => {
  if (isCommand(query, 'holdAmount')) return HOLD_COMMAND;
  const c = query.get('command');
  return c === 'deposit' || c === 'withdrawal' ? { action: c.toUpperCase(), entity: 'SAVINGSACCOUNT' } : null;
};

export const moneyRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/savingsaccounts/{accountId}/transactions',
    command: savingsCommand,
    handler: (ctx) => {
      const { bank, params, query, body } = ctx;
      const kind = savingsCommand(query);
      if (!kind) throw unknownCommand(query);
      if (kind === HOLD_COMMAND) return holdAmount(ctx);
      const cmd = new JsonCommand('savingsaccount.transaction', body, SAVINGS_TXN_PARAMS);
      const date = cmd.date('transactionDate', true);
      const amount = cmd.amount('transactionAmount', true);
      const paymentTypeId = cmd.positiveInt('paymentTypeId', true); // mandatory since 1.8.0
      for (const k of PAYMENT_DETAIL_PARAMS) cmd.text(k, false, 50);
      const note = cmd.text('note', false, 1000);
      cmd.throwIfErrors();
      const account = requireSavings(bank, params.accountId as number);
      requirePaymentType(bank, paymentTypeId as number);
      const rawDate = String(cmd.raw('transactionDate'));
      const deposit = kind.action === 'DEPOSIT';
      if (deposit) checkSavingsCredit(bank, account, date as string, rawDate);
      else checkSavingsDebit(bank, account, date as string, rawDate, amount as number);
      const receipt = cmd.text('receiptNumber', false, 50);
      const txn = postSavings(bank, account, deposit ? 1 : 2, date as string, amount as number, {
        paymentTypeId,
        ...(receipt !== undefined ? { receiptNumber: receipt } : {}),
        ...(note !== undefined ? { note } : {}),
      });
      const client = bank.client(account.clientId);
      return ok({
        officeId: client?.officeId,
        clientId: account.clientId,
        savingsId: account.id,
        resourceId: txn.id,
        changes: paymentChanges(cmd, paymentTypeId),
      });
    },
  },
  {
    method: 'POST',
    pattern: '/loans/{loanId}/transactions',
    command: (query) => (query.get('command') === 'repayment' ? { action: 'REPAYMENT', entity: 'LOAN' } : null),
    handler: ({ bank, params, query, body }) => {
      if (query.get('command') !== 'repayment') throw unknownCommand(query);
      const cmd = new JsonCommand('loan.transaction', body, REPAYMENT_PARAMS);
      const date = cmd.date('transactionDate', true);
      const amount = cmd.amount('transactionAmount', true);
      const paymentTypeId = cmd.positiveInt('paymentTypeId', false); // optional for loans
      const externalId = cmd.text('externalId', false, 100);
      const note = cmd.text('note', false, 1000);
      for (const k of PAYMENT_DETAIL_PARAMS) cmd.text(k, false, 50);
      cmd.throwIfErrors();
      const loan = requireLoan(bank, params.loanId as number);
      if (paymentTypeId !== undefined) requirePaymentType(bank, paymentTypeId);
      checkLoanTxnExternalIdFree(bank, externalId);
      checkLoanRepayment(bank, loan, date as string, String(cmd.raw('transactionDate')));
      const txn = postRepayment(bank, loan, date as string, amount as number, externalId);
      const changes: Record<string, unknown> = {
        transactionDate: cmd.raw('transactionDate'),
        transactionAmount: String(cmd.raw('transactionAmount')),
        locale: cmd.raw('locale'),
        dateFormat: cmd.raw('dateFormat'),
        ...paymentChanges(cmd, paymentTypeId),
        ...(note !== undefined ? { note } : {}),
        ...(externalId !== undefined ? { externalId } : {}),
      };
      return ok({
        officeId: bank.client(loan.clientId)?.officeId,
        clientId: loan.clientId,
        loanId: loan.id,
        resourceId: txn.id,
        resourceExternalId: externalId,
        changes,
      });
    },
  },
  {
    // LoanTransactionData of the earliest unpaid instalment (docs/fineract.md §5.1, "cheaper alternative").
    method: 'GET',
    pattern: '/loans/{loanId}/transactions/template',
    permission: 'READ_LOAN',
    handler: ({ bank, params, query }) => {
      if (query.get('command') !== 'repayment') throw unknownCommand(query);
      const loan = requireLoan(bank, params.loanId as number);
      const next = nextInstallment(loan);
      const lastRepayment = loan.transactions.filter((t) => t.typeId === 2 && !t.reversed).at(-1);
      let date = next?.dueDate ?? lastRepayment?.date ?? bank.businessDate;
      if (lastRepayment && lastRepayment.date > date) date = lastRepayment.date;
      const principal = next ? next.principalDue - next.principalPaid : 0;
      const interest = next ? next.interestDue - next.interestPaid : 0;
      const currency = currencyData(bank.currency(bank.loanProduct(loan.productId)?.currencyCode ?? 'KES'));
      return ok({
        type: {
          id: 2,
          code: 'loanTransactionType.repayment',
          value: 'Repayment',
          disbursement: false,
          repaymentAtDisbursement: false,
          repayment: true,
          merchantIssuedRefund: false,
          payoutRefund: false,
          goodwillCredit: false,
          chargeRefund: false,
          contra: false,
          waiveInterest: false,
          waiveCharges: false,
          accrual: false,
          writeOff: false,
          recoveryRepayment: false,
          initiateTransfer: false,
          approveTransfer: false,
          withdrawTransfer: false,
          rejectTransfer: false,
          chargePayment: false,
          refund: false,
          refundForActiveLoans: false,
          creditBalanceRefund: false,
          chargeAdjustment: false,
          chargeoff: false,
        },
        date: localDate(date),
        currency,
        amount: money(principal + interest),
        netDisbursalAmount: money(loan.principal),
        principalPortion: money(principal),
        interestPortion: money(interest),
        feeChargesPortion: 0,
        penaltyChargesPortion: 0,
        manuallyReversed: false,
        paymentTypeOptions: bank.data.paymentTypes,
      });
    },
  },
];
