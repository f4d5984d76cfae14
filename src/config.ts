import { isIP } from 'node:net';
import { SETTINGS, csv, url, type Setting, type SettingName } from './settings.js';

export { SETTINGS, settingsMarkdown, withSettingsTable, type SettingName } from './settings.js';

/**
 * The one place that reads the environment: validates every setting of `settings.ts`, reports every problem
 * at once and hands a frozen, typed configuration to the rest.
 */

const DEV_PIN_PEPPER = 'kiunga-development-pepper-do-not-use-in-production';

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
    /** FINERACT_UNKNOWN_LOOKUP_SHARE: share of rateLimit for lookups of numbers never matched to a customer. */
    unknownLookupShare: number;
    maxConcurrent: number;
    cacheTtlS: number;
    timeoutMs: number;
    savingsProductIds?: number[];
    loanProductIds?: number[];
  };
  timezone: string;
  currency: string;
  limits: { minCents: number; maxCents: number; dailyCents: number };
  /** TRANSFER_RESOLVE_MAX_AGE_S: past it, an unresolved transfer is only looked for, never sent again. */
  transferResolveMaxAgeS: number;
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
  /** PIN_MAX_FAILURES wrong PINs lock for PIN_LOCK_S, doubling per lock; after PIN_HARD_LOCK_AFTER timed locks the next is hard. */
  pin: { pepper: string; usingDevelopmentPepper: boolean; maxFailures: number; lockS: number; hardLockAfter: number };
  /** Abuse buckets on every channel route (LIMIT_NUMBER_PER_MIN, LIMIT_SOURCE_PER_MIN, TRUSTED_SOURCES). */
  abuse: { numberPerMin: number; sourcePerMin: number; trustedSources: string[] };
  /** SMS keywords: PIN-in-SMS allowed (SMS_PIN_ENABLED), answers per number per hour (SMS_MAX_PER_HOUR). */
  sms: { pinEnabled: boolean; maxPerHour: number };
  flowsDir: string;
  localesDir: string;
  sandboxPort: number;
  sandboxCustomers: number;
  sandboxSimSwapped: string[];
  /** SIM_SWAP_*: the check before money-out (threat T4). */
  simSwap: { provider: SimSwapProvider; maxAgeDays: number; waitMs: number; cacheS: number };
  /** KIUNGA_ALLOW_INSECURE: unsafe settings explicitly accepted against a real Fineract (threat T27). */
  allowInsecure: InsecureSetting[];
  /** SIMULATOR: serve /simulator (default: with the built-in sandbox only). */
  simulator: boolean;
  logLevel: string;
}

export type SimSwapProvider = 'sandbox' | 'africastalking' | 'none';

