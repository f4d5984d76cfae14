/**
 * What the two baseline servers (minimal-server.ts, peer-server.ts) ask Fineract, written once so both make
 * exactly the same requests: `GET /savingsaccounts/{id}` for a balance and `POST /accounttransfers` for a
 * transfer, over one undici pool, to the sandbox Kiunga uses. Their screens say what Kiunga's say, so the
 * load generator checks every server's replies with the same patterns.
 */
import { Pool } from 'undici';

const fineractUrl = new URL(process.env.FINERACT_URL ?? 'http://127.0.0.1:8080/fineract-provider/api/v1');
const fineract = new Pool(fineractUrl.origin, { connections: 64 });
const headers = {
  authorization: `Basic ${Buffer.from('mifos:password').toString('base64')}`,
  'fineract-platform-tenantid': 'default',
  accept: 'application/json',
  'content-type': 'application/json',
};
const money = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** Synthetic sandbox customer i has the number +254720 + 6 digits (or 0720 + 6 digits) and savings account 10000 + i. */
export const accountOf = (msisdn: string) => 10_000 + Number(msisdn.slice(-6));

/** The balance line of `msisdn`'s savings account, as Kiunga words it. */
export async function balanceLine(msisdn: string): Promise<string> {
  const id = accountOf(msisdn);
  const { body, statusCode } = await fineract.request({ method: 'GET', path: `${fineractUrl.pathname}/savingsaccounts/${id}`, headers });
  const account = (await body.json()) as { accountNo: string; summary: { availableBalance: number } };
  if (statusCode !== 200) throw new Error(`Fineract answered ${statusCode}`);
  return `Akiba Savings ${account.accountNo}: KES ${money.format(account.summary.availableBalance)}`;
}

/** Moves `amount` from `from`'s savings account to `to`'s; true when Fineract accepted it. */
export async function transfer(from: string, to: string, amount: string, description: string): Promise<boolean> {
  const source = accountOf(from);
  const target = accountOf(to);
  const { body, statusCode } = await fineract.request({
    method: 'POST',
    path: `${fineractUrl.pathname}/accounttransfers`,
    headers,
    body: JSON.stringify({
      fromOfficeId: 1,
      fromClientId: source,
      fromAccountType: 2,
      fromAccountId: source,
      toOfficeId: 1,
      toClientId: target,
      toAccountType: 2,
      toAccountId: target,
      transferAmount: amount,
      transferDate: new Date().toISOString().slice(0, 10),
      dateFormat: 'yyyy-MM-dd',
      locale: 'en',
      transferDescription: description,
    }),
  });
  await body.text();
  return statusCode === 200;
}

export const formatAmount = (amount: string) => `KES ${money.format(Number(amount))}`;

/** The screens both baselines show (Kiunga's wording, so one set of checks fits all servers). */
export const SCREENS = {
  welcome: 'Welcome. Enter your PIN:',
  menu: 'Main menu\n1. Balance\n2. Mini statement\n3. Send money',
  recipient: "Enter the recipient's phone number:",
  amount: 'Amount:',
  confirm: (amount: string) => `Pay ${formatAmount(amount)}? Enter PIN to confirm:`,
  done: (amount: string) => `Done: ${formatAmount(amount)}.`,
  failed: 'Sorry, the transfer failed.',
};
