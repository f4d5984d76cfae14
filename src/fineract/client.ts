import type { z } from 'zod';
import { maskMsisdn, type Logger } from '../logger.js';
import { createBusinessDate, todayIn } from './business-date.js';
import {
  FineractError,
  FineractNotFound,
  FineractRejected,
  FineractUnavailable,
  FineractUnexpectedShape,
  OwnershipError,
} from './errors.js';
import { FineractHttp, isServedFromCache, requestWithMeta, type FineractRequester, type RequestOptions } from './http.js';
import { lookupQueries, uncappedFallbackQueries, type LookupQuery } from './phone-lookup.js';
import { toE164, type CountryCode } from '../text/phone.js';
import { DEFAULT_TIMEZONE } from '../constants.js';
import type {
  CallOptions,
  Customer,
  CustomerAccounts,
  FineractClient,
  LoanAccount,
  LoanRepaymentInfo,
  LoanProduct,
  LoanQuote,
  LoanRepaymentRequest,
  LoanStatus,
  LoanSubmission,
  LoanTermsRequest,
  NewClient,
  SavingsAccount,
  SavingsProduct,
  TermRange,
  TransferRequest,
  TransferResult,
} from './types.js';
import {
  ACTIVE,
  ClientAccounts,
  ClientData,
  ClientIdentifierList,
  ClientPage,
  CreatedResult,
  IdentifierSearchResults,
  LoanPage,
  LoanProductData,
  LoanProductList,
  LoanScheduleData,
  LoanStatusData,
  SavingsProductList,
  IDENTIFIER_ACTIVE,
  CommandResult,
  LoanAccountData,
  LoanWithSchedule,
  AMOUNT_HOLD,
  HoldList,
  HoldTransaction,
  SavingsAccountData,
  SavingsTransactionList,
  SavingsTransactionPage,
  SearchResults,
  isListedLoan,
  isListedSavings,
  toLoanAccount,
  toLoanRepaymentInfo,
  toLoanSummary,
  toSavingsAccount,
  toSavingsSummary,
  type TransferLeg,
} from './wire.js';

export interface FineractClientOptions {
  /** Base URL including the API path, e.g. `https://host:8443/fineract-provider/api/v1`. */
  baseUrl: string;
  tenant: string;
  username: string;
  password: string;
  /** Deadline of every call. */
  timeoutMs: number;
  /** Country for numbers stored without a country code (`0711000001`). */
  defaultCountry: CountryCode;
  /** Savings products shown on channels; undefined or empty = all. */
  savingsProductIds?: number[];
  /** Loan products shown on channels; undefined or empty = all. */
  loanProductIds?: number[];
  /**
   * The product catalogue's allow-lists (flows/catalogue.yaml): the products some channel shows. Exact, an empty
   * list shows none; when set, savingsProductIds and loanProductIds (the settings' fallback) are not used.
   */
  shownProducts?: { savings: readonly number[]; loans: readonly number[] };
  logger?: Logger;
  /** Request layer to use instead of a direct connection (e.g. a rate-limited gateway); the client closes it. */
  http?: FineractRequester;
  /**
   * A fixed source of the business date `yyyy-mm-dd` (tests); default: read from Fineract (`GET /businessdate`
   * when `enable_business_date` is on, else today in `timeZone`), cached `businessDateTtlMs`.
   */
  today?: () => string;
  /** The Fineract tenant's IANA time zone (`tenants.timezone_id`); default `DEFAULT_TIMEZONE` (Africa/Nairobi). */
  timeZone?: string;
  /** How long a business date read from Fineract is used (default 60,000 ms). */
  businessDateTtlMs?: number;
  /**
   * Page size of `findTransfer`'s search of the source account's debits (default 100, at most 1000). Without
   * `onOrAfter` it looks through this many newest debits only.
   */
  reconcileWindow?: number;
  /** With `onOrAfter`, `findTransfer` reads at most this many pages before it gives up as uncertain (default 50). */
  reconcileMaxPages?: number;
}

/** Fineract's `/search` returns at most this many rows per resource. */
const SEARCH_CAP = 50;

