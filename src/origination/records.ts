import type { Cluster, Redis } from 'ioredis';
import type { KeyValueStore } from '../session/store.js';

/**
 * Versioned JSON records with a state index, for profiles and applications (issue 12). Every key lives under
 * one hash tag, `<prefix>:{origination}:…`, so the compare-and-set script is legal on a Redis Cluster. A change
 * is written only while the record still holds the version it was read at, and its state set moves in the same
 * step: two reviewers approving at once, or an approval racing a withdrawal, leave exactly one winner, and the
 * loser reads again. On the in-process store the same steps run one at a time in this process.
 */

export interface Versioned {
  id: string;
  state: string;
  version: number;
  createdAt: number;
}

// KEYS: record, state set, owner set. ARGV: json, id, score. Returns 1 when created.
const CREATE_LUA = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 1`;

// KEYS: record, old state set, new state set. ARGV: expected version, json, id, score.
const SWAP_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if tostring(cjson.decode(cur).version) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if KEYS[2] ~= KEYS[3] then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
end
return 1`;

interface Scripts {
  kiungaOriginationCreate(...args: (string | number)[]): Promise<number>;
  kiungaOriginationSwap(...args: (string | number)[]): Promise<number>;
}

export class RecordStore<R extends Versioned> {
  private readonly base: string;
  private readonly client?: Redis | Cluster;
  private queue: Promise<unknown> = Promise.resolve();

  /** `kind` names the records (`profile`, `application`); `owner` gives the set a record is listed under. */
  constructor(
    private readonly store: KeyValueStore,
    prefix: string,
    private readonly kind: string,
    private readonly owner: (record: R) => string,
  ) {
    this.base = `${prefix}:{origination}:${kind}`;
    const client = (store as { client?: Redis | Cluster }).client;
    if (store.kind === 'redis' && client) {
      client.defineCommand('kiungaOriginationCreate', { lua: CREATE_LUA });
      client.defineCommand('kiungaOriginationSwap', { lua: SWAP_LUA });
      this.client = client;
    }
  }

  private recordKey = (id: string) => `${this.base}:rec:${id}`;
  private stateKey = (state: string) => `${this.base}:state:${state}`;
  private ownerKey = (owner: string) => `${this.base}:owner:${owner}`;
  /** A key of this kind's own (an index entry), same hash tag. */
  key = (name: string) => `${this.base}:${name}`;

  private async ready(): Promise<void> {
    if (this.client && this.client.status !== 'ready') await this.store.ping();
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async get(id: string): Promise<R | undefined> {
    const raw = await this.store.get(this.recordKey(id));
    return raw ? (JSON.parse(raw) as R) : undefined;
  }

  async create(record: R): Promise<boolean> {
    const json = JSON.stringify(record);
    if (this.client) {
      await this.ready();
      const scripts = this.client as unknown as Scripts;
      const keys = [this.recordKey(record.id), this.stateKey(record.state), this.ownerKey(this.owner(record))];
      return (await scripts.kiungaOriginationCreate(3, ...keys, json, record.id, record.createdAt)) === 1;
    }
    return this.serial(async () => {
      if (await this.store.get(this.recordKey(record.id))) return false;
      await this.store.set(this.recordKey(record.id), json);
      await this.edit(this.stateKey(record.state), (e) => void (e[record.id] = record.createdAt));
      await this.edit(this.ownerKey(this.owner(record)), (e) => void (e[record.id] = record.createdAt));
      return true;
    });
  }

  /** Writes `next` (its version is `prev.version + 1`) only while the stored record is still `prev`. */
  async swap(prev: R, next: R): Promise<boolean> {
    const json = JSON.stringify(next);
    if (this.client) {
      await this.ready();
      const scripts = this.client as unknown as Scripts;
      const keys = [this.recordKey(next.id), this.stateKey(prev.state), this.stateKey(next.state)];
      return (await scripts.kiungaOriginationSwap(3, ...keys, String(prev.version), json, next.id, next.createdAt)) === 1;
    }
    return this.serial(async () => {
      const raw = await this.store.get(this.recordKey(next.id));
      if (!raw || (JSON.parse(raw) as R).version !== prev.version) return false;
      await this.store.set(this.recordKey(next.id), json);
      if (prev.state !== next.state) {
        await this.edit(this.stateKey(prev.state), (e) => void delete e[next.id]);
        await this.edit(this.stateKey(next.state), (e) => void (e[next.id] = next.createdAt));
      }
      return true;
    });
  }

  /**
   * Reads, changes and writes with compare-and-set, reading again after a lost race (at most `tries` times).
   * `change` returns the next record, or undefined to leave it as it is (then the current one is answered).
   */
  async update(id: string, change: (current: R) => R | undefined, tries = 8): Promise<{ record: R | undefined; changed: boolean }> {
    for (let i = 0; i < tries; i++) {
      const current = await this.get(id);
      if (!current) return { record: undefined, changed: false };
      const next = change(current);
      if (!next) return { record: current, changed: false };
      const written = { ...next, version: current.version + 1 };
      if (await this.swap(current, written)) return { record: written, changed: true };
    }
    throw new Error(`${this.kind} ${id} kept changing under us`);
  }

  async ids(set: 'state' | 'owner', name: string, limit: number): Promise<string[]> {
    const key = set === 'state' ? this.stateKey(name) : this.ownerKey(name);
    if (this.client) {
      await this.ready();
      return (this.client as Redis).zrevrange(key, 0, limit - 1);
    }
    return Object.entries(await this.readSet(key))
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([id]) => id);
  }

  async list(set: 'state' | 'owner', name: string, limit = 50): Promise<R[]> {
    const records: (R | undefined)[] = await Promise.all((await this.ids(set, name, limit)).map((id) => this.get(id)));
    // Filtered on the record, not the index: a record that moved on since it was listed is not shown here.
    return records.filter((r): r is R => r !== undefined && (set === 'owner' || r.state === name));
  }

  private async readSet(key: string): Promise<Record<string, number>> {
    return JSON.parse((await this.store.get(key)) ?? '{}') as Record<string, number>;
  }

  private async edit(key: string, change: (entries: Record<string, number>) => void): Promise<void> {
    const entries = await this.readSet(key);
    change(entries);
    await this.store.set(key, JSON.stringify(entries));
  }
}
