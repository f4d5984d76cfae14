import type { Logger } from '../logger.js';
import type { CircuitBreaker } from './breaker.js';
import { FineractNotSent } from './not-sent.js';
import { FineractRejected, FineractUnauthorized, FineractUnavailable } from './errors.js';
import type { FineractRequester, HttpMethod, RequestOptions } from './http.js';

/**
 * Read/write separation (docs/fineract.md §13): Fineract read instances serve only GET and answer anything else
 * with 405 `error.msg.invalid.instance.type`; a POST search counts as a write there. So:
 *
 * - every non-GET call goes to the primary;
 * - a GET goes to the next replica in round-robin order whose breaker would let it through (open ones are
 *   skipped without a call); when that replica fails (unavailable, circuit open) or answers 405 or 401/403
 *   (a replica set up wrong must not take reads down), the same call is made once on the primary;
 * - with no replica, or none available, or `readFrom: 'primary'` (a read right after a write: replicas lag,
 *   so a post-transaction balance must come from the primary), the GET goes to the primary.
 *
 * A 404 from a replica is final (no second call), although replica lag could explain it: "not found" is a
 * normal answer for many lookups and doubling those calls would double the load they cause.
 */
export type ReadFrom = 'replica' | 'primary';

export interface RouterRequestOptions extends RequestOptions {
  /** `primary` forces a GET to the primary (read-your-writes). Default `replica` when replicas exist. */
  readFrom?: ReadFrom;
}

/** One Fineract instance; `breaker` (when present) lets the router skip it while its circuit is open. */
export interface Upstream extends FineractRequester {
  readonly breaker?: CircuitBreaker;
}

export interface RouterStats {
  replicaReads: number;
  primaryReads: number;
  writes: number;
  /** GETs tried on a replica and then made again on the primary. */
  fallbacks: number;
}

export interface ReplicaRouter extends FineractRequester {
  request<T = unknown>(method: HttpMethod, path: string, options?: RouterRequestOptions): Promise<T>;
  /** False when every upstream that could serve this call has its circuit open (fail fast, send nothing). */
  canServe(method: HttpMethod, readFrom?: ReadFrom): boolean;
  stats(): RouterStats;
}

export interface ReplicaRouterOptions {
  primary: Upstream;
  replicas?: Upstream[];
  logger?: Logger;
}

/** Routes reads to replicas (round robin, fallback to the primary) and writes to the primary. `close()` closes all. */
export function createReplicaRouter(options: ReplicaRouterOptions): ReplicaRouter {
  const { primary } = options;
  const replicas = options.replicas ?? [];
  const log = options.logger?.child({ component: 'fineract-router' });
  let next = 0;
  const stats: RouterStats = { replicaReads: 0, primaryReads: 0, writes: 0, fallbacks: 0 };

  const passes = (u: Upstream) => u.breaker?.canPass() ?? true;

  /** The next replica in turn whose circuit lets a call through, or undefined. Advances the turn. */
  function pickReplica(): Upstream | undefined {
    for (let i = 0; i < replicas.length; i++) {
      const candidate = replicas[(next + i) % replicas.length]!;
      if (passes(candidate)) {
        next = (next + i + 1) % replicas.length;
        return candidate;
      }
    }
    return undefined;
  }

  function shouldFallBack(err: unknown): boolean {
    if (err instanceof FineractUnavailable) return true; // includes FineractNotSent('circuit open')
    if (err instanceof FineractRejected && err.httpStatus === 405) return true;
    return err instanceof FineractUnauthorized;
  }

  return {
    async request<T = unknown>(method: HttpMethod, path: string, opts: RouterRequestOptions = {}): Promise<T> {
      const { readFrom, ...rest } = opts;
      if (method !== 'GET') {
        stats.writes++;
        return primary.request<T>(method, path, rest);
      }
      const replica = readFrom === 'primary' ? undefined : pickReplica();
      if (!replica) {
        stats.primaryReads++;
        return primary.request<T>(method, path, rest);
      }
      try {
        stats.replicaReads++;
        return await replica.request<T>(method, path, rest);
      } catch (err) {
        if (!shouldFallBack(err) || rest.signal?.aborted) throw err;
        stats.fallbacks++;
        const reason = err instanceof FineractNotSent ? err.reason : err instanceof Error ? err.name : 'error';
        const level = err instanceof FineractUnauthorized || err instanceof FineractRejected ? 'error' : 'debug';
        log?.[level](
          { method, path, reason, status: (err as { httpStatus?: number }).httpStatus },
          'read replica failed; reading from the primary',
        );
        stats.primaryReads++;
        return primary.request<T>(method, path, rest);
      }
    },

    canServe(method: HttpMethod, readFrom?: ReadFrom): boolean {
      if (passes(primary)) return true;
      return method === 'GET' && readFrom !== 'primary' && replicas.some(passes);
    },

    stats: () => ({ ...stats }),

    async close(): Promise<void> {
      await Promise.all([primary.close(), ...replicas.map((r) => r.close())]);
    },
  };
}
