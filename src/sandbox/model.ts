/**
 * The sandbox's internal records: what a Fineract database would hold, not what its API returns. Money is
 * held in integer minor units (cents) so that balances never drift; dates are ISO `yyyy-mm-dd` strings.
 * Wire shapes are built from these records in `routes/*` with the helpers in `serialize.ts`.
 */

/** Integer amount in minor units (KES cents). */
export type Cents = number;

export interface CurrencyRecord {
  code: string;
  name: string;
  decimalPlaces: number;
  inMultiplesOf: number;
  displaySymbol: string;
}

export interface OfficeRecord {
  id: number;
  name: string;
  openingDate: string;
  hierarchy: string;
}

/** Client status ids (ClientStatus.java): 100 pending, 300 active, 600 closed, 700 rejected, 800 withdrawn. */
export type ClientStatusId = 100 | 300 | 600 | 700 | 800;

export interface ClientRecord {
  id: number;
  accountNo: string;
  externalId?: string;
  /** Legal form 1 = person (firstname/lastname), 2 = entity (fullname). */
  legalFormId: 1 | 2;
  firstname?: string;
  lastname?: string;
  fullname?: string;
  /** Stored verbatim, as messy as real data: `0711000001`, `+254 711 000002`, `254711000003`. */
  mobileNo?: string;
  /** ISO `yyyy-mm-dd`; people only. Rendered as Fineract does, a Gson `[y, m, d]` array. */
  dateOfBirth?: string;
  officeId: number;
  statusId: ClientStatusId;
  submittedOnDate: string;
  activationDate?: string;
  closedOnDate?: string;
  /** Identity documents (`m_client_identifier`): status 200 active, 100 inactive. */
  identifiers?: ClientIdentifierRecord[];
}

export interface ClientIdentifierRecord {
  id: number;
  /** Code value of the "Customer Identifier" code. */
  documentTypeId: number;
  documentType: string;
  documentKey: string;
  status: 100 | 200;
  description?: string;
}

export interface SavingsProductRecord {
  id: number;
  name: string;
  shortName: string;
  description: string;
  /** 100 savings, 200 fixed deposit, 300 recurring deposit, 400 current. */
  depositTypeId: 100 | 200 | 300 | 400;
  currencyCode: string;
  nominalAnnualInterestRate: number;
}

export interface LoanProductRecord {
  id: number;
  name: string;
  shortName: string;
  description: string;
  currencyCode: string;
  principal: Cents;
  minPrincipal: Cents;
  maxPrincipal: Cents;
  numberOfRepayments: number;
  minNumberOfRepayments: number;
  maxNumberOfRepayments: number;
  repaymentEvery: number;
  /** Per month, flat. */
  interestRatePerPeriod: number;
  startDate: string;
}

/** Savings transaction type ids (SavingsAccountTransactionType.java) that the sandbox uses. */
export type SavingsTxnTypeId = 1 | 2 | 3 | 4 | 5 | 7 | 20 | 21;

export interface SavingsTxnRecord {
  id: number;
  typeId: SavingsTxnTypeId;
  /** Value date. */
  date: string;
  submittedOnDate: string;
  amount: Cents;
  reversed: boolean;
  /** Computed by the bank over non-reversed transactions in value-date order. */
  runningBalance: Cents;
  paymentTypeId?: number;
  receiptNumber?: string;
  note?: string;
  /** Set on both savings legs of an account transfer (rendered as the `transfer` object). */
  transferId?: number;
  /** On a hold (type 20): `release_id_of_hold_amount`, the id of the release that ended it. */
  releaseId?: number;
  /** On a hold (type 20) until it is released: `reason_for_block` (Fineract clears it on release). */
  reasonForBlock?: string;
  /** `is_lien_transaction`: false for every hold the sandbox accepts (its products allow no lien). */
  lien?: boolean;
}

/** Savings account status ids (SavingsAccountStatusType.java). */
export type SavingsStatusId = 100 | 200 | 300 | 400 | 500 | 600 | 700 | 800;

