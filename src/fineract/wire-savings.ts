import { z } from 'zod';
import type { SavingsAccount, SavingsTransaction } from './types.js';
import { amount, currency, enumData, isActive, localDate, status } from './wire-common.js';

/**
 * Savings accounts on the wire: the account and its transactions (mapped to Kiunga's types), holds, and the
 * transfers between accounts with the transaction legs reconciliation reads (docs/fineract.md §4, §6).
 */

const savingsTransaction = z.object({
  id: z.number(),
  transactionType: enumData,
  entryType: z.string().optional(),
  date: localDate,
  amount,
  runningBalance: amount.optional(),
  reversed: z.boolean().optional(),
  isReversal: z.boolean().optional(),
});
type WireSavingsTransaction = z.infer<typeof savingsTransaction>;

export const SavingsAccountData = z.object({
  id: z.number(),
  accountNo: z.string(),
  clientId: z.number().optional(),
  savingsProductId: z.number(),
  savingsProductName: z.string(),
  status,
  currency,
  summary: z.object({ accountBalance: amount.optional(), availableBalance: amount.optional() }).optional(),
  /** Guarantor holds (`on_hold_funds_derived`); absent when none. */
  onHoldFunds: amount.nullish(),
  /** `holdAmount` holds not yet released (`total_savings_amount_on_hold`); absent before the first hold. */
  savingsAmountOnHold: amount.nullish(),
  transactions: z.array(savingsTransaction).optional(),
});
export type SavingsAccountData = z.infer<typeof SavingsAccountData>;

/** AMOUNT_HOLD, the savings transaction type of a hold (SavingsAccountTransactionType.java). */
export const AMOUNT_HOLD = 20;

/**
 * `GET /savingsaccounts/{id}/transactions/{transactionId}`: what `releaseAmount` checks before it sends. Gson writes
 * `releaseTransactionId` as 0 until the hold is released (the mapper reads the NULL column with `rs.getLong`).
 */
export const HoldTransaction = z.object({
  id: z.number(),
  transactionType: enumData,
  amount,
  reversed: z.boolean().optional(),
  releaseTransactionId: z.number().nullish(),
  /** Set on a hold until it is released (Fineract clears it then). */
  reasonForBlock: z.string().nullish(),
});

/** `GET /savingsaccounts/{id}?associations=transactions` read for its holds (`findHold`). */
export const HoldList = z.object({ transactions: z.array(HoldTransaction).optional() });

/** `CommandProcessingResult` of `POST /accounttransfers`; maker-checker answers `{commandId, rollbackTransaction}`. */
export const CommandResult = z.object({
  resourceId: z.number().optional(),
  savingsId: z.number().optional(),
  loanId: z.number().optional(),
  commandId: z.number().optional(),
  rollbackTransaction: z.boolean().optional(),
});
export type CommandResult = z.infer<typeof CommandResult>;

/** A savings transaction as far as reconciliation needs it: its `transfer` (AccountTransferData basic details). */
const transferLeg = z.object({
  id: z.number(),
  date: localDate.optional(),
  entryType: z.string().optional(),
  transactionType: enumData.optional(),
  reversed: z.boolean().optional(),
  transfer: z.object({ id: z.number(), transferDescription: z.string().optional(), reversed: z.boolean().optional() }).optional(),
});
export type TransferLeg = z.infer<typeof transferLeg>;

/**
 * `GET /savingsaccounts/{id}/transactions/search` (1.9+), newest first. Fineract serialises a Spring Data
 * `PageImpl` with plain Gson: `{"total": n, "content": [...], "pageable": {"sort": ..., "page": i, "size": s}}`.
 * Fineract's own paged shape `{totalFilteredRecords, pageItems}` is accepted too (a tolerance for proxies and
 * older stand-ins). Either way the result is `{ total, items }`.
 */
export const SavingsTransactionPage = z
  .union([
    z.object({ total: z.number().optional(), content: z.array(transferLeg) }),
    z.object({ totalFilteredRecords: z.number().optional(), pageItems: z.array(transferLeg) }),
  ])
  .transform((p) => ('content' in p ? { total: p.total, items: p.content } : { total: p.totalFilteredRecords, items: p.pageItems }));

/** `GET /savingsaccounts/{id}?associations=transactions` (every version): newest first, all of them. */
export const SavingsTransactionList = z.object({ transactions: z.array(transferLeg).optional() });

/** Transaction types that add money when `entryType` is absent (Fineract < 1.9). */
const CREDIT_TYPE_IDS: ReadonlySet<number> = new Set([1, 3, 8, 21]);
/**
 * Rows that never change the ledger balance, left out of statements: accruals (10), and holds (20) and releases
 * (21), which the available balance shows instead.
 */
const HIDDEN_TYPE_IDS: ReadonlySet<number> = new Set([10, AMOUNT_HOLD, 21]);

/** `Deposit` -> `deposit`, `Interest posting` -> `interest posting`; the code's last part when no value. */
function typeName(t: WireSavingsTransaction['transactionType']): string {
  const raw = t.value ?? t.code?.split('.').pop() ?? 'unknown';
  return raw.trim().replace(/\s+/g, ' ').toLowerCase();
}

export function toSavingsTransactions(rows: WireSavingsTransaction[]): SavingsTransaction[] {
  return rows
    .filter((t) => t.reversed !== true && t.isReversal !== true && !HIDDEN_TYPE_IDS.has(t.transactionType.id))
    .map((t) => ({
      id: t.id,
      date: t.date,
      type: typeName(t.transactionType),
      credit: t.entryType ? t.entryType.toUpperCase() === 'CREDIT' : CREDIT_TYPE_IDS.has(t.transactionType.id),
      amount: t.amount,
      ...(t.runningBalance !== undefined ? { runningBalance: t.runningBalance } : {}),
    }))
    .sort((a, b) => (a.date === b.date ? b.id - a.id : a.date < b.date ? 1 : -1));
}

export function toSavingsAccount(a: SavingsAccountData, clientId: number, withTransactions: boolean): SavingsAccount {
  const accountBalance = a.summary?.accountBalance ?? 0;
  return {
    id: a.id,
    accountNo: a.accountNo,
    productId: a.savingsProductId,
    productName: a.savingsProductName,
    currency: a.currency.code,
    clientId,
    active: isActive(a.status),
    decimalPlaces: a.currency.decimalPlaces ?? 2,
    accountBalance,
    availableBalance: a.summary?.availableBalance ?? accountBalance,
    amountOnHold: (a.savingsAmountOnHold ?? 0) + (a.onHoldFunds ?? 0),
    ...(withTransactions ? { transactions: toSavingsTransactions(a.transactions ?? []) } : {}),
  };
}
