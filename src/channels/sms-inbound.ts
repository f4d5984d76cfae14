import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import { keyedHash } from '../security/secrets.js';
import { maskMsisdn } from '../logger.js';
import type { ChannelDeps } from './channel-deps.js';
import type { AbuseBucket } from '../limits/abuse.js';
import { withinReplyCap } from '../sms/reply-cap.js';
import type { Hop } from './adapter.js';

/**
 * What both SMS webhooks (Africa's Talking, Twilio) share: one inbound message is one short conversation of
 * the flow whose channels list `sms`, on a fresh session named after the provider's message id, so a provider
 * retry of the same message gets the recorded reply without running anything again (the runner's hop
 * replay). The customer is the sender's number. The message text (which may carry a PIN) is never logged or
 * stored: the session record keeps only a keyed hash of it, and the reply never repeats it. The per-number
 * reply cap is src/sms/reply-cap.ts's.
 */

export interface SmsConversationOptions extends ChannelDeps {
  /** Messages answered per number per hour (SMS_MAX_PER_HOUR); more get no reply. */
  maxPerHour: number;
}

/** Longest message accepted: a concatenated SMS has at most ~10 parts. */
export const MAX_SMS_TEXT = 1_600;
/** Provider message ids: `ATXid_...`, `SM...`. */
export const MESSAGE_ID = /^[A-Za-z0-9_.:-]{1,100}$/;

export interface InboundSms {
  /** Short provider tag, part of the session id: `at`, `tw`. */
  provider: string;
  messageId: string;
  /** The sender as the provider sent it; must be a phone number. */
  from: string;
  text: string;
}

export type SmsOutcome =
  /** The reply to send to `msisdn`. */
  | { kind: 'reply'; msisdn: string; text: string }
  /** The sender is not a phone number (an alphanumeric sender, `whatsapp:`): nothing to answer. */
  | { kind: 'not-a-phone' }
  /** The number sent more than SMS_MAX_PER_HOUR messages this hour: read, not answered. */
  | { kind: 'limited'; msisdn: string }
  /** An abuse bucket (number or source) is empty: refused before any work, answered 429 without an SMS. */
  | { kind: 'refused'; msisdn: string; bucket: AbuseBucket; retryAfterS: number };

/** Turns control characters (other than line breaks) into spaces; keywords are matched on words anyway. */
export const cleanSmsText = (text: string) => text.replace(/[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f]/g, ' ');

/**
 * Runs one inbound SMS through the SMS flow; always resolves (the runner answers politely on any failure).
 * `paused` (the channel is switched off): that text is the reply, after the same limits, and no flow runs.
 */
export async function answerSms(
  options: SmsConversationOptions,
  hop: Pick<Hop, 'admit' | 'deadlineAt'>,
  sms: InboundSms,
  paused?: string,
): Promise<SmsOutcome> {
  const { runner, logger, secret } = options;
  const msisdn = toE164(sms.from, options.defaultCountry as CountryCode);
  if (!msisdn) return { kind: 'not-a-phone' };
  const log = logger.child({ channel: 'sms', provider: sms.provider, msisdn: maskMsisdn(msisdn) });

  // Abuse limits (per number, per source) before any work.
  const admission = await hop.admit(msisdn);
  if (!admission.ok) return { kind: 'refused', msisdn, bucket: admission.bucket, retryAfterS: admission.retryAfterS };
  if (!(await withinReplyCap(options, msisdn, log))) return { kind: 'limited', msisdn };
  if (paused !== undefined) return { kind: 'reply', msisdn, text: paused };

  const text = cleanSmsText(sms.text);
  const reply = await runner.run(
    {
      channel: 'sms',
      sessionId: `${sms.provider}:${sms.messageId}`,
      msisdn,
      flowId: options.flowFor('sms') ?? '',
      hopKey: keyedHash(secret, `sms:${text}`),
      inputs: () => ({ inputs: [text], transport: null }),
    },
    hop.deadlineAt,
  );
  return { kind: 'reply', msisdn, text: reply.text };
}
