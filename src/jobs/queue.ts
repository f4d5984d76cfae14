import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis, Cluster } from 'ioredis';
import type { Logger } from 'pino';
import { JOB_SCHEMAS, type JobCatalogue, type JobDataOf, type Jobs } from './catalogue.js';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { settlesWithin } from '../time.js';

export { SMS_JOB, CALL_JOB, RESOLVE_JOB, HOOK_JOB, type Jobs, type JobName } from './catalogue.js';

/**
 * The job queue for outbound and background work (SMS, transfer completion). On Redis it is bullmq, so a
 * job survives the process that queued it and any process may run it; without Redis an in-process queue
 * with the same retry semantics serves a single process.
 *
 * Job names and the shape of their data come from a catalogue (`catalogue.ts`; tests may pass their own):
 * `add` and `handle` are typed by the name, and the worker checks each job's data against the name's
 * schema before its handler runs. A job whose data does not match, or whose name has no schema, is refused
 * for good (never retried) with a log line naming the job and the fields at fault, never their values.
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

/** The run of one job, as its handler sees it. */
export interface JobRun {
  /**
   * True while this worker still holds the job (bullmq: its lock, renewed for `JOB_LOCK_MS` by the call); false
   * once it lost the lock and another worker may run the job too. Rejects when the queue's store cannot be
   * reached. A handler with an effect it cannot take back (an SMS, a call) asks just before it, so that a worker
   * which lost its job (its event loop blocked, or cut off from Redis, past `JOB_LOCK_MS`) does not repeat what
   * the new holder does. In-process: always true (no other worker can take the job).
   */
  stillMine(): Promise<boolean>;
}

export type JobHandler<D = object> = (data: D, run: JobRun) => Promise<void>;

/** The in-process queue's run: its one worker never loses a job. */
const OWN_RUN: JobRun = { stillMine: async () => true };

/** What `close` left undone (both zero after a clean drain). */
export interface QueueClosed {
  /**
   * Jobs still running when the wait ran out. On bullmq they stay in Redis: once their lock expires, a
   * worker of any process takes them again (handlers are idempotent).
   */
  running: number;
  /** Jobs waiting, delayed or due for a retry that are lost with the process (the in-process queue only). */
  dropped: number;
}

export interface JobQueue<J extends object = Jobs> {
  readonly kind: 'bullmq' | 'memory';
  add<K extends keyof J & string>(name: K, data: J[K], options?: JobOptions): Promise<void>;
  /** Registers the handler of a job name; call before `start`. Its data has been checked against the name's schema. */
  handle<K extends keyof J & string>(name: K, handler: JobHandler<J[K]>): void;
  start(): Promise<void>;
  /** Resolves when no job is waiting, delayed or running (tests and shutdown). */
  idle(timeoutMs?: number): Promise<void>;
  /**
   * Jobs not started yet, for /metrics (`kiunga_jobs_waiting`): `waiting` are due now (a growing number
   * means the workers fall behind), `delayed` are scheduled later (retries, delayed call-backs).
   */
  counts(): Promise<JobCounts>;
  /**
   * Stops taking jobs, waits up to `timeoutMs` (default 10 s) for the running ones to finish, and releases
   * the queue's connections. Waiting and delayed jobs stay in Redis (bullmq). Idempotent.
   */
  close(timeoutMs?: number): Promise<QueueClosed>;
}

export interface JobCounts {
  waiting: number;
  delayed: number;
}

const DEFAULTS = { attempts: 8, backoffMs: 1000 };

/**
 * How long a running job's lock lasts without renewal (bullmq `lockDuration`; its worker renews it every half
 * of this). A job whose process died keeps its lock this long, then a stalled-job check (`STALLED_CHECK_MS`)
 * of any live worker hands it to another worker: it runs again at most JOB_LOCK_MS + STALLED_CHECK_MS after
 * the death (bullmq's defaults, 30 s and 30 s, made a customer promised a transfer's SMS wait up to a minute).
 * The price of a shorter lock: a worker that cannot renew for this long (its event loop blocked, Redis out of
 * reach) loses the job to another worker while still running it. A resolution or a hook job run twice reads
 * Fineract again and changes nothing (records, keys and notices are written once). An SMS or a call asks
 * `JobRun.stillMine` just before it leaves, so the worker that lost the job sends nothing; what is left is
 * a send already under way when the lock was lost, or a death between sending and finishing the job, after
 * which it goes out twice (delivery is at least once).
 */
export const JOB_LOCK_MS = 10_000;
/** Between two stalled-job checks (bullmq `stalledInterval`; one check per interval across all workers). */
export const STALLED_CHECK_MS = 5_000;
/**
 * Stalls a job survives (bullmq `maxStalledCount`, default 1): past it bullmq fails the job for good, whatever
 * its attempts, and its id stays taken (`removeOnFail`), so a transfer's resolution lost that way is never
 * queued again and its customer never gets the promised SMS. Two: a job survives a process death and a lost
 * lock; a job that kills every process running it still stops on the third.
 */
export const MAX_STALLED = 2;

/** A job the worker refuses for good: no schema for its name, or data that does not match it. */
export class InvalidJobError extends Error {
  constructor(
    readonly job: string,
    /** The fields at fault (`path: code`), never their values. */
    readonly issues: string[],
  ) {
    super(issues.length ? `invalid ${job} job: ${issues.join('; ')}` : `no schema for job ${job}`);
    this.name = 'InvalidJobError';
  }
}

