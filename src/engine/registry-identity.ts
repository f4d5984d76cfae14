import { assign, type AnyActorLogic } from 'xstate';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { IdentityService } from '../security/enrolment.js';
import { PIN_WEAKNESSES } from '../security/pin-rules.js';
import { actor, errorOf, FlowError, requireCustomer } from './actor-kit.js';
import type { FlowContext, FlowEvent } from './types.js';
import type { ManifestSet } from './manifest.js';

/**
 * The identity part of the setup() registry (threat T11, issue 10 points 2 and 3): enrolment with an
 * activation code, a new PIN typed twice (at enrolment and from the menu), and self-unlock of a time-boxed
 * lock with a code by SMS. Behaviour lives in `security/enrolment.ts`; these adapt it to flows.
 *
 * Nothing secret enters the session: the first entry of a new PIN waits in `context.data.pinDraft` as a keyed
 * hash bound to the session, and `context.data.pinJourney` (`enrol` after a right activation code, `change`
 * after the right old PIN) is what allows `setNewPin` to run at all.
 */

export const ENROLMENT_STATES = [
  'has-pin',
  'code-open',
  'code-sent',
  'operator-only',
  'sim-swap',
  'sim-swap-unknown',
  'send-limit',
] as const;
const PIN_PROBLEMS = [...PIN_WEAKNESSES, 'format'] as const;
const JOURNEYS = ['enrol', 'change'] as const;

const enrolmentParams = z.strictObject({ state: z.enum(ENROLMENT_STATES) });
const problemParams = z.strictObject({ reason: z.enum(PIN_PROBLEMS) });
const journeyParams = z.strictObject({ journey: z.enum(JOURNEYS) });
const CODE_ERRORS = ['code-wrong', 'code-exhausted', 'code-expired', 'code-mismatch'] as const;

export const IDENTITY_MANIFESTS = {
  actors: {
    checkEnrolment: {
      description:
        'after the customer is found: has a PIN, or where the enrolment stands; in ENROLMENT_MODE=self it sends the activation code now. Resolves { state } (test it with enrolmentIs)',
    },
    checkActivationCode: {
      description: 'checks the activation code typed (consumed when right); the new PIN may then be set (journey enrol)',
      errors: [...CODE_ERRORS],
      code: 'checks',
    },
    checkNewPin: {
      description:
        'checks a new PIN typed: its format and the guessable ones (one digit repeated, a sequence, the birth year, the phone number)',
      errors: ['pin-weak'],
    },
    setNewPin: {
      description:
        'the new PIN typed again: when it matches the first entry, stores it, voids open codes, audits and sends "Your PIN was changed" by SMS',
      errors: ['pin-mismatch'],
    },
    sendUnlockCode: {
      description: 'a time-boxed lock: sends a code by SMS to end it (at most 3 self-unlocks a day; never a hard lock)',
      errors: ['not-locked', 'unlock-limit', 'pin-locked', 'sim-swap', 'sim-swap-unknown', 'code-send-limit'],
    },
    checkUnlockCode: {
      description: 'checks the unlock code typed; when right the lock ends (its escalation stays) and the PIN is asked again',
      errors: [...CODE_ERRORS, 'pin-locked'],
      code: 'checks',
    },
  },
  actions: {
    startEnrolment: { description: 'after a right activation code: the new PIN is an enrolment' },
    startPinChange: { description: 'after the right old PIN: the new PIN is a change' },
    rememberPinDraft: { description: 'keeps the keyed hash of the first new PIN entry (never the PIN) for the second' },
    forgetPinDraft: { description: 'drops the first new PIN entry (the two entries differed)' },
    endPinJourney: {
      description: 'after the new PIN is set: drops the first entry and the journey, so nothing can set it again without a new check',
    },
  },
  guards: {
    enrolmentIs: {
      description: "checkEnrolment's answer: `{ type: enrolmentIs, params: { state: code-open } }`",
      params: enrolmentParams,
    },
    pinProblemIs: {
      description: 'checkNewPin refused the PIN for this reason: `{ type: pinProblemIs, params: { reason: birth-year } }`',
      params: problemParams,
    },
    journeyIs: { description: 'the new PIN is for this journey: `{ type: journeyIs, params: { journey: enrol } }`', params: journeyParams },
    lockIsTimed: { description: 'the actor failed with pin-locked and the lock ends by itself (self-unlock may be offered)' },
  },
} as const satisfies ManifestSet;

export interface IdentityEngineDeps {
  /** Without it every customer counts as enrolled (tests of other flows) and the PIN journeys are unavailable. */
  identity?: IdentityService;
  logger: Logger;
}

type Ctx = { context: FlowContext; event: FlowEvent };

