/**
 * Kiunga's own view of Fineract data: only what channels show, already normalised (dates as ISO
 * `yyyy-mm-dd` strings, phone numbers as E.164). The raw Fineract wire shapes stay inside `client.ts`.
 */

/** A channel customer: a Fineract client found from the E.164 number the aggregator sent. */
export interface Customer {
  clientId: number;
  displayName: string;
  firstName?: string;
  lastName?: string;
  /** The caller's number in E.164 (the stored mobileNo, normalised). */
  msisdn: string;
  officeId: number;
  active: boolean;
}

export interface SavingsAccountSummary {
  id: number;
  accountNo: string;
  productId: number;
  productName: string;
  currency: string;
}

export interface LoanAccountSummary {
  id: number;
  accountNo: string;
  productId: number;
  productName: string;
  currency: string;
  /** Fineract loan status id (300 = active). */
  statusId: number;
  loanBalance?: number;
}

export interface SavingsTransaction {
  id: number;
  /** Value date, ISO `yyyy-mm-dd`. */
  date: string;
  /** Lower-case Fineract transaction type value, e.g. `deposit`, `withdrawal`. */
  type: string;
  /** True for money in (deposit, interest posting, ...). */
  credit: boolean;
  amount: number;
  runningBalance?: number;
}

export interface SavingsAccount extends SavingsAccountSummary {
  clientId: number;
  active: boolean;
  decimalPlaces: number;
  accountBalance: number;
  /** Fineract's `summary.availableBalance` (balance minus holds). */
  availableBalance: number;
  /** Newest first, reversed transactions removed; present only when asked for. */
  transactions?: SavingsTransaction[];
}

export interface LoanAccount extends LoanAccountSummary {
  clientId: number;
  totalOutstanding: number;
  principalOutstanding: number;
}

export interface CustomerAccounts {
  savings: SavingsAccountSummary[];
  loans: LoanAccountSummary[];
}

/** Typed calls to Fineract used by the flows. Every method rejects only with a `FineractError` (or `OwnershipError`). */
export interface FineractClient {
  /** Finds the active client whose stored mobileNo (in whatever format) is this E.164 number; null if none. */
  findClientByPhone(e164: string): Promise<Customer | null>;
  getClient(clientId: number): Promise<Customer>;
  /** Active plain savings accounts and loans of the client, restricted to the products shown on channels. */
  listAccounts(clientId: number): Promise<CustomerAccounts>;
  /** A savings account, after checking it belongs to `clientId` (OwnershipError otherwise). */
  getOwnedSavingsAccount(
    clientId: number,
    accountId: number,
    options?: { transactions?: boolean },
  ): Promise<SavingsAccount>;
  /** A loan, after checking it belongs to `clientId` (OwnershipError otherwise). */
  getOwnedLoan(clientId: number, loanId: number): Promise<LoanAccount>;
  /** Resolves when Fineract answers an authenticated request (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
