import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { AMINA, balance, toConfirmation, transferPosts } from '../helpers/money.js';
import { cli, startRedis, stopAll, type RedisProcess } from '../session/helpers/redis-server.js';

/**
 * Threat T29: a screen states an outcome only when it is known. When it is not (the hop ran out of time,
 * Redis failed after Fineract committed), the customer reads "being processed, an SMS will confirm", never
 * "No money was moved" or "try again", and the SMS always comes.
 */

const BARAKA = '+254711000002';

async function waitForSms(s: TestServer, to: string, prefix: string): Promise<string[]> {
  for (let i = 0; i < 300 && !s.services.outbox!.list(to).some((m) => m.text.startsWith(prefix)); i++) await sleep(50);
  return s.services
    .outbox!.list(to)
    .map((m) => m.text)
    .filter((t) => t.startsWith(prefix));
}

/** A server on a Redis of its own that a test can stall (SIGSTOP) and resume, for one describe block. */
function stallableServer(env: Record<string, string>) {
  const ctx: { redis?: RedisProcess; server?: TestServer; pid: number } = { pid: 0 };
  beforeAll(async () => {
    ctx.redis = await startRedis();
    ctx.pid = Number(/process_id:(\d+)/.exec(await cli(ctx.redis.port, 'info', 'server'))?.[1]);
    ctx.server = await startTestServer({ REDIS_URL: ctx.redis.url, ...env });
  });
  afterAll(async () => {
    if (ctx.pid) process.kill(ctx.pid, 'SIGCONT');
    await ctx.server?.close();
    await stopAll();
  });
  return ctx;
}

/**
 * Confirms a transfer of 500 to Baraka with the PIN; Fineract commits it and holds its answer back
 * `answerAfterMs`, while Redis stops answering until the hop has replied. Returns the hop's body.
 */
async function confirmWhileRedisStalls(server: TestServer, pid: number, answerAfterMs: number): Promise<string> {
  const session = await toConfirmation(server, '500');
  server.services.sandbox!.control.timeoutAfterCommit = { count: 1, mode: 'delay', ms: answerAfterMs };
  const reply = session.send('1234');
  for (let i = 0; i < 200 && !transferPosts(server).some((r) => r.committed); i++) await sleep(10);
  expect(transferPosts(server).filter((r) => r.committed)).toHaveLength(1);
  process.kill(pid, 'SIGSTOP');
  try {
    return (await reply).body;
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

describe('when Redis stalls right after Fineract committed the transfer', () => {
  const ctx = stallableServer({ HOP_DEADLINE_MS: '6000', FINERACT_TIMEOUT_MS: '2000' });

  it('should never say no money moved, and the receipt SMS comes once Redis is back', async () => {
    const server = ctx.server!;
    const before = [balance(server, 1), balance(server, 2)];
    // Fineract commits, then its answer is held back while Redis stops answering.
    const body = await confirmWhileRedisStalls(server, ctx.pid, 800);
    expect(body).not.toMatch(/No money was moved|try again/i);
    expect(body).toMatch(/^END (Done: KES 500\.00 to Baraka O\.|Your payment (of KES 500\.00 to Baraka O\. )?is being processed)/);
    // The resolution job (queued before the call) settles it and sends the receipt, without moving money again.
    expect(await waitForSms(server, AMINA, 'You sent')).toEqual([expect.stringMatching(/^You sent KES 500\.00 to Baraka O\./)]);
    await server.services.queue.idle();
    expect([balance(server, 1), balance(server, 2)]).toEqual([before[0]! - 500, before[1]! + 500]);
    expect(transferPosts(server).filter((r) => r.committed)).toHaveLength(1);
  });
});

describe('when the hop runs out of time during a money confirmation', () => {
  const ctx = stallableServer({ HOP_DEADLINE_MS: '2500', FINERACT_TIMEOUT_MS: '2000' });

  it('should answer "being processed, an SMS will confirm", never "try again", and the SMS comes', async () => {
    const server = ctx.server!;
    const before = [balance(server, 1), balance(server, 2)];
    // Fineract commits but answers late; Redis stalls, so handing the transfer over outlasts the hop.
    const body = await confirmWhileRedisStalls(server, ctx.pid, 3000);
    expect(body).toBe('END Your payment is being processed. An SMS will confirm the result.');
    expect(await waitForSms(server, AMINA, 'You sent')).toEqual([expect.stringMatching(/^You sent KES 500\.00 to Baraka O\./)]);
    await server.services.queue.idle();
    expect([balance(server, 1), balance(server, 2)]).toEqual([before[0]! - 500, before[1]! + 500]);
    expect(transferPosts(server).filter((r) => r.committed)).toHaveLength(1);
    expect(server.services.outbox!.list(BARAKA).filter((m) => m.text.startsWith('You received KES 500.00'))).toHaveLength(1);
  });
});
