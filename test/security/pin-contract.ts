/**
 * The PIN service on a given store: lockout counted in the store, so it holds across every channel and
 * process that shares it (T5); locks are time-boxed and escalate, and end by themselves (T26).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../src/session/store.js';
import { createKeys } from '../../src/session/keys.js';
import { createPinService } from '../../src/security/pin-service.js';
import type { PinLockNotice, PinService } from '../../src/security/pin.js';

export const PEPPER = 'test-pepper-0123456789abcdef';

export function pinContract(label: string, open: () => Promise<KeyValueStore>, prefix: string): void {
  describe(`PIN service: ${label}`, () => {
    const keys = createKeys(prefix);
    let store: KeyValueStore;
    let pins: PinService;
    let nextClient = 1000;
    // A clock the tests move: locks end by the clock the service is given, not by real time.
    const MIN = 60_000;
    let clock = Date.parse('2025-03-01T08:00:00Z');
    const notices: PinLockNotice[] = [];
    const newClient = async (pin = '1234') => {
      const id = ++nextClient;
      await pins.setPin(id, pin);
      return id;
    };

    beforeAll(async () => {
      store = await open();
      pins = createPinService({ store, pepper: PEPPER, keys, now: () => clock, onLocked: (n) => void notices.push(n) });
    });
    afterAll(async () => {
      await store.close();
    });

    it('accepts the right PIN', async () => {
      const id = await newClient();
      expect(await pins.verify(id, '1234')).toEqual({ result: 'ok' });
      expect(await pins.verify(id, '1234')).toEqual({ result: 'ok' });
    });

    it('says not-set for a customer with no PIN', async () => {
      expect(await pins.verify(++nextClient, '1234')).toEqual({ result: 'not-set' });
    });

    it('counts wrong PINs and locks at the third, after which even the right PIN is refused', async () => {
      const id = await newClient();
      expect(await pins.verify(id, '0000')).toEqual({ result: 'wrong', attemptsLeft: 2 });
      expect(await pins.verify(id, '1111')).toEqual({ result: 'wrong', attemptsLeft: 1 });
      expect(await pins.isLocked(id)).toBe(false);
      expect(await pins.verify(id, '2222')).toEqual({ result: 'locked', until: clock + 30 * MIN });
      expect(await pins.isLocked(id)).toBe(true);
      expect(await pins.verify(id, '1234')).toEqual({ result: 'locked', until: clock + 30 * MIN });
    });

    it('resets the failure count on success', async () => {
      const id = await newClient();
      await pins.verify(id, '0000');
      await pins.verify(id, '0000');
      expect(await pins.verify(id, '1234')).toEqual({ result: 'ok' });
      expect(await pins.verify(id, '0000')).toEqual({ result: 'wrong', attemptsLeft: 2 });
    });

    it('counts malformed input as a wrong attempt and never throws', async () => {
      const id = await newClient();
      expect(await pins.verify(id, '12a4')).toEqual({ result: 'wrong', attemptsLeft: 2 });
      expect(await pins.verify(id, '12345')).toEqual({ result: 'wrong', attemptsLeft: 1 });
      expect(await pins.verify(id, '')).toMatchObject({ result: 'locked' });
      const other = await newClient();
      for (const input of ['１２３４', ' 1234', '1234\n', '1'.repeat(10_000), undefined as unknown as string]) {
        await expect(pins.verify(other, input)).resolves.toMatchObject({ result: expect.stringMatching(/wrong|locked/) });
        await pins.unlock(other);
      }
    });

    it('locks exactly under 10 concurrent wrong guesses, comparing no guess after the limit', async () => {
      const id = await newClient();
      const guesses = Array.from({ length: 10 }, (_, i) => `900${i}`);
      const results = await Promise.all(guesses.map((g) => pins.verify(id, g)));
      const wrong = results.filter((r) => r.result === 'wrong');
      expect(wrong.map((r) => (r as { attemptsLeft: number }).attemptsLeft).sort()).toEqual([1, 2]);
      expect(results.filter((r) => r.result === 'locked')).toHaveLength(8);
      expect(await pins.isLocked(id)).toBe(true);
      expect(await pins.verify(id, '1234')).toMatchObject({ result: 'locked' });
    });

    it('never counts concurrent right PINs as wrong (one customer, many sessions)', async () => {
      const id = await newClient();
      const results = await Promise.all(Array.from({ length: 10 }, () => pins.verify(id, '1234')));
      expect(results.every((r) => r.result === 'ok')).toBe(true);
      expect(await pins.isLocked(id)).toBe(false);
    });

    it('shares the lockout between two services on two store clients (two processes)', async () => {
      const id = await newClient();
      const otherStore = await open();
      try {
        const other = createPinService({ store: otherStore, pepper: PEPPER, keys, now: () => clock });
        expect(await pins.verify(id, '0000')).toEqual({ result: 'wrong', attemptsLeft: 2 });
        expect(await other.verify(id, '0000')).toEqual({ result: 'wrong', attemptsLeft: 1 });
        expect(await pins.verify(id, '0000')).toMatchObject({ result: 'locked' });
        expect(await other.verify(id, '1234')).toMatchObject({ result: 'locked' });
      } finally {
        await otherStore.close();
      }
    });

    it('unlock clears the lock and the counter', async () => {
      const id = await newClient();
      for (const g of ['0000', '0000', '0000']) await pins.verify(id, g);
      expect(await pins.isLocked(id)).toBe(true);
      await pins.unlock(id);
      expect(await pins.isLocked(id)).toBe(false);
      expect(await pins.verify(id, '0000')).toEqual({ result: 'wrong', attemptsLeft: 2 });
      expect(await pins.verify(id, '1234')).toEqual({ result: 'ok' });
    });

    it('liftTimedLock (self-unlock) ends a timed lock of the customer and of the number, keeping the escalation', async () => {
      const id = await newClient();
      const caller = { msisdn: '+254700001111' };
      for (const pin of ['0000', '1111', '2222']) await pins.verify(id, pin, caller);
      expect(await pins.status(id)).toMatchObject({ locked: true, locks: 1 });
      expect(await pins.liftTimedLock(id)).toBe(true);
      expect(await pins.status(id)).toMatchObject({ locked: false, failures: 0, locks: 1 });
      // The number that failed is free too, and the PIN still has to be right.
      expect(await pins.verify(id, '1234', caller)).toEqual({ result: 'ok' });
      for (const pin of ['0000', '1111']) await pins.verify(id, pin, caller);
      // A right PIN reset the escalation above; lock once more, lift, and the next lock doubles.
      expect(await pins.verify(id, '2222', caller)).toEqual({ result: 'locked', until: clock + 30 * MIN });
      expect(await pins.liftTimedLock(id)).toBe(true);
      for (const pin of ['0000', '1111']) await pins.verify(id, pin, caller);
      expect(await pins.verify(id, '2222', caller)).toEqual({ result: 'locked', until: clock + 60 * MIN });
      expect(await pins.liftTimedLock(++nextClient)).toBe(false);
    });

    it('liftTimedLock never ends a hard lock', async () => {
      const hard = createPinService({ store, pepper: PEPPER, keys, now: () => clock, hardLockAfter: 0 });
      const id = ++nextClient;
      await hard.setPin(id, '1234');
      for (const pin of ['0000', '1111', '2222']) await hard.verify(id, pin);
      expect(await hard.status(id)).toMatchObject({ locked: true, hard: true });
      expect(await hard.liftTimedLock(id)).toBe(false);
      expect(await hard.status(id)).toMatchObject({ locked: true, hard: true });
    });

    it('locks for PIN_LOCK_S only: after it the right PIN works, and the customer is told once (T26)', async () => {
      const id = await newClient();
      const before = notices.length;
      for (const g of ['0000', '1111']) await pins.verify(id, g, { msisdn: '+254722000101' });
      expect(await pins.verify(id, '2222', { msisdn: '+254722000101' })).toEqual({ result: 'locked', until: clock + 30 * MIN });
      expect(await pins.verify(id, '1234', { msisdn: '+254722000101' })).toMatchObject({ result: 'locked' });
      expect(notices.slice(before)).toEqual([
        { clientId: id, msisdn: '+254722000101', until: clock + 30 * MIN, lockMs: 30 * MIN, hard: false, locks: 1 },
      ]);
      clock += 29 * MIN;
      expect(await pins.verify(id, '1234', { msisdn: '+254722000101' })).toMatchObject({ result: 'locked' });
      clock += 1 * MIN;
      expect(await pins.isLocked(id)).toBe(false);
      expect(await pins.verify(id, '1234', { msisdn: '+254722000101' })).toEqual({ result: 'ok' });
      expect(notices.length - before).toBe(1);
    });

    it('doubles each further lock and makes the lock after PIN_HARD_LOCK_AFTER timed ones hard, until unlock', async () => {
      const id = await newClient();
      const lockWith = async () => {
        for (const g of ['0000', '1111', '2222']) await pins.verify(id, g);
        return pins.status(id);
      };
      const durations: number[] = [];
      for (let i = 0; i < 3; i++) {
        const s = await lockWith();
        expect(s).toMatchObject({ locked: true, hard: false, locks: i + 1 });
        durations.push(s.until! - clock);
        clock = s.until!;
      }
      expect(durations).toEqual([30 * MIN, 60 * MIN, 120 * MIN]);
      const before = notices.length;
      expect(await lockWith()).toMatchObject({ locked: true, hard: true, locks: 4 });
      expect(notices.slice(before)).toEqual([{ clientId: id, hard: true, locks: 4 }]);
      clock += 365 * 24 * 60 * MIN;
      expect(await pins.verify(id, '1234')).toEqual({ result: 'locked' });
      await pins.unlock(id);
      expect(await pins.status(id)).toEqual({ locked: false, hard: false, failures: 0, locks: 0 });
      // Escalation is forgotten too: the next lock is a first one again.
      expect(await lockWith()).toMatchObject({ locked: true, hard: false, locks: 1, until: clock + 30 * MIN });
    });

    it('forgets wrong PINs 24 h after the last one, and locks 24 h after the last one ended', async () => {
      const id = await newClient();
      await pins.verify(id, '0000');
      await pins.verify(id, '0000');
      clock += 24 * 60 * MIN;
      expect(await pins.verify(id, '0000')).toEqual({ result: 'wrong', attemptsLeft: 2 });
      await pins.verify(id, '0000');
      const first = await pins.verify(id, '0000');
      expect(first).toEqual({ result: 'locked', until: clock + 30 * MIN });
      clock += 30 * MIN + 23 * 60 * MIN;
      for (const g of ['0000', '0000', '0000']) await pins.verify(id, g);
      expect((await pins.status(id)).until! - clock).toBe(60 * MIN); // remembered: doubled
      clock += 60 * MIN + 24 * 60 * MIN;
      for (const g of ['0000', '0000', '0000']) await pins.verify(id, g);
      expect((await pins.status(id)).until! - clock).toBe(30 * MIN); // forgotten: a first lock again
    });

    it('a right PIN clears the failures and the escalation', async () => {
      const id = await newClient();
      for (const g of ['0000', '0000', '0000']) await pins.verify(id, g);
      clock += 30 * MIN;
      expect(await pins.verify(id, '1234')).toEqual({ result: 'ok' });
      expect(await pins.status(id)).toEqual({ locked: false, hard: false, failures: 0, locks: 0 });
      for (const g of ['0000', '0000', '0000']) await pins.verify(id, g);
      expect((await pins.status(id)).until! - clock).toBe(30 * MIN);
      clock += 30 * MIN;
    });

    it('counts wrong PINs per number too: a number locked for one customer is locked for the next', async () => {
      const a = await newClient();
      const b = await newClient();
      const number = '+254722000202';
      expect(await pins.verify(a, '0000', { msisdn: number })).toEqual({ result: 'wrong', attemptsLeft: 2 });
      expect(await pins.verify(a, '0000', { msisdn: number })).toEqual({ result: 'wrong', attemptsLeft: 1 });
      // Customer b's count is fresh, the number's is not: the lower count decides.
      expect(await pins.verify(b, '0000', { msisdn: number })).toEqual({ result: 'locked', until: clock + 30 * MIN });
      expect(await pins.isLocked(b)).toBe(false);
      expect(await pins.verify(b, '1234', { msisdn: number })).toMatchObject({ result: 'locked' });
      expect(await pins.verify(b, '1234', { msisdn: '+254722000203' })).toEqual({ result: 'ok' });
      // An operator's unlock of a customer frees the numbers that failed for them.
      await pins.unlock(b);
      expect(await pins.verify(a, '1234', { msisdn: number })).toEqual({ result: 'ok' });
    });

    it("a right PIN clears the number's failures too: the number's next customer starts afresh", async () => {
      const a = await newClient();
      const b = await newClient();
      const number = '+254722000206';
      expect(await pins.verify(a, '0000', { msisdn: number })).toEqual({ result: 'wrong', attemptsLeft: 2 });
      expect(await pins.verify(a, '0000', { msisdn: number })).toEqual({ result: 'wrong', attemptsLeft: 1 });
      expect(await pins.verify(a, '1234', { msisdn: number })).toEqual({ result: 'ok' });
      expect(await pins.verify(b, '0000', { msisdn: number })).toEqual({ result: 'wrong', attemptsLeft: 2 });
    });

    it('a locked number compares nothing: its wrong PINs do not count against a customer, its right PIN clears nothing', async () => {
      const c = await newClient();
      const d = await newClient();
      const locked = '+254722000204';
      for (const g of ['0000', '0000', '0000']) await pins.verify(c, g, { msisdn: locked });
      expect(await pins.verify(c, '1234', { msisdn: locked })).toMatchObject({ result: 'locked' });
      // d has one failure of their own, from their own number.
      expect(await pins.verify(d, '0000', { msisdn: '+254722000205' })).toEqual({ result: 'wrong', attemptsLeft: 2 });
      for (const g of ['0000', '1111', '2222', '3333'])
        expect(await pins.verify(d, g, { msisdn: locked })).toMatchObject({ result: 'locked' });
      expect(await pins.status(d)).toEqual({ locked: false, hard: false, failures: 1, locks: 0 });
      expect(await pins.verify(d, '1234', { msisdn: locked })).toMatchObject({ result: 'locked' });
      expect(await pins.status(d)).toEqual({ locked: false, hard: false, failures: 1, locks: 0 });
      expect(await pins.verify(d, '0000', { msisdn: '+254722000205' })).toEqual({ result: 'wrong', attemptsLeft: 1 });
    });

    it('seedIfAbsent never overwrites an existing PIN', async () => {
      const id = ++nextClient;
      expect(await pins.seedIfAbsent(id, '2468')).toBe(true);
      expect(await pins.seedIfAbsent(id, '1357')).toBe(false);
      expect(await pins.verify(id, '2468')).toEqual({ result: 'ok' });
      await pins.setPin(id, '1357');
      expect(await pins.verify(id, '1357')).toEqual({ result: 'ok' });
    });
  });
}
