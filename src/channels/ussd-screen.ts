import { toGsm } from '../text/gsm.js';
import { USSD_KEYS } from '../constants.js';
import { fitList, paginate, type ScreenLimits } from '../text/paging.js';
import type { ChannelProfile, Presenter } from '../engine/turn-types.js';
import { translateScreen, type ScreenTranslator } from '../engine/screen.js';
import type { Screen, Turn } from '../engine/types.js';

/**
 * The USSD presentation of a screen: GSM-7 text (look-alikes for anything else), within the network's
 * budget, paged with translated "More"/"Back" options when it is too long. A list (mini statement) shows
 * as many whole rows as fit instead of paging. Paging is presentation: the page shown lives in the
 * presenter's state with the session, never in the engine's.
 */

export interface UssdProfileOptions {
  ttlMs: number;
  limits: ScreenLimits;
  translator: ScreenTranslator;
  keys?: { more: string; back: string; home: string };
}

/**
 * What the USSD presenter keeps between hops: the page shown of the current screen, how many pages it has
 * (measured without a notice), and whether the "More"/"Back" keys are free (not options of the screen).
 */
export interface UssdView {
  page: number;
  pages: number;
  /** The last render carried a notice: the page count is measured again without it. */
  noticed?: boolean;
  more: boolean;
  back: boolean;
}

const isView = (v: unknown): v is UssdView =>
  typeof v === 'object' && v !== null && typeof (v as UssdView).page === 'number' && typeof (v as UssdView).pages === 'number';

/** Builds the USSD channel profile used by the turn runner: engine keys, and the presenter that pages. */
export function ussdProfile(options: UssdProfileOptions): ChannelProfile {
  const keys = options.keys ?? USSD_KEYS;
  const { limits } = options;
  /** The pages of a translated screen (a final screen or a list is one page). */
  const pagesOf = (screen: Screen, tr: ScreenTranslator, lang: string, notice?: string): string[] => {
    const body = toGsm(notice ? `${notice}\n${screen.text}` : screen.text);
    const items = screen.list.map(toGsm);
    const opts = screen.options.map((o) => ({ key: o.key, label: toGsm(o.label) }));
    if (items.length > 0 || screen.final) {
      // Lists and final screens are never paged: they show what fits, whole rows only.
      const lines = screen.final && items.length === 0 ? body.split('\n') : items;
      const header = screen.final && items.length === 0 ? (lines.shift() ?? '') : body;
      return [fitList(header, lines, opts, limits).text];
    }
    return paginate(
      { body, options: opts },
      {
        limit: limits,
        moreKey: keys.more,
        moreLabel: toGsm(tr.t(lang, 'nav.more')),
        backKey: keys.back,
        backLabel: toGsm(tr.t(lang, 'nav.back')),
      },
    );
  };
  const viewOf = (turn: Turn, pages: number, page: number, noticed: boolean): UssdView => {
    const taken = new Set(turn.screen.options.map((o) => o.key));
    return { page, pages, ...(noticed ? { noticed } : {}), more: !taken.has(keys.more), back: !taken.has(keys.back) };
  };
  const presenter: Presenter = {
    navigate(input, view, current) {
      if (input !== keys.more && input !== keys.back) return undefined;
      let v = isView(view) ? view : undefined;
      if (input === keys.back) return v && v.back && v.page > 0 ? { ...v, page: v.page - 1 } : undefined;
      // "More" needs the page count of the screen as it stands: measured again only when this hop moved to
      // another screen, or when the last render carried a notice (the count is without it).
      if (!v || v.noticed) {
        const { turn, texts } = current();
        const pages = pagesOf(translateScreen(turn.screen, texts, turn.lang), texts, turn.lang).length;
        v = viewOf(turn, pages, v?.page ?? 0, false);
      }
      return v.more && v.page < v.pages - 1 ? { ...v, page: v.page + 1 } : undefined;
    },
    render(turn, texts, view) {
      // A session the runner ends itself (a polite end) answers its one text as it is.
      if (turn.closing) return { text: texts.t(turn.lang, turn.closing) };
      const notice = turn.notice ? texts.t(turn.lang, turn.notice) : undefined;
      const pages = pagesOf(translateScreen(turn.screen, texts, turn.lang), texts, turn.lang, notice);
      const page = Math.min(isView(view) ? view.page : 0, pages.length - 1);
      return { text: pages[page] ?? '', view: viewOf(turn, pages.length, page, notice !== undefined) };
    },
  };
  return { ttlMs: options.ttlMs, keys: { back: keys.back, home: keys.home }, presenter };
}
