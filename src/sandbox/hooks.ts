import type { Logger } from '../logger.js';
import { HttpError, ok, type CommandName, type Route } from './router.js';
import { fineractError, notFoundBody, paramError, RawJson, stringify, validationBody } from './serialize.js';

/**
 * The sandbox's hooks, registered and delivered the way Apache Fineract does it (apache/fineract
 * `infrastructure/hooks/*`, `SynchronousCommandProcessingService.publishHookEvent`), so that Kiunga's hook
 * receiver is tested against what Fineract really sends.
 *
 * Registration, `POST /hooks` (command CREATE / HOOK, `HookWritePlatformServiceJpaRepositoryImpl.createHook`):
 * - `name` is the template ("Web"; the only one the sandbox delivers), `displayName` the hook's own name,
 *   `isActive` defaults to false (`Hook.fromJson`), `events` is `[{entityName, actionName}]`, `config` maps the
 *   template's fields: "Payload URL" and "Content Type" (`json` or `form`).
 * - The Payload URL goes through Retrofit's `baseUrl()`: a URL that is not http(s) or whose path does not end in
 *   `/` throws IllegalArgumentException, which nothing catches, so Fineract answers **500**
 *   `{"Exception": "baseUrl must end in /: <url>"}` (square/retrofit `Retrofit.Builder.baseUrl`).
 * - Fineract then probes the URL with a GET; the sandbox does not (its handlers are synchronous). Instead it
 *   refuses a Payload URL that is not on the loopback interface (400 `validation.msg.hook.url.invalid`, what
 *   Fineract answers when its probe cannot connect): the sandbox never posts anywhere but this machine.
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
 *   refused before the command pipeline (authorization, the loan COB lock filter) fire nothing.
 */

export interface HookEventName {
  entityName: string;
  actionName: string;
}

export interface SandboxHook {
  id: number;
  /** The template's name ("Web"). */
  templateName: string;
  /** `displayName`, else the template's name. */
  name: string;
  isActive: boolean;
  events: HookEventName[];
  /** The config as registered, keys as sent. */
  config: Record<string, string>;
}

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

const WEB_TEMPLATE = 'Web';
const PAYLOAD_URL = 'Payload URL';
const CONTENT_TYPE = 'Content Type';
/** The template fields of "Web" (both mandatory). */
const WEB_FIELDS = [PAYLOAD_URL, CONTENT_TYPE];
/** Templates Fineract ships; only "Web" is delivered by the sandbox. */
const TEMPLATES = [WEB_TEMPLATE, 'SMS Bridge', 'Elastic Search', 'Message Gateway'];
/** HookCommandFromApiJsonDeserializer's supported parameters. */
const SUPPORTED = new Set(['name', 'displayName', 'isActive', 'events', 'config', 'templateId']);
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

const hookValidation = (code: string, message: string) => paramError(`validation.msg.hook.${code}`, message, 'id');

export class SandboxHooks {
  readonly #hooks = new Map<number, SandboxHook>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #aborts = new Set<AbortController>();
  readonly #options: SandboxHooksOptions;
  #nextId = 1;
  /** `X-Fineract-Endpoint`: the API base of this sandbox, known once it listens. */
  endpoint = '';
  /** The latest deliveries, oldest first. */
  readonly deliveries: HookDelivery[] = [];

  constructor(options: SandboxHooksOptions) {
    this.#options = options;
  }

