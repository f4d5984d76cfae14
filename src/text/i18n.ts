/**
 * Prompts and formatting per language. Wraps an isolated i18next instance (no global state) loaded from
 * `locales/<lang>.json`: nested JSON whose dot paths are the keys flows use (`menu.balance`).
 *
 * Prompts take `{{name}}` variables. Amounts and dates are passed pre-formatted: use `formatAmount` and
 * `formatDate`, which give short GSM-7 text per locale (Intl output with NBSP / narrow NBSP turned into plain
 * spaces and, e.g., French "août" into "aout").
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import i18next, { type i18n } from 'i18next';
import { toGsm } from './gsm.js';

/** App language → BCP 47 tag used for Intl number and date formatting. */
export type LocaleTags = Readonly<Record<string, string>>;

export const DEFAULT_LOCALE_TAGS: LocaleTags = Object.freeze({ en: 'en-KE', sw: 'sw-KE', fr: 'fr-FR' });

export type DateStyle = 'short' | 'dayMonth';

/** A calendar date: `yyyy-mm-dd`, or the `[year, month, day]` array Fineract returns. */
export type CalendarDate = string | readonly [number, number, number];

export interface TranslatorOptions {
  /** Directory holding `<lang>.json` files. */
  dir: string;
  /** Languages to load; default: every `<lang>.json` in `dir`. */
  languages?: readonly string[];
  /** Language used when a key is missing in the requested one. */
  fallback: string;
  /** Intl locale tag per language; merged over `DEFAULT_LOCALE_TAGS`. */
  localeTags?: Readonly<Record<string, string>>;
  /**
   * Called when `t` gets no value for a `{{variable}}` of the template (the variable is rendered as an empty
   * string, never as raw braces on a customer's screen). Use it to log the flow bug.
   */
  onMissingVariable?: (lang: string, key: string, variable: string) => void;
}

export interface MissingKey {
  lang: string;
  key: string;
}

export interface Translator {
  readonly languages: readonly string[];
  readonly fallback: string;
  /** True when `key` is a string in `lang` itself (no fallback). */
  has(lang: string, key: string): boolean;
  /** Every key (dot path) of a language, sorted. */
  keys(lang: string): string[];
  /** The raw template of `key` in `lang` (no fallback, no interpolation), or undefined. */
  template(lang: string, key: string): string | undefined;
  /** Translate with fallback to `fallback`; an unknown key comes back as the key itself. */
  t(lang: string, key: string, vars?: Readonly<Record<string, unknown>>): string;
  /** Every key of `referenceLang` that another language lacks. */
  missingKeys(referenceLang?: string): MissingKey[];
  formatAmount(lang: string, amount: number, currency: string, decimals?: number): string;
  formatDate(lang: string, date: CalendarDate, style?: DateStyle): string;
}

type Tree = { [key: string]: string | Tree };

/** Load the locale files and build a translator. Throws with the file and key path on malformed files. */
export async function createTranslator(options: TranslatorOptions): Promise<Translator> {
  const languages = options.languages ? [...options.languages] : await discoverLanguages(options.dir);
  if (!languages.includes(options.fallback)) {
    throw new Error(`locales: fallback language "${options.fallback}" has no file in ${options.dir}`);
  }
  const trees: Record<string, Tree> = {};
  const flat = new Map<string, Map<string, string>>();
  for (const lang of languages) {
    const file = join(options.dir, `${lang}.json`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new Error(`locales: cannot read ${file}: ${(err as Error).message}`);
    }
    const entries = new Map<string, string>();
    flatten(parsed, '', file, entries);
    trees[lang] = parsed as Tree;
    flat.set(lang, entries);
  }
  return buildTranslator(
    languages,
    options.fallback,
    trees,
    flat,
    { ...DEFAULT_LOCALE_TAGS, ...options.localeTags },
    options.onMissingVariable,
  );
}

