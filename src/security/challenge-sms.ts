import type { Counter } from 'prom-client';
import type { AuditActor, AuditTrail } from '../audit/audit.js';
import { OTP_JOB, type Jobs } from '../jobs/catalogue.js';
import type { JobQueue } from '../jobs/queue.js';
import { maskMsisdn, type Logger } from '../logger.js';
import type { ClientId, Keys } from '../session/keys.js';
import { toGsm } from '../text/gsm.js';
import type { Translator } from '../text/i18n.js';
import { CHALLENGE_TTL_MS, type OtpSender } from './challenge-contract.js';
import { challengeKey, type Meta } from './challenge-record.js';
import type { Backend } from './challenge-store.js';

/** What the `otp` job's handler takes from the challenge service that registers it (challenge.ts). */
export interface OtpJobDeps {
  backend: Backend;
  keys: Keys;
  now: () => number;
  log: Logger;
  translator: Translator;
  decrypt: (id: string, enc: string) => string;
  sent: Counter;
  record: (event: Parameters<AuditTrail['record']>[0]) => Promise<void>;
  actor: (clientId: ClientId) => AuditActor;
  numericId: (clientId: ClientId) => number | undefined;
}

/**
 * The `otp` job's handler: one send of a one-time code by SMS. The job names the challenge; the code is read
 * (and decrypted) from its record when the job runs, never kept in the job.
 */
export function handleOtpJobs(q: JobQueue, send: OtpSender, deps: OtpJobDeps): void {
  const { backend, keys, now, log, translator, decrypt, sent, record, actor, numericId } = deps;
  q.handle(OTP_JOB, async (job: Jobs[typeof OTP_JOB]) => {
    const purpose = job.purpose;
    const r = await backend.read(challengeKey(keys, job.clientId, purpose));
    // Consumed, revoked, replaced or expired since it was queued: nothing to send (idempotent on a retry).
    if (!r || r.id !== job.id || r.exp <= now()) {
      log.info({ clientId: job.clientId, purpose }, 'one-time code not sent: the challenge is no longer open');
      return;
    }
    const meta = JSON.parse(r.meta) as Meta;
    const code = decrypt(r.id, r.enc);
    const text = toGsm(
      translator.t(meta.language, `sms.otp.${purpose}`, {
        code,
        amount: meta.display?.amount ?? '',
        // The template ends the payee's sentence itself: "Baraka O." must not become "Baraka O..".
        payee: (meta.display?.payee ?? '').replace(/\.+$/, ''),
        minutes: Math.round(CHALLENGE_TTL_MS / 60_000),
      }),
    );
    let id: string;
    try {
      ({ id } = await send({ to: meta.msisdn, text, ref: `otp-${r.id}` }));
    } catch (err) {
      // A refusal for good (invalid or barred number) is not retried: the customer can ask again. Anything
      // else is thrown, so the queue retries this send (the code is read again then, never kept in the job).
      if ((err as Error)?.name !== 'PermanentDeliveryError') throw err;
      log.warn({ clientId: job.clientId, purpose, to: maskMsisdn(meta.msisdn) }, 'one-time code refused for good by the SMS provider');
      return;
    }
    sent.inc({ purpose });
    log.info({ clientId: job.clientId, purpose, to: maskMsisdn(meta.msisdn), id }, 'one-time code sent');
    await record({
      type: 'otp.sent',
      actor: actor(job.clientId),
      clientId: numericId(job.clientId),
      msisdn: meta.msisdn,
      channel: meta.channel,
      data: { purpose, send: r.sends },
    });
  });
}
