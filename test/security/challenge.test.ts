import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metric } from 'prom-client';
import { resolve } from 'node:path';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { createKeys, type Keys } from '../../src/session/keys.js';
import type { KeyValueStore } from '../../src/session/store.js';
import { createBullQueue, createMemoryQueue, type JobQueue } from '../../src/jobs/queue.js';
import { createTranslator, type Translator } from '../../src/text/i18n.js';
import type { AuditEvent, AuditTrail } from '../../src/audit/audit.js';
import {
  CHALLENGE_SENDS,
  CHALLENGE_TTL_MS,
  challengeKey,
  createChallengeService,
  type ChallengeIntent,
  type ChallengeServiceRuntime,
} from '../../src/security/challenge.js';
import { REDIS_URL, captureLogs, deleteByPrefix, testPrefix } from '../session/helpers/fixtures.js';

const PEPPER = 'challenge-test-pepper-0123456789';
const MSISDN = '+254711000001';

let translator: Translator;
beforeAll(async () => {
  translator = await createTranslator({ dir: resolve('locales'), fallback: 'en' });
});

interface Harness {
  store: KeyValueStore;
  keys: Keys;
  queue: JobQueue;
  service: ChallengeServiceRuntime;
  /** Every SMS the service sent, oldest first. */
  outbox: { to: string; text: string }[];
  /** Every job the service queued (name and data). */
  queued: { name: string; data: unknown }[];
  audit: AuditEvent[];
  logs: () => string;
  clock: { at: number };
  /** The code of the last SMS sent. */
  lastCode(): string;
  close(): Promise<void>;
}

const money = (overrides: Partial<ChallengeIntent> = {}): ChallengeIntent => ({
  purpose: 'money',
  clientId: 1,
  amountCents: 2_000_000,
  currency: 'KES',
  payee: '000000002',
  source: '000000001',
  ...overrides,
});
const delivery = { msisdn: MSISDN, language: 'en', channel: 'ussd', display: { amount: 'KES 20,000.00', payee: 'Baraka O.' } };

/** A code that is not `code` (same length). */
const otherCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
/** `code` standing alone (not inside a longer run of digits, as a timestamp). */
const alone = (code: string) => new RegExp(`(?<!\\d)${code}(?!\\d)`);

type Backend = 'redis' | 'memory';
const prefixes: string[] = [];

async function harness(backend: Backend, fail?: () => Error): Promise<Harness> {
  const prefix = testPrefix();
  prefixes.push(prefix);
  const keys = createKeys(prefix);
  const store: KeyValueStore = backend === 'redis' ? createRedisStore(REDIS_URL) : createMemoryStore();
  const captured = captureLogs('debug');
  const inner: JobQueue =
    backend === 'redis'
      ? createBullQueue({ redis: (store as RedisStore).client, prefix, logger: captured.logger })
      : createMemoryQueue({ logger: captured.logger });
  const queued: { name: string; data: unknown }[] = [];
  const queue: JobQueue = {
    ...inner,
    kind: inner.kind,
    add: async (name, data, options) => {
      queued.push({ name, data: structuredClone(data) });
      return inner.add(name, data, options);
    },
  };
  const audit: AuditEvent[] = [];
  const trail: AuditTrail = { record: async (event) => void audit.push(event) };
  const clock = { at: Date.UTC(2026, 11, 3, 8, 0, 0) };
  const service = createChallengeService({
    store,
    keys,
    pepper: PEPPER,
    queue,
    translator,
    logger: captured.logger,
    audit: trail,
    now: () => clock.at,
  });
  const outbox: { to: string; text: string }[] = [];
  let n = 0;
  service.register(inner, async (sms) => {
    if (fail) throw fail();
    outbox.push({ to: sms.to, text: sms.text });
    return { id: `test-${++n}` };
  });
  await inner.start();
  return {
    store,
    keys,
    queue,
    service,
    outbox,
    queued,
    audit,
    logs: captured.text,
    clock,
    lastCode() {
      const text = outbox.at(-1)?.text ?? '';
      const match = /(?<!\d)(\d{6})(?!\d)/.exec(text);
      if (!match) throw new Error(`no code in the last SMS: ${text}`);
      return match[1]!;
    },
    async close() {
      await inner.close();
      await store.close();
    },
  };
}

afterAll(async () => {
  const store = createRedisStore(REDIS_URL);
  for (const prefix of prefixes) await deleteByPrefix(store, prefix);
  await store.close();
});

