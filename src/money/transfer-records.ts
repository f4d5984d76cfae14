import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import { withLock } from '../session/lock.js';
import { maskMsisdn } from '../logger.js';
import { toDecimal } from './amount.js';
import type { FailureCode, FineractTransferIds, TransferIntent, UncertainTransfer } from './transfer-types.js';

/**
 * Where transfer records live (transfer-service.ts decides, this file stores): one record per money intent in the
 * store, written before Fineract is called and changed under its lock; beside it the customer's daily total, the
 * count of requests sent with the intent's key, the once-only marks of its SMS, and the operators' list of
 * transfers whose outcome is not known yet.
 */

/** What is stored of a money intent: the intent and how far it got. */
export interface TransferRecord extends FineractTransferIds {
  intent: TransferIntent;
  status: 'pending' | 'uncertain' | 'done' | 'failed';
  /** Written before issue 13 (records live 7 days): the transaction id, read as `transactionId`. */
  transferId?: number;
  code?: FailureCode;
  /** The customer saw the final outcome on screen (a failure then needs no SMS). */
  shown?: boolean;
  /**
   * The customer was told an SMS will follow (`tellLater`): never marked shown afterwards, even by the hop
   * that moved it, whose screen then reached no one (its process died, or the aggregator gave up on it).
   */
  told?: boolean;
  /** Business date the record was made on (`yyyy-mm-dd`): the transfer is looked for from that date. */
  date?: string;
  /** Fineract replayed another movement's answer for this key: never sent again, only looked for. */
  collision?: boolean;
  /** Listed among the uncertain transfers operators see. */
  listed?: boolean;
  createdAt: number;
  updatedAt: number;
}

const RECORD_TTL_MS = 7 * 24 * 3600 * 1000;
const DAILY_TTL_MS = 2 * 24 * 3600 * 1000;

/** Most uncertain transfers listed for operators (the oldest are dropped from the list beyond it). */
const UNCERTAIN_LIST_MAX = 10_000;

/** The Fineract ids known of a done transfer, each under its own name (a record from before issue 13 included). */
export function idsOf(r: FineractTransferIds & { transferId?: number }): FineractTransferIds {
  const transactionId = r.transactionId ?? r.transferId;
  return { ...(r.detailId !== undefined ? { detailId: r.detailId } : {}), ...(transactionId !== undefined ? { transactionId } : {}) };
}

/** The transfer records and what is kept beside them, in the key-value store. */
export class TransferRecords {
  constructor(
    private readonly store: KeyValueStore,
    private readonly keys: Keys,
    /** The tenant's business date, `yyyy-mm-dd` (daily totals reset with it). */
    private readonly today: () => string,
  ) {}

  /** The record of an intent, if one was written. */
  async read(clientId: number, id: string): Promise<TransferRecord | undefined> {
    const raw = await this.store.get(this.recordKey(clientId, id));
    return raw ? (JSON.parse(raw) as TransferRecord) : undefined;
  }

  /** Writes a new record unless its intent's key holds one; true when written. */
  async create(record: TransferRecord): Promise<boolean> {
    return this.store.setIfAbsent(this.recordKey(record.intent.from.clientId, record.intent.id), JSON.stringify(record), RECORD_TTL_MS);
  }

  /** Overwrites the record of its intent (under `locked`). */
  async write(record: TransferRecord): Promise<void> {
    await this.store.set(this.recordKey(record.intent.from.clientId, record.intent.id), JSON.stringify(record), RECORD_TTL_MS);
  }

