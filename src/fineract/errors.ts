/**
 * The closed taxonomy of Fineract failures. Flows branch on the error's `kind` through guards, never on
 * message text. Messages never carry credentials, PINs or response bodies with personal data.
 */
export type FineractErrorKind = 'unavailable' | 'rejected' | 'not-found' | 'unauthorized';

export abstract class FineractError extends Error {
  abstract readonly kind: FineractErrorKind;
  /** True when the same request may succeed later (network failure, 5xx, timeout). */
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Network error, timeout, 5xx or an unparseable answer: retryable. */
export class FineractUnavailable extends FineractError {
  readonly kind = 'unavailable' as const;
  readonly retryable = true;
  constructor(
    message: string,
    httpStatus?: number,
    readonly timedOut = false,
  ) {
    super(message, httpStatus);
  }
}

/** A 4xx business or validation error, with Fineract's globalisation code (most specific first). */
export class FineractRejected extends FineractError {
  readonly kind = 'rejected' as const;
  readonly retryable = false;
  constructor(
    message: string,
    httpStatus: number,
    readonly code: string,
    readonly topLevelCode?: string,
  ) {
    super(message, httpStatus);
  }
}

/**
 * A failure Fineract 1.9+ replayed from its idempotency store (`x-served-from-cache: true` on a non-2xx answer
 * other than 425), whose fresh answer would have looked retryable (a 5xx). Fineract stores every non-200 outcome
 * of a command, a 500 included, as ERROR and answers it again for the same (action, entity, key) forever: the
 * command ran once, failed and was rolled back, so nothing moved and retrying the key can never move anything.
 * Final: treat it as "not executed" (the code is the stored error's, or `http.<status>`).
 */
export class FineractReplayedFailure extends FineractRejected {
  readonly servedFromCache = true as const;
}

/**
 * True when a write is known not to have been executed and never will be under its idempotency key: a replayed
 * failure (any status but 425, including a cached 500). Money code maps it to a final failure, not "uncertain".
 */
export function isReplayedFailure(err: unknown): err is FineractReplayedFailure {
  return err instanceof FineractReplayedFailure;
}

/**
 * An answer whose JSON is not the shape Kiunga expects (a Fineract version or a proxy that answers differently):
 * retryable like any unavailable upstream, but callers may try another endpoint that carries the same data.
 */
export class FineractUnexpectedShape extends FineractUnavailable {}

/** 404: the resource does not exist (e.g. `error.msg.saving.account.id.invalid`). */
export class FineractNotFound extends FineractError {
  readonly kind = 'not-found' as const;
  readonly retryable = false;
  constructor(
    message: string,
    readonly code = 'error.msg.resource.not.found',
  ) {
    super(message, 404);
  }
}

/** 401 (bad service credentials) or 403 `error.msg.not.authorized`: a configuration problem. */
export class FineractUnauthorized extends FineractError {
  readonly kind = 'unauthorized' as const;
  readonly retryable = false;
  constructor(message: string, httpStatus: number) {
    super(message, httpStatus);
  }
}

/** Raised by Kiunga itself when an account does not belong to the customer acting on it (threat T10). */
export class OwnershipError extends Error {
  readonly kind = 'ownership' as const;
  constructor(message = 'account does not belong to the customer') {
    super(message);
    this.name = 'OwnershipError';
  }
}
