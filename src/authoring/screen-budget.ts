import { measure, smsSegments, toGsm } from '../text/gsm.js';
import { optionLine, paginate, type ScreenLimits } from '../text/paging.js';
import type { Translator } from '../text/i18n.js';
import type { ScreenMeta } from '../engine/types.js';
import { declaredViewVars, worstCase, type ViewVarSpec } from '../engine/manifest.js';
import { FLOW_MANIFESTS } from '../engine/registry.js';

/**
 * The worst case of every screen, rendered the way the USSD channel renders it (src/channels/ussd-screen.ts):
 * every variable at its declared maximum length, every optional option shown, one row in lists, the
 * "invalid choice" notice on top, and the paging lines when the screen is paged. Each rendering is measured
 * against the budget of its channel and locale.
 */

export interface BudgetOptions {
  /** USSD screen budget (default 182 septets, 80 UCS-2). */
  limits: ScreenLimits;
  /** Most SMS segments a reply may take (default 2). */
  smsSegments: number;
  /** Engine navigation keys (default 98 more, 0 back). */
  keys: { more: string; back: string };
  vars?: Readonly<Record<string, ViewVarSpec>>;
}

export interface BudgetProblem {
  channel: 'ussd' | 'sms';
  lang: string;
  /** The locale key whose text is to blame (usually the prompt). */
  key: string;
  message: string;
}

const joinLines = (lines: readonly string[]) => lines.filter((l) => l !== '').join('\n');
const unitName = (text: string) => (measure(text).encoding === 'GSM-7' ? 'septets' : 'UCS-2 characters');

/** Worst-case values of every declared variable. */
export function worstCaseVars(vars: Readonly<Record<string, ViewVarSpec>> = declaredViewVars(FLOW_MANIFESTS)): Record<string, string> {
  return Object.fromEntries(Object.keys(vars).map((name) => [name, worstCase(name, vars)!]));
}

/** Checks one prompt screen in one locale on the given channels. */
export function checkScreenBudget(
  tr: Translator,
  lang: string,
  meta: ScreenMeta,
  final: boolean,
  channels: readonly string[],
  options: BudgetOptions,
): BudgetProblem[] {
  if (!meta.prompt) return [];
  const problems: BudgetProblem[] = [];
  const vars = worstCaseVars(options.vars);
  const t = (key: string) => tr.t(lang, key, vars);
  const prompt = meta.prompt;
  const text = t(prompt);
  const opts = [
    ...(meta.options ?? []).map((o) => ({ key: o.key, label: t(o.label) })),
    ...(meta.choose ? [{ key: '1', label: t(meta.choose.item) }] : []),
  ];
  const notices = final ? [] : [meta.input ? 'error.invalidInput' : 'error.invalidChoice'];
  const notice = notices.map(t).sort((a, b) => b.length - a.length)[0];
  const row = meta.list ? t(meta.list.item) : undefined;
  const emptyText = meta.list?.empty ? `${text}\n${t(meta.list.empty)}` : text;
  const limitOf = (s: string) => options.limits[measure(s).encoding];

  const ussd = (message: string) => problems.push({ channel: 'ussd', lang, key: prompt, message });
  const checkFinal = (body: string, what: string) => {
    const shown = toGsm(body);
    const m = measure(shown);
    if (m.units > limitOf(shown)) {
      ussd(
        `${what} ends the session with ${m.units} ${unitName(shown)}, more than ${limitOf(shown)}: the lines that do not fit would be cut`,
      );
    }
  };
  const checkPaged = (body: string, what: string) => {
    const shownBody = toGsm(notice ? `${notice}\n${body}` : body);
    const shownOpts = opts.map((o) => ({ key: o.key, label: toGsm(o.label) }));
    const more = toGsm(tr.t(lang, 'nav.more'));
    const back = toGsm(tr.t(lang, 'nav.back'));
    const pages = paginate(
      { body: shownBody, options: shownOpts },
      { limit: options.limits, moreKey: options.keys.more, moreLabel: more, backKey: options.keys.back, backLabel: back },
    );
    if (pages.length === 1) return;
    const moreLine = optionLine({ key: options.keys.more, label: more });
    const firstPage = joinLines([shownBody, moreLine]);
    const needed = measure(firstPage).units;
    if (needed > limitOf(firstPage)) {
      const whole = measure(joinLines([shownBody, ...shownOpts.map(optionLine)])).units;
      ussd(
        `${what} is ${whole} ${unitName(firstPage)}${opts.length ? ' with its options' : ''}, so it is paged; the prompt alone ` +
          `(under the notice '${toGsm(notice ?? '')}') with '${moreLine}' then needs ${needed}, more than ` +
          `${limitOf(firstPage)}: the question would be split across pages`,
      );
    }
    for (const o of shownOpts) {
      const line = optionLine(o);
      if (!pages.some((p) => p.split('\n').includes(line))) ussd(`${what}: option '${line}' is too long for any page and would be cut`);
    }
  };

  if (meta.list) {
    const header = toGsm(final || !notice ? text : `${notice}\n${text}`);
    const shown = joinLines([header, toGsm(row ?? ''), ...opts.map((o) => optionLine({ key: o.key, label: toGsm(o.label) }))]);
    const m = measure(shown);
    if (m.units > limitOf(shown)) {
      ussd(
        `the list screen with one row${opts.length ? ' and its options' : ''} needs ${m.units} ${unitName(shown)}, more than ${limitOf(shown)}: not even one row would show`,
      );
    }
    if (meta.list.empty) {
      if (final) checkFinal(emptyText, 'the empty list screen');
      else checkPaged(emptyText, 'the empty list screen');
    }
  } else if (final) checkFinal(text, 'the screen');
  else checkPaged(text, 'the screen');

  if (channels.includes('sms')) {
    const whole = joinLines([text, ...(row ? [row] : []), ...opts.map(optionLine)]);
    const s = smsSegments(whole);
    if (s.segments > options.smsSegments) {
      problems.push({
        channel: 'sms',
        lang,
        key: prompt,
        message: `the SMS reply needs ${s.segments} segments (${s.units} ${s.encoding === 'GSM-7' ? 'septets' : 'UCS-2 characters'}), more than ${options.smsSegments}`,
      });
    }
  }
  return problems;
}

export function checkEngineText(tr: Translator, lang: string, key: string, limits: ScreenLimits): string | undefined {
  const shown = toGsm(tr.t(lang, key));
  const m = measure(shown);
  const limit = limits[m.encoding];
  return m.units > limit ? `ends the session with ${m.units} ${unitName(shown)}, more than ${limit}` : undefined;
}
