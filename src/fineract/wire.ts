import { z } from 'zod';
import type {
  LoanAccount,
  LoanAccountSummary,
  LoanRepaymentInfo,
  SavingsAccount,
  SavingsAccountSummary,
  SavingsTransaction,
} from './types.js';

/**
 * The parts of Fineract's JSON that Kiunga reads, checked at runtime (docs/fineract.md §2-5). Unknown keys are
 * dropped; absent keys are normal (Gson omits nulls). Nothing outside `src/fineract` sees these shapes.
 */

/** BigDecimal amounts: JSON numbers, possibly with trailing zeros; tolerate numeric strings. */
const amount = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);

/** LocalDate: `[2024, 1, 31]` from Gson endpoints, `"2024-01-31"` from Jackson ones. */
const localDate = z
  .union([z.tuple([z.number().int(), z.number().int(), z.number().int()]), z.string().regex(/^\d{4}-\d{2}-\d{2}/)])
  .transform((d) =>
    typeof d === 'string'
      ? d.slice(0, 10)
      : `${String(d[0]).padStart(4, '0')}-${String(d[1]).padStart(2, '0')}-${String(d[2]).padStart(2, '0')}`,
  );

const enumData = z.object({ id: z.number(), code: z.string().optional(), value: z.string().optional() });
const status = enumData.extend({ active: z.boolean().optional() });
const currency = z.object({ code: z.string(), decimalPlaces: z.number().int().min(0).max(6).optional() });

export const SearchResults = z.array(
  z.object({
    entityId: z.number(),
    entityType: z.string().optional(),
    entityMobileNo: z.string().optional(),
    entityStatus: enumData.optional(),
  }),
);

export const ClientData = z.object({
  id: z.number(),
  displayName: z.string().optional(),
  firstname: z.string().optional(),
  lastname: z.string().optional(),
  fullname: z.string().optional(),
  mobileNo: z.string().optional(),
  /** A LocalDate, absent (or null) when not recorded: `ClientData.dateOfBirth` (docs/fineract.md §2). */
  dateOfBirth: localDate.nullish(),
  officeId: z.number(),
  active: z.boolean().optional(),
  status: enumData.optional(),
});
export type ClientData = z.infer<typeof ClientData>;

const savingsSummaryEntry = z.object({
  id: z.number(),
  accountNo: z.string(),
  productId: z.number(),
  productName: z.string(),
  status,
  currency,
  depositType: enumData.optional(),
});

const loanSummaryEntry = z.object({
  id: z.number(),
  accountNo: z.string(),
  productId: z.number(),
  productName: z.string(),
  status,
  currency,
  loanBalance: amount.optional(),
});

export const ClientAccounts = z.object({
  savingsAccounts: z.array(savingsSummaryEntry).optional(),
  loanAccounts: z.array(loanSummaryEntry).optional(),
});
export type ClientAccounts = z.infer<typeof ClientAccounts>;

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

/**
 * `GET /clients/{id}/identifiers`: a bare array of ClientIdentifierData (docs/fineract.md §2.4): `documentKey`,
 * `documentType` `{id, name}` (a code value of "Customer Identifier"), `status` as a code,
 * `clientIdentifierStatusType.active` / `.inactive` / `.invalid`.
 */
/** ClientIdentifierStatus.ACTIVE's code (fineract-core/.../portfolio/client/domain/ClientIdentifierStatus.java). */
export const IDENTIFIER_ACTIVE = 'clientIdentifierStatusType.active';

export const ClientIdentifierList = z.array(
  z.object({
    id: z.number(),
    documentKey: z.string(),
    documentType: z.object({ id: z.number(), name: z.string().optional() }).optional(),
    status: z.string().optional(),
  }),
);

/** `GET /savingsaccounts/{id}?associations=transactions` read for its holds (`findHold`). */
export const HoldList = z.object({ transactions: z.array(HoldTransaction).optional() });

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

/** `GET /configurations/name/{name}` (GlobalConfigurationPropertyData): only whether it is on. */
export const GlobalConfigurationProperty = z.object({ name: z.string().optional(), enabled: z.boolean() });

/** `GET /businessdate/{type}` (BusinessDateData): `date` is a LocalDate (Gson `[y, m, d]`). */
export const BusinessDateData = z.object({ type: z.string().optional(), date: localDate });

/** `GET /savingsaccounts/{id}?associations=transactions` (every version): newest first, all of them. */
export const SavingsTransactionList = z.object({ transactions: z.array(transferLeg).optional() });

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

// ---- mapping to Kiunga's types ---------------------------------------------------------------------------

/** Status ids: 300 is active for clients, savings and loans alike. */
export const ACTIVE = 300;
/** depositType 100 = plain savings (not fixed, recurring or current deposits). */
export const SAVINGS_DEPOSIT_TYPE = 100;
/** Transaction types that add money when `entryType` is absent (Fineract < 1.9). */
const CREDIT_TYPE_IDS: ReadonlySet<number> = new Set([1, 3, 8, 21]);
/**
 * Rows that never change the ledger balance, left out of statements: accruals (10), and holds (20) and releases
 * (21), which the available balance shows instead.
 */
const HIDDEN_TYPE_IDS: ReadonlySet<number> = new Set([10, AMOUNT_HOLD, 21]);

const isActive = (s: { id: number; active?: boolean | undefined }): boolean => s.active ?? s.id === ACTIVE;

export function toSavingsSummary(a: z.infer<typeof savingsSummaryEntry>): SavingsAccountSummary {
  return { id: a.id, accountNo: a.accountNo, productId: a.productId, productName: a.productName, currency: a.currency.code };
}

export const isListedSavings = (a: z.infer<typeof savingsSummaryEntry>): boolean =>
  (a.depositType?.id ?? SAVINGS_DEPOSIT_TYPE) === SAVINGS_DEPOSIT_TYPE && isActive(a.status);

export function toLoanSummary(l: z.infer<typeof loanSummaryEntry>): LoanAccountSummary {
  return {
    id: l.id,
    accountNo: l.accountNo,
    productId: l.productId,
    productName: l.productName,
    currency: l.currency.code,
    statusId: l.status.id,
    ...(l.loanBalance !== undefined ? { loanBalance: l.loanBalance } : {}),
  };
}

export const isListedLoan = (l: z.infer<typeof loanSummaryEntry>): boolean => l.status.id === ACTIVE;

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

// ---- origination (docs/fineract.md §5.3) ---------------------------------------------------------------------

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

/** `GET /search?resource=clientIdentifiers` rows (SearchReadPlatformServiceImpl.clientIdentifierMatchSql). */
export const IdentifierSearchResults = z.array(
  z.object({
    entityType: z.string(),
    /** The document key. */
    entityName: z.string().optional(),
    /** The client holding it. */
    parentId: z.number().optional(),
    /** The client's status. */
    entityStatus: enumData.optional(),
  }),
);
