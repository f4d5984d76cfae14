import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { POLITE, toConfirmation, transferPosts } from '../helpers/money.js';
import { cli, startRedis, stopAll, type RedisProcess } from '../session/helpers/redis-server.js';

/**
 * Threat T29: Africa's Talking retries a confirming hop (the PIN) whose first run is still at Fineract, holding the
 * session lock. The retry waits for that run. When the store stops answering meanwhile (Redis out of reach), the
 * retry can read neither the lock nor the session, and cannot know whether money moves: it must not say "try again
 * later" (which invites a second payment), only that the request was not finished and to wait for a payment's SMS.
 * Redis is this file's own redis-server, stopped for real (SIGSTOP) once the retry waits, continued afterwards.
 */

const UNCONFIRMED = 'END Sorry, we could not finish your request. If you confirmed a payment, wait for its SMS before trying again.';

let redis: RedisProcess;
let redisPid: number;
let server: TestServer;
beforeAll(async () => {
  redis = await startRedis();
  redisPid = Number(/process_id:(\d+)/.exec(await cli(redis.port, 'info', 'server'))![1]);
  server = await startTestServer({ REDIS_URL: redis.url, HOP_DEADLINE_MS: '3000' });
});
afterAll(async () => {
  await server?.close();
  await stopAll();
});

type Session = Awaited<ReturnType<typeof toConfirmation>>;

/** Sends the session's confirming hop; resolves once its transfer's POST is held at Fineract (slow writes), with its answer to come. */
async function confirmHeldAtFineract(session: Session) {
  const posts = transferPosts(server).length;
  server.services.sandbox!.control.writeLatencyMs = 4000;
  const first = session.send('1234');
  for (let i = 0; i < 300 && transferPosts(server).length === posts; i++) await sleep(10);
  expect(transferPosts(server)).toHaveLength(posts + 1);
  return { first };
}

/** Resolves once Redis has answered a plain read of the session's lock: a waiting hop reading who holds it. */
async function lockReadBy(monitor: Redis, sessionId: string): Promise<void> {
  const lockKey = server.services.keys.lock('ussd', `at:${sessionId}`);
  await new Promise<void>((resolve) => {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args[0]?.toLowerCase() === 'get' && args[1] === lockKey) resolve();
    });
  });
}

describe('a retried confirming hop whose first run still holds the session, when Redis stops answering (threat T29)', () => {
  it('should answer that the request was not finished and to wait for the SMS, never "try again later"', async () => {
    const session = await toConfirmation(server, '10.05');
    const monitor = await new Redis(redis.url).monitor();
    const { first } = await confirmHeldAtFineract(session);
    let stopped = false;
    try {
      const waiting = lockReadBy(monitor, session.sessionId);
      const retry = session.resend();
      // The retry found the lock held by its own hop (it read the lock's holder): Redis stops answering now.
      await waiting;
      process.kill(redisPid, 'SIGSTOP');
      stopped = true;
      const answer = await retry;
      expect(answer.status).toBe(200);
      expect(answer.body).toBe(UNCONFIRMED);
      expect(answer.body).not.toBe(POLITE);
    } finally {
      if (stopped) process.kill(redisPid, 'SIGCONT');
      server.services.sandbox!.control.writeLatencyMs = 0;
      monitor.disconnect();
      await first;
    }
  });

  it('should still answer "being processed" when Redis answers', async () => {
    const session = await toConfirmation(server, '10.06');
    const { first } = await confirmHeldAtFineract(session);
    try {
      expect((await session.resend()).body).toMatch(/^END Your payment (of KES 10\.06 to Baraka O\. )?is being processed/);
    } finally {
      server.services.sandbox!.control.writeLatencyMs = 0;
      await first;
    }
  });
});
