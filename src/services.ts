import { resolve } from 'node:path';
import type { CountryCode } from 'libphonenumber-js';
import type { Config } from './config.js';
import { FINERACT_PACE_MARGIN, SMS_MAX_PARTS } from './constants.js';
import { createLogger, type Logger } from './logger.js';
import { createMemoryStore } from './session/memory-store.js';
import { createRedisStore } from './session/redis-store.js';
import { createKeys } from './session/keys.js';
import { createAuditTrail, type AuditLog } from './audit/audit-log.js';
import { ClockGuard } from './control/clock-guard.js';
import { SwitchBoard } from './control/switch-board.js';
import { LockedCustomers } from './admin/locked-customers.js';
import type { KeyValueStore } from './session/store.js';
import type { HopContext } from './session/hop-context.js';
import { startSandbox, type Sandbox } from './sandbox/server.js';
import { createFineractClient } from './fineract/client.js';
import { FineractHttp } from './fineract/http.js';
import { createFineractGateway, type FineractGateway } from './fineract/gateway.js';
import { createLookupCache, lookupKey } from './fineract/cache.js';
import { withLookupCache } from './fineract/cached-client.js';
import { createPinService } from './security/pin-service.js';
import type { PinLockNotice } from './security/pin.js';
import { lockNoticeSender } from './security/lock-notice.js';
import { createIdentityService } from './security/enrolment.js';
import { createTokenBuckets } from './limits/buckets.js';
import { createAbuseLimiter } from './limits/abuse.js';
import { lookupQueries } from './fineract/phone-lookup.js';
import { DEMO_PINS } from './security/demo-pins.js';
import { createSimSwap } from './security/sim-swap-provider.js';
import { unsafeSettings } from './config.js';
import { SYNTHETIC_FIRST_ID, SYNTHETIC_PIN } from './sandbox/synthetic.js';
import { createTranslator } from './text/i18n.js';
import { createImplementations } from './engine/registry.js';
import { loadFlowVersions, type FlowVersions } from './engine/flow-versions.js';
import { TurnRunner } from './engine/turn-runner.js';
import { tellLostConfirmation } from './engine/registry-money.js';
import { tellLostCashIn, tellLostCashOut } from './engine/registry-agents.js';
import { tellLostApproval } from './engine/registry-approvals.js';
import { ussdProfile } from './channels/ussd-screen.js';
import { voiceProfile } from './channels/voice-render.js';
import { loadAudioCatalogue, type AudioCatalogue } from './channels/voice-audio.js';
import { CallbackService } from './callback/callbacks.js';
import { smsProfile } from './channels/sms-screen.js';
import type { AppDeps } from './app.js';
import { createBullQueue, createMemoryQueue, type JobQueue } from './jobs/queue.js';
import type { Messenger } from './messaging/messenger.js';
import type { Dialer } from './messaging/dialer.js';
import { createOutbound } from './messaging/outbound.js';
import { registerHookJob } from './hooks/fineract-hooks.js';
import { TransferService } from './money/transfer-service.js';
import { payeeOf } from './money/transfer-types.js';
import { createChallengeService, type ChallengeServiceRuntime } from './security/challenge.js';
import { createPaidPayees } from './security/paid-payees.js';
import { RESOLVE_JOB } from './jobs/catalogue.js';
import { loadCatalogueIfPresent, verifyCatalogueAtStart, type Catalogue } from './engine/catalogue.js';
import { translatedReceipts } from './money/receipts.js';
import type { RedisStore } from './session/redis-store.js';
import { SwitchableTranslator, watchFlows, type FlowWatcher } from './engine/hot-reload.js';
import { createApprovalService, type RedisApprovalService } from './approvals/approval-service.js';
import { ApplicationService } from './origination/applications.js';
import { ProfileService } from './origination/profiles.js';
import { fineractCore } from './origination/fineract-core.js';
import { registerLoanHookJob } from './origination/loan-hook-job.js';
import { MandateRegistry } from './approvals/mandates.js';
import { DEMO_MANDATES } from './approvals/demo-mandates.js';
import { createAgentRegistry, DEFAULT_AGENT_LIMITS, type AgentRegistry } from './agents/registry.js';
import { createAgentLimiter } from './agents/limits.js';
import { AgentService } from './agents/agent-service.js';
import { DEMO_AGENTS } from './agents/demo-agents.js';
import { loadFeeSchedule } from './agents/fees.js';

