import twilio from 'twilio';
import { z } from 'zod';
import { answerSms, MAX_SMS_TEXT, MESSAGE_ID, type InboundSms, type SmsConversationOptions, type SmsOutcome } from './sms-inbound.js';
import { plain, xml, type Answer, type ChannelAdapter, type ChannelRoute } from './adapter.js';

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
  .object({
    MessageSid: z.string().optional(),
    SmsSid: z.string().optional(),
    From: z.string().min(1),
    Body: z.string().max(MAX_SMS_TEXT).optional(),
  })
  .refine((f) => MESSAGE_ID.test(f.MessageSid ?? f.SmsSid ?? ''), { path: ['MessageSid'] });

type Form = z.infer<typeof twilioSmsForm>;

/** The webhook as the SMS conversation takes it. */
const toInbound = (f: Form): InboundSms => ({ provider: 'tw', messageId: (f.MessageSid ?? f.SmsSid)!, from: f.From, text: f.Body ?? '' });

/** The outcome as Twilio takes it: the reply in `<Message>`, or an empty answer (no SMS). */
const render = (outcome: SmsOutcome): Answer =>
  // Abuse limit: 429 and no <Message> (no SMS goes out).
  outcome.kind === 'refused' ? plain('too many requests', 429) : twiml(outcome.kind === 'reply' ? outcome.text : undefined);

export function twilioSms(options: TwilioSmsOptions): ChannelAdapter<InboundSms, SmsOutcome, Answer> {
  const inbound: ChannelRoute<Form> = {
    // Switched off: the maintenance text as the reply, within the same limits as any reply.
    paused: {
      channel: 'sms',
      answer: async (hop, fields) => render(await answerSms(options, hop, toInbound(fields), options.maintenanceText?.() ?? '')),
    },
    path: '/channels/twilio/sms',
    label: 'twilio-sms',
    form: twilioSmsForm,
    unsupported: plain('expected application/x-www-form-urlencoded', 415),
    invalid: () => plain('bad request', 400),
    invalidLog: 'malformed SMS webhook refused',
    async handle(hop, fields) {
      const sms = toInbound(fields);
      const outcome = await answerSms(options, hop, sms);
      if (outcome.kind !== 'reply' && outcome.kind !== 'refused')
        hop.log.info({ message: sms.messageId, outcome: outcome.kind }, 'inbound SMS not answered');
      return render(outcome);
    },
  };
  return { name: 'twilio-sms', verify: 'twilio-signature', routes: [inbound as ChannelRoute<never>], toInbound, render };
}
