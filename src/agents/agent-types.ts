import type { Logger } from 'pino';
import type { FineractClient } from '../fineract/types.js';
import type { JobQueue } from '../jobs/queue.js';
import type { AuditTrail } from '../audit/audit.js';
import type { Translator } from '../text/i18n.js';
import type { TransferService } from '../money/transfer-service.js';
import type { ApprovalService } from '../approvals/approval.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { AgentRegistry } from './registry.js';
import type { AgentLimiter, LimitRule } from './limits.js';
import type { FeeSchedule } from './fees.js';

/** What the agent service (agent-service.ts) is given, the parties of a cash movement, and its refusals. */

/** Why a cash movement was refused before anything was sent; `limit` carries the rule. */
export class AgentRefusal extends Error {
  constructor(
    readonly code: 'limit' | 'float-low' | 'not-agent' | 'suspended' | 'id-unchecked' | 'pending',
    readonly rule?: LimitRule,
  ) {
    super(`agent movement refused: ${rule ?? code}`);
    this.name = 'AgentRefusal';
  }
}

/** The customer on the other side of the counter, as the agent's screen shows them. */
export interface CashCustomer {
  clientId: number;
  officeId: number;
  accountId: number;
  /** "Amina W." */
  label: string;
  msisdn: string;
  lang?: string;
}

/** A cash-in as the agent confirmed it: its key (drawn on the confirmation screen) and the agent's details. */
export interface CashInMovement {
  id: string;
  agentMsisdn: string;
  agentLang: string;
  agentLabel: string;
  agentOfficeId: number;
}

export interface AgentServiceDeps {
  /** Where a customer's passed store-number check is remembered until their approval (`confirmCashOut`). */
  store: KeyValueStore;
  keys: Keys;
  registry: AgentRegistry;
  limiter: AgentLimiter;
  fineract: Pick<FineractClient, 'findClientByPhone' | 'getClient' | 'listAccounts' | 'getOwnedSavingsAccount' | 'hasIdentifier'>;
  transfers: Pick<TransferService, 'execute' | 'tellLater'>;
  approvals: Pick<ApprovalService, 'request' | 'get' | 'waitingFor' | 'raised' | 'voidRequest'>;
  queue: JobQueue;
  translator: Translator;
  audit: AuditTrail;
  logger: Logger;
  /** Keys the cash-out code (a keyed hash of the approval's id: never stored, the same wherever it is made). */
  secret: string;
  defaultCountry: string;
  currency: string;
  defaultLanguage: string;
  /** AGENT_CASHOUT_EXPIRY_S, in ms. */
  cashOutTtlMs: number;
  /** AGENT_CASHOUT_ID_CHECK: the agent keys the customer's ID number before a cash-out request. */
  idCheck?: boolean;
  /** The cash-out fee schedule (flows/fees/agent-fees.yaml); none: no fees. */
  fees?: FeeSchedule;
}
