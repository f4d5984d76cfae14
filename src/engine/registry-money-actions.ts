import { assign } from 'xstate';
import type { z } from 'zod';
import type { CountryCode } from 'libphonenumber-js';
import { maskPhone } from '../text/phone.js';
import { toDecimal } from '../money/amount.js';
import type { FineractClient } from '../fineract/types.js';
import type { Switches } from '../control/switches.js';
import type { FlowError } from './actor-kit.js';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';
import { MONEY_MANIFESTS, outcomeParams, purposeParams, type Purpose } from './registry-money-manifest.js';
import { newTransferKey, type PendingIntent } from './registry-money-intent.js';

/**
 * The actions and guards of the money part of the setup() registry (its actors are in registry-money.ts):
 * what a money journey keeps in the session's context (accounts, recipient, loan, the intent fixed on the
 * confirmation screen, the receipt) and what its flows test.
 */

/** What the money actions and guards read of the money deps (`MoneyDeps` extends it). */
export interface MoneyContextDeps {
  defaultCountry: string;
  currency: string;
  limits: { minCents: number; maxCents: number; dailyCents: number };
  /** The kill switches: while money is off, a money journey is refused at its start and before anything is sent. */
  switches?: Pick<Switches, 'moneyAllowed'>;
}

type Ctx = { context: FlowContext; event: FlowEvent };

const num = (value: unknown) => (typeof value === 'number' ? value : Number(value));

/** The customer's accounts as the menu reads them after the PIN (`loadAccounts`, `loadMenu`). */
export type MenuAccounts = Awaited<ReturnType<FineractClient['listAccounts']>>;

/**
 * What `rememberAccounts` (and `rememberMenu`) keep of the accounts: which menu items work for this customer
 * (`hasAccount`, `hasOwnAccounts`, `hasLoan`), the account paid from and the others.
 */
export function rememberedAccounts(context: FlowContext, out: MenuAccounts): Pick<FlowContext, 'data' | 'view'> {
  const [primary, ...others] = out.savings;
  const loan = out.loans[0];
  return {
    data: {
      ...context.data,
      fromAccountId: primary?.id ?? null,
      hasAccount: !!primary,
      hasOwnAccounts: others.length > 0,
      hasLoan: !!loan && !!primary,
      loanId: loan?.id ?? null,
      ownAccount: primary ? `${primary.productName} ${primary.accountNo}` : '',
    },
    view: {
      ...context.view,
      ownAccounts: others.map((a): ViewVars => ({ account: `${a.productName} ${a.accountNo}`, accountId: a.id })),
      account: primary ? `${primary.productName} ${primary.accountNo}` : '',
    },
  };
}

