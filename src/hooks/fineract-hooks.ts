import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from 'pino';
import { maskMsisdn } from '../logger.js';
import type { JobQueue } from '../jobs/queue.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { FineractClient } from '../fineract/types.js';
import { FineractNotFound, OwnershipError } from '../fineract/errors.js';
import type { Translator } from '../text/i18n.js';
import { toGsm } from '../text/gsm.js';
import { timingSafeEqualStr } from '../security/secrets.js';
import { HOOK_JOB, LOAN_HOOK_ACTIONS, LOAN_HOOK_JOB, SMS_JOB, type Jobs } from '../jobs/catalogue.js';

/**
 * Fineract hooks (the "Web" template) → SMS alerts to the account owner, and loan status changes mirrored to the
 * loan applications they belong to (issue 12).
 *
 * How Fineract delivers (apache/fineract `ProcessorHelper.createWebHookService`, `WebHookService`): it builds a
 * Retrofit client with `baseUrl(<Payload URL>)` and posts with `@POST(".")`. Retrofit refuses a base URL whose
 * path does not end in `/` (so registering such a hook fails), and resolving "." against the base keeps the
 * path and drops the query string. A secret in `?key=` therefore never arrives; the secret is a path segment:
 * the Payload URL is `https://<host>/hooks/fineract/<FINERACT_HOOK_SECRET>/`.
 *
 * Fineract signs nothing and never retries, so (threat T20):
 * - **Authenticity** is only the secret in the URL: `POST /hooks/fineract/<secret>/` (the trailing slash is
 *   what Fineract sends; without it is accepted too), compared in constant time. `POST /hooks/fineract?key=`
 *   stays as a fallback for a proxy that rewrites the path into a query. Anything else is 403 before the body
 *   is looked at; nothing is stored or queued. No secret configured: every hook is 403. The path holds the
 *   secret, so Kiunga never logs it: request logs go through `maskHookPath`, metrics use the route pattern.
 * - **The payload is a hint, never the truth.** Only the event's identity is taken from it (action, savings
 *   account id, transaction id, the client id it claims); the job re-reads the account with its
 *   transactions from Fineract, checks the account belongs to the claimed client, finds the transaction
 *   (which must exist, not be reversed, and go the claimed way), reads the owner's mobile number from the
 *   client record, and writes the alert from what Fineract says: amount, account number, balance.
 * - **Once per event.** The job's id is derived from the event identity (action + savings account + transaction
 *   id), so racing deliveries queue it once, and the identity is claimed in Redis with SET NX for 7 days once
 *   the job is queued (queued first: Fineract never redelivers, so a claim without its job would lose the
 *   alert); a second delivery answers `duplicate` and does nothing.
 * - **Fast answer.** The route only validates, claims and queues (200); the work is the `fineract-hook` job,
 *   delayed by a second because Fineract may deliver before its write is visible, and retried while the
 *   transaction is not there yet. Malformed bodies get 4xx; events other than savings deposits and
 *   withdrawals and the loan status changes below, and other tenants, get 200 `ignored`. Never 5xx: an internal failure is logged and answered
 *   200 `not processed` (Fineract would not retry anyway).
 * - **Loan status changes** (`LOAN` `APPROVE`, `APPROVALUNDO`, `DISBURSE`, `DISBURSETOSAVINGS`, `DISBURSALUNDO`,
 *   `REJECT`, `WITHDRAW`) are a hint too: only the action and the loan id are taken (`response.loanId`, which must
 *   agree with `response.resourceId`), claimed once (action + loan + the payload's timestamp, so a later undo and
 *   redo of the same action is a new event), and the `fineract-loan-hook` job (src/origination/loan-hook-job.ts)
 *   re-reads the loan and mirrors the application whose id is the loan's external id, with the same code as the
 *   status poll: one SMS per change whichever sees it first. A loan that is no Kiunga application changes nothing.
 * - **Failed commands fire hooks too** (`SynchronousCommandProcessingService.publishHookErrorEvent`): up to
 *   1.8 with `"status": "Exception"` and an error `response`; since 1.9 the error is passed as a String, so the
 *   hook carries neither `status` nor `response` (nor `clientId`). A success hook always has `response` (the
 *   CommandProcessingResult minus officeId). Both kinds of failure hook are answered 200 `ignored` and logged
 *   at debug only: they are normal traffic, not an attack or a misconfiguration.
 */

export const HOOK_DEDUPE_TTL_MS = 7 * 24 * 3600 * 1000;
/** Delay before the re-read: Fineract may deliver a hook before its transaction is committed. */
export const HOOK_DELAY_MS = 1000;

