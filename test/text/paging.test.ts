import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { measure } from '../../src/text/gsm.js';
import { createTranslator, type Translator } from '../../src/text/i18n.js';
import {
  DEFAULT_SCREEN_LIMITS,
  fitList,
  limitFor,
  optionLine,
  paginate,
  renderScreen,
  type PagingOptions,
  type TextScreen,
  type ScreenLimits,
} from '../../src/text/paging.js';

const LOCALES = fileURLToPath(new URL('../../locales', import.meta.url));

const nav = (limit: number | ScreenLimits): PagingOptions => ({
  limit,
  moreKey: '98',
  moreLabel: 'More',
  backKey: '0',
  backLabel: 'Back',
});

const words = (text: string): string[] => text.split(/\s+/).filter((w) => w !== '');

function pageLimit(page: string, limit: number | ScreenLimits): number {
  return typeof limit === 'number' ? limit : limit[measure(page).encoding];
}

/** Checks every paging rule and returns the body text and option lines found on the pages. */
function checkPages(pages: string[], screen: TextScreen, opts: PagingOptions): void {
  const more = `${opts.moreKey}. ${opts.moreLabel}`;
  const back = `${opts.backKey}. ${opts.backLabel}`;
  const optionLines = screen.options.map(optionLine);
  const bodyParts: string[] = [];
  const seenOptions: string[] = [];
  pages.forEach((page, i) => {
    const first = i === 0;
    const last = i === pages.length - 1;
    expect(measure(page).units, `page ${i + 1}: ${JSON.stringify(page)}`).toBeLessThanOrEqual(pageLimit(page, opts.limit));
    const lines = page.split('\n');
    const navLines = [...(last ? [] : [more]), ...(first ? [] : [back])];
    expect(lines.slice(lines.length - navLines.length), `navigation of page ${i + 1}`).toEqual(navLines);
    const content = lines.slice(0, lines.length - navLines.length);
    expect(content.length, `page ${i + 1} has content`).toBeGreaterThan(0);
    for (const line of content) {
      if (optionLines.includes(line)) seenOptions.push(line);
      else bodyParts.push(line);
    }
  });
  // options whole, in order, each once; body words unchanged and in order
  expect(seenOptions).toEqual(optionLines);
  expect(words(bodyParts.join(' '))).toEqual(words(screen.body));
}

describe('limitFor', () => {
  it('defaults to 182 GSM-7 septets and 80 UCS-2 units, and can be overridden', () => {
    expect(limitFor('GSM-7')).toBe(182);
    expect(limitFor('UCS-2')).toBe(80);
    expect(limitFor('GSM-7', { 'GSM-7': 160 })).toBe(160);
    expect(limitFor('UCS-2', { 'GSM-7': 160 })).toBe(80);
    expect(DEFAULT_SCREEN_LIMITS).toEqual({ 'GSM-7': 182, 'UCS-2': 80 });
  });
});