export function createIdentityImplementations(deps: IdentityEngineDeps) {
  const { logger } = deps;
  const service = () => {
    if (!deps.identity) throw new FlowError('unavailable');
    return deps.identity;
  };
  const typed = (event: FlowEvent) => (typeof event.value === 'string' ? event.value : '');
  const codeFailure = (result: { result: string; triesLeft?: number }): FlowError => {
    if (result.result === 'wrong') return new FlowError('code-wrong', { triesLeft: result.triesLeft ?? 0 });
    if (result.result === 'exhausted') return new FlowError('code-exhausted');
    if (result.result === 'mismatch') return new FlowError('code-mismatch');
    if (result.result === 'hard') return new FlowError('pin-locked');
    return new FlowError('code-expired');
  };

  const actors = {
    checkEnrolment: actor(logger, 'checkEnrolment', async ({ context }, { hop }) => {
      const customer = requireCustomer(context);
      if (!deps.identity) return { state: 'has-pin' as const };
      const state = await deps.identity.enrolmentState(
        { clientId: customer.clientId, msisdn: context.msisdn },
        { lang: context.lang, channel: context.channel, ...(hop ? { context: hop } : {}) },
      );
      return { state };
    }),
    checkActivationCode: actor(logger, 'checkActivationCode', async ({ context, event }) => {
      const customer = requireCustomer(context);
      const result = await service().checkActivationCode(customer.clientId, typed(event));
      if (result.result !== 'ok') throw codeFailure(result);
      return true;
    }),
    checkNewPin: actor(logger, 'checkNewPin', async ({ context, event }, { hop }) => {
      const customer = requireCustomer(context);
      const pin = typed(event);
      const problem = await service().newPinProblem({ clientId: customer.clientId, msisdn: context.msisdn }, pin, hop);
      if (problem) throw new FlowError('pin-weak', { reason: problem });
      return { draft: service().draftHash(context.session, pin) };
    }),
    setNewPin: actor(logger, 'setNewPin', async ({ context, event }, { hop }) => {
      const customer = requireCustomer(context);
      const journey = context.data.pinJourney;
      // Only after a right activation code or the right old PIN in this session.
      if (journey !== 'enrol' && journey !== 'change') throw new FlowError('forbidden');
      const pin = typed(event);
      const draft = context.data.pinDraft;
      if (typeof draft !== 'string' || draft !== service().draftHash(context.session, pin)) throw new FlowError('pin-mismatch');
      await service().setNewPin({
        clientId: customer.clientId,
        msisdn: context.msisdn,
        lang: context.lang,
        channel: context.channel,
        pin,
        journey,
        ...(hop ? { hop } : {}),
      });
      return { journey };
    }),
    sendUnlockCode: actor(logger, 'sendUnlockCode', async ({ context }) => {
      const customer = requireCustomer(context);
      const sent = await service().sendUnlockCode(
        { clientId: customer.clientId, msisdn: context.msisdn },
        { lang: context.lang, channel: context.channel },
      );
      if (sent === 'sent') return true;
      if (sent === 'limit') throw new FlowError('unlock-limit');
      if (sent === 'hard') throw new FlowError('pin-locked');
      if (sent === 'send-limit') throw new FlowError('code-send-limit');
      throw new FlowError(sent);
    }),
    checkUnlockCode: actor(logger, 'checkUnlockCode', async ({ context, event }) => {
      const customer = requireCustomer(context);
      const result = await service().unlockWithCode(customer.clientId, typed(event));
      if (result.result !== 'ok') throw codeFailure(result);
      return true;
    }),
  } satisfies Record<keyof typeof IDENTITY_MANIFESTS.actors, AnyActorLogic>;

  const actions = {
    startEnrolment: assign(({ context }: Ctx) => ({ data: { ...context.data, pinJourney: 'enrol' } })),
    startPinChange: assign(({ context }: Ctx) => ({ data: { ...context.data, pinJourney: 'change' } })),
    rememberPinDraft: assign(({ context, event }: Ctx) => ({
      data: { ...context.data, pinDraft: String((event.output as { draft?: string } | undefined)?.draft ?? '') },
    })),
    forgetPinDraft: assign(({ context }: Ctx) => {
      const { pinDraft: _dropped, ...data } = context.data;
      return { data };
    }),
    endPinJourney: assign(({ context }: Ctx) => {
      const { pinDraft: _draft, pinJourney: _journey, ...data } = context.data;
      return { data };
    }),
  } satisfies Record<keyof typeof IDENTITY_MANIFESTS.actions, unknown>;

  const guards = {
    enrolmentIs: ({ event }: Ctx, params: z.infer<typeof enrolmentParams>) => (event.output as { state?: string })?.state === params.state,
    pinProblemIs: ({ event }: Ctx, params: z.infer<typeof problemParams>) => {
      const error = errorOf(event);
      return error?.code === 'pin-weak' && error.details.reason === params.reason;
    },
    journeyIs: ({ context }: Ctx, params: z.infer<typeof journeyParams>) => context.data.pinJourney === params.journey,
    lockIsTimed: ({ event }: Ctx) => {
      const error = errorOf(event);
      return error?.code === 'pin-locked' && Number(error.details.until ?? 0) > 0;
    },
  } satisfies Record<keyof typeof IDENTITY_MANIFESTS.guards, unknown>;

  return { actors, actions, guards };
}
