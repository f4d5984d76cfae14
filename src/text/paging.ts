/**
 * USSD screen paging. A rendered screen (body text, then numbered options) that is longer than one USSD
 * string is split into pages with "98. More" / "0. Back" navigation lines. Pure functions: labels come in
 * already translated, and nothing here knows about i18n or sessions.
 *
 * Sizes are measured with `measure()`: septets when the page is GSM-7, UTF-16 code units when one character
 * on it is not (UCS-2). The `prefix` the channel adds (`CON ` / `END `) is not part of the limit.
 */
import { gsmCost, type Encoding } from './gsm.js';

export interface ScreenOption {
  key: string;
  label: string;
}

export interface Screen {
  body: string;
  options: readonly ScreenOption[];
}

/** Screen budget per encoding: a USSD string is 160 octets, that is 182 septets or 80 UCS-2 characters. */
export type ScreenLimits = Readonly<Record<Encoding, number>>;

export const DEFAULT_SCREEN_LIMITS: ScreenLimits = Object.freeze({ 'GSM-7': 182, 'UCS-2': 80 });

/** The screen limit for an encoding; `overrides` replaces the defaults (e.g. `{ 'GSM-7': 160 }`). */
export function limitFor(encoding: Encoding, overrides: Partial<ScreenLimits> = {}): number {
  return overrides[encoding] ?? DEFAULT_SCREEN_LIMITS[encoding];
}

export interface PagingOptions {
  /**
   * A number applies to each page whatever its encoding (the caller picked it, e.g. with `limitFor`);
   * a per-encoding record is applied to each page according to that page's own encoding.
   */
  limit: number | ScreenLimits;
  moreKey: string;
  moreLabel: string;
  backKey: string;
  backLabel: string;
}

/** The option line as shown on a screen. */
export function optionLine(option: ScreenOption): string {
  return `${option.key}. ${option.label}`;
}

/** The whole screen on one page: body, then one line per option. */
export function renderScreen(screen: Screen): string {
  return joinLines([screen.body, ...screen.options.map(optionLine)]);
}

/**
 * Split a screen into pages that each fit the limit, navigation lines included. Every page but the last
 * ends with `${moreKey}. ${moreLabel}`; every page but the first ends with `${backKey}. ${backLabel}` (after
 * More when both). The body breaks only at whitespace (the whitespace at a break is dropped, the rest,
 * newlines included, is kept). Only a word longer than a whole page is hard-split, as a last resort, starting
 * in the room left on the current page. An option line never spans two pages; one too long for any page is
 * shortened with "...".
 *
 * @throws RangeError when the limit cannot hold the navigation lines and one character.
 */
export function paginate(screen: Screen, options: PagingOptions): string[] {
  const limits = toLimits(options.limit);
  const whole = renderScreen(screen);
  if (fits(costOf(whole), limits)) return [whole];

  const more = optionLine({ key: options.moreKey, label: options.moreLabel });
  const back = optionLine({ key: options.backKey, label: options.backLabel });
  const units = toUnits(screen);
  const pages: string[] = [];
  let next = 0; // index of the first unit not yet placed

  while (next < units.length) {
    const first = pages.length === 0;
    const lastNav = first ? [] : [back];
    const rest = units.slice(next);
    const restText = assemble(trimLeading(rest), lastNav);
    if (fits(costOf(restText), limits)) {
      pages.push(restText);
      break;
    }
    const nav = first ? [more] : [more, back];
    const { page, consumed, remainder } = fillPage(rest, nav, limits, back);
    pages.push(page);
    next += consumed;
    if (remainder !== undefined) {
      // a hard-split word continues on the next page
      next -= 1;
      units[next] = remainder;
    }
  }
  return pages;
}

export interface FittedList {
  text: string;
  /** How many items (from the start of `items`) are on the screen. */
  shown: number;
}

/**
 * The header, then as many whole items as fit (in the order given: pass the newest first), then the footer
 * option lines. Stops at the first item that does not fit, so the list keeps its order. If the header and
 * footer alone exceed the limit, they are returned anyway with `shown: 0`.
 */
export function fitList(
  header: string,
  items: readonly string[],
  footerOptions: readonly ScreenOption[],
  limit: number | ScreenLimits,
): FittedList {
  const limits = toLimits(limit);
  const footer = footerOptions.map(optionLine);
  let shown = 0;
  let text = joinLines([header, ...footer]);
  for (let n = 1; n <= items.length; n++) {
    const candidate = joinLines([header, ...items.slice(0, n), ...footer]);
    if (!fits(costOf(candidate), limits)) break;
    text = candidate;
    shown = n;
  }
  return { text, shown };
}

// ---------------------------------------------------------------------------------------------------------
// internals

/** What a page is made of: body words, the whitespace between them, and whole option lines. */
type Unit =
  | { kind: 'word'; text: string }
  | { kind: 'space'; text: string }
  | { kind: 'option'; text: string };

