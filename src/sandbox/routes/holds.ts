import type { Bank } from '../bank.js';
import { JsonCommand } from '../json-command.js';
import { postSavings } from '../ledger.js';
import type { SavingsAccountRecord, SavingsTxnRecord } from '../model.js';
import { HttpError, ok, type CommandName, type Reply, type Route, type RouteContext } from '../router.js';
import { decimal6, domainRuleBody, validationBody, type ParamError } from '../serialize.js';
import { requireSavings } from './savings.js';

/**
 * Holds on savings (docs/fineract.md §4.4): `POST /savingsaccounts/{id}/transactions?command=holdAmount` and
 * `POST /savingsaccounts/{id}/transactions/{holdId}?command=releaseAmount`, as
 * SavingsAccountWritePlatformServiceJpaRepositoryImpl.holdAmount/releaseAmount and
 * SavingsAccountTransactionDataValidator.validateHoldAndAssembleForm/validateReleaseAmountAndAssembleForm run them,
 * down to the order of the checks and the two places where Fineract answers a 500 (a hold without an amount, a
 * release of a transaction the account does not have).
 *
 * A hold is an AMOUNT_HOLD transaction (type 20) plus `total_savings_amount_on_hold`; the ledger balance does not
 * move, `summary.availableBalance` drops, and withdrawals and transfers must leave the holds covered. A release is
 * an AMOUNT_RELEASE transaction (type 21) dated on the business date; the hold keeps its row and gets
 * `releaseTransactionId`.
 */

/** SavingsAccountTransactionDataValidator.SAVINGS_ACCOUNT_HOLD_AMOUNT_REQUEST_DATA_PARAMETERS. */
const HOLD_PARAMS = ['transactionDate', 'dateFormat', 'locale', 'transactionAmount', 'lienAllowed', 'reasonForBlock'] as const;

/** `reasonForBlock` `.notExceedingLengthOf(100)` (the column, `reason_for_block`, is VARCHAR(256)). */
export const REASON_FOR_BLOCK_MAX = 100;

/** SavingsApiConstants.SAVINGS_ACCOUNT_RESOURCE_NAME: the `{resource}` of every hold and release error code. */
const RESOURCE = 'savingsaccount';

/** Fineract's `is(commandParam, value)`: trimmed, case-insensitive. */
export const isCommand = (query: URLSearchParams, value: string): boolean =>
  query.get('command')?.trim().toLowerCase() === value.toLowerCase();

export const HOLD_COMMAND: CommandName = { action: 'HOLDAMOUNT', entity: 'SAVINGSACCOUNT' };
const RELEASE_COMMAND: CommandName = { action: 'RELEASEAMOUNT', entity: 'SAVINGSACCOUNT' };

/**
 * An ApiParameterError from DataValidatorBuilder's `failWithCode` (the code names the builder's parameter) or
 * `failWithCodeNoParameterAddedToErrorCode` (`parameter` undefined: it does not, and after `reset()` there is
 * none). Both call `parameterError(code, message, parameter, this.value, defaultUserMessageArgs)`, so the builder's
 * value and the whole argument array land in `args` as two entries (`[{}, {"value": [...]}]` when the value is
 * null), and the error's own `value` stays null.
 */
function failure(errorCode: string, parameter: string | undefined, value: unknown, messageArgs: unknown[]): ParamError {
  const message = `Failed data validation due to: ${errorCode}.`;
  return {
    developerMessage: message,
    defaultUserMessage: message,
    userMessageGlobalisationCode: `validation.msg.${RESOURCE}.${parameter !== undefined ? `${parameter}.` : ''}${errorCode}`,
    ...(parameter !== undefined ? { parameterName: parameter } : {}),
    args: [{ value: value ?? undefined }, { value: messageArgs }],
  };
}

/** `failWithCodeNoParameterAddedToErrorCode` after `.parameter(p)`: the parameter is named but not in the code. */
function failureNamed(errorCode: string, parameter: string, messageArgs: unknown[]): ParamError {
  return { ...failure(errorCode, undefined, null, messageArgs), parameterName: parameter };
}

