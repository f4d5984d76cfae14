import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { Router } from 'express';
import type { Redis } from 'ioredis';
import { mountAuditRoutes } from '../../src/admin/audit-routes.js';
import type { AuditLog } from '../../src/audit/audit-log.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import type { Keys } from '../../src/session/keys.js';
import { freshDir, freshKeys, idOf, KEYS, recordMany, REDIS_URL, silent, streamKey, trail } from './helpers.js';

/**
 * The operators' audit routes over real HTTP (threat T16): paging, the NDJSON export and the verdict. The
 * admin gate in front of them (tokens, rate limits) has its own tests; here the routes are served bare.
 */

let store: RedisStore;
let redis: Redis;
let keys: Keys;
let log: AuditLog;
let server: Server;
let url: string;

beforeAll(async () => {
  store = createRedisStore(REDIS_URL);
  await store.ping();
  redis = store.client as Redis;
  keys = freshKeys();
  log = trail(store, keys, { signingKey: KEYS.privateKey, checkpointDir: freshDir(), checkpointEvery: 10 });
  await recordMany(log, 23);
  const router = Router();
  mountAuditRoutes(router, { audit: log, logger: silent });
  const app = express();
  app.use(router);
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await log?.close();
  await store?.close();
});

const get = async (path: string) => {
  const res = await fetch(`${url}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
};
const seqs = (entries: { entry: { seq: number } }[]) => entries.map((e) => e.entry.seq);

describe('audit routes', () => {
  it('should page the trail: 50 by default, limit and after, next while there is more', async () => {
    const all = JSON.parse((await get('/admin/audit')).text) as { entries: { id: string; entry: { seq: number } }[]; next?: string };
    expect(seqs(all.entries)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
    expect(all.next).toBeUndefined();

    const first = JSON.parse((await get('/admin/audit?limit=10')).text) as typeof all;
    expect(seqs(first.entries)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(first.next).toBe(first.entries[9]!.id);
    const second = JSON.parse((await get(`/admin/audit?after=${first.next}&limit=10`)).text) as typeof all;
    expect(seqs(second.entries)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    const entry = second.entries[0] as unknown as { hash: string; entry: Record<string, unknown> };
    expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(entry.entry).toMatchObject({ seq: 11, type: 'money.attempt', actor: 'customer:1', msisdn: '+2547******01' });
  });

  it('should refuse a malformed after or limit with 400, echoing neither', async () => {
    for (const query of ['limit=0', 'limit=501', 'limit=ten', 'after=%2B254711000001', 'after=1-2-3', 'limit=5&limit=6']) {
      const res = await get(`/admin/audit?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.text).not.toContain('254711000001');
    }
  });

  it('should export every entry as NDJSON', async () => {
    const res = await get('/admin/audit/export');
    expect(res.status).toBe(200);
    expect(res.type).toContain('application/x-ndjson');
    const lines = res.text.trimEnd().split('\n');
    expect(lines).toHaveLength(23);
    expect(lines.map((line) => (JSON.parse(line) as { entry: { seq: number } }).entry.seq)).toEqual(
      Array.from({ length: 23 }, (_, i) => i + 1),
    );
  });

  it('should answer the verdict of the trail, and name the entry once one is deleted', async () => {
    expect(JSON.parse((await get('/admin/audit/verify')).text)).toEqual({ ok: true, entries: 23, checkpoints: 2 });
    const other = freshKeys();
    const second = trail(store, other);
    await recordMany(second, 5);
    const router = Router();
    mountAuditRoutes(router, { audit: second, logger: silent });
    const app = express().use(router);
    const s = app.listen(0, '127.0.0.1');
    await once(s, 'listening');
    await redis.xdel(streamKey(other), await idOf(redis, other, 3));
    const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/admin/audit/verify`);
    expect(await res.json()).toMatchObject({ ok: false, problem: { seq: 3, kind: 'deleted' } });
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
    await second.close();
  });
});
