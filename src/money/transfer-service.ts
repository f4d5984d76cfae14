import { Counter, Gauge, type Metric } from 'prom-client';
import type { HopContext } from '../session/hop-context.js';
import { TransferCaller, transferDescription } from './transfer-call.js';
import { TransferNotices } from './transfer-notices.js';
import { TransferRecords, idsOf, type TransferRecord } from './transfer-records.js';
import {
  MoneyPaused,
  type ExecuteOptions,
  type FailureCode,
  type TransferIntent,
  type TransferOutcome,
  type TransferServiceDeps,
  type UncertainTransfer,
} from './transfer-types.js';

export { failureCode } from './transfer-call.js';

/**
 * Moves money exactly once or not at all (threat T9). Every money intent has a random idempotency key drawn
 * when its confirmation screen is entered (threat T24: never derived from a session id, which aggregators
 * reuse); its record (with the intent) is written to Redis before Fineract is called, the key is sent as
 * `Idempotency-Key`, and a resolution job is queued before the call so that even a crash right after it is
 * resolved. A key whose record holds another intent, or a replayed Fineract answer on a key never sent
 * before, is a collision: never reported as success. An uncertain outcome (a timeout after Fineract may
 * have committed) is resolved by asking Fineract (the transfer's unique reference in its description, then
 * a replay with the same key) before anything is sent again, and never sent again past
 * `resolveMaxAgeMs` (threat T30). The customer is told the truth: done, failed (only when nothing reached
 * Fineract or Fineract refused it), or being processed with an SMS to follow (threat T29). Each request to
 * Fineract and the outcome it writes are transfer-call.ts's.
 */

/** Time kept back from the hop deadline to persist and answer after the call. */
const ANSWER_MARGIN_MS = 300;

/** The parts of an intent that say what moves where: a key reused for anything else is a collision. */
function sameIntent(a: TransferIntent, b: TransferIntent): boolean {
  return (
    a.kind === b.kind &&
    a.from.clientId === b.from.clientId &&
    a.from.accountId === b.from.accountId &&
    a.to.clientId === b.to.clientId &&
    a.to.accountId === b.to.accountId &&
    a.to.type === b.to.type &&
    a.amountCents === b.amountCents &&
    a.currency === b.currency
  );
}

export class TransferService {
  /** Prometheus metrics of money movements, registered by the app on /metrics. */
  readonly metrics: Metric[];
  private readonly pastMaxAge: Counter;
  private readonly now: () => number;
  private readonly records: TransferRecords;
  private readonly notices: TransferNotices;
  private readonly caller: TransferCaller;

  constructor(private readonly deps: TransferServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.records = new TransferRecords(deps.store, deps.keys, () => deps.today());
    this.notices = new TransferNotices(this.records, deps);
    this.caller = new TransferCaller(deps, this.records, this.notices, this.now);
    this.pastMaxAge = new Counter({
      name: 'kiunga_transfer_unresolved_past_max_age_total',
      help: 'Resolutions that found no transfer past TRANSFER_RESOLVE_MAX_AGE_S: not sent again, left to an operator (threat T30).',
      registers: [],
    });
    const uncertain = new Gauge({
      name: 'kiunga_transfers_uncertain',
      help: 'Money movements whose outcome is not known yet (listed at GET /admin/transfers?status=uncertain).',
      registers: [],
      collect: async () => {
        try {
          uncertain.set(Object.keys(await this.records.readList()).length);
        } catch {
          // Store unavailable: keep the last value.
        }
      },
    });
    this.metrics = [this.caller.collisions, this.pastMaxAge, uncertain];
  }

  /** Checks an amount against the limits and what the customer already sent today (no reservation). */
  async checkLimits(clientId: number, cents: number): Promise<'amount-low' | 'amount-high' | 'over-daily' | undefined> {
    const { limits } = this.deps;
    if (cents < limits.minCents) return 'amount-low';
    if (cents > limits.maxCents) return 'amount-high';
    const used = await this.records.sentToday(clientId);
    if (used + cents > limits.dailyCents) return 'over-daily';
    return undefined;
  }

