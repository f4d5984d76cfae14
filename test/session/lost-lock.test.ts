/**
 * A hop that loses its session lock while it works (its lock expired and a newer hop took the session
 * over) must not overwrite the newer hop's record: the write is refused as `LockLost`, the customer still
 * gets a polite answer, and the newer record stays. Real server, real Redis, the built-in sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { newSessionId, startTestServer, type TestServer } from '../helpers/server.js';
import { deleteByPrefix } from './helpers/fixtures.js';
import type { RedisStore } from '../../src/session/redis-store.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ HOP_DEADLINE_MS: '4000' });
});
afterAll(async () => {
  const prefix = server.config.redisPrefix;
  await deleteByPrefix(server.services.store as RedisStore, prefix);
  await server.close();
});

describe('a hop that lost its session lock', () => {
  it("answers politely and leaves the newer hop's record in place", async () => {
    const { store, keys, sandbox } = server.services;
    const sessionId = newSessionId();
    const lockKey = keys.lock('ussd', `at:${sessionId}`);
    const sessionKey = keys.session('ussd', `at:${sessionId}`);
    sandbox!.control.clearRequests();
    sandbox!.control.latencyMs = 800;

    const answer = server.ussd({ sessionId, phoneNumber: '+254711000001', serviceCode: '*384*123#', text: '' });
    // The hop is waiting on Fineract, holding the lock; a newer hop takes the session over meanwhile.
    for (let i = 0; i < 200 && sandbox!.control.requests.length === 0; i++) await sleep(10);
    expect(sandbox!.control.requests.length).toBeGreaterThan(0);
    expect(await store.get(lockKey)).not.toBeNull();
    await store.set(lockKey, 'newer-hop', 10_000);
    await store.set(sessionKey, 'record of the newer hop', 10_000);

    const { status, body } = await answer;
    sandbox!.control.latencyMs = 0;
    expect(status).toBe(200);
    expect(body).toBe('END Sorry, the service is not available right now. Please try again later.');
    expect(await store.get(sessionKey)).toBe('record of the newer hop');
    expect(await store.get(lockKey)).toBe('newer-hop');
    expect(server.logs.text).toContain('session lock lost before the record was written');
  });
});