describe('paginate', () => {
  it('returns the whole screen as one page when it fits', () => {
    const screen: TextScreen = {
      body: 'Main menu',
      options: [
        { key: '1', label: 'Balance' },
        { key: '2', label: 'Mini statement' },
      ],
    };
    expect(paginate(screen, nav(182))).toEqual(['Main menu\n1. Balance\n2. Mini statement']);
    expect(renderScreen({ body: '', options: [{ key: '1', label: 'Yes' }] })).toBe('1. Yes');
    expect(paginate({ body: 'Thank you.', options: [] }, nav(182))).toEqual(['Thank you.']);
  });

  it('uses the full limit: a screen of exactly the limit is one page, one more septet pages it', () => {
    const body = 'a'.repeat(170);
    const screen: TextScreen = { body, options: [{ key: '1', label: 'Okay' }] }; // 170 + 1 + 7 = 178
    expect(paginate(screen, nav(178))).toHaveLength(1);
    expect(paginate(screen, nav(177)).length).toBeGreaterThan(1);
    // the euro sign costs 2 septets
    expect(paginate({ body: '€'.repeat(91), options: [] }, nav(182))).toHaveLength(1);
    expect(paginate({ body: '€'.repeat(91) + 'x', options: [] }, nav(182)).length).toBeGreaterThan(1);
  });

  it('splits a long body at whitespace with More and Back lines, keeping newlines', () => {
    const body = Array.from({ length: 12 }, (_, i) => `Line ${i + 1}: the quick brown fox jumps over the dog.`).join('\n');
    const screen: TextScreen = {
      body,
      options: [
        { key: '1', label: 'Accept' },
        { key: '2', label: 'Decline' },
      ],
    };
    const opts = nav(100);
    const pages = paginate(screen, opts);
    expect(pages.length).toBeGreaterThanOrEqual(5);
    checkPages(pages, screen, opts);
    expect(pages[0]).toMatch(/^Line 1: the quick brown fox jumps over the dog\.\nLine 2:/);
    expect(pages[0]!.endsWith('\n98. More')).toBe(true);
    expect(pages[1]!.endsWith('\n98. More\n0. Back')).toBe(true);
    expect(pages.at(-1)!.endsWith('1. Accept\n2. Decline\n0. Back')).toBe(true);
  });

  it('never splits an option line across pages', () => {
    const options = Array.from({ length: 12 }, (_, i) => ({ key: String(i + 1), label: `Biashara Loan product ${i + 1}` }));
    const screen: TextScreen = { body: 'Choose a loan product:', options };
    const opts = nav(90);
    const pages = paginate(screen, opts);
    expect(pages.length).toBeGreaterThan(2);
    checkPages(pages, screen, opts);
  });

  it('hard-splits only a word longer than a page, starting it in the room left', () => {
    const long = 'X'.repeat(250);
    const screen: TextScreen = { body: `Reference: ${long} end`, options: [] };
    const pages = paginate(screen, nav(100));
    for (const p of pages) expect(measure(p).units).toBeLessThanOrEqual(100);
    const content = pages.map((p) => p.replace(/\n98\. More$|\n98\. More\n0\. Back$|\n0\. Back$/, ''));
    expect(content[0]).toMatch(/^Reference: X+$/);
    expect(content.join('')).toBe(`Reference: ${long} end`);
    expect(pages.at(-1)).toMatch(/X end\n0\. Back$/);
  });

  it('moves a word that fits on a page whole to the next page', () => {
    const word = 'Y'.repeat(60);
    const screen: TextScreen = { body: `${'ab '.repeat(20)}${word} tail`, options: [] };
    const opts = nav(80);
    const pages = paginate(screen, opts);
    checkPages(pages, screen, opts);
    expect(pages.some((p) => p.split('\n').includes(`${word} tail`) || p.startsWith(word))).toBe(true);
  });

  it('measures a page holding a non-GSM character in UCS-2 units against its own limit', () => {
    const body = `${'Habari za asubuhi. '.repeat(12)}Bei ni 😀 ${'nzuri sana leo. '.repeat(6)}`;
    const screen: TextScreen = { body: body.trim(), options: [{ key: '1', label: 'Sawa' }] };
    const opts = nav({ 'GSM-7': 182, 'UCS-2': 80 });
    const pages = paginate(screen, opts);
    checkPages(pages, screen, opts);
    const encodings = pages.map((p) => measure(p).encoding);
    expect(encodings).toContain('UCS-2');
    expect(encodings).toContain('GSM-7');
    for (const p of pages) expect(measure(p).units).toBeLessThanOrEqual(limitFor(measure(p).encoding));
  });

  it('shortens an option too long for any page rather than split it', () => {
    const screen: TextScreen = {
      body: 'Pick one',
      options: [
        { key: '1', label: 'short' },
        { key: '2', label: 'very long label '.repeat(10).trim() },
        { key: '3', label: 'after' },
      ],
    };
    const pages = paginate(screen, nav(60));
    for (const p of pages) expect(measure(p).units).toBeLessThanOrEqual(60);
    const joined = pages.join('\n');
    expect(joined).toMatch(/\n2\. very long label [^\n]*\.\.\.\n/);
    expect(joined).toContain('3. after');
  });

  it('refuses a limit that cannot hold the navigation lines', () => {
    expect(() => paginate({ body: 'word '.repeat(20), options: [] }, nav(12))).toThrow(RangeError);
  });

  describe('in every locale, with that locale’s navigation labels', () => {
    let tr: Translator;
    beforeAll(async () => {
      tr = await createTranslator({ dir: LOCALES, fallback: 'en' });
    });

    for (const lang of ['en', 'sw', 'fr']) {
      it(`pages a long screen in ${lang}`, () => {
        const body = [
          tr.t(lang, 'pin.locked'),
          tr.t(lang, 'error.unregistered'),
          tr.t(lang, 'error.unavailable'),
          tr.t(lang, 'pin.notSet'),
        ].join('\n');
        const screen: TextScreen = {
          body,
          options: [
            { key: '1', label: tr.t(lang, 'menu.balance') },
            { key: '2', label: tr.t(lang, 'menu.statement') },
            { key: '3', label: tr.t(lang, 'menu.language') },
            { key: '4', label: tr.t(lang, 'menu.exit') },
          ],
        };
        const opts: PagingOptions = {
          limit: limitFor('GSM-7'),
          moreKey: '98',
          moreLabel: tr.t(lang, 'nav.more'),
          backKey: '0',
          backLabel: tr.t(lang, 'nav.back'),
        };
        const pages = paginate(screen, opts);
        expect(pages.length).toBeGreaterThanOrEqual(2);
        for (const p of pages) expect(measure(p).encoding).toBe('GSM-7');
        checkPages(pages, screen, opts);
        expect(pages[0]!.endsWith(`\n98. ${tr.t(lang, 'nav.more')}`)).toBe(true);
        expect(pages.at(-1)!.endsWith(`\n0. ${tr.t(lang, 'nav.back')}`)).toBe(true);
      });
    }
  });
});

