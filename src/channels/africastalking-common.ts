import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { secretMatcher } from '../security/secrets.js';
import { refuse } from '../limits/refusals.js';

/**
 * Pieces every Africa's Talking route shares. AT signs nothing, so when AT_CALLBACK_KEY is set each route
 * requires `?key=<value>` (compared in constant time) and answers 403 without it (threat T1).
 */

/**
 * Express middleware enforcing the callback key, or a pass-through when none is configured. A refusal is
 * logged (route, reason, masked number: never the key) and counted in /metrics.
 */
export function requireCallbackKey(callbackKey: string | undefined, options: { route?: string; logger?: Pick<Logger, 'warn'> } = {}) {
  const matches = callbackKey ? secretMatcher(callbackKey) : undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    if (!matches) return next();
    const given = typeof req.query.key === 'string' ? req.query.key : '';
    if (!matches(given)) {
      const entry = { route: options.route ?? 'at', reason: given ? 'wrong key' : 'no key', msisdn: claimedNumber(req), status: 403 };
      if (options.logger) refuse(res, options.logger, entry);
      else res.locals.refusal = entry.reason;
      res.status(403).type('text/plain').send('forbidden');
      return;
    }
    next();
  };
}

/** The number a request claims (AT's phoneNumber, from or callerNumber), for a masked log line only. */
export function claimedNumber(req: Request): string | undefined {
  const body = (req.body ?? {}) as Record<string, unknown>;
  for (const name of ['phoneNumber', 'from', 'callerNumber', 'From']) {
    const value = body[name];
    if (typeof value === 'string' && value.length > 0 && value.length <= 32) return value;
  }
  return undefined;
}
