import { assign, type AnyActorLogic } from 'xstate';
import type { Logger } from 'pino';
import type { OfferedTerms } from '../origination/application.js';
import type { ApplicationService } from '../origination/applications.js';
import type { LoanQuote } from '../origination/core.js';
import { profilePinId, type ProfileService } from '../origination/profiles.js';
import { parseAmount } from '../money/amount.js';
import { actor, checkPin, FlowError, requireCustomer, type PinVerifier } from './actor-kit.js';
import { startRead, takeRead, type HopContext } from '../session/hop-context.js';
import type { Catalogue, ShownLoanProduct } from './catalogue.js';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';
import { amountVar, type ManifestSet } from './manifest.js';

/**
 * The loan applications part of the setup() registry (issue 12, point 4): the status of the sender's loan
 * applications by SMS keyword (LOAN / MKOPO / PRET), newest first, in the customer's language; a number that is no
 * (active) client but completed the USSD sign-up gets the same answer (`findApplicant`), in its sign-up language
 * unless it writes another language's word. Behaviour lives
 * in `origination/applications.ts`; this adapts it to flows. On USSD, a registered customer who has applied
 * gets "My applications" in the menu: the newest applications with their status, and withdrawal of one not yet
 * sent to Fineract; and "Apply for a loan": a product the catalogue shows on USSD, an amount inside its range,
 * a number of repayments it allows, Fineract's quote (also sent by SMS), then the PIN submits the application
 * and the automated checks' outcome is shown. The terms are read from the catalogue again at each step (never
 * trusted from the session). A signed-up applicant who is not a client yet (registry-signup.ts) uses the same
 * screens once their sign-up PIN was right in this session (`data.applicantProfileId`): the quote is made
 * without a client, the PIN that submits is checked under the profile, and the application carries the profile.
 */

/** How many applications "My applications" lists (the newest). */
const LISTED = 5;
/** Kiunga's states an applicant may still withdraw from (nothing has gone to Fineract). */
const WITHDRAWABLE = new Set(['submitted', 'review']);
const refVar = { max: 8, example: 'AB12CD34', description: 'application reference' };
const productVar = { max: 20, example: 'Biashara Loan', description: "the product's display name" };

export const ORIGINATION_MANIFESTS = {
  actors: {
    findApplicant: {
      description:
        "a number that is no (active) client: its completed sign-up (a Kiunga profile), with the profile's language; none: unregistered",
      errors: ['unregistered'],
    },
    loadApplicationStatus: {
      description: "the status of the sender's latest loan applications (the two newest, newest first); none: not-found",
      errors: ['not-found'],
    },
    loadApplicationMenu: {
      description:
        "after the PIN (USSD only): how many loan applications this number has made; unanswered: none shown (loadMenu reads it with the menu's other facts)",
    },
    loadApplications: {
      description: "the customer's newest loan applications (up to 5, newest first); none: not-found",
      errors: ['not-found'],
    },
    loadLoanOffers: {
      description: 'the loan products the catalogue shows on this channel, with their terms, in the customer language; none: not-found',
      errors: ['not-found'],
    },
    checkLoanAmount: {
      description: "the amount typed, inside the chosen product's range in the catalogue; below: amount-low, above: amount-high",
      errors: ['amount-low', 'amount-high', 'not-found'],
    },
    quoteLoan: {
      description: "Fineract's quote (instalment, total) for the product, amount and repayments chosen; also sent by SMS",
      errors: ['not-found'],
    },
    submitApplication: {
      description:
        'PIN-checked: submits the application with the quote shown and runs the automated checks. Resolves { status: review | declined, line }',
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'not-found'],
    },
    withdrawApplication: {
      description:
        'withdraws the application chosen, if it is still before Fineract (submitted or waiting for review); otherwise not-withdrawable',
      errors: ['not-withdrawable', 'not-found'],
    },
  },
  actions: {
    rememberApplicant: {
      description: "speaks the language of the applicant's sign-up (findApplicant)",
    },
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
      flags: {
        hasApplications: 'the number has made a loan application',
        canApply: 'the catalogue shows a loan product on this channel',
      },
    },
    rememberLoanOffers: {
      description: 'keeps the loan products loaded by loadLoanOffers',
      lists: { offers: { description: 'one row per product shown', row: { product: productVar } } },
    },
    chooseLoanOffer: {
      description: 'keeps the product chosen (choose event index) with its range and repayments',
      views: {
        product: productVar,
        min: amountVar('the smallest amount'),
        max: amountVar('the largest amount'),
      },
      lists: {
        repaymentChoices: {
          description: 'the numbers of repayments allowed',
          row: { count: { max: 3, example: '12', description: 'repayments' } },
        },
      },
    },
    rememberLoanAmount: {
      description: 'keeps the amount checkLoanAmount accepted',
      views: { amount: amountVar('the amount applied for') },
    },
    chooseRepayments: {
      description: 'keeps the number of repayments chosen (choose event index)',
      views: { repayments: { max: 3, example: '12', description: 'repayments' } },
    },
    rememberQuote: {
      description: 'keeps the quote quoteLoan read',
      views: { instalment: amountVar('one repayment'), total: amountVar('the total to repay') },
    },
    rememberSubmission: {
      description: 'keeps the status line of the application submitted',
      views: {
        status: {
          max: 140,
          example: 'AB12CD34 Biashara Loan KES 10,000.00: waiting for review',
          description: "the application's status line (with the reason and next step when declined)",
        },
      },
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
  applications?: Pick<ApplicationService, 'forApplicant' | 'statusLine' | 'withdraw' | 'quote' | 'sendQuote' | 'apply'>;
  /** The product catalogue: which loan products a channel shows, and their terms. */
  catalogue?: Pick<Catalogue, 'loanProducts'> | null;
  pins: PinVerifier;
  /** Sign-up profiles: a signed-up applicant applies with their profile (no client yet). */
  profiles?: Pick<ProfileService, 'get' | 'forNumber'>;
  /** The PIN check of a profile's PIN key (`p-<profile id>`), with the ordinary lockout. */
  profilePins?: { verify(id: string, pin: string, caller?: { msisdn?: string; hop?: HopContext }): ReturnType<PinVerifier['verify']> };
  logger: Logger;
}

