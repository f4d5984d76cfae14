import { afterAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/session/redis-store.js';
import { createKeys } from '../../src/session/keys.js';
import { createPinService } from '../../src/security/pin-service.js';
import { flushWrites, newHopScope, type HopContext } from '../../src/session/hop-context.js';
import { PEPPER } from './pin-contract.js';
import { REDIS_URL, deleteByPrefix, testPrefix } from '../session/helpers/fixtures.js';

/**
 * What a session learns about a customer's PIN record (its salt, never its hash) and what a number remembers
 * (`<number>:pin:known`) save round trips; none of it may let a changed or removed PIN be checked wrongly.
 */

const prefix = testPrefix();
const store = createRedisStore(REDIS_URL);
const keys = createKeys(prefix);
const pins = createPinService({ store, pepper: PEPPER, keys });
const NUMBER = '+254722000301';

afterAll(async () => {
  await deleteByPrefix(store, prefix);
  await store.close();
});

/** Runs `fn` as a hop that starts with `facts` (what the session kept), and returns the facts it ends with. */
async function hop<T>(facts: Map<string, string>, fn: (hop: HopContext) => Promise<T>): Promise<{ result: T; facts: Map<string, string> }> {
  const scope = newHopScope();
  for (const [k, v] of facts) scope.facts.set(k, v);
  const result = await fn({ scope });
  await flushWrites(scope);
  return { result, facts: new Map(scope.facts) };
}

describe('PIN checks with what a session and a number learned', () => {
  it('should check the PIN set now, not the one whose salt the session learned', async () => {
    await pins.setPin(301, '1234');
    const dial = await hop(new Map(), (h) => pins.hasPin(301, NUMBER, h));
    expect(dial.result).toBe(true);
    expect([...dial.facts.keys()]).toEqual(['pin-salt:301']);
    expect([...dial.facts.values()].join()).not.toContain('1234');
    // Changed elsewhere (another session, an operator) after this session learned the old salt.
    await pins.setPin(301, '5678');
    expect((await hop(dial.facts, (h) => pins.verify(301, '1234', { msisdn: NUMBER, hop: h }))).result).toEqual({
      result: 'wrong',
      attemptsLeft: 2,
    });
    expect((await hop(dial.facts, (h) => pins.verify(301, '5678', { msisdn: NUMBER, hop: h }))).result).toEqual({ result: 'ok' });
    // The number learned the new salt: its next dial needs no read of the record and checks in one step.
    expect(await store.get(keys.forMsisdn(NUMBER, 'pin:known'))).toMatch(/^301 /);
  });

  it("should stop assuming a PIN for the customer's numbers once an operator removes it", async () => {
    await pins.setPin(302, '1234');
    await pins.hasPin(302, NUMBER);
    expect(await store.get(keys.forMsisdn(NUMBER, 'pin:known'))).toMatch(/^302 /);
    await pins.clearPin(302, [NUMBER]);
    expect(await pins.hasPin(302, NUMBER)).toBe(false);
  });

  it("should forget the number's known PIN when the check finds none (removed without naming the number)", async () => {
    await pins.setPin(303, '1234');
    const dial = await hop(new Map(), (h) => pins.hasPin(303, NUMBER, h));
    await pins.clearPin(303);
    // What the number remembered still says "a PIN" (the dial asks for it), the check says there is none...
    expect(await pins.hasPin(303, NUMBER)).toBe(true);
    expect((await hop(dial.facts, (h) => pins.verify(303, '1234', { msisdn: NUMBER, hop: h }))).result).toEqual({ result: 'not-set' });
    // ...and the next dial knows.
    expect(await pins.hasPin(303, NUMBER)).toBe(false);
  });

  it("should not take another customer's known PIN for this one (a recycled number)", async () => {
    await pins.setPin(304, '1234');
    await pins.hasPin(304, NUMBER);
    expect(await pins.hasPin(305, NUMBER)).toBe(false);
  });
});
