import { HttpError, ok, type Route } from './router.js';
import { fineractError, notFoundBody, paramError, validationBody } from './serialize.js';
import {
  CONTENT_TYPE,
  HookPoster,
  isLoopbackHost,
  PAYLOAD_URL,
  retrofitBaseUrl,
  type HookDelivery,
  type PublishedCommand,
  type SandboxHooksOptions,
} from './hook-delivery.js';

export { deliveryUrl, isLoopbackHost, javaDouble } from './hook-delivery.js';
export type { HookDelivery, PublishedCommand, SandboxHooksOptions } from './hook-delivery.js';

/**
 * The sandbox's hooks, registered and delivered the way Apache Fineract does it (apache/fineract
 * `infrastructure/hooks/*`, `SynchronousCommandProcessingService.publishHookEvent`), so that Kiunga's hook
 * receiver is tested against what Fineract really sends. This file holds the registry and its `/hooks` API;
 * hook-delivery.ts posts the events.
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
 * Matching, after each command:
 * - which hooks an event fires is decided here (`published`): every active hook registered for exactly that
 *   entity and action; a replay from the idempotency store, a command without a body and a request refused by
 *   the loan COB lock filter fire nothing. hook-delivery.ts builds the payload and posts it.
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

const WEB_TEMPLATE = 'Web';
/** The template fields of "Web" (both mandatory). */
const WEB_FIELDS = [PAYLOAD_URL, CONTENT_TYPE];
/** Templates Fineract ships; only "Web" is delivered by the sandbox. */
const TEMPLATES = [WEB_TEMPLATE, 'SMS Bridge', 'Elastic Search', 'Message Gateway'];
/** HookCommandFromApiJsonDeserializer's supported parameters. */
const SUPPORTED = new Set(['name', 'displayName', 'isActive', 'events', 'config', 'templateId']);

const hookValidation = (code: string, message: string) => paramError(`validation.msg.hook.${code}`, message, 'id');

export class SandboxHooks {
  readonly #hooks = new Map<number, SandboxHook>();
  readonly #poster: HookPoster;
  #nextId = 1;

  constructor(options: SandboxHooksOptions) {
    this.#poster = new HookPoster(options);
  }

  /** `X-Fineract-Endpoint`: the API base of this sandbox, known once it listens. */
  get endpoint(): string {
    return this.#poster.endpoint;
  }

  set endpoint(value: string) {
    this.#poster.endpoint = value;
  }

  /** The latest deliveries, oldest first. */
  get deliveries(): HookDelivery[] {
    return this.#poster.deliveries;
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
    this.#poster.deliveries.length = 0;
  }

  /** Resolves once every delivery started so far has been answered or has failed. */
  async idle(): Promise<void> {
    await this.#poster.idle();
  }

  /** Aborts deliveries in flight (sandbox shutdown). */
  close(): void {
    this.#poster.close();
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
    this.#poster.post(hooks, p, body);
  }

  #require(id: number): SandboxHook {
    const hook = this.#hooks.get(id);
    if (!hook)
      throw new HttpError(404, notFoundBody('error.msg.hook.identifier.not.found', `Hook with identifier ${id} does not exist`, id));
    return hook;
  }
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
