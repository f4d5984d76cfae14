import { maskMsisdn } from '../logger.js';
import { toE164 } from '../text/phone.js';
import type { ClientCore } from './client-core.js';
import { FineractNotFound, OwnershipError } from './errors.js';
import { lookupQueries, uncappedFallbackQueries, type LookupQuery } from './phone-lookup.js';
import { id } from './request-values.js';
import type { CallOptions, Customer, CustomerAccounts, LoanAccount, LoanRepaymentInfo, SavingsAccount } from './types.js';
import {
  ACTIVE,
  ClientAccounts,
  ClientData,
  ClientIdentifierList,
  IDENTIFIER_ACTIVE,
  IdentifierSearchResults,
  LoanAccountData,
  LoanWithSchedule,
  SavingsAccountData,
  SearchResults,
  isListedLoan,
  isListedSavings,
  toLoanAccount,
  toLoanRepaymentInfo,
  toLoanSummary,
  toSavingsAccount,
  toSavingsSummary,
} from './wire.js';

/**
 * The Fineract client's reads of customers and what they own: a client found by number or identity document,
 * the accounts shown on channels, and an account or loan read only when it belongs to the customer.
 */

/** Fineract's `/search` returns at most this many rows per resource. */
const SEARCH_CAP = 50;

/** The products shown on channels (null: all), from the client's options. */
export interface ShownProducts {
  savings: Set<number> | null;
  loans: Set<number> | null;
}

/** The customer and account reads, on the client's shared core. */
export function createCustomerCalls(core: ClientCore, shown: ShownProducts) {
  const { get, log, country } = core;
  const savingsProducts = shown.savings;
  const loanProducts = shown.loans;

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

  async function getLoanRepaymentInfo(clientId: number, loanId: number, call?: CallOptions): Promise<LoanRepaymentInfo> {
    const loan = await get(LoanWithSchedule, `/loans/${id(loanId)}`, { associations: 'repaymentSchedule' }, {}, call);
    if (loan.clientId !== clientId) {
      log?.warn({ clientId, loanId }, 'loan does not belong to the customer');
      throw new OwnershipError();
    }
    return toLoanRepaymentInfo(loan);
  }

  async function hasIdentifier(clientId: number, documentKey: string, call?: CallOptions): Promise<boolean> {
    const norm = (key: string) => key.replace(/[\s-]/g, '').toUpperCase();
    const wanted = norm(documentKey);
    if (wanted === '') return false;
    const rows = await get(ClientIdentifierList, `/clients/${id(clientId)}/identifiers`, undefined, {}, call);
    // An inactive or invalid document (a lost passport, a replaced ID) proves nothing.
    return rows.some((r) => r.status === IDENTIFIER_ACTIVE && norm(r.documentKey) === wanted);
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

  return {
    getClient,
    findClientByPhone,
    listAccounts,
    getOwnedSavingsAccount,
    getOwnedLoan,
    getLoanRepaymentInfo,
    hasIdentifier,
    findClientByIdentifier,
  };
}

/** The customer and account reads (createCustomerCalls). */
export type CustomerCalls = ReturnType<typeof createCustomerCalls>;
