import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { JobQueue } from '../jobs/queue.js';
import { APPROVAL_EXPIRE_JOB, APPROVAL_SETTLE_JOB, APPROVAL_WARN_JOB } from '../jobs/catalogue.js';
import type { AuditActor, AuditTrail } from '../audit/audit.js';
import type { Switches } from '../control/switches.js';
import type { Translator } from '../text/i18n.js';
import { FineractError, FineractRejected, OwnershipError } from '../fineract/errors.js';
import { isInsufficientFunds } from '../fineract/rejection-codes.js';
import { MoneyPaused, type TransferIntent } from '../money/transfer-types.js';
import type { HopContext } from '../session/hop-context.js';
import { ApprovalExecution } from './approval-execution.js';
import { ApprovalNotices, type SmsEvent } from './approval-notices.js';
import { ApprovalRecords, type Refusal } from './approval-records.js';
import { approvalIdFor, approvalRefOf, holdReason, newRef } from './approval-refs.js';
import { isFinal } from './approval-store.js';
import {
  type ApprovalConfirm,
  type ApprovalFineract,
  type ApprovalKind,
  type ApprovalParty,
  type ApprovalRecheck,
  type ApprovalRecord,
  type ApprovalRequest,
  type ApprovalService,
  type ApprovalState,
  type ApprovalTransfers,
  type DecisionResult,
} from './approval.js';

/**
 * The approval primitive's decisions (issue 11; threats T15, T33). See `approval.ts` for the states.
 *
 * Storage (approval-records.ts, on the scripts of approval-store.ts): the record (JSON, with a version), a
 * sorted set per state and one per approver (score: creation time, so "newest first" is a reverse range). On
 * Redis each change is one compare-and-set script: the record is written only while it still holds the version
 * it was read at, and its state and waiting sets move in the same step; a loser reads again and decides again
 * (so two approvals given at once execute once, and a rejection racing an approval leaves one of them
 * refused). On the in-process store the same steps run one at a time in this process (the only one there is).
 *
 * Fineract side: the amount (plus any fee) is held on the source account before anything is written, with the
 * approval's ref as the hold's reason (approval-refs.ts) and a key derived from its id; no record is written
 * when Fineract refuses the hold. A closed approval (rejected, expired, cancelled, failed before sending) has
 * its hold released; the `approval-settle` job, queued before every step that talks to Fineract, finishes what
 * a crash or an unanswered call left undone (approval-execution.ts), so a hold is never left behind and an
 * approved approval always reaches an end. The audit entries and SMS are approval-notices.ts's.
 */

/** Why a request was refused: nothing was written and nothing is held. */
export type RequestRefusal = 'insufficient' | 'inactive' | 'forbidden' | 'rejected' | 'unavailable';

export class ApprovalRefused extends Error {
  constructor(readonly reason: RequestRefusal) {
    super(`approval not opened: ${reason}`);
    this.name = 'ApprovalRefused';
  }
}

export interface ApprovalServiceOptions {
  store: KeyValueStore;
  /** REDIS_PREFIX. */
  prefix: string;
  fineract: ApprovalFineract;
  transfers: ApprovalTransfers;
  queue: JobQueue;
  translator: Translator;
  audit: AuditTrail;
  logger: Logger;
  /** Checks run just before executing, per kind (the mandate registry, the agent registry). */
  rechecks?: Partial<Record<ApprovalKind, ApprovalRecheck>>;
  /** What an approver must have done before approving, per kind (a cash-out's store number). */
  confirms?: Partial<Record<ApprovalKind, ApprovalConfirm>>;
  /** While money is off, no new hold and no execution (the k-th approval is refused with `MoneyPaused`). */
  switches?: Pick<Switches, 'moneyAllowed'>;
  /** TIMEZONE: expiry times in SMS are local times. */
  timeZone: string;
  /** The USSD code told in SMS ("Dial *384*123# > Approvals"). */
  ussdCode: string;
  /** How long an approval's execution may wait for Fineract within the approver's hop. */
  executeBudgetMs: number;
  /** Delay before the settle job checks on a step that talks to Fineract (default 30 s). */
  settleDelayMs?: number;
  now?: () => number;
}

/** The warning goes out at 80% of the lifetime, and at most an hour before the expiry. */
const WARN_SHARE = 0.2;
const WARN_MAX_BEFORE_MS = 3600_000;

/** Reasons an approver picks when rejecting (USSD offers them as a short list). */
export const REJECT_REASONS = ['not-agreed', 'wrong-amount', 'wrong-payee', 'other'] as const;

