import { Cluster, type Redis } from 'ioredis';
import type { KeyValueStore } from './store.js';
import { tagSafe, type Keys } from './keys.js';
import type { MemoryStore } from './memory-store.js';

/**
 * Counts the keys matching a Redis glob pattern, with SCAN (never KEYS, which blocks Redis): on a Cluster,
 * on every master, since each holds its own slots. Costs one pass over the keyspace in pages of 1,000;
 * meant for operators' counts, not for every hop.
 */
export async function countKeys(store: KeyValueStore, pattern: string): Promise<number> {
  const client = (store as { client?: Redis | Cluster }).client;
  if (store.kind === 'redis' && client) {
    if (client.status !== 'ready') await store.ping();
    const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
    let total = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        total += keys.length;
      } while (cursor !== '0');
    }
    return total;
  }
  const memory = store as Partial<MemoryStore>;
  if (!memory.liveKeys) throw new TypeError('this store cannot count keys');
  const re = globToRegExp(pattern);
  return memory.liveKeys().filter((key) => re.test(key)).length;
}

/** Sessions with a live record, by channel (a record lives for its channel's session TTL after the last hop). */
export async function countSessions(store: KeyValueStore, keys: Keys, channels: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  // keys.ts names a session `<prefix>:{<channel>:<session id>}:session`; the prefix holds no glob character.
  for (const channel of channels) out[channel] = await countKeys(store, `${keys.prefix}:{${tagSafe(channel)}:*}:session`);
  return out;
}

/** Redis glob (`*`, `?`, `[...]`, `\\x`) as a regular expression over the whole key. */
function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '\\' && i + 1 < glob.length) out += glob[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        out += `[${glob.slice(i + 1, end)}]`;
        i = end;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}
