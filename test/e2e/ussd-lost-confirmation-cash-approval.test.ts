import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';
import { availableCents, holdLockAsDeadProcess, jobsDone, ledgerCents, POLITE, sessionContext, transferPosts } from '../helpers/money.js';
import { sessionIntent } from '../../src/engine/registry-money-intent.js';
import { maskName } from '../../src/text/names.js';
import type { TransferIntent } from '../../src/money/transfer-types.js';
import type { CashCustomer } from '../../src/agents/agent-types.js';
import type { AgentLimiter } from '../../src/agents/limits.js';
import { ApprovalRefused, createApprovalService } from '../../src/approvals/approval-service.js';
import { approvalIdFor, approvalRefOf, holdReason } from '../../src/approvals/approval-refs.js';
import { DEMO_SAVINGS } from '../../src/sandbox/index.js';

/**
 * Threat T29, finding F1 (docs/resilience.md), for the two money confirmations that are not a plain transfer:
 * an agent's cash-in and a payment from an account with a mandate. A process dies while the confirming hop (the
 * PIN) runs; Africa's Talking retries the same hop on another process, which cannot take the session lock the
 * dead process still holds. The retry must never say "try again": it answers what is true ("being processed"
 * with an SMS to follow, or the approval the first run raised), and one SMS tells the outcome. A dead holder is
 * simulated as it leaves Redis and Fineract: its lock (with the hop's key) and what it got as far as doing.
 */

const AGENT_CODE = '*384*124#';
const CHANYA = { msisdn: '+254711000003', pin: '1357', clientId: 3, float: 3 };
const AMINA = { msisdn: '+254711000001', pin: '1234' };
const BARAKA = '+254711000002';
const DUMA = DEMO_SAVINGS.duma.id;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ HOP_DEADLINE_MS: '3000', FINERACT_TIMEOUT_MS: '1500' });
});
afterAll(async () => {
  await server?.close();
});

const available = (id: number) => availableCents(server, id);
const ledger = (id: number) => ledgerCents(server, id);

/** Every SMS to `to` that names `ref`, once no job is due or running (the resolution and the SMS jobs ran). */
async function smsAbout(to: string, ref: string): Promise<string[]> {
  for (let i = 0; i < 400 && !server.services.outbox!.list(to).some((m) => m.text.includes(ref)); i++) await sleep(50);
  await jobsDone(server);
  return server.services
    .outbox!.list(to)
    .map((m) => m.text)
    .filter((t) => t.includes(ref));
}

const processing = (amount: string, counterparty: string, ref: string) =>
  `END Your payment of KES ${amount} to ${counterparty} is being processed (ref ${ref}). An SMS will confirm the result.`;

