import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createBullQueue, createMemoryQueue, type JobHandler, type JobQueue, type JobRun } from '../../src/jobs/queue.js';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createKeys } from '../../src/session/keys.js';
import { callRefKey, createOutbound, type Outbound } from '../../src/messaging/outbound.js';
import { CALL_JOB, SMS_JOB } from '../../src/jobs/catalogue.js';
import { LogCapture, REDIS_URL, startTestServer, type TestServer } from '../helpers/server.js';
import { FakeProvider, atCallAnswer, atSmsAnswer, type RecordedRequest } from './fake-provider.js';

/**
 * Outbound work through the job queue: provider selection, retries with exponential backoff on transient
 * failures, no retry after a permanent refusal, per-provider rate limits shared by processes (two
 * "processes" here: two queues and two limiters on one Redis), and the call job. Providers are loopback fakes.
 */

const AMINA = '+254711000001';
const AT_ENV = {
  MESSAGING_PROVIDER: 'africastalking',
  AT_USERNAME: 'kiunga-test',
  AT_API_KEY: 'at-test-key',
  AT_VOICE_NUMBER: '+254711082000',
};
const TWILIO_ENV = {
  MESSAGING_PROVIDER: 'twilio',
  TWILIO_ACCOUNT_SID: 'AC00000000000000000000000000000001',
  TWILIO_AUTH_TOKEN: 'twilio-test-token',
  TWILIO_NUMBER: '+15005550006',
  PUBLIC_URL: 'https://kiunga.example',
};

