import { addDays } from './dates.js';
import { applyRepayment, buildFlatSchedule } from './loan-schedule.js';
import type {
  BankData,
  ClientIdentifierRecord,
  ClientRecord,
  LoanRecord,
  SavingsAccountRecord,
  SavingsStatusId,
  SavingsTxnTypeId,
} from './model.js';

/**
 * The demo data listed in README.md ("Demo data (built-in sandbox)"). Dates are relative to the sandbox's business
 * date so that statements look recent; amounts, ids and numbers are fixed so tests can refer to them.
 */

export const DEMO = {
  tenant: 'default',
  username: 'mifos',
  password: 'password',
  currency: 'KES',
  country: 'KE',
  officeId: 1,
  officeName: 'Head Office',
} as const;

/** The number that belongs to nobody (two stored numbers contain `711000009` as traps for substring matches). */
export const DEMO_UNKNOWN_MSISDN = '+254711000009';

export const DEMO_PRODUCTS = {
  savings: { akiba: 1, staff: 2, fixedDeposit: 3 },
  loans: { biashara: 1, assetFinance: 2 },
} as const;

export const DEMO_CLIENTS = {
  amina: { id: 1, displayName: 'Amina Wanjiru', mobileNo: '0711000001', msisdn: '+254711000001' },
  baraka: { id: 2, displayName: 'Baraka Otieno', mobileNo: '+254 711 000002', msisdn: '+254711000002' },
  chanya: { id: 3, displayName: 'Chanya Mwangi', mobileNo: '254711000003', msisdn: '+254711000003' },
  duma: { id: 4, displayName: 'Duma Traders Ltd', mobileNo: '0711000004', msisdn: '+254711000004' },
  /** Closed client (status 600) with a closed savings account: must not be found by phone. */
  esther: { id: 5, displayName: 'Esther Njeri', mobileNo: '0711000005', msisdn: '+254711000005' },
  /** Typo'd, invalid stored number that contains `711000009`: a substring trap. */
  faraji: { id: 6, displayName: 'Faraji Kamau', mobileNo: '07110000091', msisdn: null },
  /** Tanzanian number that also contains `711000009`. */
  gift: { id: 7, displayName: 'Gift Achieng', mobileNo: '+255711000009', msisdn: '+255711000009' },
} as const;

export const DEMO_SAVINGS = {
  amina: { id: 1, accountNo: '000000001', clientId: 1, productId: 1, balance: 12_500, available: 12_500 },
  /** Hidden product; 200.00 of its 800.00 is on hold. */
  aminaStaff: { id: 11, accountNo: '000000011', clientId: 1, productId: 2, balance: 800, available: 600 },
  baraka: { id: 2, accountNo: '000000002', clientId: 2, productId: 1, balance: 3_000, available: 3_000 },
  chanya: { id: 3, accountNo: '000000003', clientId: 3, productId: 1, balance: 100_000, available: 100_000 },
  /** Fixed deposit (depositType 200): never listed as a wallet. */
  chanyaFixed: { id: 13, accountNo: '000000013', clientId: 3, productId: 3, balance: 50_000, available: 50_000 },
  duma: { id: 4, accountNo: '000000004', clientId: 4, productId: 1, balance: 250_000, available: 250_000 },
  estherClosed: { id: 5, accountNo: '000000005', clientId: 5, productId: 1, balance: 0, available: 0 },
} as const;

/**
 * Identity documents of the demo customers (`GET /clients/{id}/identifiers`): an agent's cash-out with
 * AGENT_CASHOUT_ID_CHECK must be given one of the customer's active ones. Baraka's old passport is inactive.
 */
export const DEMO_IDENTIFIERS: Readonly<
  Record<number, readonly { documentType: 'National ID' | 'Passport'; documentKey: string; active: boolean }[]>
> = {
  1: [{ documentType: 'National ID', documentKey: '23456789', active: true }],
  2: [
    { documentType: 'National ID', documentKey: '34567890', active: true },
    { documentType: 'Passport', documentKey: 'A1234567', active: false },
  ],
  3: [{ documentType: 'National ID', documentKey: '12345678', active: true }],
};
const DOCUMENT_TYPE_IDS = { 'National ID': 21, Passport: 22 } as const;
function identifiersOf(clientId: number): ClientIdentifierRecord[] {
  return (DEMO_IDENTIFIERS[clientId] ?? []).map((d, i) => ({
    id: clientId * 10 + i + 1,
    documentTypeId: DOCUMENT_TYPE_IDS[d.documentType],
    documentType: d.documentType,
    documentKey: d.documentKey,
    status: d.active ? 200 : 100,
  }));
}