/** The `{{var}}` names a template uses (formatting suffixes like `{{x, number}}` are ignored), sorted. */
export function variablesOf(template: string): string[] {
  const names = new Set<string>();
  for (const m of template.matchAll(/\{\{\s*-?\s*([^}\s,]+)[^}]*\}\}/g)) names.add(m[1]!);
  return [...names].sort();
}

/**
 * Amount in the locale's style with the ISO currency code, as GSM-7 text:
 * en "KES 12,500.00", sw "KES 12,500.00", fr "12 500,00 KES".
 */
export function formatAmount(lang: string, amount: number, currency: string, decimals = 2, tags: LocaleTags = DEFAULT_LOCALE_TAGS): string {
  const tag = tags[lang] ?? lang;
  const key = `${tag}|${currency}|${decimals}`;
  let nf = numberFormats.get(key);
  if (!nf) {
    nf = new Intl.NumberFormat(tag, {
      style: 'currency',
      currency,
      currencyDisplay: 'code',
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    });
    numberFormats.set(key, nf);
  }
  return toGsm(nf.format(amount).replace(INTL_SPACES, ' '));
}

/**
 * A calendar date, short: `short` is day/month/year ("25/11/2026" in en, sw and fr); `dayMonth` is the day
 * and abbreviated month, for statement lines (en "25 Nov", sw "25 Nov", fr "25 nov.").
 * @throws RangeError on a malformed or impossible date.
 */
export function formatDate(lang: string, date: CalendarDate, style: DateStyle = 'short', tags: LocaleTags = DEFAULT_LOCALE_TAGS): string {
  const tag = tags[lang] ?? lang;
  const key = `${tag}|${style}`;
  let df = dateFormats.get(key);
  if (!df) {
    df = new Intl.DateTimeFormat(
      tag,
      style === 'short'
        ? { timeZone: 'UTC', day: '2-digit', month: '2-digit', year: 'numeric' }
        : { timeZone: 'UTC', day: 'numeric', month: 'short' },
    );
    dateFormats.set(key, df);
  }
  return toGsm(df.format(toUtcDate(date)));
}

// ---------------------------------------------------------------------------------------------------------
// internals

const numberFormats = new Map<string, Intl.NumberFormat>();
/**
 * The no-break spaces Intl puts in amounts (as toGsm would, made plain spaces first: the rest of an amount is
 * GSM text, so toGsm then keeps it as it is instead of walking it grapheme by grapheme on every screen).
 */
const INTL_SPACES = /[\u00a0\u202f]/g;
/** i18next's plural and ordinal suffixes: a key with one of them is a plural, never a static text. */
const PLURAL_SUFFIXES = new Set(['zero', 'one', 'two', 'few', 'many', 'other']);
const dateFormats = new Map<string, Intl.DateTimeFormat>();

async function discoverLanguages(dir: string): Promise<string[]> {
  const files = await readdir(dir);
  const langs = files.filter((f) => f.endsWith('.json')).map((f) => basename(f, '.json'));
  if (langs.length === 0) throw new Error(`locales: no <lang>.json file in ${dir}`);
  return langs.sort();
}

function flatten(node: unknown, prefix: string, file: string, out: Map<string, string>): void {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    throw new Error(`locales: ${file}: ${prefix || '(top level)'} must be an object of strings`);
  }
  for (const [k, v] of Object.entries(node)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (k === '' || k.includes('.')) throw new Error(`locales: ${file}: key "${path}" must not be empty or contain "."`);
    if (typeof v === 'string') out.set(path, v);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v, path, file, out);
    else throw new Error(`locales: ${file}: ${path} must be a string or an object`);
  }
}

