import { randomBytes } from 'node:crypto';
import { assign, type AnyActorLogic } from 'xstate';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { CountryCode } from 'libphonenumber-js';
import { nationalDigits, toE164 } from '../text/phone.js';
import { FineractError } from '../fineract/errors.js';
import type { FineractClient } from '../fineract/types.js';
import { currentDeadline } from '../limits/deadline.js';
import type { SimSwapCheck } from '../security/sim-swap.js';
import { parseAmount, toDecimal, type FailureCode, type TransferIntent, type TransferService } from '../money/transfer-service.js';
import { actor, checkPin, FlowError, requireCustomer, toFlowError, type PinVerifier } from './actor-kit.js';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';
import { accountVar, amountVar, dateVar, type ManifestSet } from './manifest.js';

/**
 * The money part of the setup() registry: recipients, amounts, loan repayment details and the transfer
 * itself (PIN-confirmed, exactly once). Flow files name these; behaviour lives here.
 */

/** Next instalment and outstanding amount of a loan (implemented by the Fineract client). */
export interface LoanRepaymentSource {
  getLoanRepaymentInfo(
    clientId: number,
    loanId: number,
  ): Promise<{ totalOutstanding: number; nextInstalment?: { dueDate: string; amount: number } }>;
}

export interface MoneyDeps {
  fineract: FineractClient & LoanRepaymentSource;
  pins: PinVerifier;
  transfers: TransferService;
  logger: Logger;
  /** Server secret (kept for implementations that key derived values; idempotency keys are random). */
  secret: string;
  defaultCountry: string;
  currency: string;
  /** Hop budget used when no hop deadline is set (background runs). */
  fallbackBudgetMs: number;
  limits: { minCents: number; maxCents: number; dailyCents: number };
  /** Asked before money moves (threat T4); a recent SIM swap refuses the transfer. */
  simSwap?: SimSwapCheck;
}

/** What a money journey is for: `usePurpose` sets it, `purposeIs` tests it. */
export const PURPOSES = ['send', 'own', 'loan'] as const;
type Purpose = (typeof PURPOSES)[number];
/** What a transfer's onDone carries: `done`, or `processing` when the outcome will follow by SMS. */
export const TRANSFER_OUTCOMES = ['done', 'processing'] as const;

const purposeParams = z.strictObject({ purpose: z.enum(PURPOSES) });
const outcomeParams = z.strictObject({ status: z.enum(TRANSFER_OUTCOMES) });
const counterpartyVar = { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'recipient: masked name, account or loan' };

