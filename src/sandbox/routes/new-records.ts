import type { Bank } from '../bank.js';
import type { LoanRecord } from '../model.js';
import { fineractError, paramError } from '../serialize.js';

/*
 * What the origination routes need to create a record (its id, its account number, the 403 a UNIQUE column
 * raises) and the answer of a loan's command.
 */

/** The account number of a new record: its id, zero-padded to nine digits. */
export const accountNo = (id: number): string => String(id).padStart(9, '0');

/** The next id of a table: one more than the highest of its rows. */
export const nextId = (rows: readonly { id: number }[]): number => 1 + rows.reduce((m, r) => Math.max(m, r.id), 0);

/** PlatformDataIntegrityException → 403 ApiGlobalErrorResponse.dataIntegrityError. */
export function dataIntegrityBody(code: string, message: string, parameterName: string, value: string): Record<string, unknown> {
  return {
    ...fineractError(403, code, message, [paramError(code, message, parameterName, [value])]),
    developerMessage: 'The request caused a data integrity issue to be fired by the database.',
  };
}

/**
 * The CommandProcessingResult of a loan's command (submit, approve, disburse, reject): its office, client and
 * loan ids, and its external id when it has one (docs/fineract.md §5 and §11.2).
 */
export function loanCommandResult(bank: Bank, loan: LoanRecord): Record<string, unknown> {
  return {
    officeId: bank.client(loan.clientId)?.officeId,
    clientId: loan.clientId,
    loanId: loan.id,
    resourceId: loan.id,
    ...(loan.externalId !== undefined ? { resourceExternalId: loan.externalId } : {}),
  };
}
