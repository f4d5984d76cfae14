/**
 * The switch board, the session count and the locked-customer list on a real 3-master Redis Cluster (started
 * for this file, about 2-3 s): the switch state and its version share one hash tag, so the scripts are legal
 * there; the count SCANs every master, since sessions live in every slot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { createKeys } from '../../src/session/keys.js';
import { countSessions } from '../../src/session/count.js';
import { createLogger } from '../../src/logger.js';
import { SwitchBoard } from '../../src/control/switch-board.js';
import { LockedCustomers } from '../../src/admin/locked-customers.js';
import { LogCapture } from '../helpers/server.js';
import { startCluster, stopAll } from '../session/helpers/redis-server.js';

const logger = createLogger('info', new LogCapture());
const prefix = `kiunga-test-${randomBytes(4).toString('hex')}`;
let url = '';
const stores: RedisStore[] = [];
const boards: SwitchBoard[] = [];

beforeAll(async () => {
  ({ url } = await startCluster());
}, 30_000);
afterAll(async () => {
  for (const b of boards) b.close();
  for (const s of stores) await s.close();
  await stopAll();
});

const open = async () => {
  const store = createRedisStore(url, { logger });
  stores.push(store);
  await store.ping();
  return store;
};

describe('operators and switches on a Redis Cluster', () => {
  it('should share switch changes between two processes', async () => {
    const [one, two] = [new SwitchBoard({ store: await open(), prefix, logger }), new SwitchBoard({ store: await open(), prefix, logger })];
    boards.push(one, two);
    await Promise.all([one.start(), two.start()]);
    await one.change('money', { off: true, reason: 'cluster test' }, 'alice');
    await sleep(1000);
    expect(two.moneyAllowed()).toBe(false);
    await one.change('money', { off: false }, 'alice');
    await sleep(1000);
    expect(two.moneyAllowed()).toBe(true);
  });

  it('should count the sessions of every master', async () => {
    const store = await open();
    const keys = createKeys(prefix);
    const client = store.client as Cluster;
    const ids = Array.from({ length: 30 }, (_, i) => `at:ATUid_${i}`);
    for (const id of ids) await store.set(keys.session('ussd', id), '{}', 60_000);
    await store.set(keys.session('sms', 'at:ATXid_1'), '{}', 60_000);
    // The sessions really are spread over the masters: a count of one master alone would miss some.
    const holding = await Promise.all(client.nodes('master').map((node) => node.dbsize()));
    expect(holding.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(await countSessions(store, keys, ['ussd', 'sms', 'voice'])).toEqual({ ussd: 30, sms: 1, voice: 0 });
  });

  it('should keep the locked customers in one set', async () => {
    const locked = new LockedCustomers(await open(), prefix);
    await locked.add(7);
    await locked.add(8);
    const listed = await locked.list(async (id) => ({ locked: id === 7, hard: true, failures: 0, locks: 1 }));
    expect(listed).toEqual([{ clientId: 7, hard: true, locks: 1 }]);
    // 8 is no longer locked: dropped on the way.
    expect((await locked.list(async () => ({ locked: true, hard: true, failures: 0, locks: 1 }))).map((c) => c.clientId)).toEqual([7]);
  });
});