/** The unsafe settings KIUNGA_ALLOW_INSECURE can acknowledge. */
export const INSECURE_SETTINGS = ['messaging', 'callback-key', 'fineract-password', 'sim-swap'] as const;
export type InsecureSetting = (typeof INSECURE_SETTINGS)[number];

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
  if (env.PIN_MAX_ATTEMPTS !== undefined) {
    problems.push('PIN_MAX_ATTEMPTS: no longer read; locks are now time-boxed: set PIN_MAX_FAILURES (wrong PINs per lock), PIN_LOCK_S and PIN_HARD_LOCK_AFTER instead');
  }
  const trustedSources = csv(v.TRUSTED_SOURCES as string | undefined);
  for (const t of trustedSources) if (!isAddressOrCidr(t)) problems.push(`TRUSTED_SOURCES: '${t}' is not an IP address or CIDR`);
  if (fineractUrl && !pepper) problems.push('PIN_PEPPER: required when FINERACT_URL is set (a real back office)');
  problems.push(...providerProblems(v.MESSAGING_PROVIDER, env, values));
  const simSwapProvider: SimSwapProvider = (v.SIM_SWAP_PROVIDER as SimSwapProvider | undefined) ?? (fineractUrl ? 'none' : 'sandbox');
  if (simSwapProvider === 'africastalking') {
    for (const name of ['AT_USERNAME', 'AT_API_KEY', 'AT_CALLBACK_KEY'] as const) {
      // AT_CALLBACK_KEY: the answer arrives by callback, and a forged "NotSwapped" must not get through.
      if (values[name] === undefined && !env[name]?.trim()) problems.push(`${name}: required with SIM_SWAP_PROVIDER=africastalking`);
    }
  }
  const allowInsecure = csv(v.KIUNGA_ALLOW_INSECURE as string);
  for (const word of allowInsecure) {
    if (!(INSECURE_SETTINGS as readonly string[]).includes(word)) {
      problems.push(`KIUNGA_ALLOW_INSECURE: unknown word '${word.slice(0, 40)}' (known: ${INSECURE_SETTINGS.join(', ')})`);
    }
  }
  if (fineractUrl) {
    const unsafe = unsafeSettings({
      messagingProvider: v.MESSAGING_PROVIDER,
      callbackKey: v.AT_CALLBACK_KEY,
      fineractPassword: v.FINERACT_PASSWORD,
      simSwapProvider,
    }).filter((u) => !allowInsecure.includes(u.word));
    if (unsafe.length > 0) {
      problems.push(
        `unsafe settings against a real Fineract (FINERACT_URL is set; threat T27): ${unsafe.map((u) => u.problem).join('; ')}. ` +
          `Fix each, or accept it explicitly with KIUNGA_ALLOW_INSECURE=${unsafe.map((u) => u.word).join(',')}`,
      );
    }
  }
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
      unknownLookupShare: v.FINERACT_UNKNOWN_LOOKUP_SHARE,
      maxConcurrent: v.FINERACT_MAX_CONCURRENT,
      cacheTtlS: v.FINERACT_CACHE_TTL_S,
      timeoutMs: v.FINERACT_TIMEOUT_MS,
      savingsProductIds: savingsProductIds?.length ? savingsProductIds : undefined,
      loanProductIds: loanProductIds?.length ? loanProductIds : undefined,
    },
    timezone: v.TIMEZONE,
    currency: v.CURRENCY,
    limits: { minCents: (v.TRANSFER_MIN as number) * 100, maxCents: (v.TRANSFER_MAX as number) * 100, dailyCents: (v.TRANSFER_DAILY_LIMIT as number) * 100 },
    transferResolveMaxAgeS: v.TRANSFER_RESOLVE_MAX_AGE_S,
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
    pin: {
      pepper: pepper ?? DEV_PIN_PEPPER,
      usingDevelopmentPepper: !pepper,
      maxFailures: v.PIN_MAX_FAILURES,
      lockS: v.PIN_LOCK_S,
      hardLockAfter: v.PIN_HARD_LOCK_AFTER,
    },
    abuse: { numberPerMin: v.LIMIT_NUMBER_PER_MIN, sourcePerMin: v.LIMIT_SOURCE_PER_MIN, trustedSources },
    sms: { pinEnabled: v.SMS_PIN_ENABLED, maxPerHour: v.SMS_MAX_PER_HOUR },
    flowsDir: v.FLOWS_DIR,
    localesDir: v.LOCALES_DIR,
    sandboxPort: v.SANDBOX_PORT,
    sandboxCustomers: v.SANDBOX_CUSTOMERS,
    sandboxSimSwapped: csv(v.SANDBOX_SIM_SWAPPED as string),
    simSwap: { provider: simSwapProvider, maxAgeDays: v.SIM_SWAP_MAX_AGE_DAYS, waitMs: v.SIM_SWAP_WAIT_MS, cacheS: v.SIM_SWAP_CACHE_S },
    allowInsecure: allowInsecure as InsecureSetting[],
    simulator: (v.SIMULATOR as boolean | undefined) ?? !fineractUrl,
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

/** `10.0.0.1`, `2001:db8::1`, `10.0.0.0/8` or `2001:db8::/32`. */
function isAddressOrCidr(value: string): boolean {
  const [address = '', bits, extra] = value.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** The default Fineract password (the demo `mifos` user's). */
const DEFAULT_FINERACT_PASSWORD = 'password';

/**
 * What makes a deployment against a real Fineract unsafe (threat T27), each with the KIUNGA_ALLOW_INSECURE word
 * that accepts it. Never echoes a secret value.
 */
export function unsafeSettings(s: {
  messagingProvider: string | undefined;
  callbackKey: string | undefined;
  fineractPassword: string | undefined;
  simSwapProvider: SimSwapProvider;
}): { word: InsecureSetting; problem: string }[] {
  const out: { word: InsecureSetting; problem: string }[] = [];
  if (s.messagingProvider === 'sandbox') {
    out.push({ word: 'messaging', problem: 'MESSAGING_PROVIDER=sandbox (no SMS or call reaches anyone, and GET /sandbox/outbox shows receipts to anyone)' });
  }
  if (!s.callbackKey) {
    out.push({ word: 'callback-key', problem: "AT_CALLBACK_KEY is not set (the Africa's Talking USSD, SMS and voice routes answer anyone who posts to them)" });
  }
  if (s.fineractPassword === DEFAULT_FINERACT_PASSWORD) {
    out.push({ word: 'fineract-password', problem: "FINERACT_PASSWORD is Fineract's default password" });
  }
  if (s.simSwapProvider !== 'africastalking') {
    out.push({ word: 'sim-swap', problem: `SIM_SWAP_PROVIDER=${s.simSwapProvider} (no real SIM-swap check before money leaves an account, threat T4)` });
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
