import { assign, setup, type AnyActorLogic } from 'xstate';
import type { Logger } from 'pino';
import type { FineractClient } from '../fineract/types.js';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';
import { createMoneyImplementations, type LoanRepaymentSource, type MoneyDeps } from './registry-money.js';
import { actor, checkPin, errorOf, FlowError, requireCustomer, type FlowInput, type PinVerifier } from './actor-kit.js';
import { createCallbackImplementations, type CallbackRequester } from './registry-callback.js';

export { FlowError, toFlowError, type FlowErrorCode, type FlowInput, type PinVerifier } from './actor-kit.js';

/**
 * The setup() registry: every action, guard and actor a flow file may name, implemented once. Flow files
 * only reference these by name; the loader refuses any other name.
 */

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
}

/** Builds the implementations bound to this process's dependencies. */
export function createImplementations(deps: EngineDeps) {
  const { fineract, pins, logger } = deps;

  const actors = {
    findCustomer: actor(logger, 'findCustomer', async ({ context }) => {
      const customer = await fineract.findClientByPhone(context.msisdn);
      if (!customer) throw new FlowError('unregistered');
      if (!customer.active) throw new FlowError('inactive');
      return customer;
    }),
    verifyPin: actor(logger, 'verifyPin', async ({ context, event }) => {
      const customer = requireCustomer(context);
      if (context.channel === 'sms' && deps.smsPinEnabled === false) throw new FlowError('sms-pin-off');
      await checkPin(pins, customer.clientId, event);
      return true;
    }),
    fetchBalances: actor(logger, 'fetchBalances', async ({ context }) => {
      const customer = requireCustomer(context);
      const { savings } = await fineract.listAccounts(customer.clientId);
      const accounts = await Promise.all(
        savings.map((s) => fineract.getOwnedSavingsAccount(customer.clientId, s.id)),
      );
      return accounts.map(
        (a): ViewVars => ({
          account: `${a.productName} ${a.accountNo}`,
          amount: { amount: a.availableBalance, currency: a.currency, decimals: a.decimalPlaces },
        }),
      );
    }),
    fetchStatement: actor(logger, 'fetchStatement', async ({ context }) => {
      const customer = requireCustomer(context);
      const { savings } = await fineract.listAccounts(customer.clientId);
      const primary = savings[0];
      if (!primary) return { account: '', lines: [] as ViewVars[] };
      const account = await fineract.getOwnedSavingsAccount(customer.clientId, primary.id, { transactions: true });
      const lines = (account.transactions ?? []).slice(0, 10).map(
        (t): ViewVars => ({
          date: { date: t.date },
          sign: t.credit ? '+' : '-',
          amount: { amount: t.amount, currency: account.currency, decimals: account.decimalPlaces },
        }),
      );
      return { account: account.accountNo, lines };
    }),
  } satisfies Record<string, AnyActorLogic>;

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
  };

  const guards = {
    /** True when the actor error has the given code: `{ type: errorIs, params: { code: pin-locked } }`. */
    errorIs: ({ event }: { event: FlowEvent }, params: { code: string }) => errorOf(event)?.code === params.code,
  };

  const money = createMoneyImplementations({
    fineract: fineract as FineractClient & LoanRepaymentSource,
    pins,
    logger,
    ...(deps.money ?? MONEY_UNAVAILABLE),
  });
  const callback = createCallbackImplementations({ callbacks: deps.callbacks, logger });
  return {
    actors: { ...actors, ...money.actors, ...callback.actors },
    actions: { ...actions, ...money.actions, ...callback.actions },
    guards: { ...guards, ...money.guards },
  };
}

/** Used where no money service is wired (linting, tests of read-only flows): every transfer refuses. */
const MONEY_UNAVAILABLE: Omit<MoneyDeps, 'fineract' | 'pins' | 'logger'> = {
  transfers: {
    checkLimits: async () => undefined,
    execute: async () => {
      throw new FlowError('unavailable');
    },
  } as unknown as MoneyDeps['transfers'],
  secret: 'unused-secret-for-linting-only',
  defaultCountry: 'KE',
  currency: 'KES',
  fallbackBudgetMs: 4000,
  limits: { minCents: 1000, maxCents: 7_000_000, dailyCents: 15_000_000 },
};

export type Implementations = ReturnType<typeof createImplementations>;

/** Parameters each parameterised guard or action requires, checked by the loader. */
export const REQUIRED_PARAMS: Record<string, string[]> = {
  errorIs: ['code'],
  usePurpose: ['purpose'],
  purposeIs: ['purpose'],
  outcomeIs: ['status'],
};

/** Creates the typed setup() every flow machine is built from. */
export function createFlowSetup(impl: Implementations) {
  return setup({
    types: {} as { context: FlowContext; events: FlowEvent; input: FlowInput },
    actors: impl.actors,
    actions: impl.actions as never,
    guards: impl.guards as never,
  });
}
