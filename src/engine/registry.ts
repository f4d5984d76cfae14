import { assign, setup, type AnyActorLogic } from 'xstate';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { FineractClient } from '../fineract/types.js';
import type { HopContext } from '../session/hop-context.js';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';
import { createMoneyImplementations, savingsFact, type LoanRepaymentSource, type MoneyDeps } from './registry-money.js';
import { MONEY_MANIFESTS } from './registry-money-manifest.js';
import { rememberedAccounts, type MenuAccounts } from './registry-money-actions.js';
import {
  actor,
  checkPin,
  errorCodeParam,
  errorOf,
  FlowError,
  requireCustomer,
  toFlowError,
  type FlowInput,
  type PinVerifier,
} from './actor-kit.js';
import { CALLBACK_MANIFESTS, createCallbackImplementations, type CallbackRequester } from './registry-callback.js';
import { createIdentityImplementations, IDENTITY_MANIFESTS } from './registry-identity.js';
import { AGENT_MANIFESTS, createAgentImplementations } from './registry-agents.js';
import {
  APPROVAL_MANIFESTS,
  createApprovalImplementations,
  rememberedApprovalMenu,
  type ApprovalFlowDeps,
  type ApprovalMenu,
} from './registry-approvals.js';
import {
  ORIGINATION_MANIFESTS,
  createOriginationImplementations,
  rememberedApplicationMenu,
  type ApplicationMenu,
  type OriginationFlowDeps,
} from './registry-origination.js';
import { SIGNUP_MANIFESTS, createSignupImplementations, type SignupFlowDeps } from './registry-signup.js';
import type { AgentService } from '../agents/agent-service.js';
import type { IdentityService } from '../security/enrolment.js';
import { accountVar, amountVar, dateVar, type ManifestSet } from './manifest.js';
import { DEFAULT_COUNTRY, DEFAULT_CURRENCY } from '../constants.js';

export {
  ANY_ACTOR_ERRORS,
  errorCodeParam,
  FLOW_ERROR_CODES,
  FlowError,
  toFlowError,
  type FlowErrorCode,
  type FlowInput,
  type PinVerifier,
} from './actor-kit.js';

/**
 * The setup() registry: every action, guard and actor a flow file may name, implemented once. Flow files
 * only reference these by name; the loader refuses any other name. Each one declares its manifest (its
 * params, the flags and view variables it sets) in the `*_MANIFESTS` next to it; the implementations must
 * match the manifests name for name (checked by the compiler).
 */

const errorIsParams = z.strictObject({ code: errorCodeParam });

/** Manifests of the core actions, guards and actors (customer, PIN, balances, statement, language). */
export const CORE_MANIFESTS = {
  actors: {
    findCustomer: { description: "finds the customer by the session's phone number", errors: ['unregistered', 'inactive'] },
    verifyPin: {
      description: 'checks the PIN typed (or sent by SMS) for the customer',
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'sms-pin-off'],
    },
    loadMenu: {
      description:
        "after the PIN, what the menu needs, read at once: the customer's accounts (unanswered: the actor fails), the business " +
        'account and approvals waiting (issue 11, USSD only), loan applications and products (issue 12, USSD only) and a payment ' +
        'code still open from an earlier session; those three unanswered: left out (no entry, no code). Resolves ' +
        '{ pending: true | false, ... } (test it with codePending)',
    },
    fetchBalances: { description: "reads the customer's savings balances" },
    fetchStatement: { description: 'reads the last 10 transactions of the primary savings account' },
  },
  actions: {
    rememberCustomer: { description: 'keeps the customer found by findCustomer' },
    greet: {
      description: "puts the customer's first name in the view",
      views: { name: { max: 20, example: 'Nyambura-Wairimu Kam', description: "customer's first name" } },
    },
    rememberMenu: {
      description:
        'keeps what loadMenu found, as rememberAccounts, rememberApprovalMenu and rememberApplicationMenu do: which menu items work for this customer',
      flags: {
        ...MONEY_MANIFESTS.actions.rememberAccounts.flags,
        ...APPROVAL_MANIFESTS.actions.rememberApprovalMenu.flags,
        ...ORIGINATION_MANIFESTS.actions.rememberApplicationMenu.flags,
      },
      views: { ...MONEY_MANIFESTS.actions.rememberAccounts.views, ...APPROVAL_MANIFESTS.actions.rememberApprovalMenu.views },
      lists: { ...MONEY_MANIFESTS.actions.rememberAccounts.lists },
    },
    rememberAttempts: {
      description: 'after pin-wrong: how many PIN attempts are left',
      views: { attemptsLeft: { max: 1, example: '9', description: 'PIN attempts left' } },
    },
    rememberBalances: {
      description: 'keeps the balances fetched by fetchBalances',
      lists: {
        balances: {
          description: 'one row per savings account',
          row: { account: accountVar, amount: amountVar('available balance of the account') },
        },
      },
    },
    rememberStatement: {
      description: 'keeps the statement fetched by fetchStatement',
      views: { account: accountVar },
      lists: {
        lines: {
          description: 'one row per transaction, newest first',
          row: {
            date: dateVar('a date (dd/mm/yyyy)'),
            sign: { max: 1, example: '-', description: '+ for credits, - for debits' },
            amount: amountVar('the amount of the transaction'),
          },
        },
      },
    },
    setLanguage: { description: "switches the session's language to the option's `lang` param" },
  },
  guards: {
    errorIs: { description: 'the actor failed with this code: `{ type: errorIs, params: { code: pin-locked } }`', params: errorIsParams },
  },
} as const satisfies ManifestSet;

