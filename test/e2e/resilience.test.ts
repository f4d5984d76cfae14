import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';
import { startRedis, stopAll, type RedisProcess } from '../session/helpers/redis-server.js';

const AMINA = '+254711000001';
const DEADLINE_MS = 1500;

describe('when Fineract is slow or down', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ HOP_DEADLINE_MS: String(DEADLINE_MS), FINERACT_TIMEOUT_MS: '800' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('should answer a polite END within the hop deadline when Fineract hangs', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    await s.send('1234');
    server.services.sandbox!.control.latencyMs = 10_000;
    const started = Date.now();
    const reply = await s.send('1');
    const took = Date.now() - started;
    server.services.sandbox!.control.latencyMs = 0;
    expect(reply.body).toBe('END Sorry, the service is not available right now. Please try again later.');
    expect(took).toBeLessThan(DEADLINE_MS + 500);
  });

  it('should end politely when Fineract answers 500', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    await s.send('1234');
    server.services.sandbox!.control.failMode = '500';
    const reply = await s.send('1');
    server.services.sandbox!.control.failMode = 'none';
    expect(reply.body).toBe('END Sorry, the service is not available right now. Please try again later.');
  });

  it('should end politely when a hop outlives the deadline in the middle of a call, and replay that answer', async () => {
    // Deadline shorter than the Fineract timeout: the runner itself gives up, not the client.
    const tight = await startTestServer({ HOP_DEADLINE_MS: '400', FINERACT_TIMEOUT_MS: '2000' });
    try {
      const s = atSession(tight, AMINA);
      await s.send();
      await s.send('1234');
      tight.services.sandbox!.control.latencyMs = 1_000;
      const started = Date.now();
      const reply = await s.send('1');
      expect(Date.now() - started).toBeLessThan(900);
      expect(reply.body).toMatch(/^END Sorry, the service is not available/);
      expect((await s.resend()).body).toBe(reply.body);
    } finally {
      tight.services.sandbox!.control.latencyMs = 0;
      await tight.close();
    }
  });
});

describe('when Redis stops in the middle of a session', () => {
  let redis: RedisProcess;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    server = await startTestServer({ REDIS_URL: redis.url, HOP_DEADLINE_MS: String(DEADLINE_MS) });
  });
  afterAll(async () => {
    await server?.close();
    await stopAll();
  });

  it('should end politely within the deadline, then resume by itself when Redis returns', async () => {
    const s = atSession(server, AMINA);
    expect((await s.send()).body).toMatch(/^CON Welcome Amina/);
    await redis.kill();

    const started = Date.now();
    const reply = await s.send('1234');
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 500);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('END Sorry, the service is not available right now. Please try again later.');

    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);

    await redis.restart();
    let resumed = '';
    for (let i = 0; i < 50 && !resumed.startsWith('CON Welcome'); i++) {
      await sleep(200);
      // This Redis keeps nothing across a restart (no persistence); a production one keeps the PINs. Put
      // Amina's back as persistence would, or the flow rightly sends her to enrol.
      await server.services.pins.seedIfAbsent(1, '1234').catch(() => false);
      resumed = (await atSession(server, AMINA).send()).body;
    }
    expect(resumed).toBe('CON Welcome Amina. Enter your PIN:');
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});

describe('when the sandbox is down for a while', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ HOP_DEADLINE_MS: String(DEADLINE_MS), FINERACT_TIMEOUT_MS: '800', FINERACT_CACHE_TTL_S: '0' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('should fail fast while the breaker is open and close it by itself when Fineract is back', async () => {
    const sandbox = server.services.sandbox!;
    sandbox.control.failMode = 'reset';
    // Enough failures to open the primary's breaker.
    for (let i = 0; i < 8; i++) {
      const reply = await atSession(server, AMINA).send();
      expect(reply.body).toBe('END Sorry, the service is not available right now. Please try again later.');
    }
    const primary = () => server.services.gateway.stats().upstreams[0]!;
    expect(primary().state).toBe('open');
    const before = sandbox.control.requests.length;
    const started = Date.now();
    expect((await atSession(server, AMINA).send()).body).toMatch(/^END Sorry/);
    expect(Date.now() - started).toBeLessThan(500); // refused at the door, no Fineract timeout waited out
    expect(sandbox.control.requests.length).toBe(before); // nothing reached Fineract while open

    sandbox.control.failMode = 'none';
    let reply = '';
    for (let i = 0; i < 40 && !reply.startsWith('CON Welcome'); i++) {
      await sleep(250);
      reply = (await atSession(server, AMINA).send()).body;
    }
    expect(reply).toBe('CON Welcome Amina. Enter your PIN:');
    expect(primary().state).toBe('closed');
  }, 30_000);
});
