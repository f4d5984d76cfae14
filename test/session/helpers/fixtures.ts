import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Cluster } from 'ioredis';
import type { RedisStore } from '../../../src/session/redis-store.js';
import { createLogger, type Logger } from '../../../src/logger.js';

/** The shared Redis the test suite may use (never flushed: tests delete only their own prefix). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for one test file. */
export function testPrefix(): string {
  return `kiunga-test-${randomBytes(5).toString('hex')}`;
}

/** Deletes every key under `prefix` (on every master of a Cluster). */
export async function deleteByPrefix(store: RedisStore, prefix: string): Promise<void> {
  await store.ping(); // the store waits for its first connection; the raw client would not
  const { client } = store;
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      for (const key of found) await node.del(key);
    } while (cursor !== '0');
  }
}

/** A logger whose lines the test can read back (for redaction checks). */
export function captureLogs(level = 'debug'): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger(level, sink), text: () => lines.join('') };
}
