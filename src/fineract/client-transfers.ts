import { deadlineOf, type ClientCore } from './client-core.js';
import type { CustomerCalls } from './client-customers.js';
import { FineractNotFound, FineractRejected, FineractUnavailable, FineractUnexpectedShape } from './errors.js';
import { isServedFromCache, requestWithMeta } from './http.js';
import { MAKER_CHECKER_PENDING } from './rejection-codes.js';
import { decimalAmount, id, idempotencyKey, rejected, sanitizeDescription } from './request-values.js';
import type { CallOptions, LoanRepaymentRequest, TransferRequest, TransferResult } from './types.js';
import { CommandResult, SavingsTransactionList, SavingsTransactionPage, type TransferLeg } from './wire.js';

/**
 * The Fineract client's money movements: a transfer between accounts (a loan repayment is one), sent once with
 * its idempotency key, and the reconciliation that finds it again by its description.
 */

const NOT_ACTIVE = 'error.msg.savingsaccount.transaction.account.is.not.active';

/** The transfer calls, on the client's shared core; the source account and a loan target are read through `owned`. */
export function createTransferCalls(
  core: ClientCore,
  owned: Pick<CustomerCalls, 'getOwnedSavingsAccount' | 'getOwnedLoan'>,
  options: { reconcileWindow?: number; reconcileMaxPages?: number },
) {
  const { http, log, get, businessDate } = core;
  const { getOwnedSavingsAccount, getOwnedLoan } = owned;
  const reconcileWindow = Math.min(Math.max(options.reconcileWindow ?? 100, 1), 1000);
  const reconcileMaxPages = Math.min(Math.max(options.reconcileMaxPages ?? 50, 1), 1000);

  async function transfer(req: TransferRequest, loanChecked: boolean, call?: CallOptions): Promise<TransferResult> {
    const key = idempotencyKey(req.idempotencyKey);
    const description = sanitizeDescription(req.description);
    if (description === '')
      throw rejected('transfer description is empty', 'validation.msg.accounttransfer.transferDescription.cannot.be.blank');
    // Fineract refuses a date after its business date (400 error.msg.savingsaccount.transaction.in.the.future).
    const date = req.date ?? (await businessDate());
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw rejected('transfer date is not yyyy-mm-dd', 'validation.msg.invalid.date.format');
    // Fineract does not check that an account belongs to the client named with it (docs/fineract.md §6.1, T10):
    // checked here, unless the caller's own read when it fixed the movement already did.
    let decimalPlaces = req.checked?.sourceDecimalPlaces;
    if (decimalPlaces === undefined) {
      const source = await getOwnedSavingsAccount(req.from.clientId, req.from.accountId, call);
      if (!source.active) throw rejected('source account is not active', NOT_ACTIVE);
      decimalPlaces = source.decimalPlaces;
    }
    const transferAmount = decimalAmount(req.amount, decimalPlaces);
    if (req.to.type === 'loan' && !loanChecked && !req.checked?.loan) await getOwnedLoan(req.to.clientId, req.to.accountId, call);
    const body = {
      fromOfficeId: id(req.from.officeId),
      fromClientId: id(req.from.clientId),
      fromAccountType: 2,
      fromAccountId: id(req.from.accountId),
      toOfficeId: id(req.to.officeId),
      toClientId: id(req.to.clientId),
      toAccountType: req.to.type === 'loan' ? 1 : 2,
      toAccountId: id(req.to.accountId),
      transferDate: date,
      dateFormat: 'yyyy-MM-dd',
      locale: 'en',
      transferAmount,
      transferDescription: description,
    };
    const res = await requestWithMeta(http, 'POST', '/accounttransfers', { body, idempotencyKey: key, ...deadlineOf(call) });
    const parsed = CommandResult.safeParse(res.body);
    if (parsed.success && parsed.data.rollbackTransaction === true) {
      log?.warn({ fromAccountId: req.from.accountId, commandId: parsed.data.commandId }, 'transfer held for maker-checker approval');
      throw new FineractRejected(
        'Fineract holds POST /accounttransfers for maker-checker approval; nothing moved yet',
        res.status,
        MAKER_CHECKER_PENDING,
      );
    }
    if (!parsed.success || parsed.data.resourceId === undefined) {
      // The transfer may have happened: the caller treats this like a timeout and reconciles.
      throw new FineractUnavailable('Fineract answered POST /accounttransfers without a transfer id', res.status);
    }
    // The detail id is the POST's own answer (a replay answers the same one). The customer-facing reference is
    // Kiunga's, in the description; the transaction id on the legs is not read here (docs/fineract.md §6.2).
    const result = { detailId: parsed.data.resourceId, replayed: isServedFromCache(res) };
    log?.info({ fromAccountId: req.from.accountId, toType: req.to.type, ...result }, 'transfer posted');
    return result;
  }

  async function repayLoan(req: LoanRepaymentRequest, call?: CallOptions): Promise<TransferResult> {
    await getOwnedLoan(req.from.clientId, req.loanId, call);
    const { loanId, ...rest } = req;
    return transfer(
      { ...rest, to: { clientId: req.from.clientId, officeId: req.from.officeId, accountId: loanId, type: 'loan' } },
      true,
      call,
    );
  }

  /**
   * Reconciliation (docs/fineract.md): the source account's debits, newest first, each leg carrying
   * `transfer{id, transferDescription, reversed}`. Without `onOrAfter` only the newest page (`reconcileWindow`)
   * is read; with it, Fineract filters `transaction_date >= onOrAfter` and the pages are read back until that
   * date is passed. "Not found" is answered only when every debit since `onOrAfter` was seen: a search cut off by
   * `reconcileMaxPages` is uncertain (FineractUnavailable). Reads go to the primary (a replica may lag behind
   * the transfer). Fineract < 1.9 has no search (a container 404), and a search answer of another shape also falls
   * back to the account with all its transactions.
   */
  async function findTransfer(
    query: {
      fromAccountId: number;
      description: string;
      onOrAfter?: string;
    },
    call?: CallOptions,
  ): Promise<{ transactionId: number } | null> {
    const wanted = sanitizeDescription(query.description);
    if (wanted === '') return null;
    const accountId = id(query.fromAccountId);
    const since = query.onOrAfter;
    if (since !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(since))
      throw rejected('onOrAfter is not yyyy-mm-dd', 'validation.msg.invalid.date.format');
    const debit = (t: TransferLeg): boolean => (t.entryType ? t.entryType.toUpperCase() === 'DEBIT' : t.transactionType?.id !== 1);
    const match = (t: TransferLeg): boolean =>
      t.transfer?.transferDescription === wanted && t.transfer.reversed !== true && t.reversed !== true && debit(t);
    const done = (hit: TransferLeg | undefined, looked: number, pages: number): { transactionId: number } | null => {
      log?.info({ fromAccountId: accountId, found: hit !== undefined, looked, pages }, 'transfer reconciliation');
      return hit?.transfer ? { transactionId: hit.transfer.id } : null;
    };

    let looked = 0;
    try {
      const pages = since === undefined ? 1 : reconcileMaxPages;
      for (let page = 0; page < pages; page++) {
        const params: Record<string, string> = { limit: String(reconcileWindow), offset: String(page), debit: 'true' };
        if (since !== undefined) Object.assign(params, { fromDate: since, dateFormat: 'yyyy-MM-dd', locale: 'en' });
        const { total, items } = await get(
          SavingsTransactionPage,
          `/savingsaccounts/${accountId}/transactions/search`,
          params,
          { readFrom: 'primary' },
          call,
        );
        looked += items.length;
        const hit = items.find(match);
        if (hit) return done(hit, looked, page + 1);
        const oldest = items.at(-1)?.date;
        const exhausted =
          items.length < reconcileWindow ||
          (total !== undefined && (page + 1) * reconcileWindow >= total) ||
          (since !== undefined && oldest !== undefined && oldest < since);
        if (since === undefined || exhausted) return done(undefined, looked, page + 1);
      }
      log?.warn({ fromAccountId: accountId, looked, pages: reconcileMaxPages }, 'transfer reconciliation stopped at its page limit');
      throw new FineractUnavailable(
        `reconciliation read ${reconcileMaxPages} pages of account ${accountId} without reaching ${since}; outcome still uncertain`,
      );
    } catch (err) {
      const noSearch = err instanceof FineractNotFound && err.code === 'error.msg.resource.not.found';
      if (!noSearch && !(err instanceof FineractUnexpectedShape)) throw err;
    }
    const legs =
      (await get(SavingsTransactionList, `/savingsaccounts/${accountId}`, { associations: 'transactions' }, { readFrom: 'primary' }, call))
        .transactions ?? [];
    return done(legs.find(match), legs.length, 0);
  }

  return { transfer, repayLoan, findTransfer };
}
