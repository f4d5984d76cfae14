import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import i18next from 'i18next';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isGsm } from '../../src/text/gsm.js';
import { createTranslator, formatAmount, formatDate, variablesOf, type Translator } from '../../src/text/i18n.js';

const LOCALES = fileURLToPath(new URL('../../locales', import.meta.url));

describe('createTranslator on a scratch directory', () => {
  let dir: string;
  let tr: Translator;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiunga-locales-'));
    await writeFile(
      join(dir, 'en.json'),
      JSON.stringify({
        menu: { title: 'Main menu', balance: 'Balance' },
        greet: 'Hello {{name}}',
        only: { en: 'English only' },
        tries_one: '{{count}} try left',
        tries_other: '{{count}} tries left',
      }),
    );
    await writeFile(join(dir, 'sw.json'), JSON.stringify({ menu: { title: 'Menyu kuu' }, greet: 'Habari {{name}}' }));
    await writeFile(join(dir, 'notes.txt'), 'not a locale');
    tr = await createTranslator({ dir, fallback: 'en' });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('discovers every <lang>.json', () => {
    expect(tr.languages).toEqual(['en', 'sw']);
    expect(tr.fallback).toBe('en');
  });

  it('translates nested keys by dot path and interpolates without HTML escaping', () => {
    expect(tr.t('sw', 'menu.title')).toBe('Menyu kuu');
    expect(tr.t('en', 'greet', { name: 'Amina & <Baraka>' })).toBe('Hello Amina & <Baraka>');
    expect(tr.t('sw', 'greet', { name: 'Amina' })).toBe('Habari Amina');
  });

  it('falls back to the fallback language, and returns an unknown key as is', () => {
    expect(tr.t('sw', 'menu.balance')).toBe('Balance');
    expect(tr.t('de', 'menu.title')).toBe('Main menu');
    expect(tr.t('sw-KE', 'menu.title')).toBe('Menyu kuu');
    expect(tr.t('en', 'no.such.key')).toBe('no.such.key');
    expect(tr.t('en', 'menu')).toBe('menu'); // an object, not a prompt
  });

  it('supports i18next plural keys through count', () => {
    expect(tr.t('en', 'tries', { count: 1 })).toBe('1 try left');
    expect(tr.t('en', 'tries', { count: 2 })).toBe('2 tries left');
  });

  it('does not let a variable named like an i18next option change the lookup', () => {
    expect(tr.t('sw', 'greet', { name: 'Amina', lng: 'en', defaultValue: 'x', ns: 'other' })).toBe('Habari Amina');
  });

  it('has() looks only in the language asked, without fallback', () => {
    expect(tr.has('en', 'menu.balance')).toBe(true);
    expect(tr.has('sw', 'menu.balance')).toBe(false);
    expect(tr.has('sw', 'menu')).toBe(false);
    expect(tr.has('de', 'menu.title')).toBe(false);
    expect(tr.template('sw', 'greet')).toBe('Habari {{name}}');
    expect(tr.keys('sw')).toEqual(['greet', 'menu.title']);
  });

  it('lists the keys of the reference language missing elsewhere', () => {
    expect(tr.missingKeys()).toEqual([
      { lang: 'sw', key: 'menu.balance' },
      { lang: 'sw', key: 'only.en' },
      { lang: 'sw', key: 'tries_one' },
      { lang: 'sw', key: 'tries_other' },
    ]);
    expect(tr.missingKeys('sw')).toEqual([]);
    expect(() => tr.missingKeys('de')).toThrow(/unknown reference language/);
  });

  it('keeps instances isolated', async () => {
    const other = await createTranslator({ dir, languages: ['sw', 'en'], fallback: 'sw' });
    expect(other.t('de', 'menu.title')).toBe('Menyu kuu');
    expect(tr.t('de', 'menu.title')).toBe('Main menu');
  });

  it('does not print the i18next support notice', async () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => undefined);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await createTranslator({ dir, fallback: 'en' });
    expect(info).not.toHaveBeenCalled();
    expect(log).not.toHaveBeenCalled();
    info.mockRestore();
    log.mockRestore();
  });

  it('refuses malformed locale files with the file and key path', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'kiunga-bad-locales-'));
    try {
      await writeFile(join(bad, 'en.json'), JSON.stringify({ menu: { title: 3 } }));
      await expect(createTranslator({ dir: bad, fallback: 'en' })).rejects.toThrow(/en\.json: menu\.title must be a string/);
      await writeFile(join(bad, 'en.json'), '{ "menu": ');
      await expect(createTranslator({ dir: bad, fallback: 'en' })).rejects.toThrow(/cannot read .*en\.json/);
      await writeFile(join(bad, 'en.json'), JSON.stringify({ 'a.b': 'x' }));
      await expect(createTranslator({ dir: bad, fallback: 'en' })).rejects.toThrow(/must not be empty or contain "\."/);
      await expect(createTranslator({ dir, fallback: 'fr' })).rejects.toThrow(/fallback language "fr"/);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});