/** Every name a flow file may use, with its manifest. */
export const FLOW_MANIFESTS: ManifestSet = {
  actors: {
    ...CORE_MANIFESTS.actors,
    ...MONEY_MANIFESTS.actors,
    ...CALLBACK_MANIFESTS.actors,
    ...IDENTITY_MANIFESTS.actors,
    ...AGENT_MANIFESTS.actors,
    ...APPROVAL_MANIFESTS.actors,
    ...ORIGINATION_MANIFESTS.actors,
    ...SIGNUP_MANIFESTS.actors,
  },
  actions: {
    ...CORE_MANIFESTS.actions,
    ...MONEY_MANIFESTS.actions,
    ...CALLBACK_MANIFESTS.actions,
    ...IDENTITY_MANIFESTS.actions,
    ...AGENT_MANIFESTS.actions,
    ...APPROVAL_MANIFESTS.actions,
    ...ORIGINATION_MANIFESTS.actions,
    ...SIGNUP_MANIFESTS.actions,
  },
  guards: {
    ...CORE_MANIFESTS.guards,
    ...MONEY_MANIFESTS.guards,
    ...IDENTITY_MANIFESTS.guards,
    ...AGENT_MANIFESTS.guards,
    ...APPROVAL_MANIFESTS.guards,
    ...SIGNUP_MANIFESTS.guards,
  },
};

export interface EngineDeps {
  fineract: FineractClient;
  pins: PinVerifier;
  logger: Logger;
  /** Money movements; without them the money actors are still registered but refuse to run. */
  money?: Omit<MoneyDeps, 'fineract' | 'pins' | 'logger'>;
  /** Call-back requests (USSD "Call me back", SMS CALL); without it `requestCallback` answers unavailable. */
  callbacks?: CallbackRequester;
  /** SMS_PIN_ENABLED: `false` refuses every PIN that arrives by SMS, before it is checked (threat T6). */
  smsPinEnabled?: boolean;
  /** Enrolment, PIN changes and self-unlock (threat T11); without it every customer counts as enrolled. */
  identity?: IdentityService;
  /** Agent cash-in and cash-out (issue 11); without it the agent actors answer unavailable. */
  agents?: AgentService;
  /** Approvals and business mandates (issue 11); without them nobody sees a business account or "Approvals". */
  approvals?: Omit<ApprovalFlowDeps, 'pins' | 'logger'>;
  /** Loan applications (issue 12): the SMS status keyword, "My applications" and "Apply for a loan" on USSD. */
  applications?: OriginationFlowDeps['applications'];
  /** The product catalogue (issue 12): the loan products "Apply for a loan" offers; without it none. */
  catalogue?: OriginationFlowDeps['catalogue'];
  /**
   * Starts reading the customer's cached accounts list (the menu's) in the round trip of the PIN check: a
   * plain read of the cache, which never calls Fineract (a wrong PIN, or a flow that shows no such menu,
   * costs that read and nothing else).
   */
  warmAccounts?: (clientId: number, hop: HopContext | undefined) => void;
  /** Sign-up of numbers that are not clients (issue 12, point 2) and the PIN service that keeps their PIN; without them an unknown number is told it is not registered. */
  signup?: { profiles: NonNullable<SignupFlowDeps['profiles']>; pins: NonNullable<SignupFlowDeps['pins']> };
}

/**
 * What `loadMenu` resolves with: the pending code's answer at the top (`pending`, and the `transfer` it was sent
 * for, so `codePending` and `resumeCode` read it as they read findPendingCode's), the accounts, and the two
 * menu parts (null: unanswered).
 */
