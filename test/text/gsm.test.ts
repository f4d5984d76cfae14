import { describe, expect, it } from 'vitest';
import { gsmCost, isGsm, measure, nonGsmChars, smsSegments, toGsm } from '../../src/text/gsm.js';

describe('measure', () => {
  it('counts one septet per basic-table character', () => {
    expect(measure('Salio: KES 12,500.00')).toEqual({ encoding: 'GSM-7', units: 20 });
    expect(measure('@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà')).toEqual({ encoding: 'GSM-7', units: 42 });
    expect(measure('a\nb\rc')).toEqual({ encoding: 'GSM-7', units: 5 });
    expect(measure('')).toEqual({ encoding: 'GSM-7', units: 0 });
  });

  it('counts two septets per extension-table character', () => {
    for (const ch of ['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\f']) {
      expect(measure(ch)).toEqual({ encoding: 'GSM-7', units: 2 });
    }
    expect(measure('Price: 5€ [approx]')).toEqual({ encoding: 'GSM-7', units: 21 });
  });

  it('knows that capital Ç is GSM but lower-case ç is not', () => {
    expect(measure('Ça va')).toEqual({ encoding: 'GSM-7', units: 5 });
    expect(isGsm('Ç')).toBe(true);
    expect(isGsm('ç')).toBe(false);
    expect(measure('Reçu')).toEqual({ encoding: 'UCS-2', units: 4 });
  });

  it('treats backtick, circumflexes and typographic quotes as non-GSM', () => {
    for (const ch of ['`', 'ê', 'â', 'î', 'ô', 'û', 'ë', 'ï', 'ÿ', 'œ', 'á', 'í', 'ó', 'ú', 'ã', 'õ', 'À', '’', '“', '–', '…', '\u00A0']) {
      expect(isGsm(ch), ch).toBe(false);
    }
  });

  it('counts UTF-16 code units in UCS-2, so an emoji costs 2', () => {
    expect(measure('ok 😀')).toEqual({ encoding: 'UCS-2', units: 5 });
    expect(measure('👍🏽')).toEqual({ encoding: 'UCS-2', units: 4 });
    // the extension character costs 1 in UCS-2
    expect(measure('€ ê')).toEqual({ encoding: 'UCS-2', units: 3 });
    expect(measure('ሰላም')).toEqual({ encoding: 'UCS-2', units: 3 });
  });

  it('does not count a decomposed accent as GSM', () => {
    expect(measure('e\u0301')).toEqual({ encoding: 'UCS-2', units: 2 });
  });
});

describe('toGsm', () => {
  it('transliterates French text to GSM look-alikes and keeps GSM accents', () => {
    expect(toGsm('Reçu')).toBe('Recu');
    expect(toGsm('Répéter')).toBe('Répéter');
    expect(toGsm('Fenêtre, château, île, hôtel, sûr, Noël, naïf, L’Haÿ, œuvre, Œil')).toBe(
      "Fenetre, chateau, ile, hotel, sur, Noel, naif, L'Hay, oeuvre, OEil",
    );
    expect(toGsm('« Désolé » — réessayez…')).toBe('" Désolé " - réessayez...');
    expect(toGsm('À bientôt, ça marche. Ça aussi.')).toBe('A bientot, ca marche. Ça aussi.');
    expect(toGsm('á í ó ú ã õ Á')).toBe('a i o u a o A');
  });

  it('turns the NBSP and narrow NBSP of Intl French amounts into plain spaces', () => {
    const formatted = new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'KES', currencyDisplay: 'code' }).format(12500);
    expect(formatted).toBe('12\u202F500,00\u00A0KES');
    expect(toGsm(formatted)).toBe('12 500,00 KES');
    expect(isGsm(toGsm(formatted))).toBe(true);
  });

  it('maps quotes, dashes and backtick', () => {
    expect(toGsm('‘a’ “b” c–d e—f `g`')).toBe(`'a' "b" c-d e-f 'g'`);
    expect(toGsm('ng’ombe')).toBe("ng'ombe");
  });

  it('keeps every GSM accented letter intact', () => {
    const gsmAccents = 'é è à ù ì ò É Ç Ä Ö Ñ Ü ä ö ñ ü ß Å å Ø ø Æ æ €';
    expect(toGsm(gsmAccents)).toBe(gsmAccents);
  });

  it('composes decomposed accents before deciding', () => {
    expect(toGsm('e\u0301te\u0301')).toBe('été');
    expect(toGsm('c\u0327a')).toBe('ca');
  });

  it('replaces what cannot be mapped with one ? per character and drops zero-width characters', () => {
    expect(toGsm('ok 👍🏽!')).toBe('ok ?!');
    expect(toGsm('ሰላም')).toBe('???');
    expect(toGsm('a\u200Bb\u00ADc')).toBe('abc');
  });

  it('always returns GSM-7 text', () => {
    const samples = ['Reçu 12\u202F500,00\u00A0KES', 'ŋ ſ ﬁ Ａ ½ ™ ©', '💸 €100 ~ ^', 'Ελλάδα', 'مرحبا'];
    for (const s of samples) expect(isGsm(toGsm(s)), s).toBe(true);
  });
});

