import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { AuditTrail } from '../audit/audit.js';
import type { KeyValueStore } from '../session/store.js';
import { defaultKeys, type ClientId, type Keys } from '../session/keys.js';
import { hmacSha256 } from './secrets.js';
import { withLock } from '../session/lock.js';
import { remainingMs } from '../limits/deadline.js';
import { Cluster, type Redis } from 'ioredis';
import { policyArgs, type FailOutcome, type LockoutPolicy, type SubjectState } from './lockout.js';
import { MAX_LOCK_MS, NUMBERS_KEPT, DAY_MS, auditedClient, createPinLockouts } from './pin-lockouts.js';
import {
  definePinCheck,
  encodePinRecord,
  parsePinRecord,
  SALT_BYTES,
  toFailOutcome,
  type PinCheckScript,
  type PinRecord,
} from './pin-store.js';
import {
  deferToRecordWrite,
  forgetEarlyRead,
  keepSessionFact,
  sessionFact,
  takeEarlyRead,
  type HopContext,
} from '../session/hop-context.js';
import { InvalidPinFormat, type PinLockNotice, type PinService, type PinVerifyResult } from './pin.js';

export interface PinServiceOptions {
  store: KeyValueStore;
  /** The server secret (`PIN_PEPPER`) that keys every PIN hash; never stored. At least 16 bytes. */
  pepper: string;
  /** Wrong PINs in a row, counted across every channel and process, that lock the PIN (PIN_MAX_FAILURES, default 3). */
  maxFailures?: number;
  /** The first lock, in ms; each further lock doubles (PIN_LOCK_S, default 30 min). */
  lockMs?: number;
  /** Timed locks before the next lock is hard (PIN_HARD_LOCK_AFTER, default 3; 0: every lock is hard). */
  hardLockAfter?: number;
  /** Wrong PINs are forgotten this long after the last one (default 24 h). */
  failureWindowMs?: number;
  /** Locks are forgotten for escalation this long after the last one ended (default 24 h). */
  escalationMemoryMs?: number;
  /** The clock (epoch ms); tests move it. */
  now?: () => number;
  /** Called once per new lock (queues the customer's SMS); its failure is logged, never the caller's. */
  onLocked?: (notice: PinLockNotice) => Promise<void> | void;
  /** PIN length in digits, 4 to 6 (default 4). */
  pinLength?: number;
  keys?: Keys;
  /** Receives lockouts (client id only). */
  logger?: Logger;
  /** Receives `pin.ok`, `pin.failed` and `pin.locked` (never the PIN). */
  audit?: AuditTrail;
  /**
   * How long a check waits for a concurrent check of the same customer: until shortly before the hop's
   * deadline when the check is given one (`verify`'s `caller.hop`), else this (default 3000 ms).
   */
  lockWaitMs?: number;
}

/** The session fact holding the salt of a customer's PIN record (see `HopScope.facts`). */
const saltFact = (clientId: ClientId) => `pin-salt:${clientId}`;

/** How long a number remembers that its customer has a PIN (`hasPin`). */
const KNOWN_TTL_MS = 7 * DAY_MS;

/*
 * Why a keyed hash and no scrypt: a 4 to 6 digit PIN has at most a million values, so no stretching that a
 * USSD hop can afford (a few ms) stops an attacker who holds both a record and the pepper: at 5 ms a try,
 * 10,000 PINs fall in under a minute. What protects a copied Redis (T7) is the pepper, which lives only in
 * the server's environment; without it a record reveals nothing. Online guessing (T5) is stopped by the
 * shared failure counter. Stretching would only add CPU cost per hop, a denial-of-service lever.
 *
 * Lockout (threats T5, T26): wrong PINs are counted per customer AND per number (lockout.ts; the subjects'
 * keys, what a new lock does, and unlocks are in pin-lockouts.ts), in the shared store, across every channel
 * and process. The customer subject is what a PIN protects: it stops guessing one customer's PIN from many
 * numbers or sessions. The number subject stops one number from
 * guessing across the customers it can reach over time (a recycled or re-enrolled number, two clients
 * sharing a mobile number, whichever Fineract returns first): a number locked for one customer stays
 * locked for the next. A check is refused while either is locked; a wrong PIN counts on both; a right
 * PIN clears both. Locks are time-boxed and escalate, so claiming a number (a spoofed SMS sender, a
 * forged hop) can lock a customer out only for a while, and the customer hears of each lock by SMS.
 */
