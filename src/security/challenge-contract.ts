import type { Metric } from 'prom-client';
import type { AuditTrail } from '../audit/audit.js';
import type { JobQueue } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import type { ClientId, Keys } from '../session/keys.js';
import type { KeyValueStore } from '../session/store.js';
import type { Translator } from '../text/i18n.js';
import type { CheckResult } from './challenge-store.js';

/**
 * The contract of one-time codes (challenge.ts, threat T31): the purposes and limits of a code, what it is
 * bound to, how it is delivered, the service's methods and the options it is built from.
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

export type { CheckResult };

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
  /**
   * The open code of this purpose in clear, for a call Kiunga placed to the registered number to read it out
   * (the alternative to the SMS: many feature phones cannot show an SMS while a USSD dialog is open). Undefined
   * when none is open. The caller says it and keeps it nowhere: no log, no job, no session record.
   */
  readOut?(
    clientId: ClientId,
    purpose: ChallengePurpose,
  ): Promise<{ code: string; language: string; display?: ChallengeDisplay } | undefined>;
  /** Voids the open challenges of a client (all purposes unless given), e.g. after a PIN change. Returns how many. */
  revoke(clientId: ClientId, purposes?: readonly ChallengePurpose[]): Promise<number>;
  /** After an enrolment or a PIN reset: the next money-out needs a code (cleared by `consumeFreshCredential`). */
  markFreshCredential(clientId: ClientId): Promise<void>;
  isFreshCredential(clientId: ClientId): Promise<boolean>;
  consumeFreshCredential(clientId: ClientId): Promise<void>;
}

/** New challenges (not resends) one client may be sent per purpose in an hour: a cap on SMS pumping by changing the intent. */
export const CHALLENGE_ISSUES_PER_HOUR = 10;

/** How the code reaches the customer's phone: `Messenger.send` of the messaging layer (the SMS provider or the sandbox outbox). */
export type OtpSender = (sms: { to: string; text: string; ref?: string }) => Promise<{ id: string }>;

export interface ChallengeServiceOptions {
  store: KeyValueStore;
  keys?: Keys;
  /** The server secret (`PIN_PEPPER`): keys the code hash and the intent hash, and derives the code's encryption key. */
  pepper: string;
  /** Delivery: one `otp` job per send, holding the challenge's reference only. */
  queue: JobQueue;
  /** The SMS texts (`sms.otp.<purpose>`). */
  translator: Translator;
  logger: Logger;
  audit?: AuditTrail;
  /** The clock (epoch ms); tests move it. */
  now?: () => number;
}

/** The service plus what the process wires: its metrics for /metrics and the `otp` job's handler. */
export interface ChallengeServiceRuntime extends ChallengeService {
  readonly metrics: Metric[];
  /** Registers the `otp` job handler on the queue (before `queue.start()`), sending through `send`. */
  register(queue: JobQueue, send: OtpSender): void;
}
