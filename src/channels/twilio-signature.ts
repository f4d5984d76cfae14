import type { NextFunction, Request, RequestHandler, Response } from 'express';
import twilio from 'twilio';
import type { Logger } from 'pino';
import { markRefused, logRefusal } from '../limits/refusals.js';

/**
 * Authenticity of every Twilio route (threat T2): `X-Twilio-Signature` must be Twilio's HMAC-SHA1, keyed with
 * TWILIO_AUTH_TOKEN, over the URL Twilio called and every form parameter it sent. The URL is rebuilt from
 * PUBLIC_URL (the address configured in Twilio's console), never from the request's own Host or protocol:
 * behind TLS termination or a load balancer those differ from what Twilio signed, and they are attacker
 * controlled anyway.
 *
 * The check uses the twilio library's `validateRequest(token, signature, url, params)` (which compares in
 * constant time). Not `twilio.webhook({ authToken })`: twilio 6.x ignores that option and reads the token from
 * the environment.
 *
 * Refusals answer 403 `forbidden` and stop the request before any handler runs, so nothing changes. Without
 * a token (or without PUBLIC_URL to rebuild the signed URL) every request is refused: an unsigned Twilio
 * route is never served.
 */

export interface TwilioSignatureOptions {
  /** TWILIO_AUTH_TOKEN; unset refuses everything. */
  authToken: string | undefined;
  /** PUBLIC_URL, the base Twilio calls (may carry a path prefix); unset refuses everything. */
  publicUrl: string | undefined;
  /** Receives one warning per refusal (route and reason, never the signature or parameters). */
  logger?: Pick<Logger, 'warn'>;
}

export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';

/** The URL Twilio signed for this request: PUBLIC_URL (without trailing `/`) + path + query as received. */
export function signedUrlOf(publicUrl: string, req: Pick<Request, 'originalUrl'>): string {
  return `${publicUrl.replace(/\/+$/, '')}${req.originalUrl}`;
}

/** The parameters Twilio signed: every form field of a POST (all of them: Twilio adds fields without notice). */
function signedParams(req: Request): Record<string, unknown> {
  if (req.method !== 'POST') return {};
  if (!req.is('application/x-www-form-urlencoded')) return {};
  const body = req.body as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object') return {};
  // A copy with a plain prototype (express's simple parser returns a null-prototype object).
  return Object.fromEntries(Object.entries(body));
}

/** The number a Twilio request claims (From), for a masked log line only. */
function fromOf(req: Request): string | undefined {
  const from = (req.body as Record<string, unknown> | undefined)?.From;
  return typeof from === 'string' && from.length <= 32 ? from : undefined;
}

/** True when `req` carries a valid Twilio signature for `authToken` and `publicUrl`. */
export function hasValidTwilioSignature(req: Request, authToken: string, publicUrl: string): boolean {
  const signature = req.get(TWILIO_SIGNATURE_HEADER);
  if (!signature || signature.length > 200) return false;
  try {
    return twilio.validateRequest(authToken, signature, signedUrlOf(publicUrl, req), signedParams(req));
  } catch {
    // An unparsable URL or parameter: not something Twilio signed.
    return false;
  }
}

/**
 * Express middleware for every Twilio route: passes a request signed by Twilio, answers any other with
 * 403 `forbidden` (text/plain) and no side effect. Mount it after `express.urlencoded()`.
 */
export function requireTwilioSignature(options: TwilioSignatureOptions): RequestHandler {
  const { authToken, publicUrl, logger } = options;
  return (req: Request, res: Response, next: NextFunction) => {
    let reason: string | undefined;
    if (!authToken) reason = 'TWILIO_AUTH_TOKEN is not set';
    else if (!publicUrl) reason = 'PUBLIC_URL is not set';
    else if (!req.get(TWILIO_SIGNATURE_HEADER)) reason = 'missing signature';
    else if (!hasValidTwilioSignature(req, authToken, publicUrl)) reason = 'invalid signature';
    if (reason === undefined) {
      next();
      return;
    }
    // Counted in /metrics by route and reason; logged (throttled) with the masked number, never the signature.
    markRefused(res, reason);
    if (logger) logRefusal(logger, { route: req.path, reason, msisdn: fromOf(req), status: 403 });
    res.status(403).type('text/plain').send('forbidden');
  };
}