/** `notNull()`/`notBlank()`: `parameterError(code, message, parameter, arrayIndex)`, so `args` is `[{}]`. */
function blank(parameter: string): ParamError {
  const message = `The parameter \`${parameter}\` is mandatory.`;
  return {
    developerMessage: message,
    defaultUserMessage: message,
    userMessageGlobalisationCode: `validation.msg.${RESOURCE}.${parameter}.cannot.be.blank`,
    parameterName: parameter,
    args: [{ value: undefined }],
  };
}

/** DefaultExceptionMapper: any other RuntimeException is a 500 `{"Exception": message}`. */
const npe = (message: string): HttpError => new HttpError(500, { Exception: message });

/** SavingsAccountWritePlatformServiceJpaRepositoryImpl.checkClientOrGroupActive: 403 ClientNotActiveException. */
function checkClientActive(bank: Bank, account: SavingsAccountRecord): void {
  const client = bank.client(account.clientId);
  if (client && client.statusId !== 300) {
    throw new HttpError(
      403,
      domainRuleBody('error.msg.client.not.active.exception', `The Client with id \`${client.id}\` is not active`, [client.id]),
    );
  }
}

/** `account.getWithdrawableBalance()`: balance − minimum balance (none in the sandbox's products) − both holds. */
const withdrawable = (bank: Bank, account: SavingsAccountRecord): number =>
  bank.balance(account) - account.onHoldFunds - account.savingsAmountOnHold;

/** `retrieveLastTransactionDate()`: the date of the last of all the account's transactions, reversed ones included. */
const lastTransactionDate = (account: SavingsAccountRecord): string | undefined =>
  account.transactions.reduce<string | undefined>((max, t) => (max === undefined || t.date > max ? t.date : max), undefined);

/** The `command=holdAmount` branch of `POST /savingsaccounts/{id}/transactions` (routes/money.ts dispatches to it). */
export function holdAmount({ bank, params, body }: RouteContext): Reply {
  // assembleFrom: an unknown account is a 404 before the body is read.
  const account = requireSavings(bank, params.accountId as number);
  // The sandbox refuses unsupported keys first; Fineract does it in the validator, after the date and amount
  // are parsed (docs/fineract.md §16).
  const cmd = new JsonCommand(RESOURCE, body, HOLD_PARAMS);
  const date = cmd.date('transactionDate', false);
  const lienAllowed = cmd.raw('lienAllowed') === true || cmd.raw('lienAllowed') === 'true';
  checkClientActive(bank, account);
  const amountGiven = cmd.has('transactionAmount');
  const amount = cmd.amount('transactionAmount', false); // undefined when absent or not above 0

  // validateHoldAndAssembleForm: every rule adds to one list, thrown at the end.
  const errors: ParamError[] = [];
  if (!amountGiven) errors.push(blank('transactionAmount'));
  errors.push(...cmd.errors.splice(0)); // positiveAmount
  const rawReason = cmd.raw('reasonForBlock');
  const reason = typeof rawReason === 'string' || typeof rawReason === 'number' ? String(rawReason) : undefined;
  if (reason === undefined || reason.trim() === '') {
    errors.push(blank('reasonForBlock'));
  } else if (reason.trim().length > REASON_FOR_BLOCK_MAX) {
    const message = `The parameter \`reasonForBlock\` exceeds max length of ${REASON_FOR_BLOCK_MAX}.`;
    errors.push({
      developerMessage: message,
      defaultUserMessage: message,
      userMessageGlobalisationCode: `validation.msg.${RESOURCE}.reasonForBlock.exceeds.max.length`,
      parameterName: 'reasonForBlock',
      args: [{ value: REASON_FOR_BLOCK_MAX }, { value: reason }],
    });
  }
  if (date === undefined) errors.push(blank('transactionDate'));
  if (account.statusId !== 300) errors.push(failureNamed('not.in.active.state', 'status', []));
  if (lienAllowed) {
    // No sandbox product allows a lien (`isLienAllowed()` false).
    errors.push(failure('lien.is.not.allowed.in.product.level', undefined, null, [account.id]));
  } else {
    // `amount.compareTo(account.getWithdrawableBalance())` with no amount: a NullPointerException, answered as a 500
    // whatever else was wrong.
    if (!amountGiven) {
      throw npe('Cannot invoke "java.math.BigDecimal.compareTo(java.math.BigDecimal)" because "amount" is null');
    }
    // A hold may not exceed what could be withdrawn (ClientSavingsIntegrationTest: 2000 on a 1000 balance).
    if (amount !== undefined && amount > withdrawable(bank, account)) {
      errors.push(failure('insufficient.balance', undefined, null, [account.id]));
    }
  }
  const last = lastTransactionDate(account);
  // DateUtils.isBefore(transactionDate, last): true for a missing date too.
  if (last !== undefined && (date === undefined || date < last)) {
    errors.push(
      failure('validation.msg.date.can.not.be.before.last.transaction.date', 'date', last, [
        'Amount can be put on hold only after last transaction',
      ]),
    );
  }
  if (errors.length > 0) throw new HttpError(400, validationBody(errors));

  // No "in the future" or "before activation" rule applies to a hold (only the pivot date, off by default).
  const hold = postSavings(bank, account, 20, date as string, amount as number, { reasonForBlock: reason as string, lien: false });
  account.savingsAmountOnHold += hold.amount;
  return ok(commandResult(bank, account, hold));
}

