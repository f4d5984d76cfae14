import type { Dialer, OutboundCall } from './dialer.js';
import { twilioFailure, type TwilioClient } from './twilio-client.js';
import { PermanentDeliveryError } from './errors.js';

/**
 * Call-backs through Twilio (`client.calls.create`). When the customer answers, Twilio fetches TwiML from
 * `PUBLIC_URL/channels/twilio/voice?ref=<ref>` and reports progress to
 * `PUBLIC_URL/channels/twilio/voice/status?ref=<ref>` (both POST, both signed by Twilio over the full URL,
 * query included, so the ref cannot be forged). `call()` returns the CallSid.
 */

export const TWILIO_VOICE_PATH = '/channels/twilio/voice';
export const TWILIO_VOICE_STATUS_PATH = '/channels/twilio/voice/status';

export interface TwilioDialerOptions {
  client: TwilioClient;
  /** TWILIO_NUMBER (E.164). */
  from: string;
  /** PUBLIC_URL: the base Twilio calls back (may carry a path prefix). */
  publicUrl: string;
  /** Seconds to let the phone ring (default 30). */
  ringSeconds?: number;
}

/** `PUBLIC_URL` + path + `?ref=`, the same way the signature guard rebuilds signed URLs. */
export function twilioCallbackUrl(publicUrl: string, path: string, ref: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${path}?ref=${encodeURIComponent(ref)}`;
}

export class TwilioDialer implements Dialer {
  readonly provider = 'twilio';
  constructor(private readonly options: TwilioDialerOptions) {}

  async call(call: OutboundCall): Promise<{ id: string }> {
    const { client, from, publicUrl, ringSeconds = 30 } = this.options;
    if (!call.ref) throw new PermanentDeliveryError('twilio', 'call', 'missing ref');
    try {
      const placed = await client.calls.create({
        to: call.to,
        from,
        url: twilioCallbackUrl(publicUrl, TWILIO_VOICE_PATH, call.ref),
        method: 'POST',
        statusCallback: twilioCallbackUrl(publicUrl, TWILIO_VOICE_STATUS_PATH, call.ref),
        statusCallbackMethod: 'POST',
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        timeout: ringSeconds,
      });
      return { id: placed.sid };
    } catch (err) {
      throw twilioFailure(err, 'call');
    }
  }
}
