import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { JobQueue } from '../jobs/queue.js';
import type { CallOptions, SavingsAccount } from '../fineract/types.js';
import type { Switches } from '../control/switches.js';
import type { AuditTrail } from '../audit/audit.js';
import type { HopContext } from '../session/hop-context.js';

/**
 * What a money movement is and what it may come to (transfer-service.ts moves it): the intent fixed on the
 * confirmation screen, its outcome, and what the service is built from.
 */

export interface TransferParty {
  clientId: number;
  officeId: number;
  accountId: number;
}

export interface TransferIntent {
  /**
   * Idempotency key: 32 random hex characters drawn once per money intent (Fineract stores at most 50,
   * `m_portfolio_command_source.idempotency_key VARCHAR(50)`).
   */
  id: string;
  /** Short reference shown to customers and written into Fineract's transfer description. */
  ref: string;
  kind: 'send' | 'own' | 'loan';
  /**
   * An agent's cash movement (src/agents): `in` the agent's float pays a customer, `out` a customer pays the
   * float. The sender's "You sent" receipt is then left out: the agent module's own SMS (float balance, or
   * the cash to pay with its code) replaces it, sent from `afterDone`.
   */
  cash?: 'in' | 'out';
  /** Sender's number and language, for the SMS receipt. */
  msisdn: string;
  lang: string;
  from: TransferParty;
  to: TransferParty & { type: 'savings' | 'loan' };
  amountCents: number;
  currency: string;
  /** Masked label of the other side, e.g. `Baraka O.` or `Loan 000000101`. */
  counterparty: string;
  /** Set when the recipient is another customer who gets an SMS too. */
  recipientMsisdn?: string;
  recipientLang?: string;
  /** Masked label of the sender, for the recipient's SMS. */
  senderLabel?: string;
  /**
   * Set when the source's ownership (and a loan target's) was checked by a Fineract read when this intent was
   * fixed (the confirmation screen's balance check): the transfer then sends only the POST (`TransferRequest.checked`).
   */
  checked?: { sourceDecimalPlaces: number; loan: boolean };
}

/** Why nothing moved; `unavailable`: Kiunga stopped before sending (the hop gave up waiting). */
export type FailureCode = 'insufficient' | 'inactive' | 'forbidden' | 'over-daily' | 'rejected' | 'unavailable';

/**
 * Money movement is switched off (kill switch `money` or `all`, or its state could not be read): refused
 * before any record, any limit or any request to Fineract. Nothing was sent, so the customer is told it is
 * paused, never "it may have gone".
 */
export class MoneyPaused extends Error {
  constructor() {
    super('money movement is switched off');
    this.name = 'MoneyPaused';
  }
}

/**
 * Fineract's ids of a transfer that is done, each under its own name (docs/fineract.md §6.2), for operators:
 * customers are given the intent's `ref` only. `detailId` is the POST's answer (the transfer detail);
 * `transactionId` is what reconciliation finds on the legs (the transfer transaction). Whichever is known.
 */
export interface FineractTransferIds {
  detailId?: number;
  transactionId?: number;
}

export type TransferOutcome =
  ({ status: 'done' } & FineractTransferIds) | { status: 'failed'; code: FailureCode } | { status: 'processing' };

/** One unresolved money movement, as operators see it (`GET /admin/transfers?status=uncertain`). */
export interface UncertainTransfer {
  ref: string;
  clientId: number;
  kind: TransferIntent['kind'];
  status: 'pending' | 'uncertain';
  amount: string;
  currency: string;
  /** Masked sender number, e.g. `+254711***001`. */
  sender: string;
  counterparty: string;
  fromAccountId: number;
  createdAt: string;
  ageS: number;
  /** Older than the resolution's maximum age: only looked for, never sent again. */
  pastMaxAge: boolean;
  collision: boolean;
}

/** The Fineract calls a transfer needs (implemented by the Fineract client). */
export interface TransferBackend {
  transfer(
    request: {
      from: TransferParty;
      to: TransferParty & { type: 'savings' | 'loan' };
      amount: string;
      description: string;
      idempotencyKey: string;
      checked?: { sourceDecimalPlaces: number; loan: boolean };
    },
    call?: CallOptions,
  ): Promise<{ detailId: number; replayed?: boolean }>;
  findTransfer(
    query: { fromAccountId: number; description: string; onOrAfter?: string },
    call?: CallOptions,
  ): Promise<{ transactionId: number } | null>;
  getOwnedSavingsAccount(clientId: number, accountId: number): Promise<SavingsAccount>;
}

/** Composes the SMS texts (translated, GSM-7) for outcomes. */
export interface ReceiptWriter {
  /** Names the transfer by the intent's `ref` only: the one reference on screen, in SMS and in Fineract's description. */
  senderDone(intent: TransferIntent): string;
  recipientDone(intent: TransferIntent): string;
  senderFailed(intent: TransferIntent, code: FailureCode): string;
  /** Past the resolution's maximum age, not found in Fineract: not sent again. */
  senderUnconfirmed(intent: TransferIntent): string;
}

export interface TransferLimits {
  minCents: number;
  maxCents: number;
  dailyCents: number;
}

export interface TransferServiceDeps {
  store: KeyValueStore;
  keys: Keys;
  fineract: TransferBackend;
  queue: JobQueue;
  receipts: ReceiptWriter;
  limits: TransferLimits;
  /**
   * The longest an original call can still be on its way or in flight (its wait in the gateway's queue, at
   * most a hop, plus Fineract's timeout): a resolution never sends again before that.
   */
  callMaxMs: number;
  /**
   * Past this age (from the record's creation) a resolution only looks for the transfer in Fineract and
   * never sends it again (TRANSFER_RESOLVE_MAX_AGE_S, threat T30).
   */
  resolveMaxAgeMs: number;
  /** The kill switches: while money is off (or its state unknown), nothing new is sent (`MoneyPaused`). */
  switches?: Pick<Switches, 'moneyAllowed'>;
  logger: Logger;
  /** The tenant's business date, `yyyy-mm-dd` (daily limits reset with it). */
  today(): string;
  /** Clock (tests). */
  now?: () => number;
  /**
   * Told once of every transfer that is done, whoever settles it (the hop or the background resolution): the
   * step-up remembers the payee (OTP_NEW_PAYEE) and clears a fresh credential's mark (threat T31). Its failure
   * only means a code is asked once more next time. `hop`: the hop that settled it, if any (its deadline for
   * the Fineract reads made then).
   */
  afterDone?: (intent: TransferIntent, hop?: HopContext) => Promise<void>;
  /**
   * The audit trail (threat T16): `money.attempt` before each request to Fineract (idempotency key, amount in
   * minor units, currency, masked counterparty) and `money.outcome` (done with Fineract's ids, failed with the
   * reason, processing while unknown).
   */
  audit?: AuditTrail;
}

export interface ExecuteOptions {
  /** Aborts when the hop stopped waiting: the outcome then reaches the customer by SMS, not on screen. */
  signal?: AbortSignal;
  /**
   * The hop the transfer runs in (session/hop-context.ts): its Fineract calls are given the hop's deadline (a
   * call that cannot start by then is not sent). Without it (a job) they wait at most the gateway's queue limit.
   */
  hop?: HopContext;
}

/** The payee of an intent as the step-up names it (one-time code binding, paid payees): `savings:12`, `loan:7`. */
export const payeeOf = (to: { type: 'savings' | 'loan'; accountId: number }) => `${to.type}:${to.accountId}`;
