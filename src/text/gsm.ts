/**
 * GSM 03.38 (3GPP TS 23.038) text budget: what a USSD screen or an SMS costs, and how to keep text in the
 * 7-bit default alphabet.
 *
 * Counting rules:
 * - GSM-7: a basic-table character costs 1 septet, an extension-table character (escape + code) costs 2.
 * - UCS-2: as soon as one character is outside both tables the whole text is UCS-2, and it costs one unit per
 *   UTF-16 code unit (an emoji outside the BMP costs 2).
 */

export type Encoding = 'GSM-7' | 'UCS-2';

export interface Measure {
  encoding: Encoding;
  /** Septets for GSM-7, UTF-16 code units for UCS-2. */
  units: number;
}

export interface NonGsmChar {
  /** The offending grapheme (e.g. `ç`, `’`, `👍🏽`, or a decomposed `e` + U+0301). */
  char: string;
  /** UTF-16 offset of `char` in the text. */
  index: number;
  /** What `toGsm` turns it into; `''` means it is dropped (zero-width characters); `null` means unmappable. */
  suggestion: string | null;
}

export interface SmsSegments extends Measure {
  segments: number;
}

/** Basic table, in code order 0x00..0x7F (0x1B, the escape, is not a character and is left out). */
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅå' +
  'Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ' + // 0x10..0x1F without 0x1B (ESC)
  ' !"#¤%&\'()*+,-./' +
  '0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNO' +
  'PQRSTUVWXYZÄÖÑÜ§' +
  '¿abcdefghijklmno' +
  'pqrstuvwxyzäöñüà';

/** Extension table: form feed, ^ { } \ [ ~ ] | and the euro sign; 2 septets each. */
const EXTENSION = '\f^{}\\[~]|€';

const BASIC_SET: ReadonlySet<number> = new Set([...BASIC].map((c) => c.codePointAt(0)!));
const EXTENSION_SET: ReadonlySet<number> = new Set([...EXTENSION].map((c) => c.codePointAt(0)!));

/** Septets a code point costs in GSM-7, or 0 when it is not in GSM 03.38. */
export function gsmCost(codePoint: number): 0 | 1 | 2 {
  if (BASIC_SET.has(codePoint)) return 1;
  if (EXTENSION_SET.has(codePoint)) return 2;
  return 0;
}

/** A character class of the given characters, each escaped (every GSM character is in the BMP). */
const charClass = (chars: string) => [...chars].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
/** Text of basic-table characters only (1 septet each), and text of characters from either table. */
const BASIC_ONLY = new RegExp(`^[${charClass(BASIC)}]*$`);
const GSM_ONLY = new RegExp(`^[${charClass(BASIC + EXTENSION)}]*$`);

export function isGsm(text: string): boolean {
  // One regular expression test instead of a walk with a lookup per character: this runs on every screen.
  return GSM_ONLY.test(text);
}

export function measure(text: string): Measure {
  if (BASIC_ONLY.test(text)) return { encoding: 'GSM-7', units: text.length };
  let septets = 0;
  for (const ch of text) {
    const cost = gsmCost(ch.codePointAt(0)!);
    if (cost === 0) return { encoding: 'UCS-2', units: text.length };
    septets += cost;
  }
  return { encoding: 'GSM-7', units: septets };
}

// ---------------------------------------------------------------------------------------------------------
// Transliteration

/**
 * Explicit look-alikes, consulted before Unicode decomposition. Accented letters with a plain base letter
 * (ê, ç, â, á, ã, À ...) need no entry: decomposition strips the accent. GSM accented letters (é è à ù ì ò
 * É Ç Ä Ö Ñ Ü ä ö ñ ü ß Å å Ø ø Æ æ) never get here because they are kept as they are.
 */
