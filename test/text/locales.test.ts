import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { measure, nonGsmChars } from '../../src/text/gsm.js';
import { createTranslator, variablesOf, type Translator } from '../../src/text/i18n.js';
import { fitList, renderScreen, type ScreenOption } from '../../src/text/paging.js';
import { declaredKeys } from '../../src/engine/manifest.js';
import { FLOW_MANIFESTS } from '../../src/engine/registry.js';
import { isFlowFileName, parseFlowSource } from '../../src/engine/flow-loader.js';

const LOCALES = fileURLToPath(new URL('../../locales', import.meta.url));
const FLOWS = fileURLToPath(new URL('../../flows', import.meta.url));
const LANGS = ['en', 'fr', 'sw'];
const SCREEN = 182;

/**
 * The keys every locale must have: those the shipped flows name and those the server uses by itself (the
 * manifests' texts). Derived, not listed by hand; it must cover at least the keys the flows were written
 * against.
 */
function requiredKeys(): string[] {
  const keys = new Set(declaredKeys(FLOW_MANIFESTS));
  for (const name of readdirSync(FLOWS).filter(isFlowFileName)) {
    const flow = parseFlowSource(name, readFileSync(join(FLOWS, name), 'utf8')).flow!;
    const visit = (value: unknown, key?: string): void => {
      if (Array.isArray(value)) value.forEach((v) => visit(v, key));
      else if (value && typeof value === 'object') Object.entries(value).forEach(([k, v]) => visit(v, k));
      else if (typeof value === 'string' && ['prompt', 'label', 'item', 'empty', 'usage'].includes(key ?? '')) keys.add(value);
    };
    visit(flow.machine);
  }
  return [...keys].sort();
}
const REQUIRED_KEYS = requiredKeys();

/** Long but realistic values, to check screens against the budget in the worst case. */
const VARS = {
  name: 'Duma Traders Ltd',
  attemptsLeft: 2,
  account: 'Akiba Savings 000000001',
  amount: 'KES 250,000.00',
  date: '25/11/2026',
  sign: '-',
  minutes: 1440,
  time: '23:59',
};