  /**
   * Runs a transfer once, within the hop deadline; replays and retries return the first outcome. Rejects only
   * while no request can have reached Fineract; from the first request on, an unknown outcome is `processing`.
   */
  async execute(intent: TransferIntent, deadlineAt: number, options: ExecuteOptions = {}): Promise<TransferOutcome> {
    const existing = await this.records.read(intent.from.clientId, intent.id);
    if (existing)
      return sameIntent(existing.intent, intent)
        ? this.continueExisting(existing, deadlineAt, options.hop)
        : this.caller.collision(intent, 'intent');
    // The kill switch, before anything new: a paused intent leaves no record and counts against no limit.
    // (One already recorded above may have reached Fineract: its outcome is told as it is.)
    if (this.deps.switches && !this.deps.switches.moneyAllowed()) throw new MoneyPaused();

    const dailyKey = this.records.dailyKey(intent.from.clientId);
    const used = await this.records.addToDaily(dailyKey, intent.amountCents);
    if (used > this.deps.limits.dailyCents) {
      await this.records.addToDaily(dailyKey, -intent.amountCents);
      return { status: 'failed', code: 'over-daily' };
    }
    const now = this.now();
    const record: TransferRecord = { intent, status: 'pending', date: this.deps.today(), createdAt: now, updatedAt: now };
    if (!(await this.records.create(record))) {
      await this.records.addToDaily(dailyKey, -intent.amountCents);
      const raced = await this.records.read(intent.from.clientId, intent.id);
      if (raced && !sameIntent(raced.intent, intent)) return this.caller.collision(intent, 'intent');
      return raced ? this.continueExisting(raced, deadlineAt, options.hop) : { status: 'processing' };
    }
    // Queued before the call: if this process dies after Fineract commits, the job still finds out and tells the customer.
    await this.notices.scheduleResolution(intent);
    try {
      return await this.attempt(intent, deadlineAt, options);
    } catch (error) {
      // A request may have reached Fineract: the outcome is not known, the queued resolution tells the customer.
      this.deps.logger.warn(
        { transfer: intent.ref, err: { type: (error as Error)?.name } },
        'transfer outcome uncertain after a store failure',
      );
      return { status: 'processing' };
    }
  }

  /**
   * The hop stopped waiting for this transfer (deadline), or a retry of the hop found its first run still
   * holding the session (threat T29): the customer was told an SMS will follow, so the outcome goes by SMS.
   * `refusal` is the reason when the transfer was refused before any record was made. Resolves the record's
   * status as it was found (`failed` when nothing had been sent), undefined when it could not be read.
   */
  async tellLater(intent: TransferIntent, refusal?: FailureCode): Promise<TransferRecord['status'] | undefined> {
    let record = await this.records.read(intent.from.clientId, intent.id);
    if (!record) {
      // Nothing was sent: the record is written as failed first, so that no hop still running this intent
      // (a slow one in another process) can send it after the SMS said nothing moved (execute finds it).
      const now = this.now();
      const failed: TransferRecord = {
        intent,
        status: 'failed',
        code: refusal ?? 'rejected',
        told: true,
        date: this.deps.today(),
        createdAt: now,
        updatedAt: now,
      };
      if (await this.records.create(failed)) {
        this.deps.logger.info({ transfer: intent.ref, status: 'failed' }, 'transfer settled: nothing was sent');
        await this.notices.audit(intent, 'money.outcome', { status: 'failed', reason: failed.code! });
        await this.notices.notify(intent.from.clientId, intent.id);
        return 'failed';
      }
      record = await this.records.read(intent.from.clientId, intent.id);
      if (!record) return undefined;
    }
    if (record.shown || !record.told) {
      await this.records.locked(intent.from.clientId, intent.id, async (current) => {
        if (current) await this.records.write({ ...current, shown: false, told: true });
      });
    }
    // Pending or uncertain: the queued resolution settles and notifies (queued again in case the process that
    // made the record died before queueing it; its job id makes it one job).
    if (record.status === 'pending' || record.status === 'uncertain') await this.notices.scheduleResolution(intent);
    await this.notices.notify(intent.from.clientId, intent.id);
    return record.status;
  }