/** Who applies: a registered customer (their client id), or a signed-up applicant admitted by their PIN. */
type Applicant = { clientId: number; profileId?: undefined } | { clientId?: undefined; profileId: string };

function requireApplicant(context: FlowContext): Applicant {
  if (context.customer) return { clientId: context.customer.clientId };
  const profileId = context.data.applicantProfileId;
  if (typeof profileId === 'string' && /^kp[0-9a-f]{20}$/.test(profileId)) return { profileId };
  throw new FlowError('unregistered');
}

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

export function createOriginationImplementations(deps: OriginationFlowDeps) {
  const { logger } = deps;

  const offers = (context: FlowContext) => (deps.catalogue ? deps.catalogue.loanProducts('ussd', context.lang) : []);
  /** The chosen product's terms, read from the catalogue again (a product hidden meanwhile is gone). */
  const chosenTerms = (context: FlowContext): OfferedTerms => {
    const shown = offers(context).find((o) => o.productId === Number(context.data.offerProductId));
    if (!shown) throw new FlowError('not-found');
    return offeredTerms(shown);
  };
  const chosenCents = (context: FlowContext) => Number(context.data.applyCents ?? 0);
  const chosenRepayments = (context: FlowContext) => Number(context.data.applyRepayments ?? 0);
  /** Whether the menu offers "My applications" (USSD only); read early while the PIN is checked. */
  const applicationMenu = async (context: FlowContext): Promise<ApplicationMenu> => {
    requireCustomer(context);
    // The list and withdrawal need the USSD menus; a voice call reads no such screens.
    if (context.channel !== 'ussd' || !deps.applications) return { count: 0, offers: 0 };
    return { count: (await deps.applications.forApplicant(context.msisdn, 1)).length, offers: offers(context).length };
  };

  const actors = {
    findApplicant: actor(logger, 'findApplicant', async ({ context }) => {
      // Only a finished sign-up is an applicant; a number half-way through is told it is not registered, as before.
      const profile = deps.profiles ? await deps.profiles.forNumber(context.msisdn) : undefined;
      if (!profile || profile.state !== 'done') throw new FlowError('unregistered');
      return { lang: profile.lang };
    }),
    loadApplicationStatus: actor(logger, 'loadApplicationStatus', async ({ context }) => {
      if (!deps.applications) throw new FlowError('unavailable');
      const mine = await deps.applications.forApplicant(context.msisdn, 2);
      if (mine.length === 0) throw new FlowError('not-found');
      // Told in the language the customer uses now, whatever language they applied in.
      return { lines: mine.map((a) => deps.applications!.statusLine({ ...a, lang: context.lang })) };
    }),
    loadApplicationMenu: actor(logger, 'loadApplicationMenu', async ({ context }, { hop }) =>
      takeRead(hop, 'loadApplicationMenu', () => applicationMenu(context)),
    ),
    loadApplications: actor(logger, 'loadApplications', async ({ context }) => {
      requireApplicant(context);
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
    loadLoanOffers: actor(logger, 'loadLoanOffers', async ({ context }) => {
      requireApplicant(context);
      const shown = offers(context);
      if (shown.length === 0) throw new FlowError('not-found');
      return shown.map((o) => ({
        productId: o.productId,
        product: o.displayName,
        min: { amount: o.minAmountMinor / 100, currency: o.currency },
        max: { amount: o.maxAmountMinor / 100, currency: o.currency },
        repayments: o.repayments.join(','),
      }));
    }),
    checkLoanAmount: actor(logger, 'checkLoanAmount', async ({ context, event }) => {
      const terms = chosenTerms(context);
      const cents = parseAmount(typeof event.value === 'string' ? event.value : '');
      if (cents === undefined || cents < terms.minCents) throw new FlowError('amount-low');
      if (cents > terms.maxCents) throw new FlowError('amount-high');
      return { cents, currency: terms.currency };
    }),
    quoteLoan: actor(logger, 'quoteLoan', async ({ context }, { hop }) => {
      const applicant = requireApplicant(context);
      if (!deps.applications) throw new FlowError('unavailable');
      const terms = chosenTerms(context);
      const repayments = chosenRepayments(context);
      const cents = chosenCents(context);
      if (!terms.repayments.includes(repayments) || cents < terms.minCents || cents > terms.maxCents) throw new FlowError('not-found');
      const quote = await deps.applications.quote(terms, cents, repayments, applicant.clientId, hop);
      await deps.applications.sendQuote(context.msisdn, context.lang, terms, cents, repayments, quote);
      return quote;
    }),
    submitApplication: actor(logger, 'submitApplication', async ({ context, event }, { hop }) => {
      const applicant = requireApplicant(context);
      if (!deps.applications) throw new FlowError('unavailable');
      let profile;
      if (applicant.clientId !== undefined) await checkPin(deps.pins, applicant.clientId, event, hop);
      else {
        if (!deps.profiles || !deps.profilePins) throw new FlowError('unavailable');
        profile = await deps.profiles.get(applicant.profileId);
        if (!profile || profile.msisdn !== context.msisdn) throw new FlowError('forbidden');
        const pinKey = profilePinId(applicant.profileId);
        await checkPin({ verify: (_id, pin) => deps.profilePins!.verify(pinKey, pin, { msisdn: context.msisdn, hop }) }, 0, event, hop);
      }
      const terms = chosenTerms(context);
      const quote = JSON.parse(String(context.data.applyQuote ?? 'null')) as LoanQuote | null;
      if (!quote) throw new FlowError('not-found');
      // Out-of-range terms are not refused here: the automated checks decline them with the reason, on record.
      const application = await deps.applications.apply({
        msisdn: context.msisdn,
        lang: context.lang,
        channel: context.channel,
        ...(hop ? { hop } : {}),
        ...(applicant.clientId !== undefined ? { clientId: applicant.clientId } : { profile }),
        terms,
        principalCents: chosenCents(context),
        repayments: chosenRepayments(context),
        quote,
      });
      return { status: application.state, line: deps.applications.statusLine({ ...application, lang: context.lang }) };
    }),
    withdrawApplication: actor(logger, 'withdrawApplication', async ({ context }) => {
      requireApplicant(context);
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

  return {
    actors,
    actions,
    guards: {},
    warm: (context: FlowContext, hop: HopContext | undefined) => startRead(hop, 'loadApplicationMenu', () => applicationMenu(context)),
    /** The read `loadMenu` makes (taken from the PIN hop's early read when there is one). */
    menuRead: (context: FlowContext, hop: HopContext | undefined) => takeRead(hop, 'loadApplicationMenu', () => applicationMenu(context)),
  };
}

/** The terms an application is made on, as the catalogue shows the product on a channel. */
export function offeredTerms(shown: ShownLoanProduct): OfferedTerms {
  return {
    productId: shown.productId,
    productName: shown.displayName,
    minCents: shown.minAmountMinor,
    maxCents: shown.maxAmountMinor,
    repayments: shown.repayments,
    currency: shown.currency,
  };
}
