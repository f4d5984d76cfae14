import { displayName, type Bank } from '../bank.js';
import { JsonCommand } from '../json-command.js';
import {
  checkLoanRepayment,
  checkSavingsCredit,
  checkSavingsDebit,
  nextTransferDetailId,
  nextTransferId,
  postRepayment,
  postSavings,
} from '../ledger.js';
import type { PortfolioAccountTypeId, TransferRecord } from '../model.js';
import { HttpError, intParam, ok, type Route } from '../router.js';
import { currencyData, fineractError, localDate, money, notFoundBody, paramError, validationBody } from '../serialize.js';
import { requireClient } from './clients.js';
import { requireLoan } from './loans.js';
import { requireSavings } from './savings.js';

/**
 * Account transfers (docs/fineract.md): `POST /accounttransfers` for savings→savings and savings→loan (a
 * repayment from the wallet), `GET /accounttransfers/{id}` and `GET /accounttransfers`.
 *
 * As in Fineract, the POST's `resourceId` is the transfer *detail* id (AccountTransfersWritePlatformServiceImpl
 * `withEntityId(transferDetailId)`), while the `transfer.id` on both savings legs, `GET /accounttransfers/{id}`
 * and the list's `id` are the transfer *transaction* id (AccountTransfersReadPlatformServiceImpl `att.id`): two
 * sequences, equal in a fresh sandbox until `lastTransferDetailId` is moved.
 */

/** AccountTransfersDataValidator.REQUEST_DATA_PARAMETERS: nothing else, no externalId, no paymentTypeId. */
const TRANSFER_PARAMS = [
  'locale',
  'dateFormat',
  'fromOfficeId',
  'fromClientId',
  'fromAccountType',
  'fromAccountId',
  'toOfficeId',
  'toClientId',
  'toAccountType',
  'toAccountId',
  'transferDate',
  'transferAmount',
  'transferDescription',
] as const;

const ACCOUNT_TYPES = [1, 2] as const;

const accountTypeOption = (id: PortfolioAccountTypeId): Record<string, unknown> =>
  id === 1 ? { id: 1, code: 'accountType.loan', value: 'Loan Account' } : { id: 2, code: 'accountType.savings', value: 'Savings Account' };

function requireOffice(bank: Bank, id: number): void {
  if (!bank.office(id))
    throw new HttpError(404, notFoundBody('error.msg.office.id.invalid', `Office with identifier ${id} does not exist`, id));
}

/** AccountTransferData.instance (docs/fineract.md §6.2 field list). */
export function transferView(bank: Bank, t: TransferRecord): Record<string, unknown> {
  const office = (id: number): Record<string, unknown> => ({ id, name: bank.office(id)?.name });
  const client = (id: number): Record<string, unknown> => {
    const c = bank.client(id);
    return {
      id,
      displayName: c ? displayName(c) : undefined,
      officeId: c?.officeId,
      officeName: c ? bank.office(c.officeId)?.name : undefined,
    };
  };
  const account = (type: PortfolioAccountTypeId, id: number): Record<string, unknown> => {
    const a = type === 2 ? bank.savingsAccount(id) : bank.loan(id);
    return { id, accountNo: a?.accountNo };
  };
  return {
    id: t.id,
    reversed: t.reversed,
    currency: currencyData(bank.currency('KES')),
    transferAmount: money(t.amount),
    transferDate: localDate(t.date),
    transferDescription: t.description,
    fromOffice: office(t.fromOfficeId),
    fromClient: client(t.fromClientId),
    fromAccountType: accountTypeOption(t.fromAccountType),
    fromAccount: account(t.fromAccountType, t.fromAccountId),
    toOffice: office(t.toOfficeId),
    toClient: client(t.toClientId),
    toAccountType: accountTypeOption(t.toAccountType),
    toAccount: account(t.toAccountType, t.toAccountId),
  };
}

