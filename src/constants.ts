/**
 * Defaults and fixed values that more than one module needs, in one place. What an operator may change is a
 * setting (`settings.ts`, whose defaults come from here); the rest are named constants.
 */

/** The deployment Kiunga was first built for: Kenya, Kenyan shillings, East Africa Time. */
export const DEFAULT_COUNTRY = 'KE';
export const DEFAULT_CURRENCY = 'KES';
/** The Fineract tenant's IANA zone when none is configured (TIMEZONE). */
export const DEFAULT_TIMEZONE = 'Africa/Nairobi';

/** Navigation keys of a paged USSD screen: `98` next page, `0` back, `00` home. */
export const USSD_KEYS = { more: '98', back: '0', home: '00' } as const;
/** Navigation keys on voice: no paging (one page is everything said), `*` home (a menu gathers one key, so `00` cannot be typed). */
export const VOICE_KEYS = { back: '0', home: '*' } as const;

/** An SMS answer (keyword reply, receipt) takes at most this many SMS parts; longer text is cut. */
export const SMS_MAX_PARTS = 2;

/**
 * Share of a rate limit left unused when calls are paced (`limits/`): a reservoir alone lets a second's calls
 * out in one burst, and start-to-arrival jitter bunches them. 0.05 paces 20/s at 19/s.
 */
export const PACE_MARGIN = 0.05;
/**
 * Fineract's pacing margin, wider than the default: network and event-loop jitter bunch arrivals at Fineract,
 * and FINERACT_RATE_LIMIT must hold where Fineract counts, not only where Kiunga starts calls.
 */
export const FINERACT_PACE_MARGIN = 0.1;
