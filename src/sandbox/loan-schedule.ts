import { addMonths } from './dates.js';
import type { Cents, InstallmentRecord, LoanRecord, LoanTxnRecord } from './model.js';

/**
 * Flat-interest, equal-instalment monthly schedule (Fineract amortizationType 1, interestType 1), as
 * LoanApplicationTerms computes it: the total interest is principal x rate x periods; each period's principal and
 * interest are the totals divided by the number of periods at the currency's scale, rounded half-even
 * (Money.dividedBy), and the last period takes what rounding left (10,000.00 over 6 = 5 x 1,666.67 + 1,666.65).
 */
export function buildFlatSchedule(
  principal: Cents,
  numberOfRepayments: number,
  interestRatePerPeriod: number,
  disbursedOn: string,
): InstallmentRecord[] {
  const totalInterest = Math.round((principal * interestRatePerPeriod * numberOfRepayments) / 100);
  const principalPerPeriod = divideHalfEven(principal, numberOfRepayments);
  const interestPerPeriod = divideHalfEven(totalInterest, numberOfRepayments);
  const periods: InstallmentRecord[] = [];
  for (let n = 1; n <= numberOfRepayments; n++) {
    const last = n === numberOfRepayments;
    periods.push({
      period: n,
      fromDate: addMonths(disbursedOn, n - 1),
      dueDate: addMonths(disbursedOn, n),
      principalDue: last ? principal - principalPerPeriod * (numberOfRepayments - 1) : principalPerPeriod,
      interestDue: last ? totalInterest - interestPerPeriod * (numberOfRepayments - 1) : interestPerPeriod,
      principalPaid: 0,
      interestPaid: 0,
    });
  }
  return periods;
}

/** Whole cents divided by a count, rounded half-even (BigDecimal.divide with RoundingMode.HALF_EVEN). */
function divideHalfEven(cents: Cents, by: number): Cents {
  const q = Math.floor(cents / by);
  const r = cents - q * by;
  if (r * 2 > by || (r * 2 === by && q % 2 === 1)) return q + 1;
  return q;
}

/**
 * Applies a repayment to the schedule in Fineract's "mifos-standard-strategy" order (oldest instalment
 * first; within one, interest before principal). Money beyond the schedule is kept as `overpaid` and the
 * loan becomes 700 (overpaid); a loan paid exactly in full closes (600). Returns null for amount <= 0.
 */
export function applyRepayment(loan: LoanRecord, amount: Cents, date: string, id: number, externalId?: string): LoanTxnRecord | null {
  if (amount <= 0) return null;
  let left = amount;
  let principalPortion = 0;
  let interestPortion = 0;
  for (const p of loan.schedule) {
    if (left === 0) break;
    const interest = Math.min(left, p.interestDue - p.interestPaid);
    p.interestPaid += interest;
    interestPortion += interest;
    left -= interest;
    const principal = Math.min(left, p.principalDue - p.principalPaid);
    p.principalPaid += principal;
    principalPortion += principal;
    left -= principal;
    if (!p.obligationsMetOnDate && p.interestPaid === p.interestDue && p.principalPaid === p.principalDue) {
      p.obligationsMetOnDate = date;
    }
  }
  const txn: LoanTxnRecord = {
    id,
    typeId: 2,
    date,
    amount,
    principalPortion,
    interestPortion,
    reversed: false,
    ...(externalId !== undefined ? { externalId } : {}),
  };
  loan.transactions.push(txn);
  if (left > 0) loan.overpaid = (loan.overpaid ?? 0) + left;
  if (loanOutstanding(loan).total === 0) {
    loan.statusId = (loan.overpaid ?? 0) > 0 ? 700 : 600;
    loan.closedOnDate = loan.statusId === 600 ? date : undefined;
    if (loan.closedOnDate === undefined) delete loan.closedOnDate;
  }
  return txn;
}

/** The earliest instalment not fully paid (what `transactions/template?command=repayment` proposes). */
export function nextInstallment(loan: LoanRecord): InstallmentRecord | undefined {
  return loan.schedule.find((p) => p.principalPaid + p.interestPaid < p.principalDue + p.interestDue);
}

export interface LoanTotals {
  principalDisbursed: Cents;
  principalPaid: Cents;
  principalOutstanding: Cents;
  interestCharged: Cents;
  interestPaid: Cents;
  interestOutstanding: Cents;
  total: Cents;
  totalExpected: Cents;
  totalPaid: Cents;
}

export function loanOutstanding(loan: LoanRecord): LoanTotals {
  let principalPaid = 0;
  let interestCharged = 0;
  let interestPaid = 0;
  for (const p of loan.schedule) {
    principalPaid += p.principalPaid;
    interestCharged += p.interestDue;
    interestPaid += p.interestPaid;
  }
  const principalDisbursed = loan.disbursedOnDate ? loan.principal : 0;
  const principalOutstanding = principalDisbursed - principalPaid;
  const interestOutstanding = loan.disbursedOnDate ? interestCharged - interestPaid : 0;
  return {
    principalDisbursed,
    principalPaid,
    principalOutstanding,
    interestCharged,
    interestPaid,
    interestOutstanding,
    total: principalOutstanding + interestOutstanding,
    totalExpected: principalDisbursed + interestCharged,
    totalPaid: principalPaid + interestPaid,
  };
}

/** Sum still due on instalments whose due date is before `businessDate`, and the oldest such due date. */
export function loanOverdue(loan: LoanRecord, businessDate: string): { amount: Cents; since?: string } {
  let amount = 0;
  let since: string | undefined;
  for (const p of loan.schedule) {
    if (p.dueDate >= businessDate) continue;
    const due = p.principalDue - p.principalPaid + (p.interestDue - p.interestPaid);
    if (due > 0) {
      amount += due;
      since ??= p.dueDate;
    }
  }
  return since ? { amount, since } : { amount };
}
