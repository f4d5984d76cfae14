/**
 * The origination records (issue 12): compare-and-set with a state index on Redis (a Lua script) and on the
 * in-process store, the national ID rule table and the age check.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ageOn, parseBirthDate, validNationalId } from '../../src/origination/national-id.js';
import { RecordStore, type Versioned } from '../../src/origination/records.js';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createRedisStore } from '../../src/session/redis-store.js';
import { REDIS_URL } from '../helpers/server.js';

interface Item extends Versioned {
  owner: string;
  approvals: number;
}

const redis = createRedisStore(REDIS_URL);
afterAll(async () => {
  await redis.close();
});

describe.each([
  ['redis', () => redis],
  ['memory', () => createMemoryStore()],
])('RecordStore on %s', (_name, makeStore) => {
  const store = makeStore();
  const records = new RecordStore<Item>(store, `kiunga-test-${randomBytes(4).toString('hex')}`, 'item', (i) => i.owner);
  const item = (id: string, createdAt: number): Item => ({
    id,
    state: 'review',
    version: 1,
    createdAt,
    owner: '+254700000001',
    approvals: 0,
  });

  it('lets one of two racing changes from the same state win; the loser reads again and finds it decided', async () => {
    await records.create(item('a', 1));
    expect(await records.create(item('a', 1))).toBe(false);
    const approve = (i: Item) => (i.state === 'review' ? { ...i, state: 'approved', approvals: i.approvals + 1 } : undefined);
    const results = await Promise.all([records.update('a', approve), records.update('a', approve), records.update('a', approve)]);
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    const after = (await records.get('a'))!;
    expect(after).toMatchObject({ state: 'approved', approvals: 1, version: 2 });
  });

  it('moves a record between state lists with its change, newest first, and lists by owner', async () => {
    await records.create(item('b', 2));
    await records.create(item('c', 3));
    expect((await records.list('state', 'review')).map((i) => i.id)).toEqual(['c', 'b']);
    expect((await records.list('state', 'approved')).map((i) => i.id)).toEqual(['a']);
    await records.update('b', (i) => ({ ...i, state: 'rejected' }));
    expect((await records.list('state', 'review')).map((i) => i.id)).toEqual(['c']);
    expect((await records.list('owner', '+254700000001')).map((i) => i.id)).toEqual(['c', 'b', 'a']);
  });
});

describe('national ID and age', () => {
  it('takes a Kenyan ID of 7 or 8 digits, spaces and dashes aside, and nothing else', () => {
    expect(validNationalId('KE', '1234567')).toBe('1234567');
    expect(validNationalId('KE', '12 345-678')).toBe('12345678');
    for (const bad of ['123456', '123456789', '1234567A', '']) expect(validNationalId('KE', bad)).toBeUndefined();
    expect(validNationalId('UG', '1234567')).toBeUndefined();
  });

  it('reads DDMMYYYY and YYYY-MM-DD birth dates, refuses dates that do not exist, and counts whole years', () => {
    expect(parseBirthDate('15061990')).toBe('1990-06-15');
    expect(parseBirthDate('15/06/1990')).toBe('1990-06-15');
    expect(parseBirthDate('1990-06-15')).toBe('1990-06-15');
    expect(parseBirthDate('31022000')).toBeUndefined();
    expect(parseBirthDate('1506199')).toBeUndefined();
    expect(ageOn('2008-12-04', '2026-12-03')).toBe(17);
    expect(ageOn('2008-12-03', '2026-12-03')).toBe(18);
  });
});
