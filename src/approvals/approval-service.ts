import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { JobQueue } from '../jobs/queue.js';
import { APPROVAL_EXPIRE_JOB, APPROVAL_SETTLE_JOB, APPROVAL_WARN_JOB, SMS_JOB } from '../jobs/catalogue.js';
import type { AuditActor, AuditTrail, AuditType } from '../audit/audit.js';
import type { Switches } from '../control/switches.js';
import type { Translator } from '../text/i18n.js';
import { toGsm } from '../text/gsm.js';
import { FineractError, FineractRejected, OwnershipError } from '../fineract/errors.js';
import { isInsufficientFunds } from '../fineract/rejection-codes.js';
import type { FineractClient } from '../fineract/types.js';
import { MoneyPaused, type FineractTransferIds, type TransferOutcome, type TransferIntent } from '../money/transfer-types.js';
import type { HopContext } from '../session/hop-context.js';
import { isFinal, redisBackend, storeBackend, type Backend, type KeyNames } from './approval-store.js';
import {
  type ApprovalKind,
  type ApprovalParty,
  type ApprovalRecheck,
  type ApprovalRecord,
  type ApprovalRequest,
  type ApprovalService,
  type ApprovalState,
  type DecisionResult,
  type ApprovalConfirm,
} from './approval.js';

/**
 * The approval primitive on the store (issue 11; threats T15, T33). See `approval.ts` for the states.
 *
 * Storage: every key under one hash tag, `<prefix>:{approvals}:…` (so the scripts of approval-store.ts are legal on a Redis
 * Cluster): the record (JSON, with a version), a sorted set per state and one per approver (score: creation
 * time, so "newest first" is a reverse range). On Redis each change is one compare-and-set script: the record
 * is written only while it still holds the version it was read at, and its state and waiting sets move in the
 * same step; a loser reads again and decides again (so two approvals given at once execute once, and a
 * rejection racing an approval leaves one of them refused). On the in-process store the same steps run one at
 * a time in this process (the only one there is).
 *
 * Fineract side: the amount (plus any fee) is held on the source account before anything is written, with the
 * approval's ref as the hold's reason and a key derived from its id; no record is written when Fineract refuses
 * the hold. A closed approval (rejected, expired, cancelled, failed before sending) has its hold released;
 * the `approval-settle` job, queued before every step that talks to Fineract, finishes what a crash or an
 * unanswered call left undone, so a hold is never left behind and an approved approval always reaches an end.
 */

/** Why a request was refused: nothing was written and nothing is held. */
export type RequestRefusal = 'insufficient' | 'inactive' | 'forbidden' | 'rejected' | 'unavailable';

export class ApprovalRefused extends Error {
  constructor(readonly reason: RequestRefusal) {
    super(`approval not opened: ${reason}`);
    this.name = 'ApprovalRefused';
  }
}

/** The Fineract calls the service makes (the Fineract client's own). */
export type ApprovalFineract = Pick<FineractClient, 'holdAmount' | 'releaseAmount' | 'findHold' | 'getOwnedSavingsAccount'>;

