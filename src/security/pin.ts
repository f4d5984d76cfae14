import type { Metric } from 'prom-client';
import type { ClientId } from '../session/keys.js';
import type { HopContext } from '../session/hop-context.js';

/**
 * Customers' PINs: the contract. The service that keeps them lives next to it (pin-service.ts: keyed hashes,
 * the check), its lockouts (lock notices, unlocks) in pin-lockouts.ts, its records and Redis script in pin-store.ts,
 * the lockout counters in lockout.ts.
 */

export type PinVerifyResult =
  | { result: 'ok' }
  | { result: 'wrong'; attemptsLeft: number }
  /** `until`: when a timed lock ends (epoch ms); absent for a hard lock (until an operator unlocks). */
  | { result: 'locked'; until?: number }
  | { result: 'not-set' };

/** What an operator (or a test) may know about a customer's lockout. */
export interface PinLockStatus {
  locked: boolean;
  /** End of a timed lock (epoch ms). */
  until?: number;
  /** Locked until an operator unlocks. */
  hard: boolean;
  /** Wrong PINs counted towards the next lock. */
  failures: number;
  /** Locks remembered for escalation (each doubles the next; reset by a right PIN, an unlock, or 24 h after the last lock). */
  locks: number;
}

/** Sent once per lock, to tell the customer (an SMS): never carries the PIN. */
export interface PinLockNotice {
  clientId: ClientId;
  /** The number the hop claimed (the customer's registered number, which the lookup matched); absent outside a hop. */
  msisdn?: string;
  /** End of a timed lock (epoch ms); absent when hard. */
  until?: number;
  /** Length of this lock in ms; absent when hard. */
  lockMs?: number;
  hard: boolean;
  /** This is the customer's n-th lock in a row. */
  locks: number;
}

export interface PinService {
  /**
   * Stores a new PIN (throws `InvalidPinFormat` when it is not `pinLength` digits). Leaves any lockout alone.
   * `hop`: the hop's context (session/hop-context.ts), whose later checks use the new salt at once.
   */
  setPin(clientId: ClientId, pin: string, hop?: HopContext): Promise<void>;
  /**
   * Checks a PIN against the stored one and counts failures against the customer and against the number
   * the hop came from (`caller.msisdn`, else the caller of `caller.hop`, the hop's context); never throws on
   * bad input. Within a hop, what the session learned (the record's salt) saves a round trip and the audit
   * entry is written with the session record.
   */
  verify(clientId: ClientId, pin: string, caller?: { msisdn?: string; hop?: HopContext }): Promise<PinVerifyResult>;
  isLocked(clientId: ClientId): Promise<boolean>;
  status(clientId: ClientId): Promise<PinLockStatus>;
  /** Lifts a lockout (timed or hard): clears the lock, the failure count and the escalation, of the customer and of the numbers that failed for them. */
  unlock(clientId: ClientId): Promise<void>;
  /** Stores the PIN only when the customer has none (demo data); true when it did. */
  seedIfAbsent(clientId: ClientId, pin: string): Promise<boolean>;
  /**
   * True when the customer has a PIN (enrolled). With `msisdn` (a dial), what a dial of this number learned
   * before answers without reading the record (`<number>:pin:known`: the client and the record's salt, read
   * with the session lock, `hop`'s early read); a PIN removed since is found at the check ('not-set'), which
   * forgets it.
   */
  hasPin(clientId: ClientId, msisdn?: string, hop?: HopContext): Promise<boolean>;
  /**
   * Removes the PIN (an operator's reset): the old PIN stops working at once. Leaves any lockout alone.
   * `numbers`: the customer's numbers, whose dials must stop assuming a PIN.
   */
  clearPin(clientId: ClientId, numbers?: readonly string[]): Promise<void>;
  /**
   * Ends a timed lock now (self-unlock by a one-time code) and keeps the escalation, so the next lock is as long
   * as it would have been (T26): of the customer and of the numbers that failed for them. A hard lock stays
   * (false); only an operator's `unlock` ends it.
   */
  liftTimedLock(clientId: ClientId): Promise<boolean>;
  /** Prometheus metrics of lockouts (`kiunga_pin_lockouts_total{kind}`), registered by the app on /metrics. */
  readonly metrics: Metric[];
}

/** `setPin` was given something that is not a PIN. The message never repeats the value. */
export class InvalidPinFormat extends Error {
  override readonly name = 'InvalidPinFormat';
}
