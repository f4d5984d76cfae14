import type { Logger } from 'pino';
import type { JobQueue } from '../jobs/queue.js';
import { APPROVAL_SETTLE_JOB } from '../jobs/catalogue.js';
import type { AuditActor, AuditType } from '../audit/audit.js';
import { MoneyPaused, type FineractTransferIds, type TransferIntent } from '../money/transfer-types.js';
import type { HopContext } from '../session/hop-context.js';
import type { ApprovalNotices } from './approval-notices.js';
import type { ApprovalRecords } from './approval-records.js';
import { holdReason } from './approval-refs.js';
import { isFinal } from './approval-store.js';
import type { ApprovalFineract, ApprovalKind, ApprovalRecheck, ApprovalRecord, ApprovalTransfers, DecisionResult } from './approval.js';

/**
 * The Fineract side of an approval once approval-service.ts has decided: its execution (approved → executing
 * → executed | failed), the release of a closed approval's hold (or of an orphan hold found by its reason),
 * and the `approval-settle` job, queued before every step that talks to Fineract, which finishes what a crash
 * or an unanswered call left undone: a hold is never left behind and an approved approval always reaches an end.
 */

export interface ApprovalExecutionDeps {
  fineract: ApprovalFineract;
  transfers: ApprovalTransfers;
  queue: JobQueue;
  logger: Logger;
  /** Checks run just before executing, per kind (the mandate registry, the agent registry). */
  rechecks?: Partial<Record<ApprovalKind, ApprovalRecheck>>;
  /** How long an approval's execution may wait for Fineract within the approver's hop. */
  executeBudgetMs: number;
  /** Delay before the settle job checks on a step that talks to Fineract (default 30 s). */
  settleDelayMs?: number;
  now: () => number;
}

export class ApprovalExecution {
  constructor(
    private readonly records: ApprovalRecords,
    private readonly notices: ApprovalNotices,
    private readonly deps: ApprovalExecutionDeps,
  ) {}

  /**
   * The `approval-settle` job: finishes the Fineract side of an approval: drives an approved or executing one
   * to its end (throws, so the job runs again, while the transfer's outcome is unknown) and releases the hold of
   * a closed one (or, for a voided request, the hold a requester that died may have left).
   */
  async settle(id: string): Promise<void> {
    const record = await this.records.get(id);
    if (!record) {
      const voided = await this.records.voidMark(id);
      if (voided) {
        const { accountId, ref } = JSON.parse(voided) as { accountId: number; ref: string };
        await this.releaseOrphan(accountId, holdReason(ref));
      }
      return;
    }
    if (record.state === 'approved' || record.state === 'executing') {
      const result = await this.drive(record, this.deps.now() + this.deps.executeBudgetMs);
      if (result.outcome === 'processing') throw new Error('approval execution not settled yet');
      return;
    }
    if (isFinal(record.state) && record.holdId !== undefined) {
      await this.release(record);
      await this.records.change(id, (r) => (r.holdId === record.holdId ? { ...r, holdId: undefined } : 'closed'));
    }
  }

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
  async drive(start: ApprovalRecord, deadlineAt: number, hop?: HopContext): Promise<DecisionResult> {
    const { records } = this;
    let record = start;
    if (record.state === 'approved') {
      const moved = await records.change(record.id, (r) => (r.state === 'approved' ? { ...r, state: 'executing' } : 'closed'));
      if ('refused' in moved) {
        const now = await records.get(record.id);
        if (!now || now.state !== 'executing') return resultOf(now);
        record = now;
      } else {
        record = moved.record;
        await this.notices.audit('approval.executing', record, 'system');
      }
    }
    if (record.state !== 'executing') return resultOf(record);
    try {
      if (record.sentAt === undefined) {
        const problem = await this.recheck(record, hop);
        if (problem) return await this.fail(record, problem);
        if (record.holdId !== undefined) await this.release(record, hop);
        const { intent } = record;
        const account = await this.deps.fineract.getOwnedSavingsAccount(intent.from.clientId, intent.from.accountId, { hop });
        if (!account.active) return await this.fail(record, 'inactive');
        const available = Math.round(account.availableBalance * 10 ** account.decimalPlaces);
        if (available < intent.amountCents + (record.feeCents ?? 0)) return await this.fail(record, 'insufficient');
        const marked = await records.change(record.id, (r) =>
          r.state === 'executing' && r.sentAt === undefined ? { ...r, sentAt: this.deps.now(), holdId: undefined } : 'closed',
        );
        if ('refused' in marked) {
          const now = await records.get(record.id);
          if (!now || now.state !== 'executing' || now.sentAt === undefined) return resultOf(now);
          record = now;
        } else record = marked.record;
      }
      // A fee (an agent's cash-out) moves in the same transfer as the amount: one leg, one key, exactly once.
      const outcome = await this.deps.transfers.execute(movementOf(record), deadlineAt, hop ? { hop } : {});
      if (outcome.status === 'done') return await this.finish(record, outcome);
      if (outcome.status === 'failed') return await this.fail(record, outcome.code);
      return { outcome: 'processing', approval: record };
    } catch (error) {
      // Fineract did not answer, or money was switched off before the transfer's first send: the settle job
      // (queued when the approval was approved) tries again; nothing was told as done or failed.
      if (!(error instanceof MoneyPaused))
        this.deps.logger.warn({ approval: record.ref, err: { type: (error as Error)?.name } }, 'approval execution interrupted');
      return { outcome: 'processing', approval: (await records.get(record.id).catch(() => undefined)) ?? record };
    }
  }

