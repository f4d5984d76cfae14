import type { Logger } from 'pino';
import type { JobCatalogue, Jobs } from './catalogue.js';

/**
 * The job queue's contract, shared by its two implementations (`queue-bullmq.ts`, `queue-memory.ts`): the
 * interface every caller sees, the retry defaults, the lock and stalled-job constants, and the check of a job's
 * data against its name's schema. Callers import it through `queue.ts`.
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

/** Attempts and backoff when a job's options give none (both queues). */
export const DEFAULTS = { attempts: 8, backoffMs: 1000 };

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
export function checkJob(catalogue: JobCatalogue, jobName: string, data: unknown): object {
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