export const DEMO_LOANS = {
  amina: { id: 101, accountNo: '000000101', clientId: 1, productId: 1, totalOutstanding: 30_000, principalOutstanding: 24_000 },
  /** Fully repaid, status 600. */
  aminaClosed: { id: 102, accountNo: '000000102', clientId: 1, productId: 1, totalOutstanding: 0, principalOutstanding: 0 },
  /** Hidden product "Asset Finance". */
  duma: { id: 103, accountNo: '000000103', clientId: 4, productId: 2, totalOutstanding: 159_300, principalOutstanding: 135_000 },
} as const;

const cents = (major: number): number => Math.round(major * 100);
const accountNo = (id: number): string => String(id).padStart(9, '0');

type TxnSeed = [daysAgo: number, typeId: SavingsTxnTypeId, amount: number, reversed?: boolean];

/** Opening deposit first; balances are recomputed by the bank, and tests check them against DEMO_SAVINGS. */
const SAVINGS_HISTORY: Record<number, TxnSeed[]> = {
  1: [
    [80, 1, 5_000],
    [66, 1, 10_000],
    [52, 2, 2_000],
    [41, 1, 3_000, true],
    [33, 3, 30],
    [20, 2, 1_500],
    [20, 4, 30],
    [6, 1, 1_000],
  ],
  11: [[100, 1, 800]],
  2: [
    [60, 1, 2_000],
    [35, 1, 1_500],
    [12, 2, 500],
  ],
  3: [
    [90, 1, 120_000],
    [45, 2, 25_000],
    [15, 1, 4_000],
    [3, 1, 1_000],
  ],
  13: [[150, 1, 50_000]],
  4: [
    [120, 1, 200_000],
    [70, 1, 80_000],
    [30, 2, 30_000],
  ],
  5: [
    [400, 1, 1_000],
    [200, 2, 1_000],
  ],
};