/** Fineract refused the hold: nothing is held, and why. Undefined when the outcome is not known. */
function holdRefusal(error: unknown): RequestRefusal | undefined {
  if (error instanceof OwnershipError) return 'forbidden';
  if (isInsufficientFunds(error)) return 'insufficient';
  if (error instanceof FineractRejected) {
    if (/not\.in\.active\.state|not\.active/.test(error.code ?? '')) return 'inactive';
    return 'rejected';
  }
  if (error instanceof FineractError && (error.kind === 'not-found' || error.kind === 'unauthorized')) return 'rejected';
  return undefined;
}

export class RedisApprovalService implements ApprovalService {
  private readonly records: ApprovalRecords;
  private readonly notices: ApprovalNotices;
  private readonly execution: ApprovalExecution;
  private readonly now: () => number;

  constructor(private readonly options: ApprovalServiceOptions) {
    this.now = options.now ?? Date.now;
    this.records = new ApprovalRecords(options.store, options.prefix, this.now);
    this.notices = new ApprovalNotices({ ...options, now: this.now });
    this.execution = new ApprovalExecution(this.records, this.notices, { ...options, now: this.now });
  }

  /** Registers the handlers of the approval jobs (before `queue.start()`). */
  registerJobs(queue: JobQueue = this.options.queue): void {
    queue.handle(APPROVAL_EXPIRE_JOB, async ({ id }) => this.expire(id));
    queue.handle(APPROVAL_WARN_JOB, async ({ id }) => this.warn(id));
    queue.handle(APPROVAL_SETTLE_JOB, async ({ id }) => this.settle(id));
  }

  async request(request: ApprovalRequest, hop?: HopContext): Promise<ApprovalRecord> {
    const { intent: given, requester, approvers, required } = request;
    if (!Number.isSafeInteger(required) || required < 1 || required > approvers.length)
      throw new TypeError('an approval needs between 1 and as many approvals as it has approvers');
    if (approvers.some((a) => a.clientId === requester.clientId)) throw new TypeError('a requester never approves their own request');
    if (!(request.ttlMs > 0)) throw new TypeError('an approval needs a lifetime');
    if (!Number.isSafeInteger(given.amountCents) || given.amountCents <= 0) throw new TypeError('an approval needs a positive amount');
    // Money off: nothing new is held (the same rule as a transfer's: refused before any call or record).
    if (this.options.switches && !this.options.switches.moneyAllowed()) throw new MoneyPaused();

    const id = request.key ? approvalIdFor(request.key) : randomBytes(16).toString('hex');
    const ref = request.key ? approvalRefOf(id) : newRef();
    if (request.key) {
      // Raised before with this key: that approval (nothing is held twice); voided: none may be raised any more.
      const raised = await this.get(id);
      if (raised) return raised;
      if ((await this.records.voidMark(id)) !== null) throw new ApprovalRefused('unavailable');
    }
    const intent: TransferIntent = { ...given, id, ref };
    const createdAt = this.now();
    const expiresAt = createdAt + request.ttlMs;
    const { fineract, logger, queue } = this.options;

    // The jobs first: they look the record up and do nothing without one, so none can be missing once it exists.
    await queue.add(APPROVAL_EXPIRE_JOB, { id }, { jobId: `approval-expire-${id}`, delayMs: request.ttlMs, attempts: 20, backoffMs: 2000 });
    const warnBefore = Math.min(request.ttlMs * WARN_SHARE, WARN_MAX_BEFORE_MS);
    await queue.add(APPROVAL_WARN_JOB, { id }, { jobId: `approval-warn-${id}`, delayMs: request.ttlMs - warnBefore, attempts: 3 });

    // T33: the funds are held before the approval exists, so it never fails later for want of them.
    const reason = holdReason(ref);
    let holdId: number;
    try {
      ({ holdId } = await fineract.holdAmount(intent.from.accountId, intent.amountCents + (request.feeCents ?? 0), reason, {
        idempotencyKey: `${id}-hold`,
        hop,
      }));
    } catch (error) {
      const refusal = holdRefusal(error);
      if (refusal) throw new ApprovalRefused(refusal);
      // The hold may exist without an answer: find it by its reason and release it, then refuse.
      logger.warn({ approval: ref, err: { type: (error as Error)?.name } }, 'hold outcome unknown: looking for it to release it');
      await this.execution.releaseOrphan(intent.from.accountId, reason, hop);
      throw new ApprovalRefused('unavailable');
    }

    const record: ApprovalRecord = {
      id,
      ref,
      kind: request.kind,
      state: 'pending',
      intent,
      ...(request.feeCents ? { feeCents: request.feeCents } : {}),
      requester,
      approvers,
      required,
      approvedBy: [],
      rule: request.rule,
      holdId,
      createdAt,
      expiresAt,
      version: 1,
    };
    let created: Awaited<ReturnType<ApprovalRecords['create']>>;
    try {
      created = await this.records.create(record);
    } catch (error) {
      await this.execution.release(record, hop).catch(() => undefined);
      throw error;
    }
    if (created === 'exists' && request.key) {
      // The same key raced in another process: the same hold key answered its hold again (Fineract 1.9+), or
      // held twice (1.8, docs/fineract.md §4.4): a hold that is not the approval's own is released.
      const raised = await this.get(id);
      if (raised) {
        if (raised.holdId !== holdId) await this.execution.release(record, hop).catch(() => undefined);
        return raised;
      }
    }
    if (created !== 'created') {
      await this.execution.release(record, hop).catch(() => undefined);
      if (created === 'voided') {
        logger.info({ approval: ref }, 'approval not raised: its request was voided meanwhile (hold released)');
        throw new ApprovalRefused('unavailable');
      }
      throw new Error('approval id already in use');
    }
    logger.info({ approval: ref, kind: record.kind, required, approvers: approvers.length }, 'approval requested');
    await this.notices.audit('approval.requested', record, `customer:${requester.clientId}`, requester.clientId, requester.msisdn, {
      holdId,
      ttlS: Math.round(request.ttlMs / 1000),
    });
    for (const approver of approvers) await this.notices.sms(record, approver, 'requested');
    return record;
  }