describe('a retried agent cash-in confirmation whose first process died holding the session (threat T29)', () => {
  /** Chanya's cash-in to Baraka up to its confirmation screen; the movement as the dead process read it. */
  async function toCashInConfirmation(amount: string) {
    const session = atSession(server, CHANYA.msisdn, AGENT_CODE);
    await session.send();
    await session.send(CHANYA.pin);
    await session.send('1');
    await session.send('0711000002');
    expect((await session.send(amount)).body).toMatch(/^CON Cash-in KES /);
    const context = await sessionContext(server, session.sessionId);
    const id = String(context.data.cashId);
    const movement = {
      id,
      agentMsisdn: CHANYA.msisdn,
      agentLang: context.lang,
      agentLabel: maskName(context.customer!.displayName),
      agentOfficeId: context.customer!.officeId,
    };
    const customer = JSON.parse(String(context.data.cashCustomer)) as CashCustomer;
    const cents = Number(context.data.cashCents);
    await holdLockAsDeadProcess(server, session.sessionId, `${CHANYA.pin}*1*0711000002*${amount}*${CHANYA.pin}`);
    return { session, movement, customer, cents, ref: id.slice(0, 8).toUpperCase() };
  }
  const agent = async () => (await server.services.agentRegistry.get(CHANYA.clientId))!;

  it('should answer "being processed" and send the agent one cash-in SMS and the customer one receipt when the dead process sent it', async () => {
    const { session, movement, customer, cents, ref } = await toCashInConfirmation('1000.01');
    const float = ledger(CHANYA.float);
    // The dead process got as far as the POST: Fineract committed it, and the connection died with the process.
    server.services.sandbox!.control.timeoutAfterCommit = { count: 1, mode: 'destroy', ms: 0 };
    const { outcome } = await server.services.agents.cashIn(await agent(), customer, cents, movement, Date.now() + 2000);
    expect(outcome.status).toBe('processing');

    expect((await session.send(CHANYA.pin)).body).toBe(processing('1,000.01', 'Baraka O.', ref));
    expect(await smsAbout(CHANYA.msisdn, ref)).toEqual([expect.stringMatching(/^Cash-in of KES 1,000\.01 to Baraka O\. done \(ref /)]);
    expect(await smsAbout(BARAKA, ref)).toEqual([expect.stringMatching(/^You received KES 1,000\.01 from Chanya M\./)]);
    expect(transferPosts(server).filter((r) => r.idempotencyKey === movement.id && r.committed)).toHaveLength(1);
    expect(ledger(CHANYA.float)).toBe(float - 1_000_01);
  });

  it('should answer "being processed", tell the agent that no money moved, give the limits back, and never send it later, when the dead process sent nothing', async () => {
    const { session, movement, customer, cents, ref } = await toCashInConfirmation('1000.02');
    const float = ledger(CHANYA.float);
    const posts = transferPosts(server).length;
    // The dead process reserved the agent's limits, then died before the transfer.
    const { limiter } = (server.services.agents as unknown as { deps: { limiter: AgentLimiter } }).deps;
    const mark = server.services.keys.forCustomer(CHANYA.clientId, `agent:reserved:${movement.id}`);
    const input = { id: movement.id, agentClientId: CHANYA.clientId, customerClientId: customer.clientId, direction: 'in' as const, cents };
    expect((await limiter.reserve({ ...input, limits: (await agent()).limits })).ok).toBe(true);
    expect(await server.services.store.get(mark)).toBe('held');

    expect((await session.send(CHANYA.pin)).body).toBe(processing('1,000.02', 'Baraka O.', ref));
    expect(await smsAbout(CHANYA.msisdn, ref)).toEqual([
      `Your payment of KES 1,000.02 to Baraka O. could not be completed (service busy). No money was moved (ref ${ref}).`,
    ]);
    expect(await server.services.store.get(mark)).toBeNull();
    // The first run, had it been slow rather than dead, finds the movement settled as not sent: nothing moves.
    const late = await server.services.agents.cashIn(await agent(), customer, cents, movement, Date.now() + 2000);
    expect(late.outcome).toEqual({ status: 'failed', code: 'unavailable' });
    await jobsDone(server);
    expect(transferPosts(server)).toHaveLength(posts);
    expect(ledger(CHANYA.float)).toBe(float);
    expect(await server.services.store.get(mark)).toBeNull();
    expect(server.services.outbox!.list(CHANYA.msisdn).filter((m) => m.text.includes(ref))).toHaveLength(1);
    expect(server.services.outbox!.list(BARAKA).filter((m) => m.text.includes(ref))).toEqual([]);
  });
});

describe('a retried payment confirmation from an account with a mandate whose first process died (threat T29)', () => {
  /** Amina's payment from Duma Traders to Baraka up to its confirmation screen; the intent as the dead process read it. */
  async function toBusinessConfirmation(amount: string) {
    const session = atSession(server, AMINA.msisdn);
    await session.send();
    await session.send(AMINA.pin);
    await session.send('9');
    await session.send('0711000002');
    expect((await session.send(amount)).body).toContain('from Duma Traders Ltd 000000004?');
    const intent: TransferIntent = sessionIntent(await sessionContext(server, session.sessionId))!;
    await holdLockAsDeadProcess(server, session.sessionId, `${AMINA.pin}*9*0711000002*${amount}*${AMINA.pin}`);
    return { session, intent };
  }
  /** What the dead process did at the confirmation (raiseForApproval): the approval keyed by the session's intent. */
  async function raiseAsDeadProcess(intent: TransferIntent) {
    const { mandates, approvals } = server.services;
    return mandates.requestPayment(approvals, (await mandates.get('000000004'))!, await mandates.party(1), intent, intent.id);
  }
  const pendingFor = async (ref: string) => (await server.services.approvals.list('pending', 500)).filter((a) => a.ref === ref);

  it('should answer with the approval the dead process raised (its ref, its approvers), the approvers told once', async () => {
    const { session, intent } = await toBusinessConfirmation('300.01');
    const held = available(DUMA);
    const approval = await raiseAsDeadProcess(intent);
    expect(available(DUMA)).toBe(held - 300_01);

    expect((await session.send(AMINA.pin)).body).toBe(
      `END Waiting for approval by Baraka O. (ref ${approval.ref}). KES 300.01 is held on the account; nothing is sent until it is approved.`,
    );
    expect(await smsAbout(BARAKA, approval.ref)).toEqual([expect.stringMatching(/^Amina W\. asks you to approve KES 300\.01 from Duma/)]);
    expect(await pendingFor(approval.ref)).toHaveLength(1);
    // Nothing told as failed, nothing sent, held once.
    expect(server.services.outbox!.list(AMINA.msisdn).filter((m) => m.text.includes(intent.ref))).toEqual([]);
    expect(available(DUMA)).toBe(held - 300_01);
    // A second request with the intent's key answers the first approval: nothing is held twice.
    expect((await raiseAsDeadProcess(intent)).id).toBe(approval.id);
    expect(available(DUMA)).toBe(held - 300_01);
    await server.services.approvals.cancel(approval.id, 1);
  });

  it('should answer "being processed" and say by SMS that nothing was raised, and a first run still raising it holds nothing, when the dead process raised nothing', async () => {
    const { session, intent } = await toBusinessConfirmation('300.02');
    const held = available(DUMA);

    expect((await session.send(AMINA.pin)).body).toBe(processing('300.02', 'Baraka O.', intent.ref));
    expect(await smsAbout(AMINA.msisdn, intent.ref)).toEqual([
      `Your payment of KES 300.02 to Baraka O. could not be completed (service busy). No money was moved (ref ${intent.ref}).`,
    ]);
    // The first run, had it been slow rather than dead, is refused: no approval, no hold, no approver told.
    await expect(raiseAsDeadProcess(intent)).rejects.toEqual(new ApprovalRefused('unavailable'));
    const ref = approvalRefOf(approvalIdFor(intent.id));
    expect(await pendingFor(ref)).toEqual([]);
    expect(available(DUMA)).toBe(held);
    await jobsDone(server);
    expect(server.services.outbox!.list(BARAKA).filter((m) => m.text.includes(ref))).toEqual([]);
    expect(server.services.outbox!.list(AMINA.msisdn).filter((m) => m.text.includes(intent.ref))).toHaveLength(1);
  });

  it('should release the hold a process left when it died between the hold and the approval, and a slow one its own', async () => {
    const { session, intent } = await toBusinessConfirmation('300.03');
    const held = available(DUMA);
    const id = approvalIdFor(intent.id);
    // The dead process held the amount in Fineract, then died before writing the approval.
    await server.services.fineract.holdAmount(DUMA, 300_03, holdReason(approvalRefOf(id)), { idempotencyKey: `${id}-hold` });
    expect(available(DUMA)).toBe(held - 300_03);

    expect((await session.send(AMINA.pin)).body).toBe(processing('300.03', 'Baraka O.', intent.ref));
    expect(await smsAbout(AMINA.msisdn, intent.ref)).toEqual([
      `Your payment of KES 300.03 to Baraka O. could not be completed (service busy). No money was moved (ref ${intent.ref}).`,
    ]);
    // The `approval-settle` job queued by the void (delayed 30 s): run its handler now.
    await server.services.approvals.settle(id);
    expect(available(DUMA)).toBe(held);

    // A slow first run whose hold is on its way when the retry voids the key: its record is refused and it
    // releases its own hold. It runs on an approval service of its own (the same Redis keys) whose hold call
    // waits for the retry.
    const next = await toBusinessConfirmation('300.04');
    const { fineract, store, config, transfers, queue, translator, audit, logger, mandates } = server.services;
    let entered!: () => void;
    const holding = new Promise<void>((resolve) => (entered = resolve));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const slowFineract = new Proxy(fineract, {
      get(target, name) {
        if (name === 'holdAmount')
          return async (...args: Parameters<typeof fineract.holdAmount>) => {
            entered();
            await gate;
            return target.holdAmount(...args);
          };
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const slowApprovals = createApprovalService({
      store,
      prefix: config.redisPrefix,
      fineract: slowFineract,
      transfers,
      queue,
      translator,
      audit,
      logger,
      timeZone: config.timezone,
      ussdCode: config.approvals.ussdCode,
      executeBudgetMs: 1000,
    });
    const raising = mandates.requestPayment(
      slowApprovals,
      (await mandates.get('000000004'))!,
      await mandates.party(1),
      next.intent,
      next.intent.id,
    );
    await holding;
    expect((await next.session.send(AMINA.pin)).body).toBe(processing('300.04', 'Baraka O.', next.intent.ref));
    open();
    await expect(raising).rejects.toEqual(new ApprovalRefused('unavailable'));
    expect(available(DUMA)).toBe(held);
    expect(await pendingFor(approvalRefOf(approvalIdFor(next.intent.id)))).toEqual([]);
    expect(await smsAbout(AMINA.msisdn, next.intent.ref)).toEqual([
      `Your payment of KES 300.04 to Baraka O. could not be completed (service busy). No money was moved (ref ${next.intent.ref}).`,
    ]);
  });

  it('should keep the polite end for a hop that is not a retry of the holder', async () => {
    const session = atSession(server, AMINA.msisdn);
    await session.send();
    await session.send(AMINA.pin);
    await session.send('9');
    await session.send('0711000002');
    await session.send('300.05');
    await holdLockAsDeadProcess(server, session.sessionId, `${AMINA.pin}*9*0711000002*300.05`);
    expect((await session.send(AMINA.pin)).body).toBe(POLITE);
  });
});
