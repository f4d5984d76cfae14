import type { AnyActorLogic } from 'xstate';
import type { Logger } from 'pino';
import type { OfferedTerms } from '../origination/application.js';
import type { ApplicationService } from '../origination/applications.js';
import type { LoanQuote } from '../origination/core.js';
import { profilePinId, type ProfileService } from '../origination/profiles.js';
import { parseAmount } from '../money/amount.js';
import { actor, checkPin, FlowError, requireCustomer, type PinVerifier } from './actor-kit.js';
import { startRead, takeRead, type HopContext } from '../session/hop-context.js';
import type { Catalogue, ShownLoanProduct } from './catalogue.js';
import type { FlowContext, ViewVars } from './types.js';
import { ORIGINATION_MANIFESTS } from './registry-origination-manifest.js';
import { createOriginationActions, type ApplicationMenu } from './registry-origination-actions.js';

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
 *
 * Import this part from here: its manifests are in `registry-origination-manifest.ts`, its actions (what the
 * screens keep in the session) in `registry-origination-actions.ts`; the actors are below.
 */

export { ORIGINATION_MANIFESTS } from './registry-origination-manifest.js';
export { rememberedApplicationMenu, type ApplicationMenu } from './registry-origination-actions.js';

/** How many applications "My applications" lists (the newest). */
const LISTED = 5;
/** Kiunga's states an applicant may still withdraw from (nothing has gone to Fineract). */
const WITHDRAWABLE = new Set(['submitted', 'review']);

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

  const actions = createOriginationActions();

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
