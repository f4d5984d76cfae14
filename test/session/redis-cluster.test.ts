/**
 * The store contract on a real 3-master Redis Cluster started on loopback for this file (about 2-3 s to
 * start; needs redis-server and redis-cli on PATH). The servers are killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { createKeys } from '../../src/session/keys.js';
import { storeContract } from './store-contract.js';
import { lockContract } from './lock-contract.js';
import { pinContract } from '../security/pin-contract.js';
import { startCluster, stopAll } from './helpers/redis-server.js';
import { testPrefix } from './helpers/fixtures.js';

let url = '';
const prefix = testPrefix();
const open = async () => createRedisStore(url);

beforeAll(async () => {
  ({ url } = await startCluster());
}, 30_000);
afterAll(stopAll);

storeContract('redis cluster (3 masters)', open, prefix);
lockContract('redis cluster', open, prefix);
pinContract('redis cluster', open, prefix);

describe('redis cluster keys', () => {
  let store: RedisStore;
  beforeAll(async () => {
    store = createRedisStore(url);
    await store.ping();
  });
  afterAll(() => store.close());

  it('keeps all keys of one session, one customer, in one slot (multi-key commands are legal)', async () => {
    const keys = createKeys(prefix);
    const client = store.client as Cluster;
    expect(client).toBeInstanceOf(Cluster);
    const session = [keys.session('ussd', 'ATUid_x'), keys.lock('ussd', 'ATUid_x'), keys.forSession('ussd', 'ATUid_x', 'replay')];
    const customer = [keys.pin(7), keys.pinFailures(7), keys.pinLock(7), keys.forCustomer(7, 'otp')];
    for (const group of [session, customer]) {
      await expect(client.mget(...group)).resolves.toHaveLength(group.length);
    }
    // The keys of two different sessions do land on different nodes sometimes: a cross-slot command fails.
    const spread = Array.from({ length: 16 }, (_, i) => keys.session('ussd', `s${i}`));
    await expect(client.mget(...spread)).rejects.toThrow(/CROSSSLOT|same slot/i);
  });
});