export interface SavingsAccountRecord {
  id: number;
  accountNo: string;
  clientId: number;
  productId: number;
  statusId: SavingsStatusId;
  submittedOnDate: string;
  activatedOnDate?: string;
  closedOnDate?: string;
  /** `on_hold_funds_derived`: guarantor holds (deposit-account holds), subtracted from availableBalance. */
  onHoldFunds: Cents;
  /** `total_savings_amount_on_hold`: the sum of `holdAmount` holds not yet released, subtracted from availableBalance. */
  savingsAmountOnHold: Cents;
  /** Oldest first (value date, then id). */
  transactions: SavingsTxnRecord[];
}

/** Loan status ids (LoanStatus.java). */
export type LoanStatusId = 100 | 200 | 300 | 400 | 500 | 600 | 601 | 602 | 700;

export interface InstallmentRecord {
  period: number;
  fromDate: string;
  dueDate: string;
  principalDue: Cents;
  interestDue: Cents;
  principalPaid: Cents;
  interestPaid: Cents;
  obligationsMetOnDate?: string;
}

/** Loan transaction type ids used here: 1 disbursement, 2 repayment. */
export interface LoanTxnRecord {
  id: number;
  typeId: 1 | 2;
  date: string;
  amount: Cents;
  principalPortion: Cents;
  interestPortion: Cents;
  reversed: boolean;
  externalId?: string;
}

export interface LoanRecord {
  id: number;
  accountNo: string;
  externalId?: string;
  clientId: number;
  productId: number;
  statusId: LoanStatusId;
  principal: Cents;
  numberOfRepayments: number;
  repaymentEvery: number;
  interestRatePerPeriod: number;
  submittedOnDate: string;
  /** Set by `POST /loans` (submission); the schedule of a loan not yet disbursed starts on it. */
  expectedDisbursementDate?: string;
  approvedOnDate?: string;
  disbursedOnDate?: string;
  rejectedOnDate?: string;
  closedOnDate?: string;
  schedule: InstallmentRecord[];
  transactions: LoanTxnRecord[];
  /** Paid beyond the schedule (status 700, overpaid). */
  overpaid?: Cents;
}

/** Portfolio account types of a transfer (PortfolioAccountType.java): 1 loan, 2 savings. */
export type PortfolioAccountTypeId = 1 | 2;

/**
 * One account transfer: an `m_account_transfer_transaction` row and the `m_account_transfer_details` row it belongs
 * to. Two tables, two id sequences, as in Fineract: `POST /accounttransfers` answers the detail id as
 * `resourceId`; the legs' `transfer.id` and `GET /accounttransfers/{id}` use the transaction id.
 */
export interface TransferRecord {
  /** m_account_transfer_transaction.id */
  id: number;
  /** m_account_transfer_details.id */
  detailId: number;
  date: string;
  submittedOnDate: string;
  amount: Cents;
  description: string;
  reversed: boolean;
  fromOfficeId: number;
  fromClientId: number;
  fromAccountType: PortfolioAccountTypeId;
  fromAccountId: number;
  toOfficeId: number;
  toClientId: number;
  toAccountType: PortfolioAccountTypeId;
  toAccountId: number;
  fromSavingsTxnId?: number;
  toSavingsTxnId?: number;
  toLoanTxnId?: number;
}

export interface PaymentTypeRecord {
  id: number;
  name: string;
  description: string;
  isCashPayment: boolean;
  position: number;
}

/** Everything one sandbox instance holds; `createDemoData()` builds a fresh one per sandbox. */
export interface BankData {
  businessDate: string;
  currencies: CurrencyRecord[];
  offices: OfficeRecord[];
  clients: ClientRecord[];
  savingsProducts: SavingsProductRecord[];
  loanProducts: LoanProductRecord[];
  savingsAccounts: SavingsAccountRecord[];
  loans: LoanRecord[];
  paymentTypes: PaymentTypeRecord[];
  /** Account transfers, oldest first. */
  transfers: TransferRecord[];
  /**
   * Last id the m_account_transfer_details sequence gave. It runs ahead of the transfer-transaction ids as soon
   * as a detail has no transaction or several (standing instructions); tests move it to make the two differ.
   */
  lastTransferDetailId: number;
}