/** The transfer service's one entry point the approvals use (exactly once by the intent's id). */
export interface ApprovalTransfers {
  execute(intent: TransferIntent, deadlineAt: number, options?: { hop?: HopContext }): Promise<TransferOutcome>;
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

/** Records are kept this long after their expiry (the audit trail keeps the history for good). */
const KEEP_AFTER_EXPIRY_MS = 30 * 24 * 3600 * 1000;
/** How many times a change is tried again after losing a race. */
const CAS_TRIES = 8;
/** References people read: no 0/O or 1/I to confuse. */
const REF_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
/** The warning goes out at 80% of the lifetime, and at most an hour before the expiry. */
const WARN_SHARE = 0.2;
const WARN_MAX_BEFORE_MS = 3600_000;

/** Reasons an approver picks when rejecting (USSD offers them as a short list). */
export const REJECT_REASONS = ['not-agreed', 'wrong-amount', 'wrong-payee', 'other'] as const;

type Refusal = Extract<DecisionResult, { outcome: 'refused' }>['reason'];

/** The text a hold carries in Fineract (its `reasonForBlock`): names the approval, findable after a timeout. */
export const holdReason = (ref: string) => `Kiunga approval ${ref}`;

function newRef(): string {
  let ref = '';
  for (let i = 0; i < 8; i++) ref += REF_ALPHABET[randomInt(REF_ALPHABET.length)];
  return ref;
}

/**
 * The id of the approval a request with `key` raises (`ApprovalRequest.key`): derived, so that whoever holds the
 * key finds it (or voids it) without the requester, and distinct from the key itself (the key may also name a
 * transfer record of the same intent).
 */
export const approvalIdFor = (key: string): string => createHash('sha256').update(`approval:${key}`).digest('hex').slice(0, 32);

/** The ref of an approval whose id was derived from a key: from the id's bytes (the alphabet has 32 letters). */
export function approvalRefOf(id: string): string {
  let ref = '';
  for (let i = 0; i < 8; i++) ref += REF_ALPHABET[parseInt(id.slice(i * 2, i * 2 + 2), 16) % REF_ALPHABET.length];
  return ref;
}

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

/** What each transition tells, by SMS key (`approval.sms.<event>`; a kind may have its own `approval.sms.<kind>.<event>`). */
type SmsEvent = 'requested' | 'approvedPartly' | 'rejected' | 'expired' | 'cancelled' | 'executed' | 'failed' | 'warn';

export class RedisApprovalService implements ApprovalService {
  private readonly backend: Backend;
  private readonly keys: KeyNames;
  private readonly now: () => number;

  constructor(private readonly options: ApprovalServiceOptions) {
    const base = `${options.prefix}:{approvals}`;
    this.keys = {
      record: (id) => `${base}:rec:${id}`,
      voided: (id) => `${base}:void:${id}`,
      state: (state) => `${base}:state:${state}`,
      waiting: (clientId) => `${base}:waiting:${clientId}`,
    };
    const client = (options.store as { client?: Redis | Cluster }).client;
    this.backend =
      options.store.kind === 'redis' && client ? redisBackend(options.store, client, this.keys) : storeBackend(options.store, this.keys);
    this.now = options.now ?? Date.now;
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
      if ((await this.options.store.get(this.keys.voided(id))) !== null) throw new ApprovalRefused('unavailable');
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
      await this.releaseOrphan(intent.from.accountId, reason, hop);
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
    let created: Awaited<ReturnType<Backend['create']>>;
    try {
      created = await this.backend.create(record, this.ttlOf(record));
    } catch (error) {
      await this.release(record, hop).catch(() => undefined);
      throw error;
    }
    if (created === 'exists' && request.key) {
      // The same key raced in another process: the same hold key answered its hold again (Fineract 1.9+), or
      // held twice (1.8, docs/fineract.md §4.4): a hold that is not the approval's own is released.
      const raised = await this.get(id);
      if (raised) {
        if (raised.holdId !== holdId) await this.release(record, hop).catch(() => undefined);
        return raised;
      }
    }
    if (created !== 'created') {
      await this.release(record, hop).catch(() => undefined);
      if (created === 'voided') {
        logger.info({ approval: ref }, 'approval not raised: its request was voided meanwhile (hold released)');
        throw new ApprovalRefused('unavailable');
      }
      throw new Error('approval id already in use');
    }
    logger.info({ approval: ref, kind: record.kind, required, approvers: approvers.length }, 'approval requested');
    await this.audit('approval.requested', record, `customer:${requester.clientId}`, requester.clientId, requester.msisdn, {
      holdId,
      ttlS: Math.round(request.ttlMs / 1000),
    });
    for (const approver of approvers) await this.sms(record, approver, 'requested');
    return record;
  }

