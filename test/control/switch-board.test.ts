/**
 * The switch board on its own (issue 10, threat T17): two boards on one Redis see each other's changes within
 * a second; while Redis cannot be read, money fails closed and every other scope stays on, and service comes
 * back by itself with Redis; the in-process store works the same in one process.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createLogger } from '../../src/logger.js';
import { SwitchBoard } from '../../src/control/switch-board.js';
import { REDIS_URL, LogCapture } from '../helpers/server.js';
import { startRedis, stopAll, type RedisProcess } from '../session/helpers/redis-server.js';

const logs = new LogCapture();
const logger = createLogger('info', logs);
const boards: SwitchBoard[] = [];
const stores: RedisStore[] = [];

function board(store: RedisStore | ReturnType<typeof createMemoryStore>, prefix: string, fourEyes = false) {
  const b = new SwitchBoard({ store, prefix, logger, fourEyes });
  boards.push(b);
  return b;
}
function redisStore(url: string) {
  const s = createRedisStore(url, { logger });
  stores.push(s);
  return s;
}

afterAll(async () => {
  for (const b of boards) b.close();
  for (const s of stores) await s.close();
  await stopAll();
});

describe('switch board', () => {
  it('should make a change on one process obeyed by another on the same Redis within one second', async () => {
    const prefix = `kiunga-test-${randomBytes(4).toString('hex')}`;
    const one = board(redisStore(REDIS_URL), prefix);
    const two = board(redisStore(REDIS_URL), prefix);
    await Promise.all([one.start(), two.start()]);
    expect([one.moneyAllowed(), two.moneyAllowed()]).toEqual([true, true]);

    const outcome = await one.change('money', { off: true, reason: 'Fineract upgrade' }, 'alice');
    expect(outcome).toMatchObject({ status: 'applied', state: { scope: 'money', off: true, reason: 'Fineract upgrade', by: 'alice' } });
    expect(one.moneyAllowed()).toBe(false);
    await sleep(1000);
    expect(two.moneyAllowed()).toBe(false);
    expect(two.isOff('money')).toBe(true);
    expect(two.isOff('channel:ussd')).toBe(false);

    await one.change('all', { off: true, reason: 'incident' }, 'alice');
    await one.change('money', { off: false }, 'alice');
    await sleep(1000);
    // `all` off stops money too.
    expect([two.isOff('money'), two.isOff('all'), two.moneyAllowed()]).toEqual([false, true, false]);
    await one.change('all', { off: false }, 'alice');
    await sleep(1000);
    expect(two.moneyAllowed()).toBe(true);
    expect((await two.states(['all', 'money', 'flow:banking'])).map((s) => [s.scope, s.off, s.by ?? null])).toEqual([
      ['all', false, 'alice'],
      ['money', false, 'alice'],
      ['flow:banking', false, null],
    ]);
  });

  it('should fail money closed while Redis cannot be read, keep other scopes on, and recover with Redis', async () => {
    const redis: RedisProcess = await startRedis();
    const b = board(redisStore(redis.url), `kiunga-test-${randomBytes(4).toString('hex')}`);
    await b.start();
    await b.change('channel:sms', { off: true, reason: 'provider outage' }, 'alice');
    expect([b.moneyAllowed(), b.isOff('channel:sms')]).toEqual([true, true]);

    await redis.kill();
    await sleep(1500);
    // State unknown: money off (fails closed); every other scope on (reads stay open), even one that was off.
    expect(b.moneyAllowed()).toBe(false);
    expect(b.isOff('money')).toBe(true);
    expect([b.isOff('all'), b.isOff('channel:ussd'), b.isOff('channel:sms'), b.isOff('flow:banking')]).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(logs.text).toContain('switch state unreadable');
    await expect(b.states(['money'])).rejects.toThrow();

    await redis.restart();
    const back = performance.now();
    while (!b.moneyAllowed() && performance.now() - back < 5000) await sleep(50);
    expect(b.moneyAllowed()).toBe(true);
  });

  it('should ask a second, different operator to switch money back on with four eyes', async () => {
    const b = board(redisStore(REDIS_URL), `kiunga-test-${randomBytes(4).toString('hex')}`, true);
    await b.start();
    // Switching off needs one operator.
    expect((await b.change('money', { off: true, reason: 'fraud wave' }, 'alice')).status).toBe('applied');
    expect(await b.change('money', { off: false }, 'alice')).toEqual({ status: 'pending', requestedBy: 'alice' });
    expect(b.moneyAllowed()).toBe(false);
    expect(await b.pending('money')).toMatchObject({ requestedBy: 'alice' });
    expect(await b.change('money', { off: false }, 'alice')).toEqual({ status: 'same-operator', requestedBy: 'alice' });
    expect(await b.change('money', { off: false }, 'bob')).toMatchObject({
      status: 'applied',
      requestedBy: 'alice',
      state: { off: false, by: 'bob' },
    });
    expect(b.moneyAllowed()).toBe(true);
    expect(await b.pending('money')).toBeUndefined();
    // A channel comes back with one operator.
    await b.change('channel:voice', { off: true, reason: 'x' }, 'alice');
    expect((await b.change('channel:voice', { off: false }, 'alice')).status).toBe('applied');
    // A request left behind is void once money is switched off again.
    await b.change('money', { off: true, reason: 'again' }, 'alice');
    await b.change('money', { off: false }, 'alice');
    await b.change('money', { off: true, reason: 'still' }, 'carol');
    expect(await b.change('money', { off: false }, 'bob')).toEqual({ status: 'pending', requestedBy: 'bob' });
  });

  it('should work on the in-process store in one process', async () => {
    const store = createMemoryStore();
    const b = board(store, 'kiunga');
    await b.start();
    expect(b.moneyAllowed()).toBe(true);
    await b.change('money', { off: true, reason: 'test' }, 'alice');
    expect(b.moneyAllowed()).toBe(false);
    await b.change('money', { off: false }, 'alice');
    expect(b.moneyAllowed()).toBe(true);
    await store.close();
  });
});
