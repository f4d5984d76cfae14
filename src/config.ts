import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { SETTINGS, type SettingName } from './settings.js';
import { csv, ed25519Key, url, type Setting } from './settings/schemas.js';

export { SETTINGS, settingsMarkdown, withSettingsTable, type SettingName } from './settings.js';

/**
 * The one place that reads the environment: one zod schema over it (`configSchema`) validates every setting of
 * `settings.ts` and the rules between them, reports every problem at once, and its transform yields the frozen
 * configuration the rest of the code receives. `Config` is that transform's output type.
 */

const DEV_PIN_PEPPER = 'kiunga-development-pepper-do-not-use-in-production';

type Settings = typeof SETTINGS;
/** A setting's parsed value: always there when it has a default. */
type Value<S extends Setting> = S extends { default: string } ? z.output<S['schema']> : z.output<S['schema']> | undefined;
/** Every setting, parsed. */
export type SettingValues = { [K in SettingName]: Value<Settings[K]> };

export type SimSwapProvider = NonNullable<SettingValues['SIM_SWAP_PROVIDER']>;

/** The unsafe settings KIUNGA_ALLOW_INSECURE can acknowledge. */
export const INSECURE_SETTINGS = ['messaging', 'callback-key', 'fineract-password', 'sim-swap'] as const;
export type InsecureSetting = (typeof INSECURE_SETTINGS)[number];
const isInsecureSetting = (word: string): word is InsecureSetting => (INSECURE_SETTINGS as readonly string[]).includes(word);

/** Thrown with every problem at once, each naming the variable. Never includes secret values. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Settings no longer read: setting one is a problem that names what replaces it. */
const RETIRED = {
  PIN_MAX_ATTEMPTS:
    'no longer read; locks are now time-boxed: set PIN_MAX_FAILURES (wrong PINs per lock), PIN_LOCK_S and PIN_HARD_LOCK_AFTER instead',
} as const;

/** Settings where an empty value means something ("every product") rather than "unset". */
const EMPTY_IS_A_VALUE: readonly SettingName[] = ['FINERACT_SAVINGS_PRODUCTS', 'FINERACT_LOAN_PRODUCTS'];

/**
 * One variable: unset takes the default, and so does empty for a setting without one (unless empty means
 * something); then the setting's own schema reads it.
 */
function settingSchema(name: SettingName): z.ZodType<unknown, string | undefined> {
  const setting: Setting = SETTINGS[name];
  const given = z.string().optional();
  if (setting.default !== undefined) {
    const fallback = setting.default;
    return given.transform((raw) => raw ?? fallback).pipe(setting.schema);
  }
  const keepEmpty = EMPTY_IS_A_VALUE.includes(name);
  return given.transform((raw) => (raw === '' && !keepEmpty ? undefined : raw)).pipe(setting.schema.optional());
}

const settingsShape = Object.fromEntries((Object.keys(SETTINGS) as SettingName[]).map((name) => [name, settingSchema(name)])) as {
  [K in SettingName]: z.ZodType<Value<Settings[K]>, string | undefined>;
};
const retiredShape = Object.fromEntries(
  Object.entries(RETIRED).map(([name, message]) => [name, z.undefined({ error: message }).optional()]),
) as {
  [K in keyof typeof RETIRED]: z.ZodOptional<z.ZodUndefined>;
};

/** SIM_SWAP_PROVIDER; unset: none against a real Fineract (FINERACT_URL), the sandbox's list without one. */
const simSwapProviderOf = (v: { FINERACT_URL?: string; SIM_SWAP_PROVIDER?: SimSwapProvider }): SimSwapProvider =>
  v.SIM_SWAP_PROVIDER ?? (v.FINERACT_URL ? 'none' : 'sandbox');

/**
 * The rules between settings. They run even when some variables are invalid (so every problem is reported at
 * once), reading only the settings that parsed.
 */
