import type { HopContext } from '../session/hop-context.js';
import type { LoanQuote } from './core.js';
import type { Profile } from './profiles.js';

/*
 * What a loan application is (issue 12): its states, its record, the request that makes one and the answers of
 * a review. Its lifecycle and the service that runs it are in applications.ts.
 */

/** Every state an application can be in. */
export const APPLICATION_STATES = [
  'submitted',
  'declined',
  'review',
  'rejected',
  'withdrawn',
  'approved',
  'in-core',
  'core-approved',
  'disbursed',
  'core-rejected',
  'core-withdrawn',
  'closed',
] as const;
export type ApplicationState = (typeof APPLICATION_STATES)[number];
/** States still open on Kiunga's side or in Fineract: one application at a time per applicant. */
export const OPEN_APPLICATION_STATES: readonly ApplicationState[] = ['submitted', 'review', 'approved', 'in-core', 'core-approved'];

/** The catalogue's terms for the product on this channel (what the applicant was offered). */
export interface OfferedTerms {
  productId: number;
  /** The short display name in the applicant's language. */
  productName: string;
  minCents: number;
  maxCents: number;
  repayments: readonly number[];
  currency: string;
}

export interface CheckResult {
  name: 'catalogue-limits' | 'open-application' | 'core-loans' | 'id-format' | 'age';
  ok: boolean;
  /** Why it failed (a reason code with a translated sentence), or what was found. */
  detail?: string;
}

export interface Application {
  /** 32 hex characters: the loan's externalId in Fineract. */
  id: string;
  /** 8 characters people read. */
  ref: string;
  state: ApplicationState;
  msisdn: string;
  lang: string;
  /** A signed-up applicant's profile; absent for a registered customer. */
  profileId?: string;
  /** The Fineract client (a registered customer's, or the one created on approval). */
  clientId?: number;
  productId: number;
  productName: string;
  principalCents: number;
  repayments: number;
  currency: string;
  quote: LoanQuote;
  checks: CheckResult[];
  /** Decline or rejection reason code (`origination.reason.<code>` tells it). */
  reason?: string;
  reviewedBy?: string;
  loanId?: number;
  channel: string;
  createdAt: number;
  updatedAt: number;
  version: number;
}

export interface ApplyRequest {
  msisdn: string;
  lang: string;
  channel: string;
  /** A signed-up profile, or a registered customer's client id. */
  profile?: Profile;
  clientId?: number;
  terms: OfferedTerms;
  principalCents: number;
  repayments: number;
  /** The quote shown (and sent by SMS) before the PIN. */
  quote: LoanQuote;
  /** The hop it is made in (session/hop-context.ts), whose deadline the checks' Fineract reads are given. */
  hop?: HopContext;
}

export type ReviewResult =
  | { outcome: 'done'; application: Application }
  /** In Fineract's hands already, or already decided the same way: answered as it is (idempotent). */
  | { outcome: 'unchanged'; application: Application }
  | { outcome: 'conflict'; application: Application }
  | { outcome: 'not-found' }
  /** Approved, but Fineract could not be reached: the application stays approved and is sent again later. */
  | { outcome: 'core-unavailable'; application: Application };
