import { z } from 'zod';

/**
 * Manifests: what each named action, guard and actor declares next to its implementation, so that the
 * loader, `kiunga lint`, `kiunga schema` and docs/flows.md read one source instead of lists kept in sync by
 * hand. A manifest is plain data: reading it builds no client and calls nothing.
 */

/** A `{{variable}}` a text may use, with the longest value it can take once formatted. */
export interface ViewVarSpec {
  /** Longest formatted value, in characters. */
  max: number;
  /** A realistic worst case (spaces matter for paging: words are not split); padded or cut to `max`. */
  example: string;
  description: string;
}

export interface Manifest {
  /** One line for docs/flows.md and editor hover. */
  description: string;
  /** The `params` it takes in a flow file (a strict zod object); none when absent. */
  params?: z.ZodObject;
  /** Context flags it sets (`context.data.<flag>`), which options test with `if:`. */
  flags?: Readonly<Record<string, string>>;
  /** View variables it sets, each with its longest value (texts use them as `{{name}}`). */
  views?: Readonly<Record<string, ViewVarSpec>>;
  /** View lists it sets, for `meta.list.items` and `meta.choose.items`, with the variables of each row. */
  lists?: Readonly<Record<string, { description: string; row: Readonly<Record<string, ViewVarSpec>> }>>;
  /** Locale keys it uses itself (beyond what flows name). */
  keys?: readonly string[];
  /** Error codes an actor rejects with (besides `unavailable`, `forbidden`, `not-found`, `rejected`). */
  errors?: readonly string[];
  /**
   * One-time codes (step-up, threat T31). `asks`: the actor may send a code and reject with `code-required`;
   * the flow must then branch on it to a prompt taking `input: code` that leads into an actor that `checks`.
   * `checks`: the actor checks the code typed (the only kind of actor a code prompt may lead into).
   */
  code?: 'asks' | 'checks';
}

/** The manifests of one part of the registry. */
export interface ManifestSet {
  actions: Readonly<Record<string, Manifest>>;
  guards: Readonly<Record<string, Manifest>>;
  actors: Readonly<Record<string, Manifest>>;
}

/** An amount with currency, formatted per locale (fr: "1 000 000,00 KES"). */
export const amountVar = (description: string): ViewVarSpec => ({ max: 16, example: 'KES 1,000,000.00', description });
/** Product name and account number. */
export const accountVar: ViewVarSpec = {
  max: 30,
  example: 'Akiba Savings Plus 000000000001',
  description: 'product name and account number',
};
export const dateVar = (description: string): ViewVarSpec => ({ max: 10, example: '25/11/2026', description });

/**
 * Texts the server sends outside the named actions: the engine's own screens, the channels and the SMS it
 * sends by itself. Each entry names the module that uses them.
 */
