import { SAVINGS_CREDIT_TYPES, SAVINGS_HOLD_TYPES, type Bank } from './bank.js';
import { applyRepayment } from './loan-schedule.js';
import type { Cents, LoanRecord, LoanTxnRecord, SavingsAccountRecord, SavingsTxnRecord, SavingsTxnTypeId } from './model.js';
import { HttpError } from './router.js';
import { domainRuleBody, money, paramError, validationBody } from './serialize.js';

/**
 * The money rules of the sandbox, split into checks that throw Fineract's errors and postings that mutate.
 * Every write checks all of its legs before it posts any of them, so a refused write changes nothing; the
 * command runner (`commands.ts`) also rolls the whole bank back if anything throws half-way.
 *
 * Order of checks follows Fineract's SavingsAccount.withdraw/deposit and Loan repayment: account active, date
 * not in the future, not before activation/disbursement, then balance.
 */

const dateError = (code: string, message: string, rawDate: string): HttpError =>
  new HttpError(400, validationBody([paramError(code, message, 'transactionDate', [], rawDate)]));

/** Deposit rules (also the credit leg of a transfer). */
export function checkSavingsCredit(bank: Bank, account: SavingsAccountRecord, date: string, rawDate: string): void {
  if (account.statusId !== 300) {
    throw dateError(
      'error.msg.savingsaccount.transaction.account.is.not.active',
      'Transaction is not allowed. Account is not active.',
      rawDate,
    );
  }
  if (date > bank.businessDate) {
    throw dateError('error.msg.savingsaccount.transaction.in.the.future', 'Transaction date cannot be in the future.', rawDate);
  }
  if (account.activatedOnDate && date < account.activatedOnDate) {
    throw dateError(
      'error.msg.savingsaccount.transaction.before.activation.date',
      'Transaction date cannot be before accounts activation date.',
      rawDate,
    );
  }
}

/**
 * Withdrawal rules (also the debit leg of a transfer): the credit rules, then no running balance from the
 * value date on may go negative and the final balance must cover the holds; otherwise 403 insufficient funds
 * with the exact body of docs/fineract.md §9.1. The running balance counts deposits and withdrawals only
 * (`isCredit()`/`isDebit()` leave holds and releases out); the holds are subtracted once, at the end
 * (SavingsAccount.validateAccountBalanceDoesNotBecomeNegative: `runningBalance.minus(getSavingsHoldAmount())`).
 */
export function checkSavingsDebit(bank: Bank, account: SavingsAccountRecord, date: string, rawDate: string, amount: Cents): void {
  checkSavingsCredit(bank, account, date, rawDate);
  const rows = account.transactions
    .filter((t) => !t.reversed && !SAVINGS_HOLD_TYPES.has(t.typeId))
    .map((t) => ({ date: t.date, id: t.id, delta: signedAmount(t) }))
    .concat({ date, id: Number.MAX_SAFE_INTEGER, delta: -amount })
    .sort((a, b) => (a.date === b.date ? a.id - b.id : a.date < b.date ? -1 : 1));
  let running = 0;
  let lowest = Infinity;
  let seen = false;
  for (const r of rows) {
    running += r.delta;
    if (r.id === Number.MAX_SAFE_INTEGER) seen = true;
    if (seen) lowest = Math.min(lowest, running);
  }
  const holds = account.onHoldFunds + account.savingsAmountOnHold;
  if (lowest < 0 || running - holds < 0) {
    throw new HttpError(
      403,
      domainRuleBody('error.msg.savingsaccount.transaction.insufficient.account.balance', 'Insufficient account balance.', [
        'transactionAmount',
        money(bank.balance(account)),
        null,
        money(amount),
      ]),
    );
  }
}

