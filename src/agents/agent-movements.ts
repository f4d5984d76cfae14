import type { TransferIntent } from '../money/transfer-types.js';
import type { AgentRecord } from './registry.js';
import type { LimitInput } from './limits.js';
import type { CashCustomer, CashInMovement } from './agent-types.js';

/**
 * What an agent's cash movement is to the services it goes through (agent-service.ts moves it): a cash-in as
 * a transfer and as the agent limits count it, a cash-out request as the key of the approval it raises.
 */

/** What the agent limits count of a cash-in: reserved before it moves, given back when it did not. */
export function cashInMovement(
  agent: AgentRecord,
  customer: CashCustomer,
  cents: number,
  movement: CashInMovement,
): LimitInput & { id: string } {
  return {
    id: movement.id,
    agentClientId: agent.clientId,
    customerClientId: customer.clientId,
    direction: 'in',
    cents,
    limits: agent.limits,
  };
}

/** The key of the approval a cash-out request raises (`ApprovalRequest.key`), from the request's id. */
export const cashOutKey = (id: string) => `cash-out:${id}`;

/** The transfer a cash-in is: the float pays the customer's savings, keyed by the movement's id. */
export function cashInIntent(
  agent: AgentRecord,
  customer: CashCustomer,
  cents: number,
  movement: CashInMovement,
  currency: string,
): TransferIntent {
  return {
    id: movement.id,
    ref: movement.id.slice(0, 8).toUpperCase(),
    kind: 'send',
    cash: 'in',
    msisdn: movement.agentMsisdn,
    lang: movement.agentLang,
    from: { clientId: agent.clientId, officeId: movement.agentOfficeId, accountId: agent.floatAccountId },
    to: { clientId: customer.clientId, officeId: customer.officeId, accountId: customer.accountId, type: 'savings' },
    amountCents: cents,
    currency,
    counterparty: customer.label,
    recipientMsisdn: customer.msisdn,
    senderLabel: movement.agentLabel,
  };
}
