import type { Bank } from './bank.js';
import type { SandboxControl } from './control.js';
import { paramError, validationBody } from './serialize.js';

/** What a route handler sees: the bank, numeric path parameters, the query and the parsed JSON body. */
export interface RouteContext {
  bank: Bank;
  /** Fault switches some handlers honour (e.g. `loanLocked` on a transfer to a loan). */
  control: SandboxControl;
  params: Record<string, number>;
  query: URLSearchParams;
  body: unknown;
  /** Checks a username and password against the sandbox's service user (constant time). */
  credentialsValid(username: string, password: string): boolean;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type Handler = (ctx: RouteContext) => Reply;

/** A write's name in Fineract's command pipeline (CommandWrapperBuilder), e.g. DEPOSIT / SAVINGSACCOUNT. */
export interface CommandName {
  action: string;
  entity: string;
}

interface RouteBase {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path below the API prefix; `{name}` matches a positive integer (Jersey's Long path params). */
  pattern: string;
  handler: Handler;
}

/** A read (or an open path such as `POST /authentication`). */
export interface QueryRoute extends RouteBase {
  /** Fineract permission code the service user needs, e.g. `READ_CLIENT`; null for open paths. */
  permission: string | null;
  command?: undefined;
}

/**
 * A write through the command pipeline: the permission checked is `ACTION_ENTITY` of its command, and the
 * command name scopes the idempotency key (docs/fineract.md §10). `command` returns null for an unknown `?command=`.
 */
export interface CommandRoute extends RouteBase {
  method: 'POST' | 'PUT' | 'DELETE';
  permission?: undefined;
  command(query: URLSearchParams): CommandName | null;
  /**
   * True when this request is not a command although it shares the write's path: `POST /loans?command=
   * calculateLoanSchedule` computes a schedule without the command pipeline (no command source, no idempotency,
   * no hook), as LoansApiResource.calculateLoanScheduleOrSubmitLoanApplication does.
   */
  readWhen?(query: URLSearchParams): boolean;
}

export type Route = QueryRoute | CommandRoute;

/** Thrown by handlers to answer with a non-200 status; the body is serialised as is. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

export const ok = (body: unknown): Reply => ({ status: 200, body });

type CompiledRoute = Route & { segments: string[] };

export class Router {
  readonly #routes: CompiledRoute[] = [];

  add(...routes: Route[]): this {
    for (const r of routes) this.#routes.push({ ...r, segments: r.pattern.split('/').filter(Boolean) });
    return this;
  }

  /** The matching route and its parameters; `methodNotAllowed` when only the method differs. */
  match(method: string, path: string): { route: Route; params: Record<string, number> } | 'methodNotAllowed' | null {
    const parts = path.split('/').filter(Boolean);
    let pathMatched = false;
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method) return { route, params };
      pathMatched = true;
    }
    return pathMatched ? 'methodNotAllowed' : null;
  }
}

function matchSegments(segments: string[], parts: string[]): Record<string, number> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, number> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    const part = parts[i] as string;
    if (seg.startsWith('{') && seg.endsWith('}')) {
      if (!/^\d{1,15}$/.test(part)) return null;
      params[seg.slice(1, -1)] = Number(part);
    } else if (seg !== part) {
      return null;
    }
  }
  return params;
}

/**
 * Applies Fineract's `fields=a,b` partial response to one object (or each object of an array): only the
 * named top-level keys are kept; a name outside `supported` is a 400 `error.msg.parameter.unsupported`.
 */
export function selectFields<T extends Record<string, unknown>>(
  value: T | T[],
  fields: string | null,
  supported: ReadonlySet<string>,
): unknown {
  if (!fields) return value;
  const names = fields
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const unsupported = names.filter((n) => !supported.has(n));
  if (unsupported.length > 0) {
    throw new HttpError(
      400,
      validationBody(unsupported.map((n) => paramError('error.msg.parameter.unsupported', `The parameter ${n} is not supported.`, n, [n]))),
    );
  }
  const pick = (obj: T): Record<string, unknown> => Object.fromEntries(names.filter((n) => n in obj).map((n) => [n, obj[n]]));
  return Array.isArray(value) ? value.map(pick) : pick(value);
}

/** Reads an integer query parameter; absent or malformed values give the default. */
export function intParam(query: URLSearchParams, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = query.get(name);
  if (raw === null || !/^\d+$/.test(raw)) return fallback;
  return Math.min(max, Math.max(min, Number(raw)));
}

/** `true`/`false` query flags the way Jersey parses a boolean QueryParam (anything else is false). */
export const boolParam = (query: URLSearchParams, name: string): boolean => query.get(name)?.toLowerCase() === 'true';
