import { createHash } from 'node:crypto';

/**
 * Key names for everything Kiunga keeps in the store.
 *
 * Scheme (prefix `kiunga` by default):
 *
 * | key | example |
 * |---|---|
 * | `session(channel, id)` | `kiunga:{ussd:ATUid_x}:session` |
 * | `lock(channel, id)` | `kiunga:{ussd:ATUid_x}:lock` |
 * | `pin(clientId)` | `kiunga:{c:1}:pin` |
 * | `pinFailures(clientId)` | `kiunga:{c:1}:pin:failures` |
 * | `pinLock(clientId)` | `kiunga:{c:1}:pin:lock` |
 * | `language(msisdn)` | `kiunga:{m:+254711000001}:lang` |
 *
 * The part in braces is a Redis Cluster hash tag: every key of one session, one customer or one number
 * lives in the same slot, so a multi-key script over them stays legal on a Cluster. Identifiers come from
 * the outside world (an aggregator's session id, a phone number), so each one is used as is only when it
 * is short and plain (`[A-Za-z0-9_.+-]`, at most 64 characters); anything else (braces, colons, spaces,
 * long strings) is replaced by `~` and 32 characters of its SHA-256 (base64url). `~` never appears in a
 * plain identifier, so a hashed one cannot collide with a plain one.
 */
export interface Keys {
  readonly prefix: string;
  session(channel: string, sessionId: string): string;
  lock(channel: string, sessionId: string): string;
  pin(clientId: ClientId): string;
  pinFailures(clientId: ClientId): string;
  pinLock(clientId: ClientId): string;
  language(msisdn: string): string;
  /** Another key of one session (same slot as `session`), e.g. `forSession('ussd', id, 'replay')`. */
  forSession(channel: string, sessionId: string, name: string): string;
  /** Another key of one customer (same slot as `pin`), e.g. `forCustomer(1, 'otp')`. */
  forCustomer(clientId: ClientId, name: string): string;
  /** Another key of one phone number (same slot as `language`), e.g. `forMsisdn(n, 'rate')`. */
  forMsisdn(msisdn: string, name: string): string;
}

/** A Fineract client id. */
export type ClientId = number | string;

const PLAIN_ID = /^[A-Za-z0-9_.+-]{1,64}$/;
const NAME = /^[a-z0-9_-]+(?::[a-z0-9_-]+)*$/;
const PREFIX = /^[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)*$/;

/** An identifier made safe for use inside a hash tag (see `Keys`). */
export function tagSafe(id: ClientId): string {
  const raw = String(id);
  if (PLAIN_ID.test(raw)) return raw;
  return '~' + createHash('sha256').update(raw, 'utf8').digest('base64url').slice(0, 32);
}

/** Builds the key names under `prefix` (letters, digits, `_.-`, `:` between parts; at most 64 characters). */
export function createKeys(prefix = 'kiunga'): Keys {
  if (prefix.length > 64 || !PREFIX.test(prefix)) throw new TypeError(`invalid key prefix ${JSON.stringify(prefix)}`);

  const key = (tag: string, name: string): string => {
    if (!NAME.test(name)) throw new TypeError(`invalid key name ${JSON.stringify(name)}`);
    return `${prefix}:{${tag}}:${name}`;
  };
  const sessionTag = (channel: string, sessionId: string) => `${tagSafe(channel)}:${tagSafe(sessionId)}`;
  const customerTag = (clientId: ClientId) => `c:${tagSafe(clientId)}`;
  const msisdnTag = (msisdn: string) => `m:${tagSafe(msisdn)}`;

  return {
    prefix,
    session: (channel, sessionId) => key(sessionTag(channel, sessionId), 'session'),
    lock: (channel, sessionId) => key(sessionTag(channel, sessionId), 'lock'),
    pin: (clientId) => key(customerTag(clientId), 'pin'),
    pinFailures: (clientId) => key(customerTag(clientId), 'pin:failures'),
    pinLock: (clientId) => key(customerTag(clientId), 'pin:lock'),
    language: (msisdn) => key(msisdnTag(msisdn), 'lang'),
    forSession: (channel, sessionId, name) => key(sessionTag(channel, sessionId), name),
    forCustomer: (clientId, name) => key(customerTag(clientId), name),
    forMsisdn: (msisdn, name) => key(msisdnTag(msisdn), name),
  };
}

/** The keys under the default prefix `kiunga`. */
export const defaultKeys: Keys = createKeys();
