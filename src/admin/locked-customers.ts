import type { Cluster, Redis } from 'ioredis';
import type { KeyValueStore } from '../session/store.js';
import type { PinLockStatus } from '../security/pin.js';

/**
 * The customers whose PIN is locked, for operators (`GET /admin/customers/locked`, the console). A lock adds
 * the client id (the PIN service's `onLocked`, wired in services.ts); the list is checked against the PIN
 * service when read, and ids no longer locked (a timed lock that ended, an unlock by any path) are dropped
 * then. So the set never needs to hear about every way a lock ends, and a missed removal costs nothing.
 *
 * Redis: one set (SADD/SREM are atomic across processes). In-process store: a JSON list under one key.
 */

export interface LockedCustomer {
  clientId: number;
  hard: boolean;
  /** End of a timed lock (ISO time); absent when hard. */
  until?: string;
  locks: number;
}

export class LockedCustomers {
  private readonly key: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: KeyValueStore,
    prefix: string,
  ) {
    this.key = `${prefix}:{admin}:locked`;
  }

  private get redis(): Redis | Cluster | undefined {
    const client = (this.store as { client?: Redis | Cluster }).client;
    return this.store.kind === 'redis' ? client : undefined;
  }

  async add(clientId: number | string): Promise<void> {
    const id = String(clientId);
    if (this.redis) {
      await this.store.ping();
      await this.redis.sadd(this.key, id);
      return;
    }
    await this.update((ids) => ids.add(id));
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    if (this.redis) {
      await this.redis.srem(this.key, ...ids);
      return;
    }
    await this.update((set) => ids.forEach((id) => set.delete(id)));
  }

  /** The customers locked right now, by client id; the others are forgotten on the way. */
  async list(status: (clientId: number) => Promise<PinLockStatus>): Promise<LockedCustomer[]> {
    const ids = this.redis ? (await this.store.ping(), await this.redis.smembers(this.key)) : [...(await this.read())];
    const out: LockedCustomer[] = [];
    const gone: string[] = [];
    for (const id of ids) {
      const s = /^\d{1,12}$/.test(id) ? await status(Number(id)) : undefined;
      if (!s?.locked) {
        gone.push(id);
        continue;
      }
      out.push({ clientId: Number(id), hard: s.hard, ...(s.until ? { until: new Date(s.until).toISOString() } : {}), locks: s.locks });
    }
    await this.remove(gone).catch(() => undefined);
    return out.sort((a, b) => a.clientId - b.clientId);
  }

  private async read(): Promise<Set<string>> {
    return new Set(JSON.parse((await this.store.get(this.key)) ?? '[]') as string[]);
  }

  /** In-process only: changes one after another (read, change, write). */
  private async update(change: (ids: Set<string>) => void): Promise<void> {
    const step = this.queue.then(async () => {
      const ids = await this.read();
      change(ids);
      await this.store.set(this.key, JSON.stringify([...ids]));
    });
    this.queue = step.catch(() => undefined);
    await step;
  }
}