export const transferRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/accounttransfers',
    command: () => ({ action: 'CREATE', entity: 'ACCOUNTTRANSFER' }),
    handler: ({ bank, body, control }) => {
      const cmd = new JsonCommand('accounttransfer', body, TRANSFER_PARAMS);
      const fromOfficeId = cmd.positiveInt('fromOfficeId', true);
      const fromClientId = cmd.positiveInt('fromClientId', true);
      const fromAccountType = cmd.oneOf('fromAccountType', ACCOUNT_TYPES);
      const fromAccountId = cmd.positiveInt('fromAccountId', true);
      const toOfficeId = cmd.positiveInt('toOfficeId', true);
      const toClientId = cmd.positiveInt('toClientId', true);
      const toAccountType = cmd.oneOf('toAccountType', ACCOUNT_TYPES);
      const toAccountId = cmd.positiveInt('toAccountId', true);
      const date = cmd.date('transferDate', true);
      const amount = cmd.amount('transferAmount', true);
      const description = cmd.text('transferDescription', true, 200);
      cmd.throwIfErrors();
      const ids = {
        fromOfficeId,
        fromClientId,
        fromAccountType,
        fromAccountId,
        toOfficeId,
        toClientId,
        toAccountType,
        toAccountId,
      } as Pick<
        TransferRecord,
        | 'fromOfficeId'
        | 'fromClientId'
        | 'fromAccountType'
        | 'fromAccountId'
        | 'toOfficeId'
        | 'toClientId'
        | 'toAccountType'
        | 'toAccountId'
      >;
      const rawDate = String(cmd.raw('transferDate'));
      const on = date as string;
      const cents = amount as number;
      if (ids.fromAccountType !== 2) {
        // Loan→savings (refund of an overpaid loan) and loan→loan are not modelled by the sandbox.
        throw new HttpError(
          400,
          validationBody([
            paramError(
              'error.msg.sandbox.accounttransfer.direction.not.supported',
              'The sandbox supports savings to savings and savings to loan transfers only.',
              'fromAccountType',
              [],
              ids.fromAccountType,
            ),
          ]),
        );
      }

      // Every check of both legs first (Fineract's order), then the postings: both legs or neither.
      const from = requireSavings(bank, ids.fromAccountId);
      checkSavingsDebit(bank, from, on, rawDate, cents);
      const toSavings = ids.toAccountType === 2 ? requireSavings(bank, ids.toAccountId) : undefined;
      const toLoan = ids.toAccountType === 1 ? requireLoan(bank, ids.toAccountId) : undefined;
      if (toSavings) checkSavingsCredit(bank, toSavings, on, rawDate);
      if (toLoan) {
        if (control.loanLocked) {
          throw new HttpError(409, fineractError(409, 'error.msg.loan.locked', `Loan is locked by the COB job. Loan ID: ${toLoan.id}`));
        }
        checkLoanRepayment(bank, toLoan, on, rawDate);
      }
      const fromCurrency = bank.savingsProduct(from.productId)?.currencyCode;
      const toCurrency = toSavings
        ? bank.savingsProduct(toSavings.productId)?.currencyCode
        : bank.loanProduct((toLoan as { productId: number }).productId)?.currencyCode;
      if (fromCurrency !== toCurrency) {
        throw new HttpError(
          403,
          fineractError(
            403,
            'error.msg.accounttransfer.currency.mismatch',
            `Transfer from ${fromCurrency} to ${toCurrency} is not allowed.`,
          ),
        );
      }
      requireOffice(bank, ids.fromOfficeId);
      requireClient(bank, ids.fromClientId);
      requireOffice(bank, ids.toOfficeId);
      requireClient(bank, ids.toClientId);

      const id = nextTransferId(bank);
      const detailId = nextTransferDetailId(bank);
      const withdrawal = postSavings(bank, from, 2, on, cents, { transferId: id });
      const record: TransferRecord = {
        id,
        detailId,
        date: on,
        submittedOnDate: bank.businessDate,
        amount: cents,
        description: description as string,
        reversed: false,
        ...ids,
        fromSavingsTxnId: withdrawal.id,
      };
      if (toSavings) record.toSavingsTxnId = postSavings(bank, toSavings, 1, on, cents, { transferId: id }).id;
      if (toLoan) record.toLoanTxnId = postRepayment(bank, toLoan, on, cents).id;
      bank.data.transfers.push(record);
      bank.revision += 1;
      return ok({ savingsId: from.id, resourceId: detailId });
    },
  },
  {
    method: 'GET',
    pattern: '/accounttransfers/{transferId}',
    permission: 'READ_ACCOUNTTRANSFER',
    handler: ({ bank, params }) => {
      const id = params.transferId as number;
      const t = bank.data.transfers.find((x) => x.id === id);
      if (!t)
        throw new HttpError(
          404,
          notFoundBody('error.msg.accounttransfer.id.invalid', `Account transfer with identifier ${id} does not exist`, id),
        );
      return ok(transferView(bank, t));
    },
  },
  {
    // Paged, newest first. `accountDetailId` lists the transactions of one transfer detail (`att.account_transfer_details_id`),
    // which is how Kiunga maps a POST's `resourceId` to the transaction id. `fromAccountId`/`fromAccountType` filters
    // are a sandbox convenience: Fineract's list takes only externalId, offset, limit, orderBy, sortOrder and
    // accountDetailId, so Kiunga reconciles through the account's own transactions.
    method: 'GET',
    pattern: '/accounttransfers',
    permission: 'READ_ACCOUNTTRANSFER',
    handler: ({ bank, query }) => {
      const offset = intParam(query, 'offset', 0);
      const limit = intParam(query, 'limit', 200, 1, 1000);
      const fromAccountId = query.get('fromAccountId');
      const fromAccountType = query.get('fromAccountType');
      const accountDetailId = query.get('accountDetailId');
      const rows = [...bank.data.transfers]
        .filter((t) => accountDetailId === null || String(t.detailId) === accountDetailId)
        .filter((t) => fromAccountId === null || String(t.fromAccountId) === fromAccountId)
        .filter((t) => fromAccountType === null || String(t.fromAccountType) === fromAccountType)
        .sort((a, b) => b.id - a.id);
      return ok({ totalFilteredRecords: rows.length, pageItems: rows.slice(offset, offset + limit).map((t) => transferView(bank, t)) });
    },
  },
];