/** Checks a job's data against its name's schema: the parsed data, or an `InvalidJobError`. */
function checkJob(catalogue: JobCatalogue, jobName: string, data: unknown): object {
  const schema = Object.hasOwn(catalogue, jobName) ? catalogue[jobName] : undefined;
  if (!schema) throw new InvalidJobError(jobName, []);
  const parsed = schema.safeParse(data);
  if (!parsed.success)
    throw new InvalidJobError(
      jobName,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.code}`),
    );
  return parsed.data;
}

/** Options both queues take. */
export interface QueueOptions<C extends JobCatalogue> {
  logger: Logger;
  /** Job names and the schemas of their data (default: Kiunga's, `JOB_SCHEMAS`). */
  jobs?: C;
}

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

export interface MemoryQueueOptions<C extends JobCatalogue = typeof JOB_SCHEMAS> extends QueueOptions<C> {
  /**
   * Deduplication by job id, as bullmq keeps finished jobs (completed: 1 h, at most 10,000): the id of a
   * job not finished yet (waiting, delayed, running, due for a retry) is always remembered; a finished
   * job's id is remembered for `dedupeMaxAgeMs` (default 1 h), and at most `dedupeMaxIds` finished ids
   * (default 10,000) are kept, the oldest forgotten first.
   */
  dedupeMaxIds?: number;
  dedupeMaxAgeMs?: number;
  /** Clock for the dedupe window (tests). */
  now?: () => number;
}

/** The in-process queue, with the number of job ids it remembers for deduplication (metrics, tests). */
export interface MemoryQueue<J extends object = Jobs> extends JobQueue<J> {
  readonly kind: 'memory';
  rememberedIds(): number;
}

/** The single-process queue: same API and retry rules, timers instead of Redis. */
export function createMemoryQueue<C extends JobCatalogue = typeof JOB_SCHEMAS>(
  options: MemoryQueueOptions<C>,
): MemoryQueue<NoInfer<JobDataOf<C>>> {
  const { dedupeMaxIds = 10_000, dedupeMaxAgeMs = 3_600_000, now = Date.now } = options;
  const catalogue: JobCatalogue = options.jobs ?? JOB_SCHEMAS;
  const handlers = new Map<string, JobHandler>();
  /** Ids of jobs not finished yet. */
  const unfinished = new Set<string>();
  /** Ids of finished jobs with the time they finished, oldest first (Map keeps insertion order). */
  const finished = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  /** The timers among `timers` that wait for a delay or a retry's backoff. */
  const delayed = new Set<NodeJS.Timeout>();
  let running = 0;
  let started = false;
  const pending: (() => void)[] = [];
  let closed = false;
  let closing: Promise<QueueClosed> | undefined;

  const forgetOld = () => {
    const oldest = now() - dedupeMaxAgeMs;
    for (const [id, at] of finished) {
      if (finished.size <= dedupeMaxIds && at > oldest) break;
      finished.delete(id);
    }
  };
  const done = (jobId: string | undefined) => {
    if (jobId === undefined) return;
    unfinished.delete(jobId);
    finished.delete(jobId);
    finished.set(jobId, now());
    forgetOld();
  };

  const schedule = (jobName: string, data: object, opts: JobOptions, attempt: number, delay: number) => {
    const t = setTimeout(async () => {
      timers.delete(t);
      delayed.delete(t);
      if (closed) return;
      const handler = handlers.get(jobName);
      running++;
      let retry = false;
      try {
        if (!handler) throw new Error(`no handler for job ${jobName}`);
        await handler(checkJob(catalogue, jobName, data), OWN_RUN);
      } catch (err) {
        if (err instanceof InvalidJobError) {
          options.logger.warn({ job: jobName, attempt, err: { type: err.name, message: err.message } }, 'job refused: not retried');
          return;
        }
        const attempts = opts.attempts ?? DEFAULTS.attempts;
        options.logger.warn({ job: jobName, attempt, err: { type: (err as Error).name, message: (err as Error).message } }, 'job failed');
        retry = attempt < attempts && !closed;
        if (retry) schedule(jobName, data, opts, attempt + 1, (opts.backoffMs ?? DEFAULTS.backoffMs) * 2 ** (attempt - 1));
      } finally {
        running--;
        if (!retry) done(opts.jobId);
      }
    }, delay);
    timers.add(t);
    if (delay > 0) delayed.add(t);
  };

  return {
    kind: 'memory',
    rememberedIds: () => unfinished.size + finished.size,
    async add(jobName, data, opts = {}) {
      if (opts.jobId) {
        forgetOld();
        if (unfinished.has(opts.jobId) || finished.has(opts.jobId)) return;
        unfinished.add(opts.jobId);
      }
      const run = () => schedule(jobName, data, opts, 1, opts.delayMs ?? 0);
      if (started) run();
      else pending.push(run);
    },
    handle(jobName, handler) {
      handlers.set(jobName, handler as JobHandler);
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
    async counts() {
      return { waiting: timers.size - delayed.size + pending.length, delayed: delayed.size };
    },
    close(timeoutMs = 10_000) {
      closing ??= (async () => {
        closed = true;
        const dropped = timers.size + pending.length;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        delayed.clear();
        pending.length = 0;
        if (dropped > 0) options.logger.warn({ dropped }, 'in-process job queue closed: waiting and delayed jobs are lost');
        const until = Date.now() + timeoutMs;
        while (running > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        if (running > 0) options.logger.warn({ running }, 'in-process job queue closed with jobs still running');
        return { running, dropped };
      })();
      return closing;
    },
  };
}
