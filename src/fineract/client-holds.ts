import { deadlineOf, type ClientCore } from './client-core.js';
import { FineractRejected, FineractUnavailable } from './errors.js';
import { isServedFromCache, requestWithMeta } from './http.js';
import { HOLD_NOT_ON_HOLD, MAKER_CHECKER_PENDING, NOT_A_HOLD } from './rejection-codes.js';
import { id, idempotencyKey, minorToDecimal, rejected, sanitizeDescription } from './request-values.js';
import type { CallOptions } from './types.js';
import { AMOUNT_HOLD, CommandResult, HoldList, HoldTransaction, SavingsAccountData, toSavingsAccount } from './wire.js';

/**
 * The Fineract client's holds on a savings account (docs/fineract.md §4.4): an amount held with its reason,
 * released only when it is a live hold of that account, and found again by its reason.
 */

/** `reasonForBlock` `.notExceedingLengthOf(100)` in the hold validator. */
const HOLD_REASON_MAX = 100;

/** The hold calls, on the client's shared core. */
export function createHoldCalls(core: ClientCore) {
  const { http, log, get, businessDate } = core;

  /** Maker-checker on a write: validated, rolled back, answered 200 with `rollbackTransaction` (docs/fineract.md §14). */
  function refuseIfHeldForApproval(body: unknown, status: number, what: string): CommandResult | undefined {
    const parsed = CommandResult.safeParse(body);
    if (parsed.success && parsed.data.rollbackTransaction === true) {
      log?.warn({ commandId: parsed.data.commandId }, `${what} held for maker-checker approval`);
      throw new FineractRejected(`Fineract holds ${what} for maker-checker approval; nothing happened yet`, status, MAKER_CHECKER_PENDING);
    }
    return parsed.success ? parsed.data : undefined;
  }

  async function holdAmount(
    accountId: number,
    amountCents: number,
    reason: string,
    opts: { idempotencyKey?: string } & CallOptions = {},
  ): Promise<{ holdId: number }> {
    const accountPath = `/savingsaccounts/${id(accountId)}`;
    if (!Number.isSafeInteger(amountCents) || amountCents <= 0) {
      throw rejected(
        'hold amount must be a positive whole number of minor units',
        'validation.msg.savingsaccount.transactionAmount.not.greater.than.zero',
      );
    }
    const reasonForBlock = sanitizeDescription(reason, HOLD_REASON_MAX);
    if (reasonForBlock === '') throw rejected('hold reason is empty', 'validation.msg.savingsaccount.reasonForBlock.cannot.be.blank');
    const key = opts.idempotencyKey !== undefined ? idempotencyKey(opts.idempotencyKey) : undefined;
    // The currency's decimal places turn minor units into the amount Fineract reads; an inactive account is
    // refused here with the code Fineract would give.
    const account = toSavingsAccount(await get(SavingsAccountData, accountPath, undefined, {}, opts), 0, false);
    if (!account.active) throw rejected('account is not active', 'validation.msg.savingsaccount.not.in.active.state');
    const transactionAmount = minorToDecimal(amountCents, account.decimalPlaces);
    // A hold dated before the account's last transaction is refused; the business date is never before it.
    const transactionDate = await businessDate();
    const body = { transactionDate, dateFormat: 'yyyy-MM-dd', locale: 'en', transactionAmount, reasonForBlock };
    const res = await requestWithMeta(http, 'POST', `${accountPath}/transactions`, {
      query: { command: 'holdAmount' },
      body,
      ...(key !== undefined ? { idempotencyKey: key } : {}),
      ...deadlineOf(opts),
    });
    const result = refuseIfHeldForApproval(res.body, res.status, 'a hold');
    if (result?.resourceId === undefined) {
      // The hold may exist: like a timeout, the caller retries with the same key.
      throw new FineractUnavailable('Fineract answered holdAmount without the hold transaction id', res.status);
    }
    log?.info({ accountId, holdId: result.resourceId, replayed: isServedFromCache(res) }, 'amount held');
    return { holdId: result.resourceId };
  }

  async function releaseAmount(accountId: number, holdId: number, opts: { idempotencyKey?: string } & CallOptions = {}): Promise<void> {
    const path = `/savingsaccounts/${id(accountId)}/transactions/${id(holdId)}`;
    const key = opts.idempotencyKey !== undefined ? idempotencyKey(opts.idempotencyKey) : undefined;
    // Fineract's release checks only that the transaction was not released before: given a deposit's id it
    // "releases" the deposit's amount and lowers the account's total on hold, freeing other holds' money. So the
    // transaction is read first (from the primary: the hold may be seconds old).
    const hold = await get(HoldTransaction, path, undefined, { readFrom: 'primary' }, opts);
    if (hold.transactionType.id !== AMOUNT_HOLD || hold.reversed === true) {
      log?.warn({ accountId, holdId, type: hold.transactionType.id }, 'release refused: the transaction is not a hold');
      throw new FineractRejected(`savings transaction ${holdId} is not a hold of account ${accountId}`, 400, NOT_A_HOLD);
    }
    if ((hold.releaseTransactionId ?? 0) > 0) {
      log?.info({ accountId, holdId, releaseId: hold.releaseTransactionId }, 'hold was released before');
      return;
    }
    try {
      const res = await requestWithMeta(http, 'POST', path, {
        query: { command: 'releaseAmount' },
        // Fineract ignores the body (a blank one is read as `{}`); JSON keeps the answer in its idempotency store.
        body: {},
        ...(key !== undefined ? { idempotencyKey: key } : {}),
        ...deadlineOf(opts),
      });
      const result = refuseIfHeldForApproval(res.body, res.status, 'a release');
      log?.info({ accountId, holdId, releaseId: result?.resourceId, replayed: isServedFromCache(res) }, 'hold released');
    } catch (err) {
      // Released between the read and the post (another process, an operator): the hold is gone all the same.
      if (err instanceof FineractRejected && err.code === HOLD_NOT_ON_HOLD) {
        log?.info({ accountId, holdId }, 'hold was released before');
        return;
      }
      throw err;
    }
  }

  async function findHold(accountId: number, reason: string, call?: CallOptions): Promise<{ holdId: number } | null> {
    const wanted = sanitizeDescription(reason, HOLD_REASON_MAX);
    if (wanted === '') return null;
    const rows =
      (await get(HoldList, `/savingsaccounts/${id(accountId)}`, { associations: 'transactions' }, { readFrom: 'primary' }, call))
        .transactions ?? [];
    // Newest first, as Fineract lists them; a released hold has lost its reason, so it never matches.
    const hit = rows.find(
      (t) =>
        t.transactionType.id === AMOUNT_HOLD && t.reversed !== true && (t.releaseTransactionId ?? 0) === 0 && t.reasonForBlock === wanted,
    );
    log?.info({ accountId, found: hit !== undefined, looked: rows.length }, 'hold reconciliation');
    return hit ? { holdId: hit.id } : null;
  }

  return { holdAmount, releaseAmount, findHold };
}
