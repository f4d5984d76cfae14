import type { ClientId, Keys } from '../session/keys.js';
import type { KeyValueStore } from '../session/store.js';
import { keyedHash } from './secrets.js';

/**
 * The payees a customer has paid successfully, for OTP_NEW_PAYEE (threat T31): a first payment to anyone else
 * needs a one-time code. Each payee is one key holding nothing, named by a keyed hash (the pepper) of the
 * customer and the payee account, so a copy of Redis lists no account numbers and cannot link one payee
 * across customers. A payee not paid for `ttlMs` counts as new again.
 */
export interface PaidPayees {
  has(clientId: ClientId, payee: string): Promise<boolean>;
  remember(clientId: ClientId, payee: string): Promise<void>;
}

/** A payee is remembered this long after the last successful payment to it. */
export const PAID_PAYEE_TTL_MS = 400 * 24 * 3600 * 1000;

export function createPaidPayees(options: { store: KeyValueStore; keys: Keys; pepper: string; ttlMs?: number }): PaidPayees {
  const { store, keys, pepper } = options;
  const ttlMs = options.ttlMs ?? PAID_PAYEE_TTL_MS;
  const keyOf = (clientId: ClientId, payee: string) =>
    keys.forCustomer(clientId, `payee:${keyedHash(pepper, `paid-payee:${clientId}:${payee}`).slice(0, 32)}`);
  return {
    has: async (clientId, payee) => (await store.get(keyOf(clientId, payee))) !== null,
    remember: (clientId, payee) => store.set(keyOf(clientId, payee), '1', ttlMs),
  };
}
