import { describe, expect, it } from 'vitest';
import { lookupQueries, uncappedFallbackQueries } from '../../src/fineract/phone-lookup.js';
import { maskPhone, nationalDigits, toE164 } from '../../src/text/phone.js';

describe('toE164', () => {
  it.each([
    ['0711000001', '+254711000001'],
    ['711000001', '+254711000001'],
    ['254711000003', '+254711000003'],
    ['+254 711 000002', '+254711000002'],
    ['0711 000 004', '+254711000004'],
    ['  0711-000-001 ', '+254711000001'],
    ['00254711000001', '+254711000001'],
    ['+255711000009', '+255711000009'],
    ['255711000009', '+255711000009'],
    ['+1 (415) 555-2671', '+14155552671'],
  ])('normalises %j to %s', (raw, e164) => {
    expect(toE164(raw, 'KE')).toBe(e164);
  });

  it.each(['', 'abc', '0711abc001', '%711000001%', '07110000091', '07110000011', '+254 711 000', '12', '0'.repeat(60)])(
    'refuses junk %j',
    (raw) => {
      expect(toE164(raw, 'KE')).toBeNull();
    },
  );
});

describe('toE164 on numbers seen before', () => {
  it('should answer a repeated number as the first time, per country', () => {
    for (let i = 0; i < 3; i++) {
      expect(toE164('0711000001', 'KE')).toBe('+254711000001');
      expect(toE164('0711000001', 'TZ')).toBe('+255711000001');
      expect(toE164('0711abc001', 'KE')).toBeNull();
    }
  });
});

describe('lookupQueries', () => {
  it('searches the national number as a substring first, then spaced formats exactly', () => {
    expect(lookupQueries('+254711000002', 'KE')).toEqual([
      { query: '711000002', exactMatch: false },
      { query: '+254 711 000002', exactMatch: true },
      { query: '0711 000002', exactMatch: true },
      { query: '254 711 000002', exactMatch: true },
    ]);
  });

  it('skips the national format of a foreign number', () => {
    const queries = lookupQueries('+255711000009', 'KE').map((q) => q.query);
    expect(queries).toEqual(['711000009', '+255 711 000 009', '255 711 000 009']);
  });

  it('returns nothing for input that is not E.164', () => {
    expect(lookupQueries('0711000001', 'KE')).toEqual([]);
    expect(lookupQueries('+2547110000011', 'KE')).toEqual([]);
    expect(lookupQueries('+254 711 000001', 'KE')).toEqual([]);
  });

  it('has unformatted exact fallbacks for when a substring search is capped', () => {
    expect(uncappedFallbackQueries('+254711000001').map((q) => q.query)).toEqual([
      '+254711000001',
      '254711000001',
      '0711000001',
      '711000001',
    ]);
  });
});

describe('nationalDigits', () => {
  it.each([
    ['+254711000002', 'KE', '0711000002'],
    ['+255711000009', 'KE', '+255711000009'],
    ['+255711000009', 'TZ', '0711000009'],
    ['+14155552671', 'US', '4155552671'],
    ['not a number', 'KE', 'not a number'],
  ] as const)('shows %s in %s as %s (national form only for numbers of that country)', (e164, country, shown) => {
    expect(nationalDigits(e164, country)).toBe(shown);
  });
});

describe('maskPhone', () => {
  it('should mask a number in the national form of the deployment country, any other in E.164', () => {
    expect(maskPhone('+254711000002', 'KE')).toBe('0711***002');
    expect(maskPhone('+255711000009', 'TZ')).toBe('0711***009');
    expect(maskPhone('+255711000009', 'KE')).toBe('+255***009');
  });
});
