import type { z } from 'zod';
import type { Logger } from '../logger.js';
import { FineractError, FineractNotFound, FineractUnauthorized } from './errors.js';
import type { FineractRequester } from './http.js';
import { BusinessDateData, GlobalConfigurationProperty } from './wire.js';

/**
 * The tenant's business date: the date Fineract checks a transaction against ("cannot be in the future") and
 * the date Kiunga's daily limits follow (docs/fineract.md, business date).
 *
 * Fineract sets it per request (TenantAwareBasicAuthenticationFilter): with the global configuration
 * `enable_business_date` (named `enable-business-date` from 1.11 on) on, it is the stored `BUSINESS_DATE`, which
 * only moves when an operator or the "Increase Business Date by 1 day" job moves it; off (the default), it is
 * today in the tenant's time zone. `GET /businessdate/BUSINESS_DATE` answers the stored row whether or not the
 * feature is on, so the flag is read first. Both reads are cached for `ttlMs`; a failed read (Fineract down,
 * or the service user lacks READ_CONFIGURATION / READ_BUSINESS_DATE) falls back to the last date read, then to
 * today in `timeZone`, and is logged once per failure streak.
 */
export interface BusinessDateOptions {
  http: FineractRequester;
  /** The Fineract tenant's IANA time zone (`tenants.timezone_id`). */
  timeZone: string;
  /** How long a date read from Fineract is used (default 60,000 ms). */
  ttlMs?: number;
  logger?: Logger;
  /** Epoch ms; tests move it. */
  now?: () => number;
}

export interface BusinessDateSource {
  /** The business date, `yyyy-mm-dd`: cached, else read (never rejects; see the fallbacks above). */
  get(): Promise<string>;
  /** The last date known without waiting (today in the tenant's zone before the first read); refreshes in the background when stale. */
  current(): string;
}

/** Names of the configuration across versions: 1.9/1.10 `enable_business_date`, later `enable-business-date`. */
const FLAG_NAMES = ['enable_business_date', 'enable-business-date'] as const;

/** Today in an IANA time zone, `yyyy-mm-dd`. */
export function todayIn(timeZone: string, now: () => number = Date.now): () => string {
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  return () => fmt.format(new Date(now()));
}

export function createBusinessDate(options: BusinessDateOptions): BusinessDateSource {
  const { http } = options;
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? 60_000;
  const zoneToday = todayIn(options.timeZone, now);
  const log = options.logger?.child({ component: 'fineract-business-date' });
  let flagName: string | undefined;
  let cached: { date: string; at: number } | undefined;
  let inFlight: Promise<string> | undefined;
  let failing = false;

  async function read<S extends z.ZodType>(schema: S, path: string): Promise<z.infer<S>> {
    const parsed = schema.safeParse(await http.request('GET', path));
    if (!parsed.success) throw new Error(`unexpected shape of GET ${path}`);
    return parsed.data;
  }

  /** Whether `enable_business_date` is on; a configuration Fineract does not have is off. */
  async function enabled(): Promise<boolean> {
    for (const name of flagName ? [flagName] : FLAG_NAMES) {
      try {
        const property = await read(GlobalConfigurationProperty, `/configurations/name/${name}`);
        flagName = name;
        return property.enabled;
      } catch (err) {
        if (!(err instanceof FineractNotFound)) throw err;
      }
    }
    return false;
  }

  async function load(): Promise<string> {
    try {
      const date = (await enabled()) ? (await read(BusinessDateData, '/businessdate/BUSINESS_DATE')).date : zoneToday();
      if (failing) log?.info({ date }, 'business date read from Fineract again');
      failing = false;
      cached = { date, at: now() };
      return date;
    } catch (err) {
      const fallback = cached?.date ?? zoneToday();
      if (!failing) {
        const reason = err instanceof FineractError ? `${err.kind}${err.httpStatus ? ` ${err.httpStatus}` : ''}` : 'shape';
        const level = err instanceof FineractUnauthorized ? 'error' : 'warn';
        log?.[level]({ reason, fallback }, 'cannot read the business date from Fineract; using the last one known or today in TIMEZONE');
      }
      failing = true;
      // Keep the fallback for a short while so that an outage does not turn every transfer into two more calls.
      cached = { date: fallback, at: now() - ttlMs + Math.min(ttlMs, 5_000) };
      return fallback;
    }
  }

  function get(): Promise<string> {
    if (cached && now() - cached.at < ttlMs) return Promise.resolve(cached.date);
    inFlight ??= load().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  return {
    get,
    current(): string {
      if (!cached || now() - cached.at >= ttlMs) void get();
      return cached?.date ?? zoneToday();
    },
  };
}
