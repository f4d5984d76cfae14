import { z } from 'zod';
import { int, bool, type Setting } from './schemas.js';

/**
 * Defences against abuse of the channel routes: PINs by SMS, per-number and per-source request limits, trusted
 * sources and the SMS reply cap.
 */
export const ABUSE_SETTINGS = {
  SMS_PIN_ENABLED: {
    help:
      'Accept the PIN inside an SMS keyword (BAL 1234). false: PIN keywords answer that the service needs USSD, and ' +
      'no PIN sent by SMS is ever checked (an SMS stays in the phone, and a spoofed sender could lock the ' +
      'customer out; threats T6, T26).',
    default: 'false',
    schema: bool,
  },
  LIMIT_NUMBER_PER_MIN: {
    help:
      'Requests per phone number per minute on every channel route, all processes together (a token bucket holding ' +
      "a minute's worth); checked before any work. Over it: a polite USSD END, TwiML goodbye, or 429 for SMS (threat T22).",
    default: '30',
    schema: int(1, 100_000),
  },
  LIMIT_SOURCE_PER_MIN: {
    help:
      'Requests per source address (the TCP peer) per minute on every channel route, all processes together; not ' +
      'applied to TRUSTED_SOURCES. Checked with the per-number bucket, in one Redis round trip, before any work.',
    default: '600',
    schema: int(1, 1_000_000),
  },
  TRUSTED_SOURCES: {
    help:
      "Comma-separated IPs or CIDRs of aggregators (Africa's Talking, Twilio, a load balancer) that send many " +
      'customers from few addresses: no per-source limit for them; the per-number limit and ' +
      'FINERACT_UNKNOWN_LOOKUP_SHARE still apply. The default trusts loopback (a reverse proxy on the same host).',
    default: '127.0.0.0/8,::1',
    schema: z.string(),
  },
  SMS_MAX_PER_HOUR: {
    help: 'Inbound SMS answered per number per hour; more are read but not answered (sender spoofing must not become SMS bombing).',
    default: '30',
    schema: int(1, 10_000),
  },
} satisfies Record<string, Setting>;
