import type { HopContext } from '../session/hop-context.js';

/**
 * Kiunga's own view of Fineract data: only what channels show, already normalised (dates as ISO
 * `yyyy-mm-dd` strings, phone numbers as E.164). The raw Fineract wire shapes stay inside the client (`wire*.ts`, `client*.ts`).
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
  /** ISO `yyyy-mm-dd`, when Fineract has it (a PIN may not be the birth year). */
  birthDate?: string;
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
  /**
   * What is on hold, in the same major units: `savingsAmountOnHold` (the `holdAmount` holds not yet released) plus
   * `onHoldFunds` (guarantor holds); `availableBalance` is `accountBalance` less this.
   */
  amountOnHold: number;
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

/** One side of an account transfer: Fineract needs the office and client of both sides, not only the account. */
export interface TransferParty {
  clientId: number;
  officeId: number;
  accountId: number;
}

export interface TransferRequest {
  /** A savings account that must belong to `from.clientId` (checked before any money moves) and be active. */
  from: TransferParty;
  /** A savings account, or a loan (a repayment from the wallet). */
  to: TransferParty & { type: 'savings' | 'loan' };
  /** Decimal string in major units, e.g. `"500.00"`: positive, at most the currency's decimal places. */
  amount: string;
  /**
   * Stored with the transfer and on both savings legs; put a unique reference in it (reconciliation finds the
   * transfer by it). Sanitised to printable ASCII and cut to 200 characters.
   */
  description: string;
  /** Sent as `Idempotency-Key`: one fresh value per logical money movement, reused only to retry it. */
  idempotencyKey: string;
  /** Transfer date `yyyy-mm-dd`; default: the tenant's business date (`FineractClient.businessDate()`). */
  date?: string;
  /**
   * The caller read the source with `getOwnedSavingsAccount` (and a loan target with `getOwnedLoan` or
   * `getLoanRepaymentInfo`) when it fixed this movement, on the same ids: the ownership checks (threat T10)
   * are done, and the source is not read again (Fineract refuses an inactive or short source itself).
   * `sourceDecimalPlaces` is the currency's decimal places from that read. Absent: both are read first.
   */
  checked?: { sourceDecimalPlaces: number; loan: boolean };
}

export interface TransferResult {
  /**
   * The POST's `resourceId`: Fineract's transfer *detail* id (`m_account_transfer_details.id`), answered again by
   * an idempotent replay. Not the transfer *transaction* id (`m_account_transfer_transaction.id`, the legs'
   * `transfer.id`, what `findTransfer` returns): a separate sequence. Kept for operators, who map it with
   * `GET /accounttransfers?accountDetailId=`; customers see Kiunga's own reference (docs/fineract.md §6.2).
   */
  detailId: number;
  /** True when Fineract answered from its idempotency store (`x-served-from-cache`): nothing moved this time. */
  replayed: boolean;
}

/** A repayment from the customer's own savings account: a transfer to the loan. */
export interface LoanRepaymentRequest {
  from: TransferParty;
  /** Must belong to `from.clientId`. */
  loanId: number;
  amount: string;
  description: string;
  idempotencyKey: string;
  date?: string;
}

export interface LoanRepaymentInfo {
  loanId: number;
  currency: string;
  totalOutstanding: number;
  /** Due before today and still unpaid (0 when none). */
  totalOverdue: number;
  /** The earliest instalment not fully paid: its due date and what is still owed on it. */
  nextInstalment?: { dueDate: string; amount: number };
}

/**
 * What a call made while serving a hop carries (the last argument of the client's calls): `deadlineAt`, else
 * the deadline of `hop` (session/hop-context.ts), is the gateway's: a call that cannot start by then is not
 * sent, and a read in flight is aborted then. The lookup cache takes `hop`'s early reads (the cached customer
 * and accounts read with the session lock or the PIN check). Without either, a call waits at most the
 * gateway's `maxQueueMs`.
 */
export interface CallOptions {
  deadlineAt?: number;
  hop?: HopContext;
  /** `low`: the call's reads wait behind every other Fineract call of the process (threat T28). */
  priority?: 'low';
}