const LOOKALIKES: Readonly<Record<string, string>> = {
  // quotes and apostrophes (Swahili ng'ombe must use the ASCII apostrophe)
  '‘': "'",
  '’': "'",
  '‚': "'",
  '‛': "'",
  '′': "'",
  '`': "'",
  '´': "'",
  ʼ: "'",
  ʻ: "'",
  ʹ: "'",
  ˈ: "'",
  '“': '"',
  '”': '"',
  '„': '"',
  '‟': '"',
  '″': '"',
  '«': '"',
  '»': '"',
  '‹': "'",
  '›': "'",
  // dashes and minus signs
  '‐': '-',
  '‑': '-',
  '‒': '-',
  '–': '-',
  '—': '-',
  '―': '-',
  '−': '-',
  '⁃': '-',
  // spaces: Intl formatting emits NBSP and narrow NBSP (U+202F) for French
  '\u00A0': ' ',
  '\u202F': ' ',
  '\u2007': ' ',
  '\u2009': ' ',
  '\u200A': ' ',
  '\u2002': ' ',
  '\u2003': ' ',
  '\u2004': ' ',
  '\u2005': ' ',
  '\u2006': ' ',
  '\u2008': ' ',
  '\u205F': ' ',
  '\u3000': ' ',
  '\t': ' ',
  '\u2028': '\n',
  '\u2029': '\n',
  // invisible characters are dropped
  '\u200B': '',
  '\u200C': '',
  '\u200D': '',
  '\u2060': '',
  '\uFEFF': '',
  '\u00AD': '',
  // punctuation
  '…': '...',
  '•': '-',
  '·': '.',
  '⁄': '/',
  '×': 'x',
  '÷': '/',
  '¦': '|',
  '¨': '"',
  '©': '(c)',
  '®': '(R)',
  '™': 'TM',
  '°': 'o',
  '¢': 'c',
  // letters that do not decompose
  œ: 'oe',
  Œ: 'OE',
  ð: 'd',
  Ð: 'D',
  đ: 'd',
  Đ: 'D',
  þ: 'th',
  Þ: 'Th',
  ł: 'l',
  Ł: 'L',
  ı: 'i',
  ŋ: 'ng',
  Ŋ: 'NG',
  ɛ: 'e',
  Ɛ: 'E',
  ɔ: 'o',
  Ɔ: 'O',
  ƙ: 'k',
  Ƙ: 'K',
  ɗ: 'd',
  Ɗ: 'D',
  ɓ: 'b',
  Ɓ: 'B',
  ƴ: 'y',
  Ƴ: 'Y',
  ĸ: 'k',
  ſ: 's',
  ŀ: 'l',
  Ŀ: 'L',
};

const COMBINING_MARK = /\p{M}/gu;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** GSM rendering of one code point from a decomposition, or null. */
function mapCodePoint(ch: string): string | null {
  if (gsmCost(ch.codePointAt(0)!) !== 0) return ch;
  const mapped = LOOKALIKES[ch];
  return mapped ?? null;
}

/** GSM rendering of one grapheme cluster, or null when nothing sensible exists. */
function transliterateCluster(cluster: string): string | null {
  const composed = cluster.normalize('NFC');
  if (isGsm(composed)) return composed;
  const direct = LOOKALIKES[composed];
  if (direct !== undefined) return direct;
  // Strip accents (NFD), then compatibility forms (NFKD: ligatures, full-width letters, superscripts).
  for (const form of ['NFD', 'NFKD'] as const) {
    const stripped = composed.normalize(form).replace(COMBINING_MARK, '');
    let out = '';
    let ok = true;
    for (const ch of stripped) {
      const m = mapCodePoint(ch);
      if (m === null) {
        ok = false;
        break;
      }
      out += m;
    }
    if (ok) return out;
  }
  return null;
}

/**
 * Transliterate to GSM-7 look-alikes: `ê→e`, `ç→c`, `œ→oe`, `’→'`, `“→"`, `–→-`, `…→...`, NBSP and narrow
 * NBSP → space, backtick → `'`; zero-width characters are dropped and anything left unmappable (emoji,
 * Ethiopic, Arabic ...) becomes one `?` per grapheme. GSM letters such as é è à ñ ü Ç are kept.
 */
export function toGsm(text: string): string {
  if (isGsm(text)) return text;
  let out = '';
  for (const { segment } of graphemes.segment(text)) {
    out += transliterateCluster(segment) ?? '?';
  }
  return out;
}

/** Every grapheme that is not GSM-7, with its offset and what `toGsm` would make of it. */
export function nonGsmChars(text: string): NonGsmChar[] {
  if (isGsm(text)) return [];
  const found: NonGsmChar[] = [];
  for (const { segment, index } of graphemes.segment(text)) {
    if (!isGsm(segment)) {
      found.push({ char: segment, index, suggestion: transliterateCluster(segment) });
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------
// SMS segments

const GSM_SINGLE = 160;
const GSM_PART = 153;
const UCS2_SINGLE = 70;
const UCS2_PART = 67;

/**
 * How many SMS parts the text needs: 160 septets in one GSM-7 message or 153 per concatenated part (the UDH
 * takes the rest), 70 / 67 UTF-16 units in UCS-2. A part never ends between an escape and its extension
 * character, nor inside a surrogate pair, so a part may hold one unit less than the maximum.
 * An empty text is one (empty) message.
 */
export function smsSegments(text: string): SmsSegments {
  const m = measure(text);
  const gsm = m.encoding === 'GSM-7';
  if (m.units <= (gsm ? GSM_SINGLE : UCS2_SINGLE)) return { ...m, segments: 1 };
  const part = gsm ? GSM_PART : UCS2_PART;
  let segments = 1;
  let used = 0;
  for (const ch of text) {
    const cost = gsm ? gsmCost(ch.codePointAt(0)!) : ch.length;
    if (used + cost > part) {
      segments += 1;
      used = 0;
    }
    used += cost;
  }
  return { ...m, segments };
}
