import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';
import { balance, POLITE, toConfirmation, transferPosts } from '../helpers/money.js';
import { cli, startRedis, stopAll, type RedisProcess } from '../session/helpers/redis-server.js';

/**
 * A Redis master that refuses writes: `min-replicas-to-write` with too few replicas in reach, which Redis answers
 * `NOREPLICAS`. docs/deployment.md sets it (deploy/compose.yaml) so that a master cut off from its replicas and
 * Sentinels stops taking writes that the failover on the other side would throw away. Kiunga then answers every
 * hop with the polite end at once (no 5xx, no hang), moves no money, and serves again by itself once the
 * replicas are back: the customer's retry of the same hop runs it, and the money moves once.
 */

let redis: RedisProcess;
let server: TestServer;
beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer({ REDIS_URL: redis.url, HOP_DEADLINE_MS: '3000' });
});
afterAll(async () => {
  await server?.close();
  await stopAll();
});

const committed = () => transferPosts(server).filter((r) => r.committed).length;

describe('a Redis master that refuses writes (NOREPLICAS)', () => {
  it('should answer every hop politely and move nothing while writes are refused, then serve the retry once they are taken', async () => {
    const session = await toConfirmation(server, '500');
    const before = [balance(server, 1), balance(server, 2)];
    const sent = committed();

    // The replicas are out of reach: the master refuses every write from now on (reads still work).
    await cli(redis.port, 'config', 'set', 'min-replicas-to-write', '1');
    expect(await cli(redis.port, 'set', 'probe', '1')).toMatch(/^NOREPLICAS/);

    const started = performance.now();
    const confirm = await session.send('1234');
    expect(confirm.status).toBe(200);
    expect(confirm.body).toBe(POLITE);
    expect(performance.now() - started).toBeLessThan(3000);
    const dial = await atSession(server, '+254711000002').send();
    expect(dial.status).toBe(200);
    expect(dial.body).toBe(POLITE);
    expect(committed()).toBe(sent);
    expect([balance(server, 1), balance(server, 2)]).toEqual(before);

    // The replicas are back: the customer's retry of the same hop runs it, once.
    await cli(redis.port, 'config', 'set', 'min-replicas-to-write', '0');
    expect((await session.resend()).body).toMatch(/^END Done: KES 500\.00 to Baraka O\./);
    expect(committed()).toBe(sent + 1);
    expect([balance(server, 1), balance(server, 2)]).toEqual([before[0]! - 500, before[1]! + 500]);
  });
});
