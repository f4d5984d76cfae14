import type { ClientId } from '../session/keys.js';

/**
 * One-time codes (threat T31): the one challenge primitive behind every code Kiunga sends, for
 * activation, self-unlock and money step-up. Contract first; the implementation follows in this file.
 *
 * - A code is 6 digits, valid 5 minutes (CHALLENGE_TTL_MS), with 3 tries and 3 sends; a resend repeats the
 *   same code (SMS is slow), so the code is kept encrypted under a key derived from the pepper for the
 *   resend, and compared by its keyed hash.
 * - Checked and consumed in one atomic Redis step (Lua), the hashes compared in constant time.
 * - Bound to its intent: purpose, client and, for money, amount, currency, payee and source account. Any
 *   change to the intent voids the code. At most one open challenge per client and purpose.
 * - Never logged, audited or queued in clear: the SMS job carries the challenge's reference, and its handler
 *   reads the code when it sends.
 * - It outlives the USSD session: `pending()` tells a redialling customer's session what is waiting.
 */

export const CHALLENGE_PURPOSES = ['enrol', 'unlock', 'money'] as const;
export type ChallengePurpose = (typeof CHALLENGE_PURPOSES)[number];

export const CHALLENGE_DIGITS = 6;
export const CHALLENGE_TTL_MS = 5 * 60_000;
export const CHALLENGE_TRIES = 3;
export const CHALLENGE_SENDS = 3;

/** What a code authorises. Every field takes part in the binding. */
export interface ChallengeIntent {
  purpose: ChallengePurpose;
  clientId: ClientId;
  /** Money: amount in minor units, ISO currency, payee (account number) and source (account number). */
  amountCents?: number;
  currency?: string;
  payee?: string;
  source?: string;
}

/** What the SMS (and the redial prompt) says the code is for: already formatted for the customer. */
export interface ChallengeDisplay {
  /** "KES 20,000.00" */
  amount?: string;
  /** "Baraka O." (a short, masked name) */
  payee?: string;
}

export interface ChallengeDelivery {
  /** The registered number the code goes to (never the number of the channel it authorises, when they differ). */
  msisdn: string;
  language: string;
  /** The channel of the intent: the code travels on another one (SMS for USSD and voice). */
  channel: string;
  display?: ChallengeDisplay;
  /** Opaque state the caller needs back on a redial (e.g. the money intent's idempotency key); no secrets. */
  resume?: Record<string, string | number | boolean>;
}

export type IssueResult =
  | { status: 'sent' | 'resent'; expiresAt: number; sendsLeft: number }
  /** Three sends already: no more codes for this intent until it expires. */
  | { status: 'send-limit'; expiresAt: number };

export type CheckResult =
  | { result: 'ok' }
  | { result: 'wrong'; triesLeft: number }
  /** Too many wrong codes: the challenge is void. */
  | { result: 'exhausted' }
  /** No open challenge for this purpose (never issued, expired, consumed or revoked). */
  | { result: 'expired' }
  /** The open challenge was for another intent (another amount, payee...): it is now void. */
  | { result: 'mismatch' };

export interface PendingChallenge {
  intent: ChallengeIntent;
  display?: ChallengeDisplay;
  resume?: Record<string, string | number | boolean>;
  expiresAt: number;
  triesLeft: number;
}

export interface ChallengeService {
  /** Issues a code for the intent, or resends the open one when the intent is the same; a different intent voids the open one. */
  issue(intent: ChallengeIntent, delivery: ChallengeDelivery): Promise<IssueResult>;
  /** Checks a code against the open challenge of `intent.purpose` for `intent.clientId`; consumes it when right. */
  check(intent: ChallengeIntent, code: string): Promise<CheckResult>;
  /** The open challenge of this purpose, for a redial; undefined when none. */
  pending(clientId: ClientId, purpose: ChallengePurpose): Promise<PendingChallenge | undefined>;
  /** Voids the open challenges of a client (all purposes unless given), e.g. after a PIN change. Returns how many. */
  revoke(clientId: ClientId, purposes?: readonly ChallengePurpose[]): Promise<number>;
  /** After an enrolment or a PIN reset: the next money-out needs a code (cleared by `consumeFreshCredential`). */
  markFreshCredential(clientId: ClientId): Promise<void>;
  isFreshCredential(clientId: ClientId): Promise<boolean>;
  consumeFreshCredential(clientId: ClientId): Promise<void>;
}
