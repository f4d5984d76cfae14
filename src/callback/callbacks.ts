import { randomBytes } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { JobQueue } from '../jobs/queue.js';
import { CALL_JOB } from '../jobs/catalogue.js';
import type { FineractClient } from '../fineract/types.js';
import { maskMsisdn } from '../logger.js';
import type { CallbackOutcome, CallbackRequester, CallbackSource } from '../engine/registry-callback.js';
import type { HopContext } from '../session/hop-context.js';

/**
 * Call-back requests: a missed call to the voice number, the USSD item "Call me back" or the SMS keyword
 * CALL each ask Kiunga to call the customer, who then follows the banking flow with the keypad.
 *
 * A request is queued as the outbound job `call` `{ to, ref }` (src/messaging/outbound.ts places it), a few
 * seconds later so the USSD dialog has closed, and only when:
 * - the number is a valid number of the home country (DEFAULT_COUNTRY): a spoofed missed call must not make
 *   Kiunga call premium or international ranges (IRSF toll fraud, threat T3);
 * - no other call-back to it is pending (one at a time, with a TTL in case the outcome never arrives);
 * - the number has had fewer than CALLBACK_MAX_PER_HOUR call-backs this hour, and all numbers together fewer
 *   than CALLBACK_MAX_PER_MINUTE this minute (harassment and cost);
 * - Fineract knows the number as an active client.
 *
 * The call-back record (`ref` → number, state, attempts) is what the voice webhooks trust: a call is served
 * only when it belongs to a call-back Kiunga placed (threat T21), and the number is the record's, never a
 * field of the webhook. Every count lives in the store, so it holds across processes.
 */

export interface CallbackSettings {
  /** DEFAULT_COUNTRY: only its numbers are called. */
  homeCountry: string;
  /** Call-backs per number per hour. */
  maxPerHour: number;
  /** Call-backs placed by all numbers together per minute. */
  maxPerMinute: number;
  /** Delay before the call is placed (the USSD dialog must be closed). */
  delayMs: number;
  /** How long a request blocks the next one when its outcome never arrives. */
  pendingTtlMs: number;
  /** Calls placed again after no answer or busy (0: none). */
  retries: number;
  retryDelayMs: number;
  /** Longest a call may last (the voice session TTL): an answered call keeps the number pending that long. */
  callTtlMs?: number;
}

export type CallbackState = 'queued' | 'answered' | 'done' | 'missed';

/** Kept in the store for the life of a call-back (`keys.forSession('callback', ref, 'record')`). */
export interface CallbackRecord {
  v: 1;
  ref: string;
  msisdn: string;
  source: CallbackSource;
  state: CallbackState;
  /** Calls placed so far (1 after the first). */
  attempts: number;
  createdAt: string;
  /** The last call outcome: completed, no-answer, busy, failed, canceled. */
  outcome?: string;
  /** Provider ids of the calls whose end was reported (a repeated report changes nothing). */
  ended?: string[];
  /** The call reads out this customer's open payment code instead of running the flow (threat T31). */
  readCode?: { clientId: number };
}

/** How a placed call ended, as the voice webhooks report it. */
export type CallOutcome = 'completed' | 'no-answer' | 'busy' | 'failed' | 'canceled';

/** Refs are random and short enough for a URL and a job id. */
const REF = /^[a-z0-9]{20}$/;
const RECORD_TTL_MS = 2 * 3_600_000;
const HOUR_MS = 3_600_000;

export interface CallbackDeps {
  store: KeyValueStore;
  keys: Keys;
  queue: JobQueue;
  fineract: Pick<FineractClient, 'findClientByPhone'>;
  logger: Logger;
  settings: CallbackSettings;
}

export class CallbackService implements CallbackRequester {
  private readonly log: Logger;

  constructor(private readonly deps: CallbackDeps) {
    this.log = deps.logger.child({ component: 'callback' });
  }

  /** True for a valid number of the home country in E.164 form. */
  isHomeNumber(msisdn: string): boolean {
    const n = parsePhoneNumberFromString(msisdn);
    return !!n && n.isValid() && n.number === msisdn && n.country === this.deps.settings.homeCountry;
  }

  /** Checks a request and queues the call; never throws for a refusal (only when the store or Fineract fail). */
  async request(req: {
    msisdn: string;
    source: CallbackSource;
    readCode?: { clientId: number };
    hop?: HopContext;
  }): Promise<CallbackOutcome> {
    const { store, keys, settings } = this.deps;
    const { msisdn, source } = req;
    const log = this.log.child({ msisdn: maskMsisdn(msisdn), source });
    const refuse = (reason: Extract<CallbackOutcome, { status: 'refused' }>['reason']): CallbackOutcome => {
      log.info({ reason }, 'call-back refused');
      return { status: 'refused', reason };
    };
    if (!this.isHomeNumber(msisdn)) return refuse('not-home');

    const minute = Math.floor(Date.now() / 60_000);
    const global = await store.increment(keys.forSession('callback', 'all', `rate:${minute}`), 120_000);
    if (global > settings.maxPerMinute) return refuse('busy');

    const ref = randomBytes(10).toString('hex');
    const pendingKey = this.pendingKey(msisdn);
    if (!(await store.setIfAbsent(pendingKey, ref, settings.pendingTtlMs))) return refuse('pending');
    const release = () => store.deleteIfEquals(pendingKey, ref).catch(() => false);
    try {
      const count = await store.increment(keys.forMsisdn(msisdn, 'callback:count'), HOUR_MS);
      if (count > settings.maxPerHour) {
        await release();
        return refuse('limit');
      }
      const customer = await this.deps.fineract.findClientByPhone(msisdn, { hop: req.hop });
      if (!customer || !customer.active) {
        await release();
        return refuse(customer ? 'inactive' : 'unregistered');
      }
      // A call that reads a code goes only to the number of the customer the code belongs to.
      if (req.readCode && customer.clientId !== req.readCode.clientId) {
        await release();
        return refuse('unregistered');
      }
      const record: CallbackRecord = {
        v: 1,
        ref,
        msisdn,
        source,
        state: 'queued',
        attempts: 1,
        createdAt: new Date().toISOString(),
        ...(req.readCode ? { readCode: { clientId: req.readCode.clientId } } : {}),
      };
      await this.save(record);
      await this.queueCall(record, settings.delayMs);
      log.info({ ref }, 'call-back queued');
      return { status: 'queued', ref };
    } catch (error) {
      await release();
      throw error;
    }
  }

