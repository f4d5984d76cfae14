import type { LookupCache } from './cache.js';
import type { FineractClient } from './types.js';

/**
 * Lookup data cached in Redis with TTLs (threat T12: keep channel traffic to the back office small):
 * the client behind a phone number (also "nobody", for a shorter time) and a client's account list.
 * Balances, statements, loans and writes always go to Fineract, so a customer never sees a stale balance.
 */

export interface CacheTtls {
  /** Client by phone number and account lists. */
  lookupMs: number;
  /** A number that belongs to nobody (kept shorter: the customer may be enrolled any minute). */
  negativeMs: number;
}

/** Wraps a client so lookups are served from the cache when fresh. */
export function withLookupCache(client: FineractClient, cache: LookupCache, ttls: CacheTtls): FineractClient {
  return {
    ...client,
    findClientByPhone: (e164) =>
      cache.getOrLoad('client-by-phone', e164, ttls.lookupMs, () => client.findClientByPhone(e164), { negativeTtlMs: ttls.negativeMs }),
    listAccounts: (clientId) => cache.getOrLoad('accounts', clientId, ttls.lookupMs, () => client.listAccounts(clientId)),
  };
}
