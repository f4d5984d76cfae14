import { z } from 'zod';
import { amount, currency, enumData, localDate } from './wire-common.js';

/**
 * Origination on the wire (docs/fineract.md §5.3): loan and savings products, clients found by external id,
 * what creating a client or loan answers, a loan's status and timeline, and a calculated schedule.
 */

/** LoanProductData as `GET /loanproducts` serialises it (Gson: nulls omitted, BigDecimals as numbers). */
export const LoanProductData = z.object({
  id: z.number(),
  name: z.string(),
  shortName: z.string().optional(),
  status: z.string().optional(),
  currency,
  principal: amount.optional(),
  minPrincipal: amount.optional(),
  maxPrincipal: amount.optional(),
  numberOfRepayments: z.number().int(),
  minNumberOfRepayments: z.number().int().optional(),
  maxNumberOfRepayments: z.number().int().optional(),
  repaymentEvery: z.number().int(),
  repaymentFrequencyType: enumData,
  interestRatePerPeriod: amount.optional(),
  interestRateFrequencyType: enumData.optional(),
  annualInterestRate: amount.optional(),
  amortizationType: enumData,
  interestType: enumData,
  interestCalculationPeriodType: enumData,
  transactionProcessingStrategyCode: z.string(),
});
export type LoanProductData = z.infer<typeof LoanProductData>;
export const LoanProductList = z.array(LoanProductData);

/** SavingsProductData as `GET /savingsproducts` serialises it. */
export const SavingsProductList = z.array(
  z.object({
    id: z.number(),
    name: z.string(),
    shortName: z.string().optional(),
    currency,
    nominalAnnualInterestRate: amount.optional(),
  }),
);

/** `GET /clients?externalId=`: a Page of ClientData (ClientsApiResource.retrieveAll). */
export const ClientPage = z.object({
  totalFilteredRecords: z.number(),
  pageItems: z.array(z.object({ id: z.number(), externalId: z.string().optional() })),
});

/** CommandProcessingResult of `POST /clients` and `POST /loans`. */
export const CreatedResult = z.object({
  resourceId: z.number().optional(),
  clientId: z.number().optional(),
  loanId: z.number().optional(),
  commandId: z.number().optional(),
  rollbackTransaction: z.boolean().optional(),
});

/** A loan's status and timeline (LoanAccountData, from `GET /loans/{id}` or a page of `GET /loans`). */
export const LoanStatusData = z.object({
  id: z.number(),
  clientId: z.number().optional(),
  externalId: z.string().optional(),
  status: enumData,
  timeline: z
    .object({
      approvedOnDate: localDate.optional(),
      actualDisbursementDate: localDate.optional(),
      rejectedOnDate: localDate.optional(),
    })
    .optional(),
});
export type LoanStatusData = z.infer<typeof LoanStatusData>;
export const LoanPage = z.object({ totalFilteredRecords: z.number(), pageItems: z.array(LoanStatusData) });

/** LoanScheduleData of `POST /loans?command=calculateLoanSchedule`: a disbursement row (no `period`), then instalments. */
export const LoanScheduleData = z.object({
  currency,
  totalPrincipalExpected: amount.optional(),
  totalInterestCharged: amount.optional(),
  totalRepaymentExpected: amount,
  periods: z.array(
    z.object({
      period: z.number().int().optional(),
      dueDate: localDate,
      principalDue: amount.optional(),
      interestDue: amount.optional(),
      totalDueForPeriod: amount.optional(),
    }),
  ),
});
export type LoanScheduleData = z.infer<typeof LoanScheduleData>;
