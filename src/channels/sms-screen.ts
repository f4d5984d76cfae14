import { smsSegments, toGsm } from '../text/gsm.js';
import { SMS_MAX_PARTS } from '../constants.js';
import { optionLine } from '../text/paging.js';
import type { ChannelProfile } from '../engine/turn-types.js';
import { translateScreen } from '../engine/screen.js';
import type { Screen } from '../engine/types.js';

/**
 * The SMS presentation of a screen: one reply that never pages and never takes more than `maxSegments` SMS
 * parts, counted the way the network bills them (GSM-7: 160 septets alone, 153 per part; UCS-2: 70 / 67).
 * Look-alikes keep a text in GSM-7 (French amounts carry narrow no-break spaces, which would make the whole
 * SMS UCS-2), unless the text has no look-alike (Amharic stays UCS-2 rather than turning into "?").
 * A list (mini statement) shows as many whole rows as fit, newest first; a text too long even alone is cut
 * at a word with "...".
 */

export interface SmsProfileOptions {
  /** How long a message's session record is kept: a provider retry of the same message id gets the same reply. */
  ttlMs: number;
  /** Most SMS parts a reply may take (default 2). */
  maxSegments?: number;
}

/** Keys nobody can send by SMS: a message is a keyword, never engine navigation (back, home, more). */
const NO_NAVIGATION = { back: '\u0000back', home: '\u0000home' } as const;

const joinLines = (lines: readonly string[]) => lines.filter((l) => l !== '').join('\n');
const questionMarks = (s: string) => s.split('?').length - 1;

/** The text as it will be sent: GSM-7 look-alikes when every character has one, else the text itself. */
export function smsText(text: string): string {
  const gsm = toGsm(text);
  return questionMarks(gsm) > questionMarks(text) ? text : gsm;
}

/** Whether `text` fits `maxSegments` SMS parts. */
export const fitsSms = (text: string, maxSegments: number) => smsSegments(text).segments <= maxSegments;

/** Cuts `text` at a word so that it fits with "..." (whole words only, unless one word is longer than the budget). */
function cut(text: string, maxSegments: number): string {
  if (fitsSms(text, maxSegments)) return text;
  const chars = [...text];
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fitsSms(`${chars.slice(0, mid).join('')}...`, maxSegments)) lo = mid;
    else hi = mid - 1;
  }
  const head = chars.slice(0, lo).join('');
  const atWord = head.replace(/\s+\S*$/u, '');
  return `${(atWord.length > 0 ? atWord : head).trimEnd()}...`;
}

/** Renders a screen as one SMS of at most `maxSegments` parts. */
export function renderSms(screen: Screen, notice: string | undefined, maxSegments: number): string {
  const header = smsText(joinLines([notice ?? '', screen.text]));
  const footer = screen.options.map((o) => smsText(optionLine(o)));
  const rows = screen.list.map(smsText);
  let text = joinLines([header, ...footer]);
  for (let n = 1; n <= rows.length; n++) {
    const candidate = joinLines([header, ...rows.slice(0, n), ...footer]);
    if (!fitsSms(candidate, maxSegments)) break;
    text = candidate;
  }
  return cut(text, maxSegments);
}

/** Builds the SMS channel profile used by the turn runner. */
export function smsProfile(options: SmsProfileOptions): ChannelProfile {
  const maxSegments = options.maxSegments ?? SMS_MAX_PARTS;
  return {
    ttlMs: options.ttlMs,
    keys: { back: NO_NAVIGATION.back, home: NO_NAVIGATION.home },
    presenter: {
      render(turn, texts) {
        // A session the runner ends itself (a polite end) answers its one text as it is.
        if (turn.closing) return { text: texts.t(turn.lang, turn.closing) };
        const notice = turn.notice ? texts.t(turn.lang, turn.notice) : undefined;
        return { text: renderSms(translateScreen(turn.screen, texts, turn.lang), notice, maxSegments) };
      },
    },
  };
}
