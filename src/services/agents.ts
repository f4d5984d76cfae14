import { resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Translator } from '../text/i18n.js';
import type { FineractClient } from '../fineract/types.js';
import type { JobQueue } from '../jobs/queue.js';
import type { TransferService } from '../money/transfer-service.js';
import type { RedisApprovalService } from '../approvals/approval-service.js';
import { createAgentRegistry, DEFAULT_AGENT_LIMITS, type AgentRegistry } from '../agents/registry.js';
import { createAgentLimiter } from '../agents/limits.js';
import { AgentService } from '../agents/agent-service.js';
import { DEMO_AGENTS } from '../agents/demo-agents.js';
import { loadFeeSchedule } from '../agents/fees.js';

/** Agents in the composition root (services.ts, issue 11): the registry, cash-in and cash-out, and their fees. */
export interface AgentsWiring {
  agentRegistry: AgentRegistry;
  agents: AgentService;
}

export interface AgentsWiringDeps {
  store: KeyValueStore;
  keys: Keys;
  /** The client itself: Fineract's business date (the agents' daily limits). */
  client: FineractClient;
  fineract: FineractClient;
  transfers: TransferService;
  approvals: RedisApprovalService;
  queue: JobQueue;
  translator: Translator;
  audit: AuditLog;
  /** Set when the built-in sandbox runs (demo agents are registered). */
  sandboxUrl?: string;
}

/** Builds the agent registry and service; the fee schedule is checked now (a bad one stops the start). */
export async function buildAgents(config: Config, logger: Logger, deps: AgentsWiringDeps): Promise<AgentsWiring> {
  const { store, keys, client, fineract, transfers, approvals, queue, translator, audit, sandboxUrl } = deps;
  const agentRegistry = createAgentRegistry({ store, keys });
  const agents = new AgentService({
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
  return { agentRegistry, agents };
}
