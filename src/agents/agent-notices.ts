import { createHmac } from 'node:crypto';
import { SMS_JOB } from '../jobs/catalogue.js';
import { toGsm } from '../text/gsm.js';
import type { TransferIntent } from '../money/transfer-types.js';
import type { HopContext } from '../session/hop-context.js';
import type { AgentServiceDeps } from './agent-types.js';

/**
 * The SMS of an agent's cash movement once its transfer is done (agent-service.ts `afterDone`): the agent's
 * cash-in receipt with the float balance; after a cash-out, the agent's order to pay and the customer's code.
 */

/** The 4-digit code of a cash-out: the agent reads it from their SMS, the customer from theirs. */
export function cashOutCode(secret: string, approvalId: string): string {
  const n = createHmac('sha256', secret).update(`cash-out:${approvalId}`).digest().readUInt32BE(0) % 10_000;
  return String(n).padStart(4, '0');
}

/**
 * Sends the SMS of the done cash movement `intent` (nothing for a transfer that is not one), each once (its job
 * id derives from the movement's key).
 */
export async function tellCashDone(
  deps: Pick<AgentServiceDeps, 'translator' | 'queue' | 'fineract' | 'approvals' | 'secret' | 'defaultLanguage'>,
  intent: TransferIntent,
  hop?: HopContext,
): Promise<void> {
  if (!intent.cash) return;
  const { translator, queue } = deps;
  const amount = (lang: string) => translator.formatAmount(lang, intent.amountCents / 100, intent.currency);
  if (intent.cash === 'in') {
    const float = await deps.fineract.getOwnedSavingsAccount(intent.from.clientId, intent.from.accountId, { hop });
    const lang = intent.lang;
    const text = translator.t(lang, 'agent.sms.cashInDone', {
      amount: amount(lang),
      customer: intent.counterparty,
      ref: intent.ref,
      float: translator.formatAmount(lang, float.availableBalance, float.currency, float.decimalPlaces),
    });
    await queue.add(SMS_JOB, { to: intent.msisdn, text: toGsm(text), ref: intent.ref }, { jobId: `sms-${intent.id}-agent` });
    return;
  }
  const approval = await deps.approvals.get(intent.id);
  const agent = approval?.requester;
  if (!approval || !agent?.msisdn) return;
  // The transfer moved the cash and the fee together; the cash to hand over is the approval's own amount.
  const cash = (lang: string) => translator.formatAmount(lang, approval.intent.amountCents / 100, intent.currency);
  const code = cashOutCode(deps.secret, intent.id);
  const agentLang = agent.lang ?? deps.defaultLanguage;
  await queue.add(
    SMS_JOB,
    {
      to: agent.msisdn,
      text: toGsm(
        translator.t(agentLang, 'agent.sms.payCash', {
          amount: cash(agentLang),
          customer: intent.senderLabel ?? '',
          code,
          ref: intent.ref,
        }),
      ),
      ref: intent.ref,
    },
    { jobId: `sms-${intent.id}-agent` },
  );
  await queue.add(
    SMS_JOB,
    {
      to: intent.msisdn,
      text: toGsm(
        translator.t(intent.lang, 'agent.sms.cashOutCode', {
          amount: cash(intent.lang),
          agent: intent.counterparty,
          code,
          ref: intent.ref,
        }),
      ),
      ref: intent.ref,
    },
    { jobId: `sms-${intent.id}-code` },
  );
}