describe.each<Backend>(['redis', 'memory'])('one-time codes, T31 (%s)', (backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(backend);
    return () => h.close();
  });
  let client = 100;
  /** A client of its own per test, so tests never share a challenge. */
  const nextClient = () => ++client;

  async function issued(intent: ChallengeIntent): Promise<string> {
    const result = await h.service.issue(intent, delivery);
    expect(result.status).toMatch(/sent/);
    await h.queue.idle(10_000);
    return h.lastCode();
  }

  it('accepts the right code once: a second use of it fails', async () => {
    const intent = money({ clientId: nextClient() });
    const code = await issued(intent);
    expect(h.outbox.at(-1)).toEqual({ to: MSISDN, text: `Code ${code} to send KES 20,000.00 to Baraka O. Never share it.` });
    expect(await h.service.check(intent, code)).toEqual({ result: 'ok' });
    expect(await h.service.check(intent, code)).toEqual({ result: 'expired' });
    expect(await h.service.pending(intent.clientId, 'money')).toBeUndefined();
  });

  it('three wrong codes exhaust the challenge, after which the right code fails too', async () => {
    const intent = money({ clientId: nextClient() });
    const code = await issued(intent);
    expect(await h.service.check(intent, otherCode(code))).toEqual({ result: 'wrong', triesLeft: 2 });
    expect(await h.service.check(intent, 'abc')).toEqual({ result: 'wrong', triesLeft: 1 });
    expect(await h.service.check(intent, otherCode(code))).toEqual({ result: 'exhausted' });
    expect(await h.service.check(intent, code)).toEqual({ result: 'expired' });
  });

  it('a code past its five minutes is refused', async () => {
    const intent: ChallengeIntent = { purpose: 'enrol', clientId: nextClient() };
    const code = await issued(intent);
    expect(h.outbox.at(-1)?.text).toBe(`Your Kiunga activation code is ${code}. It expires in 5 minutes. Never share it.`);
    h.clock.at += CHALLENGE_TTL_MS;
    expect(await h.service.check(intent, code)).toEqual({ result: 'expired' });
  });

  it('a resend repeats the same code, and the fourth send is refused', async () => {
    const intent = money({ clientId: nextClient() });
    const code = await issued(intent);
    for (let send = 2; send <= CHALLENGE_SENDS; send++) {
      const again = await h.service.issue(intent, delivery);
      expect(again).toMatchObject({ status: 'resent', sendsLeft: CHALLENGE_SENDS - send });
      await h.queue.idle(10_000);
      expect(h.lastCode()).toBe(code);
    }
    const sends = h.outbox.length;
    expect(await h.service.issue(intent, delivery)).toMatchObject({ status: 'send-limit' });
    await h.queue.idle(10_000);
    expect(h.outbox).toHaveLength(sends);
    expect(await h.service.check(intent, code)).toEqual({ result: 'ok' });
  });

  it.each([
    ['amount', { amountCents: 2_000_100 }],
    ['payee', { payee: '000000003' }],
    ['source', { source: '000000004' }],
    ['currency', { currency: 'UGX' }],
  ])('a code checked for another %s is void: mismatch, and the original code no longer works', async (_field, change) => {
    const intent = money({ clientId: nextClient() });
    const code = await issued(intent);
    expect(await h.service.check({ ...intent, ...change }, code)).toEqual({ result: 'mismatch' });
    expect(await h.service.check(intent, code)).toEqual({ result: 'expired' });
  });

  it('issuing for another intent replaces the open code: the first code is void', async () => {
    const intent = money({ clientId: nextClient() });
    const first = await issued(intent);
    const changed = { ...intent, amountCents: 100_000_000 };
    const second = await issued(changed);
    expect(await h.service.check(changed, first === second ? otherCode(second) : first)).toMatchObject({ result: 'wrong' });
    expect(await h.service.check(changed, second)).toEqual({ result: 'ok' });
  });

  it('of concurrent checks of the right code exactly one passes', async () => {
    const intent = money({ clientId: nextClient() });
    const code = await issued(intent);
    const results = await Promise.all(Array.from({ length: 10 }, () => h.service.check(intent, code)));
    expect(results.filter((r) => r.result === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r.result === 'expired')).toHaveLength(9);
  });

  it('revoke voids the open challenges of a client', async () => {
    const clientId = nextClient();
    const enrol: ChallengeIntent = { purpose: 'enrol', clientId };
    const unlock: ChallengeIntent = { purpose: 'unlock', clientId };
    const enrolCode = await issued(enrol);
    const unlockCode = await issued(unlock);
    expect(h.outbox.at(-1)?.text).toBe(`Code ${unlockCode} to unlock your PIN. It expires in 5 minutes. Never share it.`);
    expect(await h.service.revoke(clientId)).toBe(2);
    expect(await h.service.check(enrol, enrolCode)).toEqual({ result: 'expired' });
    expect(await h.service.check(unlock, unlockCode)).toEqual({ result: 'expired' });
    expect(h.audit.filter((e) => e.type === 'otp.revoked' && e.clientId === clientId)).toHaveLength(1);
  });

  it('pending tells a redial what is waiting, without the code', async () => {
    const intent = money({ clientId: nextClient() });
    const code = await issued(intent);
    await h.service.check(intent, otherCode(code));
    const pending = await h.service.pending(intent.clientId, 'money');
    expect(pending).toMatchObject({ intent, display: delivery.display, triesLeft: 2 });
    expect(JSON.stringify(pending)).not.toMatch(alone(code));
  });

  it('keeps the code out of job data, the stored record, the audit trail and the logs', async () => {
    const intent = money({ clientId: nextClient() });
    const code = await issued(intent);
    await h.service.check(intent, otherCode(code));
    await issued(intent); // a resend: a second job
    expect(h.lastCode()).toBe(code);

    const jobs = h.queued.filter((j) => j.name === 'otp');
    expect(jobs.length).toBeGreaterThanOrEqual(2);
    for (const job of h.queued) expect(JSON.stringify(job.data)).not.toMatch(alone(code));
    expect(jobs.at(-1)?.data).toEqual({ clientId: String(intent.clientId), purpose: 'money', id: expect.any(String) });

    // Everything under this test's prefix: the challenge record and, on Redis, bullmq's jobs.
    const stored: string[] = [];
    if (backend === 'redis') {
      const { client } = h.store as RedisStore;
      // SCAN until the cursor comes back to 0: one call covers only part of a busy shared Redis.
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${h.keys.prefix}*`, 'COUNT', 10_000);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
      for (const key of found) {
        const type = await client.type(key);
        if (type === 'string') stored.push(String(await client.get(key)));
        if (type === 'hash') stored.push(JSON.stringify(await client.hgetall(key)));
        if (type === 'list') stored.push(JSON.stringify(await client.lrange(key, 0, -1)));
        if (type === 'zset') stored.push(JSON.stringify(await client.zrange(key, 0, -1)));
      }
      expect(stored.join('\n')).toContain(String(intent.clientId));
    } else {
      stored.push(String(await h.store.get(challengeKey(h.keys, intent.clientId, 'money'))));
    }
    expect(stored.join('\n')).toMatch(/"?enc"?/);
    expect(stored.join('\n')).not.toMatch(alone(code));

    expect(JSON.stringify(h.audit)).not.toMatch(alone(code));
    expect(h.audit.some((e) => e.type === 'otp.sent')).toBe(true);
    expect(h.audit.some((e) => e.type === 'otp.failed' && e.data?.reason === 'wrong')).toBe(true);
    expect(h.logs()).toContain('one-time code sent');
    expect(h.logs()).not.toMatch(alone(code));
    expect(h.logs()).not.toContain(MSISDN);
  });

  it('counts sends and failures by purpose for /metrics', async () => {
    const [sent, failed] = h.service.metrics as [Metric, Metric];
    const sentBefore = (await sent.get()).values.find((v) => v.labels.purpose === 'enrol')?.value ?? 0;
    const intent: ChallengeIntent = { purpose: 'enrol', clientId: nextClient() };
    const code = await issued(intent);
    await h.service.check(intent, otherCode(code));
    expect((await sent.get()).values.find((v) => v.labels.purpose === 'enrol')?.value).toBe(sentBefore + 1);
    expect((await failed.get()).values.some((v) => v.labels.purpose === 'enrol' && v.labels.reason === 'wrong' && v.value >= 1)).toBe(true);
  });

  it('marks a fresh credential until the first money-out consumes it', async () => {
    const clientId = nextClient();
    expect(await h.service.isFreshCredential(clientId)).toBe(false);
    await h.service.markFreshCredential(clientId);
    expect(await h.service.isFreshCredential(clientId)).toBe(true);
    await h.service.consumeFreshCredential(clientId);
    expect(await h.service.isFreshCredential(clientId)).toBe(false);
  });
});

describe('one-time codes: issuing', () => {
  it('does not retry a send the SMS provider refused for good, and counts no send', async () => {
    let calls = 0;
    const h = await harness('memory', () => {
      calls += 1;
      const error = new Error('invalid number');
      error.name = 'PermanentDeliveryError';
      return error;
    });
    try {
      const [sent] = h.service.metrics as [Metric];
      expect((await h.service.issue({ purpose: 'enrol', clientId: 8 }, delivery)).status).toBe('sent');
      await h.queue.idle(3000);
      expect(calls).toBe(1);
      expect((await sent.get()).values.find((v) => v.labels.purpose === 'enrol')?.value ?? 0).toBe(0);
      expect(h.logs()).toContain('refused for good');
    } finally {
      await h.close();
    }
  });

  it('caps new challenges per client and purpose, so changing the intent cannot pump SMS', async () => {
    const h = await harness('memory');
    try {
      let refused = false;
      for (let i = 0; i < 20 && !refused; i++) {
        const result = await h.service.issue(money({ clientId: 7, amountCents: 1000 + i }), delivery);
        refused = result.status === 'send-limit';
      }
      expect(refused).toBe(true);
    } finally {
      await h.close();
    }
  });
});
