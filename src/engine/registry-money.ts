import { randomBytes } from 'node:crypto';
import { assign, type AnyActorLogic } from 'xstate';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { CountryCode } from 'libphonenumber-js';
import { nationalDigits, toE164 } from '../text/phone.js';
import type { FineractClient } from '../fineract/types.js';
import type { SimSwapCheck } from '../security/sim-swap.js';
import type { ChallengeIntent, ChallengeService, IssueResult } from '../security/challenge.js';
import type { PaidPayees } from '../security/paid-payees.js';
import { formatAmount } from '../text/i18n.js';
import { parseAmount, toDecimal } from '../money/amount.js';
import type { TransferService } from '../money/transfer-service.js';
import { MoneyPaused, payeeOf, type FailureCode, type TransferIntent } from '../money/transfer-types.js';
import { actor, checkPin, FlowError, requireCustomer, toFlowError, type ActorScope, type PinVerifier } from './actor-kit.js';
import { keepSessionFact, sessionFact, startRead, takeRead, type HopContext } from '../session/hop-context.js';
import type { FlowContext, FlowEvent, LostConfirmationAnswer, ViewVars } from './types.js';
import { accountVar, amountVar, dateVar, type ManifestSet } from './manifest.js';
import type { Switches } from '../control/switches.js';
import type { ApprovalService } from '../approvals/approval.js';
import { ApprovalRefused } from '../approvals/approval-service.js';
import type { MandateRegistry } from '../approvals/mandates.js';

/**
 * The money part of the setup() registry: recipients, amounts, loan repayment details and the transfer
 * itself (PIN-confirmed, exactly once), with its step-up: a one-time code by SMS, bound to the intent, when
 * the amount, a first payee or a fresh credential asks for one (threat T31). Flow files name these;
 * behaviour lives here.
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
  /** One-time codes (threat T31). Without them a transfer that needs a code is refused: it fails closed. */
  challenges?: ChallengeService;
  /**
   * When a transfer needs a code after the PIN: from `thresholdCents` up (OTP_THRESHOLD), and a first payment
   * to another customer when `newPayee` (OTP_NEW_PAYEE). Absent: only a fresh credential asks for one.
   */
  stepUp?: { thresholdCents: number; newPayee: boolean };
  /** Who each customer has paid before (OTP_NEW_PAYEE). */
  payees?: PaidPayees;
  /** The kill switches: while money is off, a money journey is refused at its start and before anything is sent. */
  switches?: Pick<Switches, 'moneyAllowed'>;
  /**
   * Business accounts (issue 11, threat T15): a money-out from an account with a mandate is raised for approval
   * instead of sent, whoever dials (its owner too); an initiator pays from the business account they are named on.
   */
  mandates?: {
    registry: Pick<MandateRegistry, 'forAccountId' | 'requestPayment'>;
    approvals: Pick<ApprovalService, 'request' | 'voidRequest'>;
  };
}

/** What a money journey is for: `usePurpose` sets it, `purposeIs` tests it. */
export const PURPOSES = ['send', 'own', 'loan'] as const;
type Purpose = (typeof PURPOSES)[number];
/**
 * What a transfer's onDone carries: `done`, `processing` when the outcome will follow by SMS, or `approval` when
 * the source account's mandate holds it for approval (nothing moved yet).
 */
export const TRANSFER_OUTCOMES = ['done', 'processing', 'approval'] as const;

const purposeParams = z.strictObject({ purpose: z.enum(PURPOSES) });
const outcomeParams = z.strictObject({ status: z.enum(TRANSFER_OUTCOMES) });
const counterpartyVar = { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'recipient: masked name, account or loan' };
/** What a money actor that moves money after a one-time code may still reject with, besides the code's own. */
const TRANSFER_REFUSALS = ['sim-swap', 'sim-swap-unknown', 'inactive', 'insufficient', 'over-daily', 'money-paused'] as const;

