import { resolve } from 'node:path';
import type { Config } from '../config.js';
import { SMS_MAX_PARTS } from '../constants.js';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { HopContext } from '../session/hop-context.js';
import type { SwitchBoard } from '../control/switch-board.js';
import type { Translator } from '../text/i18n.js';
import type { FineractClient } from '../fineract/types.js';
import { lookupKey, type LookupCache } from '../fineract/cache.js';
import type { PinService } from '../security/pin.js';
import type { IdentityService } from '../security/enrolment.js';
import type { ChallengeServiceRuntime } from '../security/challenge.js';
import type { PaidPayees } from '../security/paid-payees.js';
import type { SimSwapSetup } from '../security/sim-swap-provider.js';
import type { CallbackService } from '../callback/callbacks.js';
import type { TransferService } from '../money/transfer-service.js';
import type { RedisApprovalService } from '../approvals/approval-service.js';
import type { MandateRegistry } from '../approvals/mandates.js';
import type { AgentService } from '../agents/agent-service.js';
import type { ProfileService } from '../origination/profiles.js';
import type { ApplicationService } from '../origination/applications.js';
import type { Catalogue } from '../engine/catalogue.js';
import { createImplementations } from '../engine/registry.js';
import { loadFlowVersions, type FlowVersions } from '../engine/flow-versions.js';
import { TurnRunner } from '../engine/turn-runner.js';
import { tellLostConfirmation } from '../engine/registry-money.js';
import { tellLostCashIn, tellLostCashOut } from '../engine/registry-agents.js';
import { tellLostApproval } from '../engine/registry-approvals.js';
import { watchFlows, type FlowWatcher, type SwitchableTranslator } from '../engine/hot-reload.js';
import { ussdProfile } from '../channels/ussd-screen.js';
import { voiceProfile } from '../channels/voice-render.js';
import { smsProfile } from '../channels/sms-screen.js';

/**
 * The flows in the composition root (services.ts): the named actors, actions and guards they run on (built
 * from the services), the flow versions (watched for hot reload when asked) and the turn runner with each
 * channel's rendering profile.
 */
export interface EngineWiring {
  flows: FlowVersions;
  flowWatcher?: FlowWatcher;
  runner: TurnRunner;
}

export interface EngineWiringDeps {
  store: KeyValueStore;
  keys: Keys;
  fineract: FineractClient;
  lookupCache?: LookupCache;
  pins: PinService;
  identity: IdentityService;
  challenges: ChallengeServiceRuntime;
  payees: PaidPayees;
  simSwap: SimSwapSetup;
  switches: SwitchBoard;
  callbacks: CallbackService;
  transfers: TransferService;
  mandates: MandateRegistry;
  approvals: RedisApprovalService;
  agents: AgentService;
  profiles: ProfileService;
  applications: ApplicationService;
  productCatalogue: Catalogue | null;
  /** The server's texts, switched by a hot reload. */
  translator: SwitchableTranslator;
  /** The texts loaded at start (the first flow versions keep them). */
  loadedTexts: Translator;
}

/** Builds the flows' implementations, loads the flow versions and builds the turn runner. */
export async function buildEngine(
  config: Config,
  logger: Logger,
  deps: EngineWiringDeps,
  options: { watch?: boolean },
  closers: (() => Promise<void>)[],
): Promise<EngineWiring> {
  const { store, keys, fineract, lookupCache, pins, identity, challenges, payees, simSwap, switches, callbacks } = deps;
  const { transfers, mandates, approvals, agents, profiles, applications, productCatalogue, translator, loadedTexts } = deps;
  const impl = createImplementations({
    fineract,
    pins,
    logger,
    ...(lookupCache
      ? {
          warmAccounts: (clientId: number, hop: HopContext | undefined) => store.readAhead?.(hop, [lookupKey(keys, 'accounts', clientId)]),
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
  return { flows, flowWatcher, runner };
}
