import { z } from 'zod';
import { DEFAULT_COUNTRY } from '../constants.js';
import { int, url, type Setting } from './schemas.js';

/**
 * The channels and their providers: the hop deadline, USSD screens, call-backs and voice, the default country
 * and language, Africa's Talking, Twilio and outbound messaging.
 */
export const CHANNEL_SETTINGS = {
  HOP_DEADLINE_MS: {
    help: 'Budget for one USSD hop, from request to reply; a reply always leaves within it.',
    default: '4000',
    schema: int(200, 14_000),
  },
  USSD_SESSION_TTL_S: { help: 'Lifetime of a USSD session in Redis.', default: '180', schema: int(10, 3600) },
  USSD_MAX_CHARS: {
    help: 'Longest USSD screen in GSM-7 septets; longer screens are paged.',
    default: '182',
    schema: int(40, 182),
  },
  USSD_MAX_UCS2: { help: 'Longest USSD screen when it needs UCS-2.', default: '80', schema: int(20, 91) },
  CALLBACK_MAX_PER_HOUR: {
    help: 'Call-backs per number per hour (missed call, USSD "Call me back", SMS CALL together).',
    default: '3',
    schema: int(1, 100),
  },
  CALLBACK_MAX_PER_MINUTE: {
    help: 'Call-backs per minute for all numbers together, shared by all processes (cost and abuse ceiling).',
    default: '60',
    schema: int(1, 100_000),
  },
  CALLBACK_DELAY_MS: {
    help: 'Wait before a call-back is placed, so the USSD dialog that asked for it has closed.',
    default: '3000',
    schema: int(0, 120_000),
  },
  CALLBACK_PENDING_TTL_S: {
    help: 'How long a call-back blocks the next request for the same number when its outcome never arrives.',
    default: '300',
    schema: int(30, 86_400),
  },
  CALLBACK_RETRIES: {
    help: 'Times a call-back is placed again after no answer, busy or failure.',
    default: '1',
    schema: int(0, 5),
  },
  CALLBACK_RETRY_DELAY_S: { help: 'Wait before a call-back is placed again.', default: '60', schema: int(0, 3600) },
  VOICE_SESSION_TTL_S: { help: 'Lifetime of a voice (call-back) session in Redis.', default: '900', schema: int(60, 7200) },
  VOICE_INPUT_TIMEOUT_S: {
    help: 'Seconds a voice menu or input waits for a key before it counts as silence (twice re-prompted, then goodbye).',
    default: '10',
    schema: int(3, 60),
  },
  TWILIO_VOICES: {
    help:
      'Twilio <Say> voice per language, lang=voice/language comma-separated. A language without one (Swahili: Twilio ' +
      'has none) plays recordings from locales/audio, else speaks the fallback language.',
    default: 'en=Polly.Amy/en-GB,fr=Polly.Lea/fr-FR',
    schema: z
      .string()
      .trim()
      .regex(
        /^([a-z]{2}=[A-Za-z0-9._-]+\/[A-Za-z]{2,3}(-[A-Za-z0-9]+)*)(,[a-z]{2}=[A-Za-z0-9._-]+\/[A-Za-z]{2,3}(-[A-Za-z0-9]+)*)*$/,
        'must be lang=voice/language,... e.g. en=Polly.Amy/en-GB',
      ),
  },
  AT_VOICE: {
    help: "Africa's Talking <Say> voice (its text-to-speech is English only; other languages play recordings or speak English).",
    default: 'woman',
    schema: z.enum(['woman', 'man']),
  },
  VOICE_AUDIO_URL: {
    help: 'Base URL of the voice recordings (<base>/<lang>/<file>). Unset: PUBLIC_URL/voice/audio, served from LOCALES_DIR/audio.',
    schema: url(['http:', 'https:']),
  },
  DEFAULT_COUNTRY: {
    help: 'Country for phone numbers without a prefix (ISO 3166).',
    default: DEFAULT_COUNTRY,
    schema: z.string().regex(/^[A-Z]{2}$/),
  },
  DEFAULT_LANGUAGE: { help: 'Language of new customers.', default: 'en', schema: z.string().regex(/^[a-z]{2}$/) },
  AT_USERNAME: { help: "Africa's Talking username.", default: 'sandbox', schema: z.string().min(1) },
  AT_API_KEY: { help: "Africa's Talking API key.", schema: z.string().min(1), secret: true },
  AT_CALLBACK_KEY: {
    help: "When set, every Africa's Talking route requires ?key=<value> (AT signs nothing) and answers 403 without it.",
    schema: z.string().min(16, 'must be at least 16 characters'),
    secret: true,
  },
  AT_VOICE_NUMBER: {
    help: "Africa's Talking voice number (E.164); call-backs are placed from it. Required with MESSAGING_PROVIDER=africastalking.",
    schema: z.string().min(1),
  },
  AT_SENDER_ID: {
    help: "Sender ID or short code of outbound SMS through Africa's Talking (unset: AT's default sender).",
    schema: z.string().trim().min(1).max(16),
  },
  AT_SMS_KEYWORD: {
    help:
      "Keyword of the SMS service on a shared or premium Africa's Talking short code: dropped from the start of " +
      'inbound messages (KIUNGA BAL 1234 reads as BAL 1234) and sent with premium replies (with the linkId).',
    schema: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9]{1,30}$/, 'must be one word of letters and digits'),
  },
  TWILIO_ACCOUNT_SID: { help: 'Twilio account SID.', schema: z.string().min(1) },
  TWILIO_AUTH_TOKEN: { help: 'Twilio auth token (checks X-Twilio-Signature).', schema: z.string().min(1), secret: true },
  TWILIO_NUMBER: {
    help: 'Twilio phone number (E.164): outbound SMS and call-backs come from it. Required with MESSAGING_PROVIDER=twilio.',
    schema: z.string().min(1),
  },
  MESSAGING_PROVIDER: {
    help: 'Outbound SMS and calls: sandbox, africastalking or twilio.',
    default: 'sandbox',
    schema: z.enum(['sandbox', 'africastalking', 'twilio']),
  },
  SMS_RATE_LIMIT: {
    help: 'Outbound SMS per second to the messaging provider, shared by all processes (not applied to the sandbox).',
    default: '10',
    schema: int(1, 10_000),
  },
  CALL_RATE_LIMIT: {
    help: 'Outbound call-backs placed per second through the messaging provider, shared by all processes (not applied to the sandbox).',
    default: '1',
    schema: int(1, 1_000),
  },
} satisfies Record<string, Setting>;
