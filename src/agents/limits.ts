import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { AgentLimits } from './registry.js';

/**
 * Agent limits (issue 11, threat T14), checked before any call that moves money. The daily ones are Redis
 * counters taken by reservation: each counter is raised atomically (INCRBY) and the value it returns decides,
 * so two cash-ins racing for the last slot cannot both pass: the one whose increment went over gives its
 * share back and is refused. A reservation is kept when the money moved (or may have: an uncertain transfer
 * keeps counting, the safe side) and released when it did not.
 *
 * A reservation is made once per movement (its idempotency key): a hop replayed, a settle job run twice or two
 * processes executing one approval reserve once.
 */

/** Which limit refused, as the agent and the audit trail read it. */
export type LimitRule = 'amount-low' | 'amount-high' | 'agent-count' | 'agent-in' | 'agent-out' | 'customer-daily' | 'float-floor';

export type Direction = 'in' | 'out';

export interface Reservation {
  /** Gives the reservation back (the money did not move). Idempotent. */
  release(): Promise<void>;
}

export interface AgentLimiter {
  /** The per-transaction limits and the daily counters as they stand, without reserving: for the screen. */
  check(input: LimitInput): Promise<LimitRule | undefined>;
  /** Reserves the movement on every daily counter, or refuses with the first rule it breaks (nothing kept). */
  reserve(input: LimitInput & { id: string }): Promise<{ ok: true; reservation: Reservation } | { ok: false; rule: LimitRule }>;
  /**
   * Gives back the reservation of movement `id`, if one is held (`Reservation.release` without the
   * reservation: whoever learns that the movement never moved, in another process). Idempotent.
   */
  release(input: LimitInput & { id: string }): Promise<void>;
}

export interface LimitInput {
  agentClientId: number;
  customerClientId: number;
  direction: Direction;
  cents: number;
  limits: AgentLimits;
}

/** How long a replay waits for another process taking the same movement's reservation. */
const MARK_WAIT_MS = 2000;
const MARK_POLL_MS = 25;

/** Counters outlive their business day by a day (a late release still finds them). */
const DAILY_TTL_MS = 2 * 24 * 3600 * 1000;

export function createAgentLimiter(deps: { store: KeyValueStore; keys: Keys; today: () => string }): AgentLimiter {
  const { store, keys } = deps;
  const day = () => deps.today().replaceAll('-', '');

  /** The counters one movement raises, each with its ceiling and the rule it stands for. */
  const countersOf = (input: LimitInput) => {
    const d = day();
    const { limits } = input;
    return [
      { key: keys.forCustomer(input.agentClientId, `agent:count:${d}`), by: 1, max: limits.dailyCount, rule: 'agent-count' as const },
      {
        key: keys.forCustomer(input.agentClientId, `agent:${input.direction}:${d}`),
        by: input.cents,
        max: input.direction === 'in' ? limits.dailyInCents : limits.dailyOutCents,
        rule: input.direction === 'in' ? ('agent-in' as const) : ('agent-out' as const),
      },
      {
        key: keys.forCustomer(input.customerClientId, `agent-cash:${d}`),
        by: input.cents,
        max: limits.customerDailyCents,
        rule: 'customer-daily' as const,
      },
    ];
  };

  const perTransaction = (input: LimitInput): LimitRule | undefined => {
    if (input.cents < input.limits.minCents) return 'amount-low';
    if (input.cents > input.limits.maxCents) return 'amount-high';
    return undefined;
  };

  const markOf = (input: { agentClientId: number; id: string }) => keys.forCustomer(input.agentClientId, `agent:reserved:${input.id}`);

  /** Only the holder of the mark gives back: a second release (or one after a refusal) changes nothing. */
  const giveBack = async (markKey: string, counters: ReturnType<typeof countersOf>) => {
    if (!(await store.deleteIfEquals(markKey, 'held'))) return;
    for (const c of counters) await store.increment(c.key, DAILY_TTL_MS, -c.by);
  };

  const limiter: AgentLimiter = {
    async check(input) {
      const single = perTransaction(input);
      if (single) return single;
      for (const counter of countersOf(input)) {
        const used = Number((await store.get(counter.key)) ?? 0);
        if (used + counter.by > counter.max) return counter.rule;
      }
      return undefined;
    },

    // Today's counters: it follows the reservation within a hop or two.
    release: (input) => giveBack(markOf(input), countersOf(input)),

    async reserve(input) {
      const single = perTransaction(input);
      if (single) return { ok: false, rule: single };
      const counters = countersOf(input);
      const markKey = markOf(input);
      const release = () => giveBack(markKey, counters);
      if (!(await store.setIfAbsent(markKey, 'taking', DAILY_TTL_MS))) {
        // Reserved (or refused) before for this movement, a replay: it stands as it was. Another process may be
        // taking it right now: its answer is waited for (briefly), never taken twice.
        for (let waited = 0; ; waited += MARK_POLL_MS) {
          const mark = await store.get(markKey);
          if (mark === 'held') return { ok: true, reservation: { release } };
          if (mark?.startsWith('refused:')) return { ok: false, rule: mark.slice('refused:'.length) as LimitRule };
          // Released since (the money did not move): this replay may reserve afresh.
          if (mark === null) return limiter.reserve(input);
          if (waited >= MARK_WAIT_MS) throw new Error('agent limit reservation still being taken');
          await sleep(MARK_POLL_MS);
        }
      }
      const taken: typeof counters = [];
      for (const counter of counters) {
        const now = await store.increment(counter.key, DAILY_TTL_MS, counter.by);
        taken.push(counter);
        if (now > counter.max) {
          for (const t of taken) await store.increment(t.key, DAILY_TTL_MS, -t.by);
          await store.set(markKey, `refused:${counter.rule}`, DAILY_TTL_MS);
          return { ok: false, rule: counter.rule };
        }
      }
      await store.set(markKey, 'held', DAILY_TTL_MS);
      return { ok: true, reservation: { release } };
    },
  };
  return limiter;
}
