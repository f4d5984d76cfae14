import type { FineractClient } from '../fineract/types.js';
import type { TransferIntent, TransferOutcome } from '../money/transfer-types.js';
import type { HopContext } from '../session/hop-context.js';

/**
 * The approval primitive (issue 11; threats T14, T15, T32, T33): one state machine behind every "a second
 * person must agree before money moves" — maker-checker on business accounts and agent cash-out confirmed
 * by the customer. Contract first; the Redis-backed implementation lives next to it (approval-service.ts).
 *
 *   requested ─▶ pending (k of M given) ─▶ approved ─▶ executing ─▶ executed | failed
 *        └──────────┴─▶ rejected (reason) | expired (a job) | cancelled (by the requester or an operator)
 *
 * Every transition is one compare-and-set on the approval's record (a transition from a state the record is
 * no longer in is refused), written to the audit trail (`approval.<state>`) and told by SMS to the people
 * concerned. Funds are held in Fineract at request time (savings `holdAmount`) and released on rejection,
 * expiry or cancellation; execution runs once, with the approval's id as the idempotency key.
 */

export const APPROVAL_STATES = ['pending', 'approved', 'executing', 'executed', 'failed', 'rejected', 'expired', 'cancelled'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];
/** States an approval never leaves. */
export const FINAL_APPROVAL_STATES: readonly ApprovalState[] = ['executed', 'failed', 'rejected', 'expired', 'cancelled'];

/** Why the approval exists: a business account's mandate, or an agent's cash-out the customer confirms. */
export type ApprovalKind = 'mandate' | 'cash-out';

/** A person in an approval: a Fineract client (a signatory, an agent, a customer) or an operator. */
export interface ApprovalParty {
  clientId: number;
  /** Short masked name for screens and SMS ("Baraka O."). */
  label: string;
  /** Registered number (E.164), for the SMS; stored, never logged in clear. */
  msisdn?: string;
  lang?: string;
}

export interface ApprovalRecord {
  /** 32 hex characters: the record's key and the idempotency key of the execution. */
  id: string;
  /** Short reference shown to people (8 characters). */
  ref: string;
  kind: ApprovalKind;
  state: ApprovalState;
  /** The money movement it would execute (amount in minor units; the fee, if any, in `feeCents`). */
  intent: TransferIntent;
  feeCents?: number;
  requester: ApprovalParty;
  /** Who may approve (never the requester). */
  approvers: ApprovalParty[];
  /** Approvals needed (k of M). */
  required: number;
  /** Client ids who approved so far. */
  approvedBy: number[];
  /** The rule that applied, e.g. `mandate:000000004@v3 band 0-100000000 needs 1`. */
  rule: string;
  /** The Fineract hold on the source account (savings transaction id), while held. */
  holdId?: number;
  createdAt: number;
  expiresAt: number;
  /** Rejection, failure or cancellation reason (a code, translated for people). */
  reason?: string;
  /**
   * Once executed, Fineract's ids of the transfer, each under its own name (docs/fineract.md §6.2): the transfer
   * detail id the POST answered, or the transaction id reconciliation found. Customers are given `ref` only.
   */
  transferDetailId?: number;
  transferTransactionId?: number;
  /** Written before issue 13 (the transaction id): shown as `transferTransactionId`. */
  fineractId?: number;
  /**
   * Set (while executing) just before the transfer is first sent, after the re-checks and the release: from
   * then on only the transfer's own outcome (same idempotency key) settles the approval, never a re-check.
   */
  sentAt?: number;
  /** Monotonic version of the record (compare-and-set). */
  version: number;
}

/** What a requester hands over to open an approval. */
export interface ApprovalRequest {
  kind: ApprovalKind;
  /** Its `id` and `ref` are replaced by the approval's; `senderLabel` names the source account to people. */
  intent: TransferIntent;
  feeCents?: number;
  requester: ApprovalParty;
  approvers: ApprovalParty[];
  required: number;
  rule: string;
  /** How long it stays open (default: the mandate's expiry, or the cash-out setting). */
  ttlMs: number;
  /**
   * The requester's own key for this request (its money intent's id, 32 hex characters): the approval's id and
   * ref then derive from it (`approvalIdFor`), a second request with the key answers the first approval, and
   * `voidRequest(key)` can settle for good that none will be raised (threat T29: a retry whose first run died).
   */
  key?: string;
}

