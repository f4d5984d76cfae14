import type { Logger } from '../logger.js';
import { HttpError, type CommandName } from './router.js';
import { RawJson, stringify } from './serialize.js';

/**
 * The sandbox's delivery of hook events, posted the way Apache Fineract's Retrofit client does it (apache/fineract
 * `infrastructure/hooks/*`, `SynchronousCommandProcessingService.publishHookEvent`); which hooks exist and match
 * an event is hooks.ts's business.
 *
 * Delivery, after each command (`publishHookEvent`, `FineractHookListener`, `WebHookProcessor`):
 * - to every active hook registered for exactly that entity and action, asynchronously, once, never retried;
 * - `POST` to the Payload URL resolved against "." (Retrofit `@POST(".")`, OkHttp `HttpUrl.resolve`): the path
 *   is kept and the query string dropped;
 * - headers `X-Fineract-Entity`, `X-Fineract-Action`, `Fineract-Platform-TenantId`, `X-Fineract-Endpoint` and
 *   `Content-Type: application/json; charset=UTF-8` (Gson converter) or a form body for `form`;
 * - body: `entityName`, `actionName`, `createdBy`, `createdByName`, `createdByFullName`, `request` (the request
 *   JSON re-read by Gson into a Map, so every number is a double: `1000` comes back as `1000.0`), then for a
 *   success `officeId`, `clientId` and `response` (the CommandProcessingResult with officeId removed), and
 *   `timestamp`. Gson drops null values.
 * - A failed command fires a hook too (`publishHookErrorEvent`). Since 1.9 the error goes in as a String, so
 *   that hook has no `status`, no `response`, no `officeId`/`clientId`; 1.8 sent `"status": "Exception"` and
 *   the error body plus `statusCode` in `response`. A maker-checker command waiting for approval is such a
 *   failure (`RollbackTransactionNotApprovedException`). A replay from the idempotency store and a request
 *   refused before the command pipeline (authorization, the loan COB lock filter) fire nothing (those are
 *   filtered out by hooks.ts `published`).
 */

/** One delivery attempt (tests and `GET /sandbox/...` diagnostics). */
export interface HookDelivery {
  hookId: number;
  url: string;
  entity: string;
  action: string;
  /** The receiver's HTTP status; absent when it could not be reached (`error`). */
  status?: number;
  error?: string;
}

/** What the server tells the hooks after a command went through the pipeline. */
export interface PublishedCommand {
  command: CommandName;
  /** Path parameters of the request (the loan COB lock applies to `/loans/{loanId}/...`). */
  params: Record<string, number>;
  /** The parsed JSON request body; a command without a body fires no hook (`command.json() != null`). */
  request: unknown;
  status: number;
  body: unknown;
  servedFromCache: boolean;
  version: '1.8' | '1.9' | '1.10';
}

export interface SandboxHooksOptions {
  tenant: string;
  /** The service user the sandbox authenticates (`createdBy*`). */
  user?: { id: number; username: string; displayName: string };
  logger?: Logger;
  /** Give up on a receiver after this long (OkHttp's default read timeout is 10 s). */
  timeoutMs?: number;
}

/** The template fields of "Web" the delivery reads. */
export const PAYLOAD_URL = 'Payload URL';
export const CONTENT_TYPE = 'Content Type';
const DELIVERY_LOG_LIMIT = 1000;

/** True for a host on this machine's loopback interface. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** Where Retrofit posts `@POST(".")` for a base URL: same path, no query, no fragment. */
export function deliveryUrl(payloadUrl: string): string {
  return new URL('.', payloadUrl).href;
}

/** Gson's rendering of a Java double (`Double.toString`): `1000.0`, `0.5`, `1.0E7`. */
export function javaDouble(n: number): RawJson {
  if (!Number.isFinite(n)) return new RawJson('null');
  const abs = Math.abs(n);
  if (abs === 0) return new RawJson(Object.is(n, -0) ? '-0.0' : '0.0');
  if (abs >= 1e-3 && abs < 1e7) return new RawJson(Number.isInteger(n) ? `${n}.0` : String(n));
  const [mantissa = '0', exponent = '0'] = n.toExponential().split('e');
  return new RawJson(`${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`);
}

/** A JSON value as Gson reads it into `Map<String, Object>`: every number a double. */
function asGsonMap(value: unknown): unknown {
  if (typeof value === 'number') return javaDouble(value);
  if (Array.isArray(value)) return value.map(asGsonMap);
  if (value && typeof value === 'object' && !(value instanceof RawJson)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asGsonMap(v)]));
  }
  return value;
}

