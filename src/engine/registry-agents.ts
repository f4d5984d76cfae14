import { randomBytes } from 'node:crypto';
import { assign, type AnyActorLogic } from 'xstate';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { CountryCode } from 'libphonenumber-js';
import { MoneyPaused } from '../money/transfer-types.js';
import { ApprovalRefused } from '../approvals/approval-service.js';
import type { AgentService } from '../agents/agent-service.js';
import { AgentRefusal, type CashCustomer, type CashInMovement } from '../agents/agent-types.js';
import type { LimitRule } from '../agents/limits.js';
import { maskPhone } from '../text/phone.js';
import { maskName } from '../text/names.js';
import { actor, checkPin, FlowError, requireCustomer, type ActorScope, type PinVerifier } from './actor-kit.js';
import type { SimSwapCheck } from '../security/sim-swap.js';
import type { FlowContext, FlowEvent, LostConfirmationAnswer, ViewVars } from './types.js';
import { amountVar, type ManifestSet } from './manifest.js';
import { STATEMENT_LINES } from './registry-core-manifest.js';

/**
 * The agent part of the setup() registry (issue 11; threats T14, T32): the agent menu behind the agent's PIN
 * (cash-in, cash-out the customer confirms, the float's balance and statement), and the customer's store-number
 * check on a cash-out approval. Behaviour lives in `src/agents/`; these adapt it to flows.
 */

export interface AgentFlowDeps {
  agents?: AgentService;
  pins: PinVerifier;
  logger: Logger;
  defaultCountry: string;
  currency: string;
  /** Hop budget used when no hop deadline is set (background runs). */
  fallbackBudgetMs: number;
  /** Threat T4: a float is money; a cash-in from a number whose SIM was just swapped is refused. */
  simSwap?: SimSwapCheck;
}

const DIRECTIONS = ['in', 'out'] as const;
const directionParams = z.strictObject({ direction: z.enum(DIRECTIONS) });
const customerVar = { max: 20, example: 'Nyambura-Wairimu K.', description: "the customer's masked name (Amina W.)" };
const refVar = { max: 8, example: 'AB12CD34', description: 'reference shown to agent and customer' };
/** What an agent limit refusal becomes in a flow. */
const LIMIT_ERRORS = ['amount-low', 'amount-high', 'agent-limit', 'customer-limit', 'float-low'] as const;

export const AGENT_MANIFESTS = {
  actors: {
    findAgent: { description: "after the PIN: the caller's agent record (store number, float)", errors: ['not-agent', 'agent-suspended'] },
    findCashCustomer: { description: 'finds the customer of the number the agent typed (not the agent)', errors: ['unknown-recipient'] },
    checkCashAmount: {
      description: "checks the amount typed against the agent's limits (and, for a cash-in, the float floor); refusals are audited",
      errors: [...LIMIT_ERRORS],
    },
    agentCashIn: {
      description:
        "the agent's PIN, then the float pays the customer's savings exactly once (limits reserved first); resolves { status: done | processing }",
      keys: ['transfer.pending'],
      errors: [
        'pin-wrong',
        'pin-locked',
        'pin-not-set',
        'insufficient',
        'inactive',
        'money-paused',
        'sim-swap',
        'sim-swap-unknown',
        ...LIMIT_ERRORS,
      ],
    },
    agentCashOut: {
      description:
        "the agent's PIN, then a cash-out approval the customer confirms on their own phone (amount held on the customer's savings); moves nothing now",
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'insufficient', 'inactive', 'money-paused', 'cash-out-pending', ...LIMIT_ERRORS],
    },
    fetchFloat: { description: "reads the float's available balance" },
    fetchFloatStatement: { description: "reads the float's last 10 transactions" },
    checkCustomerId: {
      description:
        "AGENT_CASHOUT_ID_CHECK: the ID number the agent keyed must be one of the customer's active identifiers in Fineract (mismatches audited)",
      errors: ['id-mismatch'],
    },
    checkStoreNumber: {
      description:
        "customer side of a cash-out (context.data.approvalId): the store number typed must be the requesting agent's, as shown on the counter",
      errors: ['store-wrong'],
    },
  },
  actions: {
    rememberAgent: {
      description: 'keeps the agent found by findAgent',
      views: { store: { max: 10, example: '5501', description: "the agent's store number" } },
    },
    useCash: {
      description: 'starts a cash journey: `{ type: useCash, params: { direction: in } }`',
      params: directionParams,
    },
    rememberCashCustomer: {
      description: 'keeps the customer found by findCashCustomer',
      views: {
        customer: customerVar,
        counterparty: customerVar,
        phone: { max: 13, example: '+255711000009', description: 'masked number (0711***002)' },
      },
    },
    rememberCashAmount: {
      description: 'fixes the cash movement (a new idempotency key) with the amount checked',
      views: {
        amount: amountVar('the cash amount'),
        fee: amountVar('the cash-out fee the customer pays (flows/fees/agent-fees.yaml)'),
        ref: refVar,
      },
    },
    rememberCashOut: {
      description: 'keeps the cash-out approval requested by agentCashOut',
      views: { ref: refVar, minutes: { max: 3, example: '120', description: 'minutes the customer has to confirm' } },
    },
    rememberIdChecked: { description: "after checkCustomerId: this customer's ID was matched, the cash-out request may be sent" },
    rememberFloat: { description: "keeps the float's balance", views: { float: amountVar('available float balance') } },
    rememberFloatStatement: {
      description: "keeps the float's statement",
      lists: { lines: STATEMENT_LINES },
    },
  },
  guards: {
    cashIs: { description: 'the cash journey is this one: `{ type: cashIs, params: { direction: out } }`', params: directionParams },
    idCheckNeeded: { description: "a cash-out while AGENT_CASHOUT_ID_CHECK is on: the agent must key the customer's ID number first" },
  },
} as const satisfies ManifestSet;

