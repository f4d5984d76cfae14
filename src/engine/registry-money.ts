import type { AnyActorLogic } from 'xstate';
import type { Logger } from 'pino';
import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import { maskName } from '../text/names.js';
import type { FineractClient } from '../fineract/types.js';
import type { SimSwapCheck } from '../security/sim-swap.js';
import type { ChallengeIntent, ChallengeService, IssueResult } from '../security/challenge.js';
import type { PaidPayees } from '../security/paid-payees.js';
import { formatAmount } from '../text/i18n.js';
import { parseAmount } from '../money/amount.js';
import type { TransferService } from '../money/transfer-service.js';
import { MoneyPaused, payeeOf, type FailureCode, type TransferIntent } from '../money/transfer-types.js';
import { actor, checkPin, FlowError, requireCustomer, toFlowError, type ActorScope, type PinVerifier } from './actor-kit.js';
import { keepSessionFact, sessionFact, startRead, takeRead, type HopContext } from '../session/hop-context.js';
import type { FlowContext, LostConfirmationAnswer } from './types.js';
import { MONEY_MANIFESTS } from './registry-money-manifest.js';
import {
  challengeIntentOf,
  pendingIntentSchema,
  resumeOf,
  sessionIntent,
  transferIntentOf,
  type PendingIntent,
} from './registry-money-intent.js';
import { createMoneyActions, type MoneyContextDeps } from './registry-money-actions.js';
import type { ApprovalService } from '../approvals/approval.js';
import { ApprovalRefused } from '../approvals/approval-service.js';
import type { MandateRegistry } from '../approvals/mandates.js';

/**
 * The money part of the setup() registry: recipients, amounts, loan repayment details and the transfer
 * itself (PIN-confirmed, exactly once), with its step-up: a one-time code by SMS, bound to the intent, when
 * the amount, a first payee or a fresh credential asks for one (threat T31). Flow files name these;
 * behaviour lives here: the actors in this file, the actions and guards in registry-money-actions.ts, the
 * money intent they share in registry-money-intent.ts, and what they declare in registry-money-manifest.ts.
 */

/** Next instalment and outstanding amount of a loan (implemented by the Fineract client). */
export interface LoanRepaymentSource {
  getLoanRepaymentInfo(
    clientId: number,
    loanId: number,
  ): Promise<{ totalOutstanding: number; nextInstalment?: { dueDate: string; amount: number } }>;
}

export interface MoneyDeps extends MoneyContextDeps {
  fineract: FineractClient & LoanRepaymentSource;
  pins: PinVerifier;
  transfers: TransferService;
  logger: Logger;
  /** Server secret (kept for implementations that key derived values; idempotency keys are random). */
  secret: string;
  /** Hop budget used when no hop deadline is set (background runs). */
  fallbackBudgetMs: number;
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
  /**
   * Business accounts (issue 11, threat T15): a money-out from an account with a mandate is raised for approval
   * instead of sent, whoever dials (its owner too); an initiator pays from the business account they are named on.
   */
  mandates?: {
    registry: Pick<MandateRegistry, 'forAccountId' | 'requestPayment'>;
    approvals: Pick<ApprovalService, 'request' | 'voidRequest'>;
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

const data = (context: FlowContext) => context.data;
const num = (value: unknown) => (typeof value === 'number' ? value : Number(value));

/** The savings account ids the session learned after the PIN (`loadAccounts`), primary first; else undefined. */
export function savingsFact(hop: HopContext | undefined, clientId: number): number[] | undefined {
  const known = sessionFact(hop, `savings:${clientId}`);
  if (known === undefined) return undefined;
  return known === '' ? [] : known.split(',').map(Number);
}

export function createMoneyImplementations(deps: MoneyDeps) {
  const { fineract, pins, transfers, logger } = deps;

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

  // The accounts are read early by the store (EngineDeps.warmAccounts: the cached list only, never Fineract).
  const warm = (context: FlowContext, hop: HopContext | undefined) => startRead(hop, 'findPendingCode', () => pendingCode(context));
  /** The reads `loadMenu` makes at once (each taken from the PIN hop's early read when there is one). */
  const menuReads = {
    accounts: (context: FlowContext, hop: HopContext | undefined) => takeRead(hop, 'loadAccounts', () => accountsOf(context, hop)),
    pendingCode: (context: FlowContext, hop: HopContext | undefined) => takeRead(hop, 'findPendingCode', () => pendingCode(context)),
  };
  return { actors, ...createMoneyActions(deps), warm, menuReads };
}