  /**
   * Settles an uncertain or pending transfer: asks Fineract, replays with the same key if needed, notifies.
   * `hop`: the hop it is resolved in, whose deadline its Fineract calls are given.
   */
  async resolve(clientId: number, id: string, hop?: HopContext): Promise<void> {
    const record = await this.records.read(clientId, id);
    if (!record) return;
    if (record.status === 'pending' || record.status === 'uncertain') {
      const { intent } = record;
      const found = await this.deps.fineract.findTransfer(
        {
          fromAccountId: intent.from.accountId,
          description: transferDescription(intent),
          ...(record.date ? { onOrAfter: record.date } : {}),
        },
        { hop },
      );
      if (found) await this.caller.settle(intent, { status: 'done', transactionId: found.transactionId }, hop);
      else if (this.now() - record.createdAt > this.deps.resolveMaxAgeMs) {
        // Too late to send (threat T30): the customer may have paid another way since. Look only.
        await this.unresolved(record);
        throw new Error('transfer unresolved past its maximum age: not sent again');
      } else if (record.collision) {
        // Another movement's answer came back for this key: sending again would only replay it. Look only.
        await this.records.list(record);
        throw new Error('transfer key collision unresolved: not sent again');
      } else {
        // Not there: send it now with the same key (Fineract 1.9+ deduplicates it even so), unless money
        // is switched off: then the job tries again later, still bounded by the maximum age.
        if (this.deps.switches && !this.deps.switches.moneyAllowed()) throw new MoneyPaused();
        const outcome = await this.caller.call(intent, hop);
        if (outcome.status === 'processing') throw new Error('transfer outcome still uncertain');
      }
    }
    await this.notices.notify(clientId, id);
  }

  /** Uncertain transfers for operators, oldest first; settled ones are dropped from the list on the way. */
  async listUncertain(): Promise<UncertainTransfer[]> {
    return this.records.listUncertain(this.now, this.deps.resolveMaxAgeMs);
  }

  private async continueExisting(record: TransferRecord, deadlineAt: number, hop: HopContext | undefined): Promise<TransferOutcome> {
    if (record.status === 'done') return { status: 'done', ...idsOf(record) };
    if (record.status === 'failed') return { status: 'failed', code: record.code! };
    // Pending or uncertain: an earlier attempt may still be in flight or may have committed. Never send
    // again before it must have ended; the queued resolution settles it and the SMS tells the customer.
    if (this.now() - record.updatedAt > this.deps.callMaxMs + ANSWER_MARGIN_MS && deadlineAt - Date.now() > 1000) {
      try {
        await this.resolve(record.intent.from.clientId, record.intent.id, hop);
        const settled = await this.records.read(record.intent.from.clientId, record.intent.id);
        if (settled?.status === 'done') return { status: 'done', ...idsOf(settled) };
        if (settled?.status === 'failed') return { status: 'failed', code: settled.code! };
      } catch (error) {
        this.deps.logger.warn({ transfer: record.intent.ref, err: { type: (error as Error).name } }, 'transfer still unresolved');
      }
    }
    return { status: 'processing' };
  }

  private async attempt(intent: TransferIntent, deadlineAt: number, options: ExecuteOptions): Promise<TransferOutcome> {
    const budget = deadlineAt - Date.now() - ANSWER_MARGIN_MS;
    if (budget <= 0) return this.caller.handOver(intent);
    const call = this.caller.call(intent, options.hop);
    const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), budget).unref());
    const outcome = await Promise.race([call, late]);
    if (outcome === 'late') {
      // The call goes on in the background and settles the record when it ends; the job backs it up.
      call.catch(() => undefined);
      return this.caller.handOver(intent);
    }
    // A failure the customer reads on screen needs no SMS; one the hop gave up waiting for does.
    if (outcome.status === 'failed' && !options.signal?.aborted) await this.markShown(intent).catch(() => undefined);
    if (outcome.status !== 'processing') {
      await this.notices.notify(intent.from.clientId, intent.id).catch((error: unknown) => {
        // The queued resolution notifies later.
        this.deps.logger.warn({ transfer: intent.ref, err: { type: (error as Error)?.name } }, 'transfer receipt not queued yet');
      });
    }
    return outcome;
  }

  private async markShown(intent: TransferIntent): Promise<void> {
    await this.records.locked(intent.from.clientId, intent.id, async (current) => {
      if (current && !current.told) await this.records.write({ ...current, shown: true });
    });
  }

  /** Past the maximum age and not found: listed for operators, counted, and the customer told once. */
  private async unresolved(record: TransferRecord): Promise<void> {
    const { intent } = record;
    await this.records.list(record);
    // Queued before the mark is set (under its own job id, taken once), as the receipts are (TransferNotices.notify).
    if (await this.records.isMarked(intent.from.clientId, intent.id, 'unconfirmed')) return;
    await this.notices.unconfirmed(intent);
    if (!(await this.records.markOnce(intent.from.clientId, intent.id, 'unconfirmed'))) return;
    this.pastMaxAge.inc();
    this.deps.logger.error(
      { transfer: intent.ref, ageS: Math.round((this.now() - record.createdAt) / 1000) },
      'transfer unresolved past its maximum age: not sent again, operator to check',
    );
  }
}