export const SERVER_TEXTS = {
  engine: {
    description: 'the turn runner and USSD presenter: navigation, invalid input, polite ends (src/engine, src/channels/ussd-screen.ts)',
    keys: [
      'nav.more',
      'nav.back',
      'error.invalidChoice',
      'error.invalidInput',
      'error.unavailable',
      'error.unconfirmed',
      'error.generic',
      'common.goodbye',
    ],
    views: { count: { max: 3, example: '999', description: 'i18next plural count' } },
  },
  gateway: {
    description: 'answers before any flow runs: too busy (src/app.ts, the voice channels)',
    keys: ['error.busy'],
  },
  switches: {
    description:
      'the kill switches: a channel, a flow or everything paused for maintenance (src/channels/adapter.ts, src/engine/turn-runner.ts)',
    keys: ['maintenance.all'],
  },
  voice: {
    description: 'the call-back IVR (src/channels/voice-render.ts, voice-session.ts, the voice providers)',
    keys: ['voice.intro', 'voice.option', 'voice.hash', 'voice.noInput', 'voice.silenceGoodbye', 'voice.notRequested'],
    views: {
      option: { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'an option label read out on voice' },
      digit: { max: 3, example: '98#', description: 'the key of an option read out on voice' },
    },
  },
  receipts: {
    description: 'transfer receipts by SMS (src/money/receipts.ts)',
    keys: [
      'sms.sent',
      'sms.received',
      'sms.unconfirmed',
      'sms.failed',
      'sms.reason.forbidden',
      'sms.reason.inactive',
      'sms.reason.insufficient',
      'sms.reason.overDaily',
      'sms.reason.rejected',
      'sms.reason.unavailable',
    ],
    views: {
      amount: amountVar('the amount sent'),
      counterparty: { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'recipient: masked name, account or loan' },
      ref: { max: 8, example: 'AB12CD34', description: 'transfer reference shown to customers' },
      sender: { max: 20, example: 'Nyambura-Wairimu K.', description: "sender's masked name (SMS receipt)" },
      reason: { max: 30, example: 'account not active at the bank', description: 'why a payment failed, translated (SMS receipt)' },
    },
  },
  lockNotice: {
    description: 'the PIN lock notice by SMS (src/security/lock-notice.ts)',
    keys: ['sms.pinLocked', 'sms.pinLockedHard'],
    views: {
      minutes: { max: 5, example: '43200', description: 'minutes a PIN lock lasts' },
      time: { max: 5, example: '23:59', description: 'time of day a PIN lock ends (HH:mm, institution time zone)' },
    },
  },
  oneTimeCodes: {
    description: 'one-time codes by SMS: activation, self-unlock and payment step-up (src/security/challenge.ts)',
    keys: ['sms.otp.enrol', 'sms.otp.unlock', 'sms.otp.money'],
    views: {
      code: { max: 6, example: '482913', description: 'the one-time code (in the SMS only, never on a screen or in a log)' },
      minutes: { max: 5, example: '43200', description: 'minutes a code or a PIN lock lasts' },
      amount: amountVar('the amount a payment code authorises'),
      payee: { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'who a payment code pays (masked name or account)' },
    },
  },
  codeCall: {
    description: 'the call-back that reads out an open payment code, the alternative to its SMS (src/voice/calls.ts)',
    keys: ['voice.code', 'voice.codeGone'],
    views: {
      digits: { max: 16, example: '4, 8, 2, 9, 1, 3', description: 'the one-time code said digit by digit (in that call only)' },
      amount: amountVar('the amount a payment code authorises'),
      payee: { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'who a payment code pays (masked name or account)' },
    },
  },
  agentSms: {
    description:
      "an agent's SMS after a cash movement: the float balance after a cash-in, the cash to pay and its code after a cash-out, and the customer's code (src/agents/agent-notices.ts); the cash-out approval's own texts (src/approvals)",
    keys: [
      'agent.sms.cashInDone',
      'agent.sms.payCash',
      'agent.sms.cashOutCode',
      'approval.sms.cash-out.requested',
      'approval.sms.cash-out.executed',
    ],
    views: {
      amount: amountVar('the cash amount'),
      customer: { max: 20, example: 'Nyambura-Wairimu K.', description: "the customer's masked name" },
      agent: { max: 30, example: 'Nyambura-Wairimu K. (5501)', description: "the agent's masked name and store number" },
      float: amountVar("the agent's float balance after the movement"),
      cash: amountVar('the cash a cash-out hands over (without the fee)'),
      fee: amountVar('the cash-out fee (flows/fees/agent-fees.yaml)'),
      code: { max: 4, example: '7413', description: 'the 4-digit cash-out code the agent says when paying' },
      ref: { max: 8, example: 'AB12CD34', description: 'reference of the movement' },
      dial: { max: 22, example: '*384*123*45678901234#', description: 'the USSD code to dial (USSD_SERVICE_CODE)' },
    },
  },
  approvalSms: {
    description:
      'the SMS of each approval transition: to the approvers when asked and before expiry, to everyone concerned when approved, ' +
      'rejected, expired, cancelled, sent or failed (src/approvals/approval-notices.ts); a kind may override one as approval.sms.<kind>.<event>',
    keys: [
      'approval.sms.requested',
      'approval.sms.warn',
      'approval.sms.approvedPartly',
      'approval.sms.executed',
      'approval.sms.failed',
      'approval.sms.rejected',
      'approval.sms.expired',
      'approval.sms.cancelled',
      'approval.reason.not-agreed',
      'approval.reason.wrong-amount',
      'approval.reason.wrong-payee',
      'approval.reason.other',
      'approval.reason.insufficient',
      'approval.reason.inactive',
      'approval.reason.forbidden',
      'approval.reason.over-daily',
      'approval.reason.rejected',
      'approval.reason.unavailable',
      'approval.reason.mandate-changed',
      'approval.reason.amount-high',
      'approval.reason.amount-low',
      'approval.reason.expired',
      'approval.reason.cancelled',
    ],
    views: {
      requester: { max: 20, example: 'Nyambura-Wairimu K.', description: 'who asked (masked name)' },
      approver: { max: 20, example: 'Nyambura-Wairimu K.', description: 'who approved or rejected (masked name)' },
      amount: amountVar('the amount asked (with its fee)'),
      source: { max: 30, example: 'Duma Traders and General Suppl', description: 'the account paying' },
      payee: { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'who gets the money (masked name or account)' },
      dial: { max: 22, example: '*384*123*45678901234#', description: 'the USSD code to dial (USSD_SERVICE_CODE)' },
      ref: { max: 8, example: 'AB12CD34', description: 'approval reference' },
      time: { max: 12, example: '30 Dec 23:59', description: 'when it expires (institution time zone; the date when not today)' },
      reason: { max: 30, example: 'the account rules changed', description: 'why it was rejected or not sent, translated' },
      left: { max: 2, example: '2', description: 'approvals still needed' },
    },
  },
  pinChanged: {
    description: 'the SMS after every PIN change or enrolment (src/security/enrolment.ts)',
    keys: ['sms.pinChanged', 'sms.pinChangedNoPhone'],
    views: { support: { max: 20, example: '+254 700 000 000', description: 'SUPPORT_PHONE' } },
  },
  hooks: {
    description: 'deposit and withdrawal alerts from Fineract hooks (src/hooks/fineract-hooks.ts)',
    keys: ['sms.alert.deposit', 'sms.alert.withdrawal'],
    views: {
      account: accountVar,
      amount: amountVar('the amount of the transaction'),
      balance: amountVar('account balance after the transaction (SMS alert)'),
      fee: amountVar('a fee'),
      total: amountVar('amount plus fee'),
    },
  },
  origination: {
    description:
      'loan applications (issue 12, src/origination/applications.ts and application-texts.ts): the quote by SMS, the SMS of each status change, and the ' +
      'status lines of LOAN / MKOPO / PRET; a decline names the reason and what to do next',
    keys: [
      'origination.status.submitted',
      'origination.status.declined',
      'origination.status.review',
      'origination.status.rejected',
      'origination.status.withdrawn',
      'origination.status.approved',
      'origination.status.in-core',
      'origination.status.core-approved',
      'origination.status.disbursed',
      'origination.status.core-rejected',
      'origination.status.core-withdrawn',
      'origination.status.closed',
      'origination.reason.out-of-range',
      'origination.reason.open-application',
      'origination.reason.arrears',
      'origination.reason.active-loan',
      'origination.reason.id-format',
      'origination.reason.under-age',
      'origination.reason.rejected',
      'origination.sms.review',
      'origination.sms.declined',
      'origination.sms.rejected',
      'origination.sms.withdrawn',
      'origination.sms.in-core',
      'origination.sms.core-approved',
      'origination.sms.disbursed',
      'origination.sms.core-rejected',
      'origination.sms.core-withdrawn',
      'origination.sms.quote',
    ],
    views: {
      ref: { max: 8, example: 'AB12CD34', description: 'application reference' },
      product: { max: 20, example: 'Mkopo wa Biashara Mdo', description: "the product's display name (catalogue)" },
      amount: amountVar('the amount applied for'),
      why: {
        max: 140,
        example: 'You already have an open application. Wait for its answer or withdraw it under My applications.',
        description: 'why it was declined or rejected, and what to do next',
      },
      dial: { max: 22, example: '*384*123*45678901234#', description: 'the USSD code to dial (USSD_SERVICE_CODE)' },
      repayments: { max: 2, example: '12', description: 'number of repayments' },
      instalment: amountVar('one instalment'),
      total: amountVar('everything repaid'),
      cost: amountVar('interest and fees'),
    },
  },
} as const satisfies Readonly<Record<string, Manifest>>;

