import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createAgentLimiter, type AgentLimiter } from '../../src/agents/limits.js';
import { createAgentRegistry, DEFAULT_AGENT_LIMITS, type AgentLimits, type AgentRecord } from '../../src/agents/registry.js';
import { createKeys } from '../../src/session/keys.js';
import { createRedisStore } from '../../src/session/redis-store.js';
import type { KeyValueStore } from '../../src/session/store.js';

/**
 * Agent limits and the registry on a real Redis (threat T14): reservations on atomic counters, so two
 * movements racing for the last slot cannot both pass; a refusal keeps nothing; a release gives back once; a
 * replay of one movement reserves once. Store numbers name one agent only.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let store: KeyValueStore;
let limiter: AgentLimiter;
let day = '2026-12-03';
const keys = () => createKeys(`kiunga-test-agents-${randomBytes(4).toString('hex')}`);

const limits = (over: Partial<AgentLimits> = {}): AgentLimits => ({ ...DEFAULT_AGENT_LIMITS, ...over });
const id = () => randomBytes(16).toString('hex');

beforeAll(async () => {
  store = createRedisStore(REDIS_URL);
  await store.ping();
});
afterAll(async () => {
  await store?.close();
});

function fresh() {
  limiter = createAgentLimiter({ store, keys: keys(), today: () => day });
  return limiter;
}

describe('agent limits on Redis', () => {
  it('should let exactly one of two concurrent cash-ins take the last slot of the daily count', async () => {
    const l = fresh();
    const input = { agentClientId: 3, customerClientId: 1, direction: 'in' as const, cents: 100_000, limits: limits({ dailyCount: 3 }) };
    for (let i = 0; i < 2; i++) expect((await l.reserve({ ...input, id: id() })).ok).toBe(true);
    const raced = await Promise.all(Array.from({ length: 8 }, () => l.reserve({ ...input, id: id() })));
    expect(raced.filter((r) => r.ok)).toHaveLength(1);
    expect(raced.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.rule))).toEqual(Array(7).fill('agent-count'));
    // The refused ones kept nothing: the count is at its ceiling, not above it.
    expect(await l.check(input)).toBe('agent-count');
  });

  it('should refuse above the daily value in and out apart, and per customer across agents', async () => {
    const l = fresh();
    const base = { customerClientId: 1, limits: limits({ dailyInCents: 300_000, dailyOutCents: 200_000, customerDailyCents: 450_000 }) };
    expect((await l.reserve({ ...base, id: id(), agentClientId: 3, direction: 'in', cents: 300_000 })).ok).toBe(true);
    expect(await l.reserve({ ...base, id: id(), agentClientId: 3, direction: 'in', cents: 10_000 })).toEqual({
      ok: false,
      rule: 'agent-in',
    });
    // Cash-out counts apart from cash-in.
    expect((await l.reserve({ ...base, id: id(), agentClientId: 3, direction: 'out', cents: 100_000 })).ok).toBe(true);
    // Another agent, same customer: the customer's day is at 400,000 of 450,000.
    expect(await l.reserve({ ...base, id: id(), agentClientId: 9, direction: 'in', cents: 60_000 })).toEqual({
      ok: false,
      rule: 'customer-daily',
    });
    expect((await l.reserve({ ...base, id: id(), agentClientId: 9, direction: 'in', cents: 50_000 })).ok).toBe(true);
  });

  it('should refuse below the minimum and above the maximum before any counter moves', async () => {
    const l = fresh();
    const input = {
      agentClientId: 3,
      customerClientId: 1,
      direction: 'in' as const,
      limits: limits({ minCents: 5_000, maxCents: 100_000, dailyCount: 1 }),
    };
    expect(await l.reserve({ ...input, id: id(), cents: 4_999 })).toEqual({ ok: false, rule: 'amount-low' });
    expect(await l.reserve({ ...input, id: id(), cents: 100_001 })).toEqual({ ok: false, rule: 'amount-high' });
    // Nothing was counted: the one movement a day is still there.
    expect((await l.reserve({ ...input, id: id(), cents: 5_000 })).ok).toBe(true);
  });

  it('should give a released reservation back once, and reserve a replayed movement once', async () => {
    const l = fresh();
    const input = {
      agentClientId: 3,
      customerClientId: 1,
      direction: 'in' as const,
      cents: 100_000,
      limits: limits({ dailyInCents: 100_000 }),
    };
    const movement = id();
    const first = await l.reserve({ ...input, id: movement });
    const replay = await l.reserve({ ...input, id: movement });
    expect(first.ok && replay.ok).toBe(true);
    expect(await l.check(input)).toBe('agent-in');
    if (!first.ok) throw new Error('unreachable');
    await first.reservation.release();
    await first.reservation.release();
    expect(await l.check(input)).toBeUndefined();
    expect((await l.reserve({ ...input, id: id() })).ok).toBe(true);
    expect(await l.check(input)).toBe('agent-in');
  });

  it('should reserve one movement once when its replays race, and refuse a refused one again the same way', async () => {
    const l = fresh();
    const input = {
      agentClientId: 3,
      customerClientId: 1,
      direction: 'in' as const,
      cents: 100_000,
      limits: limits({ dailyInCents: 250_000 }),
    };
    const movement = id();
    const replays = await Promise.all(Array.from({ length: 6 }, () => l.reserve({ ...input, id: movement })));
    expect(replays.every((r) => r.ok)).toBe(true);
    // Counted once: two more fit (100,000 + 100,000 of 250,000), not zero.
    expect((await l.reserve({ ...input, id: id() })).ok).toBe(true);
    const refused = id();
    expect(await l.reserve({ ...input, id: refused })).toEqual({ ok: false, rule: 'agent-in' });
    expect(await l.reserve({ ...input, id: refused, cents: 10_000 })).toEqual({ ok: false, rule: 'agent-in' });
  });

  it('should start a new day with fresh counters', async () => {
    const l = fresh();
    const input = {
      agentClientId: 3,
      customerClientId: 1,
      direction: 'out' as const,
      cents: 100_000,
      limits: limits({ dailyOutCents: 100_000 }),
    };
    expect((await l.reserve({ ...input, id: id() })).ok).toBe(true);
    expect(await l.check(input)).toBe('agent-out');
    day = '2026-12-04';
    expect(await l.check(input)).toBeUndefined();
  });
});

describe('agent registry on Redis', () => {
  const agent = (clientId: number, storeNumber: string): AgentRecord => ({
    clientId,
    storeNumber,
    floatAccountId: clientId,
    floatAccountNo: String(clientId).padStart(9, '0'),
    status: 'active',
    limits: DEFAULT_AGENT_LIMITS,
    updatedBy: 'operator:test',
    updatedAt: Date.now(),
  });

  it('should refuse a store number another agent holds, and free the old number when an agent moves', async () => {
    const registry = createAgentRegistry({ store, keys: keys() });
    expect(await registry.put(agent(3, '5501'))).toEqual({ ok: true });
    expect(await registry.put(agent(8, '5501'))).toEqual({ ok: false, reason: 'store-taken' });
    expect((await registry.byStore('5501'))?.clientId).toBe(3);
    // Chanya moves to 5502: 5501 is free for another agent, and names nobody meanwhile.
    expect(await registry.put(agent(3, '5502'))).toEqual({ ok: true });
    expect(await registry.byStore('5501')).toBeUndefined();
    expect(await registry.put(agent(8, '5501'))).toEqual({ ok: true });
    expect((await registry.byStore('5502'))?.clientId).toBe(3);
    expect((await registry.get(8))?.storeNumber).toBe('5501');
  });
});
