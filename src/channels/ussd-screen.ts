import { toGsm } from '../text/gsm.js';
import { fitList, paginate, type ScreenLimits } from '../text/paging.js';
import type { ChannelProfile } from '../engine/turn-runner.js';
import type { ScreenTranslator } from '../engine/screen.js';
import type { Screen } from '../engine/types.js';

/**
 * The USSD presentation of a screen: GSM-7 text (look-alikes for anything else), within the network's
 * budget, paged with translated "More"/"Back" options when it is too long. A list (mini statement) shows
 * as many whole rows as fit instead of paging.
 */

export interface UssdProfileOptions {
  ttlMs: number;
  limits: ScreenLimits;
  translator: ScreenTranslator;
  keys?: { more: string; back: string; home: string };
}

/** Builds the USSD channel profile used by the turn runner. */
export function ussdProfile(options: UssdProfileOptions): ChannelProfile {
  const keys = options.keys ?? { more: '98', back: '0', home: '00' };
  const { translator: tr, limits } = options;
  return {
    ttlMs: options.ttlMs,
    keys,
    render(screen: Screen, lang: string, notice?: string): string[] {
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
    },
  };
}