/** Manifests of the money actions, guards and actors. */
export const MONEY_MANIFESTS = {
  actors: {
    loadAccounts: {
      description: "after the PIN: the customer's savings accounts and loans (loadMenu reads them with the menu's other facts)",
    },
    findRecipient: { description: 'finds the customer of the phone number typed', errors: ['unknown-recipient', 'self'] },
    fetchLoan: { description: "reads the customer's loan: next instalment and outstanding amount", errors: ['no-account'] },
    checkAmount: {
      description: 'checks the amount typed against the limits, the balance and, for a loan, what is owed',
      errors: ['amount-low', 'amount-high', 'over-daily', 'above-outstanding', 'inactive', 'insufficient'],
    },
    transferMoney: {
      description:
        'PIN-confirmed transfer of the intent fixed on the confirmation screen, exactly once; resolves { status: done | processing }. ' +
        'When the step-up asks for a code (OTP_THRESHOLD, OTP_NEW_PAYEE, a fresh credential) it moves nothing, sends a code bound to the ' +
        'intent by SMS and rejects with code-required',
      // shown by the turn runner when the hop deadline passes while the transfer runs (threat T29)
      keys: ['transfer.pending'],
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'code-required', 'code-send-limit', ...TRANSFER_REFUSALS],
      code: 'asks',
    },
    transferWithCode: {
      description:
        'checks the one-time code typed against the intent it was sent for (consumed when right), then moves the money exactly once ' +
        'like transferMoney (the PIN was checked before the code was sent); resolves { status: done | processing }',
      keys: ['transfer.pending'],
      errors: ['code-wrong', 'code-exhausted', 'code-expired', 'code-mismatch', ...TRANSFER_REFUSALS],
      code: 'checks',
    },
    resendCode: {
      description: 'sends the open code of the intent again (the same code, at most 3 sends), or a new one once it has expired',
      errors: ['code-send-limit'],
    },
    cancelCode: { description: "revokes the customer's open payment code: nothing can move with it any more" },
    findPendingCode: {
      description:
        'after the PIN: a payment code still open from an earlier session (a redial within its validity); resolves { pending: true | false } ' +
        "(loadMenu reads it with the menu's other facts)",
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
    rememberTries: {
      description: 'after code-wrong: how many tries the code has left',
      views: { triesLeft: { max: 1, example: '2', description: 'one-time code tries left' } },
    },
    resumeCode: {
      description:
        'after findPendingCode or loadMenu: the intent the open code was sent for becomes the intent of this session (same idempotency key)',
      views: {
        amount: amountVar('the amount to send'),
        counterparty: counterpartyVar,
        ref: { max: 8, example: 'AB12CD34', description: 'transfer reference shown to customers' },
      },
    },
    rememberReceipt: {
      description: "keeps the transfer reference (Kiunga's, also in Fineract's description) or, held for approval, who must approve",
      views: {
        ref: { max: 8, example: 'AB12CD34', description: 'transfer reference shown to customers' },
        approvers: { max: 40, example: 'Nyambura-Wairimu K., Baraka O.', description: 'who must approve (masked names)' },
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
    codePending: {
      description: 'on findPendingCode or loadMenu onDone: a payment code is still open (the redial resumes at the code prompt)',
    },
    moneyOn: { description: 'money movement is switched on (kill switch `money` and `all` on, their state known)' },
  },
} as const satisfies ManifestSet;

/**
 * The money intent fixed when the confirmation screen is entered (threat T24): a random idempotency key and
 * exactly what the customer is shown and asked to confirm. Kept in the session context.
 */
const pendingIntentSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  kind: z.enum(PURPOSES),
  clientId: z.number().int(),
  fromAccountId: z.number().int(),
  toClientId: z.number().int(),
  toOfficeId: z.number().int(),
  toAccountId: z.number().int(),
  toType: z.enum(['savings', 'loan']),
  amountCents: z.number().int().positive(),
  currency: z.string().min(3).max(3),
  counterparty: z.string(),
  recipientMsisdn: z.string().optional(),
  /** A business account's owner, when an initiator pays from it (issue 11); absent: the customer's own account. */
  fromClientId: z.number().int().optional(),
  fromOfficeId: z.number().int().optional(),
  /**
   * The source's currency decimal places, from the read that checked its ownership, activity and balance when
   * this intent was fixed (checkAmount): present, the transfer does not read the source again.
   */
  fromDecimals: z.number().int().min(0).max(6).optional(),
});
type PendingIntent = z.infer<typeof pendingIntentSchema>;

