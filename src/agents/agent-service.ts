import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import { maskName } from '../text/names.js';
import type { TransferIntent, TransferOutcome } from '../money/transfer-types.js';
import type { ApprovalConfirm, ApprovalRecheck, ApprovalRecord } from '../approvals/approval.js';
import type { AgentRecord } from './registry.js';
import type { Direction, LimitRule } from './limits.js';
import { cashOutFee } from './fees.js';
import type { HopContext } from '../session/hop-context.js';
import { AgentRefusal, type AgentServiceDeps, type CashCustomer, type CashInMovement } from './agent-types.js';
import { cashInIntent, cashInMovement, cashOutKey } from './agent-movements.js';
import { tellCashDone } from './agent-notices.js';

/**
 * Agent cash-in and cash-out (issue 11; threats T14, T32).
 *
 * Cash-in: the agent's float pays the customer's savings, once, through the transfer service (its record and
 * idempotency key before the call, its resolution after a timeout), after the agent's PIN. The daily limits are
 * reserved first and the float floor read, both before the transfer is sent.
 *
 * Cash-out: never a push one key approves. The agent's request opens an approval of kind `cash-out` (the
 * customer is its only approver; the amount is held on the customer's savings meanwhile). The customer opens
 * Approvals on their own phone, types the store number on the agent's counter (checked here) and their PIN;
 * only then do the customer's savings pay the agent's float, once, with the approval's id as the key. The
 * agent is told to hand over the cash with a short code the customer also receives, so the agent pays the
 * person who confirmed.
 */

export class AgentService {
  constructor(private readonly deps: AgentServiceDeps) {}

  /** The caller's agent record when it may work now; otherwise why not. */
  async agentOf(clientId: number): Promise<AgentRecord> {
    const agent = await this.deps.registry.get(clientId);
    if (!agent) throw new AgentRefusal('not-agent');
    if (agent.status !== 'active') throw new AgentRefusal('suspended');
    return agent;
  }

  /** AGENT_CASHOUT_ID_CHECK. */
  get idCheck(): boolean {
    return this.deps.idCheck === true;
  }

  /**
   * The ID number the agent keyed is one of the customer's active identifiers in Fineract. A mismatch is
   * audited (`agent.id-mismatch`): an agent trying numbers shows in the trail.
   */
  async idMatches(agent: AgentRecord, customer: CashCustomer, typed: string, hop?: HopContext): Promise<boolean> {
    if (await this.deps.fineract.hasIdentifier(customer.clientId, typed, { hop })) return true;
    await this.deps.audit
      .record({
        type: 'agent.id-mismatch',
        actor: `customer:${agent.clientId}`,
        clientId: agent.clientId,
        data: { customerId: customer.clientId },
      })
      .catch(() => undefined);
    return false;
  }

  /** The customer of the number the agent typed: active, with a savings account, not the agent. */
  async findCustomer(agent: AgentRecord, typed: string, hop?: HopContext): Promise<CashCustomer | undefined> {
    const msisdn = toE164(typed, this.deps.defaultCountry as CountryCode);
    if (!msisdn) return undefined;
    const client = await this.deps.fineract.findClientByPhone(msisdn, { hop });
    if (!client || !client.active || client.clientId === agent.clientId) return undefined;
    const account = (await this.deps.fineract.listAccounts(client.clientId, { hop })).savings[0];
    if (!account) return undefined;
    return { clientId: client.clientId, officeId: client.officeId, accountId: account.id, label: maskName(client.displayName), msisdn };
  }

  /** The fee a cash-out of this amount costs the customer (0 for a cash-in: it is free). */
  feeFor(direction: Direction, cents: number): number {
    return direction === 'out' ? cashOutFee(this.deps.fees, cents) : 0;
  }

  /** The limits as they stand and, for a cash-in, the float floor: refused (and audited) before the PIN is asked. */
  async check(agent: AgentRecord, customer: CashCustomer, direction: Direction, cents: number, hop?: HopContext): Promise<void> {
    const rule = await this.deps.limiter.check({
      agentClientId: agent.clientId,
      customerClientId: customer.clientId,
      direction,
      cents,
      limits: agent.limits,
    });
    if (rule) await this.refuse(agent, customer, direction, cents, rule);
    if (direction === 'in') await this.checkFloat(agent, customer, cents, hop);
  }