function crossProblems(parsed: SettingValues, ctx: z.RefinementCtx<SettingValues>): void {
  const failed = new Set(ctx.issues.map((issue) => issue.path?.[0]));
  const v = <K extends SettingName>(name: K): SettingValues[K] | undefined => (failed.has(name) ? undefined : parsed[name]);
  const problem = (message: string) => ctx.addIssue({ code: 'custom', message, path: [], input: undefined });

  const fineractUrl = v('FINERACT_URL');
  const readUrls = csv(v('FINERACT_READ_URLS'));
  for (const r of readUrls) {
    if (!url(['http:', 'https:']).safeParse(r).success) problem(`FINERACT_READ_URLS: '${r}' is not an http(s) URL`);
  }
  if (readUrls.length > 0 && !fineractUrl) problem('FINERACT_READ_URLS: needs FINERACT_URL');
  const [min, max, daily] = [v('TRANSFER_MIN'), v('TRANSFER_MAX'), v('TRANSFER_DAILY_LIMIT')];
  if (min !== undefined && max !== undefined && min > max) problem('TRANSFER_MIN: must not exceed TRANSFER_MAX');
  if (max !== undefined && daily !== undefined && max > daily) problem('TRANSFER_MAX: must not exceed TRANSFER_DAILY_LIMIT');
  if (!auditKeysMatch(v('AUDIT_SIGNING_KEY'), v('AUDIT_VERIFY_KEY')))
    problem('AUDIT_VERIFY_KEY: is not the public half of AUDIT_SIGNING_KEY (checkpoints would never verify)');
  for (const t of csv(v('TRUSTED_SOURCES'))) if (!isAddressOrCidr(t)) problem(`TRUSTED_SOURCES: '${t}' is not an IP address or CIDR`);
  if (fineractUrl && !v('PIN_PEPPER')) problem('PIN_PEPPER: required when FINERACT_URL is set (a real back office)');
  for (const p of operatorProblems(v('ADMIN_TOKENS'), v('ADMIN_TOKEN'), Boolean(fineractUrl))) problem(p);
  // A variable that was given but is invalid already has its own problem.
  const missing = (name: SettingName) => v(name) === undefined && !failed.has(name);
  const provider = v('MESSAGING_PROVIDER');
  for (const p of providerProblems(provider, missing, v('AT_VOICE_NUMBER'), v('TWILIO_NUMBER'))) problem(p);
  const simSwapProvider = simSwapProviderOf({ FINERACT_URL: fineractUrl, SIM_SWAP_PROVIDER: v('SIM_SWAP_PROVIDER') });
  if (simSwapProvider === 'africastalking') {
    for (const name of ['AT_USERNAME', 'AT_API_KEY', 'AT_CALLBACK_KEY'] as const) {
      // AT_CALLBACK_KEY: the answer arrives by callback, and a forged "NotSwapped" must not get through.
      if (missing(name)) problem(`${name}: required with SIM_SWAP_PROVIDER=africastalking`);
    }
  }
  const allowInsecure = csv(v('KIUNGA_ALLOW_INSECURE'));
  for (const word of allowInsecure) {
    if (!isInsecureSetting(word))
      problem(`KIUNGA_ALLOW_INSECURE: unknown word '${word.slice(0, 40)}' (known: ${INSECURE_SETTINGS.join(', ')})`);
  }
  if (fineractUrl) {
    const unsafe = unsafeSettings({
      messagingProvider: provider,
      callbackKey: v('AT_CALLBACK_KEY'),
      fineractPassword: v('FINERACT_PASSWORD'),
      simSwapProvider,
    }).filter((u) => !allowInsecure.includes(u.word));
    if (unsafe.length > 0) {
      problem(
        `unsafe settings against a real Fineract (FINERACT_URL is set; threat T27): ${unsafe.map((u) => u.problem).join('; ')}. ` +
          `Fix each, or accept it explicitly with KIUNGA_ALLOW_INSECURE=${unsafe.map((u) => u.word).join(',')}`,
      );
    }
  }
}

