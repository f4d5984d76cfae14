import { z } from 'zod';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';

/**
 * The agent registry (issue 11; threats T14, T32): which Fineract clients are agents, the savings account that
 * is their float, the store number customers read on their counter, their limits and whether they may work.
 * Fineract knows nothing of agents: this record is Kiunga's, kept in the store and managed by operators
 * (`PUT /admin/agents/<clientId>`, src/admin/agent-routes.ts). The float account's ownership is checked in
 * Fineract by the route before a record is written, and again before every movement (the transfer service
 * reads the account as the client's own).
 */

/** The fields of an agent's limits (the admin API takes any of them to change), amounts in minor units. */
export const AgentLimitFields = z
  .object({
    /** Smallest and largest cash-in or cash-out. */
    minCents: z.number().int().min(1),
    maxCents: z.number().int().min(1),
    /** Movements per agent per business day (cash-in and cash-out together). */
    dailyCount: z.number().int().min(1),
    /** Value per agent per business day, cash-in and cash-out counted apart. */
    dailyInCents: z.number().int().min(1),
    dailyOutCents: z.number().int().min(1),
    /** Cash-in is refused when it would leave the float below this. */
    floatFloorCents: z.number().int().min(0),
    /** Value per customer per business day, at any agent (cash-in and cash-out together). */
    customerDailyCents: z.number().int().min(1),
  })
  .strict();

/** Limits of one agent. Every one is checked before any money call (src/agents/limits.ts). */
export const AgentLimitsSchema = AgentLimitFields.refine((l) => l.minCents <= l.maxCents, {
  message: 'minCents must not be above maxCents',
  path: ['minCents'],
});

export type AgentLimits = z.infer<typeof AgentLimitsSchema>;

/** Limits an agent gets when the operator names none (KES: 50.00 to 70,000.00 a movement, as M-Pesa's agents). */
export const DEFAULT_AGENT_LIMITS: AgentLimits = {
  minCents: 5_000,
  maxCents: 7_000_000,
  dailyCount: 200,
  dailyInCents: 50_000_000,
  dailyOutCents: 50_000_000,
  floatFloorCents: 100_000,
  customerDailyCents: 15_000_000,
};

/** A store number as printed on the counter: 4 to 10 digits. */
export const StoreNumberSchema = z.string().regex(/^\d{4,10}$/, 'a store number is 4 to 10 digits');

export interface AgentRecord {
  clientId: number;
  storeNumber: string;
  /** Fineract savings account id of the float, and its number (for people). */
  floatAccountId: number;
  floatAccountNo: string;
  status: 'active' | 'suspended';
  limits: AgentLimits;
  /** Who last changed it (`operator:<name>` or `system` for the sandbox seed), and when (ms). */
  updatedBy: string;
  updatedAt: number;
}

export interface AgentRegistry {
  get(clientId: number): Promise<AgentRecord | undefined>;
  byStore(storeNumber: string): Promise<AgentRecord | undefined>;
  /**
   * Writes the record. Refuses (`store-taken`) a store number another agent holds: customers check the store
   * number on the counter against the one Kiunga names, so it must name one agent only.
   */
  put(record: AgentRecord): Promise<{ ok: true } | { ok: false; reason: 'store-taken' }>;
}

/** The claim's first life (SET NX needs one); made persistent right after. */
const CLAIM_TTL_MS = 24 * 3600 * 1000;

export function createAgentRegistry(deps: { store: KeyValueStore; keys: Keys }): AgentRegistry {
  const { store, keys } = deps;
  const recordKey = (clientId: number) => keys.forSession('agents', 'registry', `client:${clientId}`);
  const storeKey = (storeNumber: string) => keys.forSession('agents', 'registry', `store:${storeNumber}`);
  const read = async (clientId: number) => {
    const raw = await store.get(recordKey(clientId));
    return raw ? (JSON.parse(raw) as AgentRecord) : undefined;
  };
  return {
    get: read,
    async byStore(storeNumber) {
      const owner = await store.get(storeKey(storeNumber));
      if (!owner) return undefined;
      const record = await read(Number(owner));
      // A store number moved to another agent leaves no stale owner behind: the record must still name it.
      return record?.storeNumber === storeNumber ? record : undefined;
    },
    async put(record) {
      // Claimed first (SET NX), so two operators giving one number to two agents cannot both succeed.
      const claimed = await store.setIfAbsent(storeKey(record.storeNumber), String(record.clientId), CLAIM_TTL_MS);
      if (claimed)
        await store.set(storeKey(record.storeNumber), String(record.clientId)); // kept for good
      else {
        const holder = await store.get(storeKey(record.storeNumber));
        const holderRecord = holder ? await read(Number(holder)) : undefined;
        // The holder moved to another number: the claim is stale and may be taken over.
        if (holder !== String(record.clientId) && holderRecord?.storeNumber === record.storeNumber)
          return { ok: false, reason: 'store-taken' };
        if (holder !== String(record.clientId)) await store.set(storeKey(record.storeNumber), String(record.clientId));
      }
      const previous = await read(record.clientId);
      await store.set(recordKey(record.clientId), JSON.stringify(record));
      if (previous && previous.storeNumber !== record.storeNumber) {
        await store.deleteIfEquals(storeKey(previous.storeNumber), String(record.clientId));
      }
      return { ok: true };
    },
  };
}
