import { resolve } from 'node:path';
import type { CountryCode } from 'libphonenumber-js';
import type { Config } from '../config.js';
import { unsafeSettings } from '../config.js';
import { FINERACT_PACE_MARGIN } from '../constants.js';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from '../session/store.js';
import type { RedisStore } from '../session/redis-store.js';
import type { Keys } from '../session/keys.js';
import type { ClockGuard } from '../control/clock-guard.js';
import { startSandbox, type Sandbox } from '../sandbox/server.js';
import { createFineractClient } from '../fineract/client.js';
import { FineractHttp } from '../fineract/http.js';
import { createFineractGateway, type FineractGateway } from '../fineract/gateway.js';
import { createLookupCache, type LookupCache } from '../fineract/cache.js';
import { withLookupCache } from '../fineract/cached-client.js';
import { lookupQueries } from '../fineract/phone-lookup.js';
import type { FineractClient } from '../fineract/types.js';
import { createTokenBuckets } from '../limits/buckets.js';
import { createAbuseLimiter, type AbuseLimiter } from '../limits/abuse.js';
import { loadCatalogueIfPresent, verifyCatalogueAtStart, type Catalogue } from '../engine/catalogue.js';

/**
 * The Fineract side of the composition root (services.ts): the real Fineract or the built-in sandbox, the
 * gateway every call goes through, the product catalogue checked against it, the client and its lookup cache
 * (with the token buckets, which the channels' abuse limits share).
 */
export interface FineractWiring {
  /** Set when the built-in sandbox runs in this process. */
  sandbox?: Sandbox;
  sandboxUrl?: string;
  gateway: FineractGateway;
  productCatalogue: Catalogue | null;
  /** The client itself (its business date, its close), without the lookup cache. */
  client: FineractClient;
  abuse: AbuseLimiter;
  lookupCache?: LookupCache;
  /** The client behind the lookup cache, when the cache is on. */
  cached?: FineractClient & { unknownLookupsRefused(): number };
  /** What every service calls: the cached client, or the client. */
  fineract: FineractClient;
}

/** Builds the Fineract side; what must be closed is pushed to `closers` (closed in reverse). */
export async function buildFineract(
  config: Config,
  logger: Logger,
  { store, keys, clock }: { store: KeyValueStore; keys: Keys; clock: ClockGuard },
  closers: (() => Promise<void>)[],
): Promise<FineractWiring> {
  if (config.fineract.url) {
    // Threat T27: loadConfig refused every unsafe setting not acknowledged; say which ones are.
    const accepted = unsafeSettings({
      messagingProvider: config.messagingProvider,
      callbackKey: config.africastalking.callbackKey,
      fineractPassword: config.fineract.password,
      simSwapProvider: config.simSwap.provider,
    }).filter((u) => config.allowInsecure.includes(u.word));
    for (const u of accepted)
      logger.warn({ acknowledged: u.word }, `KIUNGA_ALLOW_INSECURE: running against a real Fineract with ${u.problem}`);
  }

  let fineractUrl = config.fineract.url;
  let sandboxUrl: string | undefined;
  let sandbox: Sandbox | undefined;
  if (!fineractUrl) {
    sandbox = await startSandbox({ port: 0, syntheticCustomers: config.sandboxCustomers });
    const running = sandbox;
    closers.push(() => running.close());
    fineractUrl = sandboxUrl = sandbox.url;
    logger.warn({ sandbox: sandbox.url }, 'FINERACT_URL is not set: serving the built-in Fineract sandbox with demo data');
  }
  const http = (baseUrl: string) =>
    new FineractHttp({
      baseUrl,
      tenant: config.fineract.tenant,
      username: config.fineract.username,
      password: config.fineract.password,
      timeoutMs: config.fineract.timeoutMs,
      logger,
    });
  // Every call goes through the gateway: shared rate limit and concurrency cap, deadline-bounded queue,
  // writes first, a breaker per upstream, reads to the replicas.
  const gateway = createFineractGateway({
    primary: http(fineractUrl),
    replicas: config.fineract.readUrls.map(http),
    redis: store.kind === 'redis' ? (store as RedisStore).client : undefined,
    id: `${config.redisPrefix}-fineract`,
    ratePerSecond: config.fineract.rateLimit,
    maxConcurrent: config.fineract.maxConcurrent,
    localShare: config.fineract.rateLocalShare,
    // A slot outlives the longest call, so a running call never loses its place.
    maxRunMs: config.fineract.timeoutMs + 5000,
    // Wider than the limiter's default margin: the limit must hold where Fineract counts (constants.ts).
    paceMargin: FINERACT_PACE_MARGIN,
    clock,
    logger,
  });
  await gateway.ready();
  // Issue 12: the product catalogue (flows/catalogue.yaml); a broken file refuses the start like a broken flow.
  const productCatalogue = await loadCatalogueIfPresent(resolve(config.catalogueFile));
  if (!productCatalogue && config.catalogueRequired) {
    throw new Error(
      `CATALOGUE_FILE names ${config.catalogueFile}, which does not exist: fix the path, or unset it to use the product-id settings`,
    );
  }
  if (!productCatalogue)
    logger.warn(
      { file: config.catalogueFile },
      'no product catalogue: FINERACT_SAVINGS_PRODUCTS and FINERACT_LOAN_PRODUCTS decide which accounts are shown',
    );
  const client = createFineractClient({
    baseUrl: fineractUrl,
    tenant: config.fineract.tenant,
    username: config.fineract.username,
    password: config.fineract.password,
    timeoutMs: config.fineract.timeoutMs,
    defaultCountry: config.defaultCountry as CountryCode,
    savingsProductIds: config.fineract.savingsProductIds,
    loanProductIds: config.fineract.loanProductIds,
    // The catalogue, when there is one, decides which accounts any channel lists (hidden products never appear).
    ...(productCatalogue
      ? { shownProducts: { savings: productCatalogue.shownProductIds('savings'), loans: productCatalogue.shownProductIds('loan') } }
      : {}),
    timeZone: config.timezone,
    http: gateway,
    logger,
  });
  closers.push(() => client.close());
  const cacheTtlMs = config.fineract.cacheTtlS * 1000;
  // Threats T22, T28: token buckets shared by all processes, for the channel routes (per number, per
  // source) and for lookups of numbers never matched to a customer (a share of the Fineract budget).
  const buckets = createTokenBuckets(store);
  const abuse = createAbuseLimiter({
    store,
    keys,
    buckets,
    numberPerMin: config.abuse.numberPerMin,
    sourcePerMin: config.abuse.sourcePerMin,
    trustedSources: config.abuse.trustedSources,
    logger,
  });
  const lookupCache = cacheTtlMs > 0 ? createLookupCache({ store, keys, logger }) : undefined;
  const cached = lookupCache
    ? withLookupCache(
        client,
        lookupCache,
        { lookupMs: cacheTtlMs, negativeMs: Math.min(cacheTtlMs, 60_000) },
        config.fineract.unknownLookupShare < 1
          ? {
              store,
              keys,
              buckets,
              perSecond: config.fineract.rateLimit * config.fineract.unknownLookupShare,
              costOf: (e164) => Math.max(1, lookupQueries(e164, config.defaultCountry as CountryCode).length),
              logger,
            }
          : undefined,
      )
    : undefined;
  const fineract = cached ?? client;
  // Products named in the catalogue must exist in Fineract with terms inside their own (refused start otherwise).
  if (productCatalogue) await verifyCatalogueAtStart(productCatalogue, fineract, logger);
  return { sandbox, sandboxUrl, gateway, productCatalogue, client, abuse, lookupCache, cached, fineract };
}
