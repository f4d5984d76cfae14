import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from '../session/store.js';
import { defaultKeys, type ClientId, type Keys } from '../session/keys.js';
import { hmacSha256 } from './secrets.js';
import { withLock } from '../session/lock.js';
import { remainingMs } from '../fineract/deadline.js';

export type PinVerifyResult =
  | { result: 'ok' }
  | { result: 'wrong'; attemptsLeft: number }
  | { result: 'locked' }
  | { result: 'not-set' };

export interface PinService {
  /** Stores a new PIN (throws `InvalidPinFormat` when it is not `pinLength` digits). Leaves any lockout alone. */
  setPin(clientId: ClientId, pin: string): Promise<void>;
  /** Checks a PIN against the stored one and counts failures; never throws on bad input. */
  verify(clientId: ClientId, pin: string): Promise<PinVerifyResult>;
  isLocked(clientId: ClientId): Promise<boolean>;
  /** Lifts a lockout: clears the lock flag and the failure counter. */
  unlock(clientId: ClientId): Promise<void>;
  /** Stores the PIN only when the customer has none (demo data); true when it did. */
  seedIfAbsent(clientId: ClientId, pin: string): Promise<boolean>;
}

export interface PinServiceOptions {
  store: KeyValueStore;
  /** The server secret (`PIN_PEPPER`) that keys every PIN hash; never stored. At least 16 bytes. */
  pepper: string;
  /** Wrong PINs, counted across every channel and process, before the customer is locked out (default 3). */
  maxAttempts?: number;
  /** PIN length in digits, 4 to 6 (default 4). */
  pinLength?: number;
  keys?: Keys;
  /** Receives lockouts (client id only). */
  logger?: Logger;
  /**
   * How long a check waits for a concurrent check of the same customer: until shortly before the current
   * hop's deadline when there is one, else this (default 3000 ms).
   */
  lockWaitMs?: number;
}

/** `setPin` was given something that is not a PIN. The message never repeats the value. */
export class InvalidPinFormat extends Error {
  override readonly name = 'InvalidPinFormat';
}

/** Stored per customer under `keys.pin(clientId)`; neither the PIN nor an unkeyed hash of it. */
interface PinRecord {
  v: 1;
  /** 16 random bytes, base64. */
  salt: string;
  /** HMAC-SHA256(pepper, salt || pin), base64. */
  hash: string;
}

const SALT_BYTES = 16;
const HASH_BYTES = 32;

/*
 * Why a keyed hash and no scrypt: a 4 to 6 digit PIN has at most a million values, so no stretching that a
 * USSD hop can afford (a few ms) stops an attacker who holds both a record and the pepper: at 5 ms a try,
 * 10,000 PINs fall in under a minute. What protects a copied Redis (T7) is the pepper, which lives only in
 * the server's environment; without it a record reveals nothing. Online guessing (T5) is stopped by the
 * shared failure counter. Stretching would only add CPU cost per hop, a denial-of-service lever.
 */
export function createPinService(options: PinServiceOptions): PinService {
  const { store, pepper, maxAttempts = 3, pinLength = 4, keys = defaultKeys, logger, lockWaitMs = 3000 } = options;
  if (Buffer.byteLength(pepper, 'utf8') < 16) throw new TypeError('the PIN pepper must be at least 16 bytes');
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TypeError('maxAttempts must be a positive integer');
  if (!Number.isInteger(pinLength) || pinLength < 4 || pinLength > 6) throw new TypeError('pinLength must be 4, 5 or 6');
  const format = new RegExp(`^\\d{${pinLength}}$`);

  const digest = (salt: Buffer, pin: string) => hmacSha256(pepper, salt, pin);

  function record(pin: string): string {
    if (typeof pin !== 'string' || !format.test(pin)) throw new InvalidPinFormat(`a PIN is ${pinLength} digits`);
    const salt = randomBytes(SALT_BYTES);
    const value: PinRecord = { v: 1, salt: salt.toString('base64'), hash: digest(salt, pin).toString('base64') };
    return JSON.stringify(value);
  }

  function parse(clientId: ClientId, raw: string): { salt: Buffer; hash: Buffer } {
    try {
      const value = JSON.parse(raw) as Partial<PinRecord>;
      if (value.v === 1 && typeof value.salt === 'string' && typeof value.hash === 'string') {
        const salt = Buffer.from(value.salt, 'base64');
        const hash = Buffer.from(value.hash, 'base64');
        if (salt.length === SALT_BYTES && hash.length === HASH_BYTES) return { salt, hash };
      }
    } catch {
      // fall through
    }
    throw new Error(`the stored PIN record of client ${clientId} is unreadable`);
  }

  async function lockOut(clientId: ClientId, attempt: number): Promise<void> {
    await store.set(keys.pinLock(clientId), new Date().toISOString());
    if (attempt === maxAttempts) logger?.warn({ clientId, maxAttempts }, 'PIN locked after too many wrong attempts');
  }

  const setPin = async (clientId: ClientId, pin: string) => store.set(keys.pin(clientId), record(pin));

  return {
    setPin,

    async verify(clientId, pin) {
      // Checks of one customer's PIN are serialised across every channel and process, so concurrent guesses
      // cannot compare more than maxAttempts wrong PINs, and concurrent right ones never count as wrong.
      const hopLeft = remainingMs();
      const waitMs = hopLeft === undefined ? lockWaitMs : Math.max(0, hopLeft - 100);
      return withLock(store, keys.forCustomer(clientId, 'pin:check'), { ttlMs: 5000, waitMs, logger }, async () => {
        if ((await store.get(keys.pinLock(clientId))) !== null) return { result: 'locked' } as const;
        const raw = await store.get(keys.pin(clientId));
        if (raw === null) return { result: 'not-set' } as const;
        const stored = parse(clientId, raw);
        const candidate = digest(stored.salt, typeof pin === 'string' ? pin : '');
        if (timingSafeEqual(candidate, stored.hash) && typeof pin === 'string' && format.test(pin)) {
          await store.delete(keys.pinFailures(clientId));
          return { result: 'ok' } as const;
        }
        const attempt = await store.increment(keys.pinFailures(clientId));
        if (attempt >= maxAttempts) {
          await lockOut(clientId, attempt);
          return { result: 'locked' } as const;
        }
        return { result: 'wrong', attemptsLeft: maxAttempts - attempt } as const;
      });
    },

    async isLocked(clientId) {
      return (await store.get(keys.pinLock(clientId))) !== null;
    },

    async unlock(clientId) {
      // Counter first: a guess racing the unlock then meets the old flag, not a stale counter that would
      // lock the customer again right after.
      await store.delete(keys.pinFailures(clientId));
      await store.delete(keys.pinLock(clientId));
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
