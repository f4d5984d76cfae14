import { z } from 'zod';
import { keyedHash } from '../security/secrets.js';
import { maskMsisdn } from '../logger.js';
import type { JobQueue } from '../jobs/queue.js';
import { SMS_JOB } from '../jobs/catalogue.js';
import { plain, type Answer, type ChannelAdapter, type ChannelRoute, type Hop } from './adapter.js';
import { answerSms, MAX_SMS_TEXT, MESSAGE_ID, type InboundSms, type SmsConversationOptions } from './sms-inbound.js';

/**
 * Africa's Talking SMS: `POST /channels/africastalking/sms` receives a message (form: from, to, text, date, id,
 * linkId, networkCode), runs it through the `sms` flow and queues the reply for the messenger; AT gets 200 as
 * soon as the reply is queued (within the hop deadline). A retry of the same message id is answered from the
 * session record and queued under the same job id, so the customer gets one reply. `linkId` (premium and
 * on-demand short codes) travels with the reply job, with the short code and the service keyword (AT_SMS_KEYWORD,
 * also dropped from the start of inbound messages): AT refuses a premium reply without them.
 * `POST /channels/africastalking/sms/delivery` takes delivery reports. AT signs nothing: AT_CALLBACK_KEY (T1).
 * https://developers.africastalking.com/docs/sms/notifications
 */

/** Data of an `sms` job (SMS_JOB). `linkId`, `shortCode` and `keyword` only for a reply to a premium / on-demand message. */
export interface SmsJobData {
  to: string;
  text: string;
  ref?: string;
  /** AT `linkId` of the inbound message: must be sent back with the reply (premium SMS). */
  linkId?: string;
  /** The short code the customer wrote to (AT `to`), the sender of a premium reply. */
  shortCode?: string;
  /** The service keyword on the short code (AT_SMS_KEYWORD), required by AT for a premium reply. */
  keyword?: string;
  [key: string]: unknown;
}

export interface AtSmsOptions extends SmsConversationOptions {
  queue: JobQueue;
  /** AT_SMS_KEYWORD: the service's keyword on a shared or premium short code. */
  serviceKeyword?: string;
}

/** `KIUNGA BAL 1234` → `BAL 1234` when KIUNGA is the service keyword of the short code (any case, any spacing). */
export function withoutServiceKeyword(text: string, keyword: string | undefined): string {
  if (!keyword) return text;
  const m = /^\s*(\S+)(?:\s+|$)/u.exec(text);
  return m && m[1]!.toUpperCase() === keyword.toUpperCase() ? text.slice(m[0].length) : text;
}

const LINK_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
const SHORT_CODE = /^\+?[A-Za-z0-9]{1,20}$/;
const DELIVERY_STATUS = /^[A-Za-z]{1,20}$/;

const atSmsForm = z.object({
  from: z.string().min(1),
  to: z.string().optional(),
  text: z.string().optional(),
  id: z.string().regex(MESSAGE_ID),
  linkId: z.string().optional(),
});
const atDeliveryForm = z.object({
  id: z.string().regex(MESSAGE_ID),
  status: z.string().regex(DELIVERY_STATUS),
  phoneNumber: z.string().optional(),
  failureReason: z.string().optional(),
});
const badRequest = plain('bad request', 400);

type Form = z.infer<typeof atSmsForm>;

/** An inbound AT message as the SMS conversation takes it, with what a premium reply must carry back. */
export interface AtInboundSms extends InboundSms {
  linkId?: string;
  /** The short code the customer wrote to (AT `to`). */
  to?: string;
}

