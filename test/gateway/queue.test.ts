/**
 * The gateway's queue: writes before reads, deadlines (nothing waits for ever, a write that cannot start
 * is reported as not executed), the high-water mark, the 429 penalty, and the in-process mode.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FineractRejected, FineractUnavailable } from '../../src/fineract/errors.js';
import { FineractHttp } from '../../src/fineract/http.js';
import { createFineractClient } from '../../src/fineract/client.js';
import { createFineractGateway, FineractNotSent, type FineractGateway, type FineractGatewayOptions } from '../../src/fineract/gateway.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import type { RedisStore } from '../../src/session/redis-store.js';
import { dropLimiterKeys, failure, hits, httpTo, maxInWindow, openRedis, uniqueId } from './helpers.js';

let sandbox: Sandbox;
let redis: RedisStore;
const ids: string[] = [];
let gateways: FineractGateway[] = [];
/** Calls left waiting when a test ends; they are refused by close() and must not go unhandled. */
let backlog: Promise<unknown>[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  redis = await openRedis();
});
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.allSettled(backlog);
  gateways = [];
  backlog = [];
  sandbox.control.reset();
  sandbox.control.clearRequests();
});
afterAll(async () => {
  for (const id of ids) await dropLimiterKeys(redis, id);
  await redis.close();
  await sandbox.close();
});

async function gateway(options: Partial<FineractGatewayOptions> & { shared?: boolean } = {}): Promise<FineractGateway> {
  const { shared = true, ...rest } = options;
  const id = uniqueId('queue');
  ids.push(id);
  const g = createFineractGateway({
    primary: httpTo(sandbox),
    ...(shared ? { redis: redis.client, id } : {}),
    ratePerSecond: 100,
    maxConcurrent: 1,
    ...rest,
  });
  gateways.push(g);
  await g.ready();
  sandbox.control.clearRequests();
  return g;
}

/** Fills the gateway with `n` reads of `/clients/1` that may wait long; returns once they are queued. */
function fill(g: FineractGateway, n: number, deadlineInMs = 10_000): void {
  for (let i = 0; i < n; i++)
    backlog.push(g.request('GET', '/clients/1', { deadlineAt: Date.now() + deadlineInMs }).catch(() => undefined));
}

const untilStarted = async (n: number) => {
  for (let i = 0; i < 200 && hits(sandbox).length < n; i++) await new Promise((r) => setTimeout(r, 5));
};

describe('priority', () => {
  it('runs queued writes before queued reads', async () => {
    const g = await gateway({ maxConcurrent: 1 });
    sandbox.control.latencyMs = 30;
    const reads = Array.from({ length: 6 }, () => g.request('GET', '/clients/1'));
    const writes = Array.from({ length: 3 }, () => g.request('POST', '/accounttransfers', { body: {} }));
    await Promise.allSettled([...reads, ...writes]);

    const order = hits(sandbox).map((r) => r.method);
    expect(order).toHaveLength(9);
    // At most the first read got its token before the writes were queued; every write then went first.
    const lastWrite = order.lastIndexOf('POST');
    expect(lastWrite).toBeLessThanOrEqual(3);
    expect(order.slice(lastWrite + 1).every((m) => m === 'GET')).toBe(true);
  });
});