type Ctx = { context: FlowContext; event: FlowEvent };

/** The flow error of an agent refusal. */
function limitError(rule: LimitRule | undefined): FlowError {
  switch (rule) {
    case 'amount-low':
    case 'amount-high':
      return new FlowError(rule);
    case 'customer-daily':
      return new FlowError('customer-limit');
    case 'float-floor':
      return new FlowError('float-low');
    default:
      return new FlowError('agent-limit');
  }
}

function toAgentFlowError(error: unknown): unknown {
  if (error instanceof AgentRefusal) {
    if (error.code === 'not-agent') return new FlowError('not-agent');
    if (error.code === 'suspended') return new FlowError('agent-suspended');
    if (error.code === 'id-unchecked') return new FlowError('unavailable');
    if (error.code === 'pending') return new FlowError('cash-out-pending');
    return limitError(error.rule);
  }
  if (error instanceof MoneyPaused) return new FlowError('money-paused');
  if (error instanceof ApprovalRefused) {
    if (error.reason === 'insufficient') return new FlowError('insufficient');
    if (error.reason === 'inactive') return new FlowError('inactive');
    return new FlowError('unavailable');
  }
  return error;
}

/**
 * The movement the agent's confirmation screen fixed (rememberCashAmount) in `direction`: its id, customer and
 * amount, or undefined when the session holds none.
 */
function cashOf(context: FlowContext, direction: 'in' | 'out'): { id: string; customer: CashCustomer; cents: number } | undefined {
  const id = String(context.data.cashId ?? '');
  const cents = Number(context.data.cashCents);
  const raw = context.data.cashCustomer;
  if (!context.customer || context.data.cash !== direction || !/^[0-9a-f]{32}$/.test(id) || typeof raw !== 'string') return undefined;
  if (!Number.isSafeInteger(cents) || cents <= 0) return undefined;
  return { id, customer: JSON.parse(raw) as CashCustomer, cents };
}

/** The cash-in the agent's confirmation screen fixed (rememberCashAmount), or undefined when the session holds none. */
function cashInOf(context: FlowContext): { customer: CashCustomer; cents: number; movement: CashInMovement } | undefined {
  const cash = cashOf(context, 'in');
  const me = context.customer;
  if (!cash || !me) return undefined;
  const { id, customer, cents } = cash;
  return {
    customer,
    cents,
    movement: {
      id,
      agentMsisdn: context.msisdn,
      agentLang: context.lang,
      agentLabel: maskName(me.displayName),
      agentOfficeId: me.officeId,
    },
  };
}

/**
 * A retry of the cash-in's confirming hop whose first run still holds the session lock (its process died, or
 * it is slow; threat T29): the outcome goes by SMS (`AgentService.tellLostCashIn`) and the retry answers
 * "being processed" with the movement's ref. Undefined when the session is at no cash-in confirmation.
 */
export async function tellLostCashIn(agents: AgentService | undefined, context: FlowContext): Promise<LostConfirmationAnswer | undefined> {
  const cash = agents && cashInOf(context);
  if (!cash) return undefined;
  const ref = await agents.tellLostCashIn(context.customer!.clientId, cash.customer, cash.cents, cash.movement);
  return { key: 'transfer.processing', vars: { ref } };
}

