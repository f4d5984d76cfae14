import { assign, type AnyActorLogic } from 'xstate';
import { z } from 'zod';
import type { Logger } from 'pino';
import { profilePinId, SignupRefused, SIGNUP_STEPS, type Profile, type ProfileService } from '../origination/profiles.js';
import { pinWeakness } from '../security/pin-rules.js';
import type { PinService } from '../security/pin.js';
import type { IdentityService } from '../security/enrolment.js';
import { actor, FlowError, type FlowErrorCode } from './actor-kit.js';
import type { FlowContext, FlowEvent } from './types.js';
import type { ManifestSet } from './manifest.js';

/**
 * The USSD sign-up of people who are not clients (issue 12, point 2), and the applicant's own door afterwards.
 * Behaviour lives in `origination/profiles.ts` (steps in order, duplicates refused, consent audited); these
 * adapt it to flows. The session keeps only the profile id; the step reached is always read back from the
 * profile, so a redial resumes where the applicant stopped and nothing can be answered ahead of its turn.
 *
 * The sign-up PIN is kept by the PIN service under `p-<profile id>` with the ordinary lockout. It may be set
 * only while the profile stands at its PIN step (after the consent), never again afterwards: a signed-up
 * applicant who dials is asked for that PIN (`verifyApplicantPin`) before "Apply for a loan" or "My
 * applications". `data.applicantProfileId` is set only by a right PIN or by setting it in this session; it is
 * what the application actors trust for an applicant who is not a client yet.
 */

const stepParams = z.strictObject({ step: z.enum(SIGNUP_STEPS) });
const nameVar = { max: 40, example: 'Neema Wanjiru', description: "the applicant's full name" };

export const SIGNUP_MANIFESTS = {
  actors: {
    startSignup: {
      description:
        'a number that is no client: finds the sign-up it has (a redial) and its step; none yet: step name (nothing is kept until the applicant opens one). Resolves { step } (test it with signupStepIs); no sign-up here: unregistered',
    },
    openSignup: { description: 'the applicant chose to open an account: starts the sign-up (one per number)', errors: ['already-client'] },
    saveSignupName: { description: 'keeps the name typed (a first and a last name, letters only)', errors: ['signup-name'] },
    saveSignupNationalId: {
      description: "keeps the national ID number typed: the country's format; not already on a client or another sign-up",
      errors: ['signup-id-format', 'signup-id-taken'],
    },
    saveSignupBirthDate: {
      description: 'keeps the date of birth typed (DDMMYYYY); 18 or older',
      errors: ['signup-birth-date', 'signup-under-age'],
    },
    saveSignupLanguage: { description: "keeps the language chosen (the option's `lang` param)" },
    giveSignupConsent: {
      description: 'the applicant agreed to the terms (the version named on the screen): audited with the version and the time',
    },
    checkSignupPin: {
      description:
        'checks the sign-up PIN typed: its format and the guessable ones (one digit repeated, a sequence, the birth year, the phone number)',
      errors: ['pin-weak'],
    },
    setSignupPin: {
      description:
        'the sign-up PIN typed again: when it matches the first entry and the profile stands at its PIN step, stores it; the sign-up is complete',
      errors: ['pin-mismatch'],
    },
    verifyApplicantPin: {
      description: "a signed-up applicant's PIN (kept under the profile), with the ordinary lockout",
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set'],
    },
  },
  actions: {
    rememberProfile: {
      description: 'keeps the sign-up profile found or saved: its id, and its answers for the summary',
      views: {
        fullName: nameVar,
        nationalId: { max: 12, example: '29876543', description: 'the national ID number given' },
        birthDate: { max: 10, example: '15/06/1990', description: 'the date of birth given (dd/mm/yyyy)' },
        terms: { max: 12, example: '2026-12', description: "the terms' version named on the consent screen" },
      },
    },
    admitApplicant: {
      description: 'after the right sign-up PIN (or the PIN set now): the applicant may apply and read their applications',
    },
  },
  guards: {
    signupStepIs: { description: "the sign-up's step reached: `{ type: signupStepIs, params: { step: lang } }`", params: stepParams },
  },
} as const satisfies ManifestSet;

export interface SignupFlowDeps {
  profiles?: Pick<
    ProfileService,
    'start' | 'forNumber' | 'get' | 'setName' | 'setNationalId' | 'setBirthDate' | 'setLanguage' | 'consent' | 'pinSet' | 'termsVersion'
  >;
  pins?: Pick<PinService, 'setPin' | 'verify' | 'hasPin'>;
  identity?: Pick<IdentityService, 'draftHash'>;
  logger: Logger;
}

type Ctx = { context: FlowContext; event: FlowEvent };

const REFUSALS: Partial<Record<string, FlowErrorCode>> = {
  'already-client': 'already-client',
  name: 'signup-name',
  'id-format': 'signup-id-format',
  'id-taken': 'signup-id-taken',
  'birth-date': 'signup-birth-date',
  'under-age': 'signup-under-age',
};

const ddmmyyyy = (iso?: string) => (iso ? iso.split('-').reverse().join('/') : '');

