import type { Messenger, OutboundSms } from './messenger.js';
import type { AfricasTalkingApi } from './africastalking-sdk.js';
import {
  PermanentDeliveryError,
  TransientDeliveryError,
  isTransientHttpStatus,
  shortReason,
  withDeliveryTimeout,
  type DeliveryKind,
} from './errors.js';

/**
 * SMS through Africa's Talking (`AT.SMS.send`, one recipient per message; `AT.SMS.sendPremium` for a reply to
 * a premium on-demand message, when the job carries its `linkId` and `keyword`).
 *
 * Success is HTTP 201 with a per-recipient `statusCode` (AT's SMS API): 100 Processed, 101 Sent and
 * 102 Queued mean AT accepted the message; any other code is a failure, permanent or not by its meaning:
 *
 * | code | status | here |
 * |---|---|---|
 * | 401 | RiskHold | transient (AT reviews the account) |
 * | 402 | InvalidSenderId | permanent (fix AT_SENDER_ID) |
 * | 403 | InvalidPhoneNumber | permanent |
 * | 404 | UnsupportedNumberType | permanent |
 * | 405 | InsufficientBalance | transient (top-up) |
 * | 406 | UserInBlacklist | permanent |
 * | 407 | CouldNotRoute | permanent |
 * | 409 | DoNotDisturbRejection | permanent |
 * | 500, 501 | InternalServerError, GatewayError | transient |
 * | 502 | RejectedByGateway | permanent |
 * | other | | transient (bounded by the job's attempts) |
 */

const PROVIDER = 'africastalking';
const ACCEPTED = new Set([100, 101, 102]);
const PERMANENT_SMS_CODES = new Set([402, 403, 404, 406, 407, 409, 502]);

export interface AfricasTalkingMessengerOptions {
  sdk: AfricasTalkingApi;
  /** Sender ID or short code (AT_SENDER_ID); unset: AT's default sender. */
  from?: string;
  /** Longest wait for AT's answer (the SDK sets none); default 10,000 ms. */
  timeoutMs?: number;
}

export class AfricasTalkingMessenger implements Messenger {
  readonly provider = PROVIDER;
  constructor(private readonly options: AfricasTalkingMessengerOptions) {}

  async send(sms: OutboundSms): Promise<{ id: string }> {
    const { sdk, from, timeoutMs = 10_000 } = this.options;
    const premium = sms.linkId && sms.keyword;
    const sending = premium
      ? sdk.SMS.sendPremium({
          to: [sms.to],
          message: sms.text,
          keyword: sms.keyword!,
          linkId: sms.linkId!,
          ...(sms.shortCode ? { from: sms.shortCode } : {}),
        })
      : sdk.SMS.send({ to: [sms.to], message: sms.text, ...(from ? { from } : {}) });
    let answer: unknown;
    try {
      answer = await withDeliveryTimeout(sending, timeoutMs, PROVIDER, 'sms');
    } catch (err) {
      // Another 2xx than 201 rejects with the body itself: judge it like a 201.
      if (isSmsAnswer(err)) return smsOutcome(err);
      throw atFailure(err, 'sms');
    }
    return smsOutcome(answer);
  }
}

interface SmsAnswer {
  SMSMessageData: { Message?: unknown; Recipients?: unknown };
}

function isSmsAnswer(value: unknown): value is SmsAnswer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SmsAnswer).SMSMessageData === 'object' &&
    (value as SmsAnswer).SMSMessageData !== null
  );
}

/** The message id when AT accepted the (single) recipient; a Transient/PermanentDeliveryError otherwise. */
export function smsOutcome(answer: unknown): { id: string } {
  if (!isSmsAnswer(answer)) throw new TransientDeliveryError(PROVIDER, 'sms', 'unexpected answer');
  const recipients = answer.SMSMessageData.Recipients;
  const first = Array.isArray(recipients) ? (recipients[0] as Record<string, unknown> | undefined) : undefined;
  if (!first || typeof first !== 'object') {
    // No recipient line: the whole request was refused; `Message` says why (e.g. "InvalidSenderId").
    const message = shortReason(answer.SMSMessageData.Message);
    if (/InvalidSenderId/i.test(message)) throw new PermanentDeliveryError(PROVIDER, 'sms', message);
    throw new TransientDeliveryError(PROVIDER, 'sms', `no recipient in answer (${message})`);
  }
  const code = Number(first.statusCode);
  const reason = `${Number.isFinite(code) ? code : '?'} ${shortReason(first.status)}`.trim();
  if (ACCEPTED.has(code)) {
    const id = typeof first.messageId === 'string' && first.messageId ? first.messageId : 'unknown';
    return { id };
  }
  if (PERMANENT_SMS_CODES.has(code)) throw new PermanentDeliveryError(PROVIDER, 'sms', reason);
  throw new TransientDeliveryError(PROVIDER, 'sms', reason);
}

/**
 * Maps what the SDK rejected with: an axios error (HTTP status or no answer), the SDK's own validation (an
 * `Error` for SMS, a string for voice: the request can never succeed), or our timeout.
 */
export function atFailure(err: unknown, kind: DeliveryKind): Error {
  if (err instanceof TransientDeliveryError || err instanceof PermanentDeliveryError) return err;
  if (typeof err === 'string') return new PermanentDeliveryError(PROVIDER, kind, 'invalid request (SDK validation)');
  const axiosLike = err as { isAxiosError?: boolean; response?: { status?: unknown }; code?: unknown };
  if (axiosLike && typeof axiosLike === 'object' && axiosLike.isAxiosError) {
    const status = axiosLike.response?.status;
    if (typeof status === 'number') {
      return isTransientHttpStatus(status)
        ? new TransientDeliveryError(PROVIDER, kind, `HTTP ${status}`)
        : new PermanentDeliveryError(PROVIDER, kind, `HTTP ${status}`);
    }
    return new TransientDeliveryError(PROVIDER, kind, `no answer (${shortReason(axiosLike.code) || 'network'})`);
  }
  if (err instanceof Error) return new PermanentDeliveryError(PROVIDER, kind, 'invalid request (SDK validation)');
  return new TransientDeliveryError(PROVIDER, kind, 'unexpected failure');
}
