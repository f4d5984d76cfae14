import { addDays } from './dates.js';
import type { BankData } from './model.js';

/**
 * Extra customers for load tests and benchmarks: client `10000 + i` with mobile number `0720` + i (six
 * digits, stored in national format), PIN `SYNTHETIC_PIN`, one Akiba Savings account of 100,000.00. Real
 * load comes from many customers, not many sessions of four.
 */
export const SYNTHETIC_FIRST_ID = 10_000;
export const SYNTHETIC_PIN = '4321';

/** E.164 number of synthetic customer `i` (0-based). */
export const syntheticMsisdn = (i: number) => `+254720${String(i).padStart(6, '0')}`;

export function addSyntheticCustomers(data: BankData, count: number): void {
  if (!Number.isInteger(count) || count < 0 || count > 100_000) throw new RangeError('synthetic customers: 0 to 100000');
  const opened = addDays(data.businessDate, -30);
  let txnId = Math.max(0, ...data.savingsAccounts.flatMap((a) => a.transactions.map((t) => t.id)));
  for (let i = 0; i < count; i++) {
    const id = SYNTHETIC_FIRST_ID + i;
    data.clients.push({
      id,
      accountNo: String(id).padStart(9, '0'),
      legalFormId: 1,
      firstname: `Mteja${i}`,
      lastname: 'Majaribio',
      mobileNo: `0720${String(i).padStart(6, '0')}`,
      officeId: 1,
      statusId: 300,
      submittedOnDate: opened,
      activationDate: opened,
    });
    data.savingsAccounts.push({
      id,
      accountNo: String(id).padStart(9, '0'),
      clientId: id,
      productId: 1,
      statusId: 300,
      submittedOnDate: opened,
      activatedOnDate: opened,
      onHoldFunds: 0,
      savingsAmountOnHold: 0,
      transactions: [
        {
          id: ++txnId,
          typeId: 1,
          date: opened,
          submittedOnDate: opened,
          amount: 100_000_00,
          reversed: false,
          runningBalance: 0,
          paymentTypeId: 2,
        },
      ],
    });
  }
}
