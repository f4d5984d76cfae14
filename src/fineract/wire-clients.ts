import { z } from 'zod';
import type { LoanAccountSummary, SavingsAccountSummary } from './types.js';
import { ACTIVE, amount, currency, enumData, isActive, localDate, status } from './wire-common.js';

/**
 * Clients on the wire: the search for a number or a document, a client, its accounts (summaries, mapped to
 * Kiunga's types) and its identifiers (docs/fineract.md §2-3).
 */

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

/** depositType 100 = plain savings (not fixed, recurring or current deposits). */
export const SAVINGS_DEPOSIT_TYPE = 100;

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
