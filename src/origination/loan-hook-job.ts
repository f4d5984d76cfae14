import type { Logger } from 'pino';
import { FineractNotFound } from '../fineract/errors.js';
import type { FineractClient } from '../fineract/types.js';
import { LOAN_HOOK_JOB, type Jobs } from '../jobs/catalogue.js';
import type { JobQueue } from '../jobs/queue.js';
import type { ApplicationService } from './applications.js';

/**
 * The `fineract-loan-hook` job (issue 12): a Fineract hook said a loan's status changed (the route in
 * src/hooks/fineract-hooks.ts claimed the event once). The hook is only a hint: the loan is re-read from Fineract,
 * its external id names the Kiunga application (a loan that is no application is left alone), and the
 * application is mirrored by `ApplicationService.sync`, the same code the status poll runs. Its compare-and-set
 * makes one change, one audit entry and one SMS, whether the hook or the poll sees the change first.
 *
 * Fineract builds the hook inside the command's transaction, so it may arrive before the new status is visible:
 * while the loan still shows the status the action leaves, the job fails and the queue tries again (then the
 * poll is the fallback).
 */

type LoanHookEvent = Jobs[typeof LOAN_HOOK_JOB];

/** The status (LoanStatus id) a loan has before each action: still showing it means the change is not visible yet. */
const STATUS_BEFORE: Record<LoanHookEvent['action'], number> = {
  APPROVE: 100,
  REJECT: 100,
  WITHDRAW: 100,
  APPROVALUNDO: 200,
  DISBURSE: 200,
  DISBURSETOSAVINGS: 200,
  DISBURSALUNDO: 300,
};

/** An application id: 32 hex characters (anything else in a loan's external id is not Kiunga's). */
const APPLICATION_ID = /^[0-9a-f]{32}$/;

/** Not an error worth a stack: Fineract's new status is not visible yet; the queue tries again with backoff. */
export class LoanChangeNotVisible extends Error {
  constructor() {
    super("the loan's new status is not visible in Fineract yet");
    this.name = 'LoanChangeNotVisible';
  }
}

export interface LoanHookJobOptions {
  fineract: Pick<FineractClient, 'getLoanStatus'>;
  applications: Pick<ApplicationService, 'get' | 'sync'>;
  queue: JobQueue;
  logger: Logger;
}

export function registerLoanHookJob(options: LoanHookJobOptions): void {
  const { fineract, applications, queue } = options;
  const log = options.logger.child({ component: 'fineract-hooks' });

  queue.handle(LOAN_HOOK_JOB, async (event) => {
    const ids = { action: event.action, loanId: event.loanId };
    let loan;
    try {
      loan = await fineract.getLoanStatus(event.loanId);
    } catch (err) {
      if (err instanceof FineractNotFound) {
        log.warn(ids, 'Fineract hook names an unknown loan: nothing mirrored');
        return;
      }
      throw err; // Fineract unavailable: retried
    }
    const id = loan.externalId;
    if (id === undefined || !APPLICATION_ID.test(id)) {
      log.info(ids, 'loan is not a Kiunga application: nothing mirrored');
      return;
    }
    const application = await applications.get(id);
    if (!application) {
      log.info(ids, 'loan is not a Kiunga application: nothing mirrored');
      return;
    }
    if (application.loanId !== undefined && application.loanId !== loan.loanId) {
      log.warn({ ...ids, application: application.ref }, "loan's external id names an application with another loan: nothing mirrored");
      return;
    }
    if (loan.statusId === STATUS_BEFORE[event.action]) throw new LoanChangeNotVisible();
    const after = await applications.sync(id);
    log.info({ ...ids, application: application.ref, state: after?.state }, 'application status mirrored from a Fineract hook');
  });
}
