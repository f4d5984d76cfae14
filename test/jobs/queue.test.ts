/**
 * The job queue: the in-process queue's deduplication is bounded (count and age) without ever forgetting
 * a job that has not finished; `close` waits for running jobs, reports what it could not drain, and on
 * bullmq leaves waiting and delayed jobs in Redis; a bullmq job names the process running it, and survives
 * two processes dying under it.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { z } from 'zod';
import { hostname } from 'node:os';
import { createBullQueue, createMemoryQueue } from '../../src/jobs/queue.js';
import { createRedisStore } from '../../src/session/redis-store.js';
import { REDIS_URL } from '../helpers/server.js';
import { startRedisProxy } from '../resilience/tcp-proxy.js';

const logger = pino({ level: 'silent' });

/** The jobs these tests queue: generic names with the data they carry. */
const jobs = { job: z.object({ id: z.string().optional() }), slow: z.object({}), stuck: z.object({}) };

describe('in-process queue deduplication', () => {
  it('remembers at most 10,000 finished job ids, forgetting the oldest first', async () => {
    const queue = createMemoryQueue({ jobs, logger });
    const runs = new Map<string, number>();
    queue.handle('job', async (data) => void runs.set(String(data.id), (runs.get(String(data.id)) ?? 0) + 1));
    await queue.start();
    for (let i = 0; i < 10_050; i++) await queue.add('job', { id: `j${i}` }, { jobId: `j${i}` });
    await queue.idle(30_000);
    expect(queue.rememberedIds()).toBe(10_000);

    await queue.add('job', { id: 'j0' }, { jobId: 'j0' }); // forgotten: runs again
    await queue.add('job', { id: 'j10049' }, { jobId: 'j10049' }); // remembered: not queued again
    await queue.idle();
    expect(runs.get('j0')).toBe(2);
    expect(runs.get('j10049')).toBe(1);
    expect(queue.rememberedIds()).toBe(10_000);
    await queue.close();
  }, 60_000);

  it('forgets a finished job id after the age bound (1 h by default)', async () => {
    let now = 1_000_000;
    const queue = createMemoryQueue({ jobs, logger, now: () => now });
    let runs = 0;
    queue.handle('job', async () => void runs++);
    await queue.start();
    await queue.add('job', {}, { jobId: 'receipt-1' });
    await queue.idle();
    now += 3_599_000;
    await queue.add('job', {}, { jobId: 'receipt-1' });
    await queue.idle();
    expect(runs).toBe(1);
    now += 2_000;
    await queue.add('job', {}, { jobId: 'receipt-1' });
    await queue.idle();
    expect(runs).toBe(2);
    await queue.close();
  });

  it('never forgets the id of a job that has not run yet, whatever the bounds', async () => {
    let now = 0;
    const queue = createMemoryQueue({ jobs, logger, dedupeMaxIds: 2, dedupeMaxAgeMs: 10, now: () => now });
    let runs = 0;
    queue.handle('job', async () => void runs++);
    await queue.start();
    await queue.add('job', {}, { jobId: 'later', delayMs: 60_000 });
    for (let i = 0; i < 5; i++) await queue.add('job', {}, { jobId: `now-${i}` });
    await sleep(20);
    expect(runs).toBe(5);
    expect(queue.rememberedIds()).toBe(3); // 'later' and the two newest finished ids
    now += 1_000;
    await queue.add('job', {}, { jobId: 'later', delayMs: 60_000 });
    expect(queue.rememberedIds()).toBe(1); // 'later' only: the finished ids are past the age bound
    // Closing drops the delayed job (the process loses it) and says so.
    expect(await queue.close()).toEqual({ running: 0, dropped: 1 });
  });
});

describe('in-process queue close', () => {
  it('waits for a running job, stops taking others, and reports them', async () => {
    const queue = createMemoryQueue({ jobs, logger });
    let finished = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    queue.handle('slow', async () => {
      await gate;
      finished++;
    });
    await queue.start();
    await queue.add('slow', {});
    await sleep(20); // the job is running
    await queue.add('slow', {}, { delayMs: 60_000 });
    const closing = queue.close(10_000);
    release();
    expect(await closing).toEqual({ running: 0, dropped: 1 });
    expect(finished).toBe(1);
  });

  it('reports a job still running when the wait runs out', async () => {
    const queue = createMemoryQueue({ jobs, logger });
    queue.handle('stuck', () => new Promise(() => undefined));
    await queue.start();
    await queue.add('stuck', {});
    await sleep(20);
    expect(await queue.close(100)).toEqual({ running: 1, dropped: 0 });
  });
});