  async approve(id: string, approverClientId: number, hop?: HopContext): Promise<DecisionResult> {
    const { switches } = this.options;
    const before = await this.get(id);
    const confirm = before && this.options.confirms?.[before.kind];
    if (before && confirm && !this.decisionRefusal(before, approverClientId) && !(await confirm(before, approverClientId))) {
      return { outcome: 'refused', reason: 'unconfirmed' };
    }
    const changed = await this.change(id, (current) => {
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
    await this.audit('approval.approved', record, `customer:${approverClientId}`, approverClientId, approver.msisdn, {
      approvals: record.approvedBy.length,
      required: record.required,
    });
    if (record.state === 'pending') {
      await this.sms(record, record.requester, 'approvedPartly', {
        approver: approver.label,
        left: record.required - record.approvedBy.length,
      });
      return { outcome: 'pending', approval: record };
    }
    // The settle job backs this hop up: if it dies here, the approval still reaches an end.
    await this.queueSettle(record, 'exec');
    return this.drive(record, this.now() + this.options.executeBudgetMs, hop);
  }

  async reject(id: string, approverClientId: number, reason: string, hop?: HopContext): Promise<DecisionResult> {
    const changed = await this.change(id, (current) => {
      const refusal = this.decisionRefusal(current, approverClientId);
      if (refusal) return refusal;
      return { ...current, state: 'rejected', reason };
    });
    if ('refused' in changed) return { outcome: 'refused', reason: changed.refused };
    const approver = changed.record.approvers.find((a) => a.clientId === approverClientId)!;
    const record = await this.closed(changed.record, `customer:${approverClientId}`, approverClientId, approver.msisdn, hop);
    return { outcome: 'rejected', approval: record };
  }

  async cancel(id: string, by: number | `operator:${string}`, reason = 'cancelled', hop?: HopContext): Promise<DecisionResult> {
    const changed = await this.change(id, (current) => {
      if (typeof by === 'number' && by !== current.requester.clientId) return 'not-approver';
      if (current.state !== 'pending' || current.expiresAt <= this.now()) return 'closed';
      return { ...current, state: 'cancelled', reason };
    });
    if ('refused' in changed) return { outcome: 'refused', reason: changed.refused };
    const actor: AuditActor = typeof by === 'number' ? `customer:${by}` : by;
    const clientId = typeof by === 'number' ? by : undefined;
    const record = await this.closed(
      changed.record,
      actor,
      clientId,
      typeof by === 'number' ? changed.record.requester.msisdn : undefined,
      hop,
    );
    return { outcome: 'cancelled', approval: record };
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    if (!/^[0-9a-f]{32}$/.test(id)) return undefined;
    const raw = await this.backend.read(id);
    return raw ? (JSON.parse(raw) as ApprovalRecord) : undefined;
  }

  /** An open approval by its short reference among those waiting for `clientId` (USSD, SMS). */
  async findWaiting(clientId: number, ref: string): Promise<ApprovalRecord | undefined> {
    return (await this.waitingFor(clientId)).find((r) => r.ref === ref.toUpperCase());
  }

  async waitingFor(clientId: number): Promise<ApprovalRecord[]> {
    const now = this.now();
    const records = await this.readAll(await this.backend.ids(this.keys.waiting(clientId), 100));
    // Filtered on the record, not the index: an expiry whose job is late is never listed as open.
    return records.filter(
      (r) =>
        r.state === 'pending' && r.expiresAt > now && r.approvers.some((a) => a.clientId === clientId) && !r.approvedBy.includes(clientId),
    );
  }

  async list(state: ApprovalState, limit = 50): Promise<ApprovalRecord[]> {
    const now = this.now();
    const records = await this.readAll(await this.backend.ids(this.keys.state(state), Math.max(1, Math.min(limit, 500))));
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
    const changed = await this.change(id, (r) => (r.state === 'pending' ? { ...r, state: 'expired', reason: 'expired' } : 'closed'));
    if ('refused' in changed) return;
    await this.closed(changed.record, 'system');
  }

  /** The `approval-warn` job: the approvers still awaited are told the expiry is near. */
  async warn(id: string): Promise<void> {
    const record = await this.get(id);
    if (!record || record.state !== 'pending' || record.expiresAt <= this.now()) return;
    for (const approver of record.approvers) if (!record.approvedBy.includes(approver.clientId)) await this.sms(record, approver, 'warn');
  }

  /**
   * The `approval-settle` job: finishes the Fineract side of an approval: drives an approved or executing one
   * to its end (throws, so the job runs again, while the transfer's outcome is unknown) and releases the hold of
   * a closed one.
   */
  async voidRequest(key: string, accountId: number): Promise<ApprovalRecord | undefined> {
    const id = approvalIdFor(key);
    const ref = approvalRefOf(id);
    if (!(await this.backend.voidUnlessCreated(id, JSON.stringify({ accountId, ref }), KEEP_AFTER_EXPIRY_MS))) return this.get(id);
    // A requester that died between its hold and its record left the hold: released once any request still
    // running must have ended (a live one that finds the void releases its own).
    await this.options.queue.add(
      APPROVAL_SETTLE_JOB,
      { id },
      { jobId: `approval-settle-${id}-void`, delayMs: this.options.settleDelayMs ?? 30_000, attempts: 12, backoffMs: 5000 },
    );
    return undefined;
  }

  raised(key: string): Promise<ApprovalRecord | undefined> {
    return this.get(approvalIdFor(key));
  }

  async settle(id: string): Promise<void> {
    const record = await this.get(id);
    if (!record) {
      const voided = await this.options.store.get(this.keys.voided(id));
      if (voided) {
        const { accountId, ref } = JSON.parse(voided) as { accountId: number; ref: string };
        await this.releaseOrphan(accountId, holdReason(ref));
      }
      return;
    }
    if (record.state === 'approved' || record.state === 'executing') {
      const result = await this.drive(record, this.now() + this.options.executeBudgetMs);
      if (result.outcome === 'processing') throw new Error('approval execution not settled yet');
      return;
    }
    if (isFinal(record.state) && record.holdId !== undefined) {
      await this.release(record);
      await this.change(id, (r) => (r.holdId === record.holdId ? { ...r, holdId: undefined } : 'closed'));
    }
  }

  // --- execution -------------------------------------------------------------------------------------------

  /**
   * approved → executing → executed | failed, safe to run from several places at once (the hop, the settle
   * job): only one caller moves approved → executing, the transfer is sent with the approval's id as its
   * idempotency key, and every later caller only reads its outcome.
   *
   * Order: the hold is released, then the balance read, then the transfer sent. Fineract counts a hold
   * against every withdrawal and transfer, the approved one too, so the hold must go before the transfer
   * can run. Between the release and the transfer a competing withdrawal (a teller, another channel) may take
   * the money: the balance read after the release fails the approval at once with `insufficient` if it did,
   * and if it happens later still, Fineract refuses the transfer and the approval fails with the same reason.
   * Either way nothing moves twice and the people concerned are told the truth; the window is two Fineract
   * calls long.
   */
  private async drive(start: ApprovalRecord, deadlineAt: number, hop?: HopContext): Promise<DecisionResult> {
    let record = start;
    if (record.state === 'approved') {
      const moved = await this.change(record.id, (r) => (r.state === 'approved' ? { ...r, state: 'executing' } : 'closed'));
      if ('refused' in moved) {
        const now = await this.get(record.id);
        if (!now || now.state !== 'executing') return this.resultOf(now);
        record = now;
      } else {
        record = moved.record;
        await this.audit('approval.executing', record, 'system');
      }
    }
    if (record.state !== 'executing') return this.resultOf(record);
    try {
      if (record.sentAt === undefined) {
        const problem = await this.recheck(record, hop);
        if (problem) return await this.fail(record, problem);
        if (record.holdId !== undefined) await this.release(record, hop);
        const { intent } = record;
        const account = await this.options.fineract.getOwnedSavingsAccount(intent.from.clientId, intent.from.accountId, { hop });
        if (!account.active) return await this.fail(record, 'inactive');
        const available = Math.round(account.availableBalance * 10 ** account.decimalPlaces);
        if (available < intent.amountCents + (record.feeCents ?? 0)) return await this.fail(record, 'insufficient');
        const marked = await this.change(record.id, (r) =>
          r.state === 'executing' && r.sentAt === undefined ? { ...r, sentAt: this.now(), holdId: undefined } : 'closed',
        );
        if ('refused' in marked) {
          const now = await this.get(record.id);
          if (!now || now.state !== 'executing' || now.sentAt === undefined) return this.resultOf(now);
          record = now;
        } else record = marked.record;
      }
      // A fee (an agent's cash-out) moves in the same transfer as the amount: one leg, one key, exactly once.
      const outcome = await this.options.transfers.execute(movementOf(record), deadlineAt, hop ? { hop } : {});
      if (outcome.status === 'done') return await this.finish(record, outcome);
      if (outcome.status === 'failed') return await this.fail(record, outcome.code);
      return { outcome: 'processing', approval: record };
    } catch (error) {
      // Fineract did not answer, or money was switched off before the transfer's first send: the settle job
      // (queued when the approval was approved) tries again; nothing was told as done or failed.
      if (!(error instanceof MoneyPaused))
        this.options.logger.warn({ approval: record.ref, err: { type: (error as Error)?.name } }, 'approval execution interrupted');
      return { outcome: 'processing', approval: (await this.get(record.id).catch(() => undefined)) ?? record };
    }
  }

  private async recheck(record: ApprovalRecord, hop: HopContext | undefined): Promise<string | undefined> {
    const check = this.options.rechecks?.[record.kind];
    return check ? check(record, hop) : undefined;
  }

  private async finish(record: ApprovalRecord, ids: FineractTransferIds): Promise<DecisionResult> {
    const fineract = {
      ...(ids.detailId !== undefined ? { transferDetailId: ids.detailId } : {}),
      ...(ids.transactionId !== undefined ? { transferTransactionId: ids.transactionId } : {}),
    };
    const changed = await this.change(record.id, (r) => (r.state === 'executing' ? { ...r, state: 'executed', ...fineract } : 'closed'));
    if ('refused' in changed) return this.resultOf(await this.get(record.id));
    const done = changed.record;
    await this.audit('approval.executed', done, 'system', undefined, undefined, fineract);
    // The requester (the intent's sender) and a customer payee get the transfer's own receipts.
    for (const approver of done.approvers) await this.sms(done, approver, 'executed');
    return { outcome: 'executed', approval: done };
  }

  private async fail(record: ApprovalRecord, reason: string): Promise<DecisionResult> {
    const changed = await this.change(record.id, (r) => (r.state === 'executing' ? { ...r, state: 'failed', reason } : 'closed'));
    if ('refused' in changed) return this.resultOf(await this.get(record.id));
    const failed = await this.closed(changed.record, 'system');
    return { outcome: 'failed', approval: failed, reason };
  }

  /**
   * After a closing transition: audit it, release the hold (the settle job, queued first, finishes it when
   * Fineract does not answer now), and tell the people concerned.
   */
  private async closed(
    record: ApprovalRecord,
    actor: AuditActor,
    clientId?: number,
    msisdn?: string,
    hop?: HopContext,
  ): Promise<ApprovalRecord> {
    const type = `approval.${record.state}` as AuditType;
    await this.audit(type, record, actor, clientId, msisdn, record.reason ? { reason: record.reason } : {});
    let current = record;
    if (record.holdId !== undefined) {
      await this.queueSettle(record, 'release');
      try {
        await this.release(record, hop);
        const cleared = await this.change(record.id, (r) => (r.holdId === record.holdId ? { ...r, holdId: undefined } : 'closed'));
        if (!('refused' in cleared)) current = cleared.record;
      } catch (error) {
        this.options.logger.warn(
          { approval: record.ref, err: { type: (error as Error)?.name } },
          'hold not released yet: the settle job retries',
        );
      }
    }
    const event = record.state as 'rejected' | 'expired' | 'cancelled' | 'failed';
    const actorClient = typeof clientId === 'number' ? clientId : undefined;
    const approverLabel = record.approvers.find((a) => a.clientId === actorClient)?.label ?? '';
    // Everyone concerned except the one who did it (they read the outcome on their screen).
    for (const party of [record.requester, ...record.approvers]) {
      if (party.clientId === actorClient) continue;
      await this.sms(current, party, event, { approver: approverLabel });
    }
    return current;
  }

  /**
   * Releases the approval's hold. Sent without an idempotency key: Fineract keeps a failed key failed for good
   * (docs/fineract.md §10), so a release refused once by a 500 could never be retried under it; the client's
   * release reads the hold first and counts an earlier release as done, which makes retries safe without one.
   */
  private async release(record: ApprovalRecord, hop?: HopContext): Promise<void> {
    if (record.holdId === undefined) return;
    await this.options.fineract.releaseAmount(record.intent.from.accountId, record.holdId, { hop });
    this.options.logger.info({ approval: record.ref, holdId: record.holdId }, 'approval hold released');
  }

  /** A hold whose placing was not answered: found by its reason and released, or left logged for an operator. */
  private async releaseOrphan(accountId: number, reason: string, hop?: HopContext): Promise<void> {
    try {
      const found = await this.options.fineract.findHold(accountId, reason, { hop });
      if (found) await this.options.fineract.releaseAmount(accountId, found.holdId, { hop });
    } catch (error) {
      this.options.logger.error(
        { accountId, reason, err: { type: (error as Error)?.name } },
        'a hold may be left on the account: an operator must look for it by its reason',
      );
    }
  }

  private async queueSettle(record: ApprovalRecord, step: 'exec' | 'release'): Promise<void> {
    await this.options.queue.add(
      APPROVAL_SETTLE_JOB,
      { id: record.id },
      { jobId: `approval-settle-${record.id}-${step}`, delayMs: this.options.settleDelayMs ?? 30_000, attempts: 12, backoffMs: 5000 },
    );
  }

  // --- records ---------------------------------------------------------------------------------------------

  /** Why `clientId` may not decide on `record` now (approve or reject), if they may not. */
  private decisionRefusal(record: ApprovalRecord, clientId: number): Refusal | undefined {
    if (record.requester.clientId === clientId) return 'own-request';
    if (!record.approvers.some((a) => a.clientId === clientId)) return 'not-approver';
    if (record.state !== 'pending' || record.expiresAt <= this.now()) return 'closed';
    return undefined;
  }

  /**
   * One compare-and-set change: reads the record, lets `decide` build the next one (or refuse), and writes it
   * only if no other change came in between; otherwise reads and decides again.
   */
  private async change(
    id: string,
    decide: (current: ApprovalRecord) => ApprovalRecord | Refusal,
  ): Promise<{ record: ApprovalRecord } | { refused: Refusal }> {
    for (let i = 0; i < CAS_TRIES; i++) {
      const current = await this.get(id);
      if (!current) return { refused: 'not-found' };
      const next = decide(current);
      if (typeof next === 'string') return { refused: next };
      const written: ApprovalRecord = { ...next, version: current.version + 1 };
      if (await this.backend.swap(current, written, this.ttlOf(written))) return { record: written };
    }
    throw new Error('approval changed too often to be written');
  }

  private ttlOf(record: ApprovalRecord): number {
    return Math.max(record.expiresAt - this.now(), 0) + KEEP_AFTER_EXPIRY_MS;
  }

  private async readAll(ids: string[]): Promise<ApprovalRecord[]> {
    const out: ApprovalRecord[] = [];
    for (const id of ids) {
      const record = await this.get(id);
      if (record) out.push(record);
    }
    return out.sort((a, b) => b.createdAt - a.createdAt);
  }

  private resultOf(record: ApprovalRecord | undefined): DecisionResult {
    if (!record) return { outcome: 'refused', reason: 'not-found' };
    switch (record.state) {
      case 'pending':
        return { outcome: 'pending', approval: record };
      case 'approved':
      case 'executing':
        return { outcome: 'processing', approval: record };
      case 'executed':
        return { outcome: 'executed', approval: record };
      case 'failed':
        return { outcome: 'failed', approval: record, reason: record.reason ?? 'rejected' };
      case 'rejected':
        return { outcome: 'rejected', approval: record };
      case 'cancelled':
        return { outcome: 'cancelled', approval: record };
      case 'expired':
        return { outcome: 'refused', reason: 'closed' };
    }
  }

  // --- telling -------------------------------------------------------------------------------------------

  private async audit(
    type: AuditType,
    record: ApprovalRecord,
    actor: AuditActor,
    clientId?: number,
    msisdn?: string,
    facts: Record<string, string | number | boolean | null> = {},
  ): Promise<void> {
    await this.options.audit
      .record({
        type,
        actor,
        ...(clientId !== undefined ? { clientId } : {}),
        ...(msisdn ? { msisdn } : {}),
        data: {
          approvalId: record.id,
          ref: record.ref,
          kind: record.kind,
          state: record.state,
          amountMinor: record.intent.amountCents,
          currency: record.intent.currency,
          fromAccountId: record.intent.from.accountId,
          toAccountId: record.intent.to.accountId,
          requesterId: record.requester.clientId,
          rule: record.rule,
          ...facts,
        },
      })
      .catch((error: unknown) => {
        this.options.logger.warn({ approval: record.ref, audit: type, err: { type: (error as Error)?.name } }, 'audit entry not written');
      });
  }

  /** Queues one SMS to one party, once per approval, event and party (the job id). */
  private async sms(
    record: ApprovalRecord,
    party: ApprovalParty,
    event: SmsEvent,
    extra: Record<string, string | number> = {},
  ): Promise<void> {
    if (!party.msisdn) return;
    const text = this.smsText(record, party, event, extra);
    await this.options.queue
      .add(SMS_JOB, { to: party.msisdn, text, ref: record.ref }, { jobId: `approval-${record.id}-${event}-${party.clientId}` })
      .catch((error: unknown) => {
        this.options.logger.warn({ approval: record.ref, event, err: { type: (error as Error)?.name } }, 'approval SMS not queued');
      });
  }

  /** The text of one SMS, in the party's language (GSM-7). Exposed for tests and the agent module. */
  smsText(record: ApprovalRecord, party: ApprovalParty, event: SmsEvent, extra: Record<string, string | number> = {}): string {
    const { translator } = this.options;
    const lang = party.lang && translator.languages.includes(party.lang) ? party.lang : translator.fallback;
    const own = `approval.sms.${record.kind}.${event}`;
    const key = translator.has(lang, own) || translator.has(translator.fallback, own) ? own : `approval.sms.${event}`;
    const reasonKey = `approval.reason.${record.reason ?? 'rejected'}`;
    const reason =
      translator.has(lang, reasonKey) || translator.has(translator.fallback, reasonKey)
        ? translator.t(lang, reasonKey)
        : translator.t(lang, 'approval.reason.rejected');
    return toGsm(
      translator.t(lang, key, {
        requester: record.requester.label,
        amount: translator.formatAmount(lang, (record.intent.amountCents + (record.feeCents ?? 0)) / 100, record.intent.currency),
        cash: translator.formatAmount(lang, record.intent.amountCents / 100, record.intent.currency),
        fee: translator.formatAmount(lang, (record.feeCents ?? 0) / 100, record.intent.currency),
        source: record.intent.senderLabel ?? record.requester.label,
        payee: record.intent.counterparty,
        dial: this.options.ussdCode,
        ref: record.ref,
        time: this.expiryText(lang, record.expiresAt),
        reason,
        ...extra,
      }),
      // A masked name ends with a dot ("Baraka O."): no second one where the sentence ends after it.
    ).replace(/\.\.(?=\s|$)/g, '.');
  }

  /** "14:30" today, "4 Dec 14:30" on another day, in the institution's time zone. */
  expiryText(lang: string, at: number): string {
    const zone = this.options.timeZone;
    const time = new Intl.DateTimeFormat(lang, { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
    const day = (t: number) =>
      new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(t);
    const date = day(at);
    return date === day(this.now()) ? time : `${this.options.translator.formatDate(lang, date)} ${time}`;
  }
}

/** The transfer an approval executes: its amount plus its fee, if any, in one movement (src/agents/fees.ts). */
function movementOf(record: ApprovalRecord): TransferIntent {
  return record.feeCents ? { ...record.intent, amountCents: record.intent.amountCents + record.feeCents } : record.intent;
}

/** Builds the approval service on the store (Redis scripts, or serialised steps in this process). */
export function createApprovalService(options: ApprovalServiceOptions): RedisApprovalService {
  return new RedisApprovalService(options);
}
