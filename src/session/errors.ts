/**
 * Errors of the session layer. Both are "try again later" conditions for a hop: the engine answers the
 * customer politely and never shows the message, but operators read it in logs, so messages never carry
 * secrets (no Redis password, no PIN, no stored value).
 */

/** The key-value store could not answer (Redis down, timed out, closed). Thrown by every store operation. */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
  /** The underlying error code when there is one (ECONNREFUSED, ETIMEDOUT, ...), for metrics and logs. */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** `withLock` gave up: another holder kept the lock for longer than `waitMs`. */
export class LockTimeout extends Error {
  override readonly name = 'LockTimeout';

  constructor(
    readonly key: string,
    readonly waitedMs: number,
  ) {
    super(`lock not acquired within ${waitedMs} ms`);
  }
}

/**
 * A hop tried to write its session record after losing the session lock (its lock expired, and possibly
 * another hop took it over and wrote a newer record). Nothing was written: a stale hop never overwrites a
 * newer one's state. The hop's reply is still owed to the customer; what it may say is the caller's call.
 */
export class LockLost extends Error {
  override readonly name = 'LockLost';

  constructor(readonly key: string) {
    super('session lock lost before the record was written; nothing was written');
  }
}

/**
 * Checks a time-to-live given to a store and rounds it up to whole milliseconds (Redis PX takes integers).
 * A zero, negative or non-finite TTL is a programming error, not an outage, so it is a RangeError.
 */
export function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}