  /**
   * After a closing transition: audit it, release the hold (the settle job, queued first, finishes it when
   * Fineract does not answer now), and tell the people concerned.
   */
  async closed(record: ApprovalRecord, actor: AuditActor, clientId?: number, msisdn?: string, hop?: HopContext): Promise<ApprovalRecord> {
    const type = `approval.${record.state}` as AuditType;
    await this.notices.audit(type, record, actor, clientId, msisdn, record.reason ? { reason: record.reason } : {});
    let current = record;
    if (record.holdId !== undefined) {
      await this.queueSettle(record.id, 'release');
      try {
        await this.release(record, hop);
        const cleared = await this.records.change(record.id, (r) => (r.holdId === record.holdId ? { ...r, holdId: undefined } : 'closed'));
        if (!('refused' in cleared)) current = cleared.record;
      } catch (error) {
        this.deps.logger.warn(
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
      await this.notices.sms(current, party, event, { approver: approverLabel });
    }
    return current;
  }

  /**
   * Releases the approval's hold. Sent without an idempotency key: Fineract keeps a failed key failed for good
   * (docs/fineract.md §10), so a release refused once by a 500 could never be retried under it; the client's
   * release reads the hold first and counts an earlier release as done, which makes retries safe without one.
   */
  async release(record: ApprovalRecord, hop?: HopContext): Promise<void> {
    if (record.holdId === undefined) return;
    await this.deps.fineract.releaseAmount(record.intent.from.accountId, record.holdId, { hop });
    this.deps.logger.info({ approval: record.ref, holdId: record.holdId }, 'approval hold released');
  }

  /** A hold whose placing was not answered: found by its reason and released, or left logged for an operator. */
  async releaseOrphan(accountId: number, reason: string, hop?: HopContext): Promise<void> {
    try {
      const found = await this.deps.fineract.findHold(accountId, reason, { hop });
      if (found) await this.deps.fineract.releaseAmount(accountId, found.holdId, { hop });
    } catch (error) {
      this.deps.logger.error(
        { accountId, reason, err: { type: (error as Error)?.name } },
        'a hold may be left on the account: an operator must look for it by its reason',
      );
    }
  }

  /** Queues the `approval-settle` job of one step of an approval (one job per approval and step). */
  async queueSettle(id: string, step: 'exec' | 'release' | 'void'): Promise<void> {
    await this.deps.queue.add(
      APPROVAL_SETTLE_JOB,
      { id },
      { jobId: `approval-settle-${id}-${step}`, delayMs: this.deps.settleDelayMs ?? 30_000, attempts: 12, backoffMs: 5000 },
    );
  }

  private async recheck(record: ApprovalRecord, hop: HopContext | undefined): Promise<string | undefined> {
    const check = this.deps.rechecks?.[record.kind];
    return check ? check(record, hop) : undefined;
  }

  private async finish(record: ApprovalRecord, ids: FineractTransferIds): Promise<DecisionResult> {
    const fineract = {
      ...(ids.detailId !== undefined ? { transferDetailId: ids.detailId } : {}),
      ...(ids.transactionId !== undefined ? { transferTransactionId: ids.transactionId } : {}),
    };
    const changed = await this.records.change(record.id, (r) =>
      r.state === 'executing' ? { ...r, state: 'executed', ...fineract } : 'closed',
    );
    if ('refused' in changed) return resultOf(await this.records.get(record.id));
    const done = changed.record;
    await this.notices.audit('approval.executed', done, 'system', undefined, undefined, fineract);
    // The requester (the intent's sender) and a customer payee get the transfer's own receipts.
    for (const approver of done.approvers) await this.notices.sms(done, approver, 'executed');
    return { outcome: 'executed', approval: done };
  }

  private async fail(record: ApprovalRecord, reason: string): Promise<DecisionResult> {
    const changed = await this.records.change(record.id, (r) => (r.state === 'executing' ? { ...r, state: 'failed', reason } : 'closed'));
    if ('refused' in changed) return resultOf(await this.records.get(record.id));
    const failed = await this.closed(changed.record, 'system');
    return { outcome: 'failed', approval: failed, reason };
  }
}

/** What a decision answers about an approval another caller moved on: its state as a result. */
function resultOf(record: ApprovalRecord | undefined): DecisionResult {
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

/** The transfer an approval executes: its amount plus its fee, if any, in one movement (src/agents/fees.ts). */
function movementOf(record: ApprovalRecord): TransferIntent {
  return record.feeCents ? { ...record.intent, amountCents: record.intent.amountCents + record.feeCents } : record.intent;
}
