import { toGsm } from '../text/gsm.js';
import type { Translator } from '../text/i18n.js';
import type { Application, OfferedTerms } from './application.js';
import type { LoanQuote } from './core.js';

/*
 * What an applicant reads about a loan application, in their language: the quote, the status line, the SMS of
 * each transition.
 */

/** The translator, and the USSD code told in SMS ("Dial *384*123# > My applications"). */
export interface ApplicationTextOptions {
  translator: Translator;
  ussdCode: string;
}

/** The SMS with the quote (GSM-7), sent before the applicant confirms with the PIN. */
export function quoteText(
  translator: Translator,
  lang: string,
  terms: OfferedTerms,
  principalCents: number,
  repayments: number,
  quote: LoanQuote,
): string {
  const l = translator.languages.includes(lang) ? lang : translator.fallback;
  const money = (cents: number) => translator.formatAmount(l, cents / 100, quote.currency);
  return toGsm(
    translator.t(l, 'origination.sms.quote', {
      product: terms.productName,
      amount: money(principalCents),
      repayments,
      instalment: money(quote.instalmentCents),
      total: money(quote.totalRepaymentCents),
      cost: money(quote.totalCostCents),
    }),
  );
}

/** The one line an applicant reads about an application (USSD list, SMS status). */
export function applicationStatusLine(options: ApplicationTextOptions, application: Application): string {
  const lang = langOf(options.translator, application);
  return options.translator.t(lang, `origination.status.${application.state}`, vars(options, application, lang));
}

/** The SMS of one transition, in the applicant's language (GSM-7). */
export function applicationSmsText(options: ApplicationTextOptions, application: Application, event: string): string {
  const lang = langOf(options.translator, application);
  return toGsm(options.translator.t(lang, `origination.sms.${event}`, vars(options, application, lang)));
}

function langOf(translator: Translator, application: Application): string {
  return translator.languages.includes(application.lang) ? application.lang : translator.fallback;
}

function vars(options: ApplicationTextOptions, application: Application, lang: string): Record<string, string | number> {
  const { translator } = options;
  const reasonKey = `origination.reason.${application.reason ?? 'rejected'}`;
  return {
    ref: application.ref,
    product: application.productName,
    amount: translator.formatAmount(lang, application.principalCents / 100, application.currency),
    why:
      translator.has(lang, reasonKey) || translator.has(translator.fallback, reasonKey)
        ? translator.t(lang, reasonKey)
        : (application.reason ?? ''),
    dial: options.ussdCode,
  };
}
