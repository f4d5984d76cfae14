import { assign } from 'xstate';
import type { LoanQuote } from '../origination/core.js';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';
import type { ORIGINATION_MANIFESTS } from './registry-origination-manifest.js';

/**
 * The actions of the loan applications part of the setup() registry (its actors are in registry-origination.ts):
 * what the status by SMS, "My applications" and "Apply for a loan" keep in the session's context.
 */

type Ctx = { context: FlowContext; event: FlowEvent };

/** What the menu shows of loan applications (`loadApplicationMenu`, `loadMenu`): applications made, products offered. */
export interface ApplicationMenu {
  count?: number;
  offers?: number;
}

/** What `rememberApplicationMenu` (and `rememberMenu`) keep: `hasApplications`, `canApply`. */
export function rememberedApplicationMenu(context: FlowContext, out: ApplicationMenu | undefined): Pick<FlowContext, 'data'> {
  return { data: { ...context.data, hasApplications: (out?.count ?? 0) > 0, canApply: (out?.offers ?? 0) > 0 } };
}

/** The loan application actions; they read nothing but the session's context and the actor's output. */
export function createOriginationActions() {
  return {
    rememberApplicant: assign(({ event }: Ctx) => {
      const lang = (event.output as { lang?: string } | undefined)?.lang;
      return typeof lang === 'string' && lang ? { lang } : {};
    }),
    rememberApplicationStatus: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, applications: ((event.output as { lines?: string[] } | undefined)?.lines ?? []).join('\n') },
    })),
    rememberApplicationMenu: assign(({ context, event }: Ctx) => rememberedApplicationMenu(context, event.output as ApplicationMenu)),
    rememberLoanOffers: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, offers: event.output as ViewVars[] },
    })),
    chooseLoanOffer: assign(({ context, event }: Ctx) => {
      const rows = context.view.offers;
      const picked = Array.isArray(rows) ? rows[Number(event.index)] : undefined;
      const counts = String(picked?.repayments ?? '')
        .split(',')
        .filter(Boolean);
      return {
        data: { ...context.data, offerProductId: picked ? Number(picked.productId) : null },
        view: {
          ...context.view,
          product: picked?.product ?? '',
          min: picked?.min ?? '',
          max: picked?.max ?? '',
          repaymentChoices: counts.map((count) => ({ count: Number(count) })),
        },
      };
    }),
    rememberLoanAmount: assign(({ context, event }: Ctx) => {
      const out = event.output as { cents: number; currency: string };
      return {
        data: { ...context.data, applyCents: out.cents },
        view: { ...context.view, amount: { amount: out.cents / 100, currency: out.currency } },
      };
    }),
    chooseRepayments: assign(({ context, event }: Ctx) => {
      const rows = context.view.repaymentChoices;
      const picked = Array.isArray(rows) ? rows[Number(event.index)] : undefined;
      return {
        data: { ...context.data, applyRepayments: picked ? Number(picked.count) : null },
        view: { ...context.view, repayments: picked ? Number(picked.count) : '' },
      };
    }),
    rememberQuote: assign(({ context, event }: Ctx) => {
      const quote = event.output as LoanQuote;
      return {
        data: { ...context.data, applyQuote: JSON.stringify(quote) },
        view: {
          ...context.view,
          instalment: { amount: quote.instalmentCents / 100, currency: quote.currency },
          total: { amount: quote.totalRepaymentCents / 100, currency: quote.currency },
        },
      };
    }),
    rememberSubmission: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, status: (event.output as { line?: string } | undefined)?.line ?? '' },
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
}