export type DecisionResult =
  | { outcome: 'pending'; approval: ApprovalRecord }
  | { outcome: 'executed'; approval: ApprovalRecord }
  /** Executed, but Fineract's answer is not known yet: an SMS will tell (like a transfer that is processing). */
  | { outcome: 'processing'; approval: ApprovalRecord }
  | { outcome: 'rejected'; approval: ApprovalRecord }
  /** Cancelled by the requester or an operator (the hold released). */
  | { outcome: 'cancelled'; approval: ApprovalRecord }
  | { outcome: 'failed'; approval: ApprovalRecord; reason: string }
  /** Refused without a change: not an approver, own request, approved already, not open any more. */
  | {
      outcome: 'refused';
      /** `unconfirmed`: the kind's confirmation step (a cash-out's store number) was not passed by this approver. */
      reason: 'not-approver' | 'own-request' | 'already-approved' | 'closed' | 'not-found' | 'unconfirmed';
    };

export interface ApprovalService {
  /**
   * Holds the funds, writes the record (pending), audits and tells the approvers by SMS. `hop`: the hop it is
   * raised in (session/hop-context.ts), whose deadline its Fineract calls are given.
   */
  request(request: ApprovalRequest, hop?: HopContext): Promise<ApprovalRecord>;
  /**
   * For a request made with `key` whose requester's hop was lost (its process died, or it is slow; threat T29):
   * the approval raised with that key, or, when there is none yet, undefined and from then on none can be
   * raised with it (a `request` still running refuses with `unavailable` and releases its hold; a hold left by
   * a requester that died before writing the record is released by the `approval-settle` job).
   */
  voidRequest(key: string, accountId: number): Promise<ApprovalRecord | undefined>;
  /** The approval a request with `key` raised, if any (a retry of the requesting hop answers it instead of asking again). */
  raised(key: string): Promise<ApprovalRecord | undefined>;
  /** An approver agrees (their PIN was checked by the caller); executes once the k-th approval is given. */
  approve(id: string, approverClientId: number, hop?: HopContext): Promise<DecisionResult>;
  reject(id: string, approverClientId: number, reason: string, hop?: HopContext): Promise<DecisionResult>;
  /** By the requester (`by` is their client id) or an operator (`operator:<name>`). Releases the hold. */
  cancel(id: string, by: number | `operator:${string}`, reason?: string, hop?: HopContext): Promise<DecisionResult>;
  get(id: string): Promise<ApprovalRecord | undefined>;
  /** Open approvals waiting for this client (as an approver), newest first; expired ones never listed. */
  waitingFor(clientId: number): Promise<ApprovalRecord[]>;
  /** Every approval in a state, newest first (the console), at most `limit`. */
  list(state: ApprovalState, limit?: number): Promise<ApprovalRecord[]>;
}

/**
 * Checks run by the service just before it executes (account status, mandate version, limits), one per
 * kind, given to the service when it is built by whoever owns the kind (the mandate registry, the agent
 * registry): undefined when all is well, else the reason code for `failed`.
 */
export type ApprovalRecheck = (approval: ApprovalRecord, hop?: HopContext) => Promise<string | undefined>;

/**
 * What an approver must have done, besides their PIN, before their approval counts, per kind: for a cash-out,
 * typing the store number shown on the agent's counter (threat T32). Checked by the service itself, so no
 * flow can skip it: true when the approver passed it.
 */
export type ApprovalConfirm = (approval: ApprovalRecord, approverClientId: number) => Promise<boolean>;

/** The Fineract calls the approval service makes (the Fineract client's own). */
export type ApprovalFineract = Pick<FineractClient, 'holdAmount' | 'releaseAmount' | 'findHold' | 'getOwnedSavingsAccount'>;

/** The transfer service's one entry point the approvals use (exactly once by the intent's id). */
export interface ApprovalTransfers {
  execute(intent: TransferIntent, deadlineAt: number, options?: { hop?: HopContext }): Promise<TransferOutcome>;
}
