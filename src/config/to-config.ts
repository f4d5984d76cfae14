import { join } from 'node:path';
import { csv } from '../settings/schemas.js';
import { operatorsOf } from './operators.js';
import { isInsecureSetting } from './production-safety.js';
import { simSwapProviderOf, type SettingValues } from './values.js';

const DEV_PIN_PEPPER = 'kiunga-development-pepper-do-not-use-in-production';

/** The configuration built from valid settings. */
export function toConfig(v: SettingValues) {
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
