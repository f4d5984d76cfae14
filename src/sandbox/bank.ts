import { todayAt } from './dates.js';
import type {
  BankData,
  Cents,
  ClientIdentifierRecord,
  ClientRecord,
  CurrencyRecord,
  LoanProductRecord,
  LoanRecord,
  OfficeRecord,
  SavingsAccountRecord,
  SavingsProductRecord,
  SavingsTxnRecord,
} from './model.js';

/** The demo tenant's clock: Africa/Nairobi, UTC+3, no daylight saving. */
export const TENANT_UTC_OFFSET_MINUTES = 180;

/** Savings transaction types that add money (docs/fineract.md §4.2); every other sandbox type takes money out. */
export const SAVINGS_CREDIT_TYPES: ReadonlySet<number> = new Set([1, 3, 8, 21]);

/**
 * AMOUNT_HOLD (20) and AMOUNT_RELEASE (21): their entry types are DEBIT and CREDIT, but `isDebit()`/`isCredit()`
 * leave them out "because the account balance is not changed" (SavingsAccountTransactionType.java), so the
 * ledger balance and the withdrawal checks skip them. Only the running balance counts them
 * (SavingsAccount.recalculateDailyBalances: a hold subtracts, a release adds back).
 */
export const SAVINGS_HOLD_TYPES: ReadonlySet<number> = new Set([20, 21]);

/** Fineract's `/search` caps every resource's result at 50 rows. */
export const SEARCH_LIMIT = 50;

/**
 * The sandbox's store and the business queries over it. Routes read through this class only, so that later
 * capabilities (writes, transfers, idempotency) change one place. Holds one tenant's data.
 */
export class Bank {
  readonly data: BankData;
  /** Bumped by every posting; the command runner rolls back only when a failed write changed something. */
  revision = 0;

  constructor(data: BankData) {
    this.data = data;
    for (const account of data.savingsAccounts) this.recomputeRunningBalances(account);
  }

  /**
   * Fineract's global configuration `enable_business_date`. On (the sandbox's default), the business date is the
   * stored BUSINESS_DATE (`data.businessDate`), which moves only when told to; off (Fineract's default), it is
   * today in the tenant's time zone (the demo tenant: Africa/Nairobi, UTC+3), while `GET /businessdate` still
   * answers the stored row, as Fineract does.
   */
  businessDateEnabled = true;

  /** The date every write is checked against ("cannot be in the future"), as Fineract's request filter sets it. */
  get businessDate(): string {
    return this.businessDateEnabled ? this.data.businessDate : todayAt(TENANT_UTC_OFFSET_MINUTES);
  }

  currency(code: string): CurrencyRecord {
    const c = this.data.currencies.find((x) => x.code === code);
    if (!c) throw new Error(`unknown currency ${code}`);
    return c;
  }

  office(id: number): OfficeRecord | undefined {
    return this.data.offices.find((o) => o.id === id);
  }

  client(id: number): ClientRecord | undefined {
    return this.data.clients.find((c) => c.id === id);
  }

  clients(offset: number, limit: number, externalId: string | null = null): { total: number; page: ClientRecord[] } {
    // `c.external_id like ?` (ClientReadPlatformServiceImpl): `%` and `_` in the value stay wildcards.
    const like = externalId === null ? null : likeRegExp(externalId);
    const all = this.data.clients
      .filter((c) => like === null || (c.externalId !== undefined && like.test(c.externalId)))
      .sort((a, b) => a.id - b.id);
    return { total: all.length, page: all.slice(offset, offset + limit) };
  }

  /**
   * `/search?resource=clients`: SQL `LIKE` over account_no, display_name, external_id and mobile_no, wrapped
   * in `%...%` unless exactMatch; `%` and `_` in the query stay wildcards, as in Fineract. Case-insensitive
   * (MySQL/MariaDB default collation).
   */
  searchClients(query: string, exactMatch: boolean): ClientRecord[] {
    const re = likeRegExp(exactMatch ? query : `%${query}%`);
    return this.data.clients
      .filter((c) => [c.accountNo, displayName(c), c.externalId, c.mobileNo].some((v) => v !== undefined && re.test(v)))
      .sort((a, b) => a.id - b.id)
      .slice(0, SEARCH_LIMIT);
  }

