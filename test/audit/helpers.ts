import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Redis } from 'ioredis';
import { createAuditTrail, type AuditLog, type AuditTrailOptions } from '../../src/audit/audit-log.js';
import type { AuditEvent } from '../../src/audit/audit.js';
import { generateAuditKeys } from '../../src/audit/checkpoints.js';
import { createKeys, type Keys } from '../../src/session/keys.js';
import type { KeyValueStore } from '../../src/session/store.js';

/** Shared pieces of the audit tests: a fresh log per test on real Redis, events, and what an attacker can do. */

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const silent = pino({ level: 'silent' });

/** One key pair for the file: AUDIT_SIGNING_KEY and AUDIT_VERIFY_KEY as base64 DER. */
export const KEYS = generateAuditKeys();

export const freshKeys = (): Keys => createKeys(`kiunga-audit-${randomBytes(4).toString('hex')}`);
export const freshDir = (): string => mkdtempSync(join(tmpdir(), 'kiunga-audit-'));

/** A trail on `store` under `keys`, silent unless a logger is given. */
export function trail(store: KeyValueStore, keys: Keys, options: Partial<AuditTrailOptions> = {}): AuditLog {
  return createAuditTrail({ store, keys, logger: silent, ...options });
}

/** The n-th event of a test: a money attempt with facts that differ per entry. */
export const event = (n: number): AuditEvent => ({
  type: 'money.attempt',
  actor: 'customer:1',
  clientId: 1,
  msisdn: '+254711000001',
  channel: 'ussd',
  data: { idempotencyKey: randomBytes(16).toString('hex'), amountMinor: 1000 * n, currency: 'KES', counterparty: 'Baraka O.' },
});

/** Records entries 1..n, one after the other. */
export async function recordMany(log: AuditLog, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) await log.record(event(i));
  await log.flush();
}

const streamKey = (keys: Keys) => `${keys.prefix}:{audit}:log`;
const headKey = (keys: Keys) => `${keys.prefix}:{audit}:head`;

/** The stream as Redis holds it: [id, fields] rows, oldest first. */
export async function rows(redis: Redis, keys: Keys): Promise<[string, string[]][]> {
  return redis.xrange(streamKey(keys), '-', '+');
}

/** Field `name` of a stream row. */
export const field = (fields: string[], name: string) => fields[fields.indexOf(name) + 1]!;

/** Rewrites the whole stream from `next` (what an attacker with Redis access can do: DEL, then XADD with chosen ids). */
export async function rewrite(redis: Redis, keys: Keys, next: [string, string[]][]): Promise<void> {
  await redis.del(streamKey(keys));
  for (const [id, fields] of next) await redis.xadd(streamKey(keys), id, ...fields);
}

/** The stream id of entry `seq` (1-based), as the trail wrote it. */
export async function idOf(redis: Redis, keys: Keys, seq: number): Promise<string> {
  return (await rows(redis, keys))[seq - 1]![0];
}

/** Sets the head of the chain (an attacker covering a deletion). */
export async function setHead(redis: Redis, keys: Keys, value: string): Promise<void> {
  await redis.set(headKey(keys), value);
}

export { streamKey, headKey };
