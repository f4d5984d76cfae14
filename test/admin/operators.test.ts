/**
 * Operators of the admin API (threat T17) over real HTTP: each operator's token (ADMIN_TOKENS) and the old
 * ADMIN_TOKEN (operator `admin`) pass, anything else is 401 and not audited; every allowed call is audited
 * with the operator's name and the route pattern; the rate limit answers 429 with Retry-After; the settings
 * refuse duplicate names, shared tokens and short tokens against a real Fineract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config.js';
import { operatorOf } from '../../src/admin/operators.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ALICE = 'alice-token-for-operator-tests-0123456789';
const BOB = 'bob-token-for-operator-tests-0123456789ab';
const OLD = 'old-single-admin-token-0123456789abcdef';
const CLIENT = 1;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKENS: `alice:${ALICE}, bob:${BOB}`, ADMIN_TOKEN: OLD });
});
afterAll(async () => {
  await server?.close();
});

const call = (s: TestServer, path: string, token?: string, init: RequestInit = {}) =>
  fetch(`${s.url}${path}`, { ...init, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }).then(async (r) => ({
    status: r.status,
    body: await r.text(),
    retryAfter: r.headers.get('retry-after'),
  }));

/** The admin.call entries written so far. */
async function adminCalls(s: TestServer) {
  await s.services.audit.flush();
  const out: { actor: string; data: Record<string, unknown> }[] = [];
  for await (const record of s.services.audit.entries()) {
    const entry = record.entry as { type?: string; actor?: string; data?: Record<string, unknown> };
    if (entry.type === 'admin.call') out.push({ actor: entry.actor!, data: entry.data ?? {} });
  }
  return out;
}

describe('admin operators (T17)', () => {
  it("should let each operator and the old ADMIN_TOKEN in, and audit each call with the operator's name and the route pattern", async () => {
    for (const token of [ALICE, BOB, OLD]) expect((await call(server, `/admin/customers/${CLIENT}/pin`, token)).status).toBe(200);
    const calls = (await adminCalls(server)).filter((c) => c.data.route === '/admin/customers/:clientId/pin');
    expect(calls.map((c) => c.actor).sort()).toEqual(['operator:admin', 'operator:alice', 'operator:bob']);
    expect(calls[0]!.data).toMatchObject({ method: 'GET', status: 200 });
  });

  it('should refuse a wrong token with 401, log it without the token and audit nothing', async () => {
    const before = (await adminCalls(server)).length;
    const logged = server.logs.lines.length;
    for (const token of [`${ALICE}x`, ALICE.slice(0, -1), `${BOB}0`, '', 'alice', `alice:${ALICE}`]) {
      expect((await call(server, `/admin/customers/${CLIENT}/pin`, token)).status).toBe(401);
    }
    expect((await call(server, `/admin/customers/${CLIENT}/pin`)).status).toBe(401);
    expect((await adminCalls(server)).length).toBe(before);
    const lines = server.logs.lines.slice(logged).join('\n');
    expect(lines).toContain('admin call refused');
    for (const secret of [ALICE, BOB, OLD]) expect(server.logs.text).not.toContain(secret);
  });

  it('should find the operator of a token by comparing with every token', () => {
    const operators = [
      { name: 'alice', token: ALICE },
      { name: 'bob', token: BOB },
    ];
    expect(operatorOf(operators, BOB)?.name).toBe('bob');
    expect(operatorOf(operators, ALICE)?.name).toBe('alice');
    expect(operatorOf(operators, '')).toBeUndefined();
    expect(operatorOf([], ALICE)).toBeUndefined();
  });

  it('should answer 429 with Retry-After past ADMIN_RATE_PER_MIN, per source address, wrong tokens included', async () => {
    const limited = await startTestServer({ ADMIN_TOKENS: `alice:${ALICE}`, ADMIN_RATE_PER_MIN: '4' });
    try {
      const statuses: number[] = [];
      // Guesses count: a wrong token spends the source's budget too.
      for (let i = 0; i < 2; i++) statuses.push((await call(limited, '/admin/switches', 'guess-guess-guess-guess-guess')).status);
      for (let i = 0; i < 2; i++) statuses.push((await call(limited, '/admin/switches', ALICE)).status);
      const refused = await call(limited, '/admin/switches', ALICE);
      expect(statuses).toEqual([401, 401, 200, 200]);
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(refused.body).toBe('too many requests');
      expect(limited.logs.text).toContain('admin call refused: rate limit');
    } finally {
      await limited.close();
    }
  });
});

describe('ADMIN_TOKENS settings', () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('should read name:token pairs and ADMIN_TOKEN as the operator admin', () => {
    const config = loadConfig({ ADMIN_TOKENS: `alice:${ALICE},bob.k:${BOB}`, ADMIN_TOKEN: OLD });
    expect(config.admin.operators.map((o) => o.name)).toEqual(['alice', 'bob.k', 'admin']);
    expect(config.admin.operators[1]!.token).toBe(BOB);
  });

  it('should refuse duplicate names, shared tokens, bad names and short tokens, without echoing a token', () => {
    const all = problems({ ADMIN_TOKENS: `alice:${ALICE},alice:${BOB},carol:${ALICE},Bad Name:${OLD},dave:short-token` }).join('\n');
    expect(all).toContain("ADMIN_TOKENS: entry 2: operator 'alice' is named twice");
    expect(all).toContain('ADMIN_TOKENS: entry 3: two operators share one token');
    expect(all).toContain('ADMIN_TOKENS: entry 4: the name must be');
    expect(all).toContain('ADMIN_TOKENS: entry 5: the token must be at least 16 characters');
    expect(problems({ ADMIN_TOKENS: `admin:${ALICE}`, ADMIN_TOKEN: OLD }).join('\n')).toContain("operator 'admin' is named twice");
    for (const secret of [ALICE, BOB, OLD, 'short-token']) expect(all).not.toContain(secret);
  });

  it('should require 24 characters against a real Fineract', () => {
    const real = {
      FINERACT_URL: 'https://fineract.example/api/v1',
      PIN_PEPPER: 'pepper-0123456789abcdef',
      KIUNGA_ALLOW_INSECURE: 'messaging,callback-key,fineract-password,sim-swap',
    };
    expect(problems({ ...real, ADMIN_TOKENS: 'alice:a-token-of-twenty-four-c' })).toEqual([]);
    expect(problems({ ...real, ADMIN_TOKENS: 'alice:only-twenty-chars-x' }).join('\n')).toContain(
      'at least 24 characters against a real Fineract',
    );
  });
});
