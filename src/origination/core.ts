/**
 * What origination needs from Fineract (issue 12), as a narrow port: the service is written against it, and
 * `services/origination.ts` hands over an adapter on the Fineract client. Every method rejects only with a
 * `FineractError`.
 *
 * Fineract behaviour relied on (docs/fineract.md):
 * - `GET /search?resource=clients` matches mobile_no and external_id, `resource=clientIdentifiers` matches
 *   document_key (SearchReadPlatformServiceImpl): an ID number already on a client is found there.
 * - `POST /clients` and `POST /loans` keep `externalId` unique (a second one is a 403 data integrity error), so
 *   the profile id and the application id make both calls safe to repeat: on a duplicate, read by external id.
 * - `POST /loans?command=calculateLoanSchedule` answers the schedule without creating anything.
 */
import type { CallOptions } from '../fineract/types.js';

/** Fineract's loan status, reduced to what the applicant is told. */
export type CoreLoanStatus = 'pending' | 'approved' | 'active' | 'rejected' | 'withdrawn' | 'closed';

export interface LoanQuote {
  /** The first regular instalment, minor units. */
  instalmentCents: number;
  /** Everything repaid (principal, interest, fees), minor units. */
  totalRepaymentCents: number;
  /** Interest and fees (`totalRepaymentCents` less the principal), minor units. */
  totalCostCents: number;
  currency: string;
}

export interface NewCoreClient {
  /** Kiunga's profile id: the client's externalId. */
  externalId: string;
  firstname: string;
  lastname: string;
  mobileNo: string;
  dateOfBirth: string;
  nationalId: string;
  /** LOAN_APPLICANT_CLIENT_ACTIVE: an active client (activation date today), else pending activation. */
  active: boolean;
}

export interface NewCoreLoan {
  /** Kiunga's application id: the loan's externalId. */
  externalId: string;
  clientId: number;
  productId: number;
  principalCents: number;
  repayments: number;
}

export interface OriginationCore {
  /** The client (active or not) holding this phone number, or null. */
  clientByPhone(e164: string, call?: CallOptions): Promise<number | null>;
  /** The client holding this national ID number among their identifiers, or null. */
  clientByNationalId(nationalId: string, call?: CallOptions): Promise<number | null>;
  /** The client whose externalId is this, or null. */
  clientByExternalId(externalId: string): Promise<number | null>;
  /** Creates the client; a duplicate externalId rejects (read it with `clientByExternalId`). */
  createClient(client: NewCoreClient): Promise<number>;
  /** Submits the loan application; a duplicate externalId rejects (read it with `loanByExternalId`). */
  submitLoan(loan: NewCoreLoan): Promise<number>;
  loanByExternalId(externalId: string): Promise<{ loanId: number; status: CoreLoanStatus } | null>;
  loanStatus(loanId: number): Promise<CoreLoanStatus>;
  /** Fineract's own schedule for these terms (nothing is stored); `clientId` when the applicant is a client. */
  quote(productId: number, principalCents: number, repayments: number, clientId?: number, call?: CallOptions): Promise<LoanQuote>;
  /** The client's loans that are open, with their product and whether any amount is overdue. */
  openLoans(clientId: number, call?: CallOptions): Promise<{ productId: number; overdue: boolean }[]>;
}
