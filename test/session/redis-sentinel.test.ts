/** The store contract through Redis Sentinel (a master and one Sentinel started for this file). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/session/redis-store.js';
import { storeContract } from './store-contract.js';
import { startSentinel, stopAll } from './helpers/redis-server.js';
import { testPrefix } from './helpers/fixtures.js';

let url = '';
let masterPort = 0;
const open = async () => createRedisStore(url);

beforeAll(async () => {
  const started = await startSentinel('kiunga-master');
  url = started.url;
  masterPort = started.master.port;
}, 20_000);
afterAll(stopAll);

storeContract('redis sentinel', open, testPrefix());

describe('redis sentinel', () => {
  it('reaches the master named in the URL', async () => {
    const store = createRedisStore(url);
    await store.ping();
    expect(await store.client.info('server')).toContain(`tcp_port:${masterPort}`);
    await store.close();
  });
});