describe('variablesOf', () => {
  it('lists the variables of a template', () => {
    expect(variablesOf('{{date}} {{sign}}{{amount}}')).toEqual(['amount', 'date', 'sign']);
    expect(variablesOf('Hi {{ name }}, {{n, number}} {{name}}')).toEqual(['n', 'name']);
    expect(variablesOf('no variables')).toEqual([]);
  });
});

describe('formatAmount', () => {
  it('formats 12500 KES per locale as GSM-7 text with plain spaces', () => {
    expect(formatAmount('en', 12500, 'KES')).toBe('KES 12,500.00');
    expect(formatAmount('sw', 12500, 'KES')).toBe('KES 12,500.00');
    expect(formatAmount('fr', 12500, 'KES')).toBe('12 500,00 KES');
    for (const lang of ['en', 'sw', 'fr']) expect(isGsm(formatAmount(lang, 1234567.891, 'KES'))).toBe(true);
  });

  it('handles negatives, rounding, large numbers and zero-decimal currencies', () => {
    expect(formatAmount('en', -30000, 'KES')).toBe('-KES 30,000.00');
    expect(formatAmount('fr', -30000, 'KES')).toBe('-30 000,00 KES');
    expect(formatAmount('en', 1234567.891, 'KES')).toBe('KES 1,234,567.89');
    expect(formatAmount('fr', 1234567.891, 'KES')).toBe('1 234 567,89 KES');
    expect(formatAmount('en', 0.5, 'KES')).toBe('KES 0.50');
    expect(formatAmount('en', 12500, 'UGX', 0)).toBe('UGX 12,500');
    expect(formatAmount('fr', 12500, 'XOF', 0)).toBe('12 500 XOF');
  });
});

describe('formatDate', () => {
  it('formats 2026-11-25 per locale', () => {
    expect(formatDate('en', '2026-11-25')).toBe('25/11/2026');
    expect(formatDate('sw', '2026-11-25')).toBe('25/11/2026');
    expect(formatDate('fr', '2026-11-25')).toBe('25/11/2026');
    expect(formatDate('en', '2026-11-25', 'dayMonth')).toBe('25 Nov');
    expect(formatDate('sw', '2026-11-25', 'dayMonth')).toBe('25 Nov');
    expect(formatDate('fr', '2026-11-25', 'dayMonth')).toBe('25 nov.');
  });

  it('pads single digits and uses the local month abbreviations, in GSM-7', () => {
    expect(formatDate('en', '2026-01-05')).toBe('05/01/2026');
    expect(formatDate('sw', '2026-08-05', 'dayMonth')).toBe('5 Ago');
    expect(formatDate('sw', '2026-12-05', 'dayMonth')).toBe('5 Des');
    expect(formatDate('fr', '2026-08-05', 'dayMonth')).toBe('5 aout'); // "août" transliterated
    expect(formatDate('fr', '2026-02-05', 'dayMonth')).toBe('5 févr.');
    for (const lang of ['en', 'sw', 'fr']) {
      for (let m = 1; m <= 12; m++) {
        const iso = `2026-${String(m).padStart(2, '0')}-15`;
        expect(isGsm(formatDate(lang, iso, 'dayMonth')), `${lang} ${iso}`).toBe(true);
      }
    }
  });

  it('is not shifted by the time zone', () => {
    expect(formatDate('en', '2026-01-01')).toBe('01/01/2026');
    expect(formatDate('en', '2026-12-31')).toBe('31/12/2026');
  });

  it('accepts the [y, m, d] arrays Fineract returns and rejects impossible dates', () => {
    expect(formatDate('en', [2026, 11, 25])).toBe('25/11/2026');
    expect(() => formatDate('en', '2026-02-30')).toThrow(RangeError);
    expect(() => formatDate('en', '25/11/2026')).toThrow(RangeError);
    expect(() => formatDate('en', [2026, 13, 1])).toThrow(RangeError);
  });
});

