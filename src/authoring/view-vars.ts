/**
 * Every `{{variable}}` a prompt may use, with the longest text it can ever put on a screen once formatted.
 * `kiunga lint` renders each screen with every variable at this length, in every locale, and checks the
 * result against the USSD and SMS budgets. A prompt that uses a variable missing here is a lint error: the
 * code that fills the variable (an action in src/engine/registry*.ts) is where its longest value is known, so
 * whoever adds a variable there declares it here.
 *
 * `example` is a realistic worst case (spaces matter for paging: words are not split across pages); it is
 * padded or cut to `max`.
 */
export interface ViewVarSpec {
  max: number;
  example: string;
  description: string;
}

const amount = (description: string): ViewVarSpec => ({ max: 16, example: 'KES 1,000,000.00', description });

export const VIEW_VARS: Readonly<Record<string, ViewVarSpec>> = Object.freeze({
  name: { max: 20, example: 'Nyambura-Wairimu Kam', description: "customer's first name" },
  amount: amount('an amount with currency, formatted per locale (fr: "1 000 000,00 KES")'),
  account: { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'product name and account number' },
  date: { max: 10, example: '25/11/2026', description: 'a date (dd/mm/yyyy)' },
  sign: { max: 1, example: '-', description: '+ for credits, - for debits' },
  attemptsLeft: { max: 1, example: '9', description: 'PIN attempts left' },
  count: { max: 3, example: '999', description: 'i18next plural count' },
  // money journeys (registry-money.ts)
  counterparty: { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'recipient: masked name, account or loan' },
  phone: { max: 13, example: '+255711000009', description: 'a phone number, masked for display (0711***002)' },
  loan: { max: 12, example: '000000000101', description: 'loan account number' },
  ref: { max: 8, example: 'AB12CD34', description: 'transfer reference shown to customers' },
  transferId: { max: 10, example: '1234567890', description: 'Fineract transfer id' },
  // PIN lock notices (security/lock-notice.ts)
  minutes: { max: 5, example: '43200', description: 'minutes a PIN lock lasts' },
  time: { max: 5, example: '23:59', description: 'time of day a PIN lock ends (HH:mm, institution time zone)' },
  dueDate: { max: 10, example: '25/11/2026', description: 'next instalment due date' },
  min: amount('smallest amount allowed'),
  max: amount('largest amount allowed'),
  daily: amount('daily limit'),
  available: amount('available balance'),
  outstanding: amount('loan outstanding'),
  instalment: amount('next loan instalment'),
  sender: { max: 20, example: 'Nyambura-Wairimu K.', description: "sender's masked name (SMS receipt)" },
  reason: { max: 30, example: 'account not active at the bank', description: 'why a payment failed, translated (SMS receipt)' },
  // voice (src/channels/voice-render.ts): a menu option read out, "For {{option}}, press {{digit}}."
  option: { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'an option label read out on voice' },
  digit: { max: 3, example: '98#', description: 'the key of an option read out on voice' },
  // Fineract hook alerts (src/hooks): the balance after a deposit or withdrawal
  balance: amount('account balance after the transaction (SMS alert)'),
  fee: amount('a fee'),
  total: amount('amount plus fee'),
});

/** The worst-case text of a declared variable (exactly `max` characters), or undefined if undeclared. */
export function worstCase(name: string, vars: Readonly<Record<string, ViewVarSpec>> = VIEW_VARS): string | undefined {
  const spec = vars[name];
  if (!spec) return undefined;
  const padded = spec.example.length >= spec.max ? spec.example : spec.example + 'W'.repeat(spec.max - spec.example.length);
  return [...padded].slice(0, spec.max).join('');
}
