import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFineractClient } from '../../src/fineract/client.js';
import { FineractRejected, FineractUnauthorized, FineractUnavailable } from '../../src/fineract/errors.js';
import { FineractHttp } from '../../src/fineract/http.js';
import { DEMO, startSandbox, type Sandbox } from '../../src/sandbox/index.js';

let sandbox: Sandbox;
let http: FineractHttp;

beforeAll(async () => {
  sandbox = await startSandbox({ businessDate: '2026-11-25' });
  http = new FineractHttp({
    baseUrl: sandbox.url,
    tenant: DEMO.tenant,
    username: DEMO.username,
    password: DEMO.password,
    timeoutMs: 2_000,
  });
});
afterAll(async () => {
  await http.close();
  await sandbox.close();
});

describe('FineractHttp against the sandbox', () => {
  it('returns the parsed body and encodes query parameters', async () => {
    const rows = await http.request<{ entityId: number }[]>('GET', '/search', {
      query: { query: '+254 711 000002', resource: 'clients', exactMatch: true, unused: undefined },
    });
    expect(rows.map((r) => r.entityId)).toEqual([2]);
    expect(sandbox.control.requests.at(-1)?.query).toBe('query=%2B254+711+000002&resource=clients&exactMatch=true');
  });

  it('maps other 4xx answers to FineractRejected with the most specific code first', async () => {
    const e = http.request('GET', '/savingsaccounts/1', { query: { fields: 'nope' } });
    await expect(e).rejects.toBeInstanceOf(FineractRejected);
    await expect(e).rejects.toMatchObject({
      httpStatus: 400,
      code: 'error.msg.parameter.unsupported',
      topLevelCode: 'validation.msg.validation.errors.exist',
      retryable: false,
    });
  });

  it('maps a non-Fineract 400 (unknown tenant) to FineractRejected with a status code', async () => {
    const other = new FineractHttp({
      baseUrl: sandbox.url,
      tenant: 'nope',
      username: DEMO.username,
      password: DEMO.password,
      timeoutMs: 1_000,
    });
    try {
      const e = other.request('GET', '/clients/1');
      await expect(e).rejects.toBeInstanceOf(FineractRejected);
      await expect(e).rejects.toHaveProperty('code', 'http.400');
    } finally {
      await other.close();
    }
  });

  it("ends a call at its timeout or at the caller's abort, and leaves the caller's signal without a listener", async () => {
    sandbox.control.latencyMs = 1_000;
    try {
      const started = Date.now();
      const late = await http.request('GET', '/clients/1', { timeoutMs: 150 }).catch((e: unknown) => e);
      expect(late).toBeInstanceOf(FineractUnavailable);
      expect((late as FineractUnavailable).timedOut).toBe(true);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const cancelled = await http.request('GET', '/clients/1', { signal: controller.signal }).catch((e: unknown) => e);
      expect((cancelled as FineractUnavailable).timedOut).toBe(true);
      expect(Date.now() - started).toBeLessThan(900);
      const aborted = new AbortController();
      aborted.abort();
      expect(await http.request('GET', '/clients/1', { signal: aborted.signal }).catch((e: unknown) => e)).toBeInstanceOf(
        FineractUnavailable,
      );
    } finally {
      sandbox.control.latencyMs = 0;
    }
    // A call that ended removes its listener from a long-lived caller signal (none piles up over many calls).
    const kept = new AbortController();
    let added = 0;
    let removed = 0;
    const add = kept.signal.addEventListener.bind(kept.signal);
    const remove = kept.signal.removeEventListener.bind(kept.signal);
    kept.signal.addEventListener = ((...args: Parameters<typeof add>) => (added++, add(...args))) as typeof add;
    kept.signal.removeEventListener = ((...args: Parameters<typeof remove>) => (removed++, remove(...args))) as typeof remove;
    for (let i = 0; i < 3; i++) await http.request('GET', '/clients/1', { signal: kept.signal });
    expect(added).toBe(3);
    expect(removed).toBe(3);
  });

  it('reuses keep-alive connections', async () => {
    const sockets = new Set<string>();
    const probe = createServer((req, res) => {
      sockets.add(`${req.socket.remotePort}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const h = new FineractHttp({
      baseUrl: `http://127.0.0.1:${(probe.address() as AddressInfo).port}/api/v1`,
      tenant: 't',
      username: 'u',
      password: 'p',
      timeoutMs: 1_000,
    });
    try {
      for (let i = 0; i < 10; i++) await h.request('GET', '/loanproducts');
      // Sequential calls reuse warm sockets (undici may alternate two while one signals drain).
      expect(sockets.size).toBeLessThanOrEqual(2);
    } finally {
      await h.close();
      probe.closeAllConnections();
      await new Promise<void>((r) => probe.close(() => r()));
    }
  });
});

describe('answers that are not Fineract JSON', () => {
  let server: Server;
  let base: string;
  let seen: IncomingHttpHeaders = {};
  const replies: Record<string, [number, string]> = {
    '/api/v1/html': [200, '<html>proxy login</html>'],
    '/api/v1/clients/1': [200, '{"id":"one","officeId":1}'],
    '/api/v1/gateway': [502, 'Bad gateway'],
    '/api/v1/outdated': [400, '{"httpStatusCode":"400","userMessageGlobalisationCode":"error.msg.password.outdated"}'],
    '/api/v1/inflight': [425, ''],
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen = req.headers;
      const [status, body] = replies[req.url ?? ''] ?? [404, ''];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const h = () => new FineractHttp({ baseUrl: base, tenant: 'acme', username: 'svc', password: 'Sup3r-Secret', timeoutMs: 1_000 });

  it('sends Basic auth, the tenant header, Accept JSON and the idempotency key', async () => {
    const x = h();
    await expect(x.request('POST', '/html', { body: { a: 1 }, idempotencyKey: 'k-1' })).rejects.toThrow();
    await x.close();
    expect(seen.authorization).toBe(`Basic ${Buffer.from('svc:Sup3r-Secret').toString('base64')}`);
    expect(seen['fineract-platform-tenantid']).toBe('acme');
    expect(seen.accept).toBe('application/json');
    expect(seen['content-type']).toBe('application/json');
    expect(seen['idempotency-key']).toBe('k-1');
  });

  it('treats unparseable 2xx, 5xx and 425 as retryable FineractUnavailable', async () => {
    const x = h();
    try {
      for (const path of ['/html', '/gateway', '/inflight']) {
        const e = x.request('GET', path);
        await expect(e).rejects.toBeInstanceOf(FineractUnavailable);
        await expect(e).rejects.not.toThrow('proxy login');
        await expect(e).rejects.not.toThrow('Sup3r-Secret');
      }
    } finally {
      await x.close();
    }
  });

  it('treats an expired service password as FineractUnauthorized', async () => {
    const x = h();
    try {
      await expect(x.request('GET', '/outdated')).rejects.toBeInstanceOf(FineractUnauthorized);
    } finally {
      await x.close();
    }
  });

  it('turns a response of the wrong shape into FineractUnavailable in the typed client', async () => {
    const c = createFineractClient({
      baseUrl: base,
      tenant: 'acme',
      username: 'svc',
      password: 'Sup3r-Secret',
      timeoutMs: 1_000,
      defaultCountry: 'KE',
    });
    try {
      const e = c.getClient(1);
      await expect(e).rejects.toBeInstanceOf(FineractUnavailable);
      await expect(e).rejects.toThrow('unexpected shape');
      await expect(e).rejects.not.toThrow('one');
    } finally {
      await c.close();
    }
  });
});