  /**
   * Cash-in, after the agent's PIN: reserves the limits, checks the float floor, then moves the money once
   * (the intent's random key). A refusal releases the reservation; an uncertain outcome keeps it.
   */
  async cashIn(
    agent: AgentRecord,
    customer: CashCustomer,
    cents: number,
    movement: CashInMovement,
    deadlineAt: number,
    /** Aborts when the hop stopped waiting: a refusal then reaches the agent by SMS, not on screen. */
    signal?: AbortSignal,
    /** The hop the cash-in runs in, whose deadline its Fineract calls are given. */
    hop?: HopContext,
  ): Promise<{ intent: TransferIntent; outcome: TransferOutcome }> {
    const reserved = await this.deps.limiter.reserve(cashInMovement(agent, customer, cents, movement));
    if (!reserved.ok) return this.refuse(agent, customer, 'in', cents, reserved.rule);
    const { reservation } = reserved;
    const intent = cashInIntent(agent, customer, cents, movement, this.deps.currency);
    try {
      await this.checkFloat(agent, customer, cents, hop);
      const outcome = await this.deps.transfers.execute(intent, deadlineAt, { ...(signal ? { signal } : {}), ...(hop ? { hop } : {}) });
      if (outcome.status === 'failed') await reservation.release();
      return { intent, outcome };
    } catch (error) {
      // Refused before the transfer was recorded (float floor, money paused): nothing moved.
      await reservation.release().catch(() => undefined);
      throw error;
    }
  }

  /**
   * A retry of the cash-in's confirming hop whose first run still holds the session (its process died, or it
   * is slow; threat T29): the outcome goes by SMS, as for any transfer (`TransferService.tellLater`: nothing
   * sent yet is settled as not sent, so the first run's `execute` sends nothing). When nothing was sent, the
   * limits the first run may have reserved are given back. Resolves the movement's ref.
   */
  async tellLostCashIn(agentClientId: number, customer: CashCustomer, cents: number, movement: CashInMovement): Promise<string> {
    // The record as it is, suspended or not: its float is the account the first run paid from.
    const agent = await this.deps.registry.get(agentClientId);
    if (!agent) throw new AgentRefusal('not-agent');
    const intent = cashInIntent(agent, customer, cents, movement, this.deps.currency);
    const status = await this.deps.transfers.tellLater(intent, 'unavailable');
    if (status === 'failed') {
      await this.deps.limiter.release(cashInMovement(agent, customer, cents, movement));
    }
    return intent.ref;
  }

  /**
   * Cash-out request: the limits as they stand (reserved only when the customer's confirmation executes it),
   * then an approval the customer alone can give, with the amount held on the customer's savings. `id` is the
   * request's id, fixed by the agent's confirmation screen: a hop that runs again (its first run died after
   * raising the request) gets the request raised, and a retry that finds the first run still holding the
   * session asks `tellLostCashOut` (threat T29).
   */
  async requestCashOut(
    agent: AgentRecord,
    customer: CashCustomer,
    cents: number,
    requester: { msisdn: string; lang: string; label: string; officeId: number; idChecked?: boolean },
    id: string,
    hop?: HopContext,
  ): Promise<ApprovalRecord> {
    const raised = await this.deps.approvals.raised(cashOutKey(id));
    if (raised) return raised;
    if (this.idCheck && !requester.idChecked) throw new AgentRefusal('id-unchecked');
    await this.check(agent, customer, 'out', cents, hop);
    // One open request per agent and customer: an agent cannot pile up requests (and holds on the customer's
    // savings) that the customer would have to wade through, nor push again and again until one is confirmed.
    const open = await this.deps.approvals.waitingFor(customer.clientId);
    if (open.some((a) => a.kind === 'cash-out' && a.requester.clientId === agent.clientId)) throw new AgentRefusal('pending');
    const lang = customer.lang ?? this.deps.defaultLanguage;
    const fee = this.feeFor('out', cents);
    return this.deps.approvals.request(
      {
        kind: 'cash-out',
        // Held with the cash from the start, and moved in the same transfer (src/agents/fees.ts).
        ...(fee > 0 ? { feeCents: fee } : {}),
        intent: {
          // id and ref are the approval's own (the service replaces them).
          id: '',
          ref: '',
          kind: 'send',
          cash: 'out',
          msisdn: customer.msisdn,
          lang,
          from: { clientId: customer.clientId, officeId: customer.officeId, accountId: customer.accountId },
          to: { clientId: agent.clientId, officeId: requester.officeId, accountId: agent.floatAccountId, type: 'savings' },
          amountCents: cents,
          currency: this.deps.currency,
          counterparty: `${requester.label} (${agent.storeNumber})`,
          senderLabel: customer.label,
        },
        requester: { clientId: agent.clientId, label: requester.label, msisdn: requester.msisdn, lang: requester.lang },
        approvers: [{ clientId: customer.clientId, label: customer.label, msisdn: customer.msisdn, lang }],
        required: 1,
        rule: `agent:${agent.clientId} store ${agent.storeNumber} cash-out`,
        ttlMs: this.deps.cashOutTtlMs,
        key: cashOutKey(id),
      },
      hop,
    );
  }