/** Builds a fresh, independent copy of the demo data for one sandbox. */
export function createDemoData(businessDate: string): BankData {
  const ago = (days: number): string => addDays(businessDate, -days);
  let savingsTxnId = 0;
  let loanTxnId = 0;

  const person = (id: number, firstname: string, lastname: string, mobileNo: string, since: number, dateOfBirth: string): ClientRecord => ({
    id,
    accountNo: accountNo(id),
    legalFormId: 1,
    firstname,
    lastname,
    mobileNo,
    dateOfBirth,
    officeId: 1,
    statusId: 300,
    submittedOnDate: ago(since),
    activationDate: ago(since),
  });
  const clients: ClientRecord[] = [
    { ...person(1, 'Amina', 'Wanjiru', DEMO_CLIENTS.amina.mobileNo, 400, '1988-03-12'), identifiers: identifiersOf(1) },
    { ...person(2, 'Baraka', 'Otieno', DEMO_CLIENTS.baraka.mobileNo, 200, '1990-07-21'), identifiers: identifiersOf(2) },
    { ...person(3, 'Chanya', 'Mwangi', DEMO_CLIENTS.chanya.mobileNo, 300, '1979-11-02'), identifiers: identifiersOf(3) },
    {
      id: 4,
      accountNo: accountNo(4),
      legalFormId: 2,
      fullname: 'Duma Traders Ltd',
      mobileNo: DEMO_CLIENTS.duma.mobileNo,
      externalId: 'BRN-2019-004512',
      officeId: 1,
      statusId: 300,
      submittedOnDate: ago(365),
      activationDate: ago(365),
    },
    { ...person(5, 'Esther', 'Njeri', DEMO_CLIENTS.esther.mobileNo, 500, '1965-01-30'), statusId: 600, closedOnDate: ago(190) },
    person(6, 'Faraji', 'Kamau', DEMO_CLIENTS.faraji.mobileNo, 50, '2001-09-09'),
    person(7, 'Gift', 'Achieng', DEMO_CLIENTS.gift.mobileNo, 40, '1995-04-17'),
  ];

  const savingsAccounts: SavingsAccountRecord[] = Object.values(DEMO_SAVINGS).map((s) => {
    const history = SAVINGS_HISTORY[s.id] ?? [];
    const opened = ago(history[0]?.[0] ?? 0);
    const closed = s.id === DEMO_SAVINGS.estherClosed.id;
    const statusId: SavingsStatusId = closed ? 600 : 300;
    return {
      id: s.id,
      accountNo: s.accountNo,
      clientId: s.clientId,
      productId: s.productId,
      statusId,
      submittedOnDate: opened,
      activatedOnDate: opened,
      ...(closed ? { closedOnDate: ago(200) } : {}),
      onHoldFunds: 0,
      savingsAmountOnHold: cents(s.balance - s.available),
      transactions: history.map(([daysAgo, typeId, amount, reversed]) => ({
        id: ++savingsTxnId,
        typeId,
        date: ago(daysAgo),
        submittedOnDate: ago(daysAgo),
        amount: cents(amount),
        reversed: reversed ?? false,
        runningBalance: 0,
        ...(typeId === 1 || typeId === 2 ? { paymentTypeId: typeId === 1 ? 2 : 1 } : {}),
        ...(typeId === 1 ? { receiptNumber: `RKT${String(savingsTxnId * 7919).padStart(7, '0')}` } : {}),
      })),
    };
  });

  const loan = (
    id: number,
    clientId: number,
    productId: number,
    principal: number,
    repayments: number,
    rate: number,
    disbursedDaysAgo: number,
    paidPeriods: number,
  ): LoanRecord => {
    const disbursed = ago(disbursedDaysAgo);
    const record: LoanRecord = {
      id,
      accountNo: accountNo(id),
      clientId,
      productId,
      statusId: 300,
      principal: cents(principal),
      numberOfRepayments: repayments,
      repaymentEvery: 1,
      interestRatePerPeriod: rate,
      submittedOnDate: addDays(disbursed, -5),
      approvedOnDate: addDays(disbursed, -2),
      disbursedOnDate: disbursed,
      schedule: buildFlatSchedule(cents(principal), repayments, rate, disbursed),
      transactions: [
        {
          id: ++loanTxnId,
          typeId: 1,
          date: disbursed,
          amount: cents(principal),
          principalPortion: cents(principal),
          interestPortion: 0,
          reversed: false,
        },
      ],
    };
    for (const p of record.schedule.slice(0, paidPeriods)) {
      applyRepayment(record, p.principalDue + p.interestDue, p.dueDate, ++loanTxnId);
    }
    return record;
  };

  return {
    businessDate,
    currencies: [{ code: 'KES', name: 'Kenyan Shilling', decimalPlaces: 2, inMultiplesOf: 0, displaySymbol: 'KSh' }],
    offices: [{ id: 1, name: DEMO.officeName, openingDate: '2009-01-01', hierarchy: '.' }],
    clients,
    savingsProducts: [
      {
        id: 1,
        name: 'Akiba Savings',
        shortName: 'AKB',
        description: 'Everyday savings wallet',
        depositTypeId: 100,
        currencyCode: 'KES',
        nominalAnnualInterestRate: 3,
      },
      {
        id: 2,
        name: 'Staff Savings',
        shortName: 'STF',
        description: 'Staff welfare savings (not on channels)',
        depositTypeId: 100,
        currencyCode: 'KES',
        nominalAnnualInterestRate: 6,
      },
      {
        id: 3,
        name: 'Akiba Fixed Deposit',
        shortName: 'AFD',
        description: '12-month fixed deposit',
        depositTypeId: 200,
        currencyCode: 'KES',
        nominalAnnualInterestRate: 9,
      },
    ],
    loanProducts: [
      {
        id: 1,
        name: 'Biashara Loan',
        shortName: 'BIA',
        description: 'Working capital for small traders',
        currencyCode: 'KES',
        principal: cents(20_000),
        minPrincipal: cents(5_000),
        maxPrincipal: cents(50_000),
        numberOfRepayments: 6,
        minNumberOfRepayments: 3,
        maxNumberOfRepayments: 12,
        repaymentEvery: 1,
        interestRatePerPeriod: 2.5,
        startDate: '2020-01-01',
      },
      {
        id: 2,
        name: 'Asset Finance',
        shortName: 'ASF',
        description: 'Equipment and vehicle finance (branch only)',
        currencyCode: 'KES',
        principal: cents(200_000),
        minPrincipal: cents(50_000),
        maxPrincipal: cents(1_000_000),
        numberOfRepayments: 12,
        minNumberOfRepayments: 6,
        maxNumberOfRepayments: 24,
        repaymentEvery: 1,
        interestRatePerPeriod: 1.5,
        startDate: '2021-06-01',
      },
    ],
    savingsAccounts,
    loans: [loan(101, 1, 1, 30_000, 10, 2.5, 70, 2), loan(102, 1, 1, 5_000, 3, 2.5, 300, 3), loan(103, 4, 2, 180_000, 12, 1.5, 100, 3)],
    paymentTypes: [
      { id: 1, name: 'Cash', description: 'Cash at branch or agent', isCashPayment: true, position: 1 },
      { id: 2, name: 'Mobile Money', description: 'M-Pesa and other wallets', isCashPayment: false, position: 2 },
      { id: 3, name: 'USSD Channel', description: 'Kiunga self-service', isCashPayment: false, position: 3 },
    ],
    transfers: [],
    lastTransferDetailId: 0,
  };
}
