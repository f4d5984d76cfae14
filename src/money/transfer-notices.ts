import { RESOLVE_JOB, SMS_JOB } from '../jobs/catalogue.js';
import type { AuditEvent } from '../audit/audit.js';
import type { TransferRecords } from './transfer-records.js';
import type { TransferIntent, TransferServiceDeps } from './transfer-types.js';

/**
 * What a transfer tells others once transfer-service.ts has decided: its resolution job, the customer's SMS
 * (the receipts of a settled transfer, queued once; the notice of one left unconfirmed) and its audit entries.
 */
export class TransferNotices {
  constructor(
    private readonly records: TransferRecords,
    private readonly deps: Pick<TransferServiceDeps, 'queue' | 'receipts' | 'audit' | 'logger' | 'callMaxMs'>,
  ) {}

  /** Queues the transfer's resolution, to run once its call must have ended (one job per intent). */
  async scheduleResolution(intent: TransferIntent): Promise<void> {
    await this.deps.queue.add(
      RESOLVE_JOB,
      { clientId: intent.from.clientId, id: intent.id },
      { delayMs: this.deps.callMaxMs + 1000, jobId: `resolve-${intent.id}`, attempts: 12, backoffMs: 2000 },
    );
  }

  /**
   * Queues the SMS receipts of a settled transfer, once. The jobs are queued first and the `notified` mark set
   * after: a run that dies (or is cut off from Redis) between the two leaves the jobs and no mark, and the next
   * run (the resolution's) queues them again under the same job ids, which the queue takes once. The other
   * order would leave a mark and no SMS.
   */
  async notify(clientId: number, id: string): Promise<void> {
    // Both reads in one round trip (the store's client pipelines commands sent together).
    const [record, notified] = await Promise.all([this.records.read(clientId, id), this.records.isMarked(clientId, id, 'notified')]);
    if (!record || (record.status !== 'done' && record.status !== 'failed')) return;
    if (record.status === 'failed' && record.shown) return; // the customer read it on screen
    if (notified) return;
    const { intent } = record;
    const { receipts, queue } = this.deps;
    // Job ids derive from the intent's random key: a receipt is never deduplicated against another movement's.
    if (record.status === 'done') {
      if (!intent.cash) {
        await queue.add(SMS_JOB, { to: intent.msisdn, text: receipts.senderDone(intent), ref: intent.ref }, { jobId: `sms-${id}-s` });
      }
      if (intent.recipientMsisdn) {
        await queue.add(
          SMS_JOB,
          { to: intent.recipientMsisdn, text: receipts.recipientDone(intent), ref: intent.ref },
          { jobId: `sms-${id}-r` },
        );
      }
    } else {
      // A failure settled after the customer stopped waiting (or without a screen) is told by SMS.
      await queue.add(
        SMS_JOB,
        { to: intent.msisdn, text: receipts.senderFailed(intent, record.code!), ref: intent.ref },
        { jobId: `sms-${id}-f` },
      );
    }
    await this.records.markOnce(clientId, id, 'notified');
  }

  /** Tells the sender a transfer past the resolution's maximum age was not confirmed (the caller tells once). */
  async unconfirmed(intent: TransferIntent): Promise<void> {
    await this.deps.queue.add(
      SMS_JOB,
      { to: intent.msisdn, text: this.deps.receipts.senderUnconfirmed(intent), ref: intent.ref },
      { jobId: `sms-${intent.id}-u` },
    );
  }

  /** Records a money movement's attempt or outcome in the audit trail (threat T16); never the caller's failure. */
  async audit(intent: TransferIntent, type: 'money.attempt' | 'money.outcome', facts: NonNullable<AuditEvent['data']>) {
    await this.deps.audit
      ?.record({
        type,
        actor: `customer:${intent.from.clientId}`,
        clientId: intent.from.clientId,
        msisdn: intent.msisdn,
        data: { idempotencyKey: intent.id, ref: intent.ref, ...facts },
      })
      .catch((error: unknown) => {
        this.deps.logger.warn({ transfer: intent.ref, audit: type, err: { type: (error as Error)?.name } }, 'audit entry not written');
      });
  }
}