/**
 * Builds every long-lived dependency from the configuration: store (Redis or in-process), Fineract (or the
 * built-in sandbox), PINs, translations, flows and the turn runner. `close()` releases them all.
 */
export interface Services extends AppDeps {
  flows: FlowVersions;
  gateway: FineractGateway;
  queue: JobQueue;
  messenger: Messenger;
  dialer: Dialer;
  transfers: TransferService;
  /** The audit trail (threat T16): a hash-chained Redis stream with signed checkpoints (`kiunga audit verify`). */
  audit: AuditLog;
  /** One-time codes (threat T31): activation, self-unlock and money step-up. */
  challenges: ChallengeServiceRuntime;
  /** Call-back requests (missed call, USSD, SMS CALL) and the records the voice webhooks trust. */
  callbacks: CallbackService;
  /** Approvals (issue 11): funds held, k of M approvers, executed once through the transfer service. */
  approvals: RedisApprovalService;
  /** Mandates of business accounts (issue 11): who raises, who approves, by amount band. */
  mandates: MandateRegistry;
  /** Agents (issue 11): the registry, cash-in and cash-out. */
  agents: AgentService;
  agentRegistry: AgentRegistry;
  /** Sign-up profiles (issue 12), kept in Kiunga until the first approved application. */
  profiles: ProfileService;
  /** Loan applications (issue 12): Kiunga's lifecycle, then Fineract's status mirrored. */
  applications: ApplicationService;
  /** Voice recordings found under LOCALES_DIR/audio. */
  voiceAudio: AudioCatalogue;
  /** The product catalogue (CATALOGUE_FILE), checked against Fineract at start; null without the file. */
  productCatalogue: Catalogue | null;
  /** Set when the built-in sandbox runs in this process. */
  sandbox?: Sandbox;
  sandboxUrl?: string;
  /** Set when flows and locales are watched (hot reload). */
  flowWatcher?: FlowWatcher;
  close(): Promise<void>;
}

export interface ServicesOptions {
  /** Reload flows and locales when their files change (`kiunga serve`); off by default (tests, tools). */
  watch?: boolean;
  /** Serve /simulator even against a real Fineract (development); it is always served with the sandbox. */
  simulator?: boolean;
}

