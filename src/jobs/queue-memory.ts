import { JOB_SCHEMAS, type JobCatalogue, type JobDataOf, type Jobs } from './catalogue.js';
import {
  checkJob,
  DEFAULTS,
  InvalidJobError,
  type JobHandler,
  type JobOptions,
  type JobQueue,
  type JobRun,
  type QueueClosed,
  type QueueOptions,
} from './queue-contract.js';

/**
 * The in-process job queue, for a single process without Redis: bullmq's retry and deduplication rules on
 * timers. Its waiting and delayed jobs are lost with the process.
 */

/** The in-process queue's run: its one worker never loses a job. */
const OWN_RUN: JobRun = { stillMine: async () => true };

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
