import type { NextFunction, Request, Response } from 'express';
import { timingSafeEqualStr } from '../security/secrets.js';

/**
 * Pieces every Africa's Talking route shares. AT signs nothing, so when AT_CALLBACK_KEY is set each route
 * requires `?key=<value>` (compared in constant time) and answers 403 without it (threat T1).
 */

/** Express middleware enforcing the callback key, or a pass-through when none is configured. */
export function requireCallbackKey(callbackKey: string | undefined) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!callbackKey) return next();
    const given = typeof req.query.key === 'string' ? req.query.key : '';
    if (!timingSafeEqualStr(given, callbackKey)) {
      res.status(403).type('text/plain').send('forbidden');
      return;
    }
    next();
  };
}

/**
 * Reads string fields from a form-encoded body. Returns undefined when the body was not form-encoded;
 * a field sent twice or as a nested value is treated as absent.
 */
export function formFields<K extends string>(req: Request, names: K[]): Partial<Record<K, string>> | undefined {
  if (!req.is('application/x-www-form-urlencoded')) return undefined;
  const body = (req.body ?? {}) as Record<string, unknown>;
  const out: Partial<Record<K, string>> = {};
  for (const name of names) {
    const value = body[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}
