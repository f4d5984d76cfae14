import { Pool, type Dispatcher } from 'undici';
import type { Logger } from '../logger.js';
import type { Priority } from '../limits/waiting-room.js';
import {
  FineractError,
  FineractNotFound,
  FineractRejected,
  FineractReplayedFailure,
  FineractUnauthorized,
  FineractUnavailable,
} from './errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export type QueryValue = string | number | boolean | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Sent as JSON with `Content-Type: application/json` (needed for Fineract's idempotency store). */
  body?: unknown;
  /** Sent as `Idempotency-Key` (Fineract 1.9+); use a fresh UUID per logical money movement. */
  idempotencyKey?: string;
  /** Overrides the default per-call deadline. */
  timeoutMs?: number;
  /** Caller's cancellation (e.g. the aggregator's deadline); aborting gives FineractUnavailable(timedOut). */
  signal?: AbortSignal;
  /**
   * Epoch ms after which the answer is useless (a read at the hop's deadline): the call is aborted then, as at its
   * timeout (FineractUnavailable, timedOut), on the call's own timer, so the caller needs no signal of its own.
   */
  abortAt?: number;
  /**
   * Called with the status and headers of every HTTP answer (success or error) before it is interpreted.
   * Wrappers (gateway, limiter, breaker) pass options through unchanged, so this reaches the transport.
   */
  onResponse?: (meta: ResponseMeta) => void;
  /**
   * `primary` asks a replica-routing wrapper to send this GET to the primary (read-your-writes: reconciliation
   * and the id of a transfer just posted). The plain transport ignores it.
   */
  readFrom?: 'primary' | 'replica';
  /**
   * Latest epoch-ms time the call may start, and when a read is aborted: the hop's deadline, read by the gateway
   * (see `GatewayRequestOptions`). The plain transport ignores it.
   */
  deadlineAt?: number;
  /**
   * The limiter's queue the call waits in (default: `write` for POST/PUT/DELETE, `read` for GET). `low`, for a
   * lookup of a number never matched to a customer (threat T28), waits behind every other call. Read by the
   * gateway; the plain transport ignores it.
   */
  priority?: Priority;
}

/** Status line and headers of one answer; header names are lower-case. */
export interface ResponseMeta {
  status: number;
  headers: Record<string, string>;
}

/** A 2xx answer with its status and headers: needed to see `x-served-from-cache` (an idempotent replay). */
export interface ResponseWithMeta<T> extends ResponseMeta {
  body: T;
}

/**
 * The one seam every Fineract call goes through: resolves with the parsed JSON body of a 2xx answer and
 * rejects only with a `FineractError`. A rate-limited gateway, read replicas and caching wrap this interface.
 */
export interface FineractRequester {
  request<T = unknown>(method: HttpMethod, path: string, options?: RequestOptions): Promise<T>;
  close(): Promise<void>;
}

export interface FineractHttpOptions {
  /** e.g. `https://fineract.example:8443/fineract-provider/api/v1` */
  baseUrl: string;
  tenant: string;
  username: string;
  password: string;
  /** Deadline for a whole call: connect, headers and body. */
  timeoutMs: number;
  /** Keep-alive connections to Fineract (default 16). */
  connections?: number;
  logger?: Logger;
}

/** Fineract answers are small; anything larger is refused rather than buffered. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Codes of errors Fineract raises for the service account's configuration, not for the request. */
const CONFIG_ERROR_CODES = new Set(['error.msg.not.authorized', 'error.msg.password.outdated']);

interface ErrorBody {
  userMessageGlobalisationCode?: unknown;
  errors?: { userMessageGlobalisationCode?: unknown }[];
}

/**
 * `request` plus the answer's status and headers, through any requester (a plain `FineractHttp` or a gateway
 * wrapping one): errors are the same FineractErrors as `request`'s (a 425 is FineractUnavailable, retryable).
 */
export async function requestWithMeta<T = unknown>(
  requester: FineractRequester,
  method: HttpMethod,
  path: string,
  options: RequestOptions = {},
): Promise<ResponseWithMeta<T>> {
  let meta: ResponseMeta | undefined;
  const body = await requester.request<T>(method, path, {
    ...options,
    onResponse: (m) => {
      meta = m;
      options.onResponse?.(m);
    },
  });
  return { status: meta?.status ?? 200, headers: meta?.headers ?? {}, body };
}

/** The header `x-served-from-cache: true` Fineract 1.9+ puts on an idempotent replay (and on 425). */
export const isServedFromCache = (meta: ResponseMeta): boolean => meta.headers['x-served-from-cache']?.toLowerCase() === 'true';

/** Undici pool with keep-alive, Basic auth and tenant headers, per-call deadline and the error taxonomy. */
export class FineractHttp implements FineractRequester {
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #log: Logger | undefined;

