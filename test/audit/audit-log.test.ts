import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Redis } from 'ioredis';
import { canonicalJson, sha256Hex } from '../../src/audit/canonical.js';
import { createAuditTrail } from '../../src/audit/audit-log.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { event, field, freshDir, freshKeys, KEYS, recordMany, REDIS_URL, rows, trail } from './helpers.js';

/** The audit trail on real Redis (threat T16): the chain, what it refuses, concurrent writers, checkpoints. */

let store: RedisStore;
let other: RedisStore;
let redis: Redis;
beforeAll(async () => {
  store = createRedisStore(REDIS_URL);
  // A second connection stands for a second process.
  other = createRedisStore(REDIS_URL);
  await Promise.all([store.ping(), other.ping()]);
  redis = store.client as Redis;
});
afterAll(async () => {
  await store?.close();
  await other?.close();
});

/** Log lines written, for checks on what a refusal logs. */
function capture() {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  return { logger, lines };
}

describe('audit trail', () => {
  it('should write each entry as canonical JSON holding its sequence and the previous entry hash', async () => {
    const keys = freshKeys();
    const log = trail(store, keys);
    await recordMany(log, 3);
    const stored = await rows(redis, keys);
    expect(stored).toHaveLength(3);
    let prev = '0'.repeat(64);
    stored.forEach(([, fields], i) => {
      const text = field(fields, 'e');
      const entry = JSON.parse(text) as Record<string, unknown>;
      expect(canonicalJson(entry)).toBe(text);
      expect(entry.seq).toBe(i + 1);
      expect(entry.prev).toBe(prev);
      expect(entry.type).toBe('money.attempt');
      expect(entry.actor).toBe('customer:1');
      expect(typeof entry.at).toBe('string');
      expect(field(fields, 'h')).toBe(sha256Hex(text));
      prev = field(fields, 'h');
    });
    expect(await redis.get(`${keys.prefix}:{audit}:head`)).toBe(`3:${prev}`);
    await log.close();
  });

  it('should write canonical JSON whichever fields an event has (the fewest, data whose keys sort after type)', async () => {
    const keys = freshKeys();
    const log = trail(store, keys);
    await log.record({ type: 'pin.ok', actor: 'system' });
    await log.record({ type: 'pin.failed', actor: 'customer:7', clientId: 7, data: { zone: 'b', attemptsLeft: 2, reason: 'wrong' } });
    await log.record({ type: 'pin.locked', actor: 'system', channel: 'ussd', data: { hard: false, locks: 1, lockS: 1800 } });
    await log.flush();
    const stored = await rows(redis, keys);
    expect(stored).toHaveLength(3);
    for (const [, fields] of stored) {
      const text = field(fields, 'e');
      expect(canonicalJson(JSON.parse(text))).toBe(text);
      expect(field(fields, 'h')).toBe(sha256Hex(text));
    }
    expect((await verifyAudit({ store, keys })).ok).toBe(true);
    await log.close();
  });

  it('should mask the phone number before writing it', async () => {
    const keys = freshKeys();
    const log = trail(store, keys);
    await log.record(event(1));
    const [[, fields]] = (await rows(redis, keys)) as [[string, string[]]];
    expect(JSON.parse(field(fields, 'e')).msisdn).toBe('+2547******01');
    expect(fields.join(' ')).not.toContain('254711000001');
    await log.close();
  });

  it('should refuse an event with a forbidden data field, log a warning without the value, and write nothing', async () => {
    const keys = freshKeys();
    const { logger, lines } = capture();
    const log = createAuditTrail({ store, keys, logger });
    for (const name of ['pin', 'otpCode', 'adminToken', 'secret', 'newPassword', 'pepper']) {
      await expect(log.record({ type: 'pin.changed', actor: 'customer:1', data: { [name]: 'x9q7-value' } })).rejects.toThrow(TypeError);
    }
    expect(await rows(redis, keys)).toEqual([]);
    const text = lines.join('');
    expect(text).toContain('audit event refused');
    expect(text).not.toContain('x9q7-value');
    await log.close();
  });

  it('should refuse data values that look like a PIN or code, a credential or a full phone number', async () => {
    const keys = freshKeys();
    const { logger, lines } = capture();
    const log = createAuditTrail({ store, keys, logger });
    const values = [
      '482913',
      '1234',
      'Bearer abcdefghijklmnop',
      '-----BEGIN PRIVATE KEY-----',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
      'call +254711000001',
      'Zq8Xk2Lm9Pw4Rt7Yb3Nc6Vd1',
    ];
    for (const value of values) {
      await expect(log.record({ type: 'admin.call', actor: 'operator:ops', data: { note: value } })).rejects.toThrow(TypeError);
    }
    expect(await rows(redis, keys)).toEqual([]);
    for (const value of values) expect(lines.join('')).not.toContain(value);
    // Facts pass: a hex idempotency key, an 8-character reference, amounts and a masked label.
    await log.record({
      type: 'money.outcome',
      actor: 'customer:1',
      data: { idempotencyKey: 'a'.repeat(32), ref: '12345678', amountMinor: 482913, counterparty: 'Baraka O.', status: 'done' },
    });
    expect(await rows(redis, keys)).toHaveLength(1);
    await log.close();
  });

  it('should refuse an unknown type or actor', async () => {
    const log = trail(store, freshKeys());
    await expect(log.record({ type: 'money.stolen' as never, actor: 'system' })).rejects.toThrow(TypeError);
    await expect(log.record({ type: 'pin.ok', actor: 'someone' as never })).rejects.toThrow(TypeError);
    await log.close();
  });

  it('should keep one chain when two trails on the same Redis append in parallel', async () => {
    const keys = freshKeys();
    const a = trail(store, keys);
    const b = trail(other, keys);
    await Promise.all([
      ...Array.from({ length: 60 }, (_, i) => a.record(event(i + 1))),
      ...Array.from({ length: 60 }, (_, i) => b.record(event(i + 101))),
    ]);
    expect(await a.flush()).toBe(true);
    expect(await b.flush()).toBe(true);
    const stored = await rows(redis, keys);
    expect(stored).toHaveLength(120);
    expect(stored.map(([, f]) => JSON.parse(field(f, 'e')).seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(await verifyAudit({ store, keys })).toEqual({ ok: true, entries: 120, checkpoints: 0 });
    await Promise.all([a.close(), b.close()]);
  });

  it('should write a signed checkpoint every N entries, and another on a timer while entries were appended', async () => {
    const keys = freshKeys();
    const dir = freshDir();
    const log = trail(store, keys, { signingKey: KEYS.privateKey, checkpointDir: dir, checkpointEvery: 5 });
    await recordMany(log, 12);
    await log.checkpoint();
    const files = readdirSync(dir).sort();
    expect(files.map((f) => /-(\d{12})-/.exec(f)?.[1])).toEqual(['000000000005', '000000000010', '000000000012']);
    const written = JSON.parse(readFileSync(join(dir, files[1]!), 'utf8')) as { checkpoint: Record<string, unknown>; signature: string };
    const [, fields] = (await rows(redis, keys))[9]!;
    expect(written.checkpoint).toMatchObject({ log: `${keys.prefix}:{audit}:log`, seq: 10, head: field(fields, 'h'), count: 10 });
    expect(written.signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(await verifyAudit({ store, keys, checkpointDir: dir, publicKey: KEYS.publicKey })).toEqual({
      ok: true,
      entries: 12,
      checkpoints: 3,
    });
    await log.close();

    // The timer: a checkpoint of what this process appended since the last one, without a multiple of N.
    const timed = trail(store, keys, { signingKey: KEYS.privateKey, checkpointDir: dir, checkpointEvery: 1000, checkpointMs: 20 });
    await timed.record(event(13));
    for (let i = 0; i < 200 && !readdirSync(dir).some((f) => f.includes('-000000000013-')); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(readdirSync(dir).some((f) => f.includes('-000000000013-'))).toBe(true);
    await timed.close();
  });

  it('should warn at start when it cannot write checkpoints', async () => {
    const { logger, lines } = capture();
    const log = createAuditTrail({ store, keys: freshKeys(), logger });
    expect(lines.join('')).toContain('writes no signed checkpoints');
    await log.close();
  });

  it('should expose the head of the chain as kiunga_audit_head_seq', async () => {
    const keys = freshKeys();
    const log = trail(store, keys);
    await recordMany(log, 4);
    const gauge = log.metrics.find((m) => (m as { name?: string }).name === 'kiunga_audit_head_seq')!;
    expect((await gauge.get()).values[0]?.value).toBe(4);
    await log.close();
  });

  it('should page the log by stream id', async () => {
    const keys = freshKeys();
    const log = trail(store, keys);
    await recordMany(log, 5);
    const first = await log.page(undefined, 2);
    expect(first.entries.map((e) => (e.entry as { seq: number }).seq)).toEqual([1, 2]);
    const second = await log.page(first.next, 10);
    expect(second.entries.map((e) => (e.entry as { seq: number }).seq)).toEqual([3, 4, 5]);
    expect(second.next).toBeUndefined();
    const all: number[] = [];
    for await (const record of log.entries(2)) all.push((record.entry as { seq: number }).seq);
    expect(all).toEqual([1, 2, 3, 4, 5]);
    await log.close();
  });

  it('should keep the same chain in process when there is no Redis', async () => {
    const memory = createMemoryStore();
    const keys = freshKeys();
    const a = trail(memory, keys);
    const b = trail(memory, keys);
    await Promise.all([recordMany(a, 5), recordMany(b, 5)]);
    expect(await verifyAudit({ store: memory, keys })).toEqual({ ok: true, entries: 10, checkpoints: 0 });
    const page = await a.page(undefined, 3);
    expect(page.entries.map((e) => (e.entry as { seq: number }).seq)).toEqual([1, 2, 3]);
    await Promise.all([a.close(), b.close()]);
    await memory.close();
  });
});

describe('canonical JSON', () => {
  it('orders keys by UTF-16 code unit, leaves undefined members out, and writes values as JSON.stringify does', () => {
    const value = { b: 1, a: 'x', B: true, é: null, a1: undefined, _: { z: 2, y: undefined, Z: 'q"' }, '10': 0.5, '9': -0 };
    expect(canonicalJson(value)).toBe('{"10":0.5,"9":0,"B":true,"_":{"Z":"q\\"","z":2},"a":"x","b":1,"é":null}');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson({ only: undefined })).toBe('{}');
    expect(canonicalJson([1, 'a', { b: 2, a: 1 }])).toBe('[1,"a",{"a":1,"b":2}]');
    expect(() => canonicalJson({ n: Infinity })).toThrow(TypeError);
  });
});
