import { assign, type AnyActorLogic } from 'xstate';
import type { Logger } from 'pino';
import { actor, FlowError, requireCustomer } from './actor-kit.js';
import type { FlowContext } from './types.js';
import type { ManifestSet } from './manifest.js';
import type { HopContext } from '../session/hop-context.js';

/**
 * The call-back part of the setup() registry: `requestCallback` (the USSD "Call me back" item and the SMS
 * keyword CALL) and `rememberChannel`, which sets the `if` flags `onUssd`, `onVoice` and `onSms` so a flow can
 * show an option on some channels only (a call-back is offered on USSD, never during the call itself).
 */

/** Who asked for a call-back. */
export type CallbackSource = 'missed-call' | 'ussd' | 'sms';

/** Why a call-back was not queued. */
export type CallbackRefusal =
  /** Not a valid number of the home country (DEFAULT_COUNTRY): toll fraud to premium or foreign ranges. */
  | 'not-home'
  | 'unregistered'
  | 'inactive'
  /** A call-back to this number is already on its way. */
  | 'pending'
  /** Too many call-backs to this number this hour. */
  | 'limit'
  /** Too many call-backs overall this minute. */
  | 'busy';

export type CallbackOutcome = { status: 'queued'; ref: string } | { status: 'refused'; reason: CallbackRefusal };

/** The call-back service as the engine sees it (implemented by src/callback/callbacks.ts). */
export interface CallbackRequester {
  /**
   * `readCode`: the call reads out the customer's open payment code instead of running the flow (the
   * alternative to the SMS for the one-time code, threat T31). `hop`: the hop it is asked in
   * (session/hop-context.ts), whose deadline its Fineract read is given.
   */
  request(req: { msisdn: string; source: CallbackSource; readCode?: { clientId: number }; hop?: HopContext }): Promise<CallbackOutcome>;
}

/** Flow error code per refusal; flows branch on these with `errorIs`. */
const REFUSAL_CODES = {
  'not-home': 'callback-refused',
  unregistered: 'unregistered',
  inactive: 'inactive',
  pending: 'callback-pending',
  limit: 'callback-limit',
  busy: 'callback-limit',
} as const satisfies Record<CallbackRefusal, string>;

/** Manifests of the call-back action and actor. */
export const CALLBACK_MANIFESTS = {
  actors: {
    requestCallback: {
      description: 'queues a call-back to the number of this session; resolves { ref }',
      errors: ['callback-pending', 'callback-limit', 'callback-refused', 'unregistered', 'inactive'],
    },
    requestCodeCall: {
      description:
        "queues a call to the customer's registered number that reads out their open payment code (after the USSD session ends); resolves { ref }",
      errors: ['callback-pending', 'callback-limit', 'callback-refused', 'unregistered', 'inactive'],
    },
  },
  actions: {
    rememberChannel: {
      description: 'sets a flag per channel, for options offered on some channels only',
      flags: { onUssd: 'the session is on USSD', onVoice: 'the session is a voice call', onSms: 'the session is by SMS' },
    },
  },
  guards: {},
} as const satisfies ManifestSet;

export function createCallbackImplementations(deps: { callbacks?: CallbackRequester; logger: Logger }) {
  const { logger } = deps;
  const actors = {
    /**
     * Queues a call-back to the number of this session. Resolves `{ ref }`; rejects with `callback-pending`,
     * `callback-limit`, `callback-refused`, `unregistered`, `inactive` or `unavailable`.
     */
    requestCallback: actor(logger, 'requestCallback', async ({ context }, { hop }) => {
      if (!deps.callbacks) throw new FlowError('unavailable');
      const source = context.channel === 'sms' ? 'sms' : 'ussd';
      const outcome = await deps.callbacks.request({ msisdn: context.msisdn, source, ...(hop ? { hop } : {}) });
      if (outcome.status === 'queued') return { ref: outcome.ref };
      throw new FlowError(REFUSAL_CODES[outcome.reason]);
    }),
    /**
     * A call that reads out the open payment code, to the session's number: the registered one, since the
     * customer was found by it. Offered on USSD only: a voice caller cannot take a second call.
     */
    requestCodeCall: actor(logger, 'requestCodeCall', async ({ context }, { hop }) => {
      if (!deps.callbacks || context.channel !== 'ussd') throw new FlowError('unavailable');
      const customer = requireCustomer(context);
      const outcome = await deps.callbacks.request({
        msisdn: context.msisdn,
        source: 'ussd',
        readCode: { clientId: customer.clientId },
        ...(hop ? { hop } : {}),
      });
      if (outcome.status === 'queued') return { ref: outcome.ref };
      throw new FlowError(REFUSAL_CODES[outcome.reason]);
    }),
  } satisfies Record<keyof typeof CALLBACK_MANIFESTS.actors, AnyActorLogic>;

  const actions = {
    /** Sets `data.onUssd`, `data.onVoice`, `data.onSms` from the channel, for options with `if:`. */
    rememberChannel: assign(({ context }: { context: FlowContext }) => ({
      data: {
        ...context.data,
        onUssd: context.channel === 'ussd',
        onVoice: context.channel === 'voice',
        onSms: context.channel === 'sms',
      },
    })),
  } satisfies Record<keyof typeof CALLBACK_MANIFESTS.actions, unknown>;
  return { actors, actions };
}