  constructor(options: FineractHttpOptions) {
    const url = new URL(options.baseUrl);
    if (url.username || url.password) throw new Error('FINERACT_URL must not carry credentials; use FINERACT_USERNAME/PASSWORD');
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs;
    this.#log = options.logger?.child({ component: 'fineract' });
    this.#headers = {
      authorization: `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`,
      'fineract-platform-tenantid': options.tenant,
      accept: 'application/json',
    };
    this.#pool = new Pool(url.origin, {
      connections: options.connections ?? 16,
      keepAliveTimeout: 30_000,
      connect: { timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  async request<T = unknown>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const where = `${method} ${path}`; // never the query string: it may hold a phone number
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    // One controller and one timer, cleared when the call ends. AbortSignal.timeout's timer outlives the call and
    // fires later anyway (an abort event and a DOMException with its stack per call), and AbortSignal.any adds a
    // third signal: together about a tenth of a balance read's CPU in a hot loop.
    const controller = new AbortController();
    const signal = controller.signal;
    const abort = (): void => controller.abort();
    const timer = setTimeout(
      abort,
      options.abortAt === undefined ? timeoutMs : Math.max(0, Math.min(timeoutMs, options.abortAt - Date.now())),
    );
    const caller = options.signal;
    if (caller) {
      if (caller.aborted) abort();
      else caller.addEventListener('abort', abort, { once: true });
    }
    const started = performance.now();
    const headers: Record<string, string> = { ...this.#headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;

    let status = 0;
    try {
      const res = await this.#pool.request({
        method,
        path: this.#basePath + path + queryString(options.query),
        headers,
        body,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      const text = await readCapped(res.body);
      const responseHeaders = flattenHeaders(res.headers);
      options.onResponse?.({ status, headers: responseHeaders });
      const result = interpret<T>(status, text, where, isServedFromCache({ status, headers: responseHeaders }));
      this.#log?.debug({ method, path, status, ms: Math.round(performance.now() - started) }, 'fineract call');
      return result;
    } catch (err) {
      const error = toFineractError(err, where, status, signal.aborted, timeoutMs);
      const level = error instanceof FineractUnauthorized ? 'error' : 'warn';
      this.#log?.[level](
        {
          method,
          path,
          status: status || undefined,
          kind: error.kind,
          code: 'code' in error ? error.code : undefined,
          ms: Math.round(performance.now() - started),
        },
        'fineract call failed',
      );
      throw error;
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener('abort', abort);
    }
  }

  /** `request` with the answer's status and headers (see the module-level `requestWithMeta`). */
  requestWithMeta<T = unknown>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<ResponseWithMeta<T>> {
    return requestWithMeta<T>(this, method, path, options);
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/**
 * The body as text, refused past MAX_RESPONSE_BYTES. Read with the stream's events in one promise: an async
 * iterator over the chunks makes several promises per chunk, and every promise costs an allocation and a
 * microtask on the hop's path.
 */
function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) {
        body.destroy();
        reject(new FineractUnavailable(`Fineract response too large (over ${MAX_RESPONSE_BYTES} bytes)`));
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    body.once('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return text.trim() === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

/**
 * Maps an HTTP answer onto the taxonomy (docs/fineract.md, error bodies). Messages carry codes, never response
 * text. `replayed` is `x-served-from-cache: true`: a stored failure is final even when its status says "retry".
 */
function interpret<T>(status: number, text: string, where: string, replayed = false): T {
  if (status >= 200 && status < 300) {
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new FineractUnavailable(`Fineract sent an unparseable answer to ${where} (HTTP ${status})`, status);
    }
  }
  const body = parseJson(text) as ErrorBody | undefined;
  const top = typeof body?.userMessageGlobalisationCode === 'string' ? body.userMessageGlobalisationCode : undefined;
  const first = body?.errors?.[0]?.userMessageGlobalisationCode;
  const specific = typeof first === 'string' ? first : undefined;

  if (status === 401) throw new FineractUnauthorized(`Fineract refused the service credentials on ${where} (HTTP 401)`, 401);
  if ((top && CONFIG_ERROR_CODES.has(top)) || (specific && CONFIG_ERROR_CODES.has(specific))) {
    throw new FineractUnauthorized(`Fineract refused the service account on ${where}: ${top ?? specific} (HTTP ${status})`, status);
  }
  if (status === 404) {
    const code = specific ?? top ?? 'error.msg.resource.not.found';
    throw new FineractNotFound(`Fineract found nothing for ${where}: ${code}`, code);
  }
  // A stored failure replayed for the same idempotency key (any status but 425, which means "still running"):
  // the command ran once and rolled back; every retry of the key gets this same answer (docs/fineract.md).
  if (replayed && status !== 425 && (status >= 500 || status === 408 || status === 429)) {
    const code = specific ?? top ?? `http.${status}`;
    throw new FineractReplayedFailure(
      `Fineract replayed a stored failure of ${where}: ${code} (HTTP ${status}); nothing moved`,
      status,
      code,
      top,
    );
  }
  // 408/425/429: try again later (425 = same idempotency key still in flight, retry with the same key).
  if (status === 408 || status === 425 || status === 429) {
    throw new FineractUnavailable(`Fineract asked to retry ${where} later (HTTP ${status})`, status);
  }
  if (status >= 400 && status < 500) {
    const code = specific ?? top ?? `http.${status}`;
    throw new FineractRejected(`Fineract rejected ${where}: ${code} (HTTP ${status})`, status, code, top);
  }
  throw new FineractUnavailable(`Fineract failed on ${where} (HTTP ${status})`, status);
}

function toFineractError(err: unknown, where: string, status: number, aborted: boolean, timeoutMs: number): FineractError {
  if (err instanceof FineractError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
  const timedOut = aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
  if (timedOut) return new FineractUnavailable(`Fineract did not answer ${where} within ${timeoutMs} ms`, status || undefined, true);
  return new FineractUnavailable(
    `Fineract unreachable on ${where} (${code ?? (err instanceof Error ? err.name : 'error')})`,
    status || undefined,
  );
}
