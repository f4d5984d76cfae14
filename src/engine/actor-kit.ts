import { fromPromise, type AnyActorRef } from 'xstate';
import { z } from 'zod';
import type { Logger } from 'pino';
import { FineractError, OwnershipError } from '../fineract/errors.js';
import type { FlowContext, FlowEvent } from './types.js';
import type { HopContext } from '../session/hop-context.js';

/** The actor system a machine's actors share (XState's public `actor.system`). */
type ActorSystemOf = AnyActorRef['system'];

/**
 * What every registry actor shares: the closed set of error codes flows branch on, and the wrapper that
 * turns any failure into one of them.
 */

/**
 * Codes a flow branches on with the `errorIs` guard: the one list the type, the loader, `kiunga lint` and the
 * editor schema all read (a misspelt code in a flow file is refused at load).
 */
export const FLOW_ERROR_CODES = [
  'unregistered',
  'inactive',
  'pin-wrong',
  'pin-locked',
  'pin-not-set',
  /** A PIN arrived by SMS where the institution has turned PIN-in-SMS off (SMS_PIN_ENABLED=false). */
  'sms-pin-off',
  // a new PIN (src/security/pin-rules.ts): guessable or malformed (details.reason), or its second entry differs
  'pin-weak',
  'pin-mismatch',
  // self-unlock (src/security/enrolment.ts): the lock ended meanwhile; no more self-unlocks today
  'not-locked',
  'unlock-limit',
  'unavailable',
  'not-found',
  'rejected',
  'forbidden',
  'unknown-recipient',
  'self',
  'no-account',
  'amount-low',
  'amount-high',
  'over-daily',
  'insufficient',
  'above-outstanding',
  'sim-swap',
  /** The SIM-swap check could not answer: money-out refused (fails closed, threat T4). */
  'sim-swap-unknown',
  /** Money movement is switched off (kill switch `money` or `all`, or its state unknown): nothing was sent. */
  'money-paused',
  // one-time codes (src/security/challenge.ts, threat T31): a code was sent and must be typed before the step
  // goes on; the code typed was wrong (tries left), wrong too often, past its validity (or never sent), sent for
  // another intent (another amount or payee: now void); no more sends for this intent
  'code-required',
  'code-wrong',
  'code-exhausted',
  'code-expired',
  'code-mismatch',
  'code-send-limit',
  // call-back requests (src/callback): one is already on its way, too many this hour, number not allowed
  'callback-pending',
  'callback-limit',
  'callback-refused',
  // agents (src/agents, issue 11): the caller is no agent, or a suspended one; an agent limit (daily, per agent
  // or per customer) or the float floor refused the movement; the store number typed is not the requesting agent's
  'not-agent',
  'agent-suspended',
  'agent-limit',
  'customer-limit',
  'float-low',
  'store-wrong',
  // the ID number an agent keyed is none of the customer's active identifiers in Fineract (AGENT_CASHOUT_ID_CHECK)
  'id-mismatch',
  // this agent already has a cash-out request waiting for this customer
  'cash-out-pending',
  // approvals (src/approvals, issue 11): the requester cannot approve their own request, nor an approver twice;
  // the approval is no longer open (decided, expired, cancelled, or unknown)
  'own-request',
  'already-approved',
  'approval-closed',
  // loan applications (src/origination, issue 12): the one chosen has gone to Fineract or was decided already
  'not-withdrawable',
  // sign-up (src/origination/profiles.ts): the number is a client already; the name, the ID number's format, the
  // ID number already on a client or another sign-up, the date of birth, under 18
  'already-client',
  'signup-name',
  'signup-id-format',
  'signup-id-taken',
  'signup-birth-date',
  'signup-under-age',
] as const;

export type FlowErrorCode = (typeof FLOW_ERROR_CODES)[number];

/** The schema of an error code param (`errorIs`'s `code`): the loader names a mismatch `unknown-error-code`. */
export const errorCodeParam = z.enum(FLOW_ERROR_CODES);

/**
 * Codes any actor may reject with besides those its manifest declares: what `toFlowError` makes of a
 * Fineract failure, and `unregistered` from `requireCustomer` (no customer in the session yet).
 */
export const ANY_ACTOR_ERRORS = [
  'unavailable',
  'forbidden',
  'not-found',
  'rejected',
  'unregistered',
] as const satisfies readonly FlowErrorCode[];

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

