import { Counter } from 'prom-client';
import type { Logger } from '../logger.js';
import { maskMsisdn } from '../logger.js';
import type { AuditTrail, AuditEvent } from '../audit/audit.js';
import type { KeyValueStore } from '../session/store.js';
import type { ClientId, Keys } from '../session/keys.js';
import type { HopContext } from '../session/hop-context.js';
import { createLockoutStore, type FailOutcome, type LockoutPolicy, type SubjectState } from './lockout.js';
import type { PinLockNotice, PinLockStatus, PinVerifyResult } from './pin.js';

/**
 * The lockouts of PINs (pin-service.ts checks, this file locks; threats T5, T26): the keys of the customer's and
 * the number's lockout subjects (lockout.ts counts them), the numbers remembered so an unlock frees them too,
 * what a new lock does (logged, counted, audited, and the customer told through `onLocked`), and what
 * operators read and clear.
 */

export const DAY_MS = 24 * 3600 * 1000;
/** The longest single timed lock, however far it escalates. */
export const MAX_LOCK_MS = 30 * DAY_MS;
/** Numbers remembered per customer, so an unlock also frees the numbers that failed for them. */
export const NUMBERS_KEPT = 5;

/** The audit entry's client id: a Fineract client's number; a sign-up profile's PIN key (`p-…`) has none. */
export function auditedClient(clientId: ClientId): { clientId?: number } {
  const n = Number(clientId);
  return Number.isSafeInteger(n) ? { clientId: n } : {};
}

export interface PinLockoutOptions {
  store: KeyValueStore;
  keys: Keys;
  policy: LockoutPolicy;
  now: () => number;
  onLocked?: (notice: PinLockNotice) => Promise<void> | void;
  logger?: Logger;
  audit?: AuditTrail;
}

export type PinLockouts = ReturnType<typeof createPinLockouts>;

export function createPinLockouts(options: PinLockoutOptions) {
  const { store, keys, policy, now, onLocked, logger } = options;
  // One per lock (of the customer, the number, or both at once): a rise means guessing, or confused customers.
  const lockouts = new Counter({
    name: 'kiunga_pin_lockouts_total',
    help: 'PINs locked after too many wrong attempts, by kind (timed, hard: until an operator unlocks).',
    labelNames: ['kind'],
    registers: [],
  });
  const lockout = createLockoutStore(store, policy);
  /** How long the numbers that failed for a customer are remembered: past the longest lock and both memories. */
  const numbersTtlMs = MAX_LOCK_MS + policy.failureWindowMs + policy.memoryMs;
  const customerKey = (clientId: ClientId) => keys.forCustomer(clientId, 'pin:lockout');
  const numberKey = (msisdn: string) => keys.forMsisdn(msisdn, 'pin:lockout');
  const numbersKey = (clientId: ClientId) => keys.forCustomer(clientId, 'pin:numbers');

  /** Remembers that `msisdn` failed for this customer (under the customer's check lock), for `unlock`. */
  async function rememberNumber(clientId: ClientId, msisdn: string): Promise<void> {
    const raw = await store.get(numbersKey(clientId));
    const list = raw ? (JSON.parse(raw) as string[]) : [];
    if (list.includes(msisdn)) return;
    const kept = [msisdn, ...list].slice(0, NUMBERS_KEPT);
    await store.set(numbersKey(clientId), JSON.stringify(kept), numbersTtlMs);
  }

  const lockedResult = (states: { until?: number; hard: boolean }[]): Extract<PinVerifyResult, { result: 'locked' }> => {
    if (states.some((s) => s.hard)) return { result: 'locked' };
    return { result: 'locked', until: Math.max(...states.map((s) => s.until ?? 0)) };
  };

  async function lockedNow(
    clientId: ClientId,
    msisdn: string | undefined,
    at: number,
    outcomes: FailOutcome[],
    hop: HopContext | undefined,
  ): Promise<PinVerifyResult> {
    const locks = outcomes.filter((o): o is Extract<FailOutcome, { kind: 'locked' }> => o.kind === 'locked');
    const result = lockedResult(locks.map((o) => ({ until: o.until, hard: o.until === undefined })));
    const fresh = locks.filter((o) => o.fresh);
    if (fresh.length === 0) return result;
    const hard = result.until === undefined;
    const notice: PinLockNotice = {
      clientId,
      ...(msisdn ? { msisdn } : {}),
      ...(hard ? {} : { until: result.until, lockMs: result.until! - at }),
      hard,
      locks: Math.max(...fresh.map((o) => o.locks)),
    };
    logger?.warn(
      {
        clientId,
        msisdn: msisdn ? maskMsisdn(msisdn) : undefined,
        hard,
        lockS: hard ? undefined : Math.round(notice.lockMs! / 1000),
        locks: notice.locks,
      },
      hard ? 'PIN locked until an operator unlocks it (too many wrong attempts)' : 'PIN locked for a while after too many wrong attempts',
    );
    lockouts.inc({ kind: hard ? 'hard' : 'timed' });
    await audited(
      {
        type: 'pin.locked',
        actor: 'system',
        ...auditedClient(clientId),
        ...(msisdn ? { msisdn } : {}),
        data: { hard, locks: notice.locks, ...(hard ? {} : { lockS: Math.round(notice.lockMs! / 1000) }) },
      },
      hop,
    );
    try {
      await onLocked?.(notice);
    } catch (err) {
      logger?.error({ clientId, err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'PIN lock notice not sent');
    }
    return result;
  }

  /** Writes an audit entry (with the hop's record, in a hop); a trail that fails is logged, never the PIN check's problem. */
  async function audited(event: AuditEvent, hop: HopContext | undefined): Promise<void> {
    try {
      await options.audit?.record(event, hop ? { hop } : undefined);
    } catch (err) {
      logger?.error({ type: event.type, err: { message: (err as Error)?.message } }, 'audit entry not written');
    }
  }

  /** The customer and the numbers that failed for them: what an unlock frees. */
  async function lockoutKeys(clientId: ClientId): Promise<string[]> {
    const raw = await store.get(numbersKey(clientId));
    const numbers = raw ? (JSON.parse(raw) as string[]) : [];
    return [customerKey(clientId), ...numbers.map(numberKey)];
  }

  return {
    metrics: [lockouts],
    lockout,
    customerKey,
    numberKey,
    numbersKey,
    numbersTtlMs,
    rememberNumber,
    lockedResult,
    lockedNow,
    audited,

    async isLocked(clientId: ClientId): Promise<boolean> {
      return (await lockout.status(customerKey(clientId), now())).locked;
    },

    async status(clientId: ClientId): Promise<PinLockStatus> {
      const s: SubjectState = await lockout.status(customerKey(clientId), now());
      return {
        locked: s.locked,
        ...(s.until !== undefined ? { until: s.until } : {}),
        hard: s.locked && s.hard,
        failures: s.failures,
        locks: s.locks,
      };
    },

    async unlock(clientId: ClientId): Promise<void> {
      await Promise.all((await lockoutKeys(clientId)).map((key) => lockout.clear(key)));
      await store.delete(numbersKey(clientId));
    },

    async liftTimedLock(clientId: ClientId): Promise<boolean> {
      const at = now();
      const customer = await lockout.status(customerKey(clientId), at);
      if (!customer.locked || customer.hard) return false;
      await Promise.all((await lockoutKeys(clientId)).map((key) => lockout.lift(key, at)));
      return true;
    },
  };
}
