import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { ClockGuard } from '../control/clock-guard.js';
import type { SwitchBoard } from '../control/switch-board.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Translator } from '../text/i18n.js';
import type { FineractClient } from '../fineract/types.js';
import type { JobQueue } from '../jobs/queue.js';
import { RESOLVE_JOB } from '../jobs/catalogue.js';
import { TransferService } from '../money/transfer-service.js';
import { payeeOf } from '../money/transfer-types.js';
import { translatedReceipts } from '../money/receipts.js';
import type { ChallengeServiceRuntime } from '../security/challenge.js';
import type { PaidPayees } from '../security/paid-payees.js';
import { createApprovalService, type RedisApprovalService } from '../approvals/approval-service.js';
import { MandateRegistry } from '../approvals/mandates.js';
import { DEMO_MANDATES } from '../approvals/demo-mandates.js';
import type { AgentService } from '../agents/agent-service.js';

/**
 * Money and approvals in the composition root (services.ts): the transfer service and its resolution job, the
 * mandates of business accounts, and the approvals that hold funds and execute through the transfers.
 */
export interface MoneyWiring {
  transfers: TransferService;
  mandates: MandateRegistry;
  approvals: RedisApprovalService;
}

export interface MoneyWiringDeps {
  store: KeyValueStore;
  keys: Keys;
  fineract: FineractClient;
  /** The client itself: Fineract's business date. */
  client: FineractClient;
  queue: JobQueue;
  clock: ClockGuard;
  translator: Translator;
  switches: SwitchBoard;
  audit: AuditLog;
  payees: PaidPayees;
  challenges: ChallengeServiceRuntime;
  /** Set when the built-in sandbox runs (demo mandates are seeded). */
  sandboxUrl?: string;
  /**
   * The agents, built after the approvals they open: the transfer service and the approvals call into them
   * (afterDone, the cash-out recheck) only once money moves, long after they are built.
   */
  agents: () => AgentService | undefined;
}

/** Builds the transfers, mandates and approvals, and registers their jobs (before `queue.start()`). */
export async function buildMoney(config: Config, logger: Logger, deps: MoneyWiringDeps): Promise<MoneyWiring> {
  const { store, keys, fineract, client, queue, clock, translator, switches, audit, payees, challenges, sandboxUrl, agents } = deps;
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
      await agents()
        ?.afterDone(intent, hop)
        .catch((error: unknown) => {
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
    rechecks: {
      mandate: mandates.recheck,
      'cash-out': async (approval) => {
        const registered = agents();
        return registered ? registered.recheck(approval) : 'agent-unknown';
      },
    },
    // A cash-out counts only after the customer typed the agent's store number (threat T32).
    confirms: {
      'cash-out': async (approval, approver) => {
        const registered = agents();
        return registered ? registered.confirmCashOut(approval, approver) : false;
      },
    },
  });
  approvals.registerJobs(queue); // `approval-expire`, `approval-warn`, `approval-settle`
  return { transfers, mandates, approvals };
}