/** Manifests of the money actions, guards and actors. */
export const MONEY_MANIFESTS = {
  actors: {
    loadAccounts: { description: "after the PIN: the customer's savings accounts and loans" },
    findRecipient: { description: 'finds the customer of the phone number typed', errors: ['unknown-recipient', 'self'] },
    fetchLoan: { description: "reads the customer's loan: next instalment and outstanding amount", errors: ['no-account'] },
    checkAmount: {
      description: 'checks the amount typed against the limits, the balance and, for a loan, what is owed',
      errors: ['amount-low', 'amount-high', 'over-daily', 'above-outstanding', 'inactive', 'insufficient'],
    },
    transferMoney: {
      description:
        'PIN-confirmed transfer of the intent fixed on the confirmation screen, exactly once; resolves { status: done | processing }',
      // shown by the turn runner when the hop deadline passes while the transfer runs (threat T29)
      keys: ['transfer.pending'],
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'sim-swap', 'sim-swap-unknown', 'inactive', 'insufficient', 'over-daily'],
    },
  },
  actions: {
    rememberAccounts: {
      description: 'keeps the accounts loaded by loadAccounts: which menu items work for this customer',
      flags: {
        hasAccount: 'the customer has a savings account to pay from',
        hasOwnAccounts: 'the customer has more than one savings account',
        hasLoan: 'the customer has a loan and an account to repay it from',
      },
      views: { account: accountVar },
      lists: { ownAccounts: { description: "the customer's other savings accounts", row: { account: accountVar } } },
    },
    usePurpose: {
      description: 'starts a money journey: `{ type: usePurpose, params: { purpose: send } }`',
      params: purposeParams,
      views: { min: amountVar('smallest amount allowed'), max: amountVar('largest amount allowed'), daily: amountVar('daily limit') },
    },
    rememberRecipient: {
      description: 'keeps the recipient found by findRecipient',
      views: {
        counterparty: counterpartyVar,
        phone: { max: 13, example: '+255711000009', description: 'a phone number, masked for display (0711***002)' },
      },
    },
    chooseOwnAccount: { description: 'keeps the own account chosen (choose event index)', views: { counterparty: counterpartyVar } },
    rememberLoan: {
      description: 'keeps the loan read by fetchLoan',
      flags: { hasInstalment: 'the loan has an instalment to pay' },
      views: {
        loan: { max: 12, example: '000000000101', description: 'loan account number' },
        counterparty: counterpartyVar,
        outstanding: amountVar('loan outstanding'),
        instalment: amountVar('next loan instalment'),
        dueDate: dateVar('next instalment due date'),
      },
    },
    useInstalment: { description: 'takes the next instalment as the amount' },
    rememberAmount: {
      description: 'entering the confirmation screen: fixes the money intent (a new idempotency key) with the amount checked',
      views: {
        amount: amountVar('the amount to send'),
        ref: { max: 8, example: 'AB12CD34', description: 'transfer reference shown to customers' },
      },
    },
    rememberAmountProblem: {
      description: 'after insufficient: the balance available',
      views: { available: amountVar('available balance') },
    },
    rememberReceipt: {
      description: 'keeps the transfer reference and Fineract transfer id',
      views: {
        ref: { max: 8, example: 'AB12CD34', description: 'transfer reference shown to customers' },
        transferId: { max: 10, example: '1234567890', description: 'Fineract transfer id' },
      },
    },
  },
  guards: {
    purposeIs: {
      description: 'the money journey is for this purpose: `{ type: purposeIs, params: { purpose: loan } }`',
      params: purposeParams,
    },
    outcomeIs: {
      description: "the transfer's outcome on onDone: `{ type: outcomeIs, params: { status: processing } }`",
      params: outcomeParams,
    },
  },
} as const satisfies ManifestSet;

/**
 * The money intent fixed when the confirmation screen is entered (threat T24): a random idempotency key and
 * exactly what the customer is shown and asked to confirm. Kept in the session context.
 */
interface PendingIntent {
  id: string;
  kind: Purpose;
  clientId: number;
  fromAccountId: number;
  toClientId: number;
  toOfficeId: number;
  toAccountId: number;
  toType: 'savings' | 'loan';
  amountCents: number;
  currency: string;
  counterparty: string;
  recipientMsisdn?: string;
}

/** A refusal told by SMS when the hop stopped waiting for it. */
const REFUSALS: Partial<Record<string, FailureCode>> = {
  insufficient: 'insufficient',
  inactive: 'inactive',
  'over-daily': 'over-daily',
  forbidden: 'forbidden',
  'pin-wrong': 'forbidden',
  'pin-locked': 'forbidden',
  'pin-not-set': 'forbidden',
  'sim-swap': 'forbidden',
  'sim-swap-unknown': 'forbidden',
  unavailable: 'unavailable',
};

/** A fresh idempotency key: 128 random bits as 32 hex characters (Fineract's column holds 50). */
export const newTransferKey = () => randomBytes(16).toString('hex');
type Ctx = { context: FlowContext; event: FlowEvent };

const data = (context: FlowContext) => context.data;
const num = (value: unknown) => (typeof value === 'number' ? value : Number(value));

/** "Baraka Otieno" -> "Baraka O." (enough for the sender to recognise, not a full identity). */
export function maskName(displayName: string): string {
  const [first = '', ...rest] = displayName.trim().split(/\s+/);
  const last = rest[rest.length - 1];
  return last ? `${first} ${last[0]!.toUpperCase()}.` : first;
}

/** "+254711000002" -> "0711***002" for display (national form for numbers of `country`, the deployment's). */
export function maskPhone(e164: string, country: CountryCode): string {
  const national = nationalDigits(e164, country);
  return national.length > 6 ? `${national.slice(0, 4)}***${national.slice(-3)}` : national;
}