export function africastalkingSms(options: AtSmsOptions): ChannelAdapter<AtInboundSms, { msisdn: string; text: string }, SmsJobData> {
  const { queue, secret } = options;
  /** The notification as the SMS conversation takes it (the service keyword dropped). */
  const toInbound = (f: Form): AtInboundSms => ({
    provider: 'at',
    messageId: f.id,
    from: f.from,
    text: withoutServiceKeyword(f.text ?? '', options.serviceKeyword),
    // AT's SDK sends the string "undefined" for an omitted linkId; it is no link id.
    linkId: f.linkId && f.linkId !== 'undefined' && LINK_ID.test(f.linkId) ? f.linkId : undefined,
    to: f.to,
  });
  /** The reply as AT's messenger sends it: a premium reply carries the link id, short code and keyword back. */
  const render = (reply: { msisdn: string; text: string }, sms: AtInboundSms): SmsJobData => ({
    to: reply.msisdn,
    text: reply.text,
    ref: `at:${sms.messageId}`,
    ...(sms.linkId
      ? {
          linkId: sms.linkId,
          ...(sms.to && SHORT_CODE.test(sms.to) ? { shortCode: sms.to } : {}),
          ...(options.serviceKeyword ? { keyword: options.serviceKeyword } : {}),
        }
      : {}),
  });

  /** One inbound SMS: the flow's reply queued for the messenger (`paused`: that text instead, no flow runs). */
  const serve = async (hop: Hop, fields: Form, paused?: string): Promise<Answer> => {
    const sms = toInbound(fields);
    const id = sms.messageId;
    if (sms.text.length > MAX_SMS_TEXT) {
      hop.log.warn({ invalid: ['text'] }, 'malformed SMS notification refused');
      return badRequest;
    }
    const outcome = await answerSms(options, hop, sms, paused);
    // Abuse limit: no SMS is sent (a spoofed sender must not turn into SMS to a victim), 429 to AT.
    if (outcome.kind === 'refused') return plain('too many requests', 429);
    if (outcome.kind !== 'reply') {
      hop.log.info({ message: id, outcome: outcome.kind }, 'inbound SMS not answered');
      return plain('OK');
    }
    const job = render(outcome, sms);
    try {
      // One reply per message id, even when AT retries the notification (jobs are deduplicated by id).
      await queue.add(SMS_JOB, job, { jobId: `sms-reply-${keyedHash(secret, `at:${id}`).slice(0, 40)}` });
    } catch (error) {
      // AT retries a notification that failed: the retry is answered from the session record.
      hop.log.warn({ message: id, err: { type: (error as Error)?.name } }, 'SMS reply could not be queued');
      return plain('try again', 503);
    }
    return plain('OK');
  };

  const inbound: ChannelRoute<Form> = {
    path: '/channels/africastalking/sms',
    label: 'at-sms',
    form: atSmsForm,
    unsupported: plain('expected application/x-www-form-urlencoded', 415),
    invalid: () => badRequest,
    invalidLog: 'malformed SMS notification refused',
    handle: (hop, fields) => serve(hop, fields),
    // Switched off: the maintenance text as the reply, within the same limits as any reply.
    paused: { channel: 'sms', answer: (hop, fields) => serve(hop, fields, options.maintenanceText?.() ?? '') },
  };

  const delivery: ChannelRoute<z.infer<typeof atDeliveryForm>> = {
    path: '/channels/africastalking/sms/delivery',
    label: 'at-sms-delivery',
    form: atDeliveryForm,
    invalid: () => badRequest,
    async handle(hop, fields) {
      const failed = fields.status === 'Failed' || fields.status === 'Rejected';
      hop.log[failed ? 'warn' : 'info'](
        {
          message: fields.id,
          status: fields.status,
          failureReason: fields.failureReason && DELIVERY_STATUS.test(fields.failureReason) ? fields.failureReason : undefined,
          msisdn: fields.phoneNumber ? maskMsisdn(fields.phoneNumber) : undefined,
        },
        'SMS delivery report',
      );
      return plain('OK');
    },
  };
  return {
    name: 'africastalking-sms',
    verify: 'callback-key',
    routes: [inbound as ChannelRoute<never>, delivery as ChannelRoute<never>],
    toInbound,
    render,
  };
}
