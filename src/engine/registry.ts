import { assign, fromPromise, setup, type AnyActorLogic } from 'xstate';
import type { Logger } from 'pino';
import { FineractError, OwnershipError } from '../fineract/errors.js';
import type { FineractClient } from '../fineract/types.js';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';

/**
 * The setup() registry: every action, guard and actor a flow file may name, implemented once. Flow files
 * only reference these by name; the loader refuses any other name.
 */

/** The PIN check the flows use (implemented by security/pin.ts). */
export interface PinVerifier {
  verify(
    clientId: number,
    pin: string,
  ): Promise<
    { result: 'ok' } | { result: 'wrong'; attemptsLeft: number } | { result: 'locked' } | { result: 'not-set' }
  >;
}

export interface EngineDeps {
  fineract: FineractClient;
  pins: PinVerifier;
  logger: Logger;
}

/** Codes a flow branches on with the `errorIs` guard. */
export type FlowErrorCode =
  | 'unregistered'
  | 'inactive'
  | 'pin-wrong'
  | 'pin-locked'
  | 'pin-not-set'
  | 'unavailable'
  | 'not-found'
  | 'rejected'
  | 'forbidden';

/** The only error actors reject with; its message never carries customer data. */
export class FlowError extends Error {
  constructor(
    readonly code: FlowErrorCode,
    readonly details: Record<string, string | number> = {},
  ) {
    super(code);
    this.name = 'FlowError';
  }
}

/** What the turn runner starts a flow with. */
export interface FlowInput {
  channel: FlowContext['channel'];
  session: string;
  msisdn: string;
  lang: string;
}

interface ActorInput {
  context: FlowContext;
  event: FlowEvent;
}

/** Converts anything an actor throws into a FlowError, so guards see a closed set of codes. */
export function toFlowError(error: unknown): FlowError {
  if (error instanceof FlowError) return error;
  if (error instanceof OwnershipError) return new FlowError('forbidden');
  if (error instanceof FineractError) {
    if (error.kind === 'not-found') return new FlowError('not-found');
    if (error.kind === 'rejected') return new FlowError('rejected');
    return new FlowError('unavailable');
  }
  return new FlowError('unavailable');
}

const errorOf = (event: FlowEvent): FlowError | undefined =>
  event.error instanceof FlowError ? event.error : undefined;

const requireCustomer = (context: FlowContext) => {
  if (!context.customer) throw new FlowError('unregistered');
  return context.customer;
};

/** Wraps an async function as a named actor whose failures are always FlowErrors. */
function actor<T>(logger: Logger, name: string, run: (input: ActorInput) => Promise<T>) {
  return fromPromise<T, ActorInput>(async ({ input }) => {
    try {
      return await run(input);
    } catch (error) {
      const flowError = toFlowError(error);
      if (flowError.code === 'unavailable') {
        logger.warn({ actor: name, err: { type: (error as Error)?.name, message: (error as Error)?.message } }, 'actor failed');
      }
      throw flowError;
    }
  });
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
      const outcome = await pins.verify(customer.clientId, typeof event.value === 'string' ? event.value : '');
      if (outcome.result === 'ok') return true;
      if (outcome.result === 'wrong') throw new FlowError('pin-wrong', { attemptsLeft: outcome.attemptsLeft });
      if (outcome.result === 'locked') throw new FlowError('pin-locked');
      throw new FlowError('pin-not-set');
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

  return { actors, actions, guards };
}

export type Implementations = ReturnType<typeof createImplementations>;

/** Parameters each parameterised guard or action requires, checked by the loader. */
export const REQUIRED_PARAMS: Record<string, string[]> = { errorIs: ['code'] };

/** Creates the typed setup() every flow machine is built from. */
export function createFlowSetup(impl: Implementations) {
  return setup({
    types: {} as { context: FlowContext; events: FlowEvent; input: FlowInput },
    actors: impl.actors,
    actions: impl.actions as never,
    guards: impl.guards as never,
  });
}