/** What a payment code is bound to (threat T31): any other amount, currency, payee or source account voids it. */
function challengeIntentOf(p: PendingIntent): ChallengeIntent {
  return {
    purpose: 'money',
    clientId: p.clientId,
    amountCents: p.amountCents,
    currency: p.currency,
    payee: payeeOf({ type: p.toType, accountId: p.toAccountId }),
    source: String(p.fromAccountId),
  };
}

/** The intent as the challenge keeps it for a redial (`resume`): ids, amount and the masked label, no secret. */
function resumeOf(p: PendingIntent): Record<string, string | number> {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Record<string, string | number>;
}

/** The intent fixed on the confirmation screen as the transfer service moves it; `customer` dialled. */
function transferIntentOf(context: FlowContext, customer: NonNullable<FlowContext['customer']>, pending: PendingIntent): TransferIntent {
  return {
    id: pending.id,
    ref: pending.id.slice(0, 8).toUpperCase(),
    kind: pending.kind,
    msisdn: context.msisdn,
    lang: context.lang,
    from: {
      clientId: pending.fromClientId ?? customer.clientId,
      officeId: pending.fromOfficeId ?? customer.officeId,
      accountId: pending.fromAccountId,
    },
    to: { clientId: pending.toClientId, officeId: pending.toOfficeId, accountId: pending.toAccountId, type: pending.toType },
    amountCents: pending.amountCents,
    currency: pending.currency,
    counterparty: pending.counterparty,
    recipientMsisdn: pending.recipientMsisdn,
    senderLabel: maskName(customer.displayName),
    // The confirmation's read checked the source (and the loan came from the customer's own accounts and
    // was read with its owner checked): the transfer sends only the POST.
    ...(pending.fromDecimals !== undefined
      ? { checked: { sourceDecimalPlaces: pending.fromDecimals, loan: pending.kind === 'loan' } }
      : {}),
  };
}

/**
 * A retry of a money confirmation whose first run still holds the session lock (its process died, or it is
 * slow; threat T29). From an account with a mandate the first run raises an approval keyed by the intent
 * (`raiseForApproval`): when it did, the retry answers what it would have (waiting for approval, the
 * approval's ref and approvers; the approvers' SMS are the request's own); when it did not, no approval can be
 * raised with that key any more (`voidRequest`: a first run still raising it refuses and releases its hold).
 * Otherwise the outcome of the session's intent goes by SMS, as when a hop stops waiting
 * (`TransferService.tellLater`: nothing sent yet is settled as not sent, so it never will be), and the retry
 * answers "being processed" with the intent's ref. Undefined when the session holds no transfer intent of its
 * customer.
 */
export async function tellLostConfirmation(
  deps: Pick<MoneyDeps, 'transfers' | 'mandates'>,
  context: FlowContext,
): Promise<LostConfirmationAnswer | undefined> {
  const intent = sessionIntent(context);
  if (!intent) return undefined;
  if (deps.mandates && (await deps.mandates.registry.forAccountId(intent.from.accountId))) {
    const raised = await deps.mandates.approvals.voidRequest(intent.id, intent.from.accountId);
    if (raised) return { key: 'approvals.waiting', vars: { ref: raised.ref, approvers: raised.approvers.map((a) => a.label).join(', ') } };
  }
  await deps.transfers.tellLater(intent, 'unavailable');
  return { key: 'transfer.processing', vars: { ref: intent.ref } };
}