  /**
   * A retry of the agent's cash-out confirmation whose first run still holds the session lock (its process
   * died, or it is slow; threat T29): the request that run raised, or undefined when it raised none, and from
   * then on it cannot raise one (`ApprovalService.voidRequest`: a run still going refuses and releases its hold).
   */
  async tellLostCashOut(customer: CashCustomer, id: string): Promise<ApprovalRecord | undefined> {
    return this.deps.approvals.voidRequest(cashOutKey(id), customer.accountId);
  }

  /**
   * The customer's check on their own phone: the store number typed must be the requesting agent's. Only the
   * approver of an open cash-out is answered; anything else is `false`.
   */
  async storeMatches(approvalId: string, customerClientId: number, typed: string): Promise<boolean> {
    const approval = await this.deps.approvals.get(approvalId);
    if (!approval || approval.kind !== 'cash-out' || approval.state !== 'pending') return false;
    if (!approval.approvers.some((a) => a.clientId === customerClientId)) return false;
    const agent = await this.deps.registry.get(approval.requester.clientId);
    const matches = agent !== undefined && agent.storeNumber === typed.trim();
    if (matches) {
      const left = Math.max(1000, approval.expiresAt - Date.now());
      await this.deps.store.set(this.storeCheckedKey(approvalId, customerClientId), '1', left);
    }
    return matches;
  }

  /**
   * Given to the approval service for kind `cash-out` (threat T32): a customer's approval counts only after
   * they typed the right store number for this very request, whatever the flow file says.
   */
  readonly confirmCashOut: ApprovalConfirm = async (approval, approverClientId) =>
    (await this.deps.store.get(this.storeCheckedKey(approval.id, approverClientId))) !== null;

  private storeCheckedKey(approvalId: string, clientId: number): string {
    return this.deps.keys.forCustomer(clientId, `cash-out:store-ok:${approvalId}`);
  }

  /**
   * Run by the approval service just before a cash-out executes: the agent may still work, the float is still
   * the one requested, and the limits are reserved now (once per approval). A reason fails the approval.
   */
  readonly recheck: ApprovalRecheck = async (approval) => {
    const agent = await this.deps.registry.get(approval.requester.clientId);
    if (!agent) return 'agent-unknown';
    if (agent.status !== 'active') return 'agent-suspended';
    if (agent.floatAccountId !== approval.intent.to.accountId) return 'agent-changed';
    const reserved = await this.deps.limiter.reserve({
      id: approval.id,
      agentClientId: agent.clientId,
      customerClientId: approval.intent.from.clientId,
      direction: 'out',
      cents: approval.intent.amountCents,
      limits: agent.limits,
    });
    if (!reserved.ok) {
      await this.auditLimit(agent, approval.intent.from.clientId, 'out', approval.intent.amountCents, reserved.rule);
      return 'agent-limit';
    }
    return undefined;
  };

  /**
   * Told of every transfer that is done (the transfer service's afterDone, whoever settled it): the agent's
   * SMS of a cash-in carries the float balance; a cash-out tells the agent to pay, with the code the customer
   * also gets. Each SMS once (its job id derives from the movement's key).
   */
  async afterDone(intent: TransferIntent, hop?: HopContext): Promise<void> {
    return tellCashDone(this.deps, intent, hop);
  }

  /** The float's balance (available) and its last transactions. */
  async float(agent: AgentRecord, transactions = false, hop?: HopContext) {
    return this.deps.fineract.getOwnedSavingsAccount(agent.clientId, agent.floatAccountId, { transactions, hop });
  }

  private async checkFloat(agent: AgentRecord, customer: CashCustomer, cents: number, hop: HopContext | undefined): Promise<void> {
    const float = await this.float(agent, false, hop);
    const available = Math.round(float.availableBalance * 10 ** float.decimalPlaces);
    if (available - cents < agent.limits.floatFloorCents) {
      await this.auditLimit(agent, customer.clientId, 'in', cents, 'float-floor');
      throw new AgentRefusal('float-low', 'float-floor');
    }
  }

  private async refuse(agent: AgentRecord, customer: CashCustomer, direction: Direction, cents: number, rule: LimitRule): Promise<never> {
    await this.auditLimit(agent, customer.clientId, direction, cents, rule);
    throw new AgentRefusal('limit', rule);
  }

  private async auditLimit(agent: AgentRecord, customerClientId: number, direction: Direction, cents: number, rule: LimitRule) {
    this.deps.logger.info({ agent: agent.clientId, direction, rule }, 'agent limit refused a movement');
    await this.deps.audit
      .record({
        type: 'agent.limit',
        actor: `customer:${agent.clientId}`,
        clientId: agent.clientId,
        data: { rule, direction, amountMinor: cents, currency: this.deps.currency, customerId: customerClientId },
      })
      .catch((error: unknown) => {
        this.deps.logger.warn({ agent: agent.clientId, err: { type: (error as Error)?.name } }, 'audit entry not written');
      });
  }
}