describe('deadline-bounded queue', () => {
  it('refuses at once a read that even the full rate could not reach before its deadline', async () => {
    const g = await gateway({ ratePerSecond: 5, maxConcurrent: 1 });
    sandbox.control.latencyMs = 100;
    fill(g, 20);
    const started = Date.now();
    const err = await failure(g.request('GET', '/clients/2', { deadlineAt: Date.now() + 200 }));
    expect(err).toBeInstanceOf(FineractNotSent);
    expect(err).toBeInstanceOf(FineractUnavailable);
    expect(err.message).toContain('queue deadline');
    expect(Date.now() - started).toBeLessThan(50);
    expect(g.stats().limiter.refused['queue deadline']).toBe(1);
    await g.close();
    expect(hits(sandbox, '/clients/2')).toHaveLength(0);
  });

  it('refuses a waiting read when its deadline comes, not later', async () => {
    const g = await gateway({ maxConcurrent: 1 });
    sandbox.control.latencyMs = 600;
    fill(g, 2); // one running for 600 ms, one waiting
    await untilStarted(1);
    const started = Date.now();
    const err = await failure(g.request('GET', '/clients/2', { deadlineAt: Date.now() + 200 }));
    const waited = Date.now() - started;
    expect(err).toMatchObject({ kind: 'unavailable', reason: 'queue deadline', executed: false });
    expect(waited).toBeGreaterThanOrEqual(100); // it did wait for a chance (deadline - 50 ms to start)
    expect(waited).toBeLessThan(300);
    await g.close();
    expect(hits(sandbox, '/clients/2')).toHaveLength(0);
  });

  it("takes the hop's deadline when a client read is given the hop (CallOptions.hop)", async () => {
    const g = await gateway({ maxConcurrent: 1 });
    sandbox.control.latencyMs = 600;
    fill(g, 1);
    await untilStarted(1);
    const login = { baseUrl: sandbox.url, tenant: 'default', username: 'mifos', password: 'password' };
    const client = createFineractClient({ ...login, http: g, timeoutMs: 5000, defaultCountry: 'KE' });
    const started = Date.now();
    const err = await failure(client.getClient(2, { hop: { deadline: Date.now() + 200 } }));
    expect(err).toMatchObject({ reason: 'queue deadline' });
    expect(Date.now() - started).toBeLessThan(300);
  });

  it("drops a waiting call when the caller's own signal aborts", async () => {
    const g = await gateway({ maxConcurrent: 1 });
    sandbox.control.latencyMs = 400;
    fill(g, 1);
    await untilStarted(1);
    const controller = new AbortController();
    const pending = failure(g.request('GET', '/clients/2', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toMatchObject({ reason: 'queue deadline', executed: false });
    await g.close();
    expect(hits(sandbox, '/clients/2')).toHaveLength(0);
  });

  it('reports a write that could not start as not executed, and never sends it', async () => {
    const g = await gateway({ maxConcurrent: 1 });
    sandbox.control.latencyMs = 600;
    fill(g, 1);
    await untilStarted(1);
    const err = await failure(g.request('POST', '/accounttransfers', { body: {}, deadlineAt: Date.now() + 200 }));
    expect(err).toBeInstanceOf(FineractNotSent);
    expect(err).toMatchObject({ executed: false, retryable: true, reason: 'queue deadline' });
    await g.close();
    expect(hits(sandbox, undefined, 'POST')).toHaveLength(0);
  });

  it('never cuts a write that started, even past its deadline', async () => {
    const g = await gateway();
    sandbox.control.latencyMs = 300;
    const started = Date.now();
    const outcome = await g.request('POST', '/accounttransfers', { body: {}, deadlineAt: Date.now() + 100 }).then(
      () => 'answered',
      (err: unknown) => err,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    // The sandbox answered (the body is not a valid transfer): a Fineract answer, not a timeout.
    expect(outcome === 'answered' || outcome instanceof FineractRejected).toBe(true);
    expect(hits(sandbox, undefined, 'POST')[0]?.status).toBeDefined();
  });

  it('aborts a read in flight at the hop deadline', async () => {
    const g = await gateway();
    sandbox.control.latencyMs = 1_000;
    const started = Date.now();
    const err = await failure(g.request('GET', '/clients/1', { deadlineAt: Date.now() + 200 }));
    expect(err).toBeInstanceOf(FineractUnavailable);
    expect(err).not.toBeInstanceOf(FineractNotSent); // it was sent
    expect((err as FineractUnavailable).timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('bounds the wait of a call with no deadline at all (maxQueueMs)', async () => {
    const g = await gateway({ maxConcurrent: 1, maxQueueMs: 250 });
    sandbox.control.latencyMs = 800;
    fill(g, 1);
    await untilStarted(1);
    const started = Date.now();
    expect(await failure(g.request('GET', '/clients/2'))).toMatchObject({ reason: 'queue deadline' });
    expect(Date.now() - started).toBeLessThan(400);
  });
});

describe('high-water mark', () => {
  it('refuses a read when full, and sheds the newest read for a write', async () => {
    const g = await gateway({ maxConcurrent: 1, maxQueued: 2 });
    sandbox.control.latencyMs = 150;
    const first = g.request('GET', '/clients/1');
    await untilStarted(1);
    const older = g.request('GET', '/clients/2');
    const newer = g.request('GET', '/clients/3');
    const started = Date.now();
    expect(await failure(g.request('GET', '/clients/4'))).toMatchObject({ reason: 'queue full' });
    expect(Date.now() - started).toBeLessThan(50);

    const write = g.request('POST', '/accounttransfers', { body: {} }).catch((e: unknown) => e);
    expect(await failure(newer)).toMatchObject({ reason: 'queue full' });
    await Promise.all([first, older, write]);
    expect(hits(sandbox).map((r) => `${r.method} ${r.path.replace(/.*\/v1/, '')}`)).toEqual([
      'GET /clients/1',
      'POST /accounttransfers',
      'GET /clients/2',
    ]);
  });
});

describe('many expiring calls', () => {
  it('refuses each at its own deadline while an older call keeps waiting, then serves the older one', async () => {
    const g = await gateway({ maxConcurrent: 1, maxQueued: 500 });
    sandbox.control.latencyMs = 500;
    fill(g, 1); // running for 500 ms
    await untilStarted(1);
    const older = g.request('GET', '/clients/2', { deadlineAt: Date.now() + 5_000 });
    const short = Array.from({ length: 200 }, (_, i) =>
      failure(g.request('GET', '/clients/3', { deadlineAt: Date.now() + 60 + (i % 5) * 20 })),
    );
    const refused = await Promise.all(short);
    expect(refused.every((e) => e instanceof FineractNotSent && e.reason === 'queue deadline')).toBe(true);
    await expect(older).resolves.toMatchObject({ id: 2 });
    expect(hits(sandbox, '/clients/3')).toHaveLength(0);
    expect(g.stats().limiter.queued).toEqual({ write: 0, read: 0, low: 0 });
  });
});

describe('in-process limiter (no Redis)', () => {
  it('holds the rate and the concurrency in one process', async () => {
    const g = await gateway({ shared: false, ratePerSecond: 40, maxConcurrent: 4 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 60 }, () => g.request('GET', '/clients/1')));
    const elapsed = Date.now() - started;
    expect(g.stats().limiter.mode).toBe('local');
    expect(maxInWindow(hits(sandbox).map((r) => r.at))).toBeLessThanOrEqual(41);
    expect(elapsed).toBeGreaterThan(1_000);
    expect(elapsed).toBeLessThan(2_500);
  });
});

describe('429 from Fineract', () => {
  let server: Server;
  let url = '';
  const arrivals: { at: number; status: number }[] = [];
  beforeAll(async () => {
    // A Fineract behind a proxy that rate-limits: the first call gets 429, the others 200.
    server = createServer((req, res) => {
      const status = arrivals.length === 0 ? 429 : 200;
      arrivals.push({ at: Date.now(), status });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fineract-provider/api/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('spends the rest of the second in every process instead of hammering', async () => {
    const primary = new FineractHttp({ baseUrl: url, tenant: 'default', username: 'mifos', password: 'password', timeoutMs: 2_000 });
    const g = await gateway({ primary, ratePerSecond: 20, maxConcurrent: 4 });
    expect(await failure(g.request('GET', '/clients/1'))).toMatchObject({ httpStatus: 429 });
    await Promise.all(Array.from({ length: 3 }, () => g.request('GET', '/clients/1')));
    expect(g.stats().limiter.penalties).toBe(1);
    // Without the penalty the next call would start 50 ms later (20/s); it waited for the next refill.
    expect(arrivals[1]!.at - arrivals[0]!.at).toBeGreaterThanOrEqual(300);
  });
});
