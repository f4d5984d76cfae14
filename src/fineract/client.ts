import type { z } from 'zod';
import { maskMsisdn, type Logger } from '../logger.js';
import { FineractError, FineractNotFound, FineractUnavailable, OwnershipError } from './errors.js';
import { FineractHttp, type FineractRequester } from './http.js';
import { lookupQueries, toE164, uncappedFallbackQueries, type CountryCode, type LookupQuery } from './phone.js';
import type { Customer, CustomerAccounts, FineractClient, LoanAccount, SavingsAccount } from './types.js';
import {
  ACTIVE,
  ClientAccounts,
  ClientData,
  LoanAccountData,
  SavingsAccountData,
  SearchResults,
  isListedLoan,
  isListedSavings,
  toLoanAccount,
  toLoanSummary,
  toSavingsAccount,
  toSavingsSummary,
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
  logger?: Logger;
  /** Request layer to use instead of a direct connection (e.g. a rate-limited gateway); the client closes it. */
  http?: FineractRequester;
}

/** Fineract's `/search` returns at most this many rows per resource. */
const SEARCH_CAP = 50;

/** Typed Fineract calls for the flows. Every method rejects only with a FineractError or OwnershipError. */
export function createFineractClient(options: FineractClientOptions): FineractClient {
  const http: FineractRequester = options.http ?? new FineractHttp(options);
  const log = options.logger?.child({ component: 'fineract-client' });
  const country = options.defaultCountry;
  const savingsProducts = options.savingsProductIds?.length ? new Set(options.savingsProductIds) : null;
  const loanProducts = options.loanProductIds?.length ? new Set(options.loanProductIds) : null;

  /** GET + runtime shape check; a malformed answer is an unavailable Fineract, not a crash. */
  async function get<S extends z.ZodType>(schema: S, path: string, query?: Record<string, string | boolean>): Promise<z.infer<S>> {
    const raw = await http.request('GET', path, query ? { query } : {});
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const at = parsed.error.issues[0]?.path.join('.') || '(root)';
      throw new FineractUnavailable(`Fineract answered GET ${path} with an unexpected shape (at ${at})`);
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
    };
  }

  async function getClient(clientId: number): Promise<Customer> {
    return toCustomer(await get(ClientData, `/clients/${id(clientId)}`));
  }

  /** Runs one search; returns the confirmed customer, or null, and whether the answer hit the row cap. */
  async function tryQuery(q: LookupQuery, e164: string): Promise<{ customer: Customer | null; capped: boolean }> {
    const rows = await get(SearchResults, '/search', { query: q.query, resource: 'clients', exactMatch: q.exactMatch });
    const candidates = rows.filter(
      (r) =>
        (r.entityType ?? 'CLIENT') === 'CLIENT' &&
        (r.entityStatus?.id ?? ACTIVE) === ACTIVE &&
        r.entityMobileNo !== undefined &&
        toE164(r.entityMobileNo, country) === e164,
    );
    const ids = [...new Set(candidates.map((r) => r.entityId))];
    if (ids.length > 1) log?.warn({ msisdn: maskMsisdn(e164), clients: ids }, 'several active clients share one mobile number; using the first');
    for (const clientId of ids) {
      // Confirm on the client record itself: the search row may be stale or from another resource.
      const customer = await getClient(clientId).catch((err: unknown) => {
        if (err instanceof FineractNotFound) return null;
        throw err;
      });
      if (customer?.active && customer.msisdn === e164) return { customer, capped: false };
    }
    return { customer: null, capped: rows.length >= SEARCH_CAP };
  }

  async function findClientByPhone(e164: string): Promise<Customer | null> {
    if (toE164(e164, country) !== e164) return null; // not a valid E.164 number: nothing to search for
    const queries = lookupQueries(e164, country);
    let capped = false;
    for (const q of queries) {
      const result = await tryQuery(q, e164);
      if (result.customer) return result.customer;
      capped ||= result.capped;
    }
    if (capped) {
      // A substring search was cut at 50 rows; try the unformatted spellings exactly.
      for (const q of uncappedFallbackQueries(e164)) {
        const result = await tryQuery(q, e164);
        if (result.customer) return result.customer;
      }
    }
    log?.info({ msisdn: maskMsisdn(e164), searches: queries.length }, 'no active client with this mobile number');
    return null;
  }

  async function listAccounts(clientId: number): Promise<CustomerAccounts> {
    const accounts = await get(ClientAccounts, `/clients/${id(clientId)}/accounts`);
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
    opts: { transactions?: boolean } = {},
  ): Promise<SavingsAccount> {
    const withTransactions = opts.transactions === true;
    const account = await get(
      SavingsAccountData,
      `/savingsaccounts/${id(accountId)}`,
      withTransactions ? { associations: 'transactions' } : undefined,
    );
    if (account.clientId !== clientId) {
      log?.warn({ clientId, accountId }, 'savings account does not belong to the customer');
      throw new OwnershipError();
    }
    return toSavingsAccount(account, clientId, withTransactions);
  }

  async function getOwnedLoan(clientId: number, loanId: number): Promise<LoanAccount> {
    const loan = await get(LoanAccountData, `/loans/${id(loanId)}`);
    if (loan.clientId !== clientId) {
      log?.warn({ clientId, loanId }, 'loan does not belong to the customer');
      throw new OwnershipError();
    }
    return toLoanAccount(loan, clientId);
  }

  async function ping(): Promise<void> {
    await http.request('GET', '/offices/1', { query: { fields: 'id' } });
  }

  /** Every method rejects only with the taxonomy; anything else (a bug) becomes FineractUnavailable. */
  const guard =
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
    findClientByPhone: guard(findClientByPhone),
    getClient: guard(getClient),
    listAccounts: guard(listAccounts),
    getOwnedSavingsAccount: guard(getOwnedSavingsAccount),
    getOwnedLoan: guard(getOwnedLoan),
    ping: guard(ping),
    close: () => http.close(),
  };
}

/** Ids go into URL paths: only positive integers, so customer input can never reach a path (T18). */
function id(value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new FineractNotFound(`invalid Fineract id`, 'error.msg.resource.not.found');
  return value;
}