let fake: FakeProvider;
let redis: Redis;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  fake = await new FakeProvider().start();
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await fake?.close();
  redis?.disconnect();
});
beforeEach(() => {
  fake.requests.length = 0;
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** One Kiunga "process": an AT outbound on the fake, its queue (bullmq on the shared Redis, or in-process). */
async function process_(prefix: string, env: Record<string, string> = {}, kind: 'bullmq' | 'memory' = 'bullmq') {
  const config = loadConfig({ ...AT_ENV, REDIS_PREFIX: prefix, ...env });
  const logs = new LogCapture();
  const logger = createLogger('info', logs);
  const outbound: Outbound = createOutbound({
    config,
    redis: kind === 'bullmq' ? redis : undefined,
    store: createMemoryStore(),
    keys: createKeys(prefix),
    logger,
    endpoints: { africastalking: { sms: `${fake.url}/version1/messaging`, voice: fake.url, content: `${fake.url}/content/version1` } },
    timeoutMs: 1000,
  });
  await outbound.ready();
  const queue: JobQueue = kind === 'bullmq' ? createBullQueue({ redis, prefix, logger }) : createMemoryQueue({ logger });
  outbound.register(queue);
  await queue.start();
  cleanups.push(async () => {
    await queue.close();
    await outbound.close();
  });
  return { outbound, queue, logs };
}

const prefix = () => `kiunga-test-${randomBytes(4).toString('hex')}`;
const smsRequests = () => fake.to('/version1/messaging');

describe('provider selection', () => {
  it('should serve the sandbox by default, with /sandbox/outbox and /sandbox/calls', async () => {
    const server = await startTestServer();
    try {
      expect(server.services.messenger.provider).toBe('sandbox');
      expect(server.services.dialer.provider).toBe('sandbox');
      expect((await fetch(`${server.url}/sandbox/calls`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("should choose Africa's Talking or Twilio by MESSAGING_PROVIDER, with no sandbox routes", async () => {
    for (const [env, provider] of [
      [AT_ENV, 'africastalking'],
      [TWILIO_ENV, 'twilio'],
    ] as const) {
      const server = await startTestServer({ ...env, REDIS_URL: '' });
      try {
        expect(server.services.messenger.provider).toBe(provider);
        expect(server.services.dialer.provider).toBe(provider);
        expect(server.services.outbox).toBeUndefined();
        expect((await fetch(`${server.url}/sandbox/outbox`)).status).toBe(404);
        expect((await fetch(`${server.url}/sandbox/calls`)).status).toBe(404);
      } finally {
        await server.close();
      }
    }
  });

  it('should report every missing provider setting at once', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
      }
    };
    expect(problems({ MESSAGING_PROVIDER: 'twilio' })).toEqual([
      'TWILIO_ACCOUNT_SID: required with MESSAGING_PROVIDER=twilio',
      'TWILIO_AUTH_TOKEN: required with MESSAGING_PROVIDER=twilio',
      'TWILIO_NUMBER: required with MESSAGING_PROVIDER=twilio',
      'PUBLIC_URL: required with MESSAGING_PROVIDER=twilio',
    ]);
    expect(problems({ MESSAGING_PROVIDER: 'africastalking' })).toEqual([
      'AT_API_KEY: required with MESSAGING_PROVIDER=africastalking',
      'AT_VOICE_NUMBER: required with MESSAGING_PROVIDER=africastalking',
    ]);
    expect(problems({ ...AT_ENV, AT_VOICE_NUMBER: '0711082000' })).toEqual([
      'AT_VOICE_NUMBER: must be an E.164 number, e.g. +254711082000',
    ]);
    expect(problems({ MESSAGING_PROVIDER: 'sandbox' })).toEqual([]);
    expect(problems({ ...TWILIO_ENV })).toEqual([]);
  });
});

describe('sms job', () => {
  it("should carry an AT premium reply's linkId, short code and keyword to the provider, and drop malformed ones", async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(101, 'Success') }));
    const { queue } = await process_(prefix(), {}, 'memory');
    await queue.add(SMS_JOB, { to: AMINA, text: 'a', linkId: 'Link-1', shortCode: '22384', keyword: 'BAL' });
    await queue.idle(5_000);
    await queue.add(SMS_JOB, { to: AMINA, text: 'b', linkId: 'undefined', shortCode: '22384', keyword: 'BAL' });
    await queue.idle(5_000);
    const [premium, standard] = smsRequests();
    expect(premium!.path).toBe('/content/version1/messaging');
    expect(premium!.form).toMatchObject({ linkId: 'Link-1', keyword: 'BAL', from: '22384' });
    expect(standard!.path).toBe('/version1/messaging');
    expect(standard!.raw).not.toContain('undefined');
  });
});

describe('a worker that lost its job to another', () => {
  it('should send no SMS and place no call once the job is no longer its own, through the rate limiter, and send when it is', async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(101, 'Success') }));
    fake.on('/call', () => ({ status: 201, body: atCallAnswer('Queued') }));
    const { outbound, logs } = await process_(prefix());
    // The handlers as the queue runs them, with the run's answer to "is this job still mine?" chosen here.
    const handlers = new Map<string, JobHandler<object>>();
    const capturing = createMemoryQueue({ logger: createLogger('silent') });
    outbound.register({ ...capturing, handle: (name, handler) => void handlers.set(name, handler as JobHandler<object>) });
    const lost: JobRun = { stillMine: async () => false };
    const held: JobRun = { stillMine: async () => true };

    await handlers.get(SMS_JOB)!({ to: AMINA, text: 'You sent KES 500.00' }, lost);
    await handlers.get(CALL_JOB)!({ to: AMINA, ref: 'cb-lost-1' }, lost);
    expect(fake.requests).toEqual([]);
    expect(logs.text).toContain('sms not sent: this worker lost the job to another');

    await handlers.get(SMS_JOB)!({ to: AMINA, text: 'You sent KES 500.00' }, held);
    await handlers.get(CALL_JOB)!({ to: AMINA, ref: 'cb-held-1' }, held);
    expect(smsRequests()).toHaveLength(1);
    expect(fake.to('/call')).toHaveLength(1);
  });
});

describe('retries', () => {
  it('should retry a transient failure with exponential backoff (bullmq) and send once it passes', async () => {
    fake.on('/version1/messaging', (_r, nth) =>
      nth <= 2 ? { status: 503, body: 'busy' } : { status: 201, body: atSmsAnswer(101, 'Success') },
    );
    const { queue } = await process_(prefix());
    await queue.add(SMS_JOB, { to: AMINA, text: 'hello', ref: 'r-1' }, { attempts: 5, backoffMs: 200 });
    await queue.idle(15_000);
    const at = smsRequests().map((r) => r.at);
    expect(at).toHaveLength(3);
    const [gap1, gap2] = [at[1]! - at[0]!, at[2]! - at[1]!];
    expect(gap1).toBeGreaterThanOrEqual(180);
    expect(gap2).toBeGreaterThanOrEqual(380); // 200, then 400
  });

  it('should retry a transient failure in-process too', async () => {
    fake.on('/version1/messaging', (_r, nth) =>
      nth <= 1 ? { status: 500, body: 'oops' } : { status: 201, body: atSmsAnswer(102, 'Queued') },
    );
    const { queue } = await process_(prefix(), {}, 'memory');
    await queue.add(SMS_JOB, { to: AMINA, text: 'hello' }, { attempts: 3, backoffMs: 100 });
    await queue.idle(5_000);
    expect(smsRequests()).toHaveLength(2);
  });

  it('should not retry a permanent refusal: one request, and the bullmq job failed as unrecoverable', async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(406, 'UserInBlacklist') }));
    const p = prefix();
    const { queue, logs } = await process_(p);
    await queue.add(SMS_JOB, { to: AMINA, text: 'hello' }, { attempts: 5, backoffMs: 50, jobId: 'blacklisted-1' });
    await queue.idle(10_000);
    await new Promise((r) => setTimeout(r, 300)); // a retry would have come by now
    expect(smsRequests()).toHaveLength(1);
    const inspect = new Queue('jobs', { connection: redis.duplicate(), prefix: `{${p}:bull}` });
    try {
      const failed = await inspect.getJob('blacklisted-1');
      expect(failed?.failedReason).toBe('africastalking sms refused: 406 UserInBlacklist');
      expect(failed?.attemptsMade).toBe(1);
    } finally {
      await inspect.close();
    }
    expect(logs.text).toContain('sms refused for good; not retrying');
    expect(logs.text).not.toContain('711000001');
  });

  it('should not retry a permanent refusal in-process either', async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(403, 'InvalidPhoneNumber') }));
    const { queue } = await process_(prefix(), {}, 'memory');
    await queue.add(SMS_JOB, { to: AMINA, text: 'hello' }, { attempts: 5, backoffMs: 50 });
    await queue.idle(5_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(smsRequests()).toHaveLength(1);
  });
});