/**
 * What the job receives: the event's identity only (`fineract-hook` in the job catalogue). `clientId` is the
 * one the payload claims, checked against the account re-read from Fineract.
 */
export type HookEvent = Jobs[typeof HOOK_JOB];
export type HookAction = HookEvent['action'];

/** The Redis key that makes one event alert once. */
export function hookEventKey(keys: Keys, e: Pick<HookEvent, 'action' | 'savingsId' | 'transactionId'>): string {
  return keys.forSession('fineract-hook', `savings-${e.savingsId}`, `${e.action.toLowerCase()}:${e.transactionId}`);
}

/** What the `fineract-loan-hook` job receives: the action and the loan id. */
export type LoanHookEvent = Jobs[typeof LOAN_HOOK_JOB];

/**
 * The Redis key that makes one loan event count once. Fineract's payload has no id of the command, so its
 * timestamp (`Instant.now()` when the hook was built) tells a redelivery from the same action done again.
 */
export function loanHookEventKey(keys: Keys, e: LoanHookEvent, timestamp?: string): string {
  return keys.forSession('fineract-hook', `loan-${e.loanId}`, `${e.action.toLowerCase()}:${digits(timestamp)}`);
}

/** The timestamp's digits: key names and BullMQ job ids take neither `:` nor `.`. */
const digits = (timestamp?: string) => timestamp?.replace(/\D/g, '') ?? 'none';

/** `Instant.toString()`: what Fineract writes in `timestamp`. Anything else is not used in the key. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?Z$/;
const isLoanAction = (action: string): action is LoanHookEvent['action'] => (LOAN_HOOK_ACTIONS as readonly string[]).includes(action);

const Id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const Payload = z.object({
  entityName: z.string().max(64).optional(),
  actionName: z.string().max(64).optional(),
  status: z.string().max(64).optional(),
  clientId: Id.optional(),
  timestamp: z.string().max(64).optional(),
  response: z
    .object({
      clientId: Id.optional(),
      savingsId: Id.optional(),
      loanId: Id.optional(),
      resourceId: Id.optional(),
    })
    .optional(),
});

export interface FineractHooksOptions {
  /** FINERACT_HOOK_SECRET; undefined refuses every hook. */
  secret: string | undefined;
  /** FINERACT_TENANT: hooks of another tenant are ignored. */
  tenant: string;
  store: KeyValueStore;
  keys: Keys;
  queue: JobQueue;
  logger: Logger;
}

type Verdict =
  | { status: 400 | 415; error: string }
  | { status: 200; ignored: string; quiet?: boolean }
  | { status: 200; event: HookEvent }
  | { status: 200; loan: LoanHookEvent; timestamp?: string };

/** Reads a hook request; pure (no side effect). */
export function readHook(req: Pick<Request, 'get' | 'is' | 'body'>, tenant: string): Verdict {
  if (!req.is('application/json')) return { status: 415, error: 'hooks must be JSON (Content Type "json" in the hook config)' };
  const parsed = Payload.safeParse(req.body);
  if (!parsed.success) return { status: 400, error: 'malformed hook payload' };
  const body = parsed.data;
  const header = (name: string) => (req.get(`x-fineract-${name}`) ?? req.get(`x-mifos-${name}`))?.trim().toUpperCase();
  const entity = header('entity') ?? body.entityName?.toUpperCase();
  const action = header('action') ?? body.actionName?.toUpperCase();
  if (!entity || !action) return { status: 400, error: 'missing entity or action' };
  if ((body.entityName && body.entityName.toUpperCase() !== entity) || (body.actionName && body.actionName.toUpperCase() !== action)) {
    return { status: 400, error: 'headers and payload disagree' };
  }
  const hookTenant = req.get('fineract-platform-tenantid') ?? req.get('x-mifos-platform-tenantid');
  if (hookTenant !== undefined && hookTenant !== tenant) return { status: 200, ignored: 'another tenant' };
  // A failed command: 1.8 says so in `status`; 1.9+ sends no `status` and no `response` at all.
  if (body.status !== undefined && body.status.toLowerCase() === 'exception')
    return { status: 200, ignored: 'failed command', quiet: true };
  if (body.response === undefined) return { status: 200, ignored: 'failed command', quiet: true };
  if (entity === 'LOAN' && isLoanAction(action)) {
    const { loanId, resourceId } = body.response;
    if (loanId === undefined) return { status: 400, error: 'missing response.loanId' };
    if (resourceId !== undefined && resourceId !== loanId)
      return { status: 400, error: 'response.loanId and response.resourceId disagree' };
    const timestamp = body.timestamp !== undefined && INSTANT.test(body.timestamp) ? body.timestamp : undefined;
    return { status: 200, loan: { action, loanId }, ...(timestamp ? { timestamp } : {}) };
  }
  if (entity !== 'SAVINGSACCOUNT' || (action !== 'DEPOSIT' && action !== 'WITHDRAWAL'))
    return { status: 200, ignored: 'event not handled' };
  const r = body.response;
  if (!r?.savingsId || !r.resourceId) return { status: 400, error: 'missing response.savingsId or response.resourceId' };
  if (r.clientId !== undefined && body.clientId !== undefined && r.clientId !== body.clientId) {
    return { status: 400, error: 'clientId and response.clientId disagree' };
  }
  const clientId = r.clientId ?? body.clientId;
  if (clientId === undefined) return { status: 400, error: 'missing clientId' };
  return { status: 200, event: { action, clientId, savingsId: r.savingsId, transactionId: r.resourceId } };
}