export function createSignupImplementations(deps: SignupFlowDeps) {
  const { logger } = deps;
  const profiles = () => {
    if (!deps.profiles || !deps.pins || !deps.identity) throw new FlowError('unavailable');
    return deps.profiles;
  };
  const typed = (event: FlowEvent) => (typeof event.value === 'string' ? event.value : '');
  const profileId = (context: FlowContext) => {
    const id = context.data.signupProfileId;
    if (typeof id !== 'string' || !/^kp[0-9a-f]{20}$/.test(id)) throw new FlowError('not-found');
    return id;
  };
  /** Runs a profile step; a refusal becomes the flow error its screen answers. */
  const step = async (run: () => Promise<Profile>) => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof SignupRefused) throw new FlowError(REFUSALS[error.reason] ?? 'not-found');
      throw error;
    }
  };
  const shown = (p: Profile) => ({ step: p.state, profileId: p.id, profile: p });

  const actors = {
    startSignup: actor(logger, 'startSignup', async ({ context }) => {
      // Without the sign-up service the number is told it is not registered, as before issue 12.
      if (!deps.profiles || !deps.pins || !deps.identity || context.channel !== 'ussd') throw new FlowError('unregistered');
      // A stranger who only dials leaves nothing behind: the profile is made when they choose to open an account.
      const existing = await deps.profiles.forNumber(context.msisdn);
      return existing ? shown(existing) : { step: 'name' };
    }),
    openSignup: actor(logger, 'openSignup', async ({ context }, { hop }) => shown(await step(() => profiles().start(context.msisdn, hop)))),
    saveSignupName: actor(logger, 'saveSignupName', async ({ context, event }) =>
      shown(await step(() => profiles().setName(profileId(context), typed(event)))),
    ),
    saveSignupNationalId: actor(logger, 'saveSignupNationalId', async ({ context, event }, { hop }) =>
      shown(await step(() => profiles().setNationalId(profileId(context), typed(event), hop))),
    ),
    saveSignupBirthDate: actor(logger, 'saveSignupBirthDate', async ({ context, event }) =>
      shown(await step(() => profiles().setBirthDate(profileId(context), typed(event)))),
    ),
    saveSignupLanguage: actor(logger, 'saveSignupLanguage', async ({ context, event }) =>
      shown(await step(() => profiles().setLanguage(profileId(context), typeof event.lang === 'string' ? event.lang : ''))),
    ),
    giveSignupConsent: actor(logger, 'giveSignupConsent', async ({ context }) =>
      shown(await step(() => profiles().consent(profileId(context), context.channel))),
    ),
    checkSignupPin: actor(logger, 'checkSignupPin', async ({ context, event }) => {
      const profile = await profiles().get(profileId(context));
      if (!profile || profile.state !== 'pin') throw new FlowError('forbidden');
      const pin = typed(event);
      if (!/^\d{4}$/.test(pin)) throw new FlowError('pin-weak', { reason: 'format' });
      const problem = pinWeakness(pin, { birthDate: profile.birthDate, msisdn: profile.msisdn });
      if (problem) throw new FlowError('pin-weak', { reason: problem });
      return { draft: deps.identity!.draftHash(context.session, pin) };
    }),
    setSignupPin: actor(logger, 'setSignupPin', async ({ context, event }, { hop }) => {
      const service = profiles();
      const id = profileId(context);
      const pin = typed(event);
      const draft = context.data.pinDraft;
      if (typeof draft !== 'string' || draft !== deps.identity!.draftHash(context.session, pin)) throw new FlowError('pin-mismatch');
      // Only at the PIN step, once: a signed-up applicant's PIN is never set again from a dial.
      const profile = await service.get(id);
      if (!profile || profile.state !== 'pin') throw new FlowError('forbidden');
      await deps.pins!.setPin(profilePinId(id), pin, hop);
      return shown(await step(() => service.pinSet(id, context.channel)));
    }),
    verifyApplicantPin: actor(logger, 'verifyApplicantPin', async ({ context, event }, { hop }) => {
      const id = profileId(context);
      const profile = await profiles().get(id);
      if (!profile || profile.state !== 'done' || profile.msisdn !== context.msisdn) throw new FlowError('forbidden');
      const outcome = await deps.pins!.verify(profilePinId(id), typed(event), { msisdn: context.msisdn, ...(hop ? { hop } : {}) });
      if (outcome.result === 'ok') return true;
      if (outcome.result === 'wrong') throw new FlowError('pin-wrong', { attemptsLeft: outcome.attemptsLeft });
      if (outcome.result === 'locked') throw new FlowError('pin-locked');
      throw new FlowError('pin-not-set');
    }),
  } satisfies Record<keyof typeof SIGNUP_MANIFESTS.actors, AnyActorLogic>;

  const actions = {
    rememberProfile: assign(({ context, event }: Ctx) => {
      const p = (event.output as { profile?: Profile } | undefined)?.profile;
      if (!p) return {};
      return {
        data: { ...context.data, signupProfileId: p.id },
        view: {
          ...context.view,
          fullName: [p.firstname, p.lastname].filter(Boolean).join(' '),
          nationalId: p.nationalId ?? '',
          birthDate: ddmmyyyy(p.birthDate),
          terms: deps.profiles?.termsVersion ?? '',
        },
        ...(p.lang ? { lang: p.lang } : {}),
      };
    }),
    admitApplicant: assign(({ context }: Ctx) => {
      const { pinDraft: _draft, ...data } = context.data;
      return { data: { ...data, applicantProfileId: String(context.data.signupProfileId ?? '') } };
    }),
  } satisfies Record<keyof typeof SIGNUP_MANIFESTS.actions, unknown>;

  const guards = {
    signupStepIs: ({ event }: Ctx, params: z.infer<typeof stepParams>) =>
      (event.output as { step?: string } | undefined)?.step === params.step,
  } satisfies Record<keyof typeof SIGNUP_MANIFESTS.guards, unknown>;

  return { actors, actions, guards };
}
