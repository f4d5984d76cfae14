import type { Cluster, Redis } from 'ioredis';
import type { KeyValueStore } from '../session/store.js';
import { serialised } from './lockout.js';

/**
 * Where one-time codes live (challenge.ts decides, this file stores): one record per client and purpose, and a
 * counter of the new challenges of the hour. On Redis, issue and check are one Lua script each; on the
 * in-process store the same steps run serialised per key in this process.
 */

/** The limits the store enforces, set by the service (challenge.ts: CHALLENGE_SENDS, CHALLENGE_ISSUES_PER_HOUR, CHALLENGE_TTL_MS). */
export interface ChallengeLimits {
  /** Sends of one code in all, the first included. */
  sends: number;
  /** New challenges (not resends) per client and purpose in an hour. */
  issuesPerHour: number;
  /** How long a code is valid. */
  validMs: number;
}

const HOUR_MS = 3_600_000;
/** The record's key outlives its validity a little, so a late check still reads `expired` from our clock. */
const RECORD_GRACE_MS = 60_000;

/** One open challenge. The code is there only as its keyed hash and encrypted (for a resend); never in clear. */
export interface ChallengeRecord {
  /** Random reference: the `otp` job names it, the check script compares it. */
  id: string;
  /** 16 random bytes, hex: HMAC(pepper, salt, code). */
  salt: string;
  /** The code's keyed hash, hex. */
  ch: string;
  /** The intent's keyed hash, hex. */
  ih: string;
  /** AES-256-GCM of the code: iv (12) || tag (16) || ciphertext, base64. */
  enc: string;
  exp: number;
  tries: number;
  sends: number;
  /** JSON of the service's `Meta` (challenge.ts): no secret. */
  meta: string;
}

export type IssueReply =
  | { status: 'sent'; expiresAt: number; sendsLeft: number; id: string; send: number; replaced: boolean }
  | { status: 'resent'; expiresAt: number; sendsLeft: number; id: string; send: number }
  | { status: 'send-limit'; expiresAt: number };
/** The outcome of checking a code against the open challenge (the service's answer). */
export type CheckResult =
  | { result: 'ok' }
  | { result: 'wrong'; triesLeft: number }
  /** Too many wrong codes: the challenge is void. */
  | { result: 'exhausted' }
  /** No open challenge for this purpose (never issued, expired, consumed or revoked). */
  | { result: 'expired' }
  /** The open challenge was for another intent (another amount, payee...): it is now void. */
  | { result: 'mismatch' };

/** The store's answer: a `CheckResult`, or `changed`: another challenge replaced the one peeked at. */
export type CheckReply = CheckResult | { result: 'changed' };

export interface Backend {
  issue(key: string, issues: string, now: number, fresh: ChallengeRecord): Promise<IssueReply>;
  /** The id and salt of the open challenge, to hash the candidate before the atomic check. */
  peek(key: string): Promise<{ id: string; salt: string } | undefined>;
  check(key: string, now: number, id: string, intentHash: string, codeHash: string): Promise<CheckReply>;
  read(key: string): Promise<ChallengeRecord | undefined>;
  /** Deletes the keys; how many existed. */
  remove(keys: string[]): Promise<number>;
}

/*
 * Issue, in one step: the same intent still open → a resend of the same code (at most `limits.sends` in
 * all); otherwise a new challenge replaces whatever was open (a different intent voids it), counted against
 * `limits.issuesPerHour`. KEYS: record, issue counter. ARGV: now, intent hash, max sends, max issues,
 * issue window ms, record ttl ms, then the new record's fields id, salt, ch, enc, exp, tries, meta.
 */
const ISSUE_LUA = `
local now = tonumber(ARGV[1])
local maxSends = tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'id', 'ih', 'exp', 'sends')
if cur[1] and tonumber(cur[3]) > now and cur[2] == ARGV[2] then
  local sends = tonumber(cur[4])
  if sends >= maxSends then return {'send-limit', cur[3]} end
  sends = redis.call('HINCRBY', KEYS[1], 'sends', 1)
  return {'resent', cur[3], maxSends - sends, cur[1], sends}
end
local issued = tonumber(redis.call('GET', KEYS[2]) or '0')
if issued >= tonumber(ARGV[4]) then
  local left = redis.call('PTTL', KEYS[2])
  if left < 0 then left = tonumber(ARGV[5]) end
  return {'send-limit', string.format('%.0f', now + left)}
end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[7], 'salt', ARGV[8], 'ch', ARGV[9], 'ih', ARGV[2], 'enc', ARGV[10], 'exp', ARGV[11], 'tries', ARGV[12], 'sends', 1, 'meta', ARGV[13])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {'sent', ARGV[11], maxSends - 1, ARGV[7], 1, cur[1] and 1 or 0}`;

/*
 * Check and consume, in one step. The hashes are compared in constant time: XOR over every byte, no early
 * exit (both are 64 hex characters, so the lengths never differ). A wrong intent voids the challenge; a right
 * code consumes it; the last wrong try deletes it. KEYS: record. ARGV: now, id, intent hash, code hash.
 */
const CHECK_LUA = `
local function same(a, b)
  if #a ~= #b then return false end
  local d = 0
  for i = 1, #a do d = bit.bor(d, bit.bxor(string.byte(a, i), string.byte(b, i))) end
  return d == 0
end
local v = redis.call('HMGET', KEYS[1], 'id', 'ih', 'ch', 'exp', 'tries')
if not v[1] then return {'expired'} end
if v[1] ~= ARGV[2] then return {'changed'} end
if tonumber(v[4]) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {'expired'}
end
if not same(v[2], ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return {'mismatch'}
end
if same(v[3], ARGV[4]) then
  redis.call('DEL', KEYS[1])
  return {'ok'}
end
local tries = tonumber(v[5]) - 1
if tries <= 0 then
  redis.call('DEL', KEYS[1])
  return {'exhausted'}
end
redis.call('HSET', KEYS[1], 'tries', tries)
return {'wrong', tries}`;

