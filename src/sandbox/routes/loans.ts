import { displayName, type Bank } from '../bank.js';
import { addMonths, daysBetween } from '../dates.js';
import { loanOutstanding, loanOverdue } from '../loan-schedule.js';
import type { LoanRecord } from '../model.js';
import { HttpError, ok, type Route } from '../router.js';
import { accountTypeIndividual, currencyData, decimal6, loanStatus, localDate, money, notFoundBody } from '../serialize.js';

export function requireLoan(bank: Bank, id: number): LoanRecord {
  const l = bank.loan(id);
  if (!l) throw new HttpError(404, notFoundBody('error.msg.loan.id.invalid', `Loan with identifier ${id} does not exist`, id));
  return l;
}

const MONTHS = { id: 2, value: 'Months' } as const;

/** LoanSummaryData (docs/fineract.md §5.1); zero charge and write-off counters included, as Fineract does. */
function summaryView(bank: Bank, l: LoanRecord, currency: Record<string, unknown>): Record<string, unknown> {
  const t = loanOutstanding(l);
  const overdue = loanOverdue(l, bank.businessDate);
  let principalOverdue = 0;
  for (const p of l.schedule) if (p.dueDate < bank.businessDate) principalOverdue += p.principalDue - p.principalPaid;
  return {
    currency,
    principalDisbursed: money(t.principalDisbursed),
    principalPaid: money(t.principalPaid),
    principalWrittenOff: 0,
    principalOutstanding: money(t.principalOutstanding),
    principalOverdue: money(principalOverdue),
    interestCharged: money(t.interestCharged),
    interestPaid: money(t.interestPaid),
    interestWaived: 0,
    interestWrittenOff: 0,
    interestOutstanding: money(t.interestOutstanding),
    interestOverdue: money(overdue.amount - principalOverdue),
    feeChargesCharged: 0,
    feeChargesPaid: 0,
    feeChargesOutstanding: 0,
    feeChargesOverdue: 0,
    penaltyChargesCharged: 0,
    penaltyChargesPaid: 0,
    penaltyChargesOutstanding: 0,
    penaltyChargesOverdue: 0,
    totalExpectedRepayment: money(t.totalExpected),
    totalRepayment: money(t.totalPaid),
    totalExpectedCostOfLoan: money(t.interestCharged),
    totalCostOfLoan: money(t.interestPaid),
    totalWaived: 0,
    totalWrittenOff: 0,
    totalOutstanding: money(t.total),
    totalOverdue: money(overdue.amount),
    overdueSinceDate: localDate(overdue.since),
  };
}

/** LoanScheduleData: a disbursement row without `period`, then one row per instalment. */
export function scheduleView(bank: Bank, l: LoanRecord, currency: Record<string, unknown>): Record<string, unknown> {
  const t = loanOutstanding(l);
  let balance = l.principal;
  const disbursedOn = l.disbursedOnDate ?? l.expectedDisbursementDate ?? l.submittedOnDate;
  const periods: Record<string, unknown>[] = [
    {
      dueDate: localDate(disbursedOn),
      principalDisbursed: money(l.principal),
      principalLoanBalanceOutstanding: money(l.principal),
      feeChargesDue: 0,
      feeChargesPaid: 0,
      totalOriginalDueForPeriod: 0,
      totalDueForPeriod: 0,
      totalPaidForPeriod: 0,
      totalActualCostOfLoanForPeriod: 0,
      complete: true,
    },
  ];
  for (const p of l.schedule) {
    balance -= p.principalDue;
    const due = p.principalDue + p.interestDue;
    const paid = p.principalPaid + p.interestPaid;
    const complete = paid === due;
    periods.push({
      period: p.period,
      fromDate: localDate(p.fromDate),
      dueDate: localDate(p.dueDate),
      obligationsMetOnDate: localDate(p.obligationsMetOnDate),
      complete,
      daysInPeriod: daysBetween(p.fromDate, p.dueDate),
      principalOriginalDue: money(p.principalDue),
      principalDue: money(p.principalDue),
      principalPaid: money(p.principalPaid),
      principalWrittenOff: 0,
      principalOutstanding: money(p.principalDue - p.principalPaid),
      principalLoanBalanceOutstanding: money(balance),
      interestOriginalDue: money(p.interestDue),
      interestDue: money(p.interestDue),
      interestPaid: money(p.interestPaid),
      interestWaived: 0,
      interestWrittenOff: 0,
      interestOutstanding: money(p.interestDue - p.interestPaid),
      feeChargesDue: 0,
      feeChargesPaid: 0,
      penaltyChargesDue: 0,
      penaltyChargesPaid: 0,
      totalOriginalDueForPeriod: money(due),
      totalDueForPeriod: money(due),
      totalPaidForPeriod: money(paid),
      totalPaidInAdvanceForPeriod: 0,
      totalPaidLateForPeriod: 0,
      totalWaivedForPeriod: 0,
      totalWrittenOffForPeriod: 0,
      totalOutstandingForPeriod: money(due - paid),
      totalOverdue: !complete && p.dueDate < bank.businessDate ? money(due - paid) : undefined,
      totalActualCostOfLoanForPeriod: money(p.interestDue),
      totalInstallmentAmountForPeriod: money(due),
    });
  }
  const last = l.schedule.at(-1);
  return {
    currency,
    loanTermInDays: last ? daysBetween(disbursedOn, last.dueDate) : 0,
    totalPrincipalDisbursed: money(l.principal),
    totalPrincipalExpected: money(l.principal),
    totalPrincipalPaid: money(t.principalPaid),
    totalInterestCharged: money(t.interestCharged),
    totalFeeChargesCharged: 0,
    totalPenaltyChargesCharged: 0,
    totalRepaymentExpected: money(t.totalExpected),
    totalRepayment: money(t.totalPaid),
    totalPaidInAdvance: 0,
    totalPaidLate: 0,
    totalOutstanding: money(t.total),
    periods,
  };
}

