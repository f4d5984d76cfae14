import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomInt } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { Counter, type Metric } from 'prom-client';
import type { AuditTrail } from '../audit/audit.js';
import { OTP_JOB, type Jobs } from '../jobs/catalogue.js';
import type { JobQueue } from '../jobs/queue.js';
import { maskMsisdn, type Logger } from '../logger.js';
import { defaultKeys, type ClientId, type Keys } from '../session/keys.js';
import type { KeyValueStore } from '../session/store.js';
import { toGsm } from '../text/gsm.js';
import type { Translator } from '../text/i18n.js';
import {
  memoryBackend,
  redisBackend,
  type ChallengeLimits,
  type ChallengeRecord,
  type CheckReply,
  type CheckResult,
} from './challenge-store.js';
import { hmacSha256 } from './secrets.js';

/**
 * One-time codes (threat T31): the one challenge primitive behind every code Kiunga sends, for
 * activation, self-unlock and money step-up.
 *
 * - A code is 6 digits, valid 5 minutes (CHALLENGE_TTL_MS), with 3 tries and 3 sends; a resend repeats the
 *   same code (SMS is slow), so the code is kept encrypted under a key derived from the pepper for the
 *   resend, and compared by its keyed hash.
 * - Checked and consumed in one atomic Redis step (Lua), the hashes compared in constant time.
 * - Bound to its intent: purpose, client and, for money, amount, currency, payee and source account. Any
 *   change to the intent voids the code. At most one open challenge per client and purpose.
 * - Never logged, audited or queued in clear: the SMS job carries the challenge's reference, and its handler
 *   reads the code when it sends.
 * - It outlives the USSD session: `pending()` tells a redialling customer's session what is waiting.
 */

export const CHALLENGE_PURPOSES = ['enrol', 'unlock', 'money'] as const;
export type ChallengePurpose = (typeof CHALLENGE_PURPOSES)[number];

export const CHALLENGE_DIGITS = 6;
export const CHALLENGE_TTL_MS = 5 * 60_000;
export const CHALLENGE_TRIES = 3;
export const CHALLENGE_SENDS = 3;

/** What a code authorises. Every field takes part in the binding. */
export interface ChallengeIntent {
  purpose: ChallengePurpose;
  clientId: ClientId;
  /** Money: amount in minor units, ISO currency, payee (account number) and source (account number). */
  amountCents?: number;
  currency?: string;
  payee?: string;
  source?: string;
}

/** What the SMS (and the redial prompt) says the code is for: already formatted for the customer. */
export interface ChallengeDisplay {
  /** "KES 20,000.00" */
  amount?: string;
  /** "Baraka O." (a short, masked name) */
  payee?: string;
}

export interface ChallengeDelivery {
  /** The registered number the code goes to (never the number of the channel it authorises, when they differ). */
  msisdn: string;
  language: string;
  /** The channel of the intent: the code travels on another one (SMS for USSD and voice). */
  channel: string;
  display?: ChallengeDisplay;
  /** Opaque state the caller needs back on a redial (e.g. the money intent's idempotency key); no secrets. */
  resume?: Record<string, string | number | boolean>;
}

export type IssueResult =
  | { status: 'sent' | 'resent'; expiresAt: number; sendsLeft: number }
  /** Three sends already: no more codes for this intent until it expires. */
  | { status: 'send-limit'; expiresAt: number };

export type { CheckResult };

export interface PendingChallenge {
  intent: ChallengeIntent;
  display?: ChallengeDisplay;
  resume?: Record<string, string | number | boolean>;
  expiresAt: number;
  triesLeft: number;
}

export interface ChallengeService {
  /** Issues a code for the intent, or resends the open one when the intent is the same; a different intent voids the open one. */
  issue(intent: ChallengeIntent, delivery: ChallengeDelivery): Promise<IssueResult>;
  /** Checks a code against the open challenge of `intent.purpose` for `intent.clientId`; consumes it when right. */
  check(intent: ChallengeIntent, code: string): Promise<CheckResult>;
  /** The open challenge of this purpose, for a redial; undefined when none. */
  pending(clientId: ClientId, purpose: ChallengePurpose): Promise<PendingChallenge | undefined>;
  /**
   * The open code of this purpose in clear, for a call Kiunga placed to the registered number to read it out
   * (the alternative to the SMS: many feature phones cannot show an SMS while a USSD dialog is open). Undefined
   * when none is open. The caller says it and keeps it nowhere: no log, no job, no session record.
   */
  readOut?(
    clientId: ClientId,
    purpose: ChallengePurpose,
  ): Promise<{ code: string; language: string; display?: ChallengeDisplay } | undefined>;
  /** Voids the open challenges of a client (all purposes unless given), e.g. after a PIN change. Returns how many. */
  revoke(clientId: ClientId, purposes?: readonly ChallengePurpose[]): Promise<number>;
  /** After an enrolment or a PIN reset: the next money-out needs a code (cleared by `consumeFreshCredential`). */
  markFreshCredential(clientId: ClientId): Promise<void>;
  isFreshCredential(clientId: ClientId): Promise<boolean>;
  consumeFreshCredential(clientId: ClientId): Promise<void>;
}