  /**
   * `/search?resource=clientIdentifiers`: `ci.document_key like :search` over every client's identifiers, whatever
   * their status, newest identifier first (`order by ci.id desc`).
   */
  searchClientIdentifiers(query: string, exactMatch: boolean): { client: ClientRecord; identifier: ClientIdentifierRecord }[] {
    const re = likeRegExp(exactMatch ? query : `%${query}%`);
    return this.data.clients
      .flatMap((client) => (client.identifiers ?? []).map((identifier) => ({ client, identifier })))
      .filter((x) => re.test(x.identifier.documentKey))
      .sort((a, b) => b.identifier.id - a.identifier.id)
      .slice(0, SEARCH_LIMIT);
  }

  /** Loans and savings are matched by account number or external id. */
  searchSavings(query: string, exactMatch: boolean): SavingsAccountRecord[] {
    const re = likeRegExp(exactMatch ? query : `%${query}%`);
    return this.data.savingsAccounts.filter((a) => re.test(a.accountNo)).slice(0, SEARCH_LIMIT);
  }

  searchLoans(query: string, exactMatch: boolean): LoanRecord[] {
    const re = likeRegExp(exactMatch ? query : `%${query}%`);
    return this.data.loans
      .filter((l) => re.test(l.accountNo) || (l.externalId !== undefined && re.test(l.externalId)))
      .slice(0, SEARCH_LIMIT);
  }

  savingsProduct(id: number): SavingsProductRecord | undefined {
    return this.data.savingsProducts.find((p) => p.id === id);
  }

  loanProduct(id: number): LoanProductRecord | undefined {
    return this.data.loanProducts.find((p) => p.id === id);
  }

  savingsAccount(id: number): SavingsAccountRecord | undefined {
    return this.data.savingsAccounts.find((a) => a.id === id);
  }

  savingsAccountsOf(clientId: number): SavingsAccountRecord[] {
    return this.data.savingsAccounts.filter((a) => a.clientId === clientId).sort((a, b) => a.id - b.id);
  }

  loan(id: number): LoanRecord | undefined {
    return this.data.loans.find((l) => l.id === id);
  }

  loansOf(clientId: number): LoanRecord[] {
    return this.data.loans.filter((l) => l.clientId === clientId).sort((a, b) => a.id - b.id);
  }

  /** Ledger balance over non-reversed transactions; holds and releases leave it unchanged. */
  balance(account: SavingsAccountRecord): Cents {
    return account.transactions.reduce((sum, t) => (t.reversed || SAVINGS_HOLD_TYPES.has(t.typeId) ? sum : sum + signed(t)), 0);
  }

  /** Fineract's availableBalance: accountBalance − onHoldFunds − savingsAmountOnHold. */
  availableBalance(account: SavingsAccountRecord): Cents {
    return this.balance(account) - account.onHoldFunds - account.savingsAmountOnHold;
  }

  /** Newest first: value date DESC, then id DESC (retrieveAllTransactions' order). */
  transactionsNewestFirst(account: SavingsAccountRecord): SavingsTxnRecord[] {
    return [...account.transactions].sort((a, b) => (a.date === b.date ? b.id - a.id : a.date < b.date ? 1 : -1));
  }

  /**
   * Keeps runningBalance consistent; a reversed row carries the balance as it stood without it. Holds subtract and
   * releases add back, as Fineract's recalculateDailyBalances does, so a row after an open hold shows the ledger
   * balance less that hold.
   */
  recomputeRunningBalances(account: SavingsAccountRecord): void {
    account.transactions.sort((a, b) => (a.date === b.date ? a.id - b.id : a.date < b.date ? -1 : 1));
    let running = 0;
    for (const t of account.transactions) {
      if (!t.reversed) running += signed(t);
      t.runningBalance = running;
    }
  }
}

export function displayName(c: ClientRecord): string {
  return c.legalFormId === 2 ? (c.fullname ?? '') : [c.firstname, c.lastname].filter(Boolean).join(' ');
}

const signed = (t: SavingsTxnRecord): Cents => (SAVINGS_CREDIT_TYPES.has(t.typeId) ? t.amount : -t.amount);

/** Compiles a SQL LIKE pattern (`%` any run, `_` one character, no escape character) to a RegExp. */
export function likeRegExp(pattern: string): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '%') source += '[\\s\\S]*';
    else if (ch === '_') source += '[\\s\\S]';
    else source += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'iu');
}