/** The transfer intent a money journey's context holds for its customer (the confirmation screen's), if any. */
export function sessionIntent(context: FlowContext): TransferIntent | undefined {
  const customer = context.customer;
  const stored = context.data.transfer;
  if (!customer || typeof stored !== 'string') return undefined;
  let parsed;
  try {
    parsed = pendingIntentSchema.safeParse(JSON.parse(stored));
  } catch {
    return undefined;
  }
  return parsed.success && parsed.data.clientId === customer.clientId ? transferIntentOf(context, customer, parsed.data) : undefined;
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
  // Nothing was sent: the SMS says it could not be done now.
  'money-paused': 'unavailable',
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

/** The savings account ids the session learned after the PIN (`loadAccounts`), primary first; else undefined. */
export function savingsFact(hop: HopContext | undefined, clientId: number): number[] | undefined {
  const known = sessionFact(hop, `savings:${clientId}`);
  if (known === undefined) return undefined;
  return known === '' ? [] : known.split(',').map(Number);
}

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

export function createMoneyImplementations(deps: MoneyDeps) {
  const { fineract, pins, transfers, logger } = deps;
  const money = (cents: number) => ({ amount: cents / 100, currency: deps.currency });

  /**
   * The account a money journey pays from: the business account chosen from the menu (useBusiness) by one of
   * its mandate's initiators, or the customer's own.
   */
  const sourceOf = async (context: FlowContext): Promise<{ clientId: number; officeId: number; accountId: number }> => {
    const customer = requireCustomer(context);
    const business = typeof context.data.business === 'string' ? (JSON.parse(context.data.business) as { accountId: number }) : undefined;
    if (!business) return { clientId: customer.clientId, officeId: customer.officeId, accountId: num(data(context).fromAccountId) };
    const mandate = await deps.mandates?.registry.forAccountId(business.accountId);
    if (!mandate?.initiators.includes(customer.clientId)) throw new FlowError('forbidden');
    return { clientId: mandate.clientId, officeId: mandate.officeId, accountId: mandate.accountId };
  };

  /**
   * A money-out from an account with a mandate is raised for approval, not sent (threat T15): the funds are
   * held and the approvers told by SMS; nothing moves until they approve. Only the owner and the initiators
   * may raise it.
   */
  const raiseForApproval = async (context: FlowContext, intent: TransferIntent, hop: HopContext | undefined) => {
    const customer = requireCustomer(context);
    const mandate = await deps.mandates?.registry.forAccountId(intent.from.accountId);
    if (!mandate) return undefined;
    if (customer.clientId !== mandate.clientId && !mandate.initiators.includes(customer.clientId)) throw new FlowError('forbidden');
    const requester = { clientId: customer.clientId, label: maskName(customer.displayName), msisdn: context.msisdn, lang: context.lang };
    try {
      // Keyed by the intent: a retry of this hop finds the approval, or voids the key (tellLostConfirmation).
      const record = await deps.mandates!.registry.requestPayment(deps.mandates!.approvals, mandate, requester, intent, intent.id, hop);
      return { status: 'approval', ref: record.ref, approvers: record.approvers.map((a) => a.label).join(', ') };
    } catch (error) {
      if (error instanceof MoneyPaused) throw new FlowError('money-paused');
      if (error instanceof ApprovalRefused)
        throw new FlowError(
          error.reason === 'insufficient' || error.reason === 'inactive' || error.reason === 'forbidden' ? error.reason : 'unavailable',
        );
      throw error;
    }
  };

  /** The intent fixed by rememberAmount (or resumeCode), of this customer only. */
  const pendingOf = (context: FlowContext, clientId: number): PendingIntent => {
    const stored = data(context).transfer;
    const parsed = typeof stored === 'string' ? pendingIntentSchema.safeParse(JSON.parse(stored)) : undefined;
    if (!parsed?.success || parsed.data.clientId !== clientId) throw new FlowError('unavailable');
    return parsed.data;
  };

  const checkSimSwap = async (context: FlowContext) => {
    if (!deps.simSwap) return;
    const swapped = await deps.simSwap.recentlySwapped(context.msisdn).catch(() => Promise.reject(new FlowError('sim-swap-unknown')));
    if (swapped) throw new FlowError('sim-swap');
  };

  /** Why this intent needs a one-time code after the PIN (threat T31), or undefined when the PIN is enough. */
  const stepUpReason = async (p: PendingIntent): Promise<'amount' | 'new-payee' | 'fresh-credential' | undefined> => {
    const rules = deps.stepUp;
    if (rules && p.amountCents >= rules.thresholdCents) return 'amount';
    // Own accounts and own loans are not payees: only money sent to another customer can go to a first payee.
    if (
      rules?.newPayee &&
      p.kind === 'send' &&
      !(await deps.payees?.has(p.clientId, payeeOf({ type: p.toType, accountId: p.toAccountId })))
    )
      return 'new-payee';
    if (deps.challenges && (await deps.challenges.isFreshCredential(p.clientId))) return 'fresh-credential';
    return undefined;
  };

  /**
   * Sends (or sends again) the code of this intent by SMS to the registered number, naming the amount and the
   * payee. The code never travels on the channel it authorises: an intent made by SMS cannot be stepped up.
   */
  const sendCode = async (context: FlowContext, p: PendingIntent): Promise<IssueResult> => {
    if (!deps.challenges || context.channel === 'sms') throw new FlowError('unavailable');
    return deps.challenges.issue(challengeIntentOf(p), {
      msisdn: context.msisdn,
      language: context.lang,
      channel: context.channel,
      display: { amount: formatAmount(context.lang, p.amountCents / 100, p.currency), payee: p.counterparty },
      resume: resumeOf(p),
    });
  };

  /** True when the open payment code was sent for exactly this intent. */
  const codeOpenFor = async (p: PendingIntent): Promise<boolean> => {
    const open = await deps.challenges?.pending(p.clientId, 'money');
    if (!open) return false;
    const mine = challengeIntentOf(p);
    return (Object.keys(mine) as (keyof ChallengeIntent)[]).every((k) => String(open.intent[k]) === String(mine[k]));
  };

  /**
   * Moves the intent of this session exactly once after `authorise` (the PIN, or the code) let it through,
   * within the hop deadline or completed in the background. When the hop stops waiting (deadline) the customer
   * has been told an SMS will follow, so the outcome, whatever it is, goes by SMS (threat T29); a code sent
   * instead is its own news (the redial resumes at it).
   */
  const moveMoney = async (
    context: FlowContext,
    { signal, hop }: ActorScope,
    authorise: (customer: NonNullable<FlowContext['customer']>, pending: PendingIntent) => Promise<void>,
  ) => {
    const customer = requireCustomer(context);
    const pending = pendingOf(context, customer.clientId);
    const intent = transferIntentOf(context, customer, pending);
    let settled: { refusal?: FailureCode; quiet?: boolean } | undefined;
    const tell = () => {
      if (!settled || settled.quiet || !signal.aborted) return;
      transfers.tellLater(intent, settled.refusal).catch((error: unknown) => {
        logger.warn({ transfer: intent.ref, err: { type: (error as Error)?.name } }, 'transfer outcome not queued for SMS');
      });
    };
    signal.addEventListener('abort', tell, { once: true });
    try {
      // The kill switch before the PIN or code is checked and before a code is sent: nothing happens at all.
      if (deps.switches && !deps.switches.moneyAllowed()) throw new FlowError('money-paused');
      await authorise(customer, pending);
      // The client's status is not read again here: Fineract closes a client only once its savings accounts
      // are closed, and a client moving office has them set to "transfer in progress", so a client that is
      // no longer active has no active account, and Fineract refuses the debit of an inactive one
      // ("not active, no money was moved"; docs/fineract.md §6.1).
      // The hop gave up before anything was sent: send nothing (the SMS says so).
      if (signal.aborted) throw new FlowError('unavailable');
      const held = await raiseForApproval(context, intent, hop);
      if (held) {
        // Its approvers were told by SMS; the requester reads the ref on screen (or asks in Approvals).
        settled = { quiet: true };
        return held;
      }
      // Only a mandated account is paid by someone other than its owner.
      if (intent.from.clientId !== customer.clientId) throw new FlowError('forbidden');
      const outcome = await transfers
        .execute(intent, hop?.deadline ?? Date.now() + deps.fallbackBudgetMs, { signal, ...(hop ? { hop } : {}) })
        .catch((error: unknown) => Promise.reject(error instanceof MoneyPaused ? new FlowError('money-paused') : error));
      settled = { refusal: outcome.status === 'failed' && !signal.aborted ? outcome.code : undefined };
      if (outcome.status === 'failed') throw new FlowError(outcome.code);
      return outcome.status === 'done' ? { status: 'done', ref: intent.ref } : { status: 'processing', ref: intent.ref };
    } catch (error) {
      const code = toFlowError(error).code;
      settled ??= code === 'code-required' ? { quiet: true } : { refusal: REFUSALS[code] ?? 'rejected' };
      throw error;
    } finally {
      tell();
    }
  };

  /** The customer's accounts (the menu's entries); read early while the PIN is checked, kept for the session's later hops. */
  const accountsOf = async (context: FlowContext, hop: HopContext | undefined) => {
    const customer = requireCustomer(context);
    const { savings, loans } = await fineract.listAccounts(customer.clientId, { hop });
    keepSessionFact(hop, `savings:${customer.clientId}`, savings.map((s) => s.id).join(','));
    return { savings, loans };
  };
  /** A payment code still open from an earlier session (the redial resumes at it); read early while the PIN is checked. */
  const pendingCode = async (context: FlowContext) => {
    const customer = requireCustomer(context);
    const open = await deps.challenges?.pending(customer.clientId, 'money');
    const parsed = pendingIntentSchema.safeParse(open?.resume);
    if (!open || !parsed.success || parsed.data.clientId !== customer.clientId) return { pending: false as const };
    return { pending: true as const, transfer: parsed.data, triesLeft: open.triesLeft };
  };

  const actors = {
    /** After the PIN: which menu items work for this customer (own accounts, a loan to pay). */
    loadAccounts: actor(logger, 'loadAccounts', async ({ context }, { hop }) =>
      takeRead(hop, 'loadAccounts', () => accountsOf(context, hop)),
    ),
    findRecipient: actor(logger, 'findRecipient', async ({ context, event }, { hop }) => {
      const customer = requireCustomer(context);
      const msisdn = toE164(String(event.value ?? ''), deps.defaultCountry as CountryCode);
      if (!msisdn) throw new FlowError('unknown-recipient');
      if (msisdn === context.msisdn) throw new FlowError('self');
      const recipient = await fineract.findClientByPhone(msisdn, { hop });
      if (!recipient || !recipient.active) throw new FlowError('unknown-recipient');
      if (recipient.clientId === customer.clientId) throw new FlowError('self');
      const account = (await fineract.listAccounts(recipient.clientId, { hop })).savings[0];
      if (!account) throw new FlowError('unknown-recipient');
      return {
        clientId: recipient.clientId,
        officeId: recipient.officeId,
        accountId: account.id,
        label: maskName(recipient.displayName),
        msisdn,
      };
    }),
    fetchLoan: actor(logger, 'fetchLoan', async ({ context }, { hop }) => {
      const customer = requireCustomer(context);
      const loanId = num(data(context).loanId);
      const loan = (await fineract.listAccounts(customer.clientId, { hop })).loans.find((l) => l.id === loanId);
      if (!loan) throw new FlowError('no-account');
      const info = await fineract.getLoanRepaymentInfo(customer.clientId, loanId, { hop });
      return { accountNo: loan.accountNo, ...info };
    }),
    /** Validates the amount typed (or chosen) against limits, balance and, for a loan, what is owed. */
    checkAmount: actor(logger, 'checkAmount', async ({ context, event }, { hop }) => {
      const text = typeof event.value === 'string' ? event.value : String(data(context).amountText ?? '');
      const cents = parseAmount(text);
      if (cents === undefined || cents === 0) throw new FlowError('amount-low', { min: 0 });
      const from = await sourceOf(context);
      const problem = await transfers.checkLimits(from.clientId, cents);
      if (problem) throw new FlowError(problem);
      if (data(context).purpose === 'loan' && cents > num(data(context).outstandingCents)) throw new FlowError('above-outstanding');
      const source = await fineract.getOwnedSavingsAccount(from.clientId, from.accountId, { hop });
      if (!source.active) throw new FlowError('inactive');
      if (Math.round(source.availableBalance * 100) < cents) {
        throw new FlowError('insufficient', { availableCents: Math.round(source.availableBalance * 100) });
      }
      return { cents, from, decimalPlaces: source.decimalPlaces };
    }),
    /**
     * PIN-confirmed transfer of the intent fixed on the confirmation screen: exactly once, within the hop
     * deadline or completed in the background. When the step-up asks for a code, nothing moves: the code is
     * sent by SMS for this exact intent and the flow collects it (code-required).
     */
    transferMoney: actor(logger, 'transferMoney', async ({ context, event }, scope) =>
      moveMoney(context, scope, async (customer, pending) => {
        await checkPin(pins, customer.clientId, event, scope.hop);
        await checkSimSwap(context);
        const reason = await stepUpReason(pending);
        if (!reason) return;
        const sent = await sendCode(context, pending);
        // No send: either this intent's code went out three times already (the customer has it), or too many
        // codes were asked for this hour and none exists for this intent: then there is nothing to type.
        if (sent.status === 'send-limit' && !(await codeOpenFor(pending))) throw new FlowError('code-send-limit');
        throw new FlowError('code-required', { reason, sendsLeft: sent.status === 'send-limit' ? 0 : sent.sendsLeft });
      }),
    ),
    /**
     * The code typed for the intent of this session: checked and consumed in one step by the challenge service
     * (bound to the amount, payee and source), then the money moves as in transferMoney. The PIN is not asked
     * again: the code was only sent after it was right.
     */
    transferWithCode: actor(logger, 'transferWithCode', async ({ context, event }, scope) =>
      moveMoney(context, scope, async (_customer, pending) => {
        if (!deps.challenges) throw new FlowError('unavailable');
        const outcome = await deps.challenges.check(challengeIntentOf(pending), typeof event.value === 'string' ? event.value : '');
        if (outcome.result === 'wrong') throw new FlowError('code-wrong', { triesLeft: outcome.triesLeft });
        if (outcome.result !== 'ok') throw new FlowError(`code-${outcome.result}`);
        await checkSimSwap(context);
      }),
    ),
    resendCode: actor(logger, 'resendCode', async ({ context }) => {
      const customer = requireCustomer(context);
      const sent = await sendCode(context, pendingOf(context, customer.clientId));
      if (sent.status === 'send-limit') throw new FlowError('code-send-limit');
      return { sendsLeft: sent.sendsLeft };
    }),
    cancelCode: actor(logger, 'cancelCode', async ({ context }) => {
      const customer = requireCustomer(context);
      if (!deps.challenges) throw new FlowError('unavailable');
      return { revoked: await deps.challenges.revoke(customer.clientId, ['money']) };
    }),
    /** A payment code outlives the USSD session: after the PIN, a redial within its validity resumes at the code. */
    findPendingCode: actor(logger, 'findPendingCode', async ({ context }, { hop }) =>
      takeRead(hop, 'findPendingCode', () => pendingCode(context)),
    ),
  } satisfies Record<keyof typeof MONEY_MANIFESTS.actors, AnyActorLogic>;

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

  // The accounts are read early by the store (EngineDeps.warmAccounts: the cached list only, never Fineract).
  const warm = (context: FlowContext, hop: HopContext | undefined) => startRead(hop, 'findPendingCode', () => pendingCode(context));
  /** The reads `loadMenu` makes at once (each taken from the PIN hop's early read when there is one). */
  const menuReads = {
    accounts: (context: FlowContext, hop: HopContext | undefined) => takeRead(hop, 'loadAccounts', () => accountsOf(context, hop)),
    pendingCode: (context: FlowContext, hop: HopContext | undefined) => takeRead(hop, 'findPendingCode', () => pendingCode(context)),
  };
  return { actors, actions, guards, warm, menuReads };
}
