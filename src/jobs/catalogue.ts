import { z } from 'zod';

/**
 * Every job Kiunga queues, by name, with the shape of its data: one catalogue, so that `queue.add(name, data)`
 * and `queue.handle(name, handler)` are typed by the name, and the worker checks each job's data against its
 * schema before the handler runs (a job queued by another version of Kiunga, or edited in Redis, is refused
 * for good rather than retried). Job data holds no PIN and no secret.
 *
 * Who queues and who handles:
 * - `sms`: money (receipts), hooks (account alerts), security (PIN lock notices), the AT SMS channel (replies);
 *   handled by `messaging/outbound.ts`.
 * - `call`: call-back (`callback/callbacks.ts`); handled by `messaging/outbound.ts`.
 * - `resolveTransfer`: money (`TransferService`), handled by `TransferService.resolve` (wired in services/money.ts).
 * - `fineract-hook`: the Fineract hook route; handled by `hooks/fineract-hooks.ts` (`registerHookJob`).
 * - `fineract-loan-hook`: the same route, for a loan's status change (issue 12); handled by
 *   `origination/loan-hook-job.ts` (`registerLoanHookJob`): re-reads the loan and mirrors the loan application
 *   whose id is its external id.
 * - `approval-expire`, `approval-warn`, `approval-settle`: the approval service (`approvals/approval-service.ts`,
 *   registered there with `registerJobs`): expire a pending approval at its expiry (hold released), warn its
 *   approvers before, and finish the Fineract side of one (execute an approved one, release the hold of a closed
 *   one) after a crash or an unknown outcome (`approvals/approval-execution.ts`). The data is the approval's id only.
 * - `otp`: one send of a one-time code (`security/challenge.ts`), handled in `security/challenge-sms.ts`: the data
 *   names the challenge, never the code, which the handler decrypts when it sends (so no code waits in Redis in clear).
 */

export const SMS_JOB = 'sms';
export const CALL_JOB = 'call';
export const RESOLVE_JOB = 'resolveTransfer';
export const HOOK_JOB = 'fineract-hook';
export const LOAN_HOOK_JOB = 'fineract-loan-hook';
export const OTP_JOB = 'otp';
export const APPROVAL_EXPIRE_JOB = 'approval-expire';
export const APPROVAL_WARN_JOB = 'approval-warn';
export const APPROVAL_SETTLE_JOB = 'approval-settle';

/** An outbound SMS. The handler still checks the number (E.164) and the premium fields' patterns. */
const SmsJob = z.object({
  to: z.string(),
  text: z.string(),
  ref: z.string().optional(),
  /** AT `linkId` of the inbound message: sent back with a premium reply. */
  linkId: z.string().optional(),
  /** The short code the customer wrote to (AT `to`), the sender of a premium reply. */
  shortCode: z.string().optional(),
  /** The service keyword on the short code (AT_SMS_KEYWORD), required by AT for a premium reply. */
  keyword: z.string().optional(),
});

/** An outbound call-back: the number and the call-back's ref. */
const CallJob = z.object({ to: z.string(), ref: z.string() });

/** Finish (or look at) one transfer intent: its client and its id. */
const ResolveJob = z.object({ clientId: z.number().int().positive(), id: z.string().min(1) });

export const HOOK_ACTIONS = ['DEPOSIT', 'WITHDRAWAL'] as const;
const Id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** A Fineract hook event, as claimed by the payload: re-read from Fineract before any alert. */
const HookJob = z.object({ action: z.enum(HOOK_ACTIONS), clientId: Id, savingsId: Id, transactionId: Id });

/** The LOAN commands that change a loan's status (CommandWrapperBuilder action names). */
export const LOAN_HOOK_ACTIONS = [
  'APPROVE',
  'APPROVALUNDO',
  'DISBURSE',
  'DISBURSETOSAVINGS',
  'DISBURSALUNDO',
  'REJECT',
  'WITHDRAW',
] as const;
/** A loan hook: the action and the loan id only; the loan (and its external id) is re-read from Fineract. */
const LoanHookJob = z.object({ action: z.enum(LOAN_HOOK_ACTIONS), loanId: Id }).strict();

/** One send of a one-time code: the client, the purpose and the challenge's random reference. No code. */
const OtpJob = z
  .object({
    clientId: z.string().regex(/^[A-Za-z0-9_.+-]{1,64}$/),
    purpose: z.enum(['enrol', 'unlock', 'money']),
    id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  })
  .strict();

/** One approval, by its id (32 hex characters): the handler reads the record, never trusts the job for more. */
const ApprovalJob = z.object({ id: z.string().regex(/^[0-9a-f]{32}$/) }).strict();

/** The schema of each job's data, by job name. */
export const JOB_SCHEMAS = {
  [SMS_JOB]: SmsJob,
  [CALL_JOB]: CallJob,
  [RESOLVE_JOB]: ResolveJob,
  [HOOK_JOB]: HookJob,
  [LOAN_HOOK_JOB]: LoanHookJob,
  [OTP_JOB]: OtpJob,
  [APPROVAL_EXPIRE_JOB]: ApprovalJob,
  [APPROVAL_WARN_JOB]: ApprovalJob,
  [APPROVAL_SETTLE_JOB]: ApprovalJob,
} as const;

/** A catalogue: job names and the schemas of their data. Tests may bring their own. */
export type JobCatalogue = Record<string, z.ZodType<object>>;

/** The data type of each job of a catalogue. */
export type JobDataOf<C extends JobCatalogue> = { [K in keyof C & string]: z.output<C[K]> };

/** Kiunga's jobs: name → data. */
export type Jobs = JobDataOf<typeof JOB_SCHEMAS>;
export type JobName = keyof Jobs;