export function createMoneyImplementations(deps: MoneyDeps) {
  const { fineract, pins, transfers, logger } = deps;
  const money = (cents: number) => ({ amount: cents / 100, currency: deps.currency });

  const actors = {
    /** After the PIN: which menu items work for this customer (own accounts, a loan to pay). */
    loadAccounts: actor(logger, 'loadAccounts', async ({ context }) => {
      const customer = requireCustomer(context);
      const { savings, loans } = await fineract.listAccounts(customer.clientId);
      return { savings, loans };
    }),
    findRecipient: actor(logger, 'findRecipient', async ({ context, event }) => {
      const customer = requireCustomer(context);
      const msisdn = toE164(String(event.value ?? ''), deps.defaultCountry as CountryCode);
      if (!msisdn) throw new FlowError('unknown-recipient');
      if (msisdn === context.msisdn) throw new FlowError('self');
      const recipient = await fineract.findClientByPhone(msisdn);
      if (!recipient || !recipient.active) throw new FlowError('unknown-recipient');
      if (recipient.clientId === customer.clientId) throw new FlowError('self');
      const account = (await fineract.listAccounts(recipient.clientId)).savings[0];
      if (!account) throw new FlowError('unknown-recipient');
      return {
        clientId: recipient.clientId,
        officeId: recipient.officeId,
        accountId: account.id,
        label: maskName(recipient.displayName),
        msisdn,
      };
    }),
    fetchLoan: actor(logger, 'fetchLoan', async ({ context }) => {
      const customer = requireCustomer(context);
      const loanId = num(data(context).loanId);
      const loan = (await fineract.listAccounts(customer.clientId)).loans.find((l) => l.id === loanId);
      if (!loan) throw new FlowError('no-account');
      const info = await fineract.getLoanRepaymentInfo(customer.clientId, loanId);
      return { accountNo: loan.accountNo, ...info };
    }),
    /** Validates the amount typed (or chosen) against limits, balance and, for a loan, what is owed. */
    checkAmount: actor(logger, 'checkAmount', async ({ context, event }) => {
      const customer = requireCustomer(context);
      const text = typeof event.value === 'string' ? event.value : String(data(context).amountText ?? '');
      const cents = parseAmount(text);
      if (cents === undefined || cents === 0) throw new FlowError('amount-low', { min: 0 });
      const problem = await transfers.checkLimits(customer.clientId, cents);
      if (problem) throw new FlowError(problem);
      if (data(context).purpose === 'loan' && cents > num(data(context).outstandingCents)) throw new FlowError('above-outstanding');
      const source = await fineract.getOwnedSavingsAccount(customer.clientId, num(data(context).fromAccountId));
      if (!source.active) throw new FlowError('inactive');
      if (Math.round(source.availableBalance * 100) < cents) {
        throw new FlowError('insufficient', { availableCents: Math.round(source.availableBalance * 100) });
      }
      return { cents };
    }),
    /**
     * PIN-confirmed transfer of the intent fixed on the confirmation screen: exactly once, within the hop
     * deadline or completed in the background. When the hop stops waiting (deadline) the customer has been
     * told an SMS will follow, so the outcome, whatever it is, goes by SMS (threat T29).
     */
    transferMoney: actor(logger, 'transferMoney', async ({ context, event }, { signal }) => {
      const customer = requireCustomer(context);
      const stored = data(context).transfer;
      const pending = typeof stored === 'string' ? (JSON.parse(stored) as PendingIntent) : undefined;
      if (!pending || pending.clientId !== customer.clientId) throw new FlowError('unavailable');
      const intent: TransferIntent = {
        id: pending.id,
        ref: pending.id.slice(0, 8).toUpperCase(),
        kind: pending.kind,
        msisdn: context.msisdn,
        lang: context.lang,
        from: { clientId: customer.clientId, officeId: customer.officeId, accountId: pending.fromAccountId },
        to: { clientId: pending.toClientId, officeId: pending.toOfficeId, accountId: pending.toAccountId, type: pending.toType },
        amountCents: pending.amountCents,
        currency: pending.currency,
        counterparty: pending.counterparty,
        recipientMsisdn: pending.recipientMsisdn,
        senderLabel: maskName(customer.displayName),
      };
      let settled: { refusal?: FailureCode; known: boolean } | undefined;
      const tell = () => {
        if (!settled || !signal.aborted) return;
        transfers.tellLater(intent, settled.refusal).catch((error: unknown) => {
          logger.warn({ transfer: intent.ref, err: { type: (error as Error)?.name } }, 'transfer outcome not queued for SMS');
        });
      };
      signal.addEventListener('abort', tell, { once: true });
      try {
        await checkPin(pins, customer.clientId, event);
        if (
          deps.simSwap &&
          (await deps.simSwap.recentlySwapped(context.msisdn).catch(() => Promise.reject(new FlowError('sim-swap-unknown'))))
        )
          throw new FlowError('sim-swap');
        // The lookup cache may still call a blocked client active: ask Fineract itself before money leaves.
        // A read that goes unanswered stops the transfer too (it fails closed): nothing has been sent yet, so
        // "no money was moved" is the truth.
        const client = await fineract.getClient(customer.clientId).catch((error: unknown) => {
          if (error instanceof FineractError && error.kind === 'unavailable') throw new FlowError('unavailable');
          throw error;
        });
        if (!client.active) throw new FlowError('inactive');
        // The hop gave up before anything was sent: send nothing (the SMS says so).
        if (signal.aborted) throw new FlowError('unavailable');
        const outcome = await transfers.execute(intent, currentDeadline() ?? Date.now() + deps.fallbackBudgetMs, { signal });
        settled = { known: true, refusal: outcome.status === 'failed' && !signal.aborted ? outcome.code : undefined };
        if (outcome.status === 'failed') throw new FlowError(outcome.code);
        return outcome.status === 'done'
          ? { status: 'done', ref: intent.ref, transferId: outcome.transferId }
          : { status: 'processing', ref: intent.ref };
      } catch (error) {
        settled ??= { known: true, refusal: REFUSALS[toFlowError(error).code] ?? 'rejected' };
        throw error;
      } finally {
        tell();
      }
    }),
  } satisfies Record<keyof typeof MONEY_MANIFESTS.actors, AnyActorLogic>;

  const actions = {
    rememberAccounts: assign(({ context, event }: Ctx) => {
      const out = event.output as Awaited<ReturnType<FineractClient['listAccounts']>>;
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
        },
        view: {
          ...context.view,
          ownAccounts: others.map((a): ViewVars => ({ account: `${a.productName} ${a.accountNo}`, accountId: a.id })),
          account: primary ? `${primary.productName} ${primary.accountNo}` : '',
        },
      };
    }),
    /** `{ type: usePurpose, params: { purpose: send } }` on entering a money journey. */
    usePurpose: assign(({ context }: Ctx, params: z.infer<typeof purposeParams>) => ({
      data: { ...context.data, purpose: params.purpose, amountText: null },
      view: {
        ...context.view,
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
      const { cents } = event.output as { cents: number };
      const d = context.data;
      const customer = context.customer!;
      const transfer: PendingIntent = {
        id: newTransferKey(),
        kind: d.purpose as Purpose,
        clientId: customer.clientId,
        fromAccountId: num(d.fromAccountId),
        toClientId: num(d.toClientId),
        toOfficeId: num(d.toOfficeId),
        toAccountId: num(d.toAccountId),
        toType: d.purpose === 'loan' ? 'loan' : 'savings',
        amountCents: cents,
        currency: deps.currency,
        counterparty: String(d.counterparty ?? ''),
        ...(d.purpose === 'send' ? { recipientMsisdn: String(d.recipientMsisdn) } : {}),
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
    rememberReceipt: assign(({ context, event }: Ctx) => {
      const out = event.output as { ref: string; transferId?: number };
      return { view: { ...context.view, ref: out.ref, transferId: out.transferId ?? '' } };
    }),
  } satisfies Record<keyof typeof MONEY_MANIFESTS.actions, unknown>;

  const guards = {
    /** `{ type: purposeIs, params: { purpose: loan } }` */
    purposeIs: ({ context }: Ctx, params: z.infer<typeof purposeParams>) => context.data.purpose === params.purpose,
    /** `{ type: outcomeIs, params: { status: processing } }` on a transfer's onDone. */
    outcomeIs: ({ event }: Ctx, params: z.infer<typeof outcomeParams>) => (event.output as { status?: string })?.status === params.status,
  } satisfies Record<keyof typeof MONEY_MANIFESTS.guards, unknown>;

  return { actors, actions, guards };
}