/** The configuration built from valid settings. */
function toConfig(v: SettingValues) {
  const fineractUrl = v.FINERACT_URL;
  const sandbox = !fineractUrl;
  const savingsProductIds = v.FINERACT_SAVINGS_PRODUCTS ?? (sandbox ? [1] : undefined);
  const loanProductIds = v.FINERACT_LOAN_PRODUCTS ?? (sandbox ? [1] : undefined);
  const pepper = v.PIN_PEPPER;
  return {
    port: v.PORT,
    host: v.HOST,
    publicUrl: v.PUBLIC_URL,
    redisUrl: v.REDIS_URL,
    redisPrefix: v.REDIS_PREFIX,
    /** CLOCK_SKEW_MAX_MS: the clock guard's threshold (control/clock-guard.ts). */
    clockSkewMaxMs: v.CLOCK_SKEW_MAX_MS,
    fineract: {
      /** Undefined: run the built-in sandbox. */
      url: fineractUrl,
      readUrls: csv(v.FINERACT_READ_URLS),
      tenant: v.FINERACT_TENANT,
      username: v.FINERACT_USERNAME,
      password: v.FINERACT_PASSWORD,
      rateLimit: v.FINERACT_RATE_LIMIT,
      /** FINERACT_UNKNOWN_LOOKUP_SHARE: share of rateLimit for lookups of numbers never matched to a customer. */
      unknownLookupShare: v.FINERACT_UNKNOWN_LOOKUP_SHARE,
      maxConcurrent: v.FINERACT_MAX_CONCURRENT,
      /** FINERACT_RATE_LOCAL_SHARE: share of the limits spent from each process's memory (limits/local-share.ts). */
      rateLocalShare: v.FINERACT_RATE_LOCAL_SHARE,
      cacheTtlS: v.FINERACT_CACHE_TTL_S,
      timeoutMs: v.FINERACT_TIMEOUT_MS,
      /** Undefined: every product. */
      savingsProductIds: savingsProductIds?.length ? savingsProductIds : undefined,
      loanProductIds: loanProductIds?.length ? loanProductIds : undefined,
    },
    timezone: v.TIMEZONE,
    currency: v.CURRENCY,
    limits: { minCents: v.TRANSFER_MIN * 100, maxCents: v.TRANSFER_MAX * 100, dailyCents: v.TRANSFER_DAILY_LIMIT * 100 },
    /** Money step-up (threat T31): OTP_THRESHOLD (in cents) and above, and a first payee when OTP_NEW_PAYEE, need a code by SMS. */
    stepUp: { thresholdCents: v.OTP_THRESHOLD * 100, newPayee: v.OTP_NEW_PAYEE },
    /** TRANSFER_RESOLVE_MAX_AGE_S: past it, an unresolved transfer is only looked for, never sent again. */
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
      /** TWILIO_VOICES by language. */
      twilioVoices: Object.fromEntries(
        csv(v.TWILIO_VOICES).map((entry): [string, { voice: string; language: string }] => {
          const [lang = '', rest = ''] = entry.split('=');
          const [voice = '', language = ''] = rest.split('/');
          return [lang, { voice, language }];
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
    /** Provider rate limits (per second, all processes together). */
    outbound: { smsPerSecond: v.SMS_RATE_LIMIT, callsPerSecond: v.CALL_RATE_LIMIT },
    /** FINERACT_HOOK_SECRET; undefined refuses every hook. */
    hookSecret: v.FINERACT_HOOK_SECRET,
    /** The admin API (threat T17): operators (ADMIN_TOKENS, ADMIN_TOKEN as `admin`), separate listener, four eyes, rate. */
    admin: {
      operators: operatorsOf(v.ADMIN_TOKENS, v.ADMIN_TOKEN),
      /** Set: /admin is served only by a second listener on host:port. */
      listen: v.ADMIN_PORT === undefined ? undefined : { host: v.ADMIN_HOST, port: v.ADMIN_PORT },
      fourEyes: v.ADMIN_FOUR_EYES,
      ratePerMin: v.ADMIN_RATE_PER_MIN,
    },
    /** PIN_MAX_FAILURES wrong PINs lock for PIN_LOCK_S, doubling per lock; after PIN_HARD_LOCK_AFTER timed locks the next is hard. */
    pin: {
      pepper: pepper ?? DEV_PIN_PEPPER,
      usingDevelopmentPepper: !pepper,
      maxFailures: v.PIN_MAX_FAILURES,
      lockS: v.PIN_LOCK_S,
      hardLockAfter: v.PIN_HARD_LOCK_AFTER,
    },
    /** Enrolment and the PIN lifecycle (ENROLMENT_MODE, SUPPORT_PHONE). */
    identity: { enrolmentMode: v.ENROLMENT_MODE, supportPhone: v.SUPPORT_PHONE },
    /** Approvals (issue 11): APPROVAL_DEFAULT_EXPIRY_S, and the code SMS texts tell people to dial (USSD_SERVICE_CODE). */
    approvals: { defaultExpiryS: v.APPROVAL_DEFAULT_EXPIRY_S, ussdCode: v.USSD_SERVICE_CODE },
    /** Agents (issue 11): how long a cash-out waits for the customer, and whether the agent keys the customer's ID. */
    agents: { cashOutExpiryS: v.AGENT_CASHOUT_EXPIRY_S, idCheck: v.AGENT_CASHOUT_ID_CHECK },
    /** Sign-up and loan applications (issue 12): the new client's status and office, the quote client, the status poll, the ID rule. */
    origination: {
      clientActive: v.LOAN_APPLICANT_CLIENT_ACTIVE,
      officeId: v.LOAN_APPLICANT_OFFICE_ID,
      quoteClientId: v.LOAN_QUOTE_CLIENT_ID,
      statusPollS: v.LOAN_STATUS_POLL_S,
      country: v.SIGNUP_COUNTRY,
    },
    /** Abuse buckets on every channel route (LIMIT_NUMBER_PER_MIN, LIMIT_SOURCE_PER_MIN, TRUSTED_SOURCES). */
    abuse: { numberPerMin: v.LIMIT_NUMBER_PER_MIN, sourcePerMin: v.LIMIT_SOURCE_PER_MIN, trustedSources: csv(v.TRUSTED_SOURCES) },
    /** SMS keywords: PIN-in-SMS allowed (SMS_PIN_ENABLED), answers per number per hour (SMS_MAX_PER_HOUR). */
    sms: { pinEnabled: v.SMS_PIN_ENABLED, maxPerHour: v.SMS_MAX_PER_HOUR },
    /** The audit trail's signed checkpoints (threat T16): AUDIT_SIGNING_KEY, AUDIT_VERIFY_KEY, AUDIT_CHECKPOINT_*. */
    audit: {
      signingKey: v.AUDIT_SIGNING_KEY,
      verifyKey: v.AUDIT_VERIFY_KEY,
      checkpointDir: v.AUDIT_CHECKPOINT_DIR,
      checkpointEvery: v.AUDIT_CHECKPOINT_EVERY,
      checkpointMs: v.AUDIT_CHECKPOINT_S * 1000,
    },
    flowsDir: v.FLOWS_DIR,
    /** CATALOGUE_FILE, or catalogue.yaml in FLOWS_DIR; a missing file leaves the product-id settings in force. */
    catalogueFile: v.CATALOGUE_FILE ?? join(v.FLOWS_DIR, 'catalogue.yaml'),
    /** CATALOGUE_FILE was set: its file must exist (a typo must not silently show every product). */
    catalogueRequired: v.CATALOGUE_FILE !== undefined,
    localesDir: v.LOCALES_DIR,
    sandboxPort: v.SANDBOX_PORT,
    sandboxCustomers: v.SANDBOX_CUSTOMERS,
    sandboxSimSwapped: csv(v.SANDBOX_SIM_SWAPPED),
    /** SIM_SWAP_*: the check before money-out (threat T4). */
    simSwap: {
      provider: simSwapProviderOf(v),
      maxAgeDays: v.SIM_SWAP_MAX_AGE_DAYS,
      waitMs: v.SIM_SWAP_WAIT_MS,
      cacheS: v.SIM_SWAP_CACHE_S,
    },
    /** KIUNGA_ALLOW_INSECURE: unsafe settings explicitly accepted against a real Fineract (threat T27). */
    allowInsecure: csv(v.KIUNGA_ALLOW_INSECURE).filter(isInsecureSetting),
    /** SIMULATOR: serve /simulator (default: with the built-in sandbox only). */
    simulator: v.SIMULATOR ?? sandbox,
    logLevel: v.LOG_LEVEL,
  };
}

/**
 * The environment in, the configuration out: each variable by its setting's schema, the rules between them
 * (`crossProblems`, run even when a variable is invalid), then the frozen configuration. Unknown variables are
 * ignored.
 */
export const configSchema = z
  .object({ ...settingsShape, ...retiredShape })
  .superRefine(crossProblems, { when: () => true })
  .transform((v) => deepFreeze(toConfig(v)));

/** The typed, frozen configuration the rest of the code receives. */
export type Config = z.output<typeof configSchema>;

/**
 * One line per problem: a variable's own problems joined on one line naming it, then the rules between
 * settings (their messages name the variables).
 */
function problemsOf(issues: readonly z.core.$ZodIssue[]): string[] {
  const byVariable = new Map<string, string[]>();
  const rules: string[] = [];
  for (const issue of issues) {
    const name = issue.path?.[0];
    if (typeof name !== 'string') rules.push(issue.message);
    else byVariable.set(name, [...(byVariable.get(name) ?? []), issue.message]);
  }
  return [...[...byVariable].map(([name, messages]) => `${name}: ${messages.join('; ')}`), ...rules];
}

/** Reads, validates and freezes the configuration; reports every problem at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error.issues));
  return parsed.data;
}

/**
 * What the chosen MESSAGING_PROVIDER needs, all missing settings at once: africastalking needs AT_USERNAME,
 * AT_API_KEY and AT_VOICE_NUMBER; twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_NUMBER and
 * PUBLIC_URL (its webhooks are built from it). Numbers calls come from must be E.164.
 */
function providerProblems(
  provider: SettingValues['MESSAGING_PROVIDER'] | undefined,
  missing: (name: SettingName) => boolean,
  atVoiceNumber: string | undefined,
  twilioNumber: string | undefined,
): string[] {
  const needs: Record<string, SettingName[]> = {
    africastalking: ['AT_USERNAME', 'AT_API_KEY', 'AT_VOICE_NUMBER'],
    twilio: ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_NUMBER', 'PUBLIC_URL'],
  };
  const out: string[] = [];
  for (const name of needs[provider ?? ''] ?? []) if (missing(name)) out.push(`${name}: required with MESSAGING_PROVIDER=${provider}`);
  const [number, given] =
    provider === 'africastalking'
      ? ['AT_VOICE_NUMBER', atVoiceNumber]
      : provider === 'twilio'
        ? ['TWILIO_NUMBER', twilioNumber]
        : [undefined, undefined];
  if (number && given !== undefined && !/^\+[1-9]\d{6,14}$/.test(given.trim()))
    out.push(`${number}: must be an E.164 number, e.g. +254711082000`);
  return out;
}

/** An operator of the admin API: the name audited with each call, and the bearer token. */
export interface Operator {
  name: string;
  token: string;
}

const OPERATOR_NAME = /^[a-z0-9._-]{1,32}$/;
/** Shortest operator token against a real Fineract (ADMIN_TOKEN's own minimum, 16, stays for the sandbox). */
const PRODUCTION_TOKEN_MIN = 24;

/** ADMIN_TOKENS entries as written (`name:token`); the token may itself hold `:`. */
function operatorEntries(tokens: string | undefined): { name: string; token: string }[] {
  return csv(tokens).map((entry) => {
    const at = entry.indexOf(':');
    return at < 0 ? { name: entry, token: '' } : { name: entry.slice(0, at).trim(), token: entry.slice(at + 1).trim() };
  });
}

/** The operators with the setting each comes from: ADMIN_TOKENS, plus ADMIN_TOKEN as the operator `admin`. */
function labelledOperators(tokens: string | undefined, legacy: string | undefined): (Operator & { from: string })[] {
  const out = operatorEntries(tokens).map((o, i) => ({ ...o, from: `ADMIN_TOKENS: entry ${i + 1}` }));
  if (legacy) out.push({ name: 'admin', token: legacy, from: "ADMIN_TOKEN (the operator 'admin')" });
  return out;
}

function operatorsOf(tokens: string | undefined, legacy: string | undefined): Operator[] {
  return labelledOperators(tokens, legacy).map(({ name, token }) => ({ name, token }));
}

/** What is wrong with the operators; the messages name entries by position, never echo a token. */
function operatorProblems(tokens: string | undefined, legacy: string | undefined, production: boolean): string[] {
  const out: string[] = [];
  const min = production ? PRODUCTION_TOKEN_MIN : 16;
  const names = new Set<string>();
  const secrets = new Set<string>();
  for (const { name, token, from } of labelledOperators(tokens, legacy)) {
    if (!OPERATOR_NAME.test(name)) out.push(`${from}: the name must be 1 to 32 of a-z 0-9 . _ - (name:token)`);
    else if (names.has(name)) out.push(`${from}: operator '${name}' is named twice`);
    if (token.length < min)
      out.push(`${from}: the token must be at least ${min} characters${production ? ' against a real Fineract (FINERACT_URL)' : ''}`);
    else if (secrets.has(token)) out.push(`${from}: two operators share one token (each operator needs their own)`);
    names.add(name);
    secrets.add(token);
  }
  return out;
}

/** False only when both audit keys are set, valid, and the public one is not the private one's half. */
function auditKeysMatch(signing: string | undefined, verifying: string | undefined): boolean {
  const privateKey = signing === undefined ? undefined : ed25519Key(signing, 'private');
  const publicKey = verifying === undefined ? undefined : ed25519Key(verifying, 'public');
  if (!privateKey || !publicKey) return true;
  const der = { format: 'der', type: 'spki' } as const;
  return createPublicKey(privateKey).export(der).equals(publicKey.export(der));
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
    out.push({
      word: 'messaging',
      problem: 'MESSAGING_PROVIDER=sandbox (no SMS or call reaches anyone, and GET /sandbox/outbox shows receipts to anyone)',
    });
  }
  if (!s.callbackKey) {
    out.push({
      word: 'callback-key',
      problem: "AT_CALLBACK_KEY is not set (the Africa's Talking USSD, SMS and voice routes answer anyone who posts to them)",
    });
  }
  if (s.fineractPassword === DEFAULT_FINERACT_PASSWORD) {
    out.push({ word: 'fineract-password', problem: "FINERACT_PASSWORD is Fineract's default password" });
  }
  if (s.simSwapProvider !== 'africastalking') {
    out.push({
      word: 'sim-swap',
      problem: `SIM_SWAP_PROVIDER=${s.simSwapProvider} (no real SIM-swap check before money leaves an account, threat T4)`,
    });
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
