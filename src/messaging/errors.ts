/**
 * How an outbound provider (Africa's Talking, Twilio) failed, so the job queue knows whether to try again.
 *
 * - `TransientDeliveryError`: the provider could not take the message or call now (network, timeout, 5xx,
 *   429, its own queue, insufficient credit, bad credentials being fixed): the queue retries with backoff.
 * - `PermanentDeliveryError`: the provider refused it for good (invalid or unsupported number, blacklisted,
 *   do-not-disturb, invalid sender): retrying cannot help, so the job gives up at once.
 *
 * Messages carry the provider, its status code and its short status word, never the number or the text
 * (threat T19): they end up in logs and in bullmq's failed-job records.
 */

export type DeliveryKind = 'sms' | 'call';

abstract class DeliveryError extends Error {
  constructor(
    readonly provider: string,
    readonly kind: DeliveryKind,
    /** Short, non-personal reason, e.g. `403 InvalidPhoneNumber`, `HTTP 503`, `timeout`. */
    readonly reason: string,
    readonly permanent: boolean,
  ) {
    super(`${provider} ${kind} ${permanent ? 'refused' : 'failed'}: ${reason}`);
  }
}

export class TransientDeliveryError extends DeliveryError {
  constructor(provider: string, kind: DeliveryKind, reason: string) {
    super(provider, kind, reason, false);
    this.name = 'TransientDeliveryError';
  }
}

export class PermanentDeliveryError extends DeliveryError {
  constructor(provider: string, kind: DeliveryKind, reason: string) {
    super(provider, kind, reason, true);
    this.name = 'PermanentDeliveryError';
  }
}

/** A short printable token from a provider answer (status words, error codes): no personal data, bounded. */
export function shortReason(value: unknown, max = 60): string {
  const s = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
  // Digits runs of 7+ could be phone numbers: mask them.
  return s
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\+?\d{7,}/g, '<number>')
    .slice(0, max);
}

/**
 * The usual meaning of an HTTP status from a provider's API: 408, 429 and 5xx are transient, 401 too
 * (credentials being rotated or fixed; bounded retries, logged loudly by the caller); any other 4xx means the
 * request itself is refused.
 */
export function isTransientHttpStatus(status: number): boolean {
  return status === 401 || status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Races `promise` against a timer; a timeout is a transient failure (the provider may still act on it). */
export async function withDeliveryTimeout<T>(promise: Promise<T>, ms: number, provider: string, kind: DeliveryKind): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TransientDeliveryError(provider, kind, `no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