describe('translator formatting', () => {
  it('uses the configured locale tags', async () => {
    const tr = await createTranslator({ dir: LOCALES, fallback: 'en', localeTags: { fr: 'fr-CI' } });
    expect(tr.formatAmount('en', 12500, 'KES')).toBe('KES 12,500.00');
    expect(tr.formatAmount('fr', 12500, 'XOF', 0)).toBe('12 500 XOF');
    expect(tr.formatDate('sw', '2026-11-25', 'dayMonth')).toBe('25 Nov');
    expect(tr.t('fr', 'balance.line', { account: 'Akiba Savings 000000001', amount: tr.formatAmount('fr', 12500, 'KES') })).toBe(
      'Akiba Savings 000000001: 12 500,00 KES',
    );
  });
});

describe('interpolation safety', () => {
  it('renders a missing variable as empty and reports it', async () => {
    const missing: string[] = [];
    const tr = await createTranslator({
      dir: LOCALES,
      fallback: 'en',
      onMissingVariable: (lang, key, variable) => missing.push(`${lang}:${key}:${variable}`),
    });
    expect(tr.t('sw', 'pin.ask')).toBe('Karibu . Weka PIN yako:');
    expect(missing).toEqual(['sw:pin.ask:name']);
    expect(tr.t('en', 'pin.ask', { name: null })).toBe('Welcome . Enter your PIN:');
  });

  it('inserts values literally: no nested interpolation or $t() from customer data', async () => {
    const tr = await createTranslator({ dir: LOCALES, fallback: 'en' });
    expect(tr.t('en', 'pin.ask', { name: '{{attemptsLeft}} $t(menu.title)' })).toBe(
      'Welcome {{attemptsLeft}} $t(menu.title). Enter your PIN:',
    );
    expect(tr.t('en', 'pin.wrong', { attemptsLeft: 0 })).toBe('Wrong PIN. 0 attempt(s) left. Enter your PIN:');
  });
});

describe('texts translated once (static texts served without i18next)', () => {
  it('should give, for every key of the shipped locales in every language, what i18next itself gives', async () => {
    const tr = await createTranslator({ dir: LOCALES, fallback: 'en' });
    const resources = Object.fromEntries(
      await Promise.all(
        tr.languages.map(async (l) => [l, { translation: JSON.parse(await readFile(join(LOCALES, `${l}.json`), 'utf8')) }] as const),
      ),
    );
    const plain = i18next.createInstance();
    await plain.init({
      resources,
      fallbackLng: 'en',
      supportedLngs: [...tr.languages],
      load: 'languageOnly',
      interpolation: { escapeValue: false, skipOnVariables: true },
      // As the translator: a variable not given is rendered empty.
      missingInterpolationHandler: () => '',
      showSupportNotice: false,
    });
    const keys = new Set(tr.languages.flatMap((l) => tr.keys(l)).map((k) => k.replace(/_(zero|one|two|few|many|other)$/, '')));
    let checked = 0;
    for (const lang of [...tr.languages, 'en-KE', 'de']) {
      for (const key of keys) {
        const vars = { name: 'Amina', count: 2, amount: 'KES 10.00' };
        // Twice: the first call fills the cache, the second is served from it.
        for (let i = 0; i < 2; i++) {
          expect(tr.t(lang, key, vars), `${lang} ${key}`).toBe(plain.t(key, { lng: lang, replace: vars, count: 2 }));
          expect(tr.t(lang, key), `${lang} ${key}`).toBe(plain.t(key, { lng: lang }));
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(300);
  });

  it('should keep a text with a variable, a plural or a nested key dynamic', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiunga-locales-'));
    try {
      await writeFile(
        join(dir, 'en.json'),
        JSON.stringify({ hi: 'Hi {{name}}', n_one: 'one left', n_other: '{{count}} left', nest: 'Menu: $t(hi)', fixed: 'Fixed' }),
      );
      const tr = await createTranslator({ dir, fallback: 'en' });
      expect([tr.t('en', 'hi', { name: 'A' }), tr.t('en', 'hi', { name: 'B' })]).toEqual(['Hi A', 'Hi B']);
      expect([tr.t('en', 'n', { count: 1 }), tr.t('en', 'n', { count: 3 })]).toEqual(['one left', '3 left']);
      expect(tr.t('en', 'nest', { name: 'C' })).toBe('Menu: Hi C');
      expect([tr.t('en', 'fixed'), tr.t('en', 'fixed', { name: 'D' })]).toEqual(['Fixed', 'Fixed']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
