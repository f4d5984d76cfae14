import { randomBytes, randomInt } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { Counter } from 'prom-client';
import type { AuditTrail } from '../audit/audit.js';
import { OTP_JOB } from '../jobs/catalogue.js';
import { maskMsisdn } from '../logger.js';
import { defaultKeys, type ClientId } from '../session/keys.js';
import {
  memoryBackend,
  redisBackend,
  type ChallengeLimits,
  type ChallengeRecord,
  type CheckReply,
  type CheckResult,
} from './challenge-store.js';
import {
  CHALLENGE_DIGITS,
  CHALLENGE_ISSUES_PER_HOUR,
  CHALLENGE_PURPOSES,
  CHALLENGE_SENDS,
  CHALLENGE_TRIES,
  CHALLENGE_TTL_MS,
  type ChallengeServiceOptions,
  type ChallengeServiceRuntime,
} from './challenge-contract.js';
import { challengeKey, codeSecrets, freshKey, issuesKey, type Meta } from './challenge-record.js';
import { handleOtpJobs } from './challenge-sms.js';

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

export * from './challenge-contract.js';
export { canonicalIntent, challengeKey } from './challenge-record.js';

const HOUR_MS = 3_600_000;
/** The fresh-credential mark outlives a customer who waits weeks before the first money-out. */
const FRESH_CREDENTIAL_TTL_MS = 90 * 24 * HOUR_MS;
/** What the store enforces. */
const LIMITS: ChallengeLimits = { sends: CHALLENGE_SENDS, issuesPerHour: CHALLENGE_ISSUES_PER_HOUR, validMs: CHALLENGE_TTL_MS };

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

  const { codeHash, intentHash, encrypt, decrypt } = codeSecrets(pepper);

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
      handleOtpJobs(q, send, { backend, keys, now, log, translator, decrypt, sent, record, actor, numericId });
    },
  };
  return service;
}
