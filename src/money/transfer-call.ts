import { Counter } from 'prom-client';
import { FineractError, FineractRejected, OwnershipError, isReplayedFailure } from '../fineract/errors.js';
import { INVALID_INSTANCE_TYPE, MAKER_CHECKER_PENDING, isInsufficientFunds } from '../fineract/rejection-codes.js';
import type { HopContext } from '../session/hop-context.js';
import { toDecimal } from './amount.js';
import type { TransferNotices } from './transfer-notices.js';
import { idsOf, type TransferRecord, type TransferRecords } from './transfer-records.js';
import type { FailureCode, FineractTransferIds, TransferIntent, TransferOutcome, TransferServiceDeps } from './transfer-types.js';

/**
 * One request to Fineract for a transfer and the outcome it writes (transfer-service.ts decides when to call):
 * the intent's idempotency key sent as `Idempotency-Key`, a refusal that means "nothing moved" settled as
 * failed, a replayed answer on a key never sent before counted as a collision (threat T24), anything else
 * left uncertain for the resolution, and a final outcome written once, never overwritten (threat T9).
 */

/** The description Fineract stores with the transfer; its unique reference makes it findable. */
export function transferDescription(intent: TransferIntent): string {
  return `Kiunga ${intent.kind} ${intent.ref}`;
}

export class TransferCaller {
  /** Idempotency-key collisions, registered on /metrics with the service's other metrics. */
  readonly collisions: Counter<'reason'>;

  constructor(
    private readonly deps: TransferServiceDeps,
    private readonly records: TransferRecords,
    private readonly notices: TransferNotices,
    private readonly now: () => number,
  ) {
    this.collisions = new Counter({
      name: 'kiunga_transfer_key_collisions_total',
      help: 'Idempotency-key collisions (threat T24): a key whose record holds another intent, or a Fineract answer replayed on a key never sent before. Never reported as success; alert on any.',
      labelNames: ['reason'],
      registers: [],
    });
  }

  /** A key already used for another intent (threat T24): nothing is sent for this intent under it. */
  collision(intent: TransferIntent, reason: 'intent' | 'replayed'): TransferOutcome {
    this.collisions.inc({ reason });
    this.deps.logger.error({ transfer: intent.ref, reason }, 'idempotency key collision: not reported as success');
    return reason === 'intent' ? { status: 'failed', code: 'rejected' } : { status: 'processing' };
  }

  /**
   * One call to Fineract with the intent's idempotency key; writes the outcome it learns. Never rejects:
   * once the request may have reached Fineract, anything unknown is `processing` (the resolution settles it).
   */
  async call(intent: TransferIntent, hop: HopContext | undefined): Promise<TransferOutcome> {
    // Counted before the request: a replayed answer to the first request ever sent with a key is a collision.
    const sent = await this.records.countSent(intent.from.clientId, intent.id);
    await this.notices.audit(intent, 'money.attempt', {
      kind: intent.kind,
      amountMinor: intent.amountCents,
      currency: intent.currency,
      counterparty: intent.counterparty,
      fromAccountId: intent.from.accountId,
      toAccountId: intent.to.accountId,
      toType: intent.to.type,
      send: sent,
    });
    let result: { detailId: number; replayed?: boolean };
    try {
      result = await this.deps.fineract.transfer(
        {
          from: intent.from,
          to: intent.to,
          amount: toDecimal(intent.amountCents),
          description: transferDescription(intent),
          idempotencyKey: intent.id,
          ...(intent.checked ? { checked: intent.checked } : {}),
        },
        { hop },
      );
    } catch (error) {
      const code = failureCode(error);
      // A stored failure replayed on a key never sent before is another request's answer (threat T24); it
      // still means this request did not run: nothing moved for this intent.
      if (code && isReplayedFailure(error) && sent === 1) this.collision(intent, 'replayed');
      if (code) {
        try {
          return await this.settle(intent, { status: 'failed', code }, hop);
        } catch (storeError) {
          // Refused, but not written: the resolution (a replay with the same key) settles and tells by SMS.
          this.deps.logger.warn({ transfer: intent.ref, err: { type: (storeError as Error)?.name } }, 'transfer refusal not recorded');
          return { status: 'processing' };
        }
      }
      this.deps.logger.warn({ transfer: intent.ref, err: { type: (error as Error).name } }, 'transfer outcome uncertain');
      await this.mark(intent, 'uncertain').catch(() => undefined);
      await this.notices.audit(intent, 'money.outcome', { status: 'processing' });
      return { status: 'processing' };
    }
    if (result.replayed && sent === 1) {
      // Fineract answered from its idempotency store on a key Kiunga never sent before: another movement's answer.
      await this.mark(intent, 'uncertain', { collision: true }).catch(() => undefined);
      await this.notices.audit(intent, 'money.outcome', { status: 'processing', collision: true });
      return this.collision(intent, 'replayed');
    }
    try {
      return await this.settle(intent, { status: 'done', detailId: result.detailId }, hop);
    } catch (storeError) {
      // Fineract moved the money: that is known. The queued resolution finds it and sends the receipt.
      this.deps.logger.warn({ transfer: intent.ref, err: { type: (storeError as Error)?.name } }, 'transfer done but not recorded yet');
      return { status: 'done', detailId: result.detailId };
    }
  }

