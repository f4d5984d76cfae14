import type { Response } from 'express';
import type { Logger } from '../logger.js';
import { maskMsisdn } from '../logger.js';

/**
 * Requests refused at the door of a channel or hook route: a wrong or missing key or signature (403), or
 * an abuse limit. Each is marked on the response for the metrics middleware (`kiunga_refused_requests_total`
 * by route and reason) and logged with the masked number, never the key, signature or body. Under a flood
 * the log keeps one line per route and reason per second, with the count of the lines it skipped.
 */

/** Marks a response as refused, for the metrics middleware. */
export function markRefused(res: Response, reason: string): void {
  res.locals.refusal = reason;
}

/** The reason marked on a response, if any. */
export const refusalOf = (res: Response): string | undefined =>
  typeof res.locals?.refusal === 'string' ? (res.locals.refusal as string) : undefined;

const LOG_INTERVAL_MS = 1000;
const throttles = new WeakMap<Logger, Map<string, { at: number; skipped: number }>>();

/** Logs a refusal (throttled per logger, route and reason). */
export function logRefusal(
  logger: Logger | Pick<Logger, 'warn'>,
  entry: { route: string; reason: string; msisdn?: string; status?: number },
): void {
  let seen = throttles.get(logger as Logger);
  if (!seen) throttles.set(logger as Logger, (seen = new Map()));
  const key = `${entry.route} ${entry.reason}`;
  const t = performance.now();
  const last = seen.get(key);
  if (last && t - last.at < LOG_INTERVAL_MS) {
    last.skipped++;
    return;
  }
  seen.set(key, { at: t, skipped: 0 });
  logger.warn(
    {
      route: entry.route,
      reason: entry.reason,
      ...(entry.status ? { status: entry.status } : {}),
      ...(entry.msisdn ? { msisdn: maskMsisdn(entry.msisdn) } : {}),
      ...(last?.skipped ? { skipped: last.skipped } : {}),
    },
    'request refused',
  );
}

/** Marks and logs a refusal in one call. */
export function refuse(
  res: Response,
  logger: Logger | Pick<Logger, 'warn'>,
  entry: { route: string; reason: string; msisdn?: string; status?: number },
): void {
  markRefused(res, entry.reason);
  logRefusal(logger, entry);
}
