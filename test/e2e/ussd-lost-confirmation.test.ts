import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { AMINA, balance, holdLockAsDeadProcess, sessionContext, toConfirmation, transferPosts } from '../helpers/money.js';
import { sessionIntent } from '../../src/engine/registry-money-intent.js';
import type { TransferIntent } from '../../src/money/transfer-types.js';

/**
 * Threat T29, finding F1 (docs/resilience.md): a process dies while a transfer's confirming hop (the PIN) runs;
 * Africa's Talking retries the same hop on another process, which cannot take the session lock the dead
 * process still holds. The retry must not say "try again" (the money may have moved): it answers "being
 * processed (ref ...)", and exactly one SMS tells the outcome. A dead holder is simulated as it leaves Redis:
 * its lock (with the hop's key) and, when it got that far, the transfer it started.
 */

const BARAKA = '+254711000002';

/** The intent on the session's confirmation screen, read from its record as the dead process read it. */
async function intentOf(s: TestServer, sessionId: string): Promise<TransferIntent> {
  return sessionIntent(await sessionContext(s, sessionId))!;
}

/** Every SMS to `to` that names `ref`, once the job queue is idle (the resolution and the SMS jobs ran). */
async function smsAbout(s: TestServer, to: string, ref: string): Promise<string[]> {
  for (let i = 0; i < 400 && !s.services.outbox!.list(to).some((m) => m.text.includes(ref)); i++) await sleep(50);
  await s.services.queue.idle(30_000);
  return s.services
    .outbox!.list(to)
    .map((m) => m.text)
    .filter((t) => t.includes(ref));
}

const processing = (amount: string, ref: string) =>
  `END Your payment of KES ${amount} to Baraka O. is being processed (ref ${ref}). An SMS will confirm the result.`;

describe('a retried confirming hop whose first process died holding the session (threat T29)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ HOP_DEADLINE_MS: '3000', FINERACT_TIMEOUT_MS: '1500' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('should answer "being processed" and send one "You sent" SMS when the dead process sent the transfer and Fineract committed it', async () => {
    const before = [balance(server, 1), balance(server, 2)];
    const session = await toConfirmation(server, '10.01');
    const intent = await intentOf(server, session.sessionId);
    await holdLockAsDeadProcess(server, session.sessionId, '1234*3*0711000002*10.01*1234');
    // The dead process got as far as the POST: Fineract committed it, and the connection died with the process.
    server.services.sandbox!.control.timeoutAfterCommit = { count: 1, mode: 'destroy', ms: 0 };
    expect((await server.services.transfers.execute(intent, Date.now() + 2000)).status).toBe('processing');
    expect(transferPosts(server).filter((r) => r.committed)).toHaveLength(1);
    expect(server.services.outbox!.list(AMINA).filter((m) => m.text.includes(intent.ref))).toEqual([]);

    const retry = await session.send('1234');
    expect(retry.body).toBe(processing('10.01', intent.ref));
    expect(await smsAbout(server, AMINA, intent.ref)).toEqual([`You sent KES 10.01 to Baraka O. (ref ${intent.ref}).`]);
    expect(server.services.outbox!.list(BARAKA).filter((m) => m.text.includes(intent.ref))).toHaveLength(1);
    expect(transferPosts(server).filter((r) => r.committed)).toHaveLength(1);
    expect([balance(server, 1), balance(server, 2)]).toEqual([before[0]! - 10.01, before[1]! + 10.01]);
  });

  it('should answer "being processed", say by SMS that no money moved, and never send it later, when the dead process sent nothing', async () => {
    const before = [balance(server, 1), balance(server, 2)];
    const posts = transferPosts(server).length;
    const session = await toConfirmation(server, '10.02');
    const intent = await intentOf(server, session.sessionId);
    await holdLockAsDeadProcess(server, session.sessionId, '1234*3*0711000002*10.02*1234');

    const retry = await session.send('1234');
    expect(retry.body).toBe(processing('10.02', intent.ref));
    expect(await smsAbout(server, AMINA, intent.ref)).toEqual([
      `Your payment of KES 10.02 to Baraka O. could not be completed (service busy). No money was moved (ref ${intent.ref}).`,
    ]);
    // The first run, had it been slow rather than dead, finds the intent settled as not sent: nothing moves.
    expect(await server.services.transfers.execute(intent, Date.now() + 2000)).toEqual({ status: 'failed', code: 'unavailable' });
    await server.services.queue.idle(30_000);
    expect(transferPosts(server)).toHaveLength(posts);
    expect([balance(server, 1), balance(server, 2)]).toEqual(before);
    expect(server.services.outbox!.list(AMINA).filter((m) => m.text.includes(intent.ref))).toHaveLength(1);
  });

  it('should still send the SMS when a first run that was slow, not dead, is refused after the retry promised it', async () => {
    const session = await toConfirmation(server, '10.04');
    const intent = await intentOf(server, session.sessionId);
    const { control, bank } = server.services.sandbox!;
    control.writeLatencyMs = 1000;
    const holder = server.services.transfers.execute(intent, Date.now() + 4000);
    try {
      for (let i = 0; i < 200 && !transferPosts(server).some((r) => r.idempotencyKey === intent.id); i++) await sleep(10);
      // The retry hands the intent over while the POST is still at Fineract, which then refuses it.
      await server.services.transfers.tellLater(intent, 'unavailable');
      bank.savingsAccount(2)!.statusId = 600;
      // The slow run settles the refusal and would mark it shown: its screen reaches no one.
      expect(await holder).toEqual({ status: 'failed', code: 'inactive' });
    } finally {
      control.writeLatencyMs = 0;
      bank.savingsAccount(2)!.statusId = 300;
    }
    expect(await smsAbout(server, AMINA, intent.ref)).toEqual([
      expect.stringMatching(/^Your payment of KES 10\.04 to Baraka O\. could not be completed \(.+\)\. No money was moved/),
    ]);
  });

  it('should keep the polite end for a hop that is not a retry of the holder', async () => {
    const session = await toConfirmation(server, '10.03');
    // The lock is held by the hop that typed the amount (the session already rests on the confirmation).
    await holdLockAsDeadProcess(server, session.sessionId, '1234*3*0711000002*10.03');
    expect((await session.send('1234')).body).toBe('END Sorry, the service is not available right now. Please try again later.');
    const intent = await intentOf(server, session.sessionId);
    await server.services.queue.idle(30_000);
    expect(server.services.outbox!.list(AMINA).filter((m) => m.text.includes(intent.ref))).toEqual([]);
  });
});
