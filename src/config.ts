import { z } from 'zod';

/**
 * The one place that reads the environment. Every setting has a default and a help text; the README's
 * settings table is printed from `SETTINGS` by `kiunga config --markdown`, so the two cannot drift.
 */

const DEV_PIN_PEPPER = 'kiunga-development-pepper-do-not-use-in-production';

const csv = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL (${protocols.join(' or ')})`);

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** One documented setting: its schema, default and help text. */
interface Setting {
  help: string;
  default?: string;
  schema: z.ZodType;
  secret?: boolean;
}

export const SETTINGS = {
  PORT: { help: 'HTTP port the server listens on.', default: '3000', schema: int(0, 65535) },
  HOST: { help: 'Address the server binds to.', default: '0.0.0.0', schema: z.string().min(1) },
  PUBLIC_URL: {
    help: 'Public base URL the aggregators call (used to check Twilio signatures).',
    schema: url(['http:', 'https:']),
  },
  REDIS_URL: {
    help:
      'Redis for sessions, locks, PIN records and lockouts, shared by all processes. redis://, rediss://, ' +
      'redis-sentinel://host:port,host:port/master or redis-cluster://host:port,host:port. Unset: in-process ' +
      'stores (one process, nothing survives a restart).',
    schema: z.string().trim().min(1),
  },
  REDIS_PREFIX: { help: 'Prefix of every Redis key.', default: 'kiunga', schema: z.string().regex(/^[A-Za-z0-9_.-]+$/) },
  FINERACT_URL: {
    help:
      'Fineract API base, e.g. https://fineract:8443/fineract-provider/api/v1. Unset: the built-in sandbox ' +
      'with the demo data is started in-process.',
    schema: url(['http:', 'https:']),
  },
  FINERACT_READ_URLS: {
    help: 'Comma-separated Fineract read replicas (reads only).',
    default: '',
    schema: z.string(),
  },
  FINERACT_TENANT: { help: 'Fineract tenant identifier.', default: 'default', schema: z.string().min(1) },
  FINERACT_USERNAME: { help: 'Fineract service user.', default: 'mifos', schema: z.string().min(1) },
  FINERACT_PASSWORD: {
    help: 'Fineract service user password.',
    default: 'password',
    schema: z.string().min(1),
    secret: true,
  },
  FINERACT_RATE_LIMIT: {
    help: 'Requests per second to Fineract, shared by all processes.',
    default: '50',
    schema: int(1, 100_000),
  },
  FINERACT_MAX_CONCURRENT: {
    help: 'Requests in flight to Fineract at once, shared by all processes.',
    default: '16',
    schema: int(1, 10_000),
  },
  FINERACT_CACHE_TTL_S: {
    help: 'How long lookups (client by phone, account lists) are cached in Redis; balances are never cached.',
    default: '300',
    schema: int(0, 86_400),
  },
  FINERACT_TIMEOUT_MS: { help: 'Timeout of one Fineract request.', default: '2500', schema: int(100, 60_000) },
  FINERACT_SAVINGS_PRODUCTS: {
    help: 'Comma-separated savings product ids shown on channels (empty: all; sandbox default: 1).',
    schema: z.string(),
  },
  FINERACT_LOAN_PRODUCTS: {
    help: 'Comma-separated loan product ids shown on channels (empty: all; sandbox default: 1).',
    schema: z.string(),
  },
  TIMEZONE: {
    help: "The institution's time zone (IANA); business days and daily limits follow it.",
    default: 'Africa/Nairobi',
    schema: z.string().refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone, e.g. Africa/Nairobi'),
  },
  CURRENCY: { help: 'Currency of channel accounts (ISO 4217), used for limits and receipts.', default: 'KES', schema: z.string().regex(/^[A-Z]{3}$/) },
  TRANSFER_MIN: { help: 'Smallest amount one transfer or repayment may move (major units).', default: '10', schema: int(1, 1_000_000_000) },
  TRANSFER_MAX: { help: 'Largest amount one transfer or repayment may move (major units).', default: '70000', schema: int(1, 1_000_000_000) },
  TRANSFER_DAILY_LIMIT: {
    help: 'Most a customer may move per business day, all channels together (major units).',
    default: '150000',
    schema: int(1, 1_000_000_000),
  },
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
      .regex(/^([a-z]{2}=[A-Za-z0-9._-]+\/[A-Za-z]{2,3}(-[A-Za-z0-9]+)*)(,[a-z]{2}=[A-Za-z0-9._-]+\/[A-Za-z]{2,3}(-[A-Za-z0-9]+)*)*$/, 'must be lang=voice/language,... e.g. en=Polly.Amy/en-GB'),
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
  DEFAULT_COUNTRY: { help: 'Country for phone numbers without a prefix (ISO 3166).', default: 'KE', schema: z.string().regex(/^[A-Z]{2}$/) },
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
    schema: z.string().trim().regex(/^[A-Za-z0-9]{1,30}$/, 'must be one word of letters and digits'),
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
  FINERACT_HOOK_SECRET: {
    help:
      'Secret of the Fineract hook URL (Fineract signs nothing): hooks are accepted at POST /hooks/fineract?key=<secret>. ' +
      'Unset: every hook is refused (403).',
    schema: z.string().min(16, 'must be at least 16 characters'),
    secret: true,
  },
  ADMIN_TOKEN: {
    help: 'Bearer token for /admin routes (unset: admin API disabled).',
    schema: z.string().min(16, 'must be at least 16 characters'),
    secret: true,
  },
  PIN_PEPPER: {
    help:
      'Server secret that keys PIN hashes; never stored in Redis. Required with FINERACT_URL; the sandbox uses a ' +
      'development default and says so.',
    schema: z.string().min(16, 'must be at least 16 characters'),
    secret: true,
  },
  PIN_MAX_ATTEMPTS: { help: 'Wrong PINs before the customer is locked on every channel.', default: '3', schema: int(1, 10) },
  SMS_PIN_ENABLED: {
    help:
      'Accept the PIN inside an SMS keyword (BAL 1234). false: PIN keywords answer that the service needs USSD, and ' +
      'no PIN sent by SMS is ever checked (an SMS stays in the phone; threat T6).',
    default: 'true',
    schema: bool,
  },
  SMS_MAX_PER_HOUR: {
    help: 'Inbound SMS answered per number per hour; more are read but not answered (sender spoofing must not become SMS bombing).',
    default: '30',
    schema: int(1, 10_000),
  },
  FLOWS_DIR: { help: 'Directory of flow files.', default: 'flows', schema: z.string().min(1) },
  LOCALES_DIR: { help: 'Directory of locale files.', default: 'locales', schema: z.string().min(1) },
  SANDBOX_CUSTOMERS: {
    help: 'Extra synthetic sandbox customers for load tests: +254720000000, +254720000001, ... with PIN 4321.',
    default: '0',
    schema: int(0, 100_000),
  },
  SANDBOX_SIM_SWAPPED: {
    help: 'Sandbox only: comma-separated E.164 numbers whose SIM counts as just swapped (transfers refused, threat T4).',
    default: '',
    schema: z.string(),
  },
  SANDBOX_PORT: { help: 'Port of `kiunga sandbox`.', default: '8080', schema: int(0, 65535) },
  LOG_LEVEL: {
    help: 'pino log level.',
    default: 'info',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  },
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The typed, frozen configuration the rest of the code receives. */
export interface Config {
  port: number;
  host: string;
  publicUrl?: string;
  redisUrl?: string;
  redisPrefix: string;
  fineract: {
    /** Undefined: run the built-in sandbox. */
    url?: string;
    readUrls: string[];
    tenant: string;
    username: string;
    password: string;
    rateLimit: number;
    maxConcurrent: number;
    cacheTtlS: number;
    timeoutMs: number;
    savingsProductIds?: number[];
    loanProductIds?: number[];
  };
  timezone: string;
  currency: string;
  limits: { minCents: number; maxCents: number; dailyCents: number };
  hopDeadlineMs: number;
  ussd: { sessionTtlS: number; maxChars: number; maxUcs2: number };
  callback: {
    maxPerHour: number;
    maxPerMinute: number;
    delayMs: number;
    pendingTtlS: number;
    retries: number;
    retryDelayS: number;
  };
  voice: {
    sessionTtlS: number;
    inputTimeoutS: number;
    /** TWILIO_VOICES by language. */
    twilioVoices: Record<string, { voice: string; language: string }>;
    atVoice: 'woman' | 'man';
    audioUrl?: string;
  };
  defaultCountry: string;
  defaultLanguage: string;
  africastalking: { username: string; apiKey?: string; callbackKey?: string; voiceNumber?: string; senderId?: string; smsKeyword?: string };
  twilio: { accountSid?: string; authToken?: string; number?: string };
  messagingProvider: 'sandbox' | 'africastalking' | 'twilio';
  /** Provider rate limits (per second, all processes together). */
  outbound: { smsPerSecond: number; callsPerSecond: number };
  /** FINERACT_HOOK_SECRET; undefined refuses every hook. */
  hookSecret?: string;
  adminToken?: string;
  pin: { pepper: string; usingDevelopmentPepper: boolean; maxAttempts: number };
  /** SMS keywords: PIN-in-SMS allowed (SMS_PIN_ENABLED), answers per number per hour (SMS_MAX_PER_HOUR). */
  sms: { pinEnabled: boolean; maxPerHour: number };
  flowsDir: string;
  localesDir: string;
  sandboxPort: number;
  sandboxCustomers: number;
  sandboxSimSwapped: string[];
  logLevel: string;
}

/** Thrown with every problem at once, each naming the variable. Never includes secret values. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const productIds = (raw: string | undefined, name: string, problems: string[]): number[] | undefined => {
  if (raw === undefined) return undefined;
  const ids = csv(raw);
  if (ids.some((id) => !/^\d+$/.test(id))) {
    problems.push(`${name}: must be comma-separated product ids`);
    return undefined;
  }
  return ids.map(Number);
};

/** Reads, validates and freezes the configuration; reports every problem at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    const raw = env[name] === '' && setting.default === undefined ? undefined : env[name];
    const value = raw ?? setting.default;
    if (value === undefined) continue;
    const parsed = setting.schema.safeParse(value);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  const v = values as Record<SettingName, never>;
  const fineractUrl = v.FINERACT_URL as string | undefined;
  const readUrls = csv(v.FINERACT_READ_URLS as string);
  for (const r of readUrls) {
    if (!url(['http:', 'https:']).safeParse(r).success) problems.push(`FINERACT_READ_URLS: '${r}' is not an http(s) URL`);
  }
  if (readUrls.length > 0 && !fineractUrl) problems.push('FINERACT_READ_URLS: needs FINERACT_URL');
  const pepper = v.PIN_PEPPER as string | undefined;
  if ((v.TRANSFER_MIN as number) > (v.TRANSFER_MAX as number)) problems.push('TRANSFER_MIN: must not exceed TRANSFER_MAX');
  if ((v.TRANSFER_MAX as number) > (v.TRANSFER_DAILY_LIMIT as number)) problems.push('TRANSFER_MAX: must not exceed TRANSFER_DAILY_LIMIT');
  if (fineractUrl && !pepper) problems.push('PIN_PEPPER: required when FINERACT_URL is set (a real back office)');
  problems.push(...providerProblems(v.MESSAGING_PROVIDER, env, values));
  const sandbox = !fineractUrl;
  const savingsProductIds =
    productIds(env.FINERACT_SAVINGS_PRODUCTS, 'FINERACT_SAVINGS_PRODUCTS', problems) ?? (sandbox ? [1] : undefined);
  const loanProductIds =
    productIds(env.FINERACT_LOAN_PRODUCTS, 'FINERACT_LOAN_PRODUCTS', problems) ?? (sandbox ? [1] : undefined);
  if (problems.length > 0) throw new ConfigError(problems);

  const config: Config = {
    port: v.PORT,
    host: v.HOST,
    publicUrl: v.PUBLIC_URL,
    redisUrl: v.REDIS_URL,
    redisPrefix: v.REDIS_PREFIX,
    fineract: {
      url: fineractUrl,
      readUrls,
      tenant: v.FINERACT_TENANT,
      username: v.FINERACT_USERNAME,
      password: v.FINERACT_PASSWORD,
      rateLimit: v.FINERACT_RATE_LIMIT,
      maxConcurrent: v.FINERACT_MAX_CONCURRENT,
      cacheTtlS: v.FINERACT_CACHE_TTL_S,
      timeoutMs: v.FINERACT_TIMEOUT_MS,
      savingsProductIds: savingsProductIds?.length ? savingsProductIds : undefined,
      loanProductIds: loanProductIds?.length ? loanProductIds : undefined,
    },
    timezone: v.TIMEZONE,
    currency: v.CURRENCY,
    limits: { minCents: (v.TRANSFER_MIN as number) * 100, maxCents: (v.TRANSFER_MAX as number) * 100, dailyCents: (v.TRANSFER_DAILY_LIMIT as number) * 100 },
    hopDeadlineMs: v.HOP_DEADLINE_MS,
    ussd: { sessionTtlS: v.USSD_SESSION_TTL_S, maxChars: v.USSD_MAX_CHARS, maxUcs2: v.USSD_MAX_UCS2 },
    callback: {
      maxPerHour: v.CALLBACK_MAX_PER_HOUR,
      maxPerMinute: v.CALLBACK_MAX_PER_MINUTE,
      delayMs: v.CALLBACK_DELAY_MS,
      pendingTtlS: v.CALLBACK_PENDING_TTL_S,
      retries: v.CALLBACK_RETRIES,
      retryDelayS: v.CALLBACK_RETRY_DELAY_S,
    },
    voice: {
      sessionTtlS: v.VOICE_SESSION_TTL_S,
      inputTimeoutS: v.VOICE_INPUT_TIMEOUT_S,
      twilioVoices: Object.fromEntries(
        csv(v.TWILIO_VOICES as string).map((entry) => {
          const [lang, rest = ''] = entry.split('=');
          const [voice = '', language = ''] = rest.split('/');
          return [lang!, { voice, language }];
        }),
      ),
      atVoice: v.AT_VOICE,
      audioUrl: v.VOICE_AUDIO_URL,
    },
    defaultCountry: v.DEFAULT_COUNTRY,
    defaultLanguage: v.DEFAULT_LANGUAGE,
    africastalking: {
      username: v.AT_USERNAME,
      apiKey: v.AT_API_KEY,
      callbackKey: v.AT_CALLBACK_KEY,
      voiceNumber: v.AT_VOICE_NUMBER,
      senderId: v.AT_SENDER_ID,
      smsKeyword: v.AT_SMS_KEYWORD,
    },
    twilio: { accountSid: v.TWILIO_ACCOUNT_SID, authToken: v.TWILIO_AUTH_TOKEN, number: v.TWILIO_NUMBER },
    messagingProvider: v.MESSAGING_PROVIDER,
    outbound: { smsPerSecond: v.SMS_RATE_LIMIT, callsPerSecond: v.CALL_RATE_LIMIT },
    hookSecret: v.FINERACT_HOOK_SECRET,
    adminToken: v.ADMIN_TOKEN,
    pin: { pepper: pepper ?? DEV_PIN_PEPPER, usingDevelopmentPepper: !pepper, maxAttempts: v.PIN_MAX_ATTEMPTS },
    sms: { pinEnabled: v.SMS_PIN_ENABLED, maxPerHour: v.SMS_MAX_PER_HOUR },
    flowsDir: v.FLOWS_DIR,
    localesDir: v.LOCALES_DIR,
    sandboxPort: v.SANDBOX_PORT,
    sandboxCustomers: v.SANDBOX_CUSTOMERS,
    sandboxSimSwapped: csv(v.SANDBOX_SIM_SWAPPED as string),
    logLevel: v.LOG_LEVEL,
  };
  return deepFreeze(config);
}

/**
 * What the chosen MESSAGING_PROVIDER needs, all missing settings at once: africastalking needs AT_USERNAME,
 * AT_API_KEY and AT_VOICE_NUMBER; twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_NUMBER and
 * PUBLIC_URL (its webhooks are built from it). Numbers calls come from must be E.164.
 */
function providerProblems(provider: string | undefined, env: Record<string, string | undefined>, values: Record<string, unknown>): string[] {
  const needs: Record<string, SettingName[]> = {
    africastalking: ['AT_USERNAME', 'AT_API_KEY', 'AT_VOICE_NUMBER'],
    twilio: ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_NUMBER', 'PUBLIC_URL'],
  };
  const out: string[] = [];
  for (const name of needs[provider ?? ''] ?? []) {
    // A value that was given but invalid already has its own problem.
    if (values[name] === undefined && !env[name]?.trim()) out.push(`${name}: required with MESSAGING_PROVIDER=${provider}`);
  }
  const number = provider === 'africastalking' ? 'AT_VOICE_NUMBER' : provider === 'twilio' ? 'TWILIO_NUMBER' : undefined;
  const given = number ? values[number] : undefined;
  if (number && typeof given === 'string' && !/^\+[1-9]\d{6,14}$/.test(given.trim())) out.push(`${number}: must be an E.164 number, e.g. +254711082000`);
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The README's settings table, generated from SETTINGS. */
export function settingsMarkdown(): string {
  const rows = (Object.entries(SETTINGS) as [string, Setting][]).map(
    ([name, s]) => `| \`${name}\` | ${s.default === undefined ? '(unset)' : s.default === '' ? '(empty)' : `\`${s.default}\``} | ${s.help} |`,
  );
  return ['| setting | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

const START = '<!-- settings:start -->';
const END = '<!-- settings:end -->';

/** Replaces the settings block of a README text with the current table. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README has no ${START} ... ${END} block`);
  return `${readme.slice(0, start + START.length)}\n${settingsMarkdown()}\n${readme.slice(end)}`;
}
