/**
 * A primary demoted while Kiunga's connections to it stay open: a managed Redis failing over behind one DNS name
 * (the name moves to the new primary; connections already open stay on the old one, now a replica), or an
 * operator's REPLICAOF. Every write on such a connection is answered READONLY, and nothing ever closes it. The
 * store reconnects on READONLY, and the reconnection reaches the new primary. The name's move is a TCP proxy
 * retargeted (connections opened after it reach the new primary, open ones stay); two redis-server processes of
 * this file's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { TcpProxy } from '../resilience/tcp-proxy.js';
import { cli, startRedis, stopAll, type RedisProcess } from './helpers/redis-server.js';
import { recoversWithin, testPrefix } from './helpers/fixtures.js';

let primary: RedisProcess;
let standby: RedisProcess;
let name: TcpProxy;
let store: RedisStore;
let copy: Redis;

beforeAll(async () => {
  primary = await startRedis();
  standby = await startRedis();
  name = await new TcpProxy({ host: '127.0.0.1', port: primary.port }).start();
}, 20_000);
afterAll(async () => {
  copy?.disconnect();
  await store?.close();
  await name?.close();
  await stopAll();
});

describe('redis store: the primary demoted under its open connections', () => {
  it('reconnects on READONLY, the store and a connection duplicated from it, and writes on the new primary', async () => {
    const key = `${testPrefix()}:readonly`;
    store = createRedisStore(name.url);
    await store.set(key, 'before', 60_000);
    // The job queue's and the limiters' connections are duplicated from the store's client.
    copy = store.client.duplicate() as Redis;
    if (copy.status !== 'ready') await new Promise((resolve) => copy.once('ready', resolve));
    await copy.set(`${key}:copy`, 'before');

    // The failover: the standby becomes the primary, the old primary its replica, and the name moves.
    await cli(primary.port, 'replicaof', '127.0.0.1', String(standby.port));
    name.retarget({ host: '127.0.0.1', port: standby.port });

    const viaStore = await recoversWithin(5000, () => store.set(key, 'after', 60_000));
    const viaCopy = await recoversWithin(5000, () => copy.set(`${key}:copy`, 'after'));
    // Each failed at most the write that met the replica (and any sent while reconnecting), then reached the new
    // primary, where the value is.
    expect(viaStore.recovered, JSON.stringify(viaStore.errors)).toBe(true);
    expect(viaCopy.recovered, JSON.stringify(viaCopy.errors)).toBe(true);
    expect(Object.keys(viaStore.errors).join('\n')).toMatch(/READONLY/);
    expect((await cli(standby.port, 'get', key)).trim()).toBe('after');
    expect((await cli(standby.port, 'get', `${key}:copy`)).trim()).toBe('after');
  });
});