/** Most requests in any sliding window of `ms`. */
function maxInWindow(requests: RecordedRequest[], ms: number): number {
  const at = requests.map((r) => r.at).sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i]! - at[j]! >= ms) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('rate limits', () => {
  it('should keep two processes on one Redis within SMS_RATE_LIMIT together', async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(101, 'Success') }));
    const p = prefix();
    const a = await process_(p, { SMS_RATE_LIMIT: '4' });
    const b = await process_(p, { SMS_RATE_LIMIT: '4' });
    for (let i = 0; i < 12; i++) await (i % 2 ? a : b).queue.add(SMS_JOB, { to: AMINA, text: `n${i}` }, { attempts: 3, backoffMs: 100 });
    await a.queue.idle(20_000);
    await b.queue.idle(20_000);
    const sent = smsRequests();
    expect(sent).toHaveLength(12);
    expect(maxInWindow(sent, 1000)).toBeLessThanOrEqual(5); // 4/s, one of slack for timer jitter
    const span = sent.at(-1)!.at - sent[0]!.at;
    expect(span).toBeGreaterThanOrEqual(1800); // 12 at 4/s: about 2.75 s
  });

  it('should pace in-process without Redis too', async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(101, 'Success') }));
    const { queue } = await process_(prefix(), { SMS_RATE_LIMIT: '5' }, 'memory');
    for (let i = 0; i < 8; i++) await queue.add(SMS_JOB, { to: AMINA, text: `n${i}` });
    await queue.idle(10_000);
    const sent = smsRequests();
    expect(sent).toHaveLength(8);
    expect(maxInWindow(sent, 1000)).toBeLessThanOrEqual(6);
    expect(sent.at(-1)!.at - sent[0]!.at).toBeGreaterThanOrEqual(1000);
  });
});

describe('call job', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('should place the call, keep its ref for the voice webhooks, and list it at /sandbox/calls', async () => {
    const { queue, calls, store, keys } = server.services;
    await queue.add(CALL_JOB, { to: AMINA, ref: 'cb-test-1' }, { jobId: 'call-cb-test-1' });
    await queue.idle();
    const placed = calls!.list(AMINA);
    expect(placed).toHaveLength(1);
    expect(placed[0]).toMatchObject({ to: AMINA, ref: 'cb-test-1' });
    expect(await store.get(callRefKey(keys, placed[0]!.id))).toBe('cb-test-1');
    const listed = (await (await fetch(`${server.url}/sandbox/calls?to=${encodeURIComponent(AMINA)}`)).json()) as { ref: string }[];
    expect(listed.map((c) => c.ref)).toEqual(['cb-test-1']);
  });

  it('should never call a number outside the home country, or with a bad ref', async () => {
    const { queue, calls } = server.services;
    const before = calls!.list().length;
    await queue.add(CALL_JOB, { to: '+8819123456789', ref: 'cb-premium' });
    await queue.add(CALL_JOB, { to: '+14155550100', ref: 'cb-us' });
    await queue.add(CALL_JOB, { to: AMINA, ref: 'bad ref with spaces' });
    await queue.idle();
    expect(calls!.list().length).toBe(before);
  });
});
