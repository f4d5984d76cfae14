import { FineractRejected } from './errors.js';

/**
 * The codes of Fineract's refusals (and Kiunga's own, for what it refuses before sending) that callers branch on:
 * each a `FineractRejected`'s `code`.
 */

/** errors[0] code of a 403 insufficient-funds answer (`...balance.withdraw` when a withdrawal fee applies). */
export const INSUFFICIENT_FUNDS = 'error.msg.savingsaccount.transaction.insufficient.account.balance';
/** FineractRejected code when maker-checker holds a write for approval (HTTP 200, `rollbackTransaction: true`). */
export const MAKER_CHECKER_PENDING = 'kiunga.maker.checker.pending';
/** FineractRejected code of a write sent to a read-only Fineract instance (HTTP 405). */
export const INVALID_INSTANCE_TYPE = 'error.msg.invalid.instance.type';
/** 403 data-integrity codes of a second create with the same external id (docs/fineract.md §5.3). */
export const CLIENT_DUPLICATE_EXTERNAL_ID = 'error.msg.client.duplicate.externalId';
export const LOAN_DUPLICATE_EXTERNAL_ID = 'error.msg.loan.duplicate.externalId';
/** 403 code of a new client whose mobileNo, as a string, another client has (m_client.mobile_no is unique). */
export const CLIENT_DUPLICATE_MOBILE_NO = 'error.msg.client.duplicate.mobileNo';
/** 403 code of a loan submitted for a client that is not active. */
export const CLIENT_NOT_ACTIVE = 'error.msg.client.not.active.exception';

/**
 * 400 `errors[0]` code of a hold larger than the withdrawable balance
 * (SavingsAccountTransactionDataValidator.validateHoldAndAssembleForm, docs/fineract.md §4.4).
 */
export const HOLD_INSUFFICIENT_BALANCE = 'validation.msg.savingsaccount.insufficient.balance';
/** 400 code of a release of a hold that was released before (validateReleaseAmountAndAssembleForm). */
export const HOLD_NOT_ON_HOLD = 'validation.msg.savingsaccount.amount.validation.msg.amount.is.not.on.hold';
/** Kiunga's code for a release of a transaction that is not a live hold of the account (nothing is sent). */
export const NOT_A_HOLD = 'kiunga.hold.not.a.hold';

/**
 * True for Fineract's insufficient-funds refusals: a withdrawal or transfer (403 `validation.msg.domain.rule.violation`)
 * or a hold beyond the withdrawable balance (400).
 */
// A plain boolean, not a type predicate: its false branch must not narrow a FineractRejected away.
export function isInsufficientFunds(err: unknown): boolean {
  return (
    err instanceof FineractRejected &&
    (err.code === INSUFFICIENT_FUNDS || err.code === `${INSUFFICIENT_FUNDS}.withdraw` || err.code === HOLD_INSUFFICIENT_BALANCE)
  );
}