export interface ActorInput {
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

export const errorOf = (event: FlowEvent): FlowError | undefined => (event.error instanceof FlowError ? event.error : undefined);

export const requireCustomer = (context: FlowContext) => {
  if (!context.customer) throw new FlowError('unregistered');
  return context.customer;
};

/**
 * Actors that move money. A state invoking one may be entered only from a prompt state by the customer's
 * own input (its confirmation screen, or the prompt of the one-time code): the engine treats that prompt as a
 * money confirmation (threats T25, T29). `approveRequest` is one: the last approval of a payment from an
 * account with a mandate, or of an agent's cash-out, executes it.
 */
export const MONEY_ACTORS: ReadonlySet<string> = new Set(['transferMoney', 'transferWithCode', 'agentCashIn', 'approveRequest']);

/**
 * Actors confirmed by a PIN that move no money themselves but record a request under an id their confirmation
 * screen fixed: an agent's cash-out request (held on the customer's savings until the customer confirms). Their
 * prompt is a confirmation like a money actor's for what the dial string may carry (threat T25) and for a
 * retry whose first run still holds the session (threat T29: the retry answers what was recorded), but a hop
 * cut short by the deadline answers the polite end, not "being processed": no SMS would follow it.
 */
export const REQUEST_ACTORS: ReadonlySet<string> = new Set(['agentCashOut']);

/**
 * What an actor gets besides its input: `signal` aborts when the hop stops waiting for it (deadline); `hop` is
 * the context of the hop it runs in (caller, deadline, scope: session/hop-context.ts), which the actor passes
 * to the services it calls. Undefined outside a conversation's hop (a machine run by a test on its own).
 */
export interface ActorScope {
  signal: AbortSignal;
  hop: HopContext | undefined;
}

/**
 * The hop context of each running machine, by its actor system (XState's public `actor.system`, which the
 * machine's invoked actors share and `fromPromise` hands them): set by the conversation right after it creates
 * the machine's actor, read by `actor()`. A WeakMap: a stopped machine's entry goes with it.
 */
const hops = new WeakMap<ActorSystemOf, HopContext>();

/** Binds `hop` to the actor system of a machine about to start (engine/conversation.ts). */
export function bindHop(system: ActorSystemOf, hop: HopContext): void {
  hops.set(system, hop);
}

/** Wraps an async function as a named actor whose failures are always FlowErrors. */
export function actor<T>(logger: Logger, name: string, run: (input: ActorInput, scope: ActorScope) => Promise<T>) {
  return fromPromise<T, ActorInput>(async ({ input, signal, system }) => {
    try {
      return await run(input, { signal, hop: hops.get(system) });
    } catch (error) {
      const flowError = toFlowError(error);
      if (flowError.code === 'unavailable') {
        logger.warn({ actor: name, err: { type: (error as Error)?.name, message: (error as Error)?.message } }, 'actor failed');
      }
      throw flowError;
    }
  });
}

/** The PIN check the flows use (implemented by security/pin-service.ts); `caller.hop` is the hop's context. */
export interface PinVerifier {
  verify(
    clientId: number,
    pin: string,
    caller?: { msisdn?: string; hop?: HopContext },
  ): Promise<{ result: 'ok' } | { result: 'wrong'; attemptsLeft: number } | { result: 'locked'; until?: number } | { result: 'not-set' }>;
}

/**
 * Verifies the PIN of the event (typed input `value`, or an SMS keyword's `pin` argument); rejects with the
 * FlowError the flow branches on.
 */
export async function checkPin(pins: PinVerifier, clientId: number, event: FlowEvent, hop: HopContext | undefined): Promise<void> {
  const pin = typeof event.value === 'string' ? event.value : typeof event.pin === 'string' ? event.pin : '';
  const outcome = await pins.verify(clientId, pin, hop ? { hop } : undefined);
  if (outcome.result === 'ok') return;
  if (outcome.result === 'wrong') throw new FlowError('pin-wrong', { attemptsLeft: outcome.attemptsLeft });
  // `until` (a time-boxed lock) lets the flow offer a self-unlock; a hard lock has none.
  if (outcome.result === 'locked') throw new FlowError('pin-locked', outcome.until ? { until: outcome.until } : {});
  throw new FlowError('pin-not-set');
}
