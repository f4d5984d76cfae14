import { resolve } from 'node:path';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createMemoryStore } from './session/memory-store.js';
import { createRedisStore } from './session/redis-store.js';
import { createKeys } from './session/keys.js';
import { createAuditTrail, type AuditLog } from './audit/audit-log.js';
import { ClockGuard } from './control/clock-guard.js';
import { SwitchBoard } from './control/switch-board.js';
import { LockedCustomers } from './admin/locked-customers.js';
import type { KeyValueStore } from './session/store.js';
import { createPinService } from './security/pin-service.js';
import type { PinLockNotice } from './security/pin.js';
import { lockNoticeSender } from './security/lock-notice.js';
import { createIdentityService } from './security/enrolment.js';
import { DEMO_PINS } from './security/demo-pins.js';
import { createSimSwap } from './security/sim-swap-provider.js';
import { SYNTHETIC_FIRST_ID, SYNTHETIC_PIN } from './sandbox/synthetic.js';
import { createTranslator } from './text/i18n.js';
import { loadAudioCatalogue, type AudioCatalogue } from './channels/voice-audio.js';
import { CallbackService } from './callback/callbacks.js';
import type { AppDeps } from './app.js';
import { createBullQueue, createMemoryQueue, type JobQueue } from './jobs/queue.js';
import type { Messenger } from './messaging/messenger.js';
import type { Dialer } from './messaging/dialer.js';
import { createOutbound } from './messaging/outbound.js';
import { registerHookJob } from './hooks/fineract-hooks.js';
import { createChallengeService, type ChallengeServiceRuntime } from './security/challenge.js';
import { createPaidPayees } from './security/paid-payees.js';
import type { RedisStore } from './session/redis-store.js';
import type { Sandbox } from './sandbox/server.js';
import type { FineractGateway } from './fineract/gateway.js';
import type { FlowVersions } from './engine/flow-versions.js';
import type { Catalogue } from './engine/catalogue.js';
import { SwitchableTranslator, type FlowWatcher } from './engine/hot-reload.js';
import type { TransferService } from './money/transfer-service.js';
import type { RedisApprovalService } from './approvals/approval-service.js';
import type { MandateRegistry } from './approvals/mandates.js';
import type { AgentRegistry } from './agents/registry.js';
import type { AgentService } from './agents/agent-service.js';
import type { ProfileService } from './origination/profiles.js';
import type { ApplicationService } from './origination/applications.js';
import { buildFineract } from './services/fineract.js';
import { buildMoney } from './services/money.js';
import { buildOrigination } from './services/origination.js';
import { buildAgents } from './services/agents.js';
import { buildEngine } from './services/engine.js';

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

/**
 * Builds the services in a fixed order (closed in the reverse order); the wiring of Fineract, money and approvals,
 * origination, agents and the flows is in src/services/, one function per group, each given what it needs.
 */
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
    const { sandbox, sandboxUrl, gateway, productCatalogue, client, abuse, lookupCache, cached, fineract } = await buildFineract(
      config,
      logger,
      { store, keys, clock },
      closers,
    );

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
    const { transfers, mandates, approvals } = await buildMoney(config, logger, {
      store,
      keys,
      fineract,
      client,
      queue,
      clock,
      translator,
      switches,
      audit,
      payees,
      challenges,
      sandboxUrl,
      agents: () => agents,
    });
    // Issue 12: sign-up profiles and loan applications, kept in Kiunga until a reviewer approves one for Fineract.
    const { profiles, applications } = buildOrigination(
      config,
      logger,
      { store, keys, client, fineract, lookupCache, productCatalogue, queue, translator, audit },
      closers,
    );
    // Issue 11: the agent registry, cash-in and cash-out (the `agents` the closures above read).
    const built = await buildAgents(config, logger, {
      store,
      keys,
      client,
      fineract,
      transfers,
      approvals,
      queue,
      translator,
      audit,
      sandboxUrl,
    });
    const { agentRegistry } = built;
    agents = built.agents;
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

    const { flows, flowWatcher, runner } = await buildEngine(
      config,
      logger,
      {
        store,
        keys,
        fineract,
        lookupCache,
        pins,
        identity,
        challenges,
        payees,
        simSwap,
        switches,
        callbacks,
        transfers,
        mandates,
        approvals,
        agents,
        profiles,
        applications,
        productCatalogue,
        translator,
        loadedTexts,
      },
      options,
      closers,
    );
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
