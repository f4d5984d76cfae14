import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import { withLock } from '../session/lock.js';
import type { JobQueue } from '../jobs/queue.js';
import { FineractError, FineractRejected, OwnershipError } from '../fineract/errors.js';
import { MAKER_CHECKER_PENDING } from '../fineract/client.js';
import type { SavingsAccount } from '../fineract/types.js';

/**
 * Moves money exactly once or not at all (threat T9). Every movement has an idempotency key derived from the
 * session and step; its record is written to Redis before Fineract is called, the key is sent as
 * `Idempotency-Key`, and a resolution job is queued before the call so that even a crash right after it is
 * resolved. An uncertain outcome (a timeout after Fineract may have committed) is resolved by asking
 * Fineract (the transfer's unique reference in its description, then a replay with the same key) before
 * anything is sent again. The customer is told the truth: done, failed, or being processed with an SMS to
 * follow.
 */

export interface TransferParty {
  clientId: number;
  officeId: number;
  accountId: number;
}

export interface TransferIntent {
  /** Idempotency key (32 hex characters), unique per session and step. */
  id: string;
  /** Short reference shown to customers and written into Fineract's transfer description. */
  ref: string;
  kind: 'send' | 'own' | 'loan';
  /** Sender's number and language, for the SMS receipt. */
  msisdn: string;
  lang: string;
  from: TransferParty;
  to: TransferParty & { type: 'savings' | 'loan' };
  amountCents: number;
  currency: string;
  /** Masked label of the other side, e.g. `Baraka O.` or `Loan 000000101`. */
  counterparty: string;
  /** Set when the recipient is another customer who gets an SMS too. */
  recipientMsisdn?: string;
  recipientLang?: string;
  /** Masked label of the sender, for the recipient's SMS. */
  senderLabel?: string;
}

export type FailureCode = 'insufficient' | 'inactive' | 'forbidden' | 'over-daily' | 'rejected';

export type TransferOutcome =
  | { status: 'done'; transferId: number }
  | { status: 'failed'; code: FailureCode }
  | { status: 'processing' };

interface TransferRecord {
  intent: TransferIntent;
  status: 'pending' | 'uncertain' | 'done' | 'failed';
  transferId?: number;
  code?: FailureCode;
  /** The customer saw the final outcome on screen (a failure then needs no SMS). */
  shown?: boolean;
  createdAt: number;
  updatedAt: number;
}

/** The Fineract calls a transfer needs (implemented by the Fineract client). */
export interface TransferBackend {
  transfer(request: {
    from: TransferParty;
    to: TransferParty & { type: 'savings' | 'loan' };
    amount: string;
    description: string;
    idempotencyKey: string;
  }): Promise<{ transferId: number; replayed?: boolean }>;
  findTransfer(query: { fromAccountId: number; description: string }): Promise<{ transferId: number } | null>;
  getOwnedSavingsAccount(clientId: number, accountId: number): Promise<SavingsAccount>;
}

/** Composes the SMS texts (translated, GSM-7) for outcomes. */
export interface ReceiptWriter {
  senderDone(intent: TransferIntent, transferId: number): string;
  recipientDone(intent: TransferIntent, transferId: number): string;
  senderFailed(intent: TransferIntent, code: FailureCode): string;
}

export interface TransferLimits {
  minCents: number;
  maxCents: number;
  dailyCents: number;
}

export interface TransferServiceDeps {
  store: KeyValueStore;
  keys: Keys;
  fineract: TransferBackend;
  queue: JobQueue;
  receipts: ReceiptWriter;
  limits: TransferLimits;
  /**
   * The longest an original call can still be on its way or in flight (its wait in the gateway's queue, at
   * most a hop, plus Fineract's timeout): a resolution never sends again before that.
   */
  callMaxMs: number;
  logger: Logger;
  /** The tenant's business date, `yyyy-mm-dd` (daily limits reset with it). */
  today(): string;
}