/** `String.valueOf` of a value Gson read into a Map (what Retrofit's @FieldMap sends for `form`). */
function javaToString(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(javaToString).join(', ')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k}=${javaToString(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

/** What a delivery needs of a hook: its id and its config as registered. */
export interface HookTarget {
  id: number;
  config: Record<string, string>;
}

/** Posts events to hooks in the background and keeps the latest deliveries. */
export class HookPoster {
  readonly #inFlight = new Set<Promise<void>>();
  readonly #aborts = new Set<AbortController>();
  readonly #options: SandboxHooksOptions;
  /** `X-Fineract-Endpoint`: the API base of this sandbox, known once it listens. */
  endpoint = '';
  /** The latest deliveries, oldest first. */
  readonly deliveries: HookDelivery[] = [];

  constructor(options: SandboxHooksOptions) {
    this.#options = options;
  }

  /** Resolves once every delivery started so far has been answered or has failed. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Aborts deliveries in flight (sandbox shutdown). */
  close(): void {
    for (const a of this.#aborts) a.abort();
  }

  /** Posts one command's event to each of `hooks` (already matched to it), in the background. */
  post(hooks: HookTarget[], p: PublishedCommand, body: Record<string, unknown>): void {
    const payload = this.#payload(p, body);
    for (const hook of hooks) this.#deliver(hook, p.command, payload);
  }

  #payload(p: PublishedCommand, body: Record<string, unknown>): Record<string, unknown> {
    const user = this.#options.user ?? { id: 1, username: 'mifos', displayName: 'App Administrator' };
    const payload: Record<string, unknown> = {
      entityName: p.command.entity,
      actionName: p.command.action,
      createdBy: user.id,
      createdByName: user.username,
      createdByFullName: user.displayName,
      request: asGsonMap(p.request),
    };
    const succeeded = p.status >= 200 && p.status < 300 && body.rollbackTransaction !== true;
    if (succeeded) {
      const { officeId, rollbackTransaction: _rollback, ...response } = body;
      payload.officeId = officeId;
      payload.clientId = body.clientId;
      payload.response = response;
    } else if (p.version === '1.8') {
      payload.status = 'Exception';
      payload.response = { ...body, statusCode: p.status };
    }
    payload.timestamp = new Date().toISOString();
    return payload;
  }

  #deliver(hook: HookTarget, command: CommandName, payload: Record<string, unknown>): void {
    const payloadUrl = Object.entries(hook.config).find(([k]) => k === PAYLOAD_URL)?.[1] ?? '';
    const contentType = Object.entries(hook.config).find(([k]) => k === CONTENT_TYPE)?.[1] ?? '';
    const record: HookDelivery = { hookId: hook.id, url: '', entity: command.entity, action: command.action };
    this.deliveries.push(record);
    if (this.deliveries.length > DELIVERY_LOG_LIMIT) this.deliveries.shift();
    let url: string;
    try {
      retrofitBaseUrl(payloadUrl);
      url = deliveryUrl(payloadUrl);
      if (!isLoopbackHost(new URL(url).hostname)) throw new Error('not a loopback address');
    } catch (err) {
      record.error = (err as Error).message;
      this.#options.logger?.warn({ hookId: hook.id, err: record.error }, 'sandbox hook not delivered');
      return;
    }
    record.url = url;
    const json = contentType.toLowerCase().includes('json');
    const headers: Record<string, string> = {
      'X-Fineract-Entity': command.entity,
      'X-Fineract-Action': command.action,
      'Fineract-Platform-TenantId': this.#options.tenant,
      'X-Fineract-Endpoint': this.endpoint,
      'Content-Type': json ? 'application/json; charset=UTF-8' : 'application/x-www-form-urlencoded',
      'User-Agent': 'okhttp/4.12.0',
    };
    const text = json
      ? stringify(payload)
      : new URLSearchParams(
          Object.entries(payload)
            .filter(([, v]) => v !== null && v !== undefined)
            .map(([k, v]) => [k, javaToString(v)]),
        ).toString();
    const abort = new AbortController();
    this.#aborts.add(abort);
    const timer = setTimeout(() => abort.abort(), this.#options.timeoutMs ?? 10_000);
    const done = fetch(url, { method: 'POST', headers, body: text, signal: abort.signal, redirect: 'manual' })
      .then(async (res) => {
        record.status = res.status;
        await res.arrayBuffer().catch(() => undefined);
      })
      .catch((err: unknown) => {
        // ProcessorHelper.createCallback: the failure is logged, never retried.
        record.error = (err as Error)?.message ?? String(err);
      })
      .finally(() => {
        clearTimeout(timer);
        this.#aborts.delete(abort);
        this.#inFlight.delete(done);
      });
    this.#inFlight.add(done);
  }
}

/** Retrofit.Builder.baseUrl(String): HttpUrl.get, then the trailing-slash rule; both throw IllegalArgumentException. */
export function retrofitBaseUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HttpError(500, { Exception: `Expected URL scheme 'http' or 'https' but no scheme was found for ${url.slice(0, 40)}` });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HttpError(500, { Exception: `Expected URL scheme 'http' or 'https' but was '${parsed.protocol.replace(/:$/, '')}'` });
  }
  if (!parsed.pathname.endsWith('/')) throw new HttpError(500, { Exception: `baseUrl must end in /: ${url}` });
}