export async function createServices(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
  options: ServicesOptions = {},
): Promise<Services> {
  const closers: (() => Promise<void>)[] = [];
  try {
    const store: KeyValueStore = config.redisUrl ? createRedisStore(config.redisUrl, { logger }) : createMemoryStore();
    closers.push(() => store.close());
    if (!config.redisUrl) {
      logger.warn('REDIS_URL is not set: sessions, PINs and lockouts live in this process only and are lost on restart');
    }
    const keys = createKeys(config.redisPrefix);
    // Threat T16: the audit trail (a Redis stream; kept in this process without Redis), its checkpoints
    // signed outside Redis. Closed just before the store (closers run in reverse), after what records into it.
    const audit = createAuditTrail({ store, keys, logger, ...config.audit });
    closers.push(() => audit.close());
    // Kill switches (issue 10): every process polls the shared state; money fails closed when it is unreadable.
    // Findings F2, F3: the clock guard compares this process's clock with Redis's at each switch poll.
    const clock = new ClockGuard({ maxSkewMs: config.clockSkewMaxMs, logger });
    closers.push(async () => clock.close());
    const switches = new SwitchBoard({
      store,
      prefix: config.redisPrefix,
      logger,
      fourEyes: config.admin.fourEyes,
      onServerTime: (serverMs, rttMs) => clock.observe(serverMs, rttMs),
    });
    await switches.start();
    closers.push(async () => switches.close());
    // Customers locked out by wrong PINs, for operators (GET /admin/customers/locked).
    const lockedCustomers = new LockedCustomers(store, config.redisPrefix);
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

    // Threat T26: time-boxed, escalating locks; the customer is told by SMS (the queue exists further down).
    // Assigned once the queue exists (below); the PIN service reads it only when a lock happens.
    // eslint-disable-next-line prefer-const
    let notifyLock: ((notice: PinLockNotice) => Promise<void>) | undefined;
    const pins = createPinService({
      store,
      pepper: config.pin.pepper,
      maxFailures: config.pin.maxFailures,
      lockMs: config.pin.lockS * 1000,
      hardLockAfter: config.pin.hardLockAfter,
      keys,
      logger,
      // Threat T16: logins (pin.ok), wrong PINs and locks.
      audit,
      onLocked: async (notice) => {
        await lockedCustomers.add(notice.clientId).catch(() => undefined);
        await notifyLock?.(notice);
      },
    });
    if (config.pin.usingDevelopmentPepper) {
      logger.warn('PIN_PEPPER is not set: using the development pepper (sandbox only; set PIN_PEPPER in production)');
    }
    if (sandboxUrl) {
      for (const [clientId, pin] of Object.entries(DEMO_PINS)) await pins.seedIfAbsent(Number(clientId), pin);
      for (let i = 0; i < config.sandboxCustomers; i++) await pins.seedIfAbsent(SYNTHETIC_FIRST_ID + i, SYNTHETIC_PIN);
    }

    // Every flow version keeps the texts it was loaded with (LoadedFlow.translator); the rest of the server
    // shares this one, which a hot reload switches to the new texts.
    const loadedTexts = await createTranslator({ dir: resolve(config.localesDir), fallback: config.defaultLanguage });
    const translator = new SwitchableTranslator(loadedTexts);

    // Outbound SMS and calls through MESSAGING_PROVIDER, rate-limited per provider across processes; closed
    // after the queue (closers run in reverse), so running jobs keep their limiter.
    const outbound = createOutbound({
      config,
      redis: store.kind === 'redis' ? (store as RedisStore).client : undefined,
      store,
      keys,
      logger,
      clock,
    });
    closers.push(() => outbound.close());
    await outbound.ready();
    const { messenger, dialer, outbox, calls } = outbound;
    const queue: JobQueue = config.redisUrl
      ? createBullQueue({ redis: (store as RedisStore).client, prefix: config.redisPrefix, logger, clock })
      : createMemoryQueue({ logger });
    closers.push(async () => void (await queue.close()));
    // Threat T31: one-time codes, sent by the `otp` job (its data names the challenge, never the code).
    const challenges = createChallengeService({ store, keys, pepper: config.pin.pepper, queue, translator, logger, audit });
    challenges.register(queue, (sms) => messenger.send(sms));
    // OTP_NEW_PAYEE: who each customer has paid, as keyed hashes.
    const payees = createPaidPayees({ store, keys, pepper: config.pin.pepper });
    // Agents (issue 11): built after the approvals they open; the transfer service and the approvals call into
    // them (afterDone, the cash-out recheck) only once money moves, long after this assignment.
    // eslint-disable-next-line prefer-const
    let agents: AgentService | undefined;
    const transfers = new TransferService({
      store,
      keys,
      fineract,
      queue,
      // Records' ages decide whether a resolution may send again (T30): dated by Redis's clock, not this host's.
      now: () => Math.round(clock.serverNow()),
      receipts: translatedReceipts(translator),
      limits: config.limits,
      callMaxMs: config.hopDeadlineMs + config.fineract.timeoutMs,
      resolveMaxAgeMs: config.transferResolveMaxAgeS * 1000,
      switches,
      logger,
      // Fineract's business date (the date transfers carry), not Kiunga's clock: daily limits reset with it.
      today: () => client.businessDateNow(),
      // Threat T16: each money movement's attempt and outcome.
      audit,
      // Step-up (threat T31): a payee paid is no longer new, and the first money-out after a new PIN is done.
      afterDone: async (intent, hop) => {
        if (intent.kind === 'send') await payees.remember(intent.from.clientId, payeeOf(intent.to));
        await challenges.consumeFreshCredential(intent.from.clientId);
        // An agent's cash movement: the agent's SMS (float balance, or the cash to pay and its code).
        await agents?.afterDone(intent, hop).catch((error: unknown) => {
          logger.warn({ transfer: intent.ref, err: { type: (error as Error)?.name } }, 'agent SMS not queued');
        });
      },
    });
    queue.handle(RESOLVE_JOB, async (job) => transfers.resolve(job.clientId, job.id));
    // Issue 11: mandates of business accounts (maker-checker), re-checked just before an approved payment runs.
    const mandates = new MandateRegistry({
      store,
      keys,
      fineract,
      defaultExpiryS: config.approvals.defaultExpiryS,
      checkLimits: (clientId, cents) => transfers.checkLimits(clientId, cents),
      defaultLanguage: config.defaultLanguage,
      logger,
    });
    if (sandboxUrl) for (const demo of DEMO_MANDATES) await mandates.seedIfAbsent(demo.accountNo, demo.mandate);
    // Issue 11: approvals hold the funds, wait for k of M approvers and execute once through `transfers`.
    const approvals = createApprovalService({
      store,
      prefix: config.redisPrefix,
      fineract,
      transfers,
      queue,
      translator,
      audit,
      logger,
      switches,
      timeZone: config.timezone,
      ussdCode: config.approvals.ussdCode,
      // What is left of the approver's hop after the PIN check and the hold's release.
      executeBudgetMs: Math.round(config.hopDeadlineMs / 2),
      // Agent cash-out (threat T32): the agent may still work, same float, limits reserved just before it moves.
      rechecks: { mandate: mandates.recheck, 'cash-out': async (approval) => (agents ? agents.recheck(approval) : 'agent-unknown') },
      // A cash-out counts only after the customer typed the agent's store number (threat T32).
      confirms: { 'cash-out': async (approval, approver) => (agents ? agents.confirmCashOut(approval, approver) : false) },
    });
    approvals.registerJobs(queue); // `approval-expire`, `approval-warn`, `approval-settle`
    // Issue 12: sign-up profiles and loan applications, kept in Kiunga until a reviewer approves one for Fineract.
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
    const agentRegistry = createAgentRegistry({ store, keys });
    agents = new AgentService({
      store,
      keys,
      registry: agentRegistry,
      limiter: createAgentLimiter({ store, keys, today: () => client.businessDateNow() }),
      fineract,
      transfers,
      approvals,
      queue,
      translator,
      audit,
      logger,
      secret: config.pin.pepper,
      defaultCountry: config.defaultCountry,
      currency: config.currency,
      defaultLanguage: config.defaultLanguage,
      cashOutTtlMs: config.agents.cashOutExpiryS * 1000,
      idCheck: config.agents.idCheck,
      // The cash-out fee schedule (flows/fees/agent-fees.yaml), checked now: a bad one stops the start.
      fees: loadFeeSchedule(resolve(config.flowsDir)),
    });
    if (sandboxUrl) {
      for (const demo of DEMO_AGENTS) {
        if (await agentRegistry.get(demo.clientId)) continue;
        await agentRegistry.put({ ...demo, status: 'active', limits: DEFAULT_AGENT_LIMITS, updatedBy: 'system', updatedAt: Date.now() });
      }
    }
    outbound.register(queue); // `sms` and `call` jobs
    notifyLock = lockNoticeSender({
      queue,
      translator,
      store,
      keys,
      defaultLanguage: config.defaultLanguage,
      timeZone: config.timezone,
      findMsisdn: async (clientId) => (await fineract.getClient(clientId)).msisdn,
      logger,
    });
    registerHookJob({ fineract, store, keys, translator, defaultLanguage: config.defaultLanguage, queue, logger });
    // Threat T4: SIM_SWAP_PROVIDER; Africa's Talking answers by callback (its route is served by the app).
    const simSwap = createSimSwap(config, { store, keys, logger });
    // Threat T11: enrolment (ENROLMENT_MODE), PIN changes and self-unlock.
    const identity = createIdentityService({
      mode: config.identity.enrolmentMode,
      pins,
      challenges,
      fineract,
      simSwap: simSwap.check,
      queue,
      translator,
      store,
      keys,
      pepper: config.pin.pepper,
      supportPhone: config.identity.supportPhone,
      defaultLanguage: config.defaultLanguage,
      defaultCountry: config.defaultCountry,
      logger,
      audit,
    });
    await queue.start();

    const callbacks = new CallbackService({
      store,
      keys,
      queue,
      fineract,
      logger,
      settings: {
        homeCountry: config.defaultCountry,
        maxPerHour: config.callback.maxPerHour,
        maxPerMinute: config.callback.maxPerMinute,
        delayMs: config.callback.delayMs,
        pendingTtlMs: config.callback.pendingTtlS * 1000,
        retries: config.callback.retries,
        retryDelayMs: config.callback.retryDelayS * 1000,
        callTtlMs: config.voice.sessionTtlS * 1000,
      },
    });
    const voiceAudio = await loadAudioCatalogue({
      dir: resolve(config.localesDir, 'audio'),
      baseUrl: config.voice.audioUrl ?? (config.publicUrl ? `${config.publicUrl.replace(/\/+$/, '')}/voice/audio` : undefined),
      translator: loadedTexts,
      logger,
    });

    const impl = createImplementations({
      fineract,
      pins,
      logger,
      ...(lookupCache
        ? {
            warmAccounts: (clientId: number, hop: HopContext | undefined) =>
              store.readAhead?.(hop, [lookupKey(keys, 'accounts', clientId)]),
          }
        : {}),
      callbacks,
      smsPinEnabled: config.sms.pinEnabled,
      identity,
      agents,
      money: {
        transfers,
        secret: config.pin.pepper,
        defaultCountry: config.defaultCountry,
        currency: config.currency,
        fallbackBudgetMs: config.hopDeadlineMs,
        limits: config.limits,
        // Threat T4: the sandbox's list of freshly swapped SIMs; a real deployment plugs a provider check in here.
        simSwap: simSwap.check,
        challenges,
        stepUp: config.stepUp,
        payees,
        // The kill switch `money`: a money journey is refused at its start and before anything is sent.
        switches,
        // Issue 11 (T15): a money-out from an account with a mandate is raised for approval, whoever dials.
        mandates: { registry: mandates, approvals },
      },
      // Issue 11: "Business: <name>" for initiators, and "Approvals" for whoever has requests waiting.
      approvals: { approvals, mandates, timeZone: config.timezone, moneyAllowed: () => switches.moneyAllowed() },
      // Issue 12: LOAN / MKOPO / PRET by SMS; My applications and Apply for a loan on USSD (catalogue terms).
      applications,
      catalogue: productCatalogue,
      // Issue 12: an unknown number may sign up on USSD; its PIN is kept under the profile until it is a client.
      signup: { profiles, pins },
    });
    const flows = await loadFlowVersions(resolve(config.flowsDir), impl, loadedTexts);
    const flowWatcher = options.watch
      ? watchFlows({
          flowsDir: resolve(config.flowsDir),
          localesDir: resolve(config.localesDir),
          fallback: config.defaultLanguage,
          impl,
          flows,
          translator,
          logger,
        })
      : undefined;
    if (flowWatcher) closers.push(async () => flowWatcher.close());
    const runner = new TurnRunner({
      store,
      keys,
      flows,
      translator,
      logger,
      defaultLanguage: config.defaultLanguage,
      switches,
      // Threat T29: a retried money confirmation whose first run died holding the session gets "being processed" and the SMS
      // (an agent's cash-in too), or the approval its first run raised; a retried approval, what its record knows.
      tellLostConfirmation: async (context, actor) => {
        if (actor === 'agentCashIn') return tellLostCashIn(agents, context);
        if (actor === 'agentCashOut') return tellLostCashOut(agents, context);
        if (actor === 'approveRequest') return tellLostApproval(approvals, context);
        return tellLostConfirmation({ transfers, mandates: { registry: mandates, approvals } }, context);
      },
      // A dial's cached customer lookup and whether the number's customer has a PIN come with the session lock.
      readAhead: (req: { msisdn: string }) => [
        ...(lookupCache ? [lookupKey(keys, 'client-by-phone', req.msisdn)] : []),
        keys.forMsisdn(req.msisdn, 'pin:known'),
      ],
      profiles: {
        ussd: ussdProfile({
          ttlMs: config.ussd.sessionTtlS * 1000,
          limits: { 'GSM-7': config.ussd.maxChars, 'UCS-2': config.ussd.maxUcs2 },
          translator,
        }),
        // Call-back IVR: the adapters render TwiML / AT voice XML from the neutral turn.
        voice: voiceProfile({ ttlMs: config.voice.sessionTtlS * 1000 }),
        // One reply per message, at most 2 SMS parts; the record answers a provider retry of the message for an hour.
        sms: smsProfile({ ttlMs: 3_600_000, maxSegments: SMS_MAX_PARTS }),
      },
    });
    return {
      config,
      logger,
      store,
      keys,
      fineract,
      translator,
      runner,
      pins,
      flows,
      gateway,
      queue,
      messenger,
      dialer,
      callbacks,
      approvals,
      mandates,
      agents,
      agentRegistry,
      profiles,
      applications,
      voiceAudio,
      productCatalogue,
      outbox,
      calls,
      transfers,
      challenges,
      audit,
      switches,
      clock,
      lockedCustomers,
      identity,
      sandbox,
      sandboxUrl,
      flowWatcher,
      abuse,
      unknownLookupsRefused: cached?.unknownLookupsRefused,
      // The browser phone: with the built-in sandbox, or when the caller asks for it (development).
      simSwapCallbacks: simSwap.router,
      // The browser phone: SIMULATOR (default: with the built-in sandbox only), or when the caller asks for it.
      simulator: config.simulator || options.simulator ? { sandbox: Boolean(sandboxUrl) } : undefined,
      async close() {
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