  async approve(id: string, approverClientId: number, hop?: HopContext): Promise<DecisionResult> {
    const { switches } = this.options;
    const before = await this.get(id);
    const confirm = before && this.options.confirms?.[before.kind];
    if (before && confirm && !this.decisionRefusal(before, approverClientId) && !(await confirm(before, approverClientId))) {
      return { outcome: 'refused', reason: 'unconfirmed' };
    }
    const changed = await this.records.change(id, (current) => {
      const refusal = this.decisionRefusal(current, approverClientId);
      if (refusal) return refusal;
      if (current.approvedBy.includes(approverClientId)) return 'already-approved';
      const approvedBy = [...current.approvedBy, approverClientId];
      const enough = approvedBy.length >= current.required;
      // The approval that would send money while money is off is not taken: the approver may approve again later.
      if (enough && switches && !switches.moneyAllowed()) throw new MoneyPaused();
      return { ...current, approvedBy, state: enough ? 'approved' : 'pending' };
    });
    if ('refused' in changed) return { outcome: 'refused', reason: changed.refused };
    const record = changed.record;
    const approver = record.approvers.find((a) => a.clientId === approverClientId)!;
    await this.notices.audit('approval.approved', record, `customer:${approverClientId}`, approverClientId, approver.msisdn, {
      approvals: record.approvedBy.length,
      required: record.required,
    });
    if (record.state === 'pending') {
      await this.notices.sms(record, record.requester, 'approvedPartly', {
        approver: approver.label,
        left: record.required - record.approvedBy.length,
      });
      return { outcome: 'pending', approval: record };
    }
    // The settle job backs this hop up: if it dies here, the approval still reaches an end.
    await this.execution.queueSettle(record.id, 'exec');
    return this.execution.drive(record, this.now() + this.options.executeBudgetMs, hop);
  }

  async reject(id: string, approverClientId: number, reason: string, hop?: HopContext): Promise<DecisionResult> {
    const changed = await this.records.change(id, (current) => {
      const refusal = this.decisionRefusal(current, approverClientId);
      if (refusal) return refusal;
      return { ...current, state: 'rejected', reason };
    });
    if ('refused' in changed) return { outcome: 'refused', reason: changed.refused };
    const approver = changed.record.approvers.find((a) => a.clientId === approverClientId)!;
    const record = await this.execution.closed(changed.record, `customer:${approverClientId}`, approverClientId, approver.msisdn, hop);
    return { outcome: 'rejected', approval: record };
  }

  async cancel(id: string, by: number | `operator:${string}`, reason = 'cancelled', hop?: HopContext): Promise<DecisionResult> {
    const changed = await this.records.change(id, (current) => {
      if (typeof by === 'number' && by !== current.requester.clientId) return 'not-approver';
      if (current.state !== 'pending' || current.expiresAt <= this.now()) return 'closed';
      return { ...current, state: 'cancelled', reason };
    });
    if ('refused' in changed) return { outcome: 'refused', reason: changed.refused };
    const actor: AuditActor = typeof by === 'number' ? `customer:${by}` : by;
    const clientId = typeof by === 'number' ? by : undefined;
    const record = await this.execution.closed(
      changed.record,
      actor,
      clientId,
      typeof by === 'number' ? changed.record.requester.msisdn : undefined,
      hop,
    );
    return { outcome: 'cancelled', approval: record };
  }