/** errors[0] code of a 403 insufficient-funds answer (`...balance.withdraw` when a withdrawal fee applies). */
export const INSUFFICIENT_FUNDS = 'error.msg.savingsaccount.transaction.insufficient.account.balance';
/** FineractRejected code when maker-checker holds a write for approval (HTTP 200, `rollbackTransaction: true`). */
export const MAKER_CHECKER_PENDING = 'kiunga.maker.checker.pending';
/** FineractRejected code of a write sent to a read-only Fineract instance (HTTP 405). */
export const INVALID_INSTANCE_TYPE = 'error.msg.invalid.instance.type';
const NOT_ACTIVE = 'error.msg.savingsaccount.transaction.account.is.not.active';
/** 403 data-integrity codes of a second create with the same external id (docs/fineract.md §5.3). */
export const CLIENT_DUPLICATE_EXTERNAL_ID = 'error.msg.client.duplicate.externalId';
export const LOAN_DUPLICATE_EXTERNAL_ID = 'error.msg.loan.duplicate.externalId';
/** 403 code of a new client whose mobileNo, as a string, another client has (m_client.mobile_no is unique). */
export const CLIENT_DUPLICATE_MOBILE_NO = 'error.msg.client.duplicate.mobileNo';
/** 403 code of a loan submitted for a client that is not active. */
export const CLIENT_NOT_ACTIVE = 'error.msg.client.not.active.exception';
const DESCRIPTION_MAX = 200;

/**
 * 400 `errors[0]` code of a hold larger than the withdrawable balance
 * (SavingsAccountTransactionDataValidator.validateHoldAndAssembleForm, docs/fineract.md §4.4).
 */
export const HOLD_INSUFFICIENT_BALANCE = 'validation.msg.savingsaccount.insufficient.balance';
/** 400 code of a release of a hold that was released before (validateReleaseAmountAndAssembleForm). */
export const HOLD_NOT_ON_HOLD = 'validation.msg.savingsaccount.amount.validation.msg.amount.is.not.on.hold';
/** Kiunga's code for a release of a transaction that is not a live hold of the account (nothing is sent). */
export const NOT_A_HOLD = 'kiunga.hold.not.a.hold';
/** `reasonForBlock` `.notExceedingLengthOf(100)` in the hold validator. */
const HOLD_REASON_MAX = 100;

/**
 * True for Fineract's insufficient-funds refusals: a withdrawal or transfer (403 `validation.msg.domain.rule.violation`)
 * or a hold beyond the withdrawable balance (400).
 */
// A plain boolean, not a type predicate: its false branch must not narrow a FineractRejected away.
export function isInsufficientFunds(err: unknown): boolean {
  return (
    err instanceof FineractRejected &&
    (err.code === INSUFFICIENT_FUNDS || err.code === `${INSUFFICIENT_FUNDS}.withdraw` || err.code === HOLD_INSUFFICIENT_BALANCE)
  );
}

/**
 * What Fineract stores as a transfer description (T18): accents folded, anything outside printable ASCII
 * dropped, whitespace collapsed, at most 200 characters. `findTransfer` compares against the same form.
 */
export function sanitizeDescription(text: string, max = DESCRIPTION_MAX): string {
  return text
    .normalize('NFKD')
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '')
    .replace(/ {2,}/g, ' ')
    .trim()
    .slice(0, max)
    .trimEnd();
}

export { todayIn };

