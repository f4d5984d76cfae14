import type { Logger } from 'pino';
import type { JobQueue } from '../jobs/queue.js';
import { SMS_JOB } from '../jobs/catalogue.js';
import type { AuditActor, AuditTrail, AuditType } from '../audit/audit.js';
import type { Translator } from '../text/i18n.js';
import { toGsm } from '../text/gsm.js';
import type { ApprovalParty, ApprovalRecord } from './approval.js';

/**
 * What an approval tells others once approval-service.ts has decided: its audit entries (`approval.<state>`)
 * and the SMS to the requester and the approvers, in each one's language.
 */

/** What each transition tells, by SMS key (`approval.sms.<event>`; a kind may have its own `approval.sms.<kind>.<event>`). */
export type SmsEvent = 'requested' | 'approvedPartly' | 'rejected' | 'expired' | 'cancelled' | 'executed' | 'failed' | 'warn';

export interface ApprovalNoticesDeps {
  queue: JobQueue;
  translator: Translator;
  audit: AuditTrail;
  logger: Logger;
  /** TIMEZONE: expiry times in SMS are local times. */
  timeZone: string;
  /** The USSD code told in SMS ("Dial *384*123# > Approvals"). */
  ussdCode: string;
  now: () => number;
}

export class ApprovalNotices {
  constructor(private readonly deps: ApprovalNoticesDeps) {}

  /** Writes one audit entry about `record` (never the caller's failure: a lost entry is logged). */
  async audit(
    type: AuditType,
    record: ApprovalRecord,
    actor: AuditActor,
    clientId?: number,
    msisdn?: string,
    facts: Record<string, string | number | boolean | null> = {},
  ): Promise<void> {
    await this.deps.audit
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
        this.deps.logger.warn({ approval: record.ref, audit: type, err: { type: (error as Error)?.name } }, 'audit entry not written');
      });
  }

  /** Queues one SMS to one party, once per approval, event and party (the job id). */
  async sms(record: ApprovalRecord, party: ApprovalParty, event: SmsEvent, extra: Record<string, string | number> = {}): Promise<void> {
    if (!party.msisdn) return;
    const text = this.smsText(record, party, event, extra);
    await this.deps.queue
      .add(SMS_JOB, { to: party.msisdn, text, ref: record.ref }, { jobId: `approval-${record.id}-${event}-${party.clientId}` })
      .catch((error: unknown) => {
        this.deps.logger.warn({ approval: record.ref, event, err: { type: (error as Error)?.name } }, 'approval SMS not queued');
      });
  }

  /** The text of one SMS, in the party's language (GSM-7). */
  smsText(record: ApprovalRecord, party: ApprovalParty, event: SmsEvent, extra: Record<string, string | number> = {}): string {
    const { translator } = this.deps;
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
        dial: this.deps.ussdCode,
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
    const zone = this.deps.timeZone;
    const time = new Intl.DateTimeFormat(lang, { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
    const day = (t: number) =>
      new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(t);
    const date = day(at);
    return date === day(this.deps.now()) ? time : `${this.deps.translator.formatDate(lang, date)} ${time}`;
  }
}
