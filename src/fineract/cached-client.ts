import type { LookupCache } from './cache.js';
import type { CallOptions, FineractClient } from './types.js';
import { FineractUnavailable } from './errors.js';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { TokenBuckets } from '../limits/buckets.js';
import { abuseKey } from '../limits/abuse.js';

/**
 * Lookup data cached in Redis with TTLs (threat T12: keep channel traffic to the back office small):
 * the client behind a phone number (also "nobody", for a shorter time), a client's account list, and Fineract's
 * loan and savings products (the catalogue's terms are checked against them).
 * Balances, statements, loans and writes always go to Fineract, so a customer never sees a stale balance.
 *
 * With a cap (threat T28), a lookup of a number Kiunga has never matched to a customer spends a shared
 * budget, a share of FINERACT_RATE_LIMIT (FINERACT_UNKNOWN_LOOKUP_SHARE): one token per Fineract request
 * the lookup makes (one `GET /search` per spelling of the number), with up to 5 s' worth spent ahead. When the budget is spent the lookup is
 * refused without calling Fineract (`UnknownLookupRefused`, an "unavailable": the customer is asked to try
 * later), and a lookup within the budget waits in the gateway's queue behind every other call (priority
 * `low`). Returning customers never wait for it: their number is in the lookup cache, or in the
 * known-numbers record that every successful lookup writes (kept 30 days), so a flood of random numbers
 * cannot take the budget they need, nor their place in the queue.
 */

export interface CacheTtls {
  /** Client by phone number and account lists. */
  lookupMs: number;
  /** A number that belongs to nobody (kept shorter: the customer may be enrolled any minute). */
  negativeMs: number;
}

export interface UnknownLookupCap {
  store: KeyValueStore;
  keys: Keys;
  buckets: TokenBuckets;
  /** Fineract requests per second lookups of unknown numbers may use (share × FINERACT_RATE_LIMIT); 0 refuses all. */
  perSecond: number;
  /** Fineract requests one lookup of this number makes. */
  costOf: (e164: string) => number;
  /** How long a matched number counts as known (default 30 days). */
  knownTtlMs?: number;
  logger?: Logger;
}

/** A lookup of an unknown number refused because its share of the Fineract budget is spent; nothing was sent. */
export class UnknownLookupRefused extends FineractUnavailable {
  override readonly name = 'UnknownLookupRefused';
  constructor() {
    super('lookup of an unknown number refused: FINERACT_UNKNOWN_LOOKUP_SHARE spent');
  }
}

/** The cache's options for a call of a hop: the hop, whose early reads it takes. */
const hopOf = (call: CallOptions | undefined) => (call?.hop ? { hop: call.hop } : {});

const KNOWN_TTL_MS = 30 * 24 * 3600 * 1000;
/**
 * The budget may be spent ahead by this many seconds' worth: new customers arriving together (the first
 * day, before anyone is known) are not refused one by one, while a sustained flood still gets only its
 * share per second.
 */
const BURST_S = 5;

/** Wraps a client so lookups are served from the cache when fresh (and, with `cap`, unknown numbers are capped). */
export function withLookupCache(
  client: FineractClient,
  cache: LookupCache,
  ttls: CacheTtls,
  cap?: UnknownLookupCap,
): FineractClient & { unknownLookupsRefused(): number } {
  let refused = 0;
  const knownKey = (e164: string) => cap!.keys.forMsisdn(e164, 'known');

  async function lookup(e164: string, call: CallOptions | undefined) {
    if (!cap) return client.findClientByPhone(e164, call);
    const known = await cap.store.get(knownKey(e164)).catch(() => null);
    if (known === null) {
      const allowed =
        cap.perSecond > 0 &&
        (await cap.buckets
          .take([
            {
              key: abuseKey(cap.keys, 'fineract', 'unknown-lookups'),
              capacity: Math.max(1, cap.perSecond * BURST_S),
              perSecond: cap.perSecond,
              cost: cap.costOf(e164),
            },
          ])
          .then((r) => r.ok)
          .catch(() => true)); // the store is down: the gateway's own limit still holds
      if (!allowed) {
        refused++;
        throw new UnknownLookupRefused();
      }
    }
    // An unknown number's requests also wait behind every other Fineract call of this process (`low`): the
    // flood's share of the budget never delays a returning customer's reads in the queue either.
    const customer = await client.findClientByPhone(e164, known === null ? { ...call, priority: 'low' } : call);
    if (customer) await cap.store.set(knownKey(e164), '1', cap.knownTtlMs ?? KNOWN_TTL_MS).catch(() => undefined);
    return customer;
  }

  return {
    ...client,
    // A hop's lookups (`call.hop`) take what was read early with the session lock or the PIN check.
    findClientByPhone: (e164, call) =>
      cache.getOrLoad('client-by-phone', e164, ttls.lookupMs, () => lookup(e164, call), { negativeTtlMs: ttls.negativeMs, ...hopOf(call) }),
    listAccounts: (clientId, call) =>
      cache.getOrLoad('accounts', clientId, ttls.lookupMs, () => client.listAccounts(clientId, call), hopOf(call)),
    // Products change rarely and every loan application's menu reads them (issue 12, the catalogue's terms).
    listLoanProducts: (call) => cache.getOrLoad('loan-products', 'all', ttls.lookupMs, () => client.listLoanProducts(call)),
    listSavingsProducts: (call) => cache.getOrLoad('savings-products', 'all', ttls.lookupMs, () => client.listSavingsProducts(call)),
    unknownLookupsRefused: () => refused,
  };
}