/** Repayment rules (also the credit leg of a savings→loan transfer). */
export function checkLoanRepayment(bank: Bank, loan: LoanRecord, date: string, rawDate: string): void {
  if (loan.statusId !== 300) {
    throw new HttpError(
      400,
      validationBody([
        paramError(
          'error.msg.loan.repayment.or.waiver.account.is.not.active',
          'Loan Repayment (or its types) or Waiver is not allowed. Loan Account is not active.',
          'id',
        ),
      ]),
    );
  }
  if (date > bank.businessDate) {
    // InvalidLoanStateTransitionException is a domain rule: 403, not 400.
    throw new HttpError(
      403,
      domainRuleBody('error.msg.loan.transaction.cannot.be.a.future.date', 'The transaction date cannot be in the future.', [rawDate]),
    );
  }
  if (loan.disbursedOnDate && date < loan.disbursedOnDate) {
    throw new HttpError(
      403,
      domainRuleBody(
        'error.msg.loan.transaction.cannot.be.before.disbursement.date',
        'The transaction date cannot be before the loan disbursement date.',
        [rawDate],
      ),
    );
  }
}

/** 400 `validation.msg.loan.transaction.externalId.value.must.be.unique` (m_loan_transaction.external_id is UNIQUE). */
export function checkLoanTxnExternalIdFree(bank: Bank, externalId: string | undefined): void {
  if (externalId === undefined) return;
  if (bank.data.loans.some((l) => l.transactions.some((t) => t.externalId === externalId))) {
    throw new HttpError(
      400,
      validationBody([
        paramError(
          'validation.msg.loan.transaction.externalId.value.must.be.unique',
          `Loan transaction with externalId ${externalId} already exists.`,
          'externalId',
          [],
          externalId,
        ),
      ]),
    );
  }
}

export interface SavingsPostingExtras {
  paymentTypeId?: number;
  receiptNumber?: string;
  note?: string;
  transferId?: number;
  reasonForBlock?: string;
  lien?: boolean;
}

/** Appends a savings transaction and recomputes running balances. Check first. */
export function postSavings(
  bank: Bank,
  account: SavingsAccountRecord,
  typeId: SavingsTxnTypeId,
  date: string,
  amount: Cents,
  extras: SavingsPostingExtras = {},
): SavingsTxnRecord {
  const txn: SavingsTxnRecord = {
    id: nextSavingsTxnId(bank),
    typeId,
    date,
    submittedOnDate: bank.businessDate,
    amount,
    reversed: false,
    runningBalance: 0,
    ...Object.fromEntries(Object.entries(extras).filter(([, v]) => v !== undefined)),
  };
  bank.revision += 1;
  account.transactions.push(txn);
  bank.recomputeRunningBalances(account);
  return txn;
}

/** Posts a repayment on the schedule (overpayment allowed, as in Fineract). Check first. */
export function postRepayment(bank: Bank, loan: LoanRecord, date: string, amount: Cents, externalId?: string): LoanTxnRecord {
  bank.revision += 1;
  const txn = applyRepayment(loan, amount, date, nextLoanTxnId(bank), externalId);
  if (!txn) throw new Error('repayment amount must be positive');
  return txn;
}

const signedAmount = (t: SavingsTxnRecord): Cents => (SAVINGS_CREDIT_TYPES.has(t.typeId) ? t.amount : -t.amount);

const nextSavingsTxnId = (bank: Bank): number =>
  1 + bank.data.savingsAccounts.reduce((max, a) => a.transactions.reduce((m, t) => Math.max(m, t.id), max), 0);

const nextLoanTxnId = (bank: Bank): number =>
  1 + bank.data.loans.reduce((max, l) => l.transactions.reduce((m, t) => Math.max(m, t.id), max), 0);

/** Next m_account_transfer_transaction id (the legs' `transfer.id`). */
export const nextTransferId = (bank: Bank): number => 1 + bank.data.transfers.reduce((m, t) => Math.max(m, t.id), 0);

/** Next m_account_transfer_details id (the POST's `resourceId`); its own sequence. */
export function nextTransferDetailId(bank: Bank): number {
  bank.data.lastTransferDetailId = Math.max(bank.data.lastTransferDetailId ?? 0, ...bank.data.transfers.map((t) => t.detailId)) + 1;
  return bank.data.lastTransferDetailId;
}
