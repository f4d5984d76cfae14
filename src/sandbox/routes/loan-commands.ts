import type { Bank } from '../bank.js';
import { JsonCommand } from '../json-command.js';
import { buildFlatSchedule } from '../loan-schedule.js';
import { HttpError, ok, type CommandName, type Route } from '../router.js';
import { domainRuleBody, paramError, validationBody } from '../serialize.js';
import { requireLoan } from './loans.js';
import { unknownCommand } from './money.js';
import { loanCommandResult } from './new-records.js';

/**
 * Origination (docs/fineract.md §5.3): the back-office steps of a loan application,
 * `POST /loans/{id}?command=approve|disburse|reject`.
 */

const APPROVE_PARAMS = ['locale', 'dateFormat', 'approvedOnDate', 'approvedLoanAmount', 'expectedDisbursementDate', 'note'] as const;
const DISBURSE_PARAMS = [
  'locale',
  'dateFormat',
  'actualDisbursementDate',
  'transactionAmount',
  'paymentTypeId',
  'externalId',
  'note',
  'accountNumber',
  'checkNumber',
  'routingCode',
  'receiptNumber',
  'bankNumber',
] as const;
const REJECT_PARAMS = ['locale', 'dateFormat', 'rejectedOnDate', 'note'] as const;

function loanTransitionError(code: string, message: string): HttpError {
  return new HttpError(400, validationBody([paramError(code, message, 'id')]));
}

const LOAN_COMMANDS: Record<string, CommandName> = {
  approve: { action: 'APPROVE', entity: 'LOAN' },
  disburse: { action: 'DISBURSE', entity: 'LOAN' },
  reject: { action: 'REJECT', entity: 'LOAN' },
};

/** Approve, disburse or reject a loan the way a back-office user does in Fineract. */
function loanTransition(bank: Bank, loanId: number, kind: string, body: unknown): Record<string, unknown> {
  const loan = requireLoan(bank, loanId);
  const changes: Record<string, unknown> = {};
  /** The disbursement transaction (LoanWritePlatformServiceJpaRepositoryImpl.disburseLoan: `withSubEntityId`). */
  let subResourceId: number | undefined;
  if (kind === 'approve') {
    const cmd = new JsonCommand('loanapplication', body, APPROVE_PARAMS);
    const approvedOnDate = cmd.date('approvedOnDate', true);
    cmd.throwIfErrors();
    if (loan.statusId !== 100) {
      throw loanTransitionError(
        'error.msg.loan.approve.account.is.not.submitted.and.pending.state',
        'Loan Account Approval is not allowed. Loan Account is not in submitted and pending approval state.',
      );
    }
    if ((approvedOnDate as string) < loan.submittedOnDate || (approvedOnDate as string) > bank.businessDate) {
      throw new HttpError(
        403,
        domainRuleBody('error.msg.loan.approval.date.not.valid', 'The approval date must be between the submission date and today.', [
          approvedOnDate,
        ]),
      );
    }
    loan.statusId = 200;
    loan.approvedOnDate = approvedOnDate as string;
    Object.assign(changes, { status: { id: 200 }, approvedOnDate: cmd.raw('approvedOnDate') });
  } else if (kind === 'disburse') {
    const cmd = new JsonCommand('loan.disbursement', body, DISBURSE_PARAMS);
    const date = cmd.date('actualDisbursementDate', true);
    cmd.throwIfErrors();
    if (loan.statusId !== 200) {
      throw loanTransitionError(
        'error.msg.loan.disbursal.account.is.not.approve.not.disbursed.state',
        'Loan Disbursal is not allowed. Loan Account is not in approved and not disbursed state.',
      );
    }
    if ((date as string) > bank.businessDate || (date as string) < (loan.approvedOnDate ?? loan.submittedOnDate)) {
      throw new HttpError(
        403,
        domainRuleBody('error.msg.loan.disbursal.date.not.valid', 'The disbursement date must be between the approval date and today.', [
          date,
        ]),
      );
    }
    loan.statusId = 300;
    loan.disbursedOnDate = date as string;
    loan.schedule = buildFlatSchedule(loan.principal, loan.numberOfRepayments, loan.interestRatePerPeriod, date as string);
    subResourceId = 1 + bank.data.loans.reduce((m, l) => Math.max(m, ...l.transactions.map((t) => t.id)), 0);
    loan.transactions.push({
      id: subResourceId,
      typeId: 1,
      date: date as string,
      amount: loan.principal,
      principalPortion: loan.principal,
      interestPortion: 0,
      reversed: false,
    });
    Object.assign(changes, { status: { id: 300 }, actualDisbursementDate: cmd.raw('actualDisbursementDate') });
  } else {
    const cmd = new JsonCommand('loanapplication', body, REJECT_PARAMS);
    const date = cmd.date('rejectedOnDate', true);
    cmd.throwIfErrors();
    if (loan.statusId !== 100) {
      throw loanTransitionError(
        'error.msg.loan.reject.account.is.not.submitted.pending.approval.state',
        'Loan application cannot be rejected. Loan Account is not in Submitted and Pending approval state.',
      );
    }
    loan.statusId = 500;
    loan.rejectedOnDate = date as string;
    loan.closedOnDate = date as string;
    Object.assign(changes, { status: { id: 500 }, rejectedOnDate: cmd.raw('rejectedOnDate') });
  }
  bank.revision++;
  return { ...loanCommandResult(bank, loan), ...(subResourceId !== undefined ? { subResourceId } : {}), changes };
}

export const loanCommandRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/loans/{loanId}',
    command: (query) => LOAN_COMMANDS[query.get('command') ?? ''] ?? null,
    handler: ({ bank, params, body, query }) => {
      const kind = query.get('command') ?? '';
      if (!LOAN_COMMANDS[kind]) throw unknownCommand(query);
      return ok(loanTransition(bank, params.loanId as number, kind, body));
    },
  },
];
