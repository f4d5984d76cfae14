/**
 * The PIN service on a given store: lockout counted in the store, so it holds across every channel and
 * process that shares it (T5).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../src/session/store.js';
import { createKeys } from '../../src/session/keys.js';
import { createPinService, type PinService } from '../../src/security/pin.js';

export const PEPPER = 'test-pepper-0123456789abcdef';

export function pinContract(label: string, open: () => Promise<KeyValueStore>, prefix: string): void {
  describe(`PIN service: ${label}`, () => {
    const keys = createKeys(prefix);
    let store: KeyValueStore;
    let pins: PinService;
    let nextClient = 1000;
    const newClient = async (pin = '1234') => {
      const id = ++nextClient;
      await pins.setPin(id, pin);
      return id;
    };

    beforeAll(async () => {
      store = await open();
      pins = createPinService({ store, pepper: PEPPER, keys });
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
      expect(await pins.verify(id, '2222')).toEqual({ result: 'locked' });
      expect(await pins.isLocked(id)).toBe(true);
      expect(await pins.verify(id, '1234')).toEqual({ result: 'locked' });
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
      expect(await pins.verify(id, '')).toEqual({ result: 'locked' });
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
      expect(await pins.verify(id, '1234')).toEqual({ result: 'locked' });
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
        const other = createPinService({ store: otherStore, pepper: PEPPER, keys });
        expect(await pins.verify(id, '0000')).toEqual({ result: 'wrong', attemptsLeft: 2 });
        expect(await other.verify(id, '0000')).toEqual({ result: 'wrong', attemptsLeft: 1 });
        expect(await pins.verify(id, '0000')).toEqual({ result: 'locked' });
        expect(await other.verify(id, '1234')).toEqual({ result: 'locked' });
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