describe('fitList', () => {
  const items = ['25/11 -1,000.00', '24/11 +2,500.00', '23/11 -150.00', '22/11 +12,000.00'];
  const footer = [{ key: '0', label: 'Back' }];

  it('shows the header and as many whole items as fit', () => {
    // "Mini statement" 14 + 3 items of 15/15/13 + 3 newlines + "\n0. Back" 8 = 68
    expect(fitList('Mini statement', items, footer, 68)).toEqual({
      text: 'Mini statement\n25/11 -1,000.00\n24/11 +2,500.00\n23/11 -150.00\n0. Back',
      shown: 3,
    });
    expect(fitList('Mini statement', items, footer, 67).shown).toBe(2);
    expect(fitList('Mini statement', items, footer, 182).shown).toBe(4);
  });

  it('keeps the order: stops at the first item that does not fit', () => {
    const list = ['a'.repeat(50), 'b', 'c'];
    expect(fitList('H', list, [], 20)).toEqual({ text: 'H', shown: 0 });
  });

  it('works with no footer and with no items', () => {
    expect(fitList('Mini statement', [], footer, 182)).toEqual({ text: 'Mini statement\n0. Back', shown: 0 });
    expect(fitList('T', ['x', 'y'], [], 182)).toEqual({ text: 'T\nx\ny', shown: 2 });
  });

  it('measures UCS-2 items against the UCS-2 limit', () => {
    const limits = { 'GSM-7': 182, 'UCS-2': 20 };
    const res = fitList('Statement', ['25/11 Reçu 100', '24/11 Paid 50'], [], limits);
    expect(res.shown).toBe(0); // "Statement\n25/11 Reçu 100" is 24 UCS-2 units > 20
    expect(fitList('Statement', ['24/11 Paid 50', '25/11 Reçu 100'], [], limits).shown).toBe(1);
  });
});

/** Greedy filling: the first word or option of the next page would not have fitted on this one. */
function expectFull(pages: string[], opts: PagingOptions): void {
  const navCount = (i: number): number => (i < pages.length - 1 ? 1 : 0) + (i > 0 ? 1 : 0);
  for (let i = 0; i < pages.length - 1; i++) {
    const lines = pages[i]!.split('\n');
    const content = lines.slice(0, lines.length - navCount(i));
    const nav = lines.slice(lines.length - navCount(i));
    const nextLine = pages[i + 1]!.split('\n')[0]!;
    const isOption = /^\d+\. /.test(nextLine);
    const token = isOption ? nextLine : nextLine.split(/\s/)[0]!;
    const candidate = [...content.slice(0, -1), content.at(-1)! + (isOption ? '\n' : ' ') + token, ...nav].join('\n');
    expect(measure(candidate).units, `page ${i + 1} could hold ${JSON.stringify(token)}`).toBeGreaterThan(pageLimit(candidate, opts.limit));
  }
}

describe('paginate on generated screens', () => {
  it('keeps every rule for many random screens and limits', () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const vocabulary = [
      'Salio',
      'la',
      'akaunti',
      'yako',
      'ni',
      'KES',
      '12,500.00',
      'Mini-relevé',
      '€5',
      '[ok]',
      'Reçu',
      'a',
      'transaction',
    ];
    for (let run = 0; run < 300; run++) {
      const wordCount = rand(60);
      let body = '';
      for (let w = 0; w < wordCount; w++) {
        body += (w === 0 ? '' : rand(5) === 0 ? '\n' : ' ') + vocabulary[rand(vocabulary.length)]!;
      }
      const options = Array.from({ length: rand(8) }, (_, i) => ({ key: String(i + 1), label: vocabulary[rand(vocabulary.length)]! }));
      const screen: TextScreen = { body, options };
      const opts = nav(rand(2) === 0 ? 40 + rand(150) : { 'GSM-7': 60 + rand(130), 'UCS-2': 40 + rand(50) });
      const pages = paginate(screen, opts);
      if (pages.length === 1) {
        expect(pages[0]).toBe(renderScreen(screen));
        expect(measure(pages[0]!).units).toBeLessThanOrEqual(pageLimit(pages[0]!, opts.limit));
      } else {
        checkPages(pages, screen, opts);
        expectFull(pages, opts);
      }
    }
  });
});
