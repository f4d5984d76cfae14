import { setup, type AnyActorLogic } from 'xstate';
import type { FineractClient } from '../fineract/types.js';
import type { HopContext } from '../session/hop-context.js';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';
import { createMoneyImplementations, savingsFact, type LoanRepaymentSource } from './registry-money.js';
import { MONEY_MANIFESTS } from './registry-money-manifest.js';
import { actor, checkPin, FlowError, requireCustomer, toFlowError, type FlowInput } from './actor-kit.js';
import { CALLBACK_MANIFESTS, createCallbackImplementations } from './registry-callback.js';
import { createIdentityImplementations, IDENTITY_MANIFESTS } from './registry-identity.js';
import { AGENT_MANIFESTS, createAgentImplementations } from './registry-agents.js';
import { APPROVAL_MANIFESTS, createApprovalImplementations } from './registry-approvals.js';
import { ORIGINATION_MANIFESTS, createOriginationImplementations } from './registry-origination.js';
import { SIGNUP_MANIFESTS, createSignupImplementations } from './registry-signup.js';
import { CORE_MANIFESTS } from './registry-core-manifest.js';
import { createCoreActions, type MenuOutput } from './registry-core-actions.js';
import { MONEY_UNAVAILABLE, type EngineDeps } from './registry-deps.js';
import type { ManifestSet } from './manifest.js';
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
 *
 * Import the registry from here. Its core part (finding the customer, the PIN, the menu, balances, the
 * statement, the language) has its manifests in `registry-core-manifest.ts`, its actions and guards in
 * `registry-core-actions.ts` and its actors below, which read the other parts; what the registry is built
 * from (`EngineDeps`) is in `registry-deps.ts`.
 */

export { CORE_MANIFESTS } from './registry-core-manifest.js';
export type { EngineDeps } from './registry-deps.js';

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

  const { actions, guards } = createCoreActions();

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
