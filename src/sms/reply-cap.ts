import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';

/**
 * The per-number cap on SMS replies (SMS_MAX_PER_HOUR): a spoofed sender must not turn the service into an
 * SMS bomb aimed at that number. Past the cap, messages from the number are read and not answered; the first
 * one over the cap is logged (masked number, from the caller's child logger). Both SMS providers use it.
 */
export interface SmsReplyCap {
  store: KeyValueStore;
  keys: Keys;
  /** Messages answered per number per hour. */
  maxPerHour: number;
}

/** Counts one inbound message of `msisdn`; false when it is over this hour's cap. A store failure allows it. */
export async function withinReplyCap(cap: SmsReplyCap, msisdn: string, log: Pick<Logger, 'warn'>): Promise<boolean> {
  try {
    const count = await cap.store.increment(cap.keys.forMsisdn(msisdn, 'sms:inbound'), 3_600_000);
    if (count > cap.maxPerHour) {
      if (count === cap.maxPerHour + 1)
        log.warn({ maxPerHour: cap.maxPerHour }, 'inbound SMS limit reached: further messages this hour get no reply');
      return false;
    }
  } catch {
    // The store is down: the runner answers politely.
  }
  return true;
}
