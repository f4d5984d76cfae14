import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import { withLock } from '../session/lock.js';
import type { JobQueue } from '../jobs/queue.js';
import { RESOLVE_JOB, SMS_JOB } from '../jobs/catalogue.js';
import { Counter, Gauge, type Metric } from 'prom-client';
import { FineractError, FineractRejected, OwnershipError, isReplayedFailure } from '../fineract/errors.js';
import { INVALID_INSTANCE_TYPE, MAKER_CHECKER_PENDING, isInsufficientFunds } from '../fineract/rejection-codes.js';
import type { CallOptions, SavingsAccount } from '../fineract/types.js';
import { maskMsisdn } from '../logger.js';
import type { Switches } from '../control/switches.js';
import type { AuditEvent, AuditTrail } from '../audit/audit.js';
import type { HopContext } from '../session/hop-context.js';

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
 * Fineract or Fineract refused it), or being processed with an SMS to follow (threat T29).
 */

export interface TransferParty {
  clientId: number;
  officeId: number;
  accountId: number;
}

export interface TransferIntent {
  /**
   * Idempotency key: 32 random hex characters drawn once per money intent (Fineract stores at most 50,
   * `m_portfolio_command_source.idempotency_key VARCHAR(50)`).
   */
  id: string;
  /** Short reference shown to customers and written into Fineract's transfer description. */
  ref: string;
  kind: 'send' | 'own' | 'loan';
  /**
   * An agent's cash movement (src/agents): `in` the agent's float pays a customer, `out` a customer pays the
   * float. The sender's "You sent" receipt is then left out: the agent module's own SMS (float balance, or
   * the cash to pay with its code) replaces it, sent from `afterDone`.
   */
  cash?: 'in' | 'out';
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
  /**
   * Set when the source's ownership (and a loan target's) was checked by a Fineract read when this intent was
   * fixed (the confirmation screen's balance check): the transfer then sends only the POST (`TransferRequest.checked`).
   */
  checked?: { sourceDecimalPlaces: number; loan: boolean };
}

/** Why nothing moved; `unavailable`: Kiunga stopped before sending (the hop gave up waiting). */
export type FailureCode = 'insufficient' | 'inactive' | 'forbidden' | 'over-daily' | 'rejected' | 'unavailable';

/**
 * Money movement is switched off (kill switch `money` or `all`, or its state could not be read): refused
 * before any record, any limit or any request to Fineract. Nothing was sent, so the customer is told it is
 * paused, never "it may have gone".
 */
export class MoneyPaused extends Error {
  constructor() {
    super('money movement is switched off');
    this.name = 'MoneyPaused';
  }
}

/**
 * Fineract's ids of a transfer that is done, each under its own name (docs/fineract.md §6.2), for operators:
 * customers are given the intent's `ref` only. `detailId` is the POST's answer (the transfer detail);
 * `transactionId` is what reconciliation finds on the legs (the transfer transaction). Whichever is known.
 */
export interface FineractTransferIds {
  detailId?: number;
  transactionId?: number;
}

export type TransferOutcome =
  ({ status: 'done' } & FineractTransferIds) | { status: 'failed'; code: FailureCode } | { status: 'processing' };

