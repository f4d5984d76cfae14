/**
 * bullmq and the clock guard (docs/resilience.md, F3): a delayed job added by a process whose clock is 20
 * minutes ahead is due by Redis's clock, not 20 minutes late; a worker whose clock is skewed runs nothing
 * until it is right.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { z } from 'zod';
import { createBullQueue, type JobQueue } from '../../src/jobs/queue.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { REDIS_URL } from '../helpers/server.js';

const logger = pino({ level: 'silent' });
const jobs = { job: z.object({ id: z.string() }) };
const TWENTY_MINUTES = 20 * 60_000;
const realNow = Date.now.bind(Date);
const prefixes: string[] = [];
const newPrefix = () => {
  const p = `kiunga-test-${randomBytes(4).toString('hex')}`;
  prefixes.push(p);
  return p;
};
const stores: RedisStore[] = [];
const queues: JobQueue<{ job: { id: string } }>[] = [];

afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  for (const q of queues) await q.close(1000);
  const redis = new Redis(REDIS_URL);
  for (const prefix of prefixes) {
    const keys = await redis.keys(`{${prefix}:bull}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
  for (const s of stores) await s.close();
});

/** A clock guard as the queue sees it; Redis and this machine share one clock, so Redis's time is the real one. */
function gate(initial = true) {
  let ok = initial;
  const listeners: ((ok: boolean) => void)[] = [];
  return {
    ok: () => ok,
    onChange: (l: (ok: boolean) => void) => void listeners.push(l),
    serverNow: () => realNow(),
    set(value: boolean) {
      ok = value;
      for (const l of listeners) l(value);
    },
  };
}

async function queue(prefix: string, clock?: ReturnType<typeof gate>) {
  const store = createRedisStore(REDIS_URL);
  stores.push(store);
  await store.ping();
  const q = createBullQueue({ jobs, redis: store.client, prefix, logger, ...(clock ? { clock } : {}) });
  queues.push(q);
  return q;
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = realNow() + ms; realNow() < end; await sleep(50)) if (check()) return true;
  return check();
}

describe('job queue and the clock guard', () => {
  it("should date a delayed job by Redis's clock when the adding process's clock is 20 minutes ahead", async () => {
    const ran: string[] = [];
    const prefix = newPrefix();
    const worker = await queue(prefix);
    worker.handle('job', async (data) => void ran.push(data.id));
    const adder = await queue(prefix, gate());
    await worker.start();

    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + TWENTY_MINUTES);
    await adder.add('job', { id: 'resolve-1' }, { delayMs: 300 });
    vi.mocked(Date.now).mockRestore();

    expect(await until(() => ran.includes('resolve-1'), 5_000)).toBe(true);
  });

  it('should run no job while its clock is skewed, and run them once it is right', async () => {
    const ran: string[] = [];
    const clock = gate(false);
    const prefix = newPrefix();
    const worker = await queue(prefix, clock);
    worker.handle('job', async (data) => void ran.push(data.id));
    await worker.start();
    await (await queue(prefix)).add('job', { id: 'sms-1' });
    expect(await until(() => ran.length > 0, 1_000)).toBe(false);
    clock.set(true);
    expect(await until(() => ran.includes('sms-1'), 5_000)).toBe(true);
  });
});
