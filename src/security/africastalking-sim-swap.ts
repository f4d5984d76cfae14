import { createRequire } from 'node:module';
import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { maskMsisdn } from '../logger.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import { requireCallbackKey } from '../channels/africastalking-common.js';
import { SimSwapUnavailable, type SimSwapCheck } from './sim-swap.js';
import { withTimeout } from '../time.js';

/**
 * Africa's Talking Insights SIM-swap check (threat T4), through the `africastalking` SDK (0.8.3,
 * `lib/insights.js`): `INSIGHTS.checkSimSwapState([number])` posts `{username, phoneNumbers}` as JSON with the
 * `apiKey` header to `${Common.INSIGHTS_URL}/v1/sim-swap` and resolves only when the answer's `status` is
 * `Processed` (rejects with the body otherwise, with an axios error on 4xx/5xx or no answer, and with an
 * Error when its own number validation fails).
 *
 * AT answers **asynchronously**: the immediate answer only queues the check (`responses[0].status: "Queued"`
 * and a `requestId`); the result is POSTed later to the SIM-swap callback URL configured in the AT dashboard,
 * `POST /channels/africastalking/sim-swap?key=<AT_CALLBACK_KEY>`, as `{status: "Swapped" | "NotSwapped" | ...,
 * lastSimSwapDate: "DD-MM-YYYY" ("01-01-1900": never), requestId, transactionId, providerRefId}`. So a check:
 *
 * 1. uses a stored answer for the number when one is younger than SIM_SWAP_CACHE_S (each check is billed);
 * 2. otherwise asks AT (one request per number at a time, shared by every process through Redis) and waits up to
 *    SIM_SWAP_WAIT_MS for the callback to store the answer;
 * 3. fails closed: an SDK error, a status other than Queued (UnsupportedPhoneNumber, InsufficientCredit, ...),
 *    no answer within the wait, or an answer other than Swapped/NotSwapped rejects with `SimSwapUnavailable`.
 *    The customer is asked to try again shortly; by then the callback has usually stored the answer.
 *
 * A number counts as recently swapped when its last SIM change is within SIM_SWAP_MAX_AGE_DAYS, or when AT says
 * "Swapped" without a readable date. The callback needs AT_CALLBACK_KEY (AT signs nothing; a forged
 * "NotSwapped" must not get through), and only answers to a request Kiunga made are stored.
 */

export interface AtInsightsApi {
  checkSimSwapState(phoneNumbers: string[]): Promise<unknown>;
}

export interface AtInsightsOptions {
  username: string;
  apiKey: string;
  /** Another Insights base URL than `https://insights.africastalking.com` (tests: a loopback fake). Process-wide. */
  insightsUrl?: string;
}

const require = createRequire(import.meta.url);

/** The SDK's Insights client, with only `checkSimSwapState` exposed. */
export function createAtInsights(options: AtInsightsOptions): AtInsightsApi {
  const factory = require('africastalking') as (opts: { username: string; apiKey: string }) => {
    INSIGHTS: { checkSimSwapState(phoneNumbers: string[]): Promise<unknown> };
  };
  const at = factory({ username: options.username, apiKey: options.apiKey });
  if (options.insightsUrl) {
    // After construction: a `sandbox` username resets the SDK's URLs while constructing.
    const common = require('africastalking/lib/common') as { INSIGHTS_URL: string };
    common.INSIGHTS_URL = options.insightsUrl.replace(/\/+$/, '');
  }
  return { checkSimSwapState: (numbers) => at.INSIGHTS.checkSimSwapState(numbers) };
}

/** What is stored per number: the verdict, and when AT last saw a SIM change (yyyy-mm-dd) if it said. */
interface StoredAnswer {
  verdict: 'swapped' | 'clear' | 'unknown';
  lastSwap?: string;
  at: number;
}

export interface AfricasTalkingSimSwapOptions {
  api: AtInsightsApi;
  store: KeyValueStore;
  keys: Keys;
  logger: Logger;
  maxAgeDays: number;
  waitMs: number;
  cacheS: number;
  /** Poll interval while waiting for the callback. */
  pollMs?: number;
  now?: () => number;
}

const PENDING_TTL_MS = 60_000;
const REQUEST_TTL_MS = 15 * 60_000;
/** An answer AT could not give ("Failed") is kept only briefly, so a retry asks again. */
const UNKNOWN_TTL_MS = 60_000;

/** `DD-MM-YYYY` as AT writes `lastSimSwapDate`; undefined for anything else or AT's "never" (01-01-1900). */
export function parseAtDate(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{2})-(\d{2})-(\d{4})$/.exec(value.trim());
  if (!m) return undefined;
  const [, dd, mm, yyyy] = m;
  const iso = `${yyyy}-${mm}-${dd}`;
  const date = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== iso || Number(yyyy) <= 1900) return undefined;
  return iso;
}

export class AfricasTalkingSimSwap implements SimSwapCheck {
  readonly #o: AfricasTalkingSimSwapOptions;
  readonly #log: Logger;

  constructor(options: AfricasTalkingSimSwapOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'sim-swap' });
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  resultKey(msisdn: string): string {
    return this.#o.keys.forMsisdn(msisdn, 'sim-swap');
  }

  requestKey(requestId: string): string {
    return this.#o.keys.forSession('sim-swap', requestId, 'request');
  }

  async recentlySwapped(msisdn: string): Promise<boolean> {
    const { store } = this.#o;
    const started = this.#now();
    const stored = await this.#stored(msisdn);
    if (stored) return this.#decide(msisdn, stored);

    // One request per number at a time, across processes; a concurrent check waits for the same answer.
    const pendingKey = this.#o.keys.forMsisdn(msisdn, 'sim-swap:pending');
    if (await store.setIfAbsent(pendingKey, '1', PENDING_TTL_MS)) {
      let answer: unknown;
      try {
        answer = await withTimeout(this.#o.api.checkSimSwapState([msisdn]), this.#o.waitMs);
      } catch (err) {
        await store.delete(pendingKey).catch(() => undefined);
        this.#log.warn({ to: maskMsisdn(msisdn), reason: describe(err) }, 'SIM-swap check failed: money-out refused');
        throw new SimSwapUnavailable('provider error');
      }
      const first = (answer as { responses?: { requestId?: unknown; status?: unknown }[] })?.responses?.[0];
      if (typeof first?.requestId !== 'string' || first.status !== 'Queued') {
        await store.delete(pendingKey).catch(() => undefined);
        const status = typeof first?.status === 'string' ? first.status.slice(0, 40) : 'no status';
        this.#log.warn({ to: maskMsisdn(msisdn), status }, 'SIM-swap check not accepted by the provider: money-out refused');
        throw new SimSwapUnavailable(`provider answered ${status}`);
      }
      await store.set(this.requestKey(first.requestId), msisdn, REQUEST_TTL_MS);
    }

    const deadline = started + this.#o.waitMs;
    const pollMs = this.#o.pollMs ?? 100;
    while (this.#now() < deadline) {
      await sleep(Math.min(pollMs, Math.max(1, deadline - this.#now())));
      const answer = await this.#stored(msisdn);
      if (answer) return this.#decide(msisdn, answer);
    }
    this.#log.info({ to: maskMsisdn(msisdn) }, 'SIM-swap answer not in yet: money-out refused for now');
    throw new SimSwapUnavailable('no answer yet');
  }

  async #stored(msisdn: string): Promise<StoredAnswer | undefined> {
    const raw = await this.#o.store.get(this.resultKey(msisdn));
    if (!raw) return undefined;
    try {
      const answer = JSON.parse(raw) as StoredAnswer;
      return this.#now() - answer.at <= this.#o.cacheS * 1000 ? answer : undefined;
    } catch {
      return undefined;
    }
  }

  #decide(msisdn: string, answer: StoredAnswer): boolean {
    if (answer.verdict === 'unknown') throw new SimSwapUnavailable('provider could not tell');
    if (answer.verdict === 'swapped')
      this.#log.warn({ to: maskMsisdn(msisdn), lastSwap: answer.lastSwap }, 'recent SIM swap: money-out refused');
    return answer.verdict === 'swapped';
  }

  /** Stores AT's answer to a request Kiunga made; false when the request id is unknown. */
  async recordCallback(body: { status?: unknown; lastSimSwapDate?: unknown; requestId?: unknown }): Promise<boolean> {
    if (typeof body.requestId !== 'string' || body.requestId.length > 200) return false;
    const { store } = this.#o;
    const msisdn = await store.get(this.requestKey(body.requestId));
    if (!msisdn) return false;
    const lastSwap = parseAtDate(body.lastSimSwapDate);
    const recent = lastSwap !== undefined && this.#now() - Date.parse(`${lastSwap}T00:00:00Z`) <= this.#o.maxAgeDays * 86_400_000;
    let verdict: StoredAnswer['verdict'];
    if (body.status === 'Swapped') verdict = lastSwap === undefined || recent ? 'swapped' : 'clear';
    else if (body.status === 'NotSwapped') verdict = recent ? 'swapped' : 'clear';
    else verdict = 'unknown';
    const answer: StoredAnswer = { verdict, ...(lastSwap ? { lastSwap } : {}), at: this.#now() };
    const ttl = verdict === 'unknown' ? UNKNOWN_TTL_MS : Math.max(this.#o.cacheS * 1000, PENDING_TTL_MS);
    await store.set(this.resultKey(msisdn), JSON.stringify(answer), ttl);
    await store.delete(this.requestKey(body.requestId)).catch(() => undefined);
    await store.delete(this.#o.keys.forMsisdn(msisdn, 'sim-swap:pending')).catch(() => undefined);
    return true;
  }
}

/** `POST /channels/africastalking/sim-swap?key=<AT_CALLBACK_KEY>`: AT's SIM-swap answers (JSON or form). */
export function simSwapCallbackRouter(options: { check: AfricasTalkingSimSwap; callbackKey: string | undefined; logger: Logger }): Router {
  const router = Router();
  const log = options.logger.child({ component: 'sim-swap' });
  router.post('/channels/africastalking/sim-swap', requireCallbackKey(options.callbackKey), async (req: Request, res: Response) => {
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    try {
      const known = await options.check.recordCallback(body);
      if (!known) log.info('SIM-swap callback for an unknown request: ignored');
      res.json({ status: known ? 'recorded' : 'ignored' });
    } catch (err) {
      log.error({ err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'SIM-swap callback not recorded');
      res.status(503).json({ status: 'not recorded' });
    }
  });
  return router;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const status = (err as { response?: { status?: number } }).response?.status;
    return status ? `HTTP ${status}` : err.message.slice(0, 120);
  }
  if (err && typeof err === 'object' && 'status' in err) return `status ${String((err as { status: unknown }).status).slice(0, 40)}`;
  return String(err).slice(0, 120);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