export function createPinService(options: PinServiceOptions): PinService {
  const { store, pepper, pinLength = 4, keys = defaultKeys, logger, lockWaitMs = 3000, onLocked } = options;
  const { maxFailures = 3, lockMs = 1_800_000, hardLockAfter = 3, now = Date.now } = options;
  const { failureWindowMs = DAY_MS, escalationMemoryMs = DAY_MS } = options;
  if (Buffer.byteLength(pepper, 'utf8') < 16) throw new TypeError('the PIN pepper must be at least 16 bytes');
  if (!Number.isInteger(maxFailures) || maxFailures < 1) throw new TypeError('maxFailures must be a positive integer');
  if (!Number.isInteger(hardLockAfter) || hardLockAfter < 0) throw new TypeError('hardLockAfter must be a whole number');
  for (const [name, ms] of Object.entries({ lockMs, failureWindowMs, escalationMemoryMs })) {
    if (!Number.isInteger(ms) || ms < 1) throw new TypeError(`${name} must be a positive number of ms`);
  }
  if (!Number.isInteger(pinLength) || pinLength < 4 || pinLength > 6) throw new TypeError('pinLength must be 4, 5 or 6');
  const format = new RegExp(`^\\d{${pinLength}}$`);

  const digest = (salt: Buffer, pin: string) => hmacSha256(pepper, salt, pin);

  function record(pin: string): string {
    if (typeof pin !== 'string' || !format.test(pin)) throw new InvalidPinFormat(`a PIN is ${pinLength} digits`);
    const salt = randomBytes(SALT_BYTES);
    return encodePinRecord(salt, digest(salt, pin));
  }

  const policy: LockoutPolicy = {
    maxFailures,
    lockMs,
    hardLockAfter,
    failureWindowMs,
    memoryMs: escalationMemoryMs,
    maxLockMs: Math.max(lockMs, MAX_LOCK_MS),
  };
  const locks = createPinLockouts({ store, keys, policy, now, onLocked, logger, audit: options.audit });
  const { lockout, customerKey, numberKey, numbersKey, rememberNumber, lockedResult, lockedNow, audited } = locks;

  const setPin = async (clientId: ClientId, pin: string, hop?: HopContext) => {
    const value = record(pin);
    await store.set(keys.pin(clientId), value);
    // A PIN changed in a session: its later checks use the new salt at once.
    if (sessionFact(hop, saltFact(clientId)) !== undefined) keepSessionFact(hop, saltFact(clientId), (JSON.parse(value) as PinRecord).salt);
  };

  const redis = store.kind === 'redis' ? (store as { client?: Redis | Cluster }).client : undefined;
  const pinScript = redis ? definePinCheck(redis) : undefined;
  // On a Cluster the number's lockout lives in another slot than the customer's keys: it is read before the script.
  const clustered = redis instanceof Cluster;

  /** The check in one script (see PIN_CHECK_LUA in pin-store.ts); the number's own lockout read alongside it. */
  async function scriptedCheck(
    script: PinCheckScript,
    clientId: ClientId,
    pin: string,
    msisdn: string | undefined,
    hop: HopContext | undefined,
  ): Promise<PinVerifyResult> {
    const at = now();
    const numberSubject = msisdn ? numberKey(msisdn) : undefined;
    const valid = typeof pin === 'string' && format.test(pin);
    let salt = sessionFact(hop, saltFact(clientId));
    // On one Redis the script reads the number's lockout (and clears or counts it). On a Cluster it lives in
    // another slot than the customer's keys: a locked number compares nothing, so it is read first.
    let number: SubjectState | undefined;
    if (clustered && numberSubject) {
      number = await lockout.status(numberSubject, at);
      if (number.locked) return lockedResult([number]);
    }
    if (salt === undefined) {
      // Not learned yet in this session: the record's salt first.
      const raw = await store.get(keys.pin(clientId));
      if (raw === null) return { result: 'not-set' };
      salt = parsePinRecord(clientId, raw).salt.toString('base64');
    }
    if (store.kind === 'redis' && (store as { client?: Redis | Cluster }).client?.status !== 'ready') await store.ping();
    const learned = salt;
    for (let attempt = 0; ; attempt++) {
      // A PIN of the wrong shape never matches, and counts as a wrong one.
      const candidate = valid ? digest(Buffer.from(salt, 'base64'), pin).toString('base64') : '';
      const customerKeys = [keys.pin(clientId), customerKey(clientId), numbersKey(clientId)];
      const sent = script.kiungaPinCheck(
        ...((numberSubject && !clustered ? [4, ...customerKeys, numberSubject] : [3, ...customerKeys]) as [3 | 4, ...string[]]),
        'fail',
        at,
        ...policyArgs(policy),
        salt,
        candidate,
        msisdn ?? '',
        locks.numbersTtlMs,
        NUMBERS_KEPT,
      );
      const reply = await sent;
      const [kind, value] = reply;
      if (kind === 'salt' && attempt === 0) {
        salt = String(value);
        continue;
      }
      if (kind === 'not-set') {
        keepSessionFact(hop, saltFact(clientId), undefined);
        return { result: 'not-set' };
      }
      if (kind === 'unreadable' || kind === 'salt') throw new Error(`the stored PIN record of client ${clientId} is unreadable`);
      keepSessionFact(hop, saltFact(clientId), salt);
      if (salt !== learned && msisdn) {
        // The PIN changed since the number's dials learned it: they learn the new salt (see `hasPin`).
        const known = keys.forMsisdn(msisdn, 'pin:known');
        forgetEarlyRead(hop, known);
        const remember = () => store.set(known, `${clientId} ${salt}`, KNOWN_TTL_MS).catch(() => undefined);
        if (!deferToRecordWrite(hop, remember)) void remember();
      }
      if (kind === 'held' || kind === 'number-held') {
        const until = Number(value);
        return lockedResult([{ hard: until < 0, ...(until > 0 ? { until } : {}) }]);
      }
      if (kind === 'ok') {
        // On a Cluster the number's failures are cleared here (the script cleared them on one Redis).
        if (numberSubject && number && (number.failures > 0 || number.locks > 0)) await lockout.clear(numberSubject);
        return { result: 'ok' };
      }
      // Wrong: the number counts it too (in the script itself when it had the number's key).
      const numberOutcome = numberSubject ? (clustered ? [await lockout.fail(numberSubject, at)] : [toFailOutcome(reply, 4)]) : [];
      const outcomes: FailOutcome[] = [toFailOutcome(reply), ...numberOutcome];
      if (outcomes.some((o) => o.kind === 'locked')) return lockedNow(clientId, msisdn, at, outcomes, hop);
      return { result: 'wrong', attemptsLeft: Math.min(...outcomes.map((o) => (o.kind === 'wrong' ? o.left : 0))) };
    }
  }

  async function check(clientId: ClientId, pin: string, msisdn: string | undefined, hop: HopContext | undefined): Promise<PinVerifyResult> {
    if (pinScript) return scriptedCheck(pinScript, clientId, pin, msisdn, hop);
    const subjects = [customerKey(clientId), ...(msisdn ? [numberKey(msisdn)] : [])];
    // Checks of one customer's PIN are serialised across every channel and process, so concurrent guesses
    // cannot compare more than maxFailures wrong PINs, and concurrent right ones never count as wrong.
    const hopLeft = remainingMs(hop?.deadline);
    const waitMs = hopLeft === undefined ? lockWaitMs : Math.max(0, hopLeft - 100);
    return withLock(store, keys.forCustomer(clientId, 'pin:check'), { ttlMs: 5000, waitMs, logger }, async (): Promise<PinVerifyResult> => {
      const at = now();
      const states = await Promise.all(subjects.map((key) => lockout.status(key, at)));
      const locked = states.filter((s) => s.locked);
      if (locked.length > 0) return lockedResult(locked);
      const raw = await store.get(keys.pin(clientId));
      if (raw === null) return { result: 'not-set' };
      const stored = parsePinRecord(clientId, raw);
      const candidate = digest(stored.salt, typeof pin === 'string' ? pin : '');
      if (timingSafeEqual(candidate, stored.hash) && typeof pin === 'string' && format.test(pin)) {
        if (states.some((s) => s.failures > 0 || s.locks > 0)) await Promise.all(subjects.map((key) => lockout.clear(key)));
        return { result: 'ok' };
      }
      if (msisdn) await rememberNumber(clientId, msisdn);
      const outcomes = await Promise.all(subjects.map((key) => lockout.fail(key, at)));
      if (outcomes.some((o) => o.kind === 'locked')) return lockedNow(clientId, msisdn, at, outcomes, hop);
      const left = Math.min(...outcomes.map((o) => (o.kind === 'wrong' ? o.left : 0)));
      return { result: 'wrong', attemptsLeft: left };
    });
  }

  return {
    metrics: locks.metrics,
    setPin,

    async verify(clientId, pin, caller) {
      const hop = caller?.hop;
      const msisdn = caller?.msisdn ?? hop?.caller?.msisdn;
      const result = await check(clientId, pin, msisdn, hop);
      // The number's next dial must not assume a PIN any more.
      if (result.result === 'not-set' && msisdn) {
        const known = keys.forMsisdn(msisdn, 'pin:known');
        forgetEarlyRead(hop, known);
        await store.delete(known).catch(() => undefined);
      }
      const about = {
        actor: `customer:${clientId}` as const,
        ...auditedClient(clientId),
        ...(msisdn ? { msisdn } : {}),
        ...(hop?.caller ? { channel: hop.caller.channel } : {}),
      };
      if (result.result === 'ok') await audited({ type: 'pin.ok', ...about }, hop);
      if (result.result === 'wrong')
        await audited({ type: 'pin.failed', ...about, data: { reason: 'wrong', attemptsLeft: result.attemptsLeft } }, hop);
      if (result.result === 'locked') await audited({ type: 'pin.failed', ...about, data: { reason: 'locked' } }, hop);
      return result;
    },

    isLocked: locks.isLocked,
    status: locks.status,
    unlock: locks.unlock,
    liftTimedLock: locks.liftTimedLock,

    async hasPin(clientId, msisdn, hop) {
      const known = msisdn ? keys.forMsisdn(msisdn, 'pin:known') : undefined;
      if (known) {
        // `<client id> <salt>`: the salt is no secret (the pepper is), and the check confirms it. A dial read it
        // with the session lock (the turn runner's `readAhead`).
        const [id, salt] = ((await (takeEarlyRead(hop, known) ?? store.get(known)).catch(() => null)) ?? '').split(' ');
        if (id === String(clientId) && salt) {
          keepSessionFact(hop, saltFact(clientId), salt);
          return true;
        }
      }
      const raw = await store.get(keys.pin(clientId));
      if (raw === null) return false;
      let salt: string | undefined;
      try {
        salt = parsePinRecord(clientId, raw).salt.toString('base64');
      } catch {
        // An unreadable record: the check itself says so.
      }
      if (salt) {
        // The salt is what the session's PIN check will need: learned now, it saves the check a round trip.
        keepSessionFact(hop, saltFact(clientId), salt);
        if (known) {
          const remember = () => store.set(known, `${clientId} ${salt}`, KNOWN_TTL_MS).catch(() => undefined);
          if (!deferToRecordWrite(hop, remember)) await remember();
        }
      }
      return true;
    },

    async clearPin(clientId, numbers = []) {
      await Promise.all([store.delete(keys.pin(clientId)), ...numbers.map((n) => store.delete(keys.forMsisdn(n, 'pin:known')))]);
    },

    async seedIfAbsent(clientId, pin) {
      const value = record(pin);
      // Not atomic (the store has no persistent set-if-absent); a race only matters between two seeders.
      if ((await store.get(keys.pin(clientId))) !== null) return false;
      await store.set(keys.pin(clientId), value);
      return true;
    },
  };
}
