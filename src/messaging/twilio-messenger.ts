import type { Messenger, OutboundSms } from './messenger.js';
import { PERMANENT_TWILIO_CODES, twilioFailure, type TwilioClient } from './twilio-client.js';
import { PermanentDeliveryError, TransientDeliveryError } from './errors.js';

/**
 * SMS through Twilio (`client.messages.create({ to, from, body })`). Twilio answers 201 with the message in
 * `queued`/`accepted`; a message already `failed`/`undelivered` carries its `errorCode`. Errors come as
 * `RestException` (status + code): see `twilioFailure`.
 */
export interface TwilioMessengerOptions {
  client: TwilioClient;
  /** TWILIO_NUMBER (E.164). */
  from: string;
}

export class TwilioMessenger implements Messenger {
  readonly provider = 'twilio';
  constructor(private readonly options: TwilioMessengerOptions) {}

  async send(sms: OutboundSms): Promise<{ id: string }> {
    let message: { sid?: string; status?: string; errorCode?: number | null };
    try {
      message = await this.options.client.messages.create({ to: sms.to, from: this.options.from, body: sms.text });
    } catch (err) {
      throw twilioFailure(err, 'sms');
    }
    if (message.status === 'failed' || message.status === 'undelivered') {
      const code = message.errorCode ?? undefined;
      const reason = `${message.status}${code !== undefined ? ` code ${code}` : ''}`;
      throw code !== undefined && PERMANENT_TWILIO_CODES.has(code)
        ? new PermanentDeliveryError('twilio', 'sms', reason)
        : new TransientDeliveryError('twilio', 'sms', reason);
    }
    return { id: message.sid ?? 'unknown' };
  }
}