interface ChallengeScripts {
  kiungaOtpIssue(record: string, issues: string, ...args: (string | number)[]): Promise<(string | number)[]>;
  kiungaOtpCheck(record: string, ...args: (string | number)[]): Promise<(string | number)[]>;
}

export function redisBackend(client: Redis | Cluster, store: KeyValueStore, limits: ChallengeLimits): Backend {
  client.defineCommand('kiungaOtpIssue', { numberOfKeys: 2, lua: ISSUE_LUA });
  client.defineCommand('kiungaOtpCheck', { numberOfKeys: 1, lua: CHECK_LUA });
  const scripts = client as unknown as ChallengeScripts;
  // The store waits for its very first connection (and says why it cannot); the raw client would not.
  const ready = async () => {
    if (client.status !== 'ready') await store.ping();
  };
  return {
    async issue(key, issues, now, r) {
      await ready();
      const reply = await scripts.kiungaOtpIssue(
        key,
        issues,
        now,
        r.ih,
        limits.sends,
        limits.issuesPerHour,
        HOUR_MS,
        limits.validMs + RECORD_GRACE_MS,
        r.id,
        r.salt,
        r.ch,
        r.enc,
        r.exp,
        r.tries,
        r.meta,
      );
      const expiresAt = Number(reply[1]);
      if (reply[0] === 'send-limit') return { status: 'send-limit', expiresAt };
      const common = { expiresAt, sendsLeft: Number(reply[2]), id: String(reply[3]), send: Number(reply[4]) };
      return reply[0] === 'sent' ? { status: 'sent', ...common, replaced: reply[5] === 1 } : { status: 'resent', ...common };
    },
    async peek(key) {
      await ready();
      const [id, salt] = await client.hmget(key, 'id', 'salt');
      return id && salt ? { id, salt } : undefined;
    },
    async check(key, now, id, intentHash, codeHash) {
      await ready();
      const reply = await scripts.kiungaOtpCheck(key, now, id, intentHash, codeHash);
      if (reply[0] === 'wrong') return { result: 'wrong', triesLeft: Number(reply[1]) };
      return { result: reply[0] as Exclude<CheckReply['result'], 'wrong'> } as CheckReply;
    },
    async read(key) {
      await ready();
      const h = await client.hgetall(key);
      if (!h.id) return undefined;
      return { ...(h as unknown as ChallengeRecord), exp: Number(h.exp), tries: Number(h.tries), sends: Number(h.sends) };
    },
    async remove(keys) {
      await ready();
      // One customer's keys share a hash tag: a multi-key DEL is legal on a Cluster.
      return keys.length ? client.del(...keys) : 0;
    },
  };
}

/** The in-process store: the same steps in JavaScript, serialised per key (a single process only). */
export function memoryBackend(store: KeyValueStore, limits: ChallengeLimits): Backend {
  const read = async (key: string) => {
    const raw = await store.get(key);
    return raw ? (JSON.parse(raw) as ChallengeRecord) : undefined;
  };
  const ttl = limits.validMs + RECORD_GRACE_MS;
  return {
    issue(key, issues, now, fresh) {
      return serialised(key, async (): Promise<IssueReply> => {
        const cur = await read(key);
        if (cur && cur.exp > now && cur.ih === fresh.ih) {
          if (cur.sends >= limits.sends) return { status: 'send-limit', expiresAt: cur.exp };
          cur.sends += 1;
          await store.set(key, JSON.stringify(cur), Math.max(1, cur.exp - now + RECORD_GRACE_MS));
          return { status: 'resent', expiresAt: cur.exp, sendsLeft: limits.sends - cur.sends, id: cur.id, send: cur.sends };
        }
        const counted = await store.get(issues);
        if (Number(counted ?? 0) >= limits.issuesPerHour) return { status: 'send-limit', expiresAt: now + HOUR_MS };
        await store.increment(issues, HOUR_MS);
        await store.set(key, JSON.stringify({ ...fresh, sends: 1 }), ttl);
        return { status: 'sent', expiresAt: fresh.exp, sendsLeft: limits.sends - 1, id: fresh.id, send: 1, replaced: Boolean(cur) };
      });
    },
    async peek(key) {
      const cur = await read(key);
      return cur ? { id: cur.id, salt: cur.salt } : undefined;
    },
    check(key, now, id, intentHash, codeHash) {
      return serialised(key, async (): Promise<CheckReply> => {
        const cur = await read(key);
        if (!cur) return { result: 'expired' };
        if (cur.id !== id) return { result: 'changed' };
        if (cur.exp <= now) {
          await store.delete(key);
          return { result: 'expired' };
        }
        if (!sameHex(cur.ih, intentHash)) {
          await store.delete(key);
          return { result: 'mismatch' };
        }
        if (sameHex(cur.ch, codeHash)) {
          await store.delete(key);
          return { result: 'ok' };
        }
        cur.tries -= 1;
        if (cur.tries <= 0) {
          await store.delete(key);
          return { result: 'exhausted' };
        }
        await store.set(key, JSON.stringify(cur), Math.max(1, cur.exp - now + RECORD_GRACE_MS));
        return { result: 'wrong', triesLeft: cur.tries };
      });
    },
    read,
    async remove(keys) {
      let n = 0;
      for (const key of keys) {
        await serialised(key, async () => {
          if ((await store.get(key)) !== null) n += 1;
          await store.delete(key);
        });
      }
      return n;
    },
  };
}

/** Constant-time equality of two hex digests (the in-process twin of the Lua `same`). */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}
