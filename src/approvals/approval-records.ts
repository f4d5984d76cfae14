import type { Cluster, Redis } from 'ioredis';
import type { KeyValueStore } from '../session/store.js';
import { redisBackend, storeBackend, type Backend, type KeyNames } from './approval-store.js';
import type { ApprovalRecord, DecisionResult } from './approval.js';

/**
 * The approval records as approval-service.ts reads and changes them: every key under one hash tag,
 * `<prefix>:{approvals}:…` (so the scripts of approval-store.ts are legal on a Redis Cluster), a record read by
 * its id, each change one compare-and-set tried again after a lost race, and how long a record is kept.
 */

/** Records are kept this long after their expiry (the audit trail keeps the history for good). */
export const KEEP_AFTER_EXPIRY_MS = 30 * 24 * 3600 * 1000;
/** How many times a change is tried again after losing a race. */
const CAS_TRIES = 8;

/** Why a change was not made (a decision's refusal). */
export type Refusal = Extract<DecisionResult, { outcome: 'refused' }>['reason'];

export type Changed = { record: ApprovalRecord } | { refused: Refusal };

export class ApprovalRecords {
  private readonly backend: Backend;
  readonly keys: KeyNames;

  constructor(
    private readonly store: KeyValueStore,
    /** REDIS_PREFIX. */
    prefix: string,
    private readonly now: () => number,
  ) {
    const base = `${prefix}:{approvals}`;
    this.keys = {
      record: (id) => `${base}:rec:${id}`,
      voided: (id) => `${base}:void:${id}`,
      state: (state) => `${base}:state:${state}`,
      waiting: (clientId) => `${base}:waiting:${clientId}`,
    };
    const client = (store as { client?: Redis | Cluster }).client;
    this.backend = store.kind === 'redis' && client ? redisBackend(store, client, this.keys) : storeBackend(store, this.keys);
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    if (!/^[0-9a-f]{32}$/.test(id)) return undefined;
    const raw = await this.backend.read(id);
    return raw ? (JSON.parse(raw) as ApprovalRecord) : undefined;
  }

  /** Writes a new record unless one exists (`exists`) or its id was voided (`voided`). */
  create(record: ApprovalRecord): ReturnType<Backend['create']> {
    return this.backend.create(record, this.ttlOf(record));
  }

  /** What `voidRequest` stored for `id` (JSON: the account and ref), or null when the id is not void. */
  voidMark(id: string): Promise<string | null> {
    return this.store.get(this.keys.voided(id));
  }

  /** Marks `id` void with `value` unless its record exists; true when it is void (now or before). */
  voidUnlessCreated(id: string, value: string): Promise<boolean> {
    return this.backend.voidUnlessCreated(id, value, KEEP_AFTER_EXPIRY_MS);
  }

  /**
   * One compare-and-set change: reads the record, lets `decide` build the next one (or refuse), and writes it
   * only if no other change came in between; otherwise reads and decides again.
   */
  async change(id: string, decide: (current: ApprovalRecord) => ApprovalRecord | Refusal): Promise<Changed> {
    for (let i = 0; i < CAS_TRIES; i++) {
      const current = await this.get(id);
      if (!current) return { refused: 'not-found' };
      const next = decide(current);
      if (typeof next === 'string') return { refused: next };
      const written: ApprovalRecord = { ...next, version: current.version + 1 };
      if (await this.backend.swap(current, written, this.ttlOf(written))) return { record: written };
    }
    throw new Error('approval changed too often to be written');
  }

  /** The records of the newest `limit` ids of a set (a state's, or an approver's waiting set), newest first. */
  async inSet(set: string, limit: number): Promise<ApprovalRecord[]> {
    const out: ApprovalRecord[] = [];
    for (const id of await this.backend.ids(set, limit)) {
      const record = await this.get(id);
      if (record) out.push(record);
    }
    return out.sort((a, b) => b.createdAt - a.createdAt);
  }

  private ttlOf(record: ApprovalRecord): number {
    return Math.max(record.expiresAt - this.now(), 0) + KEEP_AFTER_EXPIRY_MS;
  }
}
