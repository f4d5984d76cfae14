import { UnrecoverableError } from 'bullmq';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config.js';
import { maskMsisdn, type Logger } from '../logger.js';
import type { JobQueue } from '../jobs/queue.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import { createSharedLimiter, RateLimited } from '../limits/limiter.js';
import type { LimiterOptions, SharedLimiter } from '../limits/limiter-types.js';
import { CALL_JOB, SMS_JOB, type Jobs } from '../jobs/catalogue.js';
import type { JobRun } from '../jobs/queue.js';
import { SandboxOutbox, type Messenger, type OutboundSms } from './messenger.js';
import { SandboxDialer, type Dialer, type OutboundCall } from './dialer.js';
import { createAfricasTalkingSdk } from './africastalking-sdk.js';
import { AfricasTalkingMessenger } from './africastalking-messenger.js';
import { AfricasTalkingDialer } from './africastalking-dialer.js';
import { createTwilioClient } from './twilio-client.js';
import { TwilioMessenger } from './twilio-messenger.js';
import { TwilioDialer } from './twilio-dialer.js';
import { PermanentDeliveryError, TransientDeliveryError, type DeliveryKind } from './errors.js';

/**
 * Outbound SMS and calls: the provider chosen by MESSAGING_PROVIDER, its shared rate limits, and the job
 * handlers that send through it.
 *
 * - **Queue.** Everything goes through the job queue (bullmq on Redis, in-process without): `sms`
 *   (`{ to, text, ref?, linkId?, shortCode?, keyword? }`) and `call` (`{ to, ref }`), as `jobs/catalogue.ts` defines them. The queue retries with exponential backoff; a
 *   `PermanentDeliveryError` (invalid number, blacklisted, ...) ends the job at once (bullmq
 *   `UnrecoverableError`; the in-process queue, which retries any error, gets a completed job and a log line).
 * - **Rate limits.** One limiter per provider and kind (`<prefix>-sms-<provider>`, `<prefix>-call-<provider>`):
 *   the clustered bottleneck limiter of `limits/limiter.ts`, shared by every process through Redis
 *   (in-process without Redis). A job waits for a token inside its handler (at most `LIMIT_WAIT_MS`, then it
 *   fails and is retried later). bullmq's own `limiter` applies to a whole queue, not to a job name, and the
 *   queue also carries transfer resolution jobs that must not wait behind SMS pacing; a separate queue per
 *   provider would have split `queue.idle()`.
 * - **Call refs.** After a call is placed, its ref is kept under `callRefKey(keys, <provider call id>)` for
 *   an hour, so the voice webhooks can find the call-back from AT's `sessionId` or Twilio's `CallSid`
 *   (Twilio also gets it as `?ref=` in the signed webhook URLs).
 * - The sandbox provider records everything (`GET /sandbox/outbox`, `GET /sandbox/calls`) and is not limited.
 */

/** How long a job may wait for a rate-limit token before it fails (and is retried with backoff). */
export const LIMIT_WAIT_MS = 60_000;
/** How long the ref of a placed call is kept for the voice webhooks. */
export const CALL_REF_TTL_MS = 3_600_000;

/** Where the ref of a placed call is kept: `keys.forSession('voice', <AT sessionId | Twilio CallSid>, 'callback-ref')`. */
export function callRefKey(keys: Keys, providerCallId: string): string {
  return keys.forSession('voice', providerCallId, 'callback-ref');
}

export interface Outbound {
  readonly provider: Config['messagingProvider'];
  /** Rate-limited for real providers. */
  readonly messenger: Messenger;
  readonly dialer: Dialer;
  /** The sandbox recorders (MESSAGING_PROVIDER=sandbox only). */
  readonly outbox?: SandboxOutbox;
  readonly calls?: SandboxDialer;
  /** Registers the `sms` and `call` job handlers on `queue` (before `queue.start()`). */
  register(queue: JobQueue): void;
  /** Waits (bounded) for the shared limiters to connect; never rejects. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface OutboundOptions {
  config: Pick<Config, 'messagingProvider' | 'africastalking' | 'twilio' | 'publicUrl' | 'redisPrefix' | 'defaultCountry' | 'outbound'>;
  /** The store's ioredis client: limits shared by all processes. Undefined: in-process limits. */
  redis?: Redis | Cluster;
  store: KeyValueStore;
  keys: Keys;
  logger: Logger;
  /** Tests: the providers' API bases (loopback fakes) instead of the real ones. */
  endpoints?: { africastalking?: { sms?: string; voice?: string; content?: string }; twilio?: string };
  /** Provider request timeout (default 10,000 ms). */
  timeoutMs?: number;
  /** The clock guard: no shared-limiter script while this process's clock is skewed (see `limits/limiter.ts`). */
  clock?: LimiterOptions['clock'];
}

