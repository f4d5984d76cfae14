import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Translator } from '../text/i18n.js';
import type { FineractClient } from '../fineract/types.js';
import type { LookupCache } from '../fineract/cache.js';
import type { JobQueue } from '../jobs/queue.js';
import type { Catalogue } from '../engine/catalogue.js';
import { ApplicationService } from '../origination/applications.js';
import { ProfileService } from '../origination/profiles.js';
import { fineractCore } from '../origination/fineract-core.js';
import { registerLoanHookJob } from '../origination/loan-hook-job.js';

/**
 * Origination in the composition root (services.ts, issue 12): sign-up profiles and loan applications, kept in
 * Kiunga until a reviewer approves one for Fineract, and the mirroring of Fineract's loan status (hook job and poll).
 */
export interface OriginationWiring {
  profiles: ProfileService;
  applications: ApplicationService;
}

export interface OriginationWiringDeps {
  store: KeyValueStore;
  keys: Keys;
  /** The client itself (origination's Fineract calls, the business date). */
  client: FineractClient;
  /** What the loan hook job reads Fineract with. */
  fineract: FineractClient;
  lookupCache?: LookupCache;
  productCatalogue: Catalogue | null;
  queue: JobQueue;
  translator: Translator;
  audit: AuditLog;
}

/** Builds profiles and applications, registers the loan hook job and starts the status poll (stopped by `closers`). */
export function buildOrigination(
  config: Config,
  logger: Logger,
  deps: OriginationWiringDeps,
  closers: (() => Promise<void>)[],
): OriginationWiring {
  const { store, keys, client, fineract, lookupCache, productCatalogue, queue, translator, audit } = deps;
  const originationCore = fineractCore(client, {
    officeId: config.origination.officeId,
    quoteClientId: config.origination.quoteClientId,
    // The applicant's sign-up dials left "no client" for the number in the lookup cache.
    forgetPhone: async (e164) => lookupCache?.invalidate('client-by-phone', e164),
  });
  const today = () => client.businessDateNow();
  const profiles = new ProfileService({
    store,
    prefix: config.redisPrefix,
    core: originationCore,
    audit,
    logger,
    country: config.origination.country,
    termsVersion: productCatalogue?.termsVersion ?? 'unversioned',
    languages: translator.languages,
    today,
  });
  const applications = new ApplicationService({
    store,
    keys,
    prefix: config.redisPrefix,
    core: originationCore,
    profiles,
    queue,
    translator,
    audit,
    logger,
    clientActive: config.origination.clientActive,
    today,
    ussdCode: config.approvals.ussdCode,
  });
  // Fineract's status of the loans applied for (approved, disbursed, rejected) is mirrored from its LOAN hooks where
  // they are registered (`fineract-loan-hook`), and polled (LOAN_STATUS_POLL_S) as the fallback; approved
  // applications that could not be sent are sent again on the same beat.
  registerLoanHookJob({ fineract, applications, queue, logger });
  const applicationPoll = setInterval(() => {
    applications
      .syncAll()
      .catch((error: unknown) => logger.warn({ err: { type: (error as Error)?.name } }, 'application status poll failed'));
  }, config.origination.statusPollS * 1000);
  applicationPoll.unref();
  closers.push(async () => clearInterval(applicationPoll));
  return { profiles, applications };
}
