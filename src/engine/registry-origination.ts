import { assign, type AnyActorLogic } from 'xstate';
import type { Logger } from 'pino';
import type { ApplicationService } from '../origination/applications.js';
import { actor, FlowError, requireCustomer } from './actor-kit.js';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';
import { amountVar, type ManifestSet } from './manifest.js';

/**
 * The loan applications part of the setup() registry (issue 12, point 4): the status of the sender's loan
 * applications by SMS keyword (LOAN / MKOPO / PRET), newest first, in the customer's language. Behaviour lives
 * in `origination/applications.ts`; this adapts it to flows. On USSD, a registered customer who has applied
 * gets "My applications" in the menu: the newest applications with their status, and withdrawal of one not yet
 * sent to Fineract. The sign-up and application screens are not here yet (no menu reaches them).
 */

/** How many applications "My applications" lists (the newest). */
const LISTED = 5;
/** Kiunga's states an applicant may still withdraw from (nothing has gone to Fineract). */
const WITHDRAWABLE = new Set(['submitted', 'review']);
const refVar = { max: 8, example: 'AB12CD34', description: 'application reference' };
const productVar = { max: 20, example: 'Biashara Loan', description: "the product's display name" };

export const ORIGINATION_MANIFESTS = {
  actors: {
    loadApplicationStatus: {
      description: "the status of the sender's latest loan applications (the two newest, newest first); none: not-found",
      errors: ['not-found'],
    },
    loadApplicationMenu: {
      description: 'after the PIN (USSD only): how many loan applications this number has made; unanswered: none shown',
    },
    loadApplications: {
      description: "the customer's newest loan applications (up to 5, newest first); none: not-found",
      errors: ['not-found'],
    },
    withdrawApplication: {
      description:
        'withdraws the application chosen, if it is still before Fineract (submitted or waiting for review); otherwise not-withdrawable',
      errors: ['not-withdrawable', 'not-found'],
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
    rememberApplicationMenu: {
      description: 'keeps what loadApplicationMenu found',
      flags: { hasApplications: 'the number has made a loan application' },
    },
    rememberApplications: {
      description: 'keeps the applications loaded by loadApplications',
      lists: {
        applications: {
          description: 'one row per application, newest first',
          row: { ref: refVar, product: productVar, amount: amountVar('the amount applied for') },
        },
      },
    },
    chooseApplication: {
      description: 'keeps the application chosen (choose event index) and whether it may still be withdrawn',
      flags: { canWithdraw: 'the application chosen has not gone to Fineract yet' },
      views: {
        ref: refVar,
        status: {
          max: 140,
          example: 'AB12CD34 Biashara Loan KES 10,000.00: with the bank, pending approval',
          description: "the application's status line (with the reason and next step when declined)",
        },
      },
    },
  },
  guards: {},
} as const satisfies ManifestSet;

export interface OriginationFlowDeps {
  applications?: Pick<ApplicationService, 'forApplicant' | 'statusLine' | 'withdraw'>;
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
    loadApplicationMenu: actor(logger, 'loadApplicationMenu', async ({ context }) => {
      requireCustomer(context);
      // The list and withdrawal need the USSD menus; a voice call reads no such screens.
      if (context.channel !== 'ussd' || !deps.applications) return { count: 0 };
      return { count: (await deps.applications.forApplicant(context.msisdn, 1)).length };
    }),
    loadApplications: actor(logger, 'loadApplications', async ({ context }) => {
      requireCustomer(context);
      if (!deps.applications) throw new FlowError('unavailable');
      const mine = await deps.applications.forApplicant(context.msisdn, LISTED);
      if (mine.length === 0) throw new FlowError('not-found');
      return mine.map((a): ViewVars => ({
        id: a.id,
        ref: a.ref,
        product: a.productName,
        amount: { amount: a.principalCents / 100, currency: a.currency },
        withdrawable: WITHDRAWABLE.has(a.state) ? 1 : 0,
        // Told in the language the customer uses now, whatever language they applied in.
        status: deps.applications!.statusLine({ ...a, lang: context.lang }),
      }));
    }),
    withdrawApplication: actor(logger, 'withdrawApplication', async ({ context }) => {
      requireCustomer(context);
      if (!deps.applications) throw new FlowError('unavailable');
      const id = String(context.data.applicationId ?? '');
      if (!/^[0-9a-f]{32}$/.test(id)) throw new FlowError('not-found');
      // The service checks that the application is this number's and still before Fineract (compare-and-set).
      const result = await deps.applications.withdraw(id, context.msisdn);
      if (result.outcome === 'not-found') throw new FlowError('not-found');
      if (result.outcome === 'conflict') throw new FlowError('not-withdrawable');
      return { ref: result.application.ref };
    }),
  } satisfies Record<keyof typeof ORIGINATION_MANIFESTS.actors, AnyActorLogic>;

  const actions = {
    rememberApplicationStatus: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, applications: ((event.output as { lines?: string[] } | undefined)?.lines ?? []).join('\n') },
    })),
    rememberApplicationMenu: assign(({ context, event }: Ctx) => ({
      data: { ...context.data, hasApplications: ((event.output as { count?: number } | undefined)?.count ?? 0) > 0 },
    })),
    rememberApplications: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, applications: event.output as ViewVars[] },
    })),
    chooseApplication: assign(({ context, event }: Ctx) => {
      const rows = context.view.applications;
      const picked = Array.isArray(rows) ? rows[Number(event.index)] : undefined;
      return {
        data: { ...context.data, applicationId: picked ? String(picked.id) : null, canWithdraw: picked?.withdrawable === 1 },
        view: { ...context.view, ref: picked?.ref ?? '', status: picked?.status ?? '' },
      };
    }),
  } satisfies Record<keyof typeof ORIGINATION_MANIFESTS.actions, unknown>;

  return { actors, actions, guards: {} };
}