describe('nonGsmChars', () => {
  it('lists each offending character with its offset and suggestion', () => {
    expect(nonGsmChars('Reçu 😀 ok')).toEqual([
      { char: 'ç', index: 2, suggestion: 'c' },
      { char: '😀', index: 5, suggestion: null },
    ]);
    expect(nonGsmChars('Répéter')).toEqual([]);
    expect(nonGsmChars('a\u200Bb')).toEqual([{ char: '\u200B', index: 1, suggestion: '' }]);
  });
});

describe('smsSegments', () => {
  it('fits 160 septets in one GSM-7 message and splits at 161', () => {
    expect(smsSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(smsSegments('a'.repeat(161))).toEqual({ encoding: 'GSM-7', units: 161, segments: 2 });
    expect(smsSegments('')).toEqual({ encoding: 'GSM-7', units: 0, segments: 1 });
  });

  it('uses 153-septet parts for concatenated messages', () => {
    expect(smsSegments('a'.repeat(306)).segments).toBe(2);
    expect(smsSegments('a'.repeat(307)).segments).toBe(3);
    expect(smsSegments('a'.repeat(459)).segments).toBe(3);
    expect(smsSegments('a'.repeat(460)).segments).toBe(4);
  });

  it('counts extension characters as 2 septets at the single-message limit', () => {
    expect(smsSegments('a'.repeat(158) + '€').segments).toBe(1);
    expect(smsSegments('a'.repeat(159) + '€')).toEqual({ encoding: 'GSM-7', units: 161, segments: 2 });
  });

  it('never splits an escape from its extension character across parts', () => {
    // 152 + 2 + 152 = 306 septets: two parts by arithmetic, but € cannot straddle the boundary
    const text = 'a'.repeat(152) + '€' + 'a'.repeat(152);
    expect(smsSegments(text)).toEqual({ encoding: 'GSM-7', units: 306, segments: 3 });
    // 151 + 2 fills the first part exactly
    expect(smsSegments('a'.repeat(151) + '€' + 'a'.repeat(153)).segments).toBe(2);
  });

  it('uses 70 / 67 units in UCS-2', () => {
    expect(smsSegments('ç'.repeat(70))).toEqual({ encoding: 'UCS-2', units: 70, segments: 1 });
    expect(smsSegments('ç'.repeat(71)).segments).toBe(2);
    expect(smsSegments('ç'.repeat(134)).segments).toBe(2);
    expect(smsSegments('ç'.repeat(135)).segments).toBe(3);
    // one emoji makes a 69-character message UCS-2 with 70 units: still one message
    expect(smsSegments('a'.repeat(68) + '😀')).toEqual({ encoding: 'UCS-2', units: 70, segments: 1 });
  });

  it('never splits a surrogate pair across UCS-2 parts', () => {
    const text = 'ç'.repeat(66) + '😀' + 'ç'.repeat(66); // 134 units
    expect(smsSegments(text)).toEqual({ encoding: 'UCS-2', units: 134, segments: 3 });
  });
});

describe('isGsm and measure against the tables, character by character', () => {
  it('should agree with gsmCost for every BMP character, alone and inside GSM text', () => {
    for (let cp = 0; cp <= 0xffff; cp++) {
      const ch = String.fromCharCode(cp);
      const cost = gsmCost(cp);
      expect(isGsm(ch)).toBe(cost !== 0);
      expect(isGsm(`ab${ch}cd`)).toBe(cost !== 0);
      expect(measure(`ab${ch}`)).toEqual(cost === 0 ? { encoding: 'UCS-2', units: 3 } : { encoding: 'GSM-7', units: 2 + cost });
    }
    // Outside the BMP: never GSM (a surrogate pair is two UTF-16 units).
    expect(isGsm('ok 👍')).toBe(false);
    expect(measure('ok 👍')).toEqual({ encoding: 'UCS-2', units: 5 });
  });
});
