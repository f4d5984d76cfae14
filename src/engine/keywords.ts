import type { Keyword, KeywordArg } from './types.js';

/**
 * SMS keywords: a whole message (`bal  1234`, `SALIO 1234`, `lang sw`) matched against the words a screen
 * declares per language (`meta.keywords`). Matching is case-insensitive and tolerant of extra spaces and a
 * trailing full stop; arguments are positional and checked by kind, so a malformed PIN never reaches the PIN
 * check (it would count as a wrong one). The message is never kept: only the event leaves this module, and a
 * PIN only inside that event.
 */

/** What a keyword argument must look like (the PIN rule is the one of typed PIN input). */
const ARG_PATTERNS: Record<Exclude<KeywordArg, 'lang'>, RegExp> = {
  pin: /^\d{4,6}$/,
  digits: /^\d{1,20}$/,
  amount: /^\d{1,9}(\.\d{1,2})?$/,
  phone: /^\+?\d{6,15}$/,
};

/** Longest message read as keywords; anything longer is not a command. */
export const MAX_KEYWORD_MESSAGE = 160;

/** Upper-case words separated by single spaces: how words are compared. */
export function normalizeKeyword(text: string): string {
  return text.normalize('NFKC').toUpperCase().trim().split(/\s+/u).filter(Boolean).join(' ');
}

/** The tokens of a message: control characters and runs of whitespace are one space; trailing `.`, `!` dropped. */
function tokens(message: string): string[] {
  const cleaned = message
    .normalize('NFKC')
    .replace(/[\u0000-\u001f\u007f\u200b-\u200d\u2060\ufeff]/g, ' ')
    .trim()
    .replace(/[.!]+$/u, '');
  return cleaned.split(/\s+/u).filter(Boolean);
}

export type KeywordMatch =
  /** The message is this keyword with valid arguments. `lang`: the keyword's language, when it is not the customer's. */
  | { kind: 'event'; event: { type: string; [arg: string]: string }; lang?: string }
  /** The word matched but the arguments did not: show the keyword's usage. Nothing of the message is kept. */
  | { kind: 'usage'; event: string; usage?: string }
  | { kind: 'none' };

/**
 * Matches one message against a screen's keywords. `lang` is the customer's language; `languages` are the
 * languages the server speaks (a `lang` argument must be one of them).
 */
export function matchKeyword(keywords: readonly Keyword[], message: string, lang: string, languages: readonly string[]): KeywordMatch {
  if (message.length > MAX_KEYWORD_MESSAGE) return { kind: 'none' };
  const words = tokens(message).map((t) => t.toUpperCase());
  if (words.length === 0) return { kind: 'none' };

  // The longest word that starts the message wins (`MINI STATEMENT` before `MINI`).
  let best: { keyword: Keyword; length: number; langs: string[] } | undefined;
  for (const keyword of keywords) {
    for (const [wordLang, list] of Object.entries(keyword.words)) {
      for (const word of list) {
        const parts = normalizeKeyword(word).split(' ');
        if (parts.length > words.length || parts.some((p, i) => p !== words[i])) continue;
        if (!best || parts.length > best.length) best = { keyword, length: parts.length, langs: [wordLang] };
        else if (best.keyword === keyword && parts.length === best.length && !best.langs.includes(wordLang)) best.langs.push(wordLang);
      }
    }
  }
  if (!best) return { kind: 'none' };

  const { keyword } = best;
  const args = keyword.args ?? [];
  const given = tokens(message).slice(best.length);
  const usage = { kind: 'usage', event: keyword.event, usage: keyword.usage } as const;
  if (given.length !== args.length) return usage;
  const event: { type: string; [arg: string]: string } = { type: keyword.event };
  for (const [i, kind] of args.entries()) {
    const value = given[i]!;
    if (kind === 'lang') {
      const code = value.toLowerCase();
      if (!languages.includes(code)) return usage;
      event.lang = code;
    } else {
      if (!ARG_PATTERNS[kind].test(value)) return usage;
      event[kind] = value;
    }
  }
  // A word only other languages have (SALIO for an English customer) answers in the language of the word.
  const wordLang = best.langs.includes(lang) ? undefined : best.langs.find((l) => languages.includes(l));
  return { kind: 'event', event, ...(wordLang ? { lang: wordLang } : {}) };
}