/** The engine's texts shown as whole final screens (polite ends): each must fit one screen. */
export const ENGINE_FINAL_KEYS: readonly string[] = ['error.unavailable', 'error.unconfirmed', 'error.generic', 'common.goodbye'];

/** Every manifest of a set, with its kind and name. */
export function entriesOf(set: ManifestSet): { kind: 'action' | 'guard' | 'actor'; name: string; manifest: Manifest }[] {
  return [
    ...Object.entries(set.actions).map(([name, manifest]) => ({ kind: 'action' as const, name, manifest })),
    ...Object.entries(set.guards).map(([name, manifest]) => ({ kind: 'guard' as const, name, manifest })),
    ...Object.entries(set.actors).map(([name, manifest]) => ({ kind: 'actor' as const, name, manifest })),
  ];
}

/**
 * Every `{{variable}}` a text may use, from every manifest (view variables and list rows) and the server's
 * own texts. A name declared twice keeps its longest value.
 */
export function declaredViewVars(set: ManifestSet, server: Readonly<Record<string, Manifest>> = SERVER_TEXTS): Record<string, ViewVarSpec> {
  const out: Record<string, ViewVarSpec> = {};
  const add = (vars: Readonly<Record<string, ViewVarSpec>> | undefined) => {
    for (const [name, spec] of Object.entries(vars ?? {})) if (!out[name] || out[name].max < spec.max) out[name] = spec;
  };
  for (const m of [...entriesOf(set).map((e) => e.manifest), ...Object.values(server)]) {
    add(m.views);
    for (const list of Object.values(m.lists ?? {})) add(list.row);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Locale keys the engine shows on every flow: every locale a flow is checked with must have them. */
export const ENGINE_KEYS: readonly string[] = SERVER_TEXTS.engine.keys;

/** Every locale key the server uses whatever the flows: the server's own texts and the manifests' keys. */
export function declaredKeys(set: ManifestSet, server: Readonly<Record<string, Manifest>> = SERVER_TEXTS): string[] {
  const keys = new Set<string>();
  for (const m of [...entriesOf(set).map((e) => e.manifest), ...Object.values(server)]) for (const k of m.keys ?? []) keys.add(k);
  return [...keys].sort();
}

/** The worst-case text of a declared variable (exactly `max` characters), or undefined if undeclared. */
export function worstCase(name: string, vars: Readonly<Record<string, ViewVarSpec>>): string | undefined {
  const spec = vars[name];
  if (!spec) return undefined;
  const padded = spec.example.length >= spec.max ? spec.example : spec.example + 'W'.repeat(spec.max - spec.example.length);
  return [...padded].slice(0, spec.max).join('');
}
