import { z } from 'zod';
import type { LoanAccount, LoanRepaymentInfo } from './types.js';
import { amount, currency, localDate, status } from './wire-common.js';

/** Loan accounts on the wire: the account and its repayment schedule, mapped to Kiunga's types (docs/fineract.md §5). */

export const LoanAccountData = z.object({
  id: z.number(),
  accountNo: z.string(),
  clientId: z.number().optional(),
  loanProductId: z.number(),
  loanProductName: z.string(),
  status,
  currency,
  summary: z.object({ totalOutstanding: amount.optional(), principalOutstanding: amount.optional() }).optional(),
});
export type LoanAccountData = z.infer<typeof LoanAccountData>;

const schedulePeriod = z.object({
  period: z.number().optional(),
  dueDate: localDate,
  complete: z.boolean().optional(),
  totalDueForPeriod: amount.optional(),
  totalPaidForPeriod: amount.optional(),
  totalOutstandingForPeriod: amount.optional(),
});

/** `GET /loans/{id}?associations=repaymentSchedule`. */
export const LoanWithSchedule = LoanAccountData.extend({
  summary: z
    .object({ totalOutstanding: amount.optional(), principalOutstanding: amount.optional(), totalOverdue: amount.optional() })
    .optional(),
  repaymentSchedule: z.object({ periods: z.array(schedulePeriod).optional() }).optional(),
});
export type LoanWithSchedule = z.infer<typeof LoanWithSchedule>;

export function toLoanAccount(l: LoanAccountData, clientId: number): LoanAccount {
  const totalOutstanding = l.summary?.totalOutstanding ?? 0;
  return {
    id: l.id,
    accountNo: l.accountNo,
    productId: l.loanProductId,
    productName: l.loanProductName,
    currency: l.currency.code,
    statusId: l.status.id,
    loanBalance: totalOutstanding,
    clientId,
    totalOutstanding,
    principalOutstanding: l.summary?.principalOutstanding ?? 0,
  };
}

/**
 * Next instalment from the schedule (docs/fineract.md §5.1): the first period that has a period number (the
 * disbursement row has none, or 0 in old docs) and is not complete; the amount is what is still owed on it.
 */
export function toLoanRepaymentInfo(l: LoanWithSchedule): LoanRepaymentInfo {
  const next = (l.repaymentSchedule?.periods ?? []).find((p) => (p.period ?? 0) > 0 && p.complete !== true);
  const owed = next ? (next.totalOutstandingForPeriod ?? Math.max(0, (next.totalDueForPeriod ?? 0) - (next.totalPaidForPeriod ?? 0))) : 0;
  return {
    loanId: l.id,
    currency: l.currency.code,
    totalOutstanding: l.summary?.totalOutstanding ?? 0,
    totalOverdue: l.summary?.totalOverdue ?? 0,
    ...(next && owed > 0 ? { nextInstalment: { dueDate: next.dueDate, amount: owed } } : {}),
  };
}
