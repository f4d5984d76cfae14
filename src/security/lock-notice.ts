import type { Logger } from '../logger.js';
import { maskMsisdn } from '../logger.js';
import type { JobQueue } from '../jobs/queue.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { Translator } from '../text/i18n.js';
import { toGsm } from '../text/gsm.js';
import { SMS_JOB } from '../jobs/catalogue.js';
import type { PinLockNotice } from './pin.js';

/**
 * Tells the customer of a PIN lock by SMS (threat T26): how long it lasts (or that an operator must unlock
 * it) and that the bank never asks for the PIN, in the customer's language, GSM-7. The SMS is an `sms` job
 * on the job queue (as receipts are), so a hop never waits for the provider; one job per lock (the job id
 * names the customer and the lock), so a retried hop cannot send it twice.
 *
 * It goes to the number the hop came from, which the lookup matched to this customer's Fineract mobile
 * number; outside a hop (no number) it reads the client's number from Fineract.
 */
export interface LockNoticeDeps {
  queue: JobQueue;
  translator: Translator;
  store: KeyValueStore;
  keys: Keys;
  defaultLanguage: string;
  /** The institution's time zone: the SMS says until when (HH:mm). */
  timeZone: string;
  /** Reads the client's mobile number when the notice has none. */
  findMsisdn?: (clientId: number) => Promise<string | undefined>;
  logger: Logger;
}

export function lockNoticeSender(deps: LockNoticeDeps): (notice: PinLockNotice) => Promise<void> {
  const { queue, translator, store, keys, logger } = deps;
  const clock = (lang: string, at: number) =>
    new Intl.DateTimeFormat(lang, { timeZone: deps.timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);

  return async (notice) => {
    const msisdn = notice.msisdn ?? (await deps.findMsisdn?.(Number(notice.clientId)));
    if (!msisdn) {
      logger.warn({ clientId: notice.clientId }, 'PIN lock notice not sent: no mobile number');
      return;
    }
    const lang = (await store.get(keys.language(msisdn)).catch(() => null)) ?? deps.defaultLanguage;
    const text = notice.hard
      ? translator.t(lang, 'sms.pinLockedHard')
      : translator.t(lang, 'sms.pinLocked', {
          minutes: Math.ceil((notice.lockMs ?? 0) / 60_000),
          time: clock(lang, notice.until ?? Date.now()),
        });
    const ref = `pin-lock-${notice.clientId}-${notice.locks}-${notice.until ?? 'hard'}`;
    await queue.add(SMS_JOB, { to: msisdn, text: toGsm(text), ref }, { jobId: ref });
    logger.info({ clientId: notice.clientId, msisdn: maskMsisdn(msisdn), hard: notice.hard }, 'PIN lock notice queued');
  };
}