/** Additive cost: septets while every character is GSM (null once one is not), and UTF-16 units. */
interface Cost {
  gsm: number | null;
  ucs2: number;
}

function toLimits(limit: number | ScreenLimits): ScreenLimits {
  return typeof limit === 'number' ? { 'GSM-7': limit, 'UCS-2': limit } : limit;
}

function costOf(text: string): Cost {
  let gsm: number | null = 0;
  for (const ch of text) {
    if (gsm === null) break;
    const c = gsmCost(ch.codePointAt(0)!);
    gsm = c === 0 ? null : gsm + c;
  }
  return { gsm, ucs2: text.length };
}

function fits(cost: Cost, limits: ScreenLimits): boolean {
  return cost.gsm !== null ? cost.gsm <= limits['GSM-7'] : cost.ucs2 <= limits['UCS-2'];
}

function joinLines(lines: readonly string[]): string {
  return lines.filter((l) => l !== '').join('\n');
}

function toUnits(screen: Screen): Unit[] {
  const units: Unit[] = [];
  for (const part of screen.body.split(/(\s+)/)) {
    if (part === '') continue;
    units.push({ kind: /^\s/.test(part) ? 'space' : 'word', text: part });
  }
  for (const o of screen.options) units.push({ kind: 'option', text: optionLine(o) });
  return units;
}

function trimLeading(units: Unit[]): Unit[] {
  let i = 0;
  while (i < units.length && units[i]!.kind === 'space') i++;
  return units.slice(i);
}

/** Page text: body words and spaces as they are, option lines and navigation lines on their own lines. */
function assemble(units: readonly Unit[], nav: readonly string[]): string {
  let body = '';
  const lines: string[] = [];
  let end = units.length;
  while (end > 0 && units[end - 1]!.kind === 'space') end--; // whitespace at a break is dropped
  for (let i = 0; i < end; i++) {
    const u = units[i]!;
    if (u.kind === 'option') lines.push(u.text);
    else body += u.text;
  }
  return joinLines([body, ...lines, ...nav]);
}

/**
 * Fill one non-final page greedily from `rest`. Returns the page, how many units of `rest` it consumed, and
 * the unplaced remainder of the last consumed unit when a word had to be hard-split.
 */
function fillPage(
  rest: readonly Unit[],
  nav: readonly string[],
  limits: ScreenLimits,
  back: string,
): { page: string; consumed: number; remainder?: Unit } {
  const leading = rest.length - trimLeading([...rest]).length;
  const placed: Unit[] = [];
  let i = leading;
  for (; i < rest.length; i++) {
    const candidate = [...placed, rest[i]!];
    if (fits(costOf(assemble(candidate, nav)), limits)) {
      placed.push(rest[i]!);
      continue;
    }
    const unit = rest[i]!;
    const chars = [...unit.text];
    if (placed.some((u) => u.kind !== 'space')) {
      // The page has content. A word that no page can hold (even with Back alone) must be cut anyway:
      // start it here to use the room left. Anything else moves whole to the next page.
      const alone = (nav2: readonly string[]): boolean => fits(costOf(assemble([unit], nav2)), limits);
      if (unit.kind !== 'word' || alone([back])) break;
      const n = longestPrefix(chars.length, (k) =>
        fits(costOf(assemble([...placed, { kind: 'word', text: chars.slice(0, k).join('') }], nav)), limits),
      );
      if (n === 0) break;
      return {
        page: assemble([...placed, { kind: 'word', text: chars.slice(0, n).join('') }], nav),
        consumed: i + 1,
        remainder: { kind: 'word', text: chars.slice(n).join('') },
      };
    }
    // Nothing fits yet: the unit alone is longer than a page.
    const room = (s: string): boolean => fits(costOf(assemble([{ kind: unit.kind, text: s }], nav)), limits);
    if (unit.kind === 'option') {
      const n = longestPrefix(chars.length, (k) => room(chars.slice(0, k).join('') + '...'));
      if (n === 0) throw new RangeError('paging: the screen limit cannot hold the navigation lines');
      return { page: assemble([{ kind: 'option', text: chars.slice(0, n).join('') + '...' }], nav), consumed: i + 1 };
    }
    const n = longestPrefix(chars.length, (k) => room(chars.slice(0, k).join('')));
    if (n === 0) throw new RangeError('paging: the screen limit cannot hold the navigation lines');
    return {
      page: assemble([{ kind: 'word', text: chars.slice(0, n).join('') }], nav),
      consumed: i + 1,
      remainder: { kind: 'word', text: chars.slice(n).join('') },
    };
  }
  return { page: assemble(placed, nav), consumed: i };
}

/** The largest k in [0, max] with ok(k), given ok is monotone (true then false). */
function longestPrefix(max: number, ok: (k: number) => boolean): number {
  let lo = 0;
  let hi = max;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