interface TransferRecord extends FineractTransferIds {
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

/** One unresolved money movement, as operators see it (`GET /admin/transfers?status=uncertain`). */
export interface UncertainTransfer {
  ref: string;
  clientId: number;
  kind: TransferIntent['kind'];
  status: 'pending' | 'uncertain';
  amount: string;
  currency: string;
  /** Masked sender number, e.g. `+254711***001`. */
  sender: string;
  counterparty: string;
  fromAccountId: number;
  createdAt: string;
  ageS: number;
  /** Older than the resolution's maximum age: only looked for, never sent again. */
  pastMaxAge: boolean;
  collision: boolean;
}

/** The Fineract calls a transfer needs (implemented by the Fineract client). */
export interface TransferBackend {
  transfer(
    request: {
      from: TransferParty;
      to: TransferParty & { type: 'savings' | 'loan' };
      amount: string;
      description: string;
      idempotencyKey: string;
      checked?: { sourceDecimalPlaces: number; loan: boolean };
    },
    call?: CallOptions,
  ): Promise<{ detailId: number; replayed?: boolean }>;
  findTransfer(
    query: { fromAccountId: number; description: string; onOrAfter?: string },
    call?: CallOptions,
  ): Promise<{ transactionId: number } | null>;
  getOwnedSavingsAccount(clientId: number, accountId: number): Promise<SavingsAccount>;
}

/** Composes the SMS texts (translated, GSM-7) for outcomes. */
export interface ReceiptWriter {
  /** Names the transfer by the intent's `ref` only: the one reference on screen, in SMS and in Fineract's description. */
  senderDone(intent: TransferIntent): string;
  recipientDone(intent: TransferIntent): string;
  senderFailed(intent: TransferIntent, code: FailureCode): string;
  /** Past the resolution's maximum age, not found in Fineract: not sent again. */
  senderUnconfirmed(intent: TransferIntent): string;
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
  /**
   * Past this age (from the record's creation) a resolution only looks for the transfer in Fineract and
   * never sends it again (TRANSFER_RESOLVE_MAX_AGE_S, threat T30).
   */
  resolveMaxAgeMs: number;
  /** The kill switches: while money is off (or its state unknown), nothing new is sent (`MoneyPaused`). */
  switches?: Pick<Switches, 'moneyAllowed'>;
  logger: Logger;
  /** The tenant's business date, `yyyy-mm-dd` (daily limits reset with it). */
  today(): string;
  /** Clock (tests). */
  now?: () => number;
  /**
   * Told once of every transfer that is done, whoever settles it (the hop or the background resolution): the
   * step-up remembers the payee (OTP_NEW_PAYEE) and clears a fresh credential's mark (threat T31). Its failure
   * only means a code is asked once more next time. `hop`: the hop that settled it, if any (its deadline for
   * the Fineract reads made then).
   */
  afterDone?: (intent: TransferIntent, hop?: HopContext) => Promise<void>;
  /**
   * The audit trail (threat T16): `money.attempt` before each request to Fineract (idempotency key, amount in
   * minor units, currency, masked counterparty) and `money.outcome` (done with Fineract's ids, failed with the
   * reason, processing while unknown).
   */
  audit?: AuditTrail;
}

const RECORD_TTL_MS = 7 * 24 * 3600 * 1000;
const DAILY_TTL_MS = 2 * 24 * 3600 * 1000;
/** Time kept back from the hop deadline to persist and answer after the call. */
const ANSWER_MARGIN_MS = 300;

/** Most uncertain transfers listed for operators (the oldest are dropped from the list beyond it). */
const UNCERTAIN_LIST_MAX = 10_000;

/** Fineract amounts are decimal strings: 50000 cents -> "500.00". */
export const toDecimal = (cents: number) => `${Math.trunc(cents / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;

/** Parses a customer's amount ("500", "500.5", "500.50") into cents; undefined when it is not one. */
export function parseAmount(text: string): number | undefined {
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}

/** The payee of an intent as the step-up names it (one-time code binding, paid payees): `savings:12`, `loan:7`. */
export const payeeOf = (to: { type: 'savings' | 'loan'; accountId: number }) => `${to.type}:${to.accountId}`;

/** The Fineract ids known of a done transfer, each under its own name (a record from before issue 13 included). */
function idsOf(r: FineractTransferIds & { transferId?: number }): FineractTransferIds {
  const transactionId = r.transactionId ?? r.transferId;
  return { ...(r.detailId !== undefined ? { detailId: r.detailId } : {}), ...(transactionId !== undefined ? { transactionId } : {}) };
}

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

export interface ExecuteOptions {
  /** Aborts when the hop stopped waiting: the outcome then reaches the customer by SMS, not on screen. */
  signal?: AbortSignal;
  /**
   * The hop the transfer runs in (session/hop-context.ts): its Fineract calls are given the hop's deadline (a
   * call that cannot start by then is not sent). Without it (a job) they wait at most the gateway's queue limit.
   */
  hop?: HopContext;
}

export class TransferService {
  /** Prometheus metrics of money movements, registered by the app on /metrics. */
  readonly metrics: Metric[];
  private readonly collisions: Counter<'reason'>;
  private readonly pastMaxAge: Counter;
  private readonly now: () => number;

  constructor(private readonly deps: TransferServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.collisions = new Counter({
      name: 'kiunga_transfer_key_collisions_total',
      help: 'Idempotency-key collisions (threat T24): a key whose record holds another intent, or a Fineract answer replayed on a key never sent before. Never reported as success; alert on any.',
      labelNames: ['reason'],
      registers: [],
    });
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
          uncertain.set(Object.keys(await this.readList()).length);
        } catch {
          // Store unavailable: keep the last value.
        }
      },
    });
    this.metrics = [this.collisions, this.pastMaxAge, uncertain];
  }

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

  /**
   * Runs a transfer once, within the hop deadline; replays and retries return the first outcome. Rejects only
   * while no request can have reached Fineract; from the first request on, an unknown outcome is `processing`.
   */
  async execute(intent: TransferIntent, deadlineAt: number, options: ExecuteOptions = {}): Promise<TransferOutcome> {
    const existing = await this.read(intent.from.clientId, intent.id);
    if (existing)
      return sameIntent(existing.intent, intent)
        ? this.continueExisting(existing, deadlineAt, options.hop)
        : this.collision(intent, 'intent');
    // The kill switch, before anything new: a paused intent leaves no record and counts against no limit.
    // (One already recorded above may have reached Fineract: its outcome is told as it is.)
    if (this.deps.switches && !this.deps.switches.moneyAllowed()) throw new MoneyPaused();

    const { store } = this.deps;
    const dailyKey = this.dailyKey(intent.from.clientId);
    const used = await store.increment(dailyKey, DAILY_TTL_MS, intent.amountCents);
    if (used > this.deps.limits.dailyCents) {
      await store.increment(dailyKey, DAILY_TTL_MS, -intent.amountCents);
      return { status: 'failed', code: 'over-daily' };
    }
    const now = this.now();
    const record: TransferRecord = { intent, status: 'pending', date: this.deps.today(), createdAt: now, updatedAt: now };
    if (!(await store.setIfAbsent(this.recordKey(intent.from.clientId, intent.id), JSON.stringify(record), RECORD_TTL_MS))) {
      await store.increment(dailyKey, DAILY_TTL_MS, -intent.amountCents);
      const raced = await this.read(intent.from.clientId, intent.id);
      if (raced && !sameIntent(raced.intent, intent)) return this.collision(intent, 'intent');
      return raced ? this.continueExisting(raced, deadlineAt, options.hop) : { status: 'processing' };
    }
    // Queued before the call: if this process dies after Fineract commits, the job still finds out and tells the customer.
    await this.scheduleResolution(intent);
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
    const key = this.recordKey(intent.from.clientId, intent.id);
    let record = await this.read(intent.from.clientId, intent.id);
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
      if (await this.deps.store.setIfAbsent(key, JSON.stringify(failed), RECORD_TTL_MS)) {
        this.deps.logger.info({ transfer: intent.ref, status: 'failed' }, 'transfer settled: nothing was sent');
        await this.audit(intent, 'money.outcome', { status: 'failed', reason: failed.code! });
        await this.notify(intent.from.clientId, intent.id);
        return 'failed';
      }
      record = await this.read(intent.from.clientId, intent.id);
      if (!record) return undefined;
    }
    if (record.shown || !record.told) {
      await withLock(this.deps.store, `${key}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
        const current = await this.read(intent.from.clientId, intent.id);
        if (current) await this.deps.store.set(key, JSON.stringify({ ...current, shown: false, told: true }), RECORD_TTL_MS);
      });
    }
    // Pending or uncertain: the queued resolution settles and notifies (queued again in case the process that
    // made the record died before queueing it; its job id makes it one job).
    if (record.status === 'pending' || record.status === 'uncertain') await this.scheduleResolution(intent);
    await this.notify(intent.from.clientId, intent.id);
    return record.status;
  }

  /**
   * Settles an uncertain or pending transfer: asks Fineract, replays with the same key if needed, notifies.
   * `hop`: the hop it is resolved in, whose deadline its Fineract calls are given.
   */
  async resolve(clientId: number, id: string, hop?: HopContext): Promise<void> {
    const record = await this.read(clientId, id);
    if (!record) return;
    if (record.status === 'pending' || record.status === 'uncertain') {
      const { intent } = record;
      const found = await this.deps.fineract.findTransfer(
        {
          fromAccountId: intent.from.accountId,
          description: TransferService.description(intent),
          ...(record.date ? { onOrAfter: record.date } : {}),
        },
        { hop },
      );
      if (found) await this.settle(intent, { status: 'done', transactionId: found.transactionId }, hop);
      else if (this.now() - record.createdAt > this.deps.resolveMaxAgeMs) {
        // Too late to send (threat T30): the customer may have paid another way since. Look only.
        await this.unresolved(record);
        throw new Error('transfer unresolved past its maximum age: not sent again');
      } else if (record.collision) {
        // Another movement's answer came back for this key: sending again would only replay it. Look only.
        await this.list(record);
        throw new Error('transfer key collision unresolved: not sent again');
      } else {
        // Not there: send it now with the same key (Fineract 1.9+ deduplicates it even so), unless money
        // is switched off: then the job tries again later, still bounded by the maximum age.
        if (this.deps.switches && !this.deps.switches.moneyAllowed()) throw new MoneyPaused();
        const outcome = await this.call(intent, hop);
        if (outcome.status === 'processing') throw new Error('transfer outcome still uncertain');
      }
    }
    await this.notify(clientId, id);
  }

  /** Uncertain transfers for operators, oldest first; settled ones are dropped from the list on the way. */
  async listUncertain(): Promise<UncertainTransfer[]> {
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
        ageS: Math.round((this.now() - record.createdAt) / 1000),
        pastMaxAge: this.now() - record.createdAt > this.deps.resolveMaxAgeMs,
        collision: record.collision === true,
      });
    }
    if (settled.length) await this.unlist(settled).catch(() => undefined);
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  private async continueExisting(record: TransferRecord, deadlineAt: number, hop: HopContext | undefined): Promise<TransferOutcome> {
    if (record.status === 'done') return { status: 'done', ...idsOf(record) };
    if (record.status === 'failed') return { status: 'failed', code: record.code! };
    // Pending or uncertain: an earlier attempt may still be in flight or may have committed. Never send
    // again before it must have ended; the queued resolution settles it and the SMS tells the customer.
    if (this.now() - record.updatedAt > this.deps.callMaxMs + ANSWER_MARGIN_MS && deadlineAt - Date.now() > 1000) {
      try {
        await this.resolve(record.intent.from.clientId, record.intent.id, hop);
        const settled = await this.read(record.intent.from.clientId, record.intent.id);
        if (settled?.status === 'done') return { status: 'done', ...idsOf(settled) };
        if (settled?.status === 'failed') return { status: 'failed', code: settled.code! };
      } catch (error) {
        this.deps.logger.warn({ transfer: record.intent.ref, err: { type: (error as Error).name } }, 'transfer still unresolved');
      }
    }
    return { status: 'processing' };
  }

  /** A key already used for another intent (threat T24): nothing is sent for this intent under it. */
  private collision(intent: TransferIntent, reason: 'intent' | 'replayed'): TransferOutcome {
    this.collisions.inc({ reason });
    this.deps.logger.error({ transfer: intent.ref, reason }, 'idempotency key collision: not reported as success');
    return reason === 'intent' ? { status: 'failed', code: 'rejected' } : { status: 'processing' };
  }

  private async attempt(intent: TransferIntent, deadlineAt: number, options: ExecuteOptions): Promise<TransferOutcome> {
    const budget = deadlineAt - Date.now() - ANSWER_MARGIN_MS;
    if (budget <= 0) return this.handOver(intent);
    const call = this.call(intent, options.hop);
    const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), budget).unref());
    const outcome = await Promise.race([call, late]);
    if (outcome === 'late') {
      // The call goes on in the background and settles the record when it ends; the job backs it up.
      call.catch(() => undefined);
      return this.handOver(intent);
    }
    // A failure the customer reads on screen needs no SMS; one the hop gave up waiting for does.
    if (outcome.status === 'failed' && !options.signal?.aborted) await this.markShown(intent).catch(() => undefined);
    if (outcome.status !== 'processing') {
      await this.notify(intent.from.clientId, intent.id).catch((error: unknown) => {
        // The queued resolution notifies later.
        this.deps.logger.warn({ transfer: intent.ref, err: { type: (error as Error)?.name } }, 'transfer receipt not queued yet');
      });
    }
    return outcome;
  }

  private async markShown(intent: TransferIntent): Promise<void> {
    const key = this.recordKey(intent.from.clientId, intent.id);
    await withLock(this.deps.store, `${key}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.read(intent.from.clientId, intent.id);
      if (current && !current.told) await this.deps.store.set(key, JSON.stringify({ ...current, shown: true }), RECORD_TTL_MS);
    });
  }

  /**
   * One call to Fineract with the intent's idempotency key; writes the outcome it learns. Never rejects:
   * once the request may have reached Fineract, anything unknown is `processing` (the resolution settles it).
   */
  private async call(intent: TransferIntent, hop: HopContext | undefined): Promise<TransferOutcome> {
    // Counted before the request: a replayed answer to the first request ever sent with a key is a collision.
    const sent = await this.deps.store.increment(`${this.recordKey(intent.from.clientId, intent.id)}:calls`, RECORD_TTL_MS, 1);
    await this.audit(intent, 'money.attempt', {
      kind: intent.kind,
      amountMinor: intent.amountCents,
      currency: intent.currency,
      counterparty: intent.counterparty,
      fromAccountId: intent.from.accountId,
      toAccountId: intent.to.accountId,
      toType: intent.to.type,
      send: sent,
    });
    let result: { detailId: number; replayed?: boolean };
    try {
      result = await this.deps.fineract.transfer(
        {
          from: intent.from,
          to: intent.to,
          amount: toDecimal(intent.amountCents),
          description: TransferService.description(intent),
          idempotencyKey: intent.id,
          ...(intent.checked ? { checked: intent.checked } : {}),
        },
        { hop },
      );
    } catch (error) {
      const code = failureCode(error);
      // A stored failure replayed on a key never sent before is another request's answer (threat T24); it
      // still means this request did not run: nothing moved for this intent.
      if (code && isReplayedFailure(error) && sent === 1) this.collision(intent, 'replayed');
      if (code) {
        try {
          return await this.settle(intent, { status: 'failed', code }, hop);
        } catch (storeError) {
          // Refused, but not written: the resolution (a replay with the same key) settles and tells by SMS.
          this.deps.logger.warn({ transfer: intent.ref, err: { type: (storeError as Error)?.name } }, 'transfer refusal not recorded');
          return { status: 'processing' };
        }
      }
      this.deps.logger.warn({ transfer: intent.ref, err: { type: (error as Error).name } }, 'transfer outcome uncertain');
      await this.mark(intent, 'uncertain').catch(() => undefined);
      await this.audit(intent, 'money.outcome', { status: 'processing' });
      return { status: 'processing' };
    }
    if (result.replayed && sent === 1) {
      // Fineract answered from its idempotency store on a key Kiunga never sent before: another movement's answer.
      await this.mark(intent, 'uncertain', { collision: true }).catch(() => undefined);
      await this.audit(intent, 'money.outcome', { status: 'processing', collision: true });
      return this.collision(intent, 'replayed');
    }
    try {
      return await this.settle(intent, { status: 'done', detailId: result.detailId }, hop);
    } catch (storeError) {
      // Fineract moved the money: that is known. The queued resolution finds it and sends the receipt.
      this.deps.logger.warn({ transfer: intent.ref, err: { type: (storeError as Error)?.name } }, 'transfer done but not recorded yet');
      return { status: 'done', detailId: result.detailId };
    }
  }

  /** Records a money movement's attempt or outcome in the audit trail (threat T16); never the caller's failure. */
  private async audit(intent: TransferIntent, type: 'money.attempt' | 'money.outcome', facts: NonNullable<AuditEvent['data']>) {
    await this.deps.audit
      ?.record({
        type,
        actor: `customer:${intent.from.clientId}`,
        clientId: intent.from.clientId,
        msisdn: intent.msisdn,
        data: { idempotencyKey: intent.id, ref: intent.ref, ...facts },
      })
      .catch((error: unknown) => {
        this.deps.logger.warn({ transfer: intent.ref, audit: type, err: { type: (error as Error)?.name } }, 'audit entry not written');
      });
  }

  private async handOver(intent: TransferIntent): Promise<TransferOutcome> {
    await this.mark(intent, 'uncertain').catch(() => undefined);
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
  private async settle(
    intent: TransferIntent,
    outcome: ({ status: 'done' } & FineractTransferIds) | { status: 'failed'; code: FailureCode },
    hop?: HopContext,
  ): Promise<TransferOutcome> {
    const key = this.recordKey(intent.from.clientId, intent.id);
    const settled = await withLock(this.deps.store, `${key}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.read(intent.from.clientId, intent.id);
      if (current?.status === 'done') return { outcome: { status: 'done' as const, ...idsOf(current) }, current };
      if (current?.status === 'failed') return { outcome: { status: 'failed', code: current.code! } as const, current };
      const record: TransferRecord = {
        intent,
        status: outcome.status,
        ...(outcome.status === 'done' ? idsOf(outcome) : {}),
        code: outcome.status === 'failed' ? outcome.code : undefined,
        date: current?.date,
        listed: current?.listed,
        ...(current?.told ? { told: true } : {}),
        createdAt: current?.createdAt ?? this.now(),
        updatedAt: this.now(),
      };
      await this.deps.store.set(key, JSON.stringify(record), RECORD_TTL_MS);
      if (outcome.status === 'failed')
        await this.deps.store.increment(this.dailyKey(intent.from.clientId), DAILY_TTL_MS, -intent.amountCents);
      this.deps.logger.info({ transfer: intent.ref, kind: intent.kind, status: outcome.status }, 'transfer settled');
      return { outcome, current: record, written: true };
    });
    if (settled.current?.listed) await this.unlist([`${intent.from.clientId}:${intent.id}`]).catch(() => undefined);
    if ('written' in settled) {
      await this.audit(
        intent,
        'money.outcome',
        outcome.status === 'done' ? { status: 'done', ...idsOf(outcome) } : { status: 'failed', reason: outcome.code },
      );
    }
    if ('written' in settled && settled.outcome.status === 'done' && this.deps.afterDone) {
      await this.deps.afterDone(intent, hop).catch((error: unknown) => {
        this.deps.logger.warn(
          { transfer: intent.ref, err: { type: (error as Error)?.name } },
          'step-up records not updated after a transfer',
        );
      });
    }
    return settled.outcome;
  }

  private async mark(intent: TransferIntent, status: 'uncertain', flags: { collision?: boolean } = {}): Promise<void> {
    const key = this.recordKey(intent.from.clientId, intent.id);
    const marked = await withLock(this.deps.store, `${key}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.read(intent.from.clientId, intent.id);
      if (!current || current.status === 'done' || current.status === 'failed') return undefined;
      const next: TransferRecord = { ...current, ...flags, status, updatedAt: this.now() };
      await this.deps.store.set(key, JSON.stringify(next), RECORD_TTL_MS);
      return next;
    });
    if (marked) await this.list(marked);
  }

  /** Past the maximum age and not found: listed for operators, counted, and the customer told once. */
  private async unresolved(record: TransferRecord): Promise<void> {
    const { intent } = record;
    await this.list(record);
    const key = `${this.recordKey(intent.from.clientId, intent.id)}:unconfirmed`;
    if (!(await this.deps.store.setIfAbsent(key, '1', RECORD_TTL_MS))) return;
    this.pastMaxAge.inc();
    this.deps.logger.error(
      { transfer: intent.ref, ageS: Math.round((this.now() - record.createdAt) / 1000) },
      'transfer unresolved past its maximum age: not sent again, operator to check',
    );
    await this.deps.queue.add(
      SMS_JOB,
      { to: intent.msisdn, text: this.deps.receipts.senderUnconfirmed(intent), ref: intent.ref },
      { jobId: `sms-${intent.id}-u` },
    );
  }

  /** Adds a record to the operators' list of uncertain transfers (once). */
  private async list(record: TransferRecord): Promise<void> {
    if (record.listed) return;
    const { intent } = record;
    const entry = `${intent.from.clientId}:${intent.id}`;
    await withLock(this.deps.store, `${this.listKey()}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const entries = await this.readList();
      entries[entry] = record.createdAt;
      const kept = Object.entries(entries)
        .sort((a, b) => b[1] - a[1])
        .slice(0, UNCERTAIN_LIST_MAX);
      await this.deps.store.set(this.listKey(), JSON.stringify(Object.fromEntries(kept)), RECORD_TTL_MS);
    });
    const key = this.recordKey(intent.from.clientId, intent.id);
    await withLock(this.deps.store, `${key}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.read(intent.from.clientId, intent.id);
      if (current && current.status !== 'done' && current.status !== 'failed') {
        await this.deps.store.set(key, JSON.stringify({ ...current, listed: true }), RECORD_TTL_MS);
      }
    });
  }

  private async unlist(entries: string[]): Promise<void> {
    await withLock(this.deps.store, `${this.listKey()}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const current = await this.readList();
      for (const e of entries) delete current[e];
      await this.deps.store.set(this.listKey(), JSON.stringify(current), RECORD_TTL_MS);
    });
  }

  private async readList(): Promise<Record<string, number>> {
    const raw = await this.deps.store.get(this.listKey());
    return raw ? (JSON.parse(raw) as Record<string, number>) : {};
  }

  /** Queues the SMS receipts of a settled transfer, once. */
  private async notify(clientId: number, id: string): Promise<void> {
    const record = await this.read(clientId, id);
    if (!record || (record.status !== 'done' && record.status !== 'failed')) return;
    if (record.status === 'failed' && record.shown) return; // the customer read it on screen
    const key = `${this.recordKey(clientId, id)}:notified`;
    if (!(await this.deps.store.setIfAbsent(key, '1', RECORD_TTL_MS))) return;
    const { intent } = record;
    const { receipts, queue } = this.deps;
    // Job ids derive from the intent's random key: a receipt is never deduplicated against another movement's.
    try {
      if (record.status === 'done') {
        if (!intent.cash) {
          await queue.add(SMS_JOB, { to: intent.msisdn, text: receipts.senderDone(intent), ref: intent.ref }, { jobId: `sms-${id}-s` });
        }
        if (intent.recipientMsisdn) {
          await queue.add(
            SMS_JOB,
            { to: intent.recipientMsisdn, text: receipts.recipientDone(intent), ref: intent.ref },
            { jobId: `sms-${id}-r` },
          );
        }
      } else {
        // A failure settled after the customer stopped waiting (or without a screen) is told by SMS.
        await queue.add(
          SMS_JOB,
          { to: intent.msisdn, text: receipts.senderFailed(intent, record.code!), ref: intent.ref },
          { jobId: `sms-${id}-f` },
        );
      }
    } catch (error) {
      await this.deps.store.delete(key).catch(() => undefined); // the next notify (the resolution) tries again
      throw error;
    }
  }

  private async read(clientId: number, id: string): Promise<TransferRecord | undefined> {
    const raw = await this.deps.store.get(this.recordKey(clientId, id));
    return raw ? (JSON.parse(raw) as TransferRecord) : undefined;
  }

  private recordKey(clientId: number, id: string): string {
    return this.deps.keys.forCustomer(clientId, `transfer:${id}`);
  }

  private listKey(): string {
    return this.deps.keys.forSession('money', 'transfers', 'uncertain');
  }

  private dailyKey(clientId: number): string {
    return this.deps.keys.forCustomer(clientId, `daily:${this.deps.today().replaceAll('-', '')}`);
  }
}

/** Fineract's refusals that mean "nothing moved"; anything else leaves the outcome uncertain. */
export function failureCode(error: unknown): FailureCode | undefined {
  if (error instanceof OwnershipError) return 'forbidden';
  if (!(error instanceof FineractError)) return undefined;
  if (error instanceof FineractRejected) {
    // InsufficientAccountBalanceException, with or without a withdrawal fee (`...balance.withdraw`).
    if (isInsufficientFunds(error)) return 'insufficient';
    if (error.code === 'error.msg.savingsaccount.transaction.account.is.not.active') return 'inactive';
    // A write sent to a read replica did not run, and one parked for maker-checker may still run when
    // approved: neither is a failure the customer may be told about, both stay uncertain.
    if (error.code === INVALID_INSTANCE_TYPE || error.code === MAKER_CHECKER_PENDING) return undefined;
    return 'rejected';
  }
  if (error.kind === 'not-found' || error.kind === 'unauthorized') return 'rejected';
  return undefined;
}
