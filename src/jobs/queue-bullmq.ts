import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis, Cluster } from 'ioredis';
import { JOB_SCHEMAS, type JobCatalogue, type JobDataOf } from './catalogue.js';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { settlesWithin } from '../time.js';
import {
  checkJob,
  DEFAULTS,
  JOB_LOCK_MS,
  MAX_STALLED,
  STALLED_CHECK_MS,
  type JobHandler,
  type JobQueue,
  type JobRun,
  type QueueClosed,
  type QueueOptions,
} from './queue-contract.js';

/**
 * The job queue on Redis (bullmq): a job survives the process that queued it and any process may run it. Its
 * worker holds each running job by a lock (`JOB_LOCK_MS`), hands a dead worker's jobs to another
 * (`STALLED_CHECK_MS`, `MAX_STALLED`), and pauses while this process's clock is skewed.
 */

/** bullmq on the given ioredis client's server; the queue name carries a hash tag for Redis Cluster. */
export interface BullQueueOptions<C extends JobCatalogue = typeof JOB_SCHEMAS> extends QueueOptions<C> {
  redis: Redis | Cluster;
  prefix: string;
  concurrency?: number;
  /**
   * The clock guard. bullmq dates a job by the adding process's clock (a delayed job's due time is its
   * `timestamp` + delay) and its worker promotes and retries by its own: jobs are dated by Redis's time, and
   * this process's worker pauses while its clock is skewed (other processes' workers run the jobs meanwhile).
   */
  clock?: { ok(): boolean; onChange(listener: (ok: boolean) => void): void; serverNow(): number };
  /**
   * This worker's name, stored on each job it takes (bullmq's `processedBy`): which process runs or ran a
   * job. Default `<hostname>:<pid>`.
   */
  workerName?: string;
  /** The lock and the stalled-job check's interval (default `JOB_LOCK_MS`, `STALLED_CHECK_MS`; tests shorten them). */
  stalled?: { lockMs: number; checkMs: number };
}

export function createBullQueue<C extends JobCatalogue = typeof JOB_SCHEMAS>(
  options: BullQueueOptions<C>,
): JobQueue<NoInfer<JobDataOf<C>>> {
  const handlers = new Map<string, JobHandler>();
  const catalogue: JobCatalogue = options.jobs ?? JOB_SCHEMAS;
  const { logger } = options;
  // bullmq needs its own connections (a worker blocks); duplicate the store's client settings.
  // Workers block on Redis, so they need unlimited retries and the offline queue, unlike the fail-fast store.
  // bullmq does not close a connection it was given, so the queue keeps them and closes them itself.
  const connections: (Redis | Cluster)[] = [];
  const connection = (): ConnectionOptions => {
    const base = options.redis;
    let copy: Redis | Cluster;
    if (base instanceof Cluster) {
      copy = base.duplicate(undefined, {
        enableOfflineQueue: true,
        redisOptions: { ...base.options.redisOptions, maxRetriesPerRequest: null, commandTimeout: undefined },
      });
    } else {
      // No command timeout either: a worker's blocking wait for the next job is meant to last.
      copy = base.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, commandTimeout: undefined });
    }
    connections.push(copy);
    return copy;
  };
  const name = 'jobs';
  const prefix = `{${options.prefix}:bull}`;
  const queue = new Queue(name, { connection: connection(), prefix });
  queue.on('error', (err) => logger.warn({ err: { message: err.message } }, 'job queue error'));
  let worker: Worker | undefined;
  /** Jobs this process's worker is running right now. */
  let active = 0;
  let closing: Promise<QueueClosed> | undefined;

  return {
    kind: 'bullmq',
    async add(jobName, data, opts = {}) {
      await queue.add(jobName, data, {
        delay: opts.delayMs,
        ...(options.clock ? { timestamp: Math.round(options.clock.serverNow()) } : {}),
        jobId: opts.jobId,
        attempts: opts.attempts ?? DEFAULTS.attempts,
        backoff: { type: 'exponential', delay: opts.backoffMs ?? DEFAULTS.backoffMs },
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      });
    },
    handle(jobName, handler) {
      handlers.set(jobName, handler as JobHandler);
    },
    async start() {
      worker = new Worker(
        name,
        async (job: Job, token?: string) => {
          const handler = handlers.get(job.name);
          if (!handler) throw new Error(`no handler for job ${job.name}`);
          // Fetched as the clock stepped (pausing does not stop a fetch under way): finishing or failing now would
          // date the job by the wrong clock (a retry 20 minutes late), so it waits, its lock kept, for the clock.
          while (options.clock && !options.clock.ok() && !closing) await sleep(100);
          let data: object;
          try {
            data = checkJob(catalogue, job.name, job.data);
          } catch (err) {
            throw new UnrecoverableError((err as Error).message); // bullmq does not retry it
          }
          const lockMs = options.stalled?.lockMs ?? JOB_LOCK_MS;
          // bullmq's public lock extension answers 1 only to the lock's holder (its token), 0 to anyone else.
          const run: JobRun = { stillMine: async () => token !== undefined && (await job.extendLock(token, lockMs)) === 1 };
          active++;
          try {
            await handler(data, run);
          } finally {
            active--;
          }
        },
        {
          connection: connection(),
          prefix,
          concurrency: options.concurrency ?? 8,
          name: options.workerName ?? `${hostname()}:${process.pid}`,
          lockDuration: options.stalled?.lockMs ?? JOB_LOCK_MS,
          stalledInterval: options.stalled?.checkMs ?? STALLED_CHECK_MS,
          maxStalledCount: MAX_STALLED,
        },
      );
      worker.on('failed', (job, err) =>
        logger.warn({ job: job?.name, attempt: job?.attemptsMade, err: { type: err.name, message: err.message } }, 'job failed'),
      );
      worker.on('error', (err) => logger.warn({ err: { message: err.message } }, 'job worker error'));
      const w = worker;
      const follow = (ok: boolean) => {
        if (closing) return;
        if (ok) w.resume();
        else w.pause(true).catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'job worker pause failed'));
      };
      options.clock?.onChange(follow);
      if (options.clock && !options.clock.ok()) follow(false);
    },
    async idle(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children');
        if (Object.values(counts).every((n) => n === 0)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('job queue not idle');
    },
    async counts() {
      // Shared by every process: the queue's depth, not this process's.
      const c = await queue.getJobCounts('waiting', 'prioritized', 'delayed');
      return { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), delayed: c.delayed ?? 0 };
    },
    close(timeoutMs = 10_000) {
      closing ??= (async () => {
        // The worker stops fetching at once and waits for its running jobs; past the wait they are left to
        // Redis (their lock expires and a worker takes them again). Waiting and delayed jobs never leave Redis.
        const finished = worker ? await settlesWithin(worker.close(), timeoutMs) : true;
        const running = finished ? 0 : active;
        if (running > 0) logger.warn({ running }, 'job queue closed with jobs still running; Redis hands them to another worker');
        await settlesWithin(queue.close(), 1000);
        await Promise.allSettled(connections.map((c) => settlesWithin(c.quit(), 1000).then(() => c.disconnect())));
        return { running, dropped: 0 };
      })();
      return closing;
    },
  };
}
