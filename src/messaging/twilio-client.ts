import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { PermanentDeliveryError, TransientDeliveryError, isTransientHttpStatus, shortReason, type DeliveryKind } from './errors.js';

/**
 * The Twilio REST client for outbound SMS and calls (`twilio` 6.x), with a request timeout, no automatic
 * retries (the job queue retries, with backoff and rate limits) and, for tests, another API base: a
 * `RequestClient` that sends what the SDK addresses to `https://api.twilio.com` to `apiBaseUrl` instead
 * (a loopback fake). Requests keep their path, query, form body and Basic auth.
 */

export interface TwilioClientOptions {
  accountSid: string;
  authToken: string;
  /** Per request; default 10,000 ms. */
  timeoutMs?: number;
  /** Replaces `https://api.twilio.com` (tests). */
  apiBaseUrl?: string;
}

export type TwilioClient = ReturnType<typeof twilio>;

class RedirectingRequestClient extends twilio.RequestClient {
  constructor(
    private readonly base: string | undefined,
    timeoutMs: number,
  ) {
    super({ timeout: timeoutMs, autoRetry: false });
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    if (this.base && opts.uri) {
      const from = new URL(opts.uri);
      if (from.hostname === 'api.twilio.com') {
        opts = { ...opts, uri: `${this.base.replace(/\/+$/, '')}${from.pathname}${from.search}` };
      }
    }
    return super.request<TData>(opts);
  }
}

export function createTwilioClient(options: TwilioClientOptions): TwilioClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return twilio(options.accountSid, options.authToken, {
    httpClient: new RedirectingRequestClient(options.apiBaseUrl, timeoutMs),
    timeout: timeoutMs,
    autoRetry: false,
  });
}

/**
 * Twilio error codes that mean "never": the number is invalid, unreachable, not mobile, opted out (STOP) or
 * blocked, or the account may not reach that country (geo permissions). Other 4xx are permanent as well;
 * this list only names them in logs.
 */
const PERMANENT_TWILIO_CODES = new Set([
  13223, 13224, 13227, 21210, 21211, 21212, 21214, 21215, 21216, 21217, 21401, 21407, 21408, 21421, 21601, 21602, 21603, 21604, 21606,
  21608, 21610, 21612, 21614, 21617, 21659, 30003, 30004, 30005, 30006, 30007, 30008,
]);

/**
 * Maps a `RestException` (HTTP status + Twilio error code), an axios error without an answer (network,
 * timeout), or anything else to a Transient/PermanentDeliveryError.
 */
export function twilioFailure(err: unknown, kind: DeliveryKind): Error {
  if (err instanceof TransientDeliveryError || err instanceof PermanentDeliveryError) return err;
  const e = err as { status?: unknown; code?: unknown; isAxiosError?: boolean } | undefined;
  const status = typeof e?.status === 'number' ? e.status : undefined;
  const code = typeof e?.code === 'number' ? e.code : undefined;
  if (status !== undefined) {
    const reason = `HTTP ${status}${code !== undefined ? ` code ${code}` : ''}`;
    if (code !== undefined && PERMANENT_TWILIO_CODES.has(code)) return new PermanentDeliveryError('twilio', kind, reason);
    return isTransientHttpStatus(status)
      ? new TransientDeliveryError('twilio', kind, reason)
      : new PermanentDeliveryError('twilio', kind, reason);
  }
  if (e?.isAxiosError) return new TransientDeliveryError('twilio', kind, `no answer (${shortReason(e.code) || 'network'})`);
  return new TransientDeliveryError('twilio', kind, 'unexpected failure');
}

export { PERMANENT_TWILIO_CODES };
