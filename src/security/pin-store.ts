import type { Cluster, Redis } from 'ioredis';
import type { ClientId } from '../session/keys.js';
import { LOCKOUT_LUA_FUNCTION, type FailOutcome } from './lockout.js';

/**
 * How a PIN is kept (pin-service.ts decides, this file stores): the record's format, and on Redis the check of a PIN
 * in one Lua script with the lockout (lockout.ts) and the reading of its answer.
 */

/** Stored per customer under `keys.pin(clientId)`; neither the PIN nor an unkeyed hash of it. */
export interface PinRecord {
  v: 1;
  /** 16 random bytes, base64. */
  salt: string;
  /** HMAC-SHA256(pepper, salt || pin), base64. */
  hash: string;
}

export const SALT_BYTES = 16;
const HASH_BYTES = 32;

/** The stored form of a PIN record: the salt and the PIN's keyed hash. */
export function encodePinRecord(salt: Buffer, hash: Buffer): string {
  const value: PinRecord = { v: 1, salt: salt.toString('base64'), hash: hash.toString('base64') };
  return JSON.stringify(value);
}

/** The salt and the keyed hash of a stored PIN record; throws when the record is unreadable. */
export function parsePinRecord(clientId: ClientId, raw: string): { salt: Buffer; hash: Buffer } {
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

/*
 * The PIN check on Redis, one script on the customer's keys (one slot): the stored record, the lockout and
 * the comparison, then the success reset or the failure count (and the number that failed, for `unlock`),
 * atomically, so concurrent checks of one customer are serialised by Redis itself: no more than maxFailures
 * wrong PINs are ever compared, and a right one never counts as wrong. The HMAC is computed in the process
 * (pin-service.ts: the pepper never leaves it) with the salt the session learned when it read the record (a fact of the
 * session, not a secret); when the record changed since, the script answers with its salt and the check is
 * sent again. Both hashes are compared through SHA-1 so the comparison's time says nothing about the stored
 * hash.
 *
 * KEYS: the PIN record, the customer's lockout hash, the numbers that failed for the customer, and (where it
 * shares the server: not on a Cluster) the calling number's lockout hash: a number locked for any customer
 * compares nothing, so its guesses neither count against the customer nor clear their failures.
 * ARGV: 'fail', now, the lockout policy (6), the salt (base64), the candidate hash (base64), the number ('' for
 * none), the numbers' TTL in ms, how many numbers are kept.
 * Returns {'not-set'}, {'unreadable'}, {'salt', salt}, {'held', until} (the customer locked: nothing compared),
 * {'number-held', until} (the number locked: nothing compared), {'ok', failures and locks forgotten}, or the
 * lockout's fail answer. With the number's key, a right PIN also clears the number's failures and locks, and a
 * wrong one counts on the number in the same step: the fail answer is then the customer's (4 fields, padded
 * with 0) followed by the number's (4 fields), so the check needs no other round trip.
 */
const PIN_CHECK_LUA =
  LOCKOUT_LUA_FUNCTION +
  `
local raw = redis.call('GET', KEYS[1])
if not raw then return {'not-set'} end
local ok, rec = pcall(cjson.decode, raw)
if not ok or type(rec) ~= 'table' or type(rec.salt) ~= 'string' or type(rec.hash) ~= 'string' then return {'unreadable'} end
if rec.salt ~= ARGV[9] then return {'salt', rec.salt} end
local st = {'status', ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]}
local numberHad = 0
if KEYS[4] then
  local number = lockout(KEYS[4], st)
  if number[1] == 1 then return {'number-held', number[2]} end
  numberHad = tonumber(number[3]) + tonumber(number[4])
end
local state = lockout(KEYS[2], st)
if state[1] == 1 then return {'held', state[2]} end
if redis.sha1hex(rec.hash) == redis.sha1hex(ARGV[10]) then
  local had = tonumber(state[3]) + tonumber(state[4])
  if had > 0 then redis.call('DEL', KEYS[2]) end
  if numberHad > 0 then redis.call('DEL', KEYS[4]) end
  return {'ok', had}
end
if ARGV[11] ~= '' then
  local list = {}
  local known = redis.call('GET', KEYS[3])
  if known then
    local okList, decoded = pcall(cjson.decode, known)
    if okList and type(decoded) == 'table' then list = decoded end
  end
  local seen = false
  for _, n in ipairs(list) do if n == ARGV[11] then seen = true end end
  if not seen then
    local kept = {ARGV[11]}
    for _, n in ipairs(list) do if #kept < tonumber(ARGV[13]) then kept[#kept + 1] = n end end
    redis.call('SET', KEYS[3], cjson.encode(kept), 'PX', ARGV[12])
  end
end
local customer = lockout(KEYS[2], ARGV)
if not KEYS[4] then return customer end
local number = lockout(KEYS[4], ARGV)
return {customer[1], customer[2], customer[3] or 0, customer[4] or 0, number[1], number[2], number[3] or 0, number[4] or 0}`;

/** The script's answer; a fail answer with the number's key carries the number's outcome in fields 4 to 7. */
export type PinCheckReply = [string, (string | number)?, number?, number?, string?, (string | number)?, number?, number?];
export interface PinCheckScript {
  /** `keyCount` 3, or 4 with the number's lockout hash after the customer's keys. */
  kiungaPinCheck(keyCount: 3 | 4, ...keysThenArgs: (string | number)[]): Promise<PinCheckReply>;
}

/** The PIN check on this client; the number of keys is given per call (3, or 4 with the number's lockout where it shares the server). */
export function definePinCheck(redis: Redis | Cluster): PinCheckScript {
  redis.defineCommand('kiungaPinCheck', { lua: PIN_CHECK_LUA });
  return redis as unknown as PinCheckScript;
}

/** The lockout script's fail answer, as read by the lockout store (`at` 4: the number's, after the customer's). */
export function toFailOutcome(reply: PinCheckReply, at: 0 | 4 = 0): FailOutcome {
  if (reply[at] === 'wrong') return { kind: 'wrong', left: Number(reply[at + 1]) };
  const until = Number(reply[at + 1]);
  return { kind: 'locked', ...(until > 0 ? { until } : {}), locks: Number(reply[at + 2]), fresh: reply[at + 3] === 1 };
}
