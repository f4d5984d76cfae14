import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** Rejects when `promise` has not settled within `ms` (a connection without a command timeout never does). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Polls `attempt` (each try bounded by 1.5 s, the store's own command timeout first) until it resolves or `ms` pass. */
export async function recoversWithin(ms: number, attempt: () => Promise<unknown>) {
  const started = performance.now();
  const errors = new Map<string, number>();
  while (performance.now() - started < ms) {
    try {
      await within(attempt(), 1500);
      return { recovered: true, afterMs: Math.round(performance.now() - started), errors: Object.fromEntries(errors) };
    } catch (err) {
      const message = (err as Error).message;
      errors.set(message, (errors.get(message) ?? 0) + 1);
      await sleep(100);
    }
  }
  return { recovered: false, afterMs: Math.round(performance.now() - started), errors: Object.fromEntries(errors) };
}