export function createOutbound(options: OutboundOptions): Outbound {
  const { config, logger, store, keys } = options;
  const log = logger.child({ component: 'outbound' });
  const provider = config.messagingProvider;
  const timeoutMs = options.timeoutMs ?? 10_000;
  let messenger: Messenger;
  let dialer: Dialer;
  let outbox: SandboxOutbox | undefined;
  let calls: SandboxDialer | undefined;
  const limiters: SharedLimiter[] = [];
  let smsLimiter: SharedLimiter | undefined;
  let callLimiter: SharedLimiter | undefined;

  const required = (value: string | undefined, name: string): string => {
    if (!value) throw new Error(`${name} is required with MESSAGING_PROVIDER=${provider}`);
    return value;
  };

  if (provider === 'sandbox') {
    messenger = outbox = new SandboxOutbox();
    dialer = calls = new SandboxDialer();
  } else {
    if (provider === 'africastalking') {
      const at = config.africastalking;
      const sdk = createAfricasTalkingSdk({
        username: at.username,
        apiKey: required(at.apiKey, 'AT_API_KEY'),
        endpoints: options.endpoints?.africastalking,
      });
      messenger = new AfricasTalkingMessenger({ sdk, from: at.senderId, timeoutMs });
      dialer = new AfricasTalkingDialer({ sdk, from: required(at.voiceNumber, 'AT_VOICE_NUMBER'), timeoutMs });
      if (at.username.toLowerCase() === 'sandbox') {
        log.warn("AT_USERNAME is 'sandbox': SMS and calls go to Africa's Talking's sandbox (its simulator), not to phones");
      }
    } else {
      const tw = config.twilio;
      const client = createTwilioClient({
        accountSid: required(tw.accountSid, 'TWILIO_ACCOUNT_SID'),
        authToken: required(tw.authToken, 'TWILIO_AUTH_TOKEN'),
        timeoutMs,
        apiBaseUrl: options.endpoints?.twilio,
      });
      const from = required(tw.number, 'TWILIO_NUMBER');
      messenger = new TwilioMessenger({ client, from });
      dialer = new TwilioDialer({ client, from, publicUrl: required(config.publicUrl, 'PUBLIC_URL') });
    }
    const limiter = (kind: DeliveryKind, ratePerSecond: number) => {
      const l = createSharedLimiter({
        redis: options.redis,
        id: `${config.redisPrefix}-${kind}-${provider}`,
        ratePerSecond,
        // In flight at once: enough for the rate at a slow provider answer, bounded.
        maxConcurrent: Math.max(4, ratePerSecond * 2),
        maxQueued: 10_000,
        maxRunMs: timeoutMs + 5_000,
        ...(options.clock ? { clock: options.clock } : {}),
        logger: log,
      });
      limiters.push(l);
      return l;
    };
    smsLimiter = limiter('sms', config.outbound.smsPerSecond);
    callLimiter = limiter('call', config.outbound.callsPerSecond);
  }
  // The providers themselves, for the jobs (which ask whether the job is still theirs once the limiter grants).
  const base = messenger;
  const baseDialer = dialer;
  if (smsLimiter) messenger = rateLimitedMessenger(messenger, smsLimiter);
  if (callLimiter) dialer = rateLimitedDialer(dialer, callLimiter);

  const country = config.defaultCountry as CountryCode;

  return {
    provider,
    messenger,
    dialer,
    outbox,
    calls,
    register(queue) {
      /** A permanent refusal ends the job: bullmq must not retry it; the in-process queue retries any throw. */
      const giveUp = (err: PermanentDeliveryError | Error, to: string, ref: string | undefined, kind: DeliveryKind): void => {
        log.warn({ kind, provider, to: maskMsisdn(to), ref, reason: err.message }, `${kind} refused for good; not retrying`);
        if (queue.kind === 'bullmq') throw new UnrecoverableError(err.message);
      };

      /**
       * Just before an SMS or a call leaves: a worker that lost its job to another (its lock expired while its
       * event loop was blocked or Redis was out of reach) sends nothing, since the new holder sends it. The
       * window left is the provider's own call, once asked.
       */
      const mine = async (run: JobRun, kind: DeliveryKind, ref: string | undefined): Promise<boolean> => {
        if (await run.stillMine()) return true;
        log.warn({ kind, provider, ref }, `${kind} not sent: this worker lost the job to another, which sends it`);
        return false;
      };

      queue.handle(SMS_JOB, async (job, run) => {
        const { to, text } = job; // shapes checked by the queue against the catalogue
        const ref = job.ref || undefined;
        if (!isE164(to) || text.length === 0) {
          return giveUp(new PermanentDeliveryError(provider, 'sms', 'invalid job: recipient or text'), to, ref, 'sms');
        }
        const sms: OutboundSms = { to, text, ...(ref ? { ref } : {}), ...premiumFields(job) };
        try {
          const sent = await throughOwnLimiter(smsLimiter, provider, 'sms', async () =>
            (await mine(run, 'sms', ref)) ? base.send(sms) : undefined,
          );
          if (!sent) return;
          log.info({ provider, to: maskMsisdn(to), ref, id: sent.id }, 'sms sent');
        } catch (err) {
          if (err instanceof PermanentDeliveryError) return giveUp(err, to, ref, 'sms');
          throw err;
        }
      });

      queue.handle(CALL_JOB, async (job, run) => {
        const { to, ref } = job;
        if (!isE164(to) || !/^[A-Za-z0-9_.-]{1,64}$/.test(ref)) {
          return giveUp(new PermanentDeliveryError(provider, 'call', 'invalid job: number or ref'), to, ref, 'call');
        }
        // Defence in depth against toll fraud (premium and international ranges): call-backs go to home
        // numbers only, whatever queued them.
        const parsed = parsePhoneNumberFromString(to);
        if (!parsed?.isValid() || parsed.country !== country) {
          return giveUp(new PermanentDeliveryError(provider, 'call', `not a ${country} number`), to, ref, 'call');
        }
        const call: OutboundCall = { to, ref };
        try {
          const placed = await throughOwnLimiter(callLimiter, provider, 'call', async () =>
            (await mine(run, 'call', ref)) ? baseDialer.call(call) : undefined,
          );
          if (!placed) return;
          const { id } = placed;
          log.info({ provider, to: maskMsisdn(to), ref, id }, 'call placed');
          await store
            .set(callRefKey(keys, id), ref, CALL_REF_TTL_MS)
            .catch((err: unknown) =>
              log.warn({ ref, err: { message: (err as Error).message } }, 'could not record the ref of a placed call'),
            );
        } catch (err) {
          if (err instanceof PermanentDeliveryError) return giveUp(err, to, ref, 'call');
          throw err;
        }
      });
    },
    async ready() {
      await Promise.all(limiters.map((l) => l.ready()));
    },
    async close() {
      await Promise.all(limiters.map((l) => l.close()));
    },
  };
}

