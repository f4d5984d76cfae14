import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';
import { holdLockAsDeadProcess, jobsDone, ledgerCents, POLITE, transferPosts } from '../helpers/money.js';
import { DEMO_SAVINGS } from '../../src/sandbox/index.js';

/**
 * Threat T29 for the approver: the last approval of a payment from an account with a mandate executes it,
 * so an approver's PIN is a money confirmation like a sender's. A process dies (or is slow) while the
 * approving hop runs; Africa's Talking retries the same hop on another process, which cannot take the session
 * lock the first run still holds. The retry must never say "try again" once the approval was recorded: it
 * answers what is known (sent, being processed with an SMS to follow, or still waiting for others), and the
 * approver is told the outcome by SMS exactly once. When the first run recorded nothing, nothing can move
 * unless the approver approves (an approval executes once), so the polite end stays. A dead holder is
 * simulated as it leaves Redis and Fineract: its lock (with the hop's key) and what it got as far as doing.
 */

const AMINA = { msisdn: '+254711000001', pin: '1234' };
const BARAKA = { msisdn: '+254711000002', pin: '2468' };
const DUMA = DEMO_SAVINGS.duma.id;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ HOP_DEADLINE_MS: '3000', FINERACT_TIMEOUT_MS: '1500' });
});
afterAll(async () => {
  await server?.close();
});

const ledger = (id: number) => ledgerCents(server, id);

/** Amina asks for a payment of `amount` from Duma Traders to Baraka: an approval Baraka must give. */
async function raise(amount: string) {
  const session = atSession(server, AMINA.msisdn);
  await session.send();
  await session.send(AMINA.pin);
  await session.send('9');
  await session.send('0711000002');
  await session.send(amount);
  const waiting = (await session.send(AMINA.pin)).body;
  const ref = /\(ref ([A-Z0-9]{8})\)/.exec(waiting)?.[1];
  expect(waiting, waiting).toMatch(/^END Waiting for approval by Baraka O\./);
  const [approval] = (await server.services.approvals.list('pending', 500)).filter((a) => a.ref === ref);
  return approval!;
}

/** Baraka brings his approvals to the PIN of the first (the only one open); a dead process then holds the PIN hop. */
async function toApprovalPinHeldByDeadProcess() {
  const session = atSession(server, BARAKA.msisdn);
  await session.send();
  await session.send(BARAKA.pin);
  await session.send('10');
  await session.send('1');
  expect((await session.send('1')).body).toMatch(/^CON Enter your PIN to approve /);
  await holdLockAsDeadProcess(server, session.sessionId, `${BARAKA.pin}*10*1*1*${BARAKA.pin}`);
  return session;
}

/** The SMS to Baraka about `ref` that tell an outcome (not the request itself), once the jobs ran. */
async function outcomesToBaraka(ref: string): Promise<string[]> {
  for (let i = 0; i < 400 && !outcomeTexts(ref).length; i++) await sleep(50);
  await jobsDone(server);
  return outcomeTexts(ref);
}
const outcomeTexts = (ref: string) =>
  server.services
    .outbox!.list(BARAKA.msisdn)
    .map((m) => m.text)
    .filter((t) => t.includes(ref) && !t.includes('asks you to approve'));

/** The committed transfers of an approval's payment (sent under its intent's key). */
const sentFor = (approval: { intent: { id: string } }) =>
  transferPosts(server).filter((r) => r.idempotencyKey === approval.intent.id && r.committed);

describe('a retried approval whose first process died holding the session (threat T29)', () => {
  it('should answer that the payment was sent when the dead process approved it and Fineract answered, told once', async () => {
    const approval = await raise('400.01');
    const session = await toApprovalPinHeldByDeadProcess();
    const baraka = approval.approvers[0]!.clientId;
    const before = ledger(DUMA);
    expect((await server.services.approvals.approve(approval.id, baraka)).outcome).toBe('executed');

    expect((await session.send(BARAKA.pin)).body).toBe(
      `END Approved and sent: KES 400.01 to Baraka O. (ref ${approval.ref}). An SMS will confirm.`,
    );
    // Baraka approves and is the payee: the approvers' notice and the payee's receipt, each once.
    expect((await outcomesToBaraka(approval.ref)).sort()).toEqual([
      expect.stringMatching(/^The approved payment of KES 400\.01 from Duma Traders Ltd to Baraka O\. was sent/),
      expect.stringMatching(/^You received KES 400\.01 from Duma Traders Ltd/),
    ]);
    expect(ledger(DUMA)).toBe(before - 400_01);
  });

  it('should answer "being processed" when the dead process sent the payment and lost the answer, and one SMS tells it was sent', async () => {
    const approval = await raise('400.02');
    const session = await toApprovalPinHeldByDeadProcess();
    const baraka = approval.approvers[0]!.clientId;
    const before = ledger(DUMA);
    // Fineract committed the transfer; the connection died with the process.
    server.services.sandbox!.control.timeoutAfterCommit = { count: 1, mode: 'destroy', ms: 0 };
    expect((await server.services.approvals.approve(approval.id, baraka)).outcome).toBe('processing');

    expect((await session.send(BARAKA.pin)).body).toBe(
      `END Approved. The payment of KES 400.02 to Baraka O. is being processed (ref ${approval.ref}). An SMS will confirm the result.`,
    );
    // The settle job the approval queued finds the transfer by its key: sent once, told once.
    await server.services.approvals.settle(approval.id);
    // Baraka approves and is the payee: the approvers' notice and the payee's receipt, each once.
    expect((await outcomesToBaraka(approval.ref)).sort()).toEqual([
      expect.stringMatching(/^The approved payment of KES 400\.02 from Duma Traders Ltd to Baraka O\. was sent/),
      expect.stringMatching(/^You received KES 400\.02 from Duma Traders Ltd/),
    ]);
    expect(sentFor(approval)).toHaveLength(1);
    expect(ledger(DUMA)).toBe(before - 400_02);
  });

  it('should keep the polite end when the dead process recorded nothing, and a later approval moves the money once', async () => {
    const approval = await raise('400.03');
    const session = await toApprovalPinHeldByDeadProcess();
    const before = ledger(DUMA);

    expect((await session.send(BARAKA.pin)).body).toBe(POLITE);
    expect((await server.services.approvals.get(approval.id))!.state).toBe('pending');
    expect(ledger(DUMA)).toBe(before);
    // Approving again (a new session) is safe: the approval executes once.
    const again = atSession(server, BARAKA.msisdn);
    await again.send();
    await again.send(BARAKA.pin);
    await again.send('10');
    await again.send('1');
    await again.send('1');
    expect((await again.send(BARAKA.pin)).body).toBe(
      `END Approved and sent: KES 400.03 to Baraka O. (ref ${approval.ref}). An SMS will confirm.`,
    );
    expect(sentFor(approval)).toHaveLength(1);
    expect(ledger(DUMA)).toBe(before - 400_03);
  });

  it('should drop what a hop carries after the approver reaches the PIN: the PIN needs a hop of its own (threat T25)', async () => {
    const approval = await raise('400.04');
    const session = atSession(server, BARAKA.msisdn);
    // A dial string with everything up to and including the approval's PIN (*384*123*2468*10*1*1*2468#): the
    // first hop stops at the PIN screen.
    expect((await session.send(`${BARAKA.pin}*10*1*1*${BARAKA.pin}`)).body).toMatch(/^CON Enter your PIN to approve KES 400\.04/);
    expect((await server.services.approvals.get(approval.id))!.state).toBe('pending');
    await server.services.approvals.cancel(approval.id, approval.requester.clientId);
  });
});
