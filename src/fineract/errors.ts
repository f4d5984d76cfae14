/**
 * The closed taxonomy of Fineract failures. Flows branch on the error's `kind` through guards, never on
 * message text. Messages never carry credentials, PINs or response bodies with personal data.
 */
export type FineractErrorKind = 'unavailable' | 'rejected' | 'not-found' | 'unauthorized';

export abstract class FineractError extends Error {
  abstract readonly kind: FineractErrorKind;
  /** True when the same request may succeed later (network failure, 5xx, timeout). */
  abstract readonly retryable: boolean;
  constructor(message: string, readonly httpStatus?: number) {
    super(message);
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Network error, timeout, 5xx or an unparseable answer: retryable. */
export class FineractUnavailable extends FineractError {
  readonly kind = 'unavailable' as const;
  readonly retryable = true;
  constructor(message: string, httpStatus?: number, readonly timedOut = false) {
    super(message, httpStatus);
  }
}

/** A 4xx business or validation error, with Fineract's globalisation code (most specific first). */
export class FineractRejected extends FineractError {
  readonly kind = 'rejected' as const;
  readonly retryable = false;
  constructor(message: string, httpStatus: number, readonly code: string, readonly topLevelCode?: string) {
    super(message, httpStatus);
  }
}

/** 404: the resource does not exist (e.g. `error.msg.saving.account.id.invalid`). */
export class FineractNotFound extends FineractError {
  readonly kind = 'not-found' as const;
  readonly retryable = false;
  constructor(message: string, readonly code = 'error.msg.resource.not.found') {
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