function toUtcDate(date: CalendarDate): Date {
  let y: number, m: number, d: number;
  if (typeof date === 'string') {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
    if (!match) throw new RangeError(`formatDate: expected yyyy-mm-dd, got "${date}"`);
    [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  } else {
    [y, m, d] = date;
  }
  const utc = new Date(Date.UTC(y, m - 1, d));
  if (!Number.isInteger(y) || utc.getUTCFullYear() !== y || utc.getUTCMonth() !== m - 1 || utc.getUTCDate() !== d) {
    throw new RangeError(`formatDate: not a calendar date: ${JSON.stringify(date)}`);
  }
  return utc;
}

function buildTranslator(
  languages: string[],
  fallback: string,
  trees: Record<string, Tree>,
  flat: Map<string, Map<string, string>>,
  tags: LocaleTags,
  onMissingVariable: TranslatorOptions['onMissingVariable'],
): Translator {
  const instance: i18n = i18next.createInstance();
  // t() is synchronous, so the key being translated is known while i18next interpolates.
  let current = { lang: '', key: '' };
  void instance.init({
    initAsync: false,
    resources: Object.fromEntries(languages.map((l) => [l, { translation: trees[l]! }])),
    lng: fallback,
    fallbackLng: fallback,
    supportedLngs: languages,
    load: 'languageOnly',
    interpolation: {
      escapeValue: false,
      // values are inserted as they are: never interpolated or nested again (a name such as "{{x}}" or
      // "$t(menu.title)" stays literal); this is i18next's default, made explicit
      skipOnVariables: true,
    },
    missingInterpolationHandler: (_text: string, match: RegExpExecArray) => {
      onMissingVariable?.(current.lang, current.key, (match[1] ?? '').trim());
      return '';
    },
    returnNull: false,
    returnObjects: false,
    showSupportNotice: false,
  });

  const template = (lang: string, key: string): string | undefined => flat.get(lang)?.get(key);

  // A text without variables, plurals or nesting is the same on every screen: translated once per language and
  // key (a translator holds the texts of one flow version), instead of through i18next on every hop.
  const staticTexts = new Map<string, string | null>();
  const staticText = (lang: string, key: string): string | null => {
    const id = `${lang}\u0000${key}`;
    let text = staticTexts.get(id);
    if (text !== undefined) return text;
    // Only a language of its own (i18next maps others, e.g. `en-KE`, to one) and a plain key (`:` names a namespace).
    const raw = languages.includes(lang) && !key.includes(':') ? (template(lang, key) ?? template(fallback, key)) : undefined;
    const plural = languages.some((l) => [...PLURAL_SUFFIXES].some((suffix) => flat.get(l)!.has(`${key}_${suffix}`)));
    text = raw && !plural && !raw.includes('{{') && !raw.includes('$t(') ? raw : null;
    staticTexts.set(id, text);
    return text;
  };

  return {
    languages: Object.freeze([...languages]),
    fallback,
    has: (lang, key) => template(lang, key) !== undefined,
    keys: (lang) => [...(flat.get(lang)?.keys() ?? [])].sort(),
    template,
    t(lang, key, vars) {
      // A key that addresses an object, not a string, is treated as missing (plural keys: key_one, key_other).
      if (!languages.some((l) => template(l, key) !== undefined || template(l, `${key}_other`) !== undefined)) {
        return key;
      }
      const fixed = staticText(lang, key);
      if (fixed !== null) return fixed;
      // Variables go in `replace`, so a variable named like an i18next option (lng, ns, defaultValue ...)
      // cannot change how the key is looked up; `count` is passed on for plural keys.
      const count = vars?.['count'];
      current = { lang, key };
      return instance.t(key, { lng: lang, replace: { ...vars }, ...(typeof count === 'number' ? { count } : {}) });
    },
    missingKeys(referenceLang = fallback) {
      const reference = flat.get(referenceLang);
      if (!reference) throw new Error(`locales: unknown reference language "${referenceLang}"`);
      const missing: MissingKey[] = [];
      for (const lang of languages) {
        if (lang === referenceLang) continue;
        for (const key of reference.keys()) {
          if (template(lang, key) === undefined) missing.push({ lang, key });
        }
      }
      return missing;
    },
    formatAmount: (lang, amount, currency, decimals = 2) => formatAmount(lang, amount, currency, decimals, tags),
    formatDate: (lang, date, style = 'short') => formatDate(lang, date, style, tags),
  };
}
