import { Router, type Request, type Response } from 'express';
import twilio from 'twilio';
import { formFields } from './africastalking-common.js';
import { twilioSignatureGuard } from './twilio-signature.js';
import { answerSms, MAX_SMS_TEXT, MESSAGE_ID, type SmsConversationOptions } from './sms-inbound.js';
import { sourceOf } from '../limits/abuse.js';
import { refuse } from '../limits/refusals.js';

/**
 * Twilio SMS: `POST /channels/twilio/sms` receives a message (form: MessageSid, From, To, Body, ... signed
 * with X-Twilio-Signature), runs it through the `sms` flow and answers with TwiML
 * `<Response><Message>reply</Message></Response>` built by the twilio library (which escapes the text).
 * Only a request signed for PUBLIC_URL with TWILIO_AUTH_TOKEN gets that far (threat T2); a retry of the same
 * MessageSid is answered from the session record. https://www.twilio.com/docs/messaging/guides/webhook-request
 */

export interface TwilioSmsOptions extends SmsConversationOptions {
  /** TWILIO_AUTH_TOKEN; unset: every request is refused (403). */
  authToken?: string;
  /** PUBLIC_URL, the base Twilio calls. */
  publicUrl?: string;
}

const twiml = (res: Response, reply?: string) => {
  const response = new twilio.twiml.MessagingResponse();
  if (reply !== undefined) response.message(reply);
  res.status(200).type('text/xml').send(response.toString());
};

export function twilioSms(options: TwilioSmsOptions): Router {
  const router = Router();
  const { logger } = options;
  const guard = twilioSignatureGuard({ authToken: options.authToken, publicUrl: options.publicUrl, logger });

  router.post('/channels/twilio/sms', guard, async (req: Request, res: Response) => {
    const fields = formFields(req, ['MessageSid', 'SmsSid', 'From', 'To', 'Body']);
    if (!fields) {
      res.status(415).type('text/plain').send('expected application/x-www-form-urlencoded');
      return;
    }
    const id = fields.MessageSid ?? fields.SmsSid;
    const from = fields.From;
    const text = fields.Body ?? '';
    const problems = [!id || !MESSAGE_ID.test(id) ? 'MessageSid' : '', !from ? 'From' : '', text.length > MAX_SMS_TEXT ? 'Body' : ''].filter(Boolean);
    if (problems.length > 0 || !id || !from) {
      logger.warn({ route: 'twilio-sms', invalid: problems }, 'malformed SMS webhook refused');
      res.status(400).type('text/plain').send('bad request');
      return;
    }
    const outcome = await answerSms(options, { provider: 'tw', messageId: id, from, text, source: sourceOf(req) });
    if (outcome.kind === 'refused') {
      // Abuse limit: 429 and no <Message> (no SMS goes out).
      refuse(res, logger, { route: 'twilio-sms', reason: `${outcome.bucket} limit`, msisdn: outcome.msisdn });
      res.status(429).set('retry-after', String(outcome.retryAfterS)).type('text/plain').send('too many requests');
      return;
    }
    if (outcome.kind !== 'reply') {
      logger.info({ route: 'twilio-sms', message: id, outcome: outcome.kind }, 'inbound SMS not answered');
      twiml(res);
      return;
    }
    twiml(res, outcome.text);
  });

  return router;
}