  /** The record of a call-back, if it exists and has not expired. */
  async get(ref: string): Promise<CallbackRecord | undefined> {
    if (!REF.test(ref)) return undefined;
    const raw = await this.deps.store.get(this.recordKey(ref));
    if (!raw) return undefined;
    try {
      const record = JSON.parse(raw) as CallbackRecord;
      return record.v === 1 && record.ref === ref ? record : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The call-back a call belongs to, when Kiunga placed it and it may still be served: by `ref` (Twilio's
   * signed `?ref=`, AT's `clientRequestId`) or by the provider's call id kept when the call was placed
   * (`callRef`, e.g. src/messaging/outbound.ts's index).
   */
  async forCall(lookup: { ref?: string; callRef?: () => Promise<string | null | undefined> }): Promise<CallbackRecord | undefined> {
    let ref = lookup.ref;
    if (!ref && lookup.callRef) ref = (await lookup.callRef()) ?? undefined;
    if (!ref) return undefined;
    const record = await this.get(ref);
    return record && (record.state === 'queued' || record.state === 'answered') ? record : undefined;
  }

  /** The customer answered a call of this call-back. */
  async answered(ref: string): Promise<void> {
    const record = await this.get(ref);
    if (!record || record.state === 'answered') return;
    await this.save({ ...record, state: 'answered' });
    // While the customer is on the call, no other call-back to the number (a call may outlast the pending TTL).
    const ttl = Math.max(this.deps.settings.pendingTtlMs, this.deps.settings.callTtlMs ?? 0);
    await this.deps.store.set(this.pendingKey(record.msisdn), record.ref, ttl);
  }

  /**
   * A call of this call-back ended. Completed: done, the number may ask again. No answer, busy, failed:
   * placed again after CALLBACK_RETRY_DELAY_S while retries are left, otherwise given up (the number may ask
   * again). `callId` is the provider's id of the call that ended: a repeated report changes nothing.
   */
  async finished(ref: string, outcome: CallOutcome, callId: string): Promise<void> {
    const record = await this.get(ref);
    if (!record || record.state === 'done' || record.state === 'missed') return;
    if (record.ended?.includes(callId)) return;
    const ended = [...(record.ended ?? []), callId].slice(-10);
    const { settings } = this.deps;
    const log = this.log.child({ ref, msisdn: maskMsisdn(record.msisdn), outcome, attempt: record.attempts });
    if (outcome === 'completed' || record.state === 'answered') {
      await this.save({ ...record, state: 'done', outcome, ended });
      await this.releasePending(record);
      log.info('call-back done');
      return;
    }
    if (record.attempts <= settings.retries) {
      const next: CallbackRecord = { ...record, attempts: record.attempts + 1, outcome, ended };
      await this.save(next);
      // Still one at a time: the pending mark lasts until the retry's outcome.
      await this.deps.store.set(this.pendingKey(record.msisdn), record.ref, settings.pendingTtlMs + settings.retryDelayMs);
      await this.queueCall(next, settings.retryDelayMs);
      log.info('call-back not answered: calling again later');
      return;
    }
    await this.save({ ...record, state: 'missed', outcome, ended });
    await this.releasePending(record);
    log.info('call-back not answered: given up');
  }

  private async queueCall(record: CallbackRecord, delayMs: number): Promise<void> {
    await this.deps.queue.add(
      CALL_JOB,
      { to: record.msisdn, ref: record.ref },
      // A call placed minutes late surprises more than it helps: few attempts.
      { delayMs, jobId: `call-${record.ref}-${record.attempts}`, attempts: 3, backoffMs: 2000 },
    );
  }

  private async releasePending(record: CallbackRecord): Promise<void> {
    await this.deps.store.deleteIfEquals(this.pendingKey(record.msisdn), record.ref).catch(() => false);
  }

  private async save(record: CallbackRecord): Promise<void> {
    await this.deps.store.set(this.recordKey(record.ref), JSON.stringify(record), RECORD_TTL_MS);
  }

  private recordKey(ref: string): string {
    return this.deps.keys.forSession('callback', ref, 'record');
  }

  private pendingKey(msisdn: string): string {
    return this.deps.keys.forMsisdn(msisdn, 'callback:pending');
  }
}