/** LoanAccountData (docs/fineract.md §5.1); associations only when requested. */
export function loanView(bank: Bank, l: LoanRecord, withSchedule: boolean): Record<string, unknown> {
  const product = bank.loanProduct(l.productId);
  const client = bank.client(l.clientId);
  const currency = currencyData(bank.currency(product?.currencyCode ?? 'KES'));
  const active = l.statusId === 300;
  const next = l.schedule.find((p) => p.principalPaid + p.interestPaid < p.principalDue + p.interestDue);
  const lastRepayment = l.transactions.filter((x) => x.typeId === 2 && !x.reversed).at(-1);
  const overdue = loanOverdue(l, bank.businessDate);
  return {
    id: l.id,
    accountNo: l.accountNo,
    externalId: l.externalId,
    status: loanStatus(l.statusId),
    clientId: l.clientId,
    clientAccountNo: client?.accountNo,
    clientName: client ? displayName(client) : undefined,
    clientOfficeId: client?.officeId,
    loanProductId: l.productId,
    loanProductName: product?.name,
    loanProductDescription: product?.description,
    loanType: accountTypeIndividual(),
    currency,
    principal: decimal6(l.principal),
    approvedPrincipal: decimal6(l.principal),
    proposedPrincipal: decimal6(l.principal),
    termFrequency: l.numberOfRepayments * l.repaymentEvery,
    termPeriodFrequencyType: { ...MONTHS, code: 'termFrequency.periodFrequencyType.months' },
    numberOfRepayments: l.numberOfRepayments,
    repaymentEvery: l.repaymentEvery,
    repaymentFrequencyType: { ...MONTHS, code: 'repaymentFrequency.periodFrequencyType.months' },
    interestRatePerPeriod: l.interestRatePerPeriod,
    interestRateFrequencyType: { id: 2, code: 'interestRateFrequency.periodFrequencyType.months', value: 'Per month' },
    annualInterestRate: l.interestRatePerPeriod * 12,
    amortizationType: { id: 1, code: 'amortizationType.equal.installments', value: 'Equal installments' },
    interestType: { id: 1, code: 'interestType.flat', value: 'Flat' },
    transactionProcessingStrategyCode: 'mifos-standard-strategy',
    timeline: {
      submittedOnDate: localDate(l.submittedOnDate),
      approvedOnDate: localDate(l.approvedOnDate),
      rejectedOnDate: localDate(l.rejectedOnDate),
      expectedDisbursementDate: localDate(l.expectedDisbursementDate ?? l.disbursedOnDate),
      actualDisbursementDate: localDate(l.disbursedOnDate),
      expectedMaturityDate: l.disbursedOnDate ? localDate(addMonths(l.disbursedOnDate, l.numberOfRepayments)) : undefined,
      closedOnDate: localDate(l.closedOnDate),
    },
    summary: l.disbursedOnDate ? summaryView(bank, l, currency) : undefined,
    totalOverpaid: l.overpaid ? money(l.overpaid) : undefined,
    inArrears: active && overdue.amount > 0,
    isNPA: false,
    delinquent: active
      ? {
          nextPaymentDueDate: localDate(next?.dueDate),
          pastDueDays: overdue.since ? daysBetween(overdue.since, bank.businessDate) : 0,
          delinquentDays: overdue.since ? daysBetween(overdue.since, bank.businessDate) : 0,
          delinquentAmount: money(overdue.amount),
          lastPaymentDate: localDate(lastRepayment?.date),
          lastPaymentAmount: lastRepayment ? money(lastRepayment.amount) : undefined,
        }
      : undefined,
    repaymentSchedule: withSchedule ? scheduleView(bank, l, currency) : undefined,
  };
}

export const loanRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/loans/{loanId}',
    permission: 'READ_LOAN',
    handler: ({ bank, params, query }) => {
      const loan = requireLoan(bank, params.loanId as number);
      const associations = (query.get('associations') ?? '').split(',').map((s) => s.trim());
      const withSchedule = associations.includes('repaymentSchedule') || associations.includes('all');
      return ok(loanView(bank, loan, withSchedule));
    },
  },
];
