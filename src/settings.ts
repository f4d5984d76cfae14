import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_COUNTRY, DEFAULT_CURRENCY, DEFAULT_TIMEZONE } from './constants.js';

/**
 * Every setting Kiunga reads: its schema, default and help text. `config.ts` reads the environment with
 * them; the README's settings table is printed from them (`kiunga config --readme`), so the two cannot
 * drift.
 */

export const csv = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const int = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

export const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL (${protocols.join(' or ')})`,
    );

/** Comma-separated product ids; empty means every product. */
const productIds = z
  .string()
  .transform(csv)
  .refine((ids) => ids.every((id) => /^\d+$/.test(id)), 'must be comma-separated product ids')
  .transform((ids) => ids.map(Number));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The Ed25519 key an audit key setting holds (PEM, or DER in base64), or undefined; never echoes it. */
export function ed25519Key(text: string, kind: 'private' | 'public'): KeyObject | undefined {
  try {
    const trimmed = text.trim();
    const pem = trimmed.startsWith('-----BEGIN');
    const key =
      kind === 'private'
        ? createPrivateKey(pem ? { key: trimmed, format: 'pem' } : { key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'pkcs8' })
        : createPublicKey(pem ? { key: trimmed, format: 'pem' } : { key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

const isEd25519 = (text: string, kind: 'private' | 'public') => ed25519Key(text, kind) !== undefined;

/** One documented setting: its schema, default and help text. */
export interface Setting {
  help: string;
  default?: string;
  /** Reads the variable's text (after the default is applied). */
  schema: z.ZodType<unknown, string>;
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
  CLOCK_SKEW_MAX_MS: {
    help:
      "Largest difference allowed between this process's clock and Redis's (read with the kill switches, every " +
      '250 ms). Beyond it the process is unready (/readyz: clock), makes no Fineract, SMS or call requests and runs ' +
      "no jobs, because the shared rate limits and delayed jobs trust each caller's clock; it resumes by itself.",
    default: '1000',
    schema: int(100, 60_000),
  },
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
  FINERACT_UNKNOWN_LOOKUP_SHARE: {
    help:
      'Share of FINERACT_RATE_LIMIT that lookups of numbers Kiunga has never matched to a customer may use, shared ' +
      'by all processes; beyond it such a hop is answered "try later" without calling Fineract, so a flood of ' +
      'random numbers cannot starve returning customers (threat T28). 0 refuses every new number, 1 disables the cap.',
    default: '0.2',
    schema: z
      .string()
      .trim()
      .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number from 0 to 1')
      .transform(Number),
  },
  FINERACT_RATE_LOCAL_SHARE: {
    help:
      'Share of FINERACT_RATE_LIMIT and FINERACT_MAX_CONCURRENT that the live processes split among themselves and ' +
      'spend from memory, so a call far under the limit costs no Redis round trip; the rest is shared through ' +
      'Redis, and the sum never exceeds the limits. A process takes its part once the others have counted it ' +
      '(up to about 30 s after start-up; at once when alone). 0 disables it; at most 0.5.',
    default: '0.2',
    schema: z
      .string()
      .trim()
      .regex(/^0(\.\d+)?$/, 'must be a number from 0 to 0.5')
      .transform(Number)
      .pipe(z.number().max(0.5, 'must be a number from 0 to 0.5')),
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
    schema: productIds,
  },
  FINERACT_LOAN_PRODUCTS: {
    help: 'Comma-separated loan product ids shown on channels (empty: all; sandbox default: 1).',
    schema: productIds,
  },
  TIMEZONE: {
    help: "The Fineract tenant's time zone (IANA, its timezone_id). Transfer dates and daily limits follow Fineract's business date: read from Fineract when its business date feature is on, else today in this zone.",
    default: DEFAULT_TIMEZONE,
    schema: z.string().refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone, e.g. Africa/Nairobi'),
  },
  CURRENCY: {
    help: 'Currency of channel accounts (ISO 4217), used for limits and receipts.',
    default: DEFAULT_CURRENCY,
    schema: z.string().regex(/^[A-Z]{3}$/),
  },
  TRANSFER_MIN: { help: 'Smallest amount one transfer or repayment may move (major units).', default: '10', schema: int(1, 1_000_000_000) },
  TRANSFER_MAX: {
    help: 'Largest amount one transfer or repayment may move (major units).',
    default: '70000',
    schema: int(1, 1_000_000_000),
  },
  TRANSFER_DAILY_LIMIT: {
    help: 'Most a customer may move per business day, all channels together (major units).',
    default: '150000',
    schema: int(1, 1_000_000_000),
  },
  OTP_THRESHOLD: {
    help:
      'A transfer or repayment of this amount or more (major units of CURRENCY) needs the PIN and then a one-time code sent by ' +
      'SMS, bound to the amount and the payee (threat T31).',
    default: '10000',
    schema: int(1, 1_000_000_000),
  },
  OTP_NEW_PAYEE: {
    help: 'true: sending to a customer this customer has never paid successfully also needs a one-time code by SMS, whatever the amount.',
    default: 'false',
    schema: bool,
  },
  TRANSFER_RESOLVE_MAX_AGE_S: {
    help: 'A transfer whose outcome is still unknown this long after it was confirmed is only looked for in Fineract, never sent again; the customer is told by SMS and operators see it at GET /admin/transfers?status=uncertain.',
    default: '900',
    schema: int(1, 7 * 24 * 3600),
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
  FINERACT_HOOK_SECRET: {
    help:
      'Secret of the Fineract hook URL (Fineract signs nothing): register the "Web" hook with Payload URL ' +
      'https://<host>/hooks/fineract/<secret>/ (Fineract needs the trailing / and drops any query string, so the ' +
      'secret is a path segment; Kiunga never logs it). Letters, digits and . _ ~ - only. Unset: every hook is refused (403).',
    schema: z
      .string()
      .min(16, 'must be at least 16 characters')
      .regex(/^[A-Za-z0-9._~-]+$/, 'must be letters, digits and . _ ~ - only (it is a URL path segment)'),
    secret: true,
  },
  ADMIN_TOKEN: {
    help: 'Bearer token of one operator named `admin` (kept for older deployments; ADMIN_TOKENS names each operator). Neither set: admin API disabled.',
    schema: z.string().min(16, 'must be at least 16 characters'),
    secret: true,
  },
  ADMIN_TOKENS: {
    help:
      'Operators of the admin API, `name:token,name2:token2` (names: a-z 0-9 . _ -; tokens at least 16 characters, ' +
      "24 against a real Fineract). Each call is audited with the operator's name.",
    schema: z.string().trim().min(1),
    secret: true,
  },
  ADMIN_HOST: {
    help: 'Address the separate admin listener binds to (with ADMIN_PORT).',
    default: '127.0.0.1',
    schema: z.string().trim().min(1),
  },
  ADMIN_PORT: {
    help: 'Serve /admin (API, console, OpenAPI document) only on this port of ADMIN_HOST; the public port then answers 404 for /admin. Unset: /admin on the public port.',
    schema: int(1, 65535),
  },
  ADMIN_FOUR_EYES: {
    help: 'Switching `money` or `all` back on needs a second, different operator to confirm within 15 minutes.',
    default: 'false',
    schema: bool,
  },
  ADMIN_RATE_PER_MIN: {
    help: 'Admin API calls per minute per source address, and per operator (429 with Retry-After beyond).',
    default: '120',
    schema: int(1, 100000),
  },
  PIN_PEPPER: {
    help:
      'Server secret that keys PIN hashes; never stored in Redis. Required with FINERACT_URL; the sandbox uses a ' +
      'development default and says so.',
    schema: z.string().min(16, 'must be at least 16 characters'),
    secret: true,
  },
  PIN_MAX_FAILURES: {
    help:
      'Wrong PINs in a row (within 24 h; counted per customer and per number, across every channel and process) ' +
      'that lock the PIN. A right PIN clears the count.',
    default: '3',
    schema: int(1, 10),
  },
  PIN_LOCK_S: {
    help:
      'Seconds the first lock lasts; each further lock doubles it (30 min, 60 min, 120 min ...). A lock is ' +
      'remembered for escalation until 24 h after it ended. The customer is told by SMS.',
    default: '1800',
    schema: int(1, 7 * 86_400),
  },
  PIN_HARD_LOCK_AFTER: {
    help:
      'Timed locks in a row before the next lock is hard (lasts until an operator unlocks: DELETE ' +
      '/admin/customers/<clientId>/pin/lock). 0: every lock is hard.',
    default: '3',
    schema: int(0, 20),
  },
  ENROLMENT_MODE: {
    help:
      'Who starts an enrolment (threat T11). operator: an operator enrols a customer (POST /admin/enrolments), ' +
      'who then gets an activation code by SMS. self: a registered client with no PIN who dials is sent the code ' +
      'at once, unless the SIM was swapped recently (T4: that customer is sent to a branch).',
    default: 'operator',
    schema: z.enum(['operator', 'self']),
  },
  SUPPORT_PHONE: {
    help: 'The number the "Your PIN was changed. Not you? Call ..." SMS gives. Empty: the SMS says "customer care".',
    default: '',
    schema: z.string().max(20),
  },
  APPROVAL_DEFAULT_EXPIRY_S: {
    help:
      'How long an approval waits for its approvers when its mandate names no expiry (issue 11): then it expires, ' +
      'its hold is released and everyone concerned is told. A warning SMS goes out at 80% of it (at most an hour before).',
    default: '86400',
    schema: int(60, 30 * 86_400),
  },
  AGENT_CASHOUT_EXPIRY_S: {
    help:
      'How long a cash-out request waits for the customer to confirm it on their own phone (issue 11, threat T32): ' +
      'then it expires, the hold on their savings is released and nothing moves.',
    default: '300',
    schema: int(60, 3600),
  },
  AGENT_CASHOUT_ID_CHECK: {
    help:
      "true: before a cash-out request the agent keys the customer's ID number, which must be one of the client's " +
      "active identifiers in Fineract (threat T32: the customer's own ID, not merely a valid one; two tries). " +
      'The service account then also needs READ_CLIENTIDENTIFIER.',
    default: 'false',
    schema: bool,
  },
  LOAN_APPLICANT_CLIENT_ACTIVE: {
    help:
      'Issue 12: an approved applicant who is not a client yet becomes a Fineract client (externalId = the Kiunga ' +
      'profile id) that is active (true) or pending activation (false). Fineract takes loans only from active ' +
      'clients: with false, the application waits, approved, until the client is activated in Fineract, then the ' +
      'status job submits its loan.',
    default: 'true',
    schema: bool,
  },
  LOAN_APPLICANT_OFFICE_ID: {
    help: 'Issue 12: the Fineract office new clients from sign-up are created in.',
    default: '1',
    schema: int(1, Number.MAX_SAFE_INTEGER),
  },
  LOAN_QUOTE_CLIENT_ID: {
    help:
      "Issue 12: Fineract's calculateLoanSchedule validates the loan as a submission, which needs an existing, active " +
      'client (LoanApplicationValidator), so an applicant who is not a client yet is quoted under this client (nothing ' +
      'is stored; the terms are the same for everyone). Pick an active client in an office that may sell the ' +
      "catalogue's loan products; quotes fail while it is closed or inactive (docs/fineract.md, section 5.3).",
    default: '1',
    schema: int(1, Number.MAX_SAFE_INTEGER),
  },
  LOAN_STATUS_POLL_S: {
    help:
      "Issue 12: how often Fineract's status of applied-for loans (approved, disbursed, rejected) is read, and " +
      'approved applications not sent yet are sent again. With the Fineract hook registered for the LOAN events ' +
      '(README, Fineract hooks) a change is mirrored at once and the poll is only the fallback.',
    default: '60',
    schema: int(5, 86_400),
  },
  SIGNUP_COUNTRY: {
    help: 'Issue 12: the country (ISO 3166 alpha-2) whose national ID rule sign-up applies (KE: 7 or 8 digits).',
    default: DEFAULT_COUNTRY,
    schema: z.enum([DEFAULT_COUNTRY]),
  },
  USSD_SERVICE_CODE: {
    help: 'The USSD code SMS texts tell customers to dial (approvals: "Dial *384*123# > Approvals").',
    default: '*384*123#',
    schema: z.string().regex(/^\*[0-9*]{1,20}#$/, 'must be a USSD code such as *384*123#'),
  },
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
  AUDIT_SIGNING_KEY: {
    help:
      'Ed25519 private key that signs the audit checkpoints (threat T16): PKCS#8 PEM, or its DER in base64 on one line ' +
      '(`kiunga audit keygen` prints a pair). Unset, or without AUDIT_CHECKPOINT_DIR: no checkpoints, and a warning at start.',
    schema: z.string().refine((text) => isEd25519(text, 'private'), 'must be an Ed25519 private key (PKCS#8 PEM, or DER in base64)'),
    secret: true,
  },
  AUDIT_VERIFY_KEY: {
    help:
      'Ed25519 public key `kiunga audit verify` checks the checkpoints with (SPKI PEM, or DER in base64), so operators ' +
      'verify without the signing key. Unset: the public half of AUDIT_SIGNING_KEY.',
    schema: z.string().refine((text) => isEd25519(text, 'public'), 'must be an Ed25519 public key (SPKI PEM, or DER in base64)'),
  },
  AUDIT_CHECKPOINT_DIR: {
    help:
      'Directory outside Redis where signed audit checkpoints are written, one file each (several processes may share ' +
      'it). Deleting the newest audit entries is detected only against these files: copy them off the box.',
    schema: z.string().trim().min(1),
  },
  AUDIT_CHECKPOINT_EVERY: { help: 'A signed audit checkpoint every this many entries.', default: '100', schema: int(1, 1_000_000) },
  AUDIT_CHECKPOINT_S: {
    help: 'A signed audit checkpoint at least this often (seconds) while a process appended entries.',
    default: '60',
    schema: int(1, 86_400),
  },
  FLOWS_DIR: { help: 'Directory of flow files.', default: 'flows', schema: z.string().min(1) },
  CATALOGUE_FILE: {
    help: 'The product catalogue: which products each channel shows, and their terms (default: catalogue.yaml in FLOWS_DIR; a file named here must exist, or the server refuses to start). Without the default file, FINERACT_SAVINGS_PRODUCTS and FINERACT_LOAN_PRODUCTS decide which accounts are shown.',
    schema: z.string().min(1),
  },
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
  SIM_SWAP_PROVIDER: {
    help:
      'SIM-swap check before money leaves an account (threat T4): sandbox (SANDBOX_SIM_SWAPPED), africastalking (AT ' +
      'Insights through the africastalking SDK; needs AT_USERNAME, AT_API_KEY, AT_CALLBACK_KEY and the SIM-swap ' +
      'callback URL in the AT dashboard) or none. Unset: sandbox without FINERACT_URL, none with it. A check that ' +
      'cannot answer refuses the transfer (fails closed).',
    schema: z.enum(['sandbox', 'africastalking', 'none']),
  },
  SIM_SWAP_MAX_AGE_DAYS: {
    help: 'A SIM changed within this many days blocks money-out (the customer is sent to a branch).',
    default: '7',
    schema: int(1, 365),
  },
  SIM_SWAP_WAIT_MS: {
    help:
      "How long a transfer waits for Africa's Talking's SIM-swap answer (it arrives by callback); past it the " +
      'customer is asked to try again shortly and no money moves. Keep it well under HOP_DEADLINE_MS.',
    default: '1500',
    schema: int(100, 10_000),
  },
  SIM_SWAP_CACHE_S: {
    help: "How long one Africa's Talking SIM-swap answer is reused for the same number (each check is billed).",
    default: '3600',
    schema: int(0, 86_400),
  },
  KIUNGA_ALLOW_INSECURE: {
    help:
      'With FINERACT_URL set, Kiunga refuses to start while a setting is unsafe (threat T27): MESSAGING_PROVIDER=sandbox ' +
      '(messaging), no AT_CALLBACK_KEY (callback-key), the default FINERACT_PASSWORD (fineract-password), no SIM-swap ' +
      'check (sim-swap). Comma-separated words acknowledge each one explicitly; each is logged as a warning at start.',
    default: '',
    schema: z.string(),
  },
  SIMULATOR: {
    help: 'Serve the browser phone at /simulator. Unset: served with the built-in sandbox, not against a real Fineract.',
    schema: bool,
  },
  SANDBOX_PORT: { help: 'Port of `kiunga sandbox`.', default: '8080', schema: int(0, 65535) },
  LOG_LEVEL: {
    help: 'pino log level.',
    default: 'info',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  },
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The README's settings table, generated from SETTINGS. */
export function settingsMarkdown(): string {
  const rows = (Object.entries(SETTINGS) as [string, Setting][]).map(
    ([name, s]) =>
      `| \`${name}\` | ${s.default === undefined ? '(unset)' : s.default === '' ? '(empty)' : `\`${s.default}\``} | ${s.help} |`,
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
