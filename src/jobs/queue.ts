import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis, Cluster } from 'ioredis';
import type { Logger } from 'pino';

/**
 * The job queue for outbound and background work (SMS, transfer completion). On Redis it is bullmq, so a
 * job survives the process that queued it and any process may run it; without Redis an in-process queue
 * with the same retry semantics serves a single process.
 */

export interface JobOptions {
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** A job with the same id is queued once (bullmq deduplication). */
  jobId?: string;
  /** Attempts before giving up (default 8), with exponential backoff from `backoffMs` (default 1000). */
  attempts?: number;
  backoffMs?: number;
}

export type JobHandler = (data: Record<string, unknown>) => Promise<void>;

export interface JobQueue {
  readonly kind: 'bullmq' | 'memory';
  add(name: string, data: Record<string, unknown>, options?: JobOptions): Promise<void>;
  /** Registers the handler of a job name; call before `start`. */
  handle(name: string, handler: JobHandler): void;
  start(): Promise<void>;
  /** Resolves when no job is waiting, delayed or running (tests and shutdown). */
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const DEFAULTS = { attempts: 8, backoffMs: 1000 };

/** bullmq on the given ioredis client's server; the queue name carries a hash tag for Redis Cluster. */
export function createBullQueue(options: { redis: Redis | Cluster; prefix: string; logger: Logger; concurrency?: number }): JobQueue {
  const handlers = new Map<string, JobHandler>();
  const { logger } = options;
  // bullmq needs its own connections (a worker blocks); duplicate the store's client settings.
  // Workers block on Redis, so they need unlimited retries and the offline queue, unlike the fail-fast store.
  const connection = (): ConnectionOptions => {
    const base = options.redis;
    if (base instanceof Cluster) {
      return base.duplicate(undefined, {
        enableOfflineQueue: true,
        redisOptions: { ...base.options.redisOptions, maxRetriesPerRequest: null, commandTimeout: undefined },
      }) as unknown as ConnectionOptions;
    }
    // No command timeout either: a worker's blocking wait for the next job is meant to last.
    return base.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, commandTimeout: undefined }) as unknown as ConnectionOptions;
  };
  const name = 'jobs';
  const prefix = `{${options.prefix}:bull}`;
  const queue = new Queue(name, { connection: connection(), prefix });
  queue.on('error', (err) => logger.warn({ err: { message: err.message } }, 'job queue error'));
  let worker: Worker | undefined;

  return {
    kind: 'bullmq',
    async add(jobName, data, opts = {}) {
      await queue.add(jobName, data, {
        delay: opts.delayMs,
        jobId: opts.jobId,
        attempts: opts.attempts ?? DEFAULTS.attempts,
        backoff: { type: 'exponential', delay: opts.backoffMs ?? DEFAULTS.backoffMs },
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      });
    },
    handle(jobName, handler) {
      handlers.set(jobName, handler);
    },
    async start() {
      worker = new Worker(
        name,
        async (job: Job) => {
          const handler = handlers.get(job.name);
          if (!handler) throw new Error(`no handler for job ${job.name}`);
          await handler(job.data as Record<string, unknown>);
        },
        { connection: connection(), prefix, concurrency: options.concurrency ?? 8 },
      );
      worker.on('failed', (job, err) =>
        logger.warn({ job: job?.name, attempt: job?.attemptsMade, err: { type: err.name, message: err.message } }, 'job failed'),
      );
      worker.on('error', (err) => logger.warn({ err: { message: err.message } }, 'job worker error'));
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
    async close() {
      await worker?.close();
      await queue.close();
    },
  };
}

/** The single-process queue: same API and retry rules, timers instead of Redis. */
export function createMemoryQueue(options: { logger: Logger }): JobQueue {
  const handlers = new Map<string, JobHandler>();
  const seen = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let running = 0;
  let started = false;
  const pending: (() => void)[] = [];
  let closed = false;

  const schedule = (jobName: string, data: Record<string, unknown>, opts: JobOptions, attempt: number, delay: number) => {
    const t = setTimeout(async () => {
      timers.delete(t);
      if (closed) return;
      const handler = handlers.get(jobName);
      running++;
      try {
        if (!handler) throw new Error(`no handler for job ${jobName}`);
        await handler(data);
      } catch (err) {
        const attempts = opts.attempts ?? DEFAULTS.attempts;
        options.logger.warn({ job: jobName, attempt, err: { type: (err as Error).name, message: (err as Error).message } }, 'job failed');
        if (attempt < attempts) schedule(jobName, data, opts, attempt + 1, (opts.backoffMs ?? DEFAULTS.backoffMs) * 2 ** (attempt - 1));
      } finally {
        running--;
      }
    }, delay);
    timers.add(t);
  };

  return {
    kind: 'memory',
    async add(jobName, data, opts = {}) {
      if (opts.jobId) {
        if (seen.has(opts.jobId)) return;
        seen.add(opts.jobId);
      }
      const run = () => schedule(jobName, data, opts, 1, opts.delayMs ?? 0);
      if (started) run();
      else pending.push(run);
    },
    handle(jobName, handler) {
      handlers.set(jobName, handler);
    },
    async start() {
      started = true;
      for (const run of pending.splice(0)) run();
    },
    async idle(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (timers.size === 0 && running === 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('job queue not idle');
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