/** Typed calls to Fineract used by the flows. Every method rejects only with a `FineractError` (or `OwnershipError`). */
export interface FineractClient {
  /** Finds the active client whose stored mobileNo (in whatever format) is this E.164 number; null if none. */
  findClientByPhone(e164: string, call?: CallOptions): Promise<Customer | null>;
  getClient(clientId: number, call?: CallOptions): Promise<Customer>;
  /** Active plain savings accounts and loans of the client, restricted to the products shown on channels. */
  listAccounts(clientId: number, call?: CallOptions): Promise<CustomerAccounts>;
  /** A savings account, after checking it belongs to `clientId` (OwnershipError otherwise). */
  getOwnedSavingsAccount(clientId: number, accountId: number, options?: { transactions?: boolean } & CallOptions): Promise<SavingsAccount>;
  /** A loan, after checking it belongs to `clientId` (OwnershipError otherwise). */
  getOwnedLoan(clientId: number, loanId: number, call?: CallOptions): Promise<LoanAccount>;
  /**
   * Moves money once: checks the source belongs to `from.clientId` (OwnershipError) and is active, then posts
   * `POST /accounttransfers` with the idempotency key. Insufficient funds is a FineractRejected (see
   * `isInsufficientFunds`). A timeout (FineractUnavailable with `timedOut`) leaves the outcome uncertain:
   * retry with the same key (Fineract 1.9+) or look for it with `findTransfer` (any version).
   */
  transfer(request: TransferRequest, call?: CallOptions): Promise<TransferResult>;
  /** Pays a loan of `from.clientId` from their savings account (ownership of both checked). */
  repayLoan(request: LoanRepaymentRequest, call?: CallOptions): Promise<TransferResult>;
  /** Outstanding balance and next instalment from the repayment schedule, after the ownership check. */
  getLoanRepaymentInfo(clientId: number, loanId: number, call?: CallOptions): Promise<LoanRepaymentInfo>;
  /**
   * Reconciliation after an uncertain outcome: the transfer *transaction* id of the newest transfer out of
   * `fromAccountId` whose description is exactly `description` (sanitised the way `transfer` sanitises it), or null. Without `onOrAfter` only the
   * newest page of debits (`reconcileWindow`, default 100) is searched; with it (`yyyy-mm-dd`, the transfer's
   * date or earlier) every debit dated on or after it is, page by page, and a search cut off at the page limit
   * rejects with FineractUnavailable (still uncertain) instead of answering null.
   */
  findTransfer(
    query: { fromAccountId: number; description: string; onOrAfter?: string },
    call?: CallOptions,
  ): Promise<{ transactionId: number } | null>;
  /**
   * The tenant's business date `yyyy-mm-dd`, the latest transfer date Fineract accepts: `BUSINESS_DATE` when
   * Fineract's `enable_business_date` is on, else today in the tenant's time zone. Cached briefly; never rejects
   * (falls back to the last date read, then to today in the configured time zone).
   */
  businessDate(): Promise<string>;
  /**
   * Holds `amountCents` (minor units of the account's currency) on a savings account with
   * `POST /savingsaccounts/{id}/transactions?command=holdAmount` dated on the business date: the ledger balance
   * does not move, `availableBalance` drops, and Fineract refuses any withdrawal or transfer that would dip into
   * it. `reason` is stored as `reasonForBlock` (printable ASCII, at most 100 characters: name the approval in it).
   * A hold larger than the withdrawable balance is a FineractRejected for which `isInsufficientFunds` is true.
   * `holdId` is the hold's savings transaction id, the one `releaseAmount` takes. With `idempotencyKey`, a retry
   * with the same key (Fineract 1.9+) answers the first hold again; the key is unique per Fineract, not per
   * account, so derive it from something unique (the approval's id). A timeout (FineractUnavailable) leaves the
   * outcome uncertain: retry with the same key.
   */
  holdAmount(
    accountId: number,
    amountCents: number,
    reason: string,
    options?: { idempotencyKey?: string } & CallOptions,
  ): Promise<{ holdId: number }>;
  /**
   * Ends a hold with `POST /savingsaccounts/{id}/transactions/{holdId}?command=releaseAmount`. Resolves once the
   * hold is no longer held, including when it had been released before (Fineract's 400
   * `...amount.is.not.on.hold`): releasing is idempotent. The transaction is read first, because Fineract
   * "releases" any transaction id it is given: an id that is not a live hold of this account is a FineractRejected
   * `kiunga.hold.not.a.hold`, and an unknown id a FineractNotFound, and nothing is sent.
   */
  releaseAmount(accountId: number, holdId: number, options?: { idempotencyKey?: string } & CallOptions): Promise<void>;
  /**
   * After an uncertain `holdAmount` (a timeout, or Fineract 1.8 where a retried key holds again): the newest hold
   * of the account still held whose reason is exactly `reason` (sanitised as `holdAmount` sanitises it), or null.
   * Read from the primary. Use a reason unique to the request (the approval's reference), so that a hold found is
   * that request's, to release it or to keep it.
   */
  findHold(accountId: number, reason: string, call?: CallOptions): Promise<{ holdId: number } | null>;
  /**
   * Whether one of the client's active identifiers (`GET /clients/{id}/identifiers`: national ID, passport...) has
   * this document key, compared without spaces, dashes or case. An agent's cash-out with AGENT_CASHOUT_ID_CHECK
   * (threat T32): the ID typed must be this customer's, not merely a valid one.
   */
  hasIdentifier(clientId: number, documentKey: string, call?: CallOptions): Promise<boolean>;
  /**
   * The client, not closed, rejected or withdrawn, that holds an identity document with this key (any document
   * type, active or not), compared without spaces, dashes or case: `GET /search?resource=clientIdentifiers`. Keys
   * stored with separators inside are not found (Fineract's LIKE runs on the stored text). Null when none.
   */
  findClientByIdentifier(documentKey: string, call?: CallOptions): Promise<number | null>;
  /** Fineract's loan products (`GET /loanproducts`), every one: which a channel shows is the catalogue's decision. */
  listLoanProducts(call?: CallOptions): Promise<LoanProduct[]>;
  /** Fineract's plain savings products (`GET /savingsproducts`). */
  listSavingsProducts(call?: CallOptions): Promise<SavingsProduct[]>;
  /**
   * Creates a person client with `externalId` (`POST /clients`). A client with this external id already there (a
   * retry, a race) is not an error: its id is read back (`GET /clients?externalId=`) and `created` is false.
   */
  createClient(request: NewClient, call?: CallOptions): Promise<{ clientId: number; created: boolean }>;
  /**
   * Submits a loan application with `externalId` (`POST /loans`): it is then "Submitted and pending approval"
   * (status 100). Terms not in the request come from the product. A loan with this external id already there
   * is read back (`findLoanByExternalId`) instead, with `created` false: the same application never goes in twice.
   * The client must be active (403 `error.msg.client.not.active.exception` otherwise).
   */
  submitLoan(request: LoanSubmission, call?: CallOptions): Promise<{ loanId: number; created: boolean }>;
  /** The loan with exactly this external id (`GET /loans?externalId=`, read from the primary), or null. */
  findLoanByExternalId(externalId: string, call?: CallOptions): Promise<LoanStatus | null>;
  /** Fineract's own schedule for these terms (`POST /loans?command=calculateLoanSchedule`); nothing is stored. */
  calculateLoanSchedule(request: LoanTermsRequest, call?: CallOptions): Promise<LoanQuote>;
  /** A loan's status as Fineract has it now (read from the primary), for mirroring an application. */
  getLoanStatus(loanId: number, call?: CallOptions): Promise<LoanStatus>;
  /** The business date known right now, without waiting (refreshed in the background when stale). */
  businessDateNow(): string;
  /** Resolves when Fineract answers an authenticated request (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A range of a product's terms; `min`/`max` absent when Fineract has none (Gson omits nulls). */
export interface TermRange {
  min?: number;
  default: number;
  max?: number;
}

/** What a catalogue needs of a Fineract loan product (LoanProductData). Amounts in minor units. */
export interface LoanProduct {
  id: number;
  name: string;
  shortName: string;
  currency: string;
  decimalPlaces: number;
  principalCents: TermRange;
  numberOfRepayments: TermRange;
  repaymentEvery: number;
  /** PeriodFrequencyType id: 0 days, 1 weeks, 2 months, 3 years. */
  repaymentFrequencyTypeId: number;
  interestRatePerPeriod: number;
  /** PeriodFrequencyType id of the rate (2 = per month, 3 = per year). */
  interestRateFrequencyTypeId: number;
  annualInterestRate?: number;
  /** `loanProduct.active`, or absent when Fineract does not say. */
  active: boolean;
}

/** What a catalogue needs of a plain Fineract savings product (SavingsProductData). */
export interface SavingsProduct {
  id: number;
  name: string;
  shortName: string;
  currency: string;
  nominalAnnualInterestRate: number;
}

/** A person client to create in Fineract. */
export interface NewClient {
  /** Kiunga's profile id: unique in Fineract (m_client.external_id), at most 100 characters. */
  externalId: string;
  firstName: string;
  lastName: string;
  officeId: number;
  /** Active at once (activationDate = the business date) or pending (status 100). */
  active: boolean;
  /** E.164 or as the lender stores numbers; at most 50 characters. */
  mobileNo?: string;
  /** ISO `yyyy-mm-dd`. */
  dateOfBirth?: string;
}

/** A loan's terms as a customer chooses them; everything else comes from the product. */
export interface LoanTermsRequest {
  clientId: number;
  productId: number;
  /** Minor units of the product's currency. */
  principalCents: number;
  numberOfRepayments: number;
  /** ISO `yyyy-mm-dd`; default the business date. */
  expectedDisbursementDate?: string;
}

export interface LoanSubmission extends LoanTermsRequest {
  /** Kiunga's application id: unique in Fineract (m_loan.external_id), at most 100 characters. */
  externalId: string;
}

export interface LoanQuotePeriod {
  period: number;
  /** ISO `yyyy-mm-dd`. */
  dueDate: string;
  principalCents: number;
  interestCents: number;
  totalCents: number;
}

/** Fineract's calculated schedule, in minor units. */
export interface LoanQuote {
  currency: string;
  /** The first instalment (with flat interest the last one may differ by the rounding remainder). */
  instalmentCents: number;
  totalRepaymentCents: number;
  totalInterestCents: number;
  periods: LoanQuotePeriod[];
}

/** A loan's state in Fineract (LoanStatus ids: 100 submitted, 200 approved, 300 active, 500 rejected, ...). */
export interface LoanStatus {
  loanId: number;
  clientId?: number;
  externalId?: string;
  statusId: number;
  /** e.g. `loanStatusType.submitted.and.pending.approval`. */
  statusCode?: string;
  /** ISO dates from the loan's timeline, when reached. */
  approvedOnDate?: string;
  disbursedOnDate?: string;
  rejectedOnDate?: string;
}
