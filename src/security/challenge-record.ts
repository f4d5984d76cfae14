import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { ClientId, Keys } from '../session/keys.js';
import type { ChallengeDisplay, ChallengeIntent, ChallengePurpose } from './challenge-contract.js';
import { hmacSha256 } from './secrets.js';

/**
 * A one-time code's record (challenge.ts): where it lives, what its `meta` holds, and how the code and its
 * intent are kept in it: as keyed hashes, and the code encrypted for a resend, all keyed by the pepper.
 */

/** Where a client's challenge of one purpose lives (same slot as the PIN: one customer's keys share a hash tag). */
export const challengeKey = (keys: Keys, clientId: ClientId, purpose: ChallengePurpose) => keys.forCustomer(clientId, `otp:${purpose}`);
export const issuesKey = (keys: Keys, clientId: ClientId, purpose: ChallengePurpose) => keys.forCustomer(clientId, `otp:${purpose}:issues`);
export const freshKey = (keys: Keys, clientId: ClientId) => keys.forCustomer(clientId, 'otp:fresh');

/** What the record's `meta` holds (JSON): no secret. */
export interface Meta {
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

/** The code's and the intent's keyed hashes and the code's encryption, from the pepper (`PIN_PEPPER`). */
export function codeSecrets(pepper: string) {
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
  return { codeHash, intentHash, encrypt, decrypt };
}