  /** Runs `fn` with the record as stored, holding the record's lock. */
  async locked<T>(clientId: number, id: string, fn: (current: TransferRecord | undefined) => Promise<T>): Promise<T> {
    return withLock(this.store, `${this.recordKey(clientId, id)}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () =>
      fn(await this.read(clientId, id)),
    );
  }

  /** The key of what a customer sent on today's business date. */
  dailyKey(clientId: number): string {
    return this.keys.forCustomer(clientId, `daily:${this.today().replaceAll('-', '')}`);
  }

  /** What a customer sent today, in cents. */
  async sentToday(clientId: number): Promise<number> {
    return Number((await this.store.get(this.dailyKey(clientId))) ?? 0);
  }

  /** Adds `cents` to a day's total (negative: gives them back); resolves the new total. */
  async addToDaily(dailyKey: string, cents: number): Promise<number> {
    return this.store.increment(dailyKey, DAILY_TTL_MS, cents);
  }

  /** Counts one more request sent with the intent's key; resolves how many were counted (1: the first). */
  async countSent(clientId: number, id: string): Promise<number> {
    return this.store.increment(`${this.recordKey(clientId, id)}:calls`, RECORD_TTL_MS, 1);
  }

  /** Sets a once-only mark of the record; true when this call set it. */
  async markOnce(clientId: number, id: string, mark: 'notified' | 'unconfirmed'): Promise<boolean> {
    return this.store.setIfAbsent(`${this.recordKey(clientId, id)}:${mark}`, '1', RECORD_TTL_MS);
  }

  /** True when the record's once-only mark is set. */
  async isMarked(clientId: number, id: string, mark: 'notified' | 'unconfirmed'): Promise<boolean> {
    return (await this.store.get(`${this.recordKey(clientId, id)}:${mark}`)) !== null;
  }

  /**
   * Uncertain transfers for operators, oldest first; settled ones are dropped from the list on the way. `now` is
   * the clock, `maxAgeMs` the resolution's maximum age.
   */
  async listUncertain(now: () => number, maxAgeMs: number): Promise<UncertainTransfer[]> {
    const entries = await this.readList();
    const out: UncertainTransfer[] = [];
    const settled: string[] = [];
    for (const entry of Object.keys(entries)) {
      const [clientId, id] = entry.split(':') as [string, string];
      const record = await this.read(Number(clientId), id);
      if (!record || record.status === 'done' || record.status === 'failed') {
        settled.push(entry);
        continue;
      }
      const { intent } = record;
      out.push({
        ref: intent.ref,
        clientId: intent.from.clientId,
        kind: intent.kind,
        status: record.status,
        amount: toDecimal(intent.amountCents),
        currency: intent.currency,
        sender: maskMsisdn(intent.msisdn),
        counterparty: intent.counterparty,
        fromAccountId: intent.from.accountId,
        createdAt: new Date(record.createdAt).toISOString(),
        ageS: Math.round((now() - record.createdAt) / 1000),
        pastMaxAge: now() - record.createdAt > maxAgeMs,
        collision: record.collision === true,
      });
    }
    if (settled.length) await this.unlist(settled).catch(() => undefined);
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Adds a record to the operators' list of uncertain transfers (once). */
  async list(record: TransferRecord): Promise<void> {
    if (record.listed) return;
    const { intent } = record;
    const entry = `${intent.from.clientId}:${intent.id}`;
    await withLock(this.store, `${this.listKey()}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const entries = await this.readList();
      entries[entry] = record.createdAt;
      const kept = Object.entries(entries)
        .sort((a, b) => b[1] - a[1])
        .slice(0, UNCERTAIN_LIST_MAX);
      await this.store.set(this.listKey(), JSON.stringify(Object.fromEntries(kept)), RECORD_TTL_MS);
    });
    const key = this.recordKey(intent.from.clientId, intent.id);
    await withLock(this.store, `${key}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.read(intent.from.clientId, intent.id);
      if (current && current.status !== 'done' && current.status !== 'failed') {
        await this.store.set(key, JSON.stringify({ ...current, listed: true }), RECORD_TTL_MS);
      }
    });
  }

  /** Drops entries (`clientId:id`) from the operators' list. */
  async unlist(entries: string[]): Promise<void> {
    await withLock(this.store, `${this.listKey()}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.readList();
      for (const e of entries) delete current[e];
      await this.store.set(this.listKey(), JSON.stringify(current), RECORD_TTL_MS);
    });
  }

  /** The operators' list: `clientId:id` to the record's creation time. */
  async readList(): Promise<Record<string, number>> {
    const raw = await this.store.get(this.listKey());
    return raw ? (JSON.parse(raw) as Record<string, number>) : {};
  }

  private recordKey(clientId: number, id: string): string {
    return this.keys.forCustomer(clientId, `transfer:${id}`);
  }

  private listKey(): string {
    return this.keys.forSession('money', 'transfers', 'uncertain');
  }
}
