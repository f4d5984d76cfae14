import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { timingSafeEqualStr } from '../security/secrets.js';
import { tagSafe } from '../session/keys.js';
import { sourceOf } from '../limits/abuse.js';
import type { TokenBuckets } from '../limits/buckets.js';

/**
 * Who calls the admin API (threat T17): each operator has a name and a bearer token (ADMIN_TOKENS; ADMIN_TOKEN
 * is the operator `admin`). The token given is compared, in constant time, with every operator's token, never
 * stopping at the first match, so the time taken says nothing about which token came close or how many there
 * are. A call that passes carries the operator's name in `res.locals.operator` (audited with every call).
 */

export interface Operator {
  name: string;
  token: string;
}

/** The operator whose token is `given`, comparing with every token whatever the outcome. */
export function operatorOf(operators: readonly Operator[], given: string): Operator | undefined {
  let found: Operator | undefined;
  for (const operator of operators) {
    // Bitwise: no short-circuit, every comparison runs.
    if (timingSafeEqualStr(given, operator.token) && !found) found = operator;
  }
  return found;
}

/** The bearer token of the request: exactly `Bearer <token>` in Authorization, nothing else counts. */
export function bearerOf(req: Request): string {
  const header = req.get('authorization') ?? '';
  return header.startsWith('Bearer ') ? header.slice(7) : '';
}

/** The operator name of an authenticated admin request (set by `authenticate`). */
export function operatorName(res: Response): string {
  return String(res.locals.operator ?? '');
}

export interface AdminLimits {
  buckets: TokenBuckets;
  /** REDIS_PREFIX, for the bucket keys. */
  prefix: string;
  /** ADMIN_RATE_PER_MIN: per source address, and per operator. */
  perMinute: number;
}

/**
 * The admin API's rate limit: one token per call from the source address's bucket before the token is even
 * looked at (slows guessing), and one from the operator's after. Over it: 429 with Retry-After, no body
 * beyond the reason.
 */
export function adminRateLimit(limits: AdminLimits, logger: Logger, who: 'source' | 'operator'): RequestHandler {
  const spec = (id: string) => ({
    key: `${limits.prefix}:{adm:${who}:${tagSafe(id)}}:rate`,
    capacity: limits.perMinute,
    perSecond: limits.perMinute / 60,
  });
  return async (req: Request, res: Response, next: NextFunction) => {
    const id = (who === 'source' ? sourceOf(req) : operatorName(res)) || 'unknown';
    let taken;
    try {
      taken = await limits.buckets.take([spec(id)]);
    } catch {
      // The store cannot answer: nothing an admin call does works without it either.
      res.status(503).type('text/plain').send('unavailable');
      return;
    }
    if (!taken.ok) {
      logger.warn(
        { admin: `${req.method} ${req.baseUrl}${req.path}`.replace(/\+?\d{7,}/g, '<number>'), limit: who },
        'admin call refused: rate limit',
      );
      res.set('retry-after', String(Math.max(1, Math.ceil(taken.retryAfterMs / 1000))));
      res.status(429).type('text/plain').send('too many requests');
      return;
    }
    next();
  };
}