/** The money actions and guards, bound to these deps. */
export function createMoneyActions(deps: MoneyContextDeps) {
  const money = (cents: number) => ({ amount: cents / 100, currency: deps.currency });

  const actions = {
    rememberAccounts: assign(({ context, event }: Ctx) => rememberedAccounts(context, event.output as MenuAccounts)),
    /** `{ type: usePurpose, params: { purpose: send } }` on entering a money journey. */
    usePurpose: assign(({ context }: Ctx, params: z.infer<typeof purposeParams>) => ({
      // A journey pays from the customer's own account unless useBusiness follows.
      data: { ...context.data, purpose: params.purpose, amountText: null, business: null },
      view: {
        ...context.view,
        ...(typeof context.data.ownAccount === 'string' ? { account: context.data.ownAccount } : {}),
        min: money(deps.limits.minCents),
        max: money(deps.limits.maxCents),
        daily: money(deps.limits.dailyCents),
      },
    })),
    rememberRecipient: assign(({ context, event }: Ctx) => {
      const r = event.output as { clientId: number; officeId: number; accountId: number; label: string; msisdn: string };
      return {
        data: {
          ...context.data,
          toClientId: r.clientId,
          toOfficeId: r.officeId,
          toAccountId: r.accountId,
          counterparty: r.label,
          recipientMsisdn: r.msisdn,
        },
        view: { ...context.view, counterparty: r.label, phone: maskPhone(r.msisdn, deps.defaultCountry as CountryCode) },
      };
    }),
    chooseOwnAccount: assign(({ context, event }: Ctx) => {
      const rows = context.view.ownAccounts;
      const row = Array.isArray(rows) ? rows[num(event.index)] : undefined;
      const customer = context.customer!;
      return {
        data: {
          ...context.data,
          toClientId: customer.clientId,
          toOfficeId: customer.officeId,
          toAccountId: row ? num(row.accountId) : null,
          counterparty: row ? String(row.account) : '',
        },
        view: { ...context.view, counterparty: row ? String(row.account) : '' },
      };
    }),
    rememberLoan: assign(({ context, event }: Ctx) => {
      const loan = event.output as { accountNo: string; totalOutstanding: number; nextInstalment?: { dueDate: string; amount: number } };
      const customer = context.customer!;
      const instalmentCents = loan.nextInstalment ? Math.round(Math.min(loan.nextInstalment.amount, loan.totalOutstanding) * 100) : 0;
      return {
        data: {
          ...context.data,
          toClientId: customer.clientId,
          toOfficeId: customer.officeId,
          toAccountId: num(context.data.loanId),
          counterparty: `Loan ${loan.accountNo}`,
          outstandingCents: Math.round(loan.totalOutstanding * 100),
          instalmentCents,
          hasInstalment: instalmentCents > 0,
        },
        view: {
          ...context.view,
          loan: loan.accountNo,
          counterparty: `Loan ${loan.accountNo}`,
          outstanding: money(Math.round(loan.totalOutstanding * 100)),
          instalment: money(instalmentCents),
          dueDate: loan.nextInstalment ? { date: loan.nextInstalment.dueDate } : '-',
        },
      };
    }),
    useInstalment: assign(({ context }: Ctx) => ({
      data: { ...context.data, amountText: toDecimal(num(context.data.instalmentCents)) },
    })),
    /**
     * Entering the confirmation screen fixes a new money intent: a random idempotency key (never derived from
     * the session id, which aggregators reuse: threat T24) with exactly what the screen shows.
     */
    rememberAmount: assign(({ context, event }: Ctx) => {
      const { cents, from, decimalPlaces } = event.output as {
        cents: number;
        from?: { clientId: number; officeId: number; accountId: number };
        decimalPlaces?: number;
      };
      const d = context.data;
      const customer = context.customer!;
      // A business account (an initiator paying under its mandate) keeps its owner; the customer's own needs none.
      const business = from && from.clientId !== customer.clientId ? { fromClientId: from.clientId, fromOfficeId: from.officeId } : {};
      const transfer: PendingIntent = {
        id: newTransferKey(),
        kind: d.purpose as Purpose,
        clientId: customer.clientId,
        fromAccountId: from?.accountId ?? num(d.fromAccountId),
        ...business,
        toClientId: num(d.toClientId),
        toOfficeId: num(d.toOfficeId),
        toAccountId: num(d.toAccountId),
        toType: d.purpose === 'loan' ? 'loan' : 'savings',
        amountCents: cents,
        currency: deps.currency,
        counterparty: String(d.counterparty ?? ''),
        ...(d.purpose === 'send' ? { recipientMsisdn: String(d.recipientMsisdn) } : {}),
        ...(from && decimalPlaces !== undefined ? { fromDecimals: decimalPlaces } : {}),
      };
      return {
        data: { ...d, amountCents: cents, transfer: JSON.stringify(transfer) },
        view: { ...context.view, amount: money(cents), ref: transfer.id.slice(0, 8).toUpperCase() },
      };
    }),
    rememberAmountProblem: assign(({ context, event }: Ctx) => {
      const details = (event.error as FlowError | undefined)?.details ?? {};
      return {
        view: {
          ...context.view,
          available: money(num(details.availableCents ?? 0)),
        },
      };
    }),
    rememberTries: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, triesLeft: num((event.error as FlowError | undefined)?.details.triesLeft ?? 0) },
    })),
    /** The intent of the open code (a redial) becomes this session's: same idempotency key, same screen. */
    resumeCode: assign(({ context, event }: Ctx) => {
      const { transfer } = event.output as { transfer: PendingIntent };
      return {
        data: {
          ...context.data,
          purpose: transfer.kind,
          amountCents: transfer.amountCents,
          counterparty: transfer.counterparty,
          transfer: JSON.stringify(transfer),
        },
        view: {
          ...context.view,
          amount: { amount: transfer.amountCents / 100, currency: transfer.currency },
          counterparty: transfer.counterparty,
          ref: transfer.id.slice(0, 8).toUpperCase(),
        },
      };
    }),
    rememberReceipt: assign(({ context, event }: Ctx) => {
      const out = event.output as { ref: string; approvers?: string };
      return { view: { ...context.view, ref: out.ref, approvers: out.approvers ?? '' } };
    }),
  } satisfies Record<keyof typeof MONEY_MANIFESTS.actions, unknown>;

  const guards = {
    /** `{ type: purposeIs, params: { purpose: loan } }` */
    purposeIs: ({ context }: Ctx, params: z.infer<typeof purposeParams>) => context.data.purpose === params.purpose,
    /** `{ type: outcomeIs, params: { status: processing } }` on a transfer's onDone. */
    outcomeIs: ({ event }: Ctx, params: z.infer<typeof outcomeParams>) => (event.output as { status?: string })?.status === params.status,
    codePending: ({ event }: Ctx) => (event.output as { pending?: boolean })?.pending === true,
    moneyOn: () => deps.switches?.moneyAllowed() ?? true,
  } satisfies Record<keyof typeof MONEY_MANIFESTS.guards, unknown>;

  return { actions, guards };
}
