import { fineractError, paramError } from '../serialize.js';

/*
 * What the origination routes need to create a record: its id, its account number, and the 403 a UNIQUE column
 * raises.
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