/** CommandProcessingResult `withEntityId(transaction id)`, office, client and savings ids (no group, no changes). */
function commandResult(bank: Bank, account: SavingsAccountRecord, txn: SavingsTxnRecord): Record<string, unknown> {
  return { officeId: bank.client(account.clientId)?.officeId, clientId: account.clientId, savingsId: account.id, resourceId: txn.id };
}

export const holdRoutes: Route[] = [
  {
    // The same path also takes undo, reverse and modify in Fineract; the sandbox answers only releaseAmount.
    // The body is ignored (a blank one is read as `{}`), so no key is refused.
    method: 'POST',
    pattern: '/savingsaccounts/{accountId}/transactions/{transactionId}',
    command: (query) => (isCommand(query, 'releaseAmount') ? RELEASE_COMMAND : null),
    handler: ({ bank, params }) => {
      // findOneByIdAndSavingsAccountId answers null for an unknown id (or an id of another account, or an unknown
      // account), and `holdTransaction.updateReason(null)` runs before the validator's null check.
      const account = bank.savingsAccount(params.accountId as number);
      const hold = account?.transactions.find((t) => t.id === params.transactionId);
      if (!account || !hold) {
        throw npe(
          'Cannot invoke "org.apache.fineract.portfolio.savings.domain.SavingsAccountTransaction.updateReason(String)" because "holdTransaction" is null',
        );
      }
      // validateReleaseAmountAndAssembleForm checks that the hold was not released already, not that the
      // transaction is a hold: any other transaction id of the account is "released" too (Kiunga reads the
      // transaction first and refuses that, docs/fineract.md §4.4).
      const errors: ParamError[] = [];
      if (hold.releaseId !== undefined) {
        errors.push(
          failure('validation.msg.amount.is.not.on.hold', 'amount', decimal6(hold.amount), ['Transaction amount is not on hold']),
        );
      }
      if (account.statusId !== 300) errors.push(failureNamed('not.in.active.state', 'status', []));
      if (errors.length > 0) throw new HttpError(400, validationBody(errors));
      checkClientActive(bank, account);

      const release = postSavings(bank, account, 21, bank.businessDate, hold.amount, hold.lien !== undefined ? { lien: hold.lien } : {});
      account.savingsAmountOnHold -= hold.amount;
      hold.releaseId = release.id;
      delete hold.reasonForBlock;
      return ok(commandResult(bank, account, release));
    },
  },
];