  /** `/hooks` routes for the sandbox router. */
  get routes(): Route[] {
    return [
      {
        method: 'POST',
        pattern: '/hooks',
        command: () => ({ action: 'CREATE', entity: 'HOOK' }),
        handler: ({ body }) => ok({ resourceId: this.register(body).id }),
      },
      { method: 'GET', pattern: '/hooks', permission: 'READ_HOOK', handler: () => ok([...this.#hooks.values()].map(hookData)) },
      {
        method: 'GET',
        pattern: '/hooks/{hookId}',
        permission: 'READ_HOOK',
        handler: ({ params }) => ok(hookData(this.#require(params.hookId as number))),
      },
      {
        method: 'DELETE',
        pattern: '/hooks/{hookId}',
        command: () => ({ action: 'DELETE', entity: 'HOOK' }),
        handler: ({ params }) => {
          const hook = this.#require(params.hookId as number);
          this.#hooks.delete(hook.id);
          return ok({ resourceId: hook.id });
        },
      },
    ];
  }

  list(): SandboxHook[] {
    return [...this.#hooks.values()];
  }

  /** Forgets every hook and delivery (test isolation). */
  clear(): void {
    this.#hooks.clear();
    this.deliveries.length = 0;
  }

  /** Resolves once every delivery started so far has been answered or has failed. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Aborts deliveries in flight (sandbox shutdown). */
  close(): void {
    for (const a of this.#aborts) a.abort();
  }

  /** Validates and stores a hook as `HookWritePlatformServiceJpaRepositoryImpl.createHook` does. */
  register(body: unknown): SandboxHook {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new HttpError(400, fineractError(400, 'error.msg.invalid.request.body', 'The request body is not valid JSON.'));
    }
    const json = body as Record<string, unknown>;
    const unsupported = Object.keys(json).filter((k) => !SUPPORTED.has(k));
    if (unsupported.length > 0) {
      throw new HttpError(
        400,
        validationBody(
          unsupported.map((n) => paramError('error.msg.parameter.unsupported', `The parameter ${n} is not supported.`, n, [n])),
        ),
      );
    }
    const templateName = typeof json.name === 'string' ? json.name.trim() : '';
    if (!templateName || templateName.length > 100) {
      throw new HttpError(
        400,
        validationBody([paramError('validation.msg.hook.name.cannot.be.blank', 'The parameter `name` is mandatory.', 'name')]),
      );
    }
    const template = TEMPLATES.find((t) => t.toLowerCase() === templateName.toLowerCase());
    if (!template) {
      throw new HttpError(
        404,
        notFoundBody('error.msg.template.not.found', `Template with name \`${templateName}\` does not exist`, templateName),
      );
    }
    if (template !== WEB_TEMPLATE) {
      throw new HttpError(
        400,
        validationBody([hookValidation('sandbox.template.not.supported', `The sandbox delivers "Web" hooks only, not "${template}".`)]),
      );
    }
    // assembleConfig: keys matched to the template's fields ignoring case, stored as sent.
    const rawConfig =
      json.config && typeof json.config === 'object' && !Array.isArray(json.config) ? (json.config as Record<string, unknown>) : {};
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(rawConfig)) {
      if (WEB_FIELDS.some((f) => f.toLowerCase() === key.toLowerCase()) && value !== null && value !== undefined)
        config[key] = String(value);
    }
    const events: HookEventName[] = (Array.isArray(json.events) ? json.events : []).flatMap((e) =>
      e &&
      typeof e === 'object' &&
      typeof (e as HookEventName).entityName === 'string' &&
      typeof (e as HookEventName).actionName === 'string'
        ? [{ entityName: (e as HookEventName).entityName, actionName: (e as HookEventName).actionName }]
        : [],
    );

    // validateHookRules.
    const errors = [];
    const contentType = config[CONTENT_TYPE];
    if (contentType !== undefined && !['json', 'form'].includes(contentType.toLowerCase())) {
      errors.push(hookValidation('content.type.must.be.json.or.form', 'Content Type must be json or form.'));
    }
    const payloadUrl = config[PAYLOAD_URL];
    if (payloadUrl !== undefined) {
      retrofitBaseUrl(payloadUrl); // IllegalArgumentException: uncaught, HTTP 500
      if (!isLoopbackHost(new URL(payloadUrl).hostname)) {
        errors.push(hookValidation('url.invalid', 'The sandbox posts hooks to loopback addresses only (127.0.0.1, localhost, ::1).'));
      }
    }
    if (events.length === 0) errors.push(hookValidation('registered.events.cannot.be.empty', 'Registered events cannot be empty.'));
    for (const field of WEB_FIELDS) {
      if (config[field] === undefined)
        errors.push({
          ...hookValidation('required.config.field.not.provided', `Required config field ${field} not provided.`),
          value: field,
        });
    }
    if (errors.length > 0) throw new HttpError(400, validationBody(errors));

    const displayName = typeof json.displayName === 'string' && json.displayName.trim() ? json.displayName.trim() : template;
    if ([...this.#hooks.values()].some((h) => h.name === displayName)) {
      throw new HttpError(403, fineractError(403, 'error.msg.hook.duplicate.name', `A hook with name '${displayName}' already exists`));
    }
    const hook: SandboxHook = {
      id: this.#nextId++,
      templateName: template,
      name: displayName,
      isActive: json.isActive === true || json.isActive === 'true',
      events,
      config,
    };
    this.#hooks.set(hook.id, hook);
    return hook;
  }

  /**
   * Called by the server after each command: fires the hooks registered for it, in the background. Returns
   * at once; `idle()` waits for the deliveries.
   */
  published(p: PublishedCommand): void {
    if (p.servedFromCache || p.request === undefined || p.request === null) return;
    const body = (p.body && typeof p.body === 'object' ? p.body : {}) as Record<string, unknown>;
    // The loan COB lock is a servlet filter in front of the command pipeline: nothing was processed.
    if (p.status === 409 && p.params.loanId !== undefined && body.userMessageGlobalisationCode === 'error.msg.loan.locked') return;
    const hooks = [...this.#hooks.values()].filter(
      (h) => h.isActive && h.events.some((e) => e.entityName === p.command.entity && e.actionName === p.command.action),
    );
    if (hooks.length === 0) return;
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

  #deliver(hook: SandboxHook, command: CommandName, payload: Record<string, unknown>): void {
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

  #require(id: number): SandboxHook {
    const hook = this.#hooks.get(id);
    if (!hook)
      throw new HttpError(404, notFoundBody('error.msg.hook.identifier.not.found', `Hook with identifier ${id} does not exist`, id));
    return hook;
  }
}

/** Retrofit.Builder.baseUrl(String): HttpUrl.get, then the trailing-slash rule; both throw IllegalArgumentException. */
function retrofitBaseUrl(url: string): void {
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

/** HookData as `GET /hooks` shows it (config as a list of field name/value pairs). */
function hookData(h: SandboxHook): Record<string, unknown> {
  return {
    id: h.id,
    name: h.name,
    displayName: h.name,
    templateName: h.templateName,
    isActive: h.isActive,
    events: h.events,
    config: Object.entries(h.config).map(([fieldName, fieldValue]) => ({ fieldName, fieldValue })),
  };
}