describe('locales', () => {
  let tr: Translator;
  beforeAll(async () => {
    tr = await createTranslator({ dir: LOCALES, fallback: 'en' });
  });

  it('has en, sw and fr', () => {
    expect([...tr.languages]).toEqual(LANGS);
  });

  it('defines every required key in every locale', () => {
    // the keys the flows were first written against are among them (menu.exit, used by no flow and no code, is not)
    expect(REQUIRED_KEYS).toEqual(
      expect.arrayContaining([
        'nav.more',
        'nav.back',
        'pin.ask',
        'pin.wrong',
        'pin.locked',
        'pin.notSet',
        'menu.title',
        'menu.balance',
        'menu.statement',
        'menu.language',
        'balance.title',
        'balance.line',
        'balance.none',
        'statement.title',
        'statement.line',
        'statement.empty',
        'language.title',
        'language.en',
        'language.sw',
        'language.fr',
        'language.saved',
        'error.unregistered',
        'error.unavailable',
        'error.invalidChoice',
        'error.generic',
        'error.inactive',
        'common.goodbye',
      ]),
    );
    for (const lang of LANGS) {
      for (const key of REQUIRED_KEYS) expect(tr.has(lang, key), `${lang}: ${key}`).toBe(true);
    }
  });

  it('has the same keys with the same {{variables}} in every locale', () => {
    expect(tr.missingKeys('en')).toEqual([]);
    for (const lang of LANGS) {
      expect(tr.keys(lang), lang).toEqual(tr.keys('en'));
      for (const key of tr.keys('en')) {
        expect(variablesOf(tr.template(lang, key)!), `${lang}: ${key}`).toEqual(variablesOf(tr.template('en', key)!));
      }
    }
    expect(variablesOf(tr.template('en', 'pin.ask')!)).toEqual(['name']);
    expect(variablesOf(tr.template('en', 'pin.wrong')!)).toEqual(['attemptsLeft']);
    expect(variablesOf(tr.template('en', 'balance.line')!)).toEqual(['account', 'amount']);
    expect(variablesOf(tr.template('en', 'statement.line')!)).toEqual(['amount', 'date', 'sign']);
  });

  it('is GSM-7 in every locale, without stray whitespace', () => {
    for (const lang of LANGS) {
      for (const key of tr.keys(lang)) {
        const text = tr.template(lang, key)!;
        expect(nonGsmChars(text), `${lang}: ${key}: ${text}`).toEqual([]);
        expect(text, `${lang}: ${key}`).toBe(text.trim());
        expect(text, `${lang}: ${key}`).not.toMatch(/ {2}/);
      }
    }
  });

  it('names each language in that language in every locale', () => {
    for (const lang of LANGS) {
      expect(tr.t(lang, 'language.en')).toBe('English');
      expect(tr.t(lang, 'language.sw')).toBe('Kiswahili');
      expect(tr.t(lang, 'language.fr')).toBe('Francais');
    }
  });

  it('fits every message on one screen with long values', () => {
    for (const lang of LANGS) {
      for (const key of tr.keys(lang)) {
        const text = tr.t(lang, key, VARS);
        expect(measure(text).units, `${lang}: ${key}: ${text}`).toBeLessThanOrEqual(SCREEN);
      }
    }
  });

  it('fits the main screens, options included, in every locale', () => {
    for (const lang of LANGS) {
      const t = (key: string, vars?: Record<string, unknown>): string => tr.t(lang, key, vars);
      const opts = (...keys: string[]): ScreenOption[] => keys.map((k, i) => ({ key: String(i + 1), label: t(k) }));
      const back: ScreenOption = { key: '0', label: t('nav.back') };
      const menu = opts('menu.balance', 'menu.statement', 'menu.language', 'menu.exit');
      const screens = [
        renderScreen({ body: t('menu.title'), options: menu }),
        renderScreen({ body: `${t('error.invalidChoice')}\n${t('menu.title')}`, options: menu }),
        renderScreen({ body: t('language.title'), options: opts('language.en', 'language.sw', 'language.fr') }),
        renderScreen({
          body: [
            t('balance.title'),
            t('balance.line', { account: 'Akiba Savings 000000001', amount: tr.formatAmount(lang, 12500, 'KES') }),
            t('balance.line', { account: 'Biashara Loan 000000101', amount: tr.formatAmount(lang, -30000, 'KES') }),
          ].join('\n'),
          options: [back, { key: '00', label: t('nav.home') }],
        }),
        renderScreen({ body: `${t('language.saved')}\n${t('menu.title')}`, options: menu }),
        renderScreen({ body: t('pin.wrong', VARS), options: [] }),
      ];
      for (const s of screens) expect(measure(s).units, `${lang}:\n${s}`).toBeLessThanOrEqual(SCREEN);
    }
  });

  it('shows at least five statement lines on the mini statement screen', () => {
    for (const lang of LANGS) {
      const lines = Array.from({ length: 10 }, (_, i) =>
        tr.t(lang, 'statement.line', {
          date: tr.formatDate(lang, `2026-11-${String(25 - i).padStart(2, '0')}`, 'dayMonth'),
          sign: i % 2 ? '+' : '-',
          amount: tr.formatAmount(lang, 12500 + i * 1000, 'KES'),
        }),
      );
      const { text, shown } = fitList(
        tr.t(lang, 'statement.title', { account: '000000001' }),
        lines,
        [{ key: '0', label: tr.t(lang, 'nav.back') }],
        SCREEN,
      );
      expect(shown, `${lang}:\n${text}`).toBeGreaterThanOrEqual(5);
      expect(measure(text).encoding).toBe('GSM-7');
    }
  });
});