describe('in-process queue depth', () => {
  it('counts jobs due now as waiting and jobs for later as delayed, until they run', async () => {
    const queue = createMemoryQueue({ jobs, logger });
    queue.handle('job', async () => undefined);
    await queue.add('job', {});
    await queue.add('job', {}, { delayMs: 60_000 });
    expect(await queue.counts()).toEqual({ waiting: 2, delayed: 0 });
    await queue.start();
    await queue.close(1000);
    const started = createMemoryQueue({ jobs, logger });
    started.handle('job', async () => undefined);
    await started.start();
    await started.add('job', {}, { delayMs: 60_000 });
    await started.add('job', {});
    expect(await started.counts()).toEqual({ waiting: 1, delayed: 1 });
    await sleep(20);
    expect(await started.counts()).toEqual({ waiting: 0, delayed: 1 });
    await started.close(1000);
  });
});

describe('bullmq queue close (real Redis)', () => {
  const prefixes: string[] = [];
  const stores: ReturnType<typeof createRedisStore>[] = [];
  const open = async (options: { prefix?: string; workerName?: string; stalled?: { lockMs: number; checkMs: number } } = {}) => {
    const prefix = options.prefix ?? `kiunga-jobs-${randomBytes(4).toString('hex')}`;
    prefixes.push(prefix);
    const store = createRedisStore(REDIS_URL);
    stores.push(store);
    await store.ping();
    const inspect = new Queue('jobs', { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix: `{${prefix}:bull}` });
    const { workerName, stalled } = options;
    return { queue: createBullQueue({ jobs, redis: store.client, prefix, logger, workerName, stalled }), inspect, prefix };
  };
  afterAll(async () => {
    const redis = new Redis(REDIS_URL);
    for (const prefix of prefixes) {
      const keys = await redis.keys(`{${prefix}:bull}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
    for (const store of stores) await store.close();
  });

  it('counts the jobs waiting in Redis, due now and delayed, before any worker takes them', async () => {
    const { queue, inspect } = await open();
    await queue.add('job', {}, { jobId: 'now' });
    await queue.add('job', {}, { jobId: 'later', delayMs: 600_000 });
    expect(await queue.counts()).toEqual({ waiting: 1, delayed: 1 });
    await queue.close(1000);
    await inspect.close();
    await (await inspect.client).quit();
  });

  it('waits for the running job and leaves delayed jobs in Redis for the next process', async () => {
    const { queue, inspect } = await open();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    queue.handle('slow', async () => {
      started = true;
      await gate;
    });
    await queue.start();
    await queue.add('slow', {}, { jobId: 'running-one' });
    await queue.add('slow', {}, { jobId: 'for-later', delayMs: 600_000 });
    for (let i = 0; i < 200 && !started; i++) await sleep(10);
    expect(started).toBe(true);
    const closing = queue.close(10_000);
    await sleep(50);
    release();
    expect(await closing).toEqual({ running: 0, dropped: 0 });
    expect(await inspect.getJobState('running-one')).toBe('completed');
    expect(await inspect.getJobState('for-later')).toBe('delayed');
    await inspect.close();
    await (await inspect.client).quit();
  });

  it('leaves a job that outlasts the wait active in Redis (taken again once its lock expires) and reports it', async () => {
    const { queue, inspect } = await open();
    let started = false;
    queue.handle('stuck', async () => {
      started = true;
      await new Promise(() => undefined);
    });
    await queue.start();
    await queue.add('stuck', {}, { jobId: 'stuck-one' });
    for (let i = 0; i < 200 && !started; i++) await sleep(10);
    expect(await queue.close(200)).toEqual({ running: 1, dropped: 0 });
    expect(await inspect.getJobState('stuck-one')).toBe('active');
    await inspect.close();
    await (await inspect.client).quit();
  });

  it("names the process running a job on it (bullmq's processedBy: host and pid)", async () => {
    const { queue, inspect } = await open();
    queue.handle('job', async () => undefined);
    await queue.start();
    await queue.add('job', {}, { jobId: 'named' });
    await vi.waitFor(async () => expect(await inspect.getJobState('named')).toBe('completed'), { timeout: 5000 });
    expect((await inspect.getJob('named'))?.processedBy).toBe(`${hostname()}:${process.pid}`);
    await queue.close(1000);
    await inspect.close();
    await (await inspect.client).quit();
  });

  it('tells a worker that lost its job while cut off from Redis that the job is no longer its own, and the new holder that it is', async () => {
    // The first worker reaches Redis through a proxy the test black-holes: it cannot renew the job's lock,
    // which expires; a second worker takes the job. Healed, the first asks before its effect and is told no.
    const proxy = await startRedisProxy(REDIS_URL);
    const stalled = { lockMs: 600, checkMs: 300 };
    const prefix = `kiunga-jobs-${randomBytes(4).toString('hex')}`;
    prefixes.push(prefix);
    const cutStore = createRedisStore(proxy.url);
    stores.push(cutStore);
    await cutStore.ping();
    const first = createBullQueue({ jobs, redis: cutStore.client, prefix, logger, workerName: 'first', stalled });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const answers: [string, boolean][] = [];
    let entered = false;
    first.handle('slow', async (_data, run) => {
      entered = true;
      await gate;
      answers.push(['first', await run.stillMine()]);
    });
    await first.start();
    await first.add('slow', {}, { jobId: 'lost-lock', attempts: 1 });
    await vi.waitFor(() => expect(entered).toBe(true), { timeout: 5000 });
    proxy.blackhole();

    const second = await open({ prefix, workerName: 'second', stalled });
    second.queue.handle('slow', async (_data, run) => void answers.push(['second', await run.stillMine()]));
    await second.queue.start();
    await vi.waitFor(() => expect(answers).toEqual([['second', true]]), { timeout: 10_000, interval: 50 });

    proxy.heal();
    release();
    await vi.waitFor(
      () =>
        expect(answers).toEqual([
          ['second', true],
          ['first', false],
        ]),
      { timeout: 10_000, interval: 50 },
    );
    await second.queue.close(1000);
    await first.close(1000);
    await proxy.close();
    await second.inspect.close();
    await (await second.inspect.client).quit();
  });

  it('runs a job to the end on a third worker after the two before it died under it (two stalls)', async () => {
    // A process's death: its queue closed with the job still running (its connections gone, the lock left to expire).
    const stalled = { lockMs: 600, checkMs: 300 };
    const first = await open({ workerName: 'first', stalled });
    const { prefix, inspect } = first;
    const takenBy: string[] = [];
    const stuck = (name: string) => async () => {
      takenBy.push(name);
      await new Promise(() => undefined);
    };
    first.queue.handle('stuck', stuck('first'));
    await first.queue.start();
    await first.queue.add('stuck', {}, { jobId: 'stalls-twice', attempts: 1 });
    await vi.waitFor(() => expect(takenBy).toEqual(['first']), { timeout: 5000 });
    expect(await first.queue.close(50)).toEqual({ running: 1, dropped: 0 });

    const second = await open({ prefix, workerName: 'second', stalled });
    second.queue.handle('stuck', stuck('second'));
    await second.queue.start();
    await vi.waitFor(() => expect(takenBy).toEqual(['first', 'second']), { timeout: 10_000, interval: 50 });
    expect(await second.queue.close(50)).toEqual({ running: 1, dropped: 0 });

    const third = await open({ prefix, workerName: 'third', stalled });
    third.queue.handle('stuck', async () => void takenBy.push('third'));
    await third.queue.start();
    await vi.waitFor(async () => expect(await inspect.getJobState('stalls-twice')).not.toMatch(/active|waiting/), {
      timeout: 10_000,
      interval: 50,
    });
    const job = await inspect.getJob('stalls-twice');
    expect({ state: await inspect.getJobState('stalls-twice'), reason: job?.failedReason, by: job?.processedBy }).toEqual({
      state: 'completed',
      reason: undefined,
      by: 'third',
    });
    expect(takenBy).toEqual(['first', 'second', 'third']);
    await third.queue.close(1000);
    await inspect.close();
    await (await inspect.client).quit();
  });
});