  get(id: string): Promise<ApprovalRecord | undefined> {
    return this.records.get(id);
  }

  /** An open approval by its short reference among those waiting for `clientId` (USSD, SMS). */
  async findWaiting(clientId: number, ref: string): Promise<ApprovalRecord | undefined> {
    return (await this.waitingFor(clientId)).find((r) => r.ref === ref.toUpperCase());
  }

  async waitingFor(clientId: number): Promise<ApprovalRecord[]> {
    const now = this.now();
    const records = await this.records.inSet(this.records.keys.waiting(clientId), 100);
    // Filtered on the record, not the index: an expiry whose job is late is never listed as open.
    return records.filter(
      (r) =>
        r.state === 'pending' && r.expiresAt > now && r.approvers.some((a) => a.clientId === clientId) && !r.approvedBy.includes(clientId),
    );
  }

  async list(state: ApprovalState, limit = 50): Promise<ApprovalRecord[]> {
    const now = this.now();
    const records = await this.records.inSet(this.records.keys.state(state), Math.max(1, Math.min(limit, 500)));
    return records.filter((r) => r.state === state && (state !== 'pending' || r.expiresAt > now));
  }

  /** The `approval-expire` job: a pending approval past its expiry becomes expired, its hold released. */
  async expire(id: string): Promise<void> {
    const current = await this.get(id);
    // Approved but not executed by its expiry: the process that approved it died before its settle job was
    // queued (or the job was lost). It executes now, once, as the settle job would have.
    if (current && (current.state === 'approved' || current.state === 'executing')) return this.settle(id);
    if (!current || current.state !== 'pending') {
      if (current && isFinal(current.state) && current.holdId !== undefined) await this.settle(id);
      return;
    }
    // bullmq may run a delayed job a little early: fail so that it runs again after the expiry.
    if (current.expiresAt > this.now()) throw new Error('approval not expired yet');
    const changed = await this.records.change(id, (r) =>
      r.state === 'pending' ? { ...r, state: 'expired', reason: 'expired' } : 'closed',
    );
    if ('refused' in changed) return;
    await this.execution.closed(changed.record, 'system');
  }

  /** The `approval-warn` job: the approvers still awaited are told the expiry is near. */
  async warn(id: string): Promise<void> {
    const record = await this.get(id);
    if (!record || record.state !== 'pending' || record.expiresAt <= this.now()) return;
    for (const approver of record.approvers)
      if (!record.approvedBy.includes(approver.clientId)) await this.notices.sms(record, approver, 'warn');
  }

  async voidRequest(key: string, accountId: number): Promise<ApprovalRecord | undefined> {
    const id = approvalIdFor(key);
    const ref = approvalRefOf(id);
    if (!(await this.records.voidUnlessCreated(id, JSON.stringify({ accountId, ref })))) return this.get(id);
    // A requester that died between its hold and its record left the hold: released once any request still
    // running must have ended (a live one that finds the void releases its own).
    await this.execution.queueSettle(id, 'void');
    return undefined;
  }

  raised(key: string): Promise<ApprovalRecord | undefined> {
    return this.get(approvalIdFor(key));
  }

  /** The `approval-settle` job (approval-execution.ts). */
  settle(id: string): Promise<void> {
    return this.execution.settle(id);
  }

  /** Why `clientId` may not decide on `record` now (approve or reject), if they may not. */
  private decisionRefusal(record: ApprovalRecord, clientId: number): Refusal | undefined {
    if (record.requester.clientId === clientId) return 'own-request';
    if (!record.approvers.some((a) => a.clientId === clientId)) return 'not-approver';
    if (record.state !== 'pending' || record.expiresAt <= this.now()) return 'closed';
    return undefined;
  }

  /** The text of one SMS, in the party's language (GSM-7; approval-notices.ts). Exposed for tests and the agent module. */
  smsText(record: ApprovalRecord, party: ApprovalParty, event: SmsEvent, extra: Record<string, string | number> = {}): string {
    return this.notices.smsText(record, party, event, extra);
  }

  /** "14:30" today, "4 Dec 14:30" on another day, in the institution's time zone. */
  expiryText(lang: string, at: number): string {
    return this.notices.expiryText(lang, at);
  }
}

/** Builds the approval service on the store (Redis scripts, or serialised steps in this process). */
export function createApprovalService(options: ApprovalServiceOptions): RedisApprovalService {
  return new RedisApprovalService(options);
}