/** New challenges (not resends) one client may be sent per purpose in an hour: a cap on SMS pumping by changing the intent. */
export const CHALLENGE_ISSUES_PER_HOUR = 10;
const HOUR_MS = 3_600_000;
/** The fresh-credential mark outlives a customer who waits weeks before the first money-out. */
const FRESH_CREDENTIAL_TTL_MS = 90 * 24 * HOUR_MS;
/** What the store enforces. */
const LIMITS: ChallengeLimits = { sends: CHALLENGE_SENDS, issuesPerHour: CHALLENGE_ISSUES_PER_HOUR, validMs: CHALLENGE_TTL_MS };

/** Where a client's challenge of one purpose lives (same slot as the PIN: one customer's keys share a hash tag). */
export const challengeKey = (keys: Keys, clientId: ClientId, purpose: ChallengePurpose) => keys.forCustomer(clientId, `otp:${purpose}`);
const issuesKey = (keys: Keys, clientId: ClientId, purpose: ChallengePurpose) => keys.forCustomer(clientId, `otp:${purpose}:issues`);
const freshKey = (keys: Keys, clientId: ClientId) => keys.forCustomer(clientId, 'otp:fresh');

/** How the code reaches the customer's phone: `Messenger.send` of the messaging layer (the SMS provider or the sandbox outbox). */
export type OtpSender = (sms: { to: string; text: string; ref?: string }) => Promise<{ id: string }>;

export interface ChallengeServiceOptions {
  store: KeyValueStore;
  keys?: Keys;
  /** The server secret (`PIN_PEPPER`): keys the code hash and the intent hash, and derives the code's encryption key. */
  pepper: string;
  /** Delivery: one `otp` job per send, holding the challenge's reference only. */
  queue: JobQueue;
  /** The SMS texts (`sms.otp.<purpose>`). */
  translator: Translator;
  logger: Logger;
  audit?: AuditTrail;
  /** The clock (epoch ms); tests move it. */
  now?: () => number;
}

/** The service plus what the process wires: its metrics for /metrics and the `otp` job's handler. */
export interface ChallengeServiceRuntime extends ChallengeService {
  readonly metrics: Metric[];
  /** Registers the `otp` job handler on the queue (before `queue.start()`), sending through `send`. */
  register(queue: JobQueue, send: OtpSender): void;
}

/** What the record's `meta` holds (JSON): no secret. */
interface Meta {
  intent: ChallengeIntent;
  msisdn: string;
  language: string;
  channel: string;
  display?: ChallengeDisplay;
  resume?: Record<string, string | number | boolean>;
}

/** The intent's canonical fields, in a fixed order, absent ones as null: the input of its keyed hash. */
export function canonicalIntent(intent: ChallengeIntent): string {
  return JSON.stringify([
    intent.purpose,
    String(intent.clientId),
    intent.amountCents ?? null,
    intent.currency ?? null,
    intent.payee ?? null,
    intent.source ?? null,
  ]);
}

const CODE_FORMAT = new RegExp(`^\\d{${CHALLENGE_DIGITS}}$`);

/**
 * The challenge service on the given store: Lua scripts on Redis (atomic across every process), serialised
 * steps in process. See the contract at the top of this file.
 */