const RECORD_TTL_MS = 7 * 24 * 3600 * 1000;
const DAILY_TTL_MS = 2 * 24 * 3600 * 1000;
/** Time kept back from the hop deadline to persist and answer after the call. */
const ANSWER_MARGIN_MS = 300;

export const RESOLVE_JOB = 'resolveTransfer';
export const SMS_JOB = 'sms';

/** Fineract amounts are decimal strings: 50000 cents -> "500.00". */
export const toDecimal = (cents: number) => `${Math.trunc(cents / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;

/** Parses a customer's amount ("500", "500.5", "500.50") into cents; undefined when it is not one. */
export function parseAmount(text: string): number | undefined {
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}

export class TransferService {
  constructor(private readonly deps: TransferServiceDeps) {}

  /** The description Fineract stores with the transfer; its unique reference makes it findable. */
  static description(intent: TransferIntent): string {
    return `Kiunga ${intent.kind} ${intent.ref}`;
  }

  /** Checks an amount against the limits and what the customer already sent today (no reservation). */
  async checkLimits(clientId: number, cents: number): Promise<'amount-low' | 'amount-high' | 'over-daily' | undefined> {
    const { limits } = this.deps;
    if (cents < limits.minCents) return 'amount-low';
    if (cents > limits.maxCents) return 'amount-high';
    const used = Number((await this.deps.store.get(this.dailyKey(clientId))) ?? 0);
    if (used + cents > limits.dailyCents) return 'over-daily';
    return undefined;
  }

  /** Runs a transfer once, within the hop deadline; replays and retries return the first outcome. */
  async execute(intent: TransferIntent, deadlineAt: number): Promise<TransferOutcome> {
    const existing = await this.read(intent.from.clientId, intent.id);
    if (existing) return this.continueExisting(existing, deadlineAt);

    const { store } = this.deps;
    const dailyKey = this.dailyKey(intent.from.clientId);
    const used = await store.increment(dailyKey, DAILY_TTL_MS, intent.amountCents);
    if (used > this.deps.limits.dailyCents) {
      await store.increment(dailyKey, DAILY_TTL_MS, -intent.amountCents);
      return { status: 'failed', code: 'over-daily' };
    }
    const now = Date.now();
    const record: TransferRecord = { intent, status: 'pending', createdAt: now, updatedAt: now };
    if (!(await store.setIfAbsent(this.recordKey(intent.from.clientId, intent.id), JSON.stringify(record), RECORD_TTL_MS))) {
      await store.increment(dailyKey, DAILY_TTL_MS, -intent.amountCents);
      const raced = await this.read(intent.from.clientId, intent.id);
      return raced ? this.continueExisting(raced, deadlineAt) : { status: 'processing' };
    }
    // Queued before the call: if this process dies after Fineract commits, the job still finds out and tells the customer.
    await this.scheduleResolution(intent);
    return this.attempt(intent, deadlineAt);
  }

  /** Settles an uncertain or pending transfer: asks Fineract, replays with the same key if needed, notifies. */
  async resolve(clientId: number, id: string): Promise<void> {
    const record = await this.read(clientId, id);
    if (!record) return;
    if (record.status === 'pending' || record.status === 'uncertain') {
      const { intent } = record;
      const found = await this.deps.fineract.findTransfer({
        fromAccountId: intent.from.accountId,
        description: TransferService.description(intent),
      });
      if (found) await this.settle(intent, { status: 'done', transferId: found.transferId });
      else {
        // Not there: send it now with the same key (Fineract 1.9+ deduplicates it even so).
        const outcome = await this.call(intent);
        if (outcome.status === 'processing') throw new Error('transfer outcome still uncertain');
      }
    }
    await this.notify(clientId, id);
  }

  private async continueExisting(record: TransferRecord, deadlineAt: number): Promise<TransferOutcome> {
    if (record.status === 'done') return { status: 'done', transferId: record.transferId! };
    if (record.status === 'failed') return { status: 'failed', code: record.code! };
    // Pending or uncertain: an earlier attempt may still be in flight or may have committed. Never send
    // again before it must have ended; the queued resolution settles it and the SMS tells the customer.
    if (Date.now() - record.updatedAt > this.deps.callMaxMs + ANSWER_MARGIN_MS && deadlineAt - Date.now() > 1000) {
      try {
        await this.resolve(record.intent.from.clientId, record.intent.id);
        const settled = await this.read(record.intent.from.clientId, record.intent.id);
        if (settled?.status === 'done') return { status: 'done', transferId: settled.transferId! };
        if (settled?.status === 'failed') return { status: 'failed', code: settled.code! };
      } catch (error) {
        this.deps.logger.warn({ transfer: record.intent.ref, err: { type: (error as Error).name } }, 'transfer still unresolved');
      }
    }
    return { status: 'processing' };
  }

  private async attempt(intent: TransferIntent, deadlineAt: number): Promise<TransferOutcome> {
    const budget = deadlineAt - Date.now() - ANSWER_MARGIN_MS;
    if (budget <= 0) return this.handOver(intent);
    const call = this.call(intent);
    const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), budget).unref());
    const outcome = await Promise.race([call, late]);
    if (outcome === 'late') {
      // The call goes on in the background and settles the record when it ends; the job backs it up.
      call.catch(() => undefined);
      return this.handOver(intent);
    }
    if (outcome.status !== 'processing') await this.markShown(intent);
    if (outcome.status === 'done') await this.notify(intent.from.clientId, intent.id);
    return outcome;
  }

  private async markShown(intent: TransferIntent): Promise<void> {
    const key = this.recordKey(intent.from.clientId, intent.id);
    await withLock(this.deps.store, `${key}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.read(intent.from.clientId, intent.id);
      if (current) await this.deps.store.set(key, JSON.stringify({ ...current, shown: true }), RECORD_TTL_MS);
    });
  }

  /** One call to Fineract with the intent's idempotency key; writes the outcome it learns. */
  private async call(intent: TransferIntent): Promise<TransferOutcome> {
    try {
      const result = await this.deps.fineract.transfer({
        from: intent.from,
        to: intent.to,
        amount: toDecimal(intent.amountCents),
        description: TransferService.description(intent),
        idempotencyKey: intent.id,
      });
      return this.settle(intent, { status: 'done', transferId: result.transferId });
    } catch (error) {
      const code = failureCode(error);
      if (code) return this.settle(intent, { status: 'failed', code });
      this.deps.logger.warn({ transfer: intent.ref, err: { type: (error as Error).name } }, 'transfer outcome uncertain');
      await this.mark(intent, 'uncertain');
      return { status: 'processing' };
    }
  }

  private async handOver(intent: TransferIntent): Promise<TransferOutcome> {
    await this.mark(intent, 'uncertain');
    this.deps.logger.info({ transfer: intent.ref }, 'transfer handed over to the background');
    return { status: 'processing' };
  }

  private async scheduleResolution(intent: TransferIntent): Promise<void> {
    await this.deps.queue.add(
      RESOLVE_JOB,
      { clientId: intent.from.clientId, id: intent.id },
      { delayMs: this.deps.callMaxMs + 1000, jobId: `resolve-${intent.id}`, attempts: 12, backoffMs: 2000 },
    );
  }

  /** Writes a final outcome once; a final outcome is never overwritten. Releases the daily reservation on failure. */
  private async settle(intent: TransferIntent, outcome: { status: 'done'; transferId: number } | { status: 'failed'; code: FailureCode }): Promise<TransferOutcome> {
    const key = this.recordKey(intent.from.clientId, intent.id);
    return withLock(this.deps.store, `${key}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.read(intent.from.clientId, intent.id);
      if (current?.status === 'done') return { status: 'done', transferId: current.transferId! } as const;
      if (current?.status === 'failed') return { status: 'failed', code: current.code! } as const;
      const record: TransferRecord = {
        intent,
        status: outcome.status,
        transferId: outcome.status === 'done' ? outcome.transferId : undefined,
        code: outcome.status === 'failed' ? outcome.code : undefined,
        createdAt: current?.createdAt ?? Date.now(),
        updatedAt: Date.now(),
      };
      await this.deps.store.set(key, JSON.stringify(record), RECORD_TTL_MS);
      if (outcome.status === 'failed') await this.deps.store.increment(this.dailyKey(intent.from.clientId), DAILY_TTL_MS, -intent.amountCents);
      this.deps.logger.info({ transfer: intent.ref, kind: intent.kind, status: outcome.status }, 'transfer settled');
      return outcome;
    });
  }

  private async mark(intent: TransferIntent, status: 'uncertain'): Promise<void> {
    const key = this.recordKey(intent.from.clientId, intent.id);
    await withLock(this.deps.store, `${key}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.read(intent.from.clientId, intent.id);
      if (!current || current.status === 'done' || current.status === 'failed') return;
      await this.deps.store.set(key, JSON.stringify({ ...current, status, updatedAt: Date.now() }), RECORD_TTL_MS);
    });
  }

  /** Queues the SMS receipts of a settled transfer, once. */
  private async notify(clientId: number, id: string): Promise<void> {
    const record = await this.read(clientId, id);
    if (!record || (record.status !== 'done' && record.status !== 'failed')) return;
    const key = `${this.recordKey(clientId, id)}:notified`;
    if (!(await this.deps.store.setIfAbsent(key, '1', RECORD_TTL_MS))) return;
    const { intent } = record;
    const { receipts, queue } = this.deps;
    if (record.status === 'done') {
      await queue.add(SMS_JOB, { to: intent.msisdn, text: receipts.senderDone(intent, record.transferId!), ref: intent.ref }, { jobId: `sms-${id}-s` });
      if (intent.recipientMsisdn) {
        await queue.add(
          SMS_JOB,
          { to: intent.recipientMsisdn, text: receipts.recipientDone(intent, record.transferId!), ref: intent.ref },
          { jobId: `sms-${id}-r` },
        );
      }
    } else if (!record.shown) {
      // A failure the customer already saw on screen needs no SMS; one settled later does.
      await queue.add(SMS_JOB, { to: intent.msisdn, text: receipts.senderFailed(intent, record.code!), ref: intent.ref }, { jobId: `sms-${id}-f` });
    }
  }

  private async read(clientId: number, id: string): Promise<TransferRecord | undefined> {
    const raw = await this.deps.store.get(this.recordKey(clientId, id));
    return raw ? (JSON.parse(raw) as TransferRecord) : undefined;
  }

  private recordKey(clientId: number, id: string): string {
    return this.deps.keys.forCustomer(clientId, `transfer:${id}`);
  }

  private dailyKey(clientId: number): string {
    return this.deps.keys.forCustomer(clientId, `daily:${this.deps.today().replaceAll('-', '')}`);
  }
}

/** Fineract's refusals that mean "nothing moved"; anything else leaves the outcome uncertain. */
function failureCode(error: unknown): FailureCode | undefined {
  if (error instanceof OwnershipError) return 'forbidden';
  if (!(error instanceof FineractError)) return undefined;
  if (error instanceof FineractRejected) {
    if (error.code === 'error.msg.savingsaccount.transaction.insufficient.account.balance') return 'insufficient';
    if (error.code === 'error.msg.savingsaccount.transaction.account.is.not.active') return 'inactive';
    // A write sent to a read replica did not run, and one parked for maker-checker may still run when
    // approved: neither is a failure the customer may be told about, both stay uncertain.
    if (error.code === 'error.msg.invalid.instance.type' || error.code === MAKER_CHECKER_PENDING) return undefined;
    return 'rejected';
  }
  if (error.kind === 'not-found' || error.kind === 'unauthorized') return 'rejected';
  return undefined;
}