/** AT premium reply fields of an `sms` job (see `OutboundSms`), each only when well-formed. */
function premiumFields(job: Jobs['sms']): Pick<OutboundSms, 'linkId' | 'shortCode' | 'keyword'> {
  const pick = (name: 'linkId' | 'shortCode' | 'keyword', pattern: RegExp) => {
    const v = job[name];
    return typeof v === 'string' && v !== 'undefined' && pattern.test(v) ? { [name]: v } : {};
  };
  return {
    ...pick('linkId', /^[A-Za-z0-9_.:-]{1,100}$/),
    ...pick('shortCode', /^\+?[A-Za-z0-9]{1,20}$/),
    ...pick('keyword', /^[A-Za-z0-9]{1,30}$/),
  };
}

const E164 = /^\+[1-9]\d{6,14}$/;
function isE164(value: string): boolean {
  return E164.test(value);
}

/** Runs `run` once the shared limiter grants a token; a refusal (no token in time, Redis down) is transient. */
async function throughLimiter<T>(limiter: SharedLimiter, provider: string, kind: DeliveryKind, run: () => Promise<T>): Promise<T> {
  try {
    return await limiter.schedule({ priority: 'write', startBy: Date.now() + LIMIT_WAIT_MS, where: `${kind} ${provider}`, run });
  } catch (err) {
    if (err instanceof RateLimited) throw new TransientDeliveryError(provider, kind, `rate limiter: ${err.reason}`);
    throw err;
  }
}

/** `run` through `limiter` when there is one (a real provider), else at once (the sandbox). */
function throughOwnLimiter<T>(limiter: SharedLimiter | undefined, provider: string, kind: DeliveryKind, run: () => Promise<T>): Promise<T> {
  return limiter ? throughLimiter(limiter, provider, kind, run) : run();
}

/** A messenger that sends no faster than `limiter` allows (shared by every process on the same Redis). */
export function rateLimitedMessenger(inner: Messenger, limiter: SharedLimiter): Messenger {
  return {
    provider: inner.provider,
    send: (sms) => throughLimiter(limiter, inner.provider, 'sms', () => inner.send(sms)),
  };
}

/** A dialer that places calls no faster than `limiter` allows. */
export function rateLimitedDialer(inner: Dialer, limiter: SharedLimiter): Dialer {
  return {
    provider: inner.provider,
    call: (call) => throughLimiter(limiter, inner.provider, 'call', () => inner.call(call)),
  };
}