interface MenuOutput {
  pending: boolean;
  accounts: MenuAccounts;
  approvalMenu?: ApprovalMenu | null;
  applicationMenu?: ApplicationMenu | null;
}

/** Builds the implementations bound to this process's dependencies. */
export function createImplementations(deps: EngineDeps) {
  const { fineract, pins, logger } = deps;

  /**
   * The customer's savings account ids, primary first: as the session learned them after the PIN (the menu's
   * accounts read), else read now. Each account is then read with its ownership checked (T10).
   */
  const savingsIds = async (clientId: number, hop: HopContext | undefined): Promise<number[]> => {
    const known = savingsFact(hop, clientId);
    if (known) return known;
    return (await fineract.listAccounts(clientId, { hop })).savings.map((s) => s.id);
  };

  const money = createMoneyImplementations({
    fineract: fineract as FineractClient & LoanRepaymentSource,
    pins,
    logger,
    ...(deps.money ?? MONEY_UNAVAILABLE),
  });
  const callback = createCallbackImplementations({ callbacks: deps.callbacks, logger });
  const identity = createIdentityImplementations({ identity: deps.identity, logger });
  const agents = createAgentImplementations({
    agents: deps.agents,
    pins,
    logger,
    defaultCountry: deps.money?.defaultCountry ?? DEFAULT_COUNTRY,
    currency: deps.money?.currency ?? DEFAULT_CURRENCY,
    fallbackBudgetMs: deps.money?.fallbackBudgetMs ?? 4000,
    simSwap: deps.money?.simSwap,
  });
  const approvals = createApprovalImplementations({ timeZone: 'UTC', ...deps.approvals, pins, logger });
  const origination = createOriginationImplementations({
    applications: deps.applications,
    catalogue: deps.catalogue,
    pins,
    profiles: deps.signup?.profiles,
    profilePins: deps.signup?.pins,
    logger,
  });
  const actors = {
    findCustomer: actor(logger, 'findCustomer', async ({ context }, { hop }) => {
      // A dial's cached lookup was read with the session lock (the hop's early read).
      const customer = await fineract.findClientByPhone(context.msisdn, { hop });
      if (!customer) throw new FlowError('unregistered');
      if (!customer.active) throw new FlowError('inactive');
      return customer;
    }),
    verifyPin: actor(logger, 'verifyPin', async ({ context, event }, { hop }) => {
      const customer = requireCustomer(context);
      if (context.channel === 'sms' && deps.smsPinEnabled === false) throw new FlowError('sms-pin-off');
      // What the USSD menu after a right PIN shows is read in the PIN check's round trip (used only once it is
      // right; a wrong PIN costs these reads, cached ones, and nothing else).
      if (context.channel === 'ussd') {
        deps.warmAccounts?.(customer.clientId, hop);
        for (const warm of afterPin) warm(context, hop);
      }
      await checkPin(pins, customer.clientId, event, hop);
      return true;
    }),
    /**
     * After the PIN: the four reads of the menu at once (each taken from the PIN hop's early read when there is
     * one). Only the accounts are needed; the others, unanswered, leave their entries (or the code) out.
     */
    loadMenu: actor(logger, 'loadMenu', async ({ context }, { hop }): Promise<MenuOutput> => {
      const optional = <T>(part: string, read: Promise<T>) =>
        read.catch((error: unknown) => {
          if (toFlowError(error).code === 'unavailable') {
            logger.warn(
              { actor: 'loadMenu', part, err: { type: (error as Error)?.name, message: (error as Error)?.message } },
              'actor failed',
            );
          }
          return null;
        });
      const [accounts, approvalMenu, applicationMenu, code] = await Promise.all([
        money.menuReads.accounts(context, hop),
        optional('approvalMenu', approvals.menuRead(context, hop)),
        optional('applicationMenu', origination.menuRead(context, hop)),
        optional('pendingCode', money.menuReads.pendingCode(context, hop)),
      ]);
      return { ...(code ?? { pending: false }), accounts, approvalMenu, applicationMenu };
    }),
    fetchBalances: actor(logger, 'fetchBalances', async ({ context }, { hop }) => {
      const customer = requireCustomer(context);
      const savings = await savingsIds(customer.clientId, hop);
      const accounts = await Promise.all(savings.map((id) => fineract.getOwnedSavingsAccount(customer.clientId, id, { hop })));
      return accounts.map((a): ViewVars => ({
        account: `${a.productName} ${a.accountNo}`,
        amount: { amount: a.availableBalance, currency: a.currency, decimals: a.decimalPlaces },
      }));
    }),
    fetchStatement: actor(logger, 'fetchStatement', async ({ context }, { hop }) => {
      const customer = requireCustomer(context);
      const primary = (await savingsIds(customer.clientId, hop))[0];
      if (primary === undefined) return { account: '', lines: [] as ViewVars[] };
      const account = await fineract.getOwnedSavingsAccount(customer.clientId, primary, { transactions: true, hop });
      const lines = (account.transactions ?? []).slice(0, 10).map((t): ViewVars => ({
        date: { date: t.date },
        sign: t.credit ? '+' : '-',
        amount: { amount: t.amount, currency: account.currency, decimals: account.decimalPlaces },
      }));
      return { account: account.accountNo, lines };
    }),
  } satisfies Record<keyof typeof CORE_MANIFESTS.actors, AnyActorLogic>;

  const actions = {
    rememberCustomer: assign(({ event }: { event: FlowEvent }) => {
      const c = event.output as { clientId: number; displayName: string; firstName?: string; officeId: number };
      const name = c.firstName ?? c.displayName.split(' ')[0] ?? c.displayName;
      return {
        customer: { clientId: c.clientId, name, displayName: c.displayName, officeId: c.officeId },
      } satisfies Partial<FlowContext>;
    }),
    greet: assign(({ context }: { context: FlowContext }) => ({
      view: { ...context.view, name: context.customer?.name ?? '' },
    })),
    rememberMenu: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => {
      const out = event.output as MenuOutput;
      // The three parts in turn, each over what the one before kept; a part left unanswered keeps nothing.
      let kept: Pick<FlowContext, 'data' | 'view'> = rememberedAccounts(context, out.accounts);
      if (out.approvalMenu) kept = rememberedApprovalMenu({ ...context, ...kept }, out.approvalMenu);
      if (out.applicationMenu) kept = { ...kept, ...rememberedApplicationMenu({ ...context, ...kept }, out.applicationMenu) };
      return kept;
    }),
    rememberAttempts: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => ({
      view: { ...context.view, attemptsLeft: Number(errorOf(event)?.details.attemptsLeft ?? 0) },
    })),
    rememberBalances: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => ({
      view: { ...context.view, balances: event.output as ViewVars[] },
    })),
    rememberStatement: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => {
      const out = event.output as { account: string; lines: ViewVars[] };
      return { view: { ...context.view, account: out.account, lines: out.lines } };
    }),
    setLanguage: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => ({
      lang: typeof event.lang === 'string' ? event.lang : context.lang,
    })),
  } satisfies Record<keyof typeof CORE_MANIFESTS.actions, unknown>;

  const guards = {
    /** True when the actor error has the given code: `{ type: errorIs, params: { code: pin-locked } }`. */
    errorIs: ({ event }: { event: FlowEvent }, params: z.infer<typeof errorIsParams>) => errorOf(event)?.code === params.code,
  } satisfies Record<keyof typeof CORE_MANIFESTS.guards, unknown>;

  const afterPin = [money.warm, approvals.warm, origination.warm];
  const signup = createSignupImplementations({ profiles: deps.signup?.profiles, pins: deps.signup?.pins, identity: deps.identity, logger });
  return {
    actors: {
      ...actors,
      ...money.actors,
      ...callback.actors,
      ...identity.actors,
      ...agents.actors,
      ...approvals.actors,
      ...origination.actors,
      ...signup.actors,
    },
    actions: {
      ...actions,
      ...money.actions,
      ...callback.actions,
      ...identity.actions,
      ...agents.actions,
      ...approvals.actions,
      ...origination.actions,
      ...signup.actions,
    },
    guards: { ...guards, ...money.guards, ...identity.guards, ...agents.guards, ...approvals.guards, ...signup.guards },
  };
}

/** Used where no money service is wired (tests of read-only flows): every transfer refuses. */
const MONEY_UNAVAILABLE: Omit<MoneyDeps, 'fineract' | 'pins' | 'logger'> = {
  transfers: {
    checkLimits: async () => undefined,
    execute: async () => {
      throw new FlowError('unavailable');
    },
  } as unknown as MoneyDeps['transfers'],
  secret: 'unused-secret-for-linting-only',
  defaultCountry: DEFAULT_COUNTRY,
  currency: DEFAULT_CURRENCY,
  fallbackBudgetMs: 4000,
  limits: { minCents: 1000, maxCents: 7_000_000, dailyCents: 15_000_000 },
};

export type Implementations = ReturnType<typeof createImplementations>;

/** Creates the typed setup() every flow machine is built from. */
export function createFlowSetup(impl: Implementations) {
  return setup({
    types: {} as { context: FlowContext; events: FlowEvent; input: FlowInput },
    actors: impl.actors,
    actions: impl.actions as never,
    guards: impl.guards as never,
  });
}
