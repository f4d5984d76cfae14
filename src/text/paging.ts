/**
 * USSD screen paging. A rendered screen (body text, then numbered options) that is longer than one USSD
 * string is split into pages with "98. More" / "0. Back" navigation lines. Pure functions: labels come in
 * already translated, and nothing here knows about i18n or sessions.
 *
 * Sizes are measured with `measure()`: septets when the page is GSM-7, UTF-16 code units when one character
 * on it is not (UCS-2). The `prefix` the channel adds (`CON ` / `END `) is not part of the limit.
 */
import { measure, type Encoding } from './gsm.js';

export interface ScreenOption {
  key: string;
  label: string;
}

/** A screen as text: its body and its numbered options, ready to be measured and paged. */
export interface TextScreen {
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
export function renderScreen(screen: TextScreen): string {
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
export function paginate(screen: TextScreen, options: PagingOptions): string[] {
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
interface Unit {
  kind: 'word' | 'space' | 'option';
  text: string;
  cost: Cost;
}

/** Additive cost: septets while every character is GSM (null once one is not), and UTF-16 units. */
interface Cost {
  gsm: number | null;
  ucs2: number;
}

function toLimits(limit: number | ScreenLimits): ScreenLimits {
  return typeof limit === 'number' ? { 'GSM-7': limit, 'UCS-2': limit } : limit;
}

function costOf(text: string): Cost {
  const m = measure(text);
  return { gsm: m.encoding === 'GSM-7' ? m.units : null, ucs2: text.length };
}

function fits(cost: Cost, limits: ScreenLimits): boolean {
  return cost.gsm !== null ? cost.gsm <= limits['GSM-7'] : cost.ucs2 <= limits['UCS-2'];
}

function joinLines(lines: readonly string[]): string {
  return lines.filter((l) => l !== '').join('\n');
}

function toUnits(screen: TextScreen): Unit[] {
  const units: Unit[] = [];
  for (const part of screen.body.split(/(\s+)/)) {
    if (part === '') continue;
    units.push({ kind: /^\s/.test(part) ? 'space' : 'word', text: part, cost: costOf(part) });
  }
  for (const o of screen.options) units.push(option(optionLine(o)));
  return units;
}

function trimLeading(units: Unit[]): Unit[] {
  let i = 0;
  while (i < units.length && units[i]!.kind === 'space') i++;
  return units.slice(i);
}

/** Page text: body words and spaces as they are (trailing whitespace dropped), then option and nav lines. */
function assemble(units: readonly Unit[], nav: readonly string[]): string {
  let body = '';
  const lines: string[] = [];
  for (const u of units) {
    if (u.kind === 'option') lines.push(u.text);
    else body += u.text;
  }
  return joinLines([body.trimEnd(), ...lines, ...nav]);
}

const ZERO: Cost = { gsm: 0, ucs2: 0 };

function add(a: Cost, b: Cost): Cost {
  return { gsm: a.gsm === null || b.gsm === null ? null : a.gsm + b.gsm, ucs2: a.ucs2 + b.ucs2 };
}

/**
 * The cost of a page as units are placed on it, kept incrementally (the same text `assemble` builds):
 * body words with the whitespace between them, option lines, navigation lines, and one newline between
 * each two non-empty parts. Whitespace is only counted once a word follows it.
 */
class PageMeter {
  private body = ZERO;
  private pending = ZERO;
  private hasBody = false;
  private lines = ZERO;
  private lineCount = 0;
  private readonly nav: Cost;

  constructor(private readonly navLines: readonly string[]) {
    this.nav = navLines.reduce((c, l) => add(c, costOf(l)), ZERO);
  }

  /** The page's cost if `unit` were placed next. */
  costWith(unit: Unit): Cost {
    if (unit.kind === 'space') return this.total(this.body, this.hasBody, this.lines, this.lineCount);
    if (unit.kind === 'word') {
      const body = this.hasBody ? add(add(this.body, this.pending), unit.cost) : unit.cost;
      return this.total(body, true, this.lines, this.lineCount);
    }
    return this.total(this.body, this.hasBody, add(this.lines, unit.cost), this.lineCount + 1);
  }

  place(unit: Unit): void {
    if (unit.kind === 'space') {
      if (this.hasBody) this.pending = add(this.pending, unit.cost);
    } else if (unit.kind === 'word') {
      this.body = this.hasBody ? add(add(this.body, this.pending), unit.cost) : unit.cost;
      this.pending = ZERO;
      this.hasBody = true;
    } else {
      this.lines = add(this.lines, unit.cost);
      this.lineCount += 1;
    }
  }

  private total(body: Cost, hasBody: boolean, lines: Cost, lineCount: number): Cost {
    const parts = (hasBody ? 1 : 0) + lineCount + this.navLines.length;
    const newlines = Math.max(0, parts - 1);
    return add(add(add(body, lines), this.nav), { gsm: newlines, ucs2: newlines });
  }
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
  const meter = new PageMeter(nav);
  const placed: Unit[] = [];
  let i = leading;
  for (; i < rest.length; i++) {
    const unit = rest[i]!;
    if (fits(meter.costWith(unit), limits)) {
      meter.place(unit);
      placed.push(unit);
      continue;
    }
    const chars = [...unit.text];
    if (placed.some((u) => u.kind !== 'space')) {
      // The page has content. A word that no page can hold (even with Back alone) must be cut anyway:
      // start it here to use the room left. Anything else moves whole to the next page.
      if (unit.kind !== 'word' || fits(costOf(assemble([unit], [back])), limits)) break;
      const n = longestPrefix(chars.length, (k) => fits(meter.costWith(word(chars.slice(0, k).join(''))), limits));
      if (n === 0) break;
      return {
        page: assemble([...placed, word(chars.slice(0, n).join(''))], nav),
        consumed: i + 1,
        remainder: word(chars.slice(n).join('')),
      };
    }
    // Nothing fits yet: the unit alone is longer than a page.
    if (unit.kind === 'option') {
      const shortened = (k: number): Unit => option(chars.slice(0, k).join('') + '...');
      const n = longestPrefix(chars.length, (k) => fits(meter.costWith(shortened(k)), limits));
      if (n === 0) throw new RangeError('paging: the screen limit cannot hold the navigation lines');
      return { page: assemble([shortened(n)], nav), consumed: i + 1 };
    }
    const n = longestPrefix(chars.length, (k) => fits(meter.costWith(word(chars.slice(0, k).join(''))), limits));
    if (n === 0) throw new RangeError('paging: the screen limit cannot hold the navigation lines');
    return {
      page: assemble([word(chars.slice(0, n).join(''))], nav),
      consumed: i + 1,
      remainder: word(chars.slice(n).join('')),
    };
  }
  return { page: assemble(placed, nav), consumed: i };
}

function word(text: string): Unit {
  return { kind: 'word', text, cost: costOf(text) };
}

function option(text: string): Unit {
  return { kind: 'option', text, cost: costOf(text) };
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