/** Typed Fineract calls for the flows. Every method rejects only with a FineractError or OwnershipError. */
export function createFineractClient(options: FineractClientOptions): FineractClient {
  const http: FineractRequester = options.http ?? new FineractHttp(options);
  const log = options.logger?.child({ component: 'fineract-client' });
  const country = options.defaultCountry;
  const shown = options.shownProducts;
  const savingsProducts = shown ? new Set(shown.savings) : options.savingsProductIds?.length ? new Set(options.savingsProductIds) : null;
  const loanProducts = shown ? new Set(shown.loans) : options.loanProductIds?.length ? new Set(options.loanProductIds) : null;

  /** GET + runtime shape check; a malformed answer is an unavailable Fineract (FineractUnexpectedShape), not a crash. */
  async function get<S extends z.ZodType>(
    schema: S,
    path: string,
    query?: Record<string, string | boolean>,
    options: Pick<RequestOptions, 'readFrom'> = {},
    call?: CallOptions,
  ): Promise<z.infer<S>> {
    const raw = await http.request('GET', path, { ...(query ? { query } : {}), ...options, ...deadlineOf(call) });
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const at = parsed.error.issues[0]?.path.join('.') || '(root)';
      throw new FineractUnexpectedShape(`Fineract answered GET ${path} with an unexpected shape (at ${at})`);
    }
    return parsed.data;
  }

  function toCustomer(c: ClientData): Customer {
    const displayName = c.displayName ?? c.fullname ?? [c.firstname, c.lastname].filter(Boolean).join(' ');
    return {
      clientId: c.id,
      displayName,
      ...(c.firstname !== undefined ? { firstName: c.firstname } : {}),
      ...(c.lastname !== undefined ? { lastName: c.lastname } : {}),
      msisdn: (c.mobileNo !== undefined ? toE164(c.mobileNo, country) : null) ?? '',
      officeId: c.officeId,
      active: c.active ?? c.status?.id === ACTIVE,
      ...(c.dateOfBirth ? { birthDate: c.dateOfBirth } : {}),
    };
  }

  async function getClient(clientId: number, call?: CallOptions): Promise<Customer> {
    return toCustomer(await get(ClientData, `/clients/${id(clientId)}`, undefined, {}, call));
  }

  /** Runs one search; returns the confirmed customer, or null, and whether the answer hit the row cap. */
  async function tryQuery(q: LookupQuery, e164: string, call?: CallOptions): Promise<{ customer: Customer | null; capped: boolean }> {
    const rows = await get(SearchResults, '/search', { query: q.query, resource: 'clients', exactMatch: q.exactMatch }, {}, call);
    const candidates = rows.filter(
      (r) =>
        (r.entityType ?? 'CLIENT') === 'CLIENT' &&
        (r.entityStatus?.id ?? ACTIVE) === ACTIVE &&
        r.entityMobileNo !== undefined &&
        toE164(r.entityMobileNo, country) === e164,
    );
    const ids = [...new Set(candidates.map((r) => r.entityId))];
    if (ids.length > 1)
      log?.warn({ msisdn: maskMsisdn(e164), clients: ids }, 'several active clients share one mobile number; using the first');
    for (const clientId of ids) {
      // Confirm on the client record itself: the search row may be stale or from another resource.
      const customer = await getClient(clientId, call).catch((err: unknown) => {
        if (err instanceof FineractNotFound) return null;
        throw err;
      });
      if (customer?.active && customer.msisdn === e164) return { customer, capped: false };
    }
    return { customer: null, capped: rows.length >= SEARCH_CAP };
  }

  async function findClientByPhone(e164: string, call?: CallOptions): Promise<Customer | null> {
    if (toE164(e164, country) !== e164) return null; // not a valid E.164 number: nothing to search for
    const queries = lookupQueries(e164, country);
    let capped = false;
    for (const q of queries) {
      const result = await tryQuery(q, e164, call);
      if (result.customer) return result.customer;
      capped ||= result.capped;
    }
    if (capped) {
      // A substring search was cut at 50 rows; try the unformatted spellings exactly.
      for (const q of uncappedFallbackQueries(e164)) {
        const result = await tryQuery(q, e164, call);
        if (result.customer) return result.customer;
      }
    }
    log?.info({ msisdn: maskMsisdn(e164), searches: queries.length }, 'no active client with this mobile number');
    return null;
  }

  async function listAccounts(clientId: number, call?: CallOptions): Promise<CustomerAccounts> {
    const accounts = await get(ClientAccounts, `/clients/${id(clientId)}/accounts`, undefined, {}, call);
    return {
      savings: (accounts.savingsAccounts ?? [])
        .filter((a) => isListedSavings(a) && (!savingsProducts || savingsProducts.has(a.productId)))
        .map(toSavingsSummary),
      loans: (accounts.loanAccounts ?? [])
        .filter((l) => isListedLoan(l) && (!loanProducts || loanProducts.has(l.productId)))
        .map(toLoanSummary),
    };
  }

  async function getOwnedSavingsAccount(
    clientId: number,
    accountId: number,
    opts: { transactions?: boolean } & CallOptions = {},
  ): Promise<SavingsAccount> {
    const withTransactions = opts.transactions === true;
    const account = await get(
      SavingsAccountData,
      `/savingsaccounts/${id(accountId)}`,
      withTransactions ? { associations: 'transactions' } : undefined,
      {},
      opts,
    );
    if (account.clientId !== clientId) {
      log?.warn({ clientId, accountId }, 'savings account does not belong to the customer');
      throw new OwnershipError();
    }
    return toSavingsAccount(account, clientId, withTransactions);
  }

  async function getOwnedLoan(clientId: number, loanId: number, call?: CallOptions): Promise<LoanAccount> {
    const loan = await get(LoanAccountData, `/loans/${id(loanId)}`, undefined, {}, call);
    if (loan.clientId !== clientId) {
      log?.warn({ clientId, loanId }, 'loan does not belong to the customer');
      throw new OwnershipError();
    }
    return toLoanAccount(loan, clientId);
  }

  const fixedToday = options.today;
  const businessDates = fixedToday
    ? undefined
    : createBusinessDate({
        http,
        timeZone: options.timeZone ?? DEFAULT_TIMEZONE,
        ttlMs: options.businessDateTtlMs,
        logger: options.logger,
      });
  const businessDate = async (): Promise<string> => (fixedToday ? fixedToday() : businessDates!.get());
  const businessDateNow = (): string => (fixedToday ? fixedToday() : businessDates!.current());
  const reconcileWindow = Math.min(Math.max(options.reconcileWindow ?? 100, 1), 1000);
  const reconcileMaxPages = Math.min(Math.max(options.reconcileMaxPages ?? 50, 1), 1000);

  async function getLoanRepaymentInfo(clientId: number, loanId: number, call?: CallOptions): Promise<LoanRepaymentInfo> {
    const loan = await get(LoanWithSchedule, `/loans/${id(loanId)}`, { associations: 'repaymentSchedule' }, {}, call);
    if (loan.clientId !== clientId) {
      log?.warn({ clientId, loanId }, 'loan does not belong to the customer');
      throw new OwnershipError();
    }
    return toLoanRepaymentInfo(loan);
  }

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

  async function hasIdentifier(clientId: number, documentKey: string, call?: CallOptions): Promise<boolean> {
    const norm = (key: string) => key.replace(/[\s-]/g, '').toUpperCase();
    const wanted = norm(documentKey);
    if (wanted === '') return false;
    const rows = await get(ClientIdentifierList, `/clients/${id(clientId)}/identifiers`, undefined, {}, call);
    // An inactive or invalid document (a lost passport, a replaced ID) proves nothing.
    return rows.some((r) => r.status === IDENTIFIER_ACTIVE && norm(r.documentKey) === wanted);
  }

  // ---- origination (docs/fineract.md §5.3) -------------------------------------------------------------------

  const toMinor = (major: number, decimalPlaces: number): number => Math.round(major * 10 ** decimalPlaces);

  function toLoanProduct(p: LoanProductData): LoanProduct {
    const dp = p.currency.decimalPlaces ?? 2;
    const range = (min: number | undefined, def: number, max: number | undefined): TermRange => ({
      ...(min !== undefined ? { min } : {}),
      default: def,
      ...(max !== undefined ? { max } : {}),
    });
    const cents = (v: number | undefined): number | undefined => (v === undefined ? undefined : toMinor(v, dp));
    return {
      id: p.id,
      name: p.name,
      shortName: p.shortName ?? p.name,
      currency: p.currency.code,
      decimalPlaces: dp,
      principalCents: range(cents(p.minPrincipal), cents(p.principal) ?? 0, cents(p.maxPrincipal)),
      numberOfRepayments: range(p.minNumberOfRepayments, p.numberOfRepayments, p.maxNumberOfRepayments),
      repaymentEvery: p.repaymentEvery,
      repaymentFrequencyTypeId: p.repaymentFrequencyType.id,
      interestRatePerPeriod: p.interestRatePerPeriod ?? 0,
      interestRateFrequencyTypeId: p.interestRateFrequencyType?.id ?? p.repaymentFrequencyType.id,
      ...(p.annualInterestRate !== undefined ? { annualInterestRate: p.annualInterestRate } : {}),
      // LoanProductData.status is `loanProduct.active` or `loanProduct.inActive` (closeDate passed).
      active: p.status === undefined || p.status === 'loanProduct.active',
    };
  }

  async function listLoanProducts(call?: CallOptions): Promise<LoanProduct[]> {
    return (await get(LoanProductList, '/loanproducts', undefined, {}, call)).map(toLoanProduct);
  }

  async function listSavingsProducts(call?: CallOptions): Promise<SavingsProduct[]> {
    return (await get(SavingsProductList, '/savingsproducts', undefined, {}, call)).map((p) => ({
      id: p.id,
      name: p.name,
      shortName: p.shortName ?? p.name,
      currency: p.currency.code,
      nominalAnnualInterestRate: p.nominalAnnualInterestRate ?? 0,
    }));
  }

  /** External ids go into a body and a query: printable ASCII, 1 to 100 characters (m_client/m_loan.external_id). */
  function externalId(value: string): string {
    if (!/^[\x21-\x7e]{1,100}$/.test(value))
      throw rejected('external id must be 1-100 printable ASCII characters', 'kiunga.externalId.invalid');
    return value;
  }

  const isoDate = (value: string, what: string): string => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw rejected(`${what} is not yyyy-mm-dd`, 'validation.msg.invalid.date.format');
    return value;
  };

  /** A create's answer: the new id, or a maker-checker hold (FineractRejected), or unknown (FineractUnavailable). */
  function createdId(body: unknown, status: number, what: string, pick: (r: z.infer<typeof CreatedResult>) => number | undefined): number {
    const parsed = CreatedResult.safeParse(body);
    if (parsed.success && parsed.data.rollbackTransaction === true) {
      throw new FineractRejected(`Fineract holds ${what} for maker-checker approval; nothing happened yet`, status, MAKER_CHECKER_PENDING);
    }
    const created = parsed.success ? pick(parsed.data) : undefined;
    if (created === undefined) throw new FineractUnavailable(`Fineract answered ${what} without an id`, status);
    return created;
  }

  async function findClientIdByExternalId(ext: string, call?: CallOptions): Promise<number | null> {
    // `external_id like ?` in Fineract: `_` and `%` are wildcards there, so only an exact match counts.
    const page = await get(ClientPage, '/clients', { externalId: ext, limit: '10' }, { readFrom: 'primary' }, call);
    return page.pageItems.find((c) => c.externalId === ext)?.id ?? null;
  }

  async function createClient(req: NewClient, call?: CallOptions): Promise<{ clientId: number; created: boolean }> {
    const ext = externalId(req.externalId);
    const firstname = req.firstName.trim().slice(0, 50);
    const lastname = req.lastName.trim().slice(0, 50);
    if (firstname === '' || lastname === '')
      throw rejected('first and last names are required', 'validation.msg.client.firstname.cannot.be.blank');
    const today = await businessDate();
    const body = {
      officeId: id(req.officeId),
      legalFormId: 1,
      firstname,
      lastname,
      externalId: ext,
      active: req.active,
      ...(req.active ? { activationDate: today } : {}),
      submittedOnDate: today,
      ...(req.mobileNo !== undefined ? { mobileNo: req.mobileNo.slice(0, 50) } : {}),
      ...(req.dateOfBirth !== undefined ? { dateOfBirth: isoDate(req.dateOfBirth, 'dateOfBirth') } : {}),
      dateFormat: 'yyyy-MM-dd',
      locale: 'en',
    };
    try {
      const res = await requestWithMeta(http, 'POST', '/clients', { body, ...deadlineOf(call) });
      const clientId = createdId(res.body, res.status, 'POST /clients', (r) => r.clientId ?? r.resourceId);
      log?.info({ clientId, active: req.active }, 'client created');
      return { clientId, created: true };
    } catch (err) {
      if (!(err instanceof FineractRejected && err.code === CLIENT_DUPLICATE_EXTERNAL_ID)) throw err;
      const clientId = await findClientIdByExternalId(ext, call);
      if (clientId === null) throw new FineractUnavailable('Fineract reported a duplicate client external id but lists none');
      log?.info({ clientId }, 'client existed already with this external id');
      return { clientId, created: false };
    }
  }

  /** The body of `POST /loans` for these terms, the rest from the product (as Fineract's loan template would fill it). */
  async function loanBody(req: LoanTermsRequest, call?: CallOptions): Promise<Record<string, unknown>> {
    const product = await get(LoanProductData, `/loanproducts/${id(req.productId)}`, undefined, {}, call);
    const dp = product.currency.decimalPlaces ?? 2;
    if (!Number.isSafeInteger(req.principalCents) || req.principalCents <= 0) {
      throw rejected('principal must be a positive whole number of minor units', 'validation.msg.loan.principal.not.greater.than.zero');
    }
    if (!Number.isSafeInteger(req.numberOfRepayments) || req.numberOfRepayments <= 0) {
      throw rejected('numberOfRepayments must be a positive integer', 'validation.msg.loan.numberOfRepayments.not.greater.than.zero');
    }
    const today = await businessDate();
    const frequency = product.repaymentFrequencyType.id;
    return {
      clientId: id(req.clientId),
      productId: product.id,
      loanType: 'individual',
      principal: minorToDecimal(req.principalCents, dp),
      // The term must equal numberOfRepayments x repaymentEvery, in the same unit (LoanScheduleValidator).
      loanTermFrequency: req.numberOfRepayments * product.repaymentEvery,
      loanTermFrequencyType: frequency,
      numberOfRepayments: req.numberOfRepayments,
      repaymentEvery: product.repaymentEvery,
      repaymentFrequencyType: frequency,
      interestRatePerPeriod: product.interestRatePerPeriod ?? 0,
      amortizationType: product.amortizationType.id,
      interestType: product.interestType.id,
      interestCalculationPeriodType: product.interestCalculationPeriodType.id,
      transactionProcessingStrategyCode: product.transactionProcessingStrategyCode,
      expectedDisbursementDate: isoDate(req.expectedDisbursementDate ?? today, 'expectedDisbursementDate'),
      submittedOnDate: today,
      dateFormat: 'yyyy-MM-dd',
      locale: 'en',
    };
  }

  function toLoanStatus(l: LoanStatusData): LoanStatus {
    return {
      loanId: l.id,
      ...(l.clientId !== undefined ? { clientId: l.clientId } : {}),
      ...(l.externalId !== undefined ? { externalId: l.externalId } : {}),
      statusId: l.status.id,
      ...(l.status.code !== undefined ? { statusCode: l.status.code } : {}),
      ...(l.timeline?.approvedOnDate ? { approvedOnDate: l.timeline.approvedOnDate } : {}),
      ...(l.timeline?.actualDisbursementDate ? { disbursedOnDate: l.timeline.actualDisbursementDate } : {}),
      ...(l.timeline?.rejectedOnDate ? { rejectedOnDate: l.timeline.rejectedOnDate } : {}),
    };
  }

  async function findLoanByExternalId(ext: string, call?: CallOptions): Promise<LoanStatus | null> {
    const page = await get(LoanPage, '/loans', { externalId: externalId(ext), limit: '10' }, { readFrom: 'primary' }, call);
    const hit = page.pageItems.find((l) => l.externalId === ext);
    return hit ? toLoanStatus(hit) : null;
  }

  async function submitLoan(req: LoanSubmission, call?: CallOptions): Promise<{ loanId: number; created: boolean }> {
    const ext = externalId(req.externalId);
    const body = { ...(await loanBody(req, call)), externalId: ext };
    try {
      const res = await requestWithMeta(http, 'POST', '/loans', { body, ...deadlineOf(call) });
      const loanId = createdId(res.body, res.status, 'POST /loans', (r) => r.loanId ?? r.resourceId);
      log?.info({ loanId, clientId: req.clientId, productId: req.productId }, 'loan application submitted');
      return { loanId, created: true };
    } catch (err) {
      // Sent before (a retry after a timeout, a racing approval): m_loan.external_id is unique, read that loan.
      if (!(err instanceof FineractRejected && err.code === LOAN_DUPLICATE_EXTERNAL_ID)) throw err;
      const existing = await findLoanByExternalId(ext, call);
      if (existing === null) throw new FineractUnavailable('Fineract reported a duplicate loan external id but lists none');
      if (existing.clientId !== undefined && existing.clientId !== req.clientId) {
        log?.error({ loanId: existing.loanId, clientId: req.clientId }, 'a loan with this external id belongs to another client');
        throw new OwnershipError();
      }
      log?.info({ loanId: existing.loanId }, 'loan existed already with this external id');
      return { loanId: existing.loanId, created: false };
    }
  }

  async function calculateLoanSchedule(req: LoanTermsRequest, call?: CallOptions): Promise<LoanQuote> {
    const body = await loanBody(req, call);
    const raw = await http.request('POST', '/loans', { query: { command: 'calculateLoanSchedule' }, body, ...deadlineOf(call) });
    const parsed = LoanScheduleData.safeParse(raw);
    if (!parsed.success) throw new FineractUnexpectedShape('Fineract answered calculateLoanSchedule with an unexpected shape');
    const s = parsed.data;
    const dp = s.currency.decimalPlaces ?? 2;
    const periods = s.periods
      .filter((p) => p.period !== undefined)
      .map((p) => {
        const principalCents = toMinor(p.principalDue ?? 0, dp);
        const interestCents = toMinor(p.interestDue ?? 0, dp);
        return {
          period: p.period as number,
          dueDate: p.dueDate,
          principalCents,
          interestCents,
          totalCents: p.totalDueForPeriod !== undefined ? toMinor(p.totalDueForPeriod, dp) : principalCents + interestCents,
        };
      });
    const first = periods[0];
    if (!first) throw new FineractUnexpectedShape('Fineract calculated a schedule without instalments');
    return {
      currency: s.currency.code,
      instalmentCents: first.totalCents,
      totalRepaymentCents: toMinor(s.totalRepaymentExpected, dp),
      totalInterestCents:
        s.totalInterestCharged !== undefined ? toMinor(s.totalInterestCharged, dp) : periods.reduce((sum, p) => sum + p.interestCents, 0),
      periods,
    };
  }

  async function getLoanStatus(loanId: number, call?: CallOptions): Promise<LoanStatus> {
    return toLoanStatus(await get(LoanStatusData, `/loans/${id(loanId)}`, undefined, { readFrom: 'primary' }, call));
  }

  async function findClientByIdentifier(documentKey: string, call?: CallOptions): Promise<number | null> {
    const norm = (key: string) => key.replace(/[\s-]/g, '').toUpperCase();
    const wanted = norm(documentKey);
    // Letters and digits only: nothing of the customer's input can act as a LIKE wildcard (`%`, `_`).
    if (!/^[A-Z0-9]{1,50}$/.test(wanted)) return null;
    const rows = await get(
      IdentifierSearchResults,
      '/search',
      { query: wanted, resource: 'clientIdentifiers', exactMatch: false },
      {},
      call,
    );
    const CLOSED_OR_REFUSED = new Set([600, 700, 800]);
    const hit = rows.find(
      (r) =>
        r.entityType.toUpperCase() === 'CLIENTIDENTIFIER' &&
        r.parentId !== undefined &&
        norm(r.entityName ?? '') === wanted &&
        !CLOSED_OR_REFUSED.has(r.entityStatus?.id ?? 300),
    );
    log?.info({ found: hit !== undefined, looked: rows.length }, 'identifier search');
    return hit?.parentId ?? null;
  }

  async function getBusinessDate(): Promise<string> {
    return businessDate();
  }

  async function ping(): Promise<void> {
    await http.request('GET', '/offices/1', { query: { fields: 'id' } });
  }

  /** Every method rejects only with the taxonomy; anything else (a bug) becomes FineractUnavailable. */
  const taxonomyOnly =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        if (err instanceof FineractError || err instanceof OwnershipError) throw err;
        log?.error({ err }, 'unexpected error in Fineract client');
        throw new FineractUnavailable(`Fineract client failed unexpectedly (${err instanceof Error ? err.name : 'error'})`);
      }
    };

  return {
    findClientByPhone: taxonomyOnly(findClientByPhone),
    getClient: taxonomyOnly(getClient),
    listAccounts: taxonomyOnly(listAccounts),
    getOwnedSavingsAccount: taxonomyOnly(getOwnedSavingsAccount),
    getOwnedLoan: taxonomyOnly(getOwnedLoan),
    transfer: taxonomyOnly((req: TransferRequest, call?: CallOptions) => transfer(req, false, call)),
    repayLoan: taxonomyOnly(repayLoan),
    getLoanRepaymentInfo: taxonomyOnly(getLoanRepaymentInfo),
    findTransfer: taxonomyOnly(findTransfer),
    holdAmount: taxonomyOnly(holdAmount),
    releaseAmount: taxonomyOnly(releaseAmount),
    findHold: taxonomyOnly(findHold),
    hasIdentifier: taxonomyOnly(hasIdentifier),
    findClientByIdentifier: taxonomyOnly(findClientByIdentifier),
    listLoanProducts: taxonomyOnly(listLoanProducts),
    listSavingsProducts: taxonomyOnly(listSavingsProducts),
    createClient: taxonomyOnly(createClient),
    submitLoan: taxonomyOnly(submitLoan),
    findLoanByExternalId: taxonomyOnly(findLoanByExternalId),
    calculateLoanSchedule: taxonomyOnly(calculateLoanSchedule),
    getLoanStatus: taxonomyOnly(getLoanStatus),
    businessDate: taxonomyOnly(getBusinessDate),
    businessDateNow,
    ping: taxonomyOnly(ping),
    close: () => http.close(),
  };
}

