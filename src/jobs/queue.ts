/**
 * The job queue for outbound and background work (SMS, transfer completion). On Redis it is bullmq, so a
 * job survives the process that queued it and any process may run it; without Redis an in-process queue
 * with the same retry semantics serves a single process.
 *
 * Job names and the shape of their data come from a catalogue (`catalogue.ts`; tests may pass their own):
 * `add` and `handle` are typed by the name, and the worker checks each job's data against the name's
 * schema before its handler runs. A job whose data does not match, or whose name has no schema, is refused
 * for good (never retried) with a log line naming the job and the fields at fault, never their values.
 *
 * Import the queue from here: its contract, shared by both (`JobQueue`, the retry defaults, the lock and
 * stalled-job constants, the check of a job's data), is in `queue-contract.ts`; the bullmq queue in
 * `queue-bullmq.ts`; the in-process one in `queue-memory.ts`.
 */

export { SMS_JOB, CALL_JOB, RESOLVE_JOB, HOOK_JOB, type Jobs, type JobName } from './catalogue.js';
export {
  InvalidJobError,
  JOB_LOCK_MS,
  MAX_STALLED,
  STALLED_CHECK_MS,
  type JobCounts,
  type JobHandler,
  type JobOptions,
  type JobQueue,
  type JobRun,
  type QueueClosed,
  type QueueOptions,
} from './queue-contract.js';
export { createBullQueue, type BullQueueOptions } from './queue-bullmq.js';
export { createMemoryQueue, type MemoryQueue, type MemoryQueueOptions } from './queue-memory.js';