/**
 * A retry of the cash-out confirmation whose first run still holds the session lock (threat T29): when that run
 * raised the request, the retry answers it as the run would have ("Request sent", its ref and the minutes
 * left), and the customer's SMS is the request's own. When it raised none, none can be raised any more
 * (`AgentService.tellLostCashOut`) and the retry gets the polite end: nothing is held, and the agent's next
 * try is not refused as a request already waiting. Undefined when the session is at no cash-out confirmation.
 */
export async function tellLostCashOut(agents: AgentService | undefined, context: FlowContext): Promise<LostConfirmationAnswer | undefined> {
  const cash = agents && cashOf(context, 'out');
  if (!cash) return undefined;
  const raised = await agents.tellLostCashOut(cash.customer, cash.id);
  if (!raised || raised.requester.clientId !== context.customer!.clientId) return undefined;
  return { key: 'agent.cashOutWaiting', vars: { ref: raised.ref, minutes: String(cashOutMinutes(raised)) } };
}

/** The minutes an agent's cash-out request gives the customer to confirm, as the agent's screen says them (at least 1). */
const cashOutMinutes = (approval: { expiresAt: number; createdAt: number }) =>
  Math.max(1, Math.round((approval.expiresAt - approval.createdAt) / 60_000));

export function createAgentImplementations(deps: AgentFlowDeps) {
  const { logger } = deps;
  const service = () => {
    if (!deps.agents) throw new FlowError('unavailable');
    return deps.agents;
  };
  const agentOf = async (context: FlowContext) => service().agentOf(requireCustomer(context).clientId);
  const cashCustomerOf = (context: FlowContext): CashCustomer => {
    const raw = context.data.cashCustomer;
    if (typeof raw !== 'string') throw new FlowError('unavailable');
    return JSON.parse(raw) as CashCustomer;
  };
  const cashIdOf = (context: FlowContext) => {
    const id = context.data.cashId;
    if (typeof id !== 'string' || !/^[0-9a-f]{32}$/.test(id)) throw new FlowError('unavailable');
    return id;
  };
  const cents = (context: FlowContext) => {
    const value = Number(context.data.cashCents);
    if (!Number.isSafeInteger(value) || value <= 0) throw new FlowError('unavailable');
    return value;
  };
  const wrap = <T>(name: string, run: (input: Ctx, scope: ActorScope) => Promise<T>) =>
    actor(logger, name, async (input, scope) => {
      try {
        return await run(input, scope);
      } catch (error) {
        throw toAgentFlowError(error);
      }
    });
  const money = (amountCents: number) => ({ amount: amountCents / 100, currency: deps.currency });

  const actors = {
    findAgent: wrap('findAgent', async ({ context }) => {
      const agent = await agentOf(context);
      return { storeNumber: agent.storeNumber };
    }),
    findCashCustomer: wrap('findCashCustomer', async ({ context, event }, { hop }) => {
      const agent = await agentOf(context);
      const found = await service().findCustomer(agent, String(event.value ?? ''), hop);
      if (!found) throw new FlowError('unknown-recipient');
      return found;
    }),
    checkCashAmount: wrap('checkCashAmount', async ({ context, event }, { hop }) => {
      const agent = await agentOf(context);
      const typed = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(event.value ?? '').trim());
      if (!typed) throw new FlowError('amount-low');
      const amount = Number(typed[1]) * 100 + Number((typed[2] ?? '0').padEnd(2, '0'));
      const direction = context.data.cash === 'out' ? 'out' : 'in';
      await service().check(agent, cashCustomerOf(context), direction, amount, hop);
      return { cents: amount, fee: service().feeFor(direction, amount) };
    }),
    agentCashIn: wrap('agentCashIn', async ({ context, event }, { signal, hop }) => {
      const me = requireCustomer(context);
      await checkPin(deps.pins, me.clientId, event, hop);
      if (deps.simSwap) {
        const swapped = await deps.simSwap.recentlySwapped(context.msisdn).catch(() => Promise.reject(new FlowError('sim-swap-unknown')));
        if (swapped) throw new FlowError('sim-swap');
      }
      const agent = await agentOf(context);
      const cash = cashInOf(context);
      if (!cash) throw new FlowError('unavailable');
      const { intent, outcome } = await service().cashIn(
        agent,
        cash.customer,
        cash.cents,
        cash.movement,
        hop?.deadline ?? Date.now() + deps.fallbackBudgetMs,
        signal,
        hop,
      );
      if (outcome.status === 'failed') throw new FlowError(outcome.code === 'over-daily' ? 'agent-limit' : outcome.code);
      return outcome.status === 'done' ? { status: 'done', ref: intent.ref } : { status: 'processing', ref: intent.ref };
    }),
    agentCashOut: wrap('agentCashOut', async ({ context, event }, { hop }) => {
      const me = requireCustomer(context);
      await checkPin(deps.pins, me.clientId, event, hop);
      const agent = await agentOf(context);
      const approval = await service().requestCashOut(
        agent,
        cashCustomerOf(context),
        cents(context),
        {
          msisdn: context.msisdn,
          lang: context.lang,
          label: maskName(me.displayName),
          officeId: me.officeId,
          // Matched for this very customer (a new customer in the session starts without it).
          idChecked: context.data.idCheckedFor === cashCustomerOf(context).clientId,
        },
        cashIdOf(context),
        hop,
      );
      return { ref: approval.ref, minutes: cashOutMinutes(approval) };
    }),
    fetchFloat: wrap('fetchFloat', async ({ context }, { hop }) => {
      const float = await service().float(await agentOf(context), false, hop);
      return { amount: float.availableBalance, currency: float.currency, decimals: float.decimalPlaces };
    }),
    fetchFloatStatement: wrap('fetchFloatStatement', async ({ context }, { hop }) => {
      const float = await service().float(await agentOf(context), true, hop);
      return (float.transactions ?? []).slice(0, 10).map((t): ViewVars => ({
        date: { date: t.date },
        sign: t.credit ? '+' : '-',
        amount: { amount: t.amount, currency: float.currency, decimals: float.decimalPlaces },
      }));
    }),
    checkCustomerId: wrap('checkCustomerId', async ({ context, event }, { hop }) => {
      const agent = await agentOf(context);
      if (!(await service().idMatches(agent, cashCustomerOf(context), String(event.value ?? ''), hop))) throw new FlowError('id-mismatch');
      return true;
    }),
    checkStoreNumber: wrap('checkStoreNumber', async ({ context, event }) => {
      const me = requireCustomer(context);
      const id = String(context.data.approvalId ?? '');
      if (!(await service().storeMatches(id, me.clientId, String(event.value ?? '')))) throw new FlowError('store-wrong');
      return true;
    }),
  } satisfies Record<keyof typeof AGENT_MANIFESTS.actors, AnyActorLogic>;

  const actions = {
    rememberAgent: assign(({ context, event }: Ctx) => {
      const out = event.output as { storeNumber: string };
      return { view: { ...context.view, store: out.storeNumber } };
    }),
    useCash: assign(({ context }: Ctx, params: z.infer<typeof directionParams>) => ({
      data: { ...context.data, cash: params.direction },
    })),
    rememberCashCustomer: assign(({ context, event }: Ctx) => {
      const c = event.output as CashCustomer;
      return {
        data: { ...context.data, cashCustomer: JSON.stringify(c) },
        view: { ...context.view, customer: c.label, counterparty: c.label, phone: maskPhone(c.msisdn, deps.defaultCountry as CountryCode) },
      };
    }),
    rememberCashAmount: assign(({ context, event }: Ctx) => {
      const { cents: amount, fee } = event.output as { cents: number; fee: number };
      // Drawn when the confirmation screen is entered: a replayed hop reuses it, a new amount gets a new one.
      const id = randomBytes(16).toString('hex');
      return {
        data: { ...context.data, cashCents: amount, cashId: id },
        view: { ...context.view, amount: money(amount), fee: money(fee), ref: id.slice(0, 8).toUpperCase() },
      };
    }),
    rememberCashOut: assign(({ context, event }: Ctx) => {
      const out = event.output as { ref: string; minutes: number };
      return { view: { ...context.view, ref: out.ref, minutes: out.minutes } };
    }),
    rememberIdChecked: assign(({ context }: Ctx) => ({
      data: { ...context.data, idCheckedFor: cashCustomerOf(context).clientId },
    })),
    rememberFloat: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, float: event.output as { amount: number; currency: string; decimals: number } },
    })),
    rememberFloatStatement: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, lines: event.output as ViewVars[] },
    })),
  } satisfies Record<keyof typeof AGENT_MANIFESTS.actions, unknown>;

  const guards = {
    cashIs: ({ context }: Ctx, params: z.infer<typeof directionParams>) => context.data.cash === params.direction,
    idCheckNeeded: ({ context }: Ctx) => context.data.cash === 'out' && deps.agents?.idCheck === true,
  } satisfies Record<keyof typeof AGENT_MANIFESTS.guards, unknown>;

  return { actors, actions, guards };
}