/** The gateway's `deadlineAt` of a call: its own, else its hop's (`HopContext.deadline`). */
function deadlineOf(call: CallOptions | undefined): { deadlineAt?: number } {
  const deadlineAt = call?.deadlineAt ?? call?.hop?.deadline;
  return deadlineAt === undefined ? {} : { deadlineAt };
}

/** Ids go into URL paths: only positive integers, so customer input can never reach a path (T18). */
function id(value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new FineractNotFound(`invalid Fineract id`, 'error.msg.resource.not.found');
  return value;
}

const rejected = (message: string, code: string): FineractRejected => new FineractRejected(message, 400, code);

/** Header-safe key: printable ASCII without spaces, 1 to 50 characters (m_portfolio_command_source.idempotency_key is VARCHAR(50)). */
function idempotencyKey(key: string): string {
  if (!/^[\x21-\x7e]{1,50}$/.test(key))
    throw rejected('idempotency key must be 1-50 printable ASCII characters', 'kiunga.idempotency.key.invalid');
  return key;
}

/**
 * Minor units as the JSON number Fineract reads exactly: at most 13 integer digits, so the double prints back as
 * the same decimal.
 */
function minorToDecimal(minor: number, decimalPlaces: number): number {
  const scale = 10 ** decimalPlaces;
  if (Math.floor(minor / scale) >= 1e13) throw rejected('amount is too large', 'validation.msg.invalid.decimal.format');
  return minor / scale;
}

/**
 * A decimal string ("500", "500.5", "500.00") as the JSON number Fineract reads exactly: positive, no more
 * decimals than the currency has, at most 13 integer digits (so the double prints back as the same decimal).
 */
function decimalAmount(amount: string, decimalPlaces: number): number {
  const m = /^(\d{1,13})(?:\.(\d+))?$/.exec(amount.trim());
  if (!m || (m[2] ?? '').length > decimalPlaces) {
    throw rejected(`amount must be a decimal with at most ${decimalPlaces} decimal places`, 'validation.msg.invalid.decimal.format');
  }
  const value = Number(amount.trim());
  if (!(value > 0)) throw rejected('amount must be greater than 0', 'validation.msg.accounttransfer.transferAmount.not.greater.than.zero');
  return value;
}