  async handOver(intent: TransferIntent): Promise<TransferOutcome> {
    await this.mark(intent, 'uncertain').catch(() => undefined);
    this.deps.logger.info({ transfer: intent.ref }, 'transfer handed over to the background');
    return { status: 'processing' };
  }

  /** Writes a final outcome once; a final outcome is never overwritten. Releases the daily reservation on failure. */
  async settle(
    intent: TransferIntent,
    outcome: ({ status: 'done' } & FineractTransferIds) | { status: 'failed'; code: FailureCode },
    hop?: HopContext,
  ): Promise<TransferOutcome> {
    const settled = await this.records.locked(intent.from.clientId, intent.id, async (current) => {
      if (current?.status === 'done') return { outcome: { status: 'done' as const, ...idsOf(current) }, current };
      if (current?.status === 'failed') return { outcome: { status: 'failed', code: current.code! } as const, current };
      const record: TransferRecord = {
        intent,
        status: outcome.status,
        ...(outcome.status === 'done' ? idsOf(outcome) : {}),
        code: outcome.status === 'failed' ? outcome.code : undefined,
        date: current?.date,
        listed: current?.listed,
        ...(current?.told ? { told: true } : {}),
        createdAt: current?.createdAt ?? this.now(),
        updatedAt: this.now(),
      };
      await this.records.write(record);
      if (outcome.status === 'failed') await this.records.addToDaily(this.records.dailyKey(intent.from.clientId), -intent.amountCents);
      this.deps.logger.info({ transfer: intent.ref, kind: intent.kind, status: outcome.status }, 'transfer settled');
      return { outcome, current: record, written: true };
    });
    if (settled.current?.listed) await this.records.unlist([`${intent.from.clientId}:${intent.id}`]).catch(() => undefined);
    if ('written' in settled) {
      await this.notices.audit(
        intent,
        'money.outcome',
        outcome.status === 'done' ? { status: 'done', ...idsOf(outcome) } : { status: 'failed', reason: outcome.code },
      );
    }
    if ('written' in settled && settled.outcome.status === 'done' && this.deps.afterDone) {
      await this.deps.afterDone(intent, hop).catch((error: unknown) => {
        this.deps.logger.warn(
          { transfer: intent.ref, err: { type: (error as Error)?.name } },
          'step-up records not updated after a transfer',
        );
      });
    }
    return settled.outcome;
  }

  async mark(intent: TransferIntent, status: 'uncertain', flags: { collision?: boolean } = {}): Promise<void> {
    const marked = await this.records.locked(intent.from.clientId, intent.id, async (current) => {
      if (!current || current.status === 'done' || current.status === 'failed') return undefined;
      const next: TransferRecord = { ...current, ...flags, status, updatedAt: this.now() };
      await this.records.write(next);
      return next;
    });
    if (marked) await this.records.list(marked);
  }
}

/** Fineract's refusals that mean "nothing moved"; anything else leaves the outcome uncertain. */
export function failureCode(error: unknown): FailureCode | undefined {
  if (error instanceof OwnershipError) return 'forbidden';
  if (!(error instanceof FineractError)) return undefined;
  if (error instanceof FineractRejected) {
    // InsufficientAccountBalanceException, with or without a withdrawal fee (`...balance.withdraw`).
    if (isInsufficientFunds(error)) return 'insufficient';
    if (error.code === 'error.msg.savingsaccount.transaction.account.is.not.active') return 'inactive';
    // A write sent to a read replica did not run, and one parked for maker-checker may still run when
    // approved: neither is a failure the customer may be told about, both stay uncertain.
    if (error.code === INVALID_INSTANCE_TYPE || error.code === MAKER_CHECKER_PENDING) return undefined;
    return 'rejected';
  }
  if (error.kind === 'not-found' || error.kind === 'unauthorized') return 'rejected';
  return undefined;
}
