import twilio from 'twilio';
import { z } from 'zod';
import { answerSms, MAX_SMS_TEXT, MESSAGE_ID, type SmsConversationOptions } from './sms-inbound.js';
import { plain, xml, type ChannelAdapter, type ChannelRoute } from './adapter.js';

/**
 * Twilio SMS: `POST /channels/twilio/sms` receives a message (form: MessageSid, From, To, Body, ... signed
 * with X-Twilio-Signature), runs it through the `sms` flow and answers with TwiML
 * `<Response><Message>reply</Message></Response>` built by the twilio library (which escapes the text).
 * Only a request signed for PUBLIC_URL with TWILIO_AUTH_TOKEN gets that far (threat T2); a retry of the same
 * MessageSid is answered from the session record. https://www.twilio.com/docs/messaging/guides/webhook-request
 */

export type TwilioSmsOptions = SmsConversationOptions;

const twiml = (reply?: string) => {
  const response = new twilio.twiml.MessagingResponse();
  if (reply !== undefined) response.message(reply);
  return xml(response.toString());
};

const twilioSmsForm = z
  .object({ MessageSid: z.string().optional(), SmsSid: z.string().optional(), From: z.string().min(1), Body: z.string().max(MAX_SMS_TEXT).optional() })
  .refine((f) => MESSAGE_ID.test(f.MessageSid ?? f.SmsSid ?? ''), { path: ['MessageSid'] });

export function twilioSms(options: TwilioSmsOptions): ChannelAdapter {
  const inbound: ChannelRoute<z.infer<typeof twilioSmsForm>> = {
    path: '/channels/twilio/sms',
    label: 'twilio-sms',
    verify: 'twilio-signature',
    form: twilioSmsForm,
    unsupported: plain('expected application/x-www-form-urlencoded', 415),
    invalid: () => plain('bad request', 400),
    invalidLog: 'malformed SMS webhook refused',
    async handle(hop, fields) {
      const id = (fields.MessageSid ?? fields.SmsSid)!;
      const outcome = await answerSms(options, hop, { provider: 'tw', messageId: id, from: fields.From, text: fields.Body ?? '' });
      // Abuse limit: 429 and no <Message> (no SMS goes out).
      if (outcome.kind === 'refused') return plain('too many requests', 429);
      if (outcome.kind !== 'reply') {
        hop.log.info({ message: id, outcome: outcome.kind }, 'inbound SMS not answered');
        return twiml();
      }
      return twiml(outcome.text);
    },
  };
  return { name: 'twilio-sms', routes: [inbound as ChannelRoute<never>] };
}
