import { assign, type AnyActorLogic } from 'xstate';
import type { Logger } from 'pino';
import type { ApplicationService } from '../origination/applications.js';
import { actor, FlowError } from './actor-kit.js';
import type { FlowContext, FlowEvent } from './types.js';
import type { ManifestSet } from './manifest.js';

/**
 * The loan applications part of the setup() registry (issue 12, point 4): the status of the sender's loan
 * applications by SMS keyword (LOAN / MKOPO / PRET), newest first, in the customer's language. Behaviour lives
 * in `origination/applications.ts`; this adapts it to flows. The sign-up and application screens are not here
 * yet (no menu reaches them).
 */

export const ORIGINATION_MANIFESTS = {
  actors: {
    loadApplicationStatus: {
      description: "the status of the sender's latest loan applications (the two newest, newest first); none: not-found",
      errors: ['not-found'],
    },
  },
  actions: {
    rememberApplicationStatus: {
      description: 'keeps the status lines loadApplicationStatus read',
      views: {
        applications: {
          max: 150,
          example: 'AB12CD34 Biashara Loan KES 10,000.00: waiting for review\nCD34EF56 Biashara Loan KES 5,000.00: loan paid out',
          description: 'one line per application, the two newest first',
        },
      },
    },
  },
  guards: {},
} as const satisfies ManifestSet;

export interface OriginationFlowDeps {
  applications?: Pick<ApplicationService, 'forApplicant' | 'statusLine'>;
  logger: Logger;
}

type Ctx = { context: FlowContext; event: FlowEvent };

export function createOriginationImplementations(deps: OriginationFlowDeps) {
  const { logger } = deps;
  const actors = {
    loadApplicationStatus: actor(logger, 'loadApplicationStatus', async ({ context }) => {
      if (!deps.applications) throw new FlowError('unavailable');
      const mine = await deps.applications.forApplicant(context.msisdn, 2);
      if (mine.length === 0) throw new FlowError('not-found');
      // Told in the language the customer uses now, whatever language they applied in.
      return { lines: mine.map((a) => deps.applications!.statusLine({ ...a, lang: context.lang })) };
    }),
  } satisfies Record<keyof typeof ORIGINATION_MANIFESTS.actors, AnyActorLogic>;

  const actions = {
    rememberApplicationStatus: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, applications: ((event.output as { lines?: string[] } | undefined)?.lines ?? []).join('\n') },
    })),
  } satisfies Record<keyof typeof ORIGINATION_MANIFESTS.actions, unknown>;

  return { actors, actions, guards: {} };
}