export function fineractHooksRouter(options: FineractHooksOptions): Router {
  const { secret, tenant, store, keys, queue } = options;
  const log = options.logger.child({ component: 'fineract-hooks' });
  const router = Router();
  let warnedNoSecret = false;

  /**
   * Queues an event's job once and claims the event (SET NX for 7 days); answers `accepted`, `duplicate` or,
   * when the queue fails, `not processed`. The job comes first: Fineract never delivers a hook again, so a
   * claim written before a job that never got queued (the process dying between the two, the store failing)
   * would lose the alert for good. The job's id is derived from the event, so deliveries racing each other
   * queue it once; the claim, which outlives the job, answers `duplicate` to a delivery after it.
   */
  const claimAndQueue = async (
    res: Response,
    ids: Record<string, string | number>,
    dedupe: () => string,
    add: (jobOptions: { delayMs: number; attempts: number; backoffMs: number }) => Promise<unknown>,
  ) => {
    const duplicate = () => {
      log.info(ids, 'Fineract hook already seen');
      res.json({ status: 'duplicate' });
    };
    let key: string;
    try {
      key = dedupe();
      // A store that cannot answer does not stop the alert: the job id still keeps it to one.
      if ((await store.get(key).catch(() => null)) !== null) return duplicate();
      await add({ delayMs: HOOK_DELAY_MS, attempts: 6, backoffMs: 1000 });
    } catch (err) {
      log.error({ err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'Fineract hook not processed');
      res.json({ status: 'not processed' });
      return;
    }
    let first = true;
    try {
      first = await store.setIfAbsent(key, '1', HOOK_DEDUPE_TTL_MS);
    } catch (err) {
      // The job is queued; only a redelivery after it ran could alert again, and Fineract does not redeliver.
      log.warn(
        { ...ids, err: { type: (err as Error)?.name, message: (err as Error)?.message } },
        'Fineract hook queued, its claim not written',
      );
    }
    if (!first) return duplicate();
    log.info(ids, 'Fineract hook accepted');
    res.json({ status: 'accepted' });
  };

  const handle = async (req: Request, res: Response) => {
    // The path segment (what Fineract sends); `?key=` only as a fallback for a proxy that moved it there.
    const fromPath = typeof req.params.secret === 'string' ? req.params.secret : undefined;
    const given = fromPath ?? (typeof req.query.key === 'string' ? req.query.key : '');
    if (!secret || !timingSafeEqualStr(given, secret)) {
      if (!secret && !warnedNoSecret) {
        warnedNoSecret = true;
        log.warn('a Fineract hook arrived but FINERACT_HOOK_SECRET is not set: every hook is refused');
      }
      log.warn({ reason: given ? 'wrong key' : 'no key' }, 'Fineract hook refused');
      res.status(403).type('text/plain').send('forbidden');
      return;
    }
    const verdict = readHook(req, tenant);
    if ('error' in verdict) {
      log.warn({ status: verdict.status, reason: verdict.error }, 'Fineract hook rejected');
      res.status(verdict.status).json({ error: verdict.error });
      return;
    }
    if ('ignored' in verdict) {
      if (verdict.quiet) log.debug({ reason: verdict.ignored }, 'Fineract hook ignored');
      else log.info({ reason: verdict.ignored }, 'Fineract hook ignored');
      res.json({ status: 'ignored', reason: verdict.ignored });
      return;
    }
    if ('loan' in verdict) {
      const { loan, timestamp } = verdict;
      await claimAndQueue(
        res,
        { action: loan.action, loanId: loan.loanId },
        () => loanHookEventKey(keys, loan, timestamp),
        (o) =>
          queue.add(
            LOAN_HOOK_JOB,
            { ...loan },
            { jobId: `hook-loan-${loan.action.toLowerCase()}-${loan.loanId}-${digits(timestamp)}`, ...o },
          ),
      );
      return;
    }
    const { event } = verdict;
    await claimAndQueue(
      res,
      { action: event.action, savingsId: event.savingsId, transactionId: event.transactionId },
      () => hookEventKey(keys, event),
      (o) =>
        queue.add(HOOK_JOB, { ...event }, { jobId: `hook-${event.action.toLowerCase()}-${event.savingsId}-${event.transactionId}`, ...o }),
    );
  };

  router.post(HOOK_ROUTE, handle);
  router.post('/hooks/fineract', handle);
  return router;
}

/** The hook route; Express matches it with or without the trailing slash Fineract sends. */
export const HOOK_ROUTE = '/hooks/fineract/:secret';

/** A request path safe to log: the hook secret in `/hooks/fineract/<secret>/` is replaced. */
export function maskHookPath(path: string): string {
  return path.replace(/^(\/hooks\/fineract\/)[^/]+/i, '$1[redacted]');
}

export interface HookJobOptions {
  fineract: FineractClient;
  store: KeyValueStore;
  keys: Keys;
  translator: Translator;
  defaultLanguage: string;
  queue: JobQueue;
  logger: Logger;
}

/** Not an error worth a stack: the transaction is not visible yet; the queue tries again with backoff. */
export class TransactionNotVisible extends Error {
  constructor() {
    super('transaction not visible in Fineract yet');
    this.name = 'TransactionNotVisible';
  }
}

/** Registers the `fineract-hook` job: re-read, check, and queue the alert SMS. */
export function registerHookJob(options: HookJobOptions): void {
  const { fineract, store, keys, translator, queue } = options;
  const log = options.logger.child({ component: 'fineract-hooks' });

  queue.handle(HOOK_JOB, async (data) => {
    const event: HookEvent = data;
    const ids = { action: event.action, savingsId: event.savingsId, transactionId: event.transactionId };
    let account;
    try {
      account = await fineract.getOwnedSavingsAccount(Number(event.clientId), Number(event.savingsId), { transactions: true });
    } catch (err) {
      if (err instanceof OwnershipError) {
        log.warn(ids, 'Fineract hook names a client who does not own the account: no alert');
        return;
      }
      if (err instanceof FineractNotFound) {
        log.warn(ids, 'Fineract hook names an unknown savings account: no alert');
        return;
      }
      throw err; // Fineract unavailable: retried
    }
    const txn = account.transactions?.find((t) => t.id === Number(event.transactionId));
    if (!txn) throw new TransactionNotVisible(); // not committed yet, or reversed: retried, then given up
    const deposit = event.action === 'DEPOSIT';
    if (txn.credit !== deposit) {
      log.warn({ ...ids, type: txn.type }, 'Fineract hook action does not match the transaction: no alert');
      return;
    }
    // A product the channels do not show (the catalogue's hidden ones, issue 12) is not announced by SMS either:
    // the account list is the one place that decides what a customer sees.
    const listed = (await fineract.listAccounts(account.clientId)).savings.some((s) => s.id === account.id);
    if (!listed) {
      log.info(ids, 'account of a product not shown on channels: no alert');
      return;
    }
    const owner = await fineract.getClient(account.clientId);
    if (!owner.msisdn) {
      log.info(ids, 'account owner has no usable mobile number: no alert');
      return;
    }
    const stored = await store.get(keys.language(owner.msisdn)).catch(() => null);
    const lang = stored && translator.languages.includes(stored) ? stored : options.defaultLanguage;
    const money = (amount: number) => translator.formatAmount(lang, amount, account.currency, account.decimalPlaces);
    const text = toGsm(
      translator.t(lang, deposit ? 'sms.alert.deposit' : 'sms.alert.withdrawal', {
        amount: money(txn.amount),
        account: account.accountNo,
        balance: money(txn.runningBalance ?? account.accountBalance),
      }),
    );
    const action = event.action.toLowerCase();
    await queue.add(
      SMS_JOB,
      { to: owner.msisdn, text, ref: `${action}-${account.id}-${txn.id}` },
      { jobId: `sms-hook-${action}-${account.id}-${txn.id}` },
    );
    log.info({ ...ids, to: maskMsisdn(owner.msisdn) }, 'account alert queued');
  });
}