export function createChallengeService(options: ChallengeServiceOptions): ChallengeServiceRuntime {
  const { store, pepper, queue, translator, logger, audit, keys = defaultKeys, now = Date.now } = options;
  if (Buffer.byteLength(pepper, 'utf8') < 16) throw new TypeError('the pepper must be at least 16 bytes');
  const log = logger.child({ component: 'otp' });
  const client = (store as { client?: Redis | Cluster }).client;
  const backend = store.kind === 'redis' && client ? redisBackend(client, store, LIMITS) : memoryBackend(store, LIMITS);

  // The code is kept encrypted only so that a resend repeats it; its key comes from the pepper and a label of
  // its own, so it is never the key of the hashes.
  const encKey = Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), 'kiunga otp v1', 32));
  const codeHash = (salt: string, code: string) => hmacSha256(pepper, Buffer.from(salt, 'hex'), code).toString('hex');
  const intentHash = (intent: ChallengeIntent) => hmacSha256(pepper, 'kiunga otp intent v1\0', canonicalIntent(intent)).toString('hex');
  const aad = (id: string) => Buffer.from(`kiunga otp ${id}`, 'utf8');
  const encrypt = (id: string, code: string) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', encKey, iv);
    cipher.setAAD(aad(id));
    const body = Buffer.concat([cipher.update(code, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  };
  const decrypt = (id: string, enc: string) => {
    const raw = Buffer.from(enc, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', encKey, raw.subarray(0, 12));
    decipher.setAAD(aad(id));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  };

  const sent = new Counter({
    name: 'kiunga_otp_sent_total',
    help: 'One-time codes handed to the SMS provider (first sends and resends), by purpose.',
    labelNames: ['purpose'],
    registers: [],
  });
  const failed = new Counter({
    name: 'kiunga_otp_failed_total',
    help: 'One-time code checks that did not pass, by purpose and reason (wrong, exhausted, expired, mismatch).',
    labelNames: ['purpose', 'reason'],
    registers: [],
  });

  const record = async (event: Parameters<AuditTrail['record']>[0]) => {
    try {
      await audit?.record(event);
    } catch (err) {
      log.error({ type: event.type, err: { message: (err as Error)?.message } }, 'audit entry not written');
    }
  };
  const actor = (clientId: ClientId) => `customer:${clientId}` as const;
  const numericId = (clientId: ClientId) => (Number.isSafeInteger(Number(clientId)) ? Number(clientId) : undefined);

  const service: ChallengeServiceRuntime = {
    metrics: [sent, failed],

    async issue(intent, delivery) {
      const at = now();
      const id = randomBytes(12).toString('base64url');
      const salt = randomBytes(16).toString('hex');
      const code = String(randomInt(0, 10 ** CHALLENGE_DIGITS)).padStart(CHALLENGE_DIGITS, '0');
      const meta: Meta = {
        intent,
        msisdn: delivery.msisdn,
        language: delivery.language,
        channel: delivery.channel,
        ...(delivery.display ? { display: delivery.display } : {}),
        ...(delivery.resume ? { resume: delivery.resume } : {}),
      };
      const fresh: ChallengeRecord = {
        id,
        salt,
        ch: codeHash(salt, code),
        ih: intentHash(intent),
        enc: encrypt(id, code),
        exp: at + CHALLENGE_TTL_MS,
        tries: CHALLENGE_TRIES,
        sends: 1,
        meta: JSON.stringify(meta),
      };
      const key = challengeKey(keys, intent.clientId, intent.purpose);
      const reply = await backend.issue(key, issuesKey(keys, intent.clientId, intent.purpose), at, fresh);
      if (reply.status === 'send-limit') {
        log.warn({ clientId: intent.clientId, purpose: intent.purpose }, 'one-time code not sent: send limit reached');
        return { status: 'send-limit', expiresAt: reply.expiresAt };
      }
      if (reply.status === 'sent' && reply.replaced) {
        await record({
          type: 'otp.revoked',
          actor: actor(intent.clientId),
          clientId: numericId(intent.clientId),
          data: { purpose: intent.purpose, reason: 'replaced' },
        });
      }
      // The job names the challenge, never the code: its handler decrypts the code when it sends.
      const jobId = `otp-${reply.id}-${reply.send}`;
      await queue.add(OTP_JOB, { clientId: String(intent.clientId), purpose: intent.purpose, id: reply.id }, { jobId });
      return { status: reply.status, expiresAt: reply.expiresAt, sendsLeft: reply.sendsLeft };
    },

    async check(intent, code) {
      const key = challengeKey(keys, intent.clientId, intent.purpose);
      const candidate = typeof code === 'string' && CODE_FORMAT.test(code) ? code : '';
      let reply: CheckReply = { result: 'expired' };
      // Hashing needs the challenge's salt, read first; the script then checks that the same challenge is still
      // there (a reissue in between changes its id), so the check itself stays one atomic step.
      for (let attempt = 0; attempt < 3; attempt++) {
        const open = await backend.peek(key);
        if (!open) {
          reply = { result: 'expired' };
          break;
        }
        // A malformed entry still costs a try: its hash (of the empty string) can never match a code.
        reply = await backend.check(key, now(), open.id, intentHash(intent), codeHash(open.salt, candidate));
        if (reply.result !== 'changed') break;
      }
      const result: CheckResult = reply.result === 'changed' ? { result: 'expired' } : reply;
      const base = { actor: actor(intent.clientId), clientId: numericId(intent.clientId) } as const;
      if (result.result === 'ok') {
        await record({ type: 'otp.verified', ...base, data: { purpose: intent.purpose } });
      } else {
        failed.inc({ purpose: intent.purpose, reason: result.result });
        log.info({ clientId: intent.clientId, purpose: intent.purpose, result: result.result }, 'one-time code not accepted');
        await record({
          type: 'otp.failed',
          ...base,
          data: { purpose: intent.purpose, reason: result.result, ...(result.result === 'wrong' ? { triesLeft: result.triesLeft } : {}) },
        });
      }
      return result;
    },

    async readOut(clientId, purpose) {
      const r = await backend.read(challengeKey(keys, clientId, purpose));
      if (!r || r.exp <= now()) return undefined;
      const meta = JSON.parse(r.meta) as Meta;
      const code = decrypt(r.id, r.enc);
      sent.inc({ purpose });
      log.info({ clientId, purpose, to: maskMsisdn(meta.msisdn) }, 'one-time code read out in a call');
      await record({
        type: 'otp.sent',
        actor: actor(clientId),
        clientId: numericId(clientId),
        msisdn: meta.msisdn,
        channel: 'voice',
        data: { purpose, via: 'call' },
      });
      return { code, language: meta.language, ...(meta.display ? { display: meta.display } : {}) };
    },

    async pending(clientId, purpose) {
      const r = await backend.read(challengeKey(keys, clientId, purpose));
      if (!r || r.exp <= now()) return undefined;
      const meta = JSON.parse(r.meta) as Meta;
      return {
        intent: meta.intent,
        ...(meta.display ? { display: meta.display } : {}),
        ...(meta.resume ? { resume: meta.resume } : {}),
        expiresAt: r.exp,
        triesLeft: r.tries,
      };
    },

    async revoke(clientId, purposes = CHALLENGE_PURPOSES) {
      const n = await backend.remove(purposes.map((p) => challengeKey(keys, clientId, p)));
      if (n > 0) {
        await record({
          type: 'otp.revoked',
          actor: 'system',
          clientId: numericId(clientId),
          data: { purposes: purposes.join(','), count: n },
        });
      }
      return n;
    },

    async markFreshCredential(clientId) {
      await store.set(freshKey(keys, clientId), '1', FRESH_CREDENTIAL_TTL_MS);
    },
    async isFreshCredential(clientId) {
      return (await store.get(freshKey(keys, clientId))) !== null;
    },
    async consumeFreshCredential(clientId) {
      await store.delete(freshKey(keys, clientId));
    },

    register(q, send) {
      q.handle(OTP_JOB, async (job: Jobs[typeof OTP_JOB]) => {
        const purpose = job.purpose;
        const r = await backend.read(challengeKey(keys, job.clientId, purpose));
        // Consumed, revoked, replaced or expired since it was queued: nothing to send (idempotent on a retry).
        if (!r || r.id !== job.id || r.exp <= now()) {
          log.info({ clientId: job.clientId, purpose }, 'one-time code not sent: the challenge is no longer open');
          return;
        }
        const meta = JSON.parse(r.meta) as Meta;
        const code = decrypt(r.id, r.enc);
        const text = toGsm(
          translator.t(meta.language, `sms.otp.${purpose}`, {
            code,
            amount: meta.display?.amount ?? '',
            // The template ends the payee's sentence itself: "Baraka O." must not become "Baraka O..".
            payee: (meta.display?.payee ?? '').replace(/\.+$/, ''),
            minutes: Math.round(CHALLENGE_TTL_MS / 60_000),
          }),
        );
        let id: string;
        try {
          ({ id } = await send({ to: meta.msisdn, text, ref: `otp-${r.id}` }));
        } catch (err) {
          // A refusal for good (invalid or barred number) is not retried: the customer can ask again. Anything
          // else is thrown, so the queue retries this send (the code is read again then, never kept in the job).
          if ((err as Error)?.name !== 'PermanentDeliveryError') throw err;
          log.warn({ clientId: job.clientId, purpose, to: maskMsisdn(meta.msisdn) }, 'one-time code refused for good by the SMS provider');
          return;
        }
        sent.inc({ purpose });
        log.info({ clientId: job.clientId, purpose, to: maskMsisdn(meta.msisdn), id }, 'one-time code sent');
        await record({
          type: 'otp.sent',
          actor: actor(job.clientId),
          clientId: numericId(job.clientId),
          msisdn: meta.msisdn,
          channel: meta.channel,
          data: { purpose, send: r.sends },
        });
      });
    },
  };
  return service;
}
