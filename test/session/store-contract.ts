/**
 * The behaviour every KeyValueStore must have, run against the memory store, standalone Redis, Sentinel
 * and Cluster. `open` returns a new store on each call (one is closed by the suite).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyValueStore } from '../../src/session/store.js';
import { LockLost, StoreUnavailable } from '../../src/session/errors.js';
import { createKeys } from '../../src/session/keys.js';

export function storeContract(label: string, open: () => Promise<KeyValueStore>, prefix: string): void {
  describe(`KeyValueStore contract: ${label}`, () => {
    let store: KeyValueStore;
    let n = 0;
    const key = (name: string) => `${prefix}:{contract}:${name}-${++n}`;

    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('gets null for a missing key and round-trips a value', async () => {
      const k = key('roundtrip');
      expect(await store.get(k)).toBeNull();
      await store.set(k, 'a');
      expect(await store.get(k)).toBe('a');
      await store.set(k, 'ünïcödé {x} "quoted"');
      expect(await store.get(k)).toBe('ünïcödé {x} "quoted"');
    });

    it('expires a value after its TTL', async () => {
      const k = key('ttl');
      await store.set(k, 'v', 60);
      expect(await store.get(k)).toBe('v');
      await sleep(150);
      expect(await store.get(k)).toBeNull();
    });

    it('makes a key persistent again when set without a TTL', async () => {
      const k = key('persist');
      await store.set(k, 'short', 60);
      await store.set(k, 'long');
      await sleep(150);
      expect(await store.get(k)).toBe('long');
    });

    it('rejects a TTL that is not positive', async () => {
      const k = key('badttl');
      await expect(store.set(k, 'v', 0)).rejects.toBeInstanceOf(RangeError);
      await expect(store.setIfAbsent(k, 'v', -5)).rejects.toBeInstanceOf(RangeError);
      await expect(store.increment(k, Number.NaN)).rejects.toBeInstanceOf(RangeError);
      expect(await store.get(k)).toBeNull();
    });

    it('setIfAbsent sets only a missing key, and again once it expired', async () => {
      const k = key('nx');
      expect(await store.setIfAbsent(k, 'first', 80)).toBe(true);
      expect(await store.setIfAbsent(k, 'second', 80)).toBe(false);
      expect(await store.get(k)).toBe('first');
      await sleep(160);
      expect(await store.setIfAbsent(k, 'third', 1000)).toBe(true);
      expect(await store.get(k)).toBe('third');
    });

    it('setIfAbsent lets exactly one of 20 concurrent callers win', async () => {
      const k = key('nx-race');
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => store.setIfAbsent(k, `v${i}`, 5000)));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });

    it('deletes, including a missing key', async () => {
      const k = key('del');
      await store.set(k, 'v');
      await store.delete(k);
      expect(await store.get(k)).toBeNull();
      await expect(store.delete(k)).resolves.toBeUndefined();
    });

    it('deleteIfEquals deletes only while the key holds the value', async () => {
      const k = key('cad');
      expect(await store.deleteIfEquals(k, 'x')).toBe(false);
      await store.set(k, 'mine');
      expect(await store.deleteIfEquals(k, 'theirs')).toBe(false);
      expect(await store.get(k)).toBe('mine');
      expect(await store.deleteIfEquals(k, 'mine')).toBe(true);
      expect(await store.get(k)).toBeNull();
    });

    it('takes a lock and reads a key in one step, and writes and unlocks in one step', async () => {
      const lock = key('combo-lock');
      const data = key('combo-data');
      await store.set(data, 'before');
      expect(await store.lockAndGet(lock, 'token-a', 5000, data)).toEqual({ locked: true, value: 'before' });
      // A second holder is refused and reads nothing.
      expect(await store.lockAndGet(lock, 'token-b', 5000, data)).toEqual({ locked: false, value: null });
      // The wrong token neither writes nor releases someone else's lock.
      await expect(store.setAndUnlock(data, 'by-b', 5000, lock, 'token-b')).rejects.toBeInstanceOf(LockLost);
      expect(await store.get(lock)).toBe('token-a');
      expect(await store.get(data)).toBe('before');
      await store.setAndUnlock(data, 'by-a', 5000, lock, 'token-a');
      expect(await store.get(lock)).toBeNull();
      expect(await store.get(data)).toBe('by-a');
      expect(await store.lockAndGet(lock, 'token-c', 5000, key('combo-missing'))).toEqual({ locked: true, value: null });
    });

    it('a holder whose lock expired and was taken over cannot overwrite the newer record (LockLost)', async () => {
      const lock = key('takeover-lock');
      const data = key('takeover-data');
      await store.set(data, 'v1', 5000);
      // Hop A takes the lock, then stalls past the lock's TTL.
      expect(await store.lockAndGet(lock, 'token-a', 60, data)).toEqual({ locked: true, value: 'v1' });
      await sleep(150);
      // Hop B takes the lock over and writes the newer record, keeping the lock (still working).
      expect(await store.lockAndGet(lock, 'token-b', 5000, data)).toEqual({ locked: true, value: 'v1' });
      await expect(store.setAndUnlock(data, 'stale-from-a', 5000, lock, 'token-a')).rejects.toBeInstanceOf(LockLost);
      expect(await store.get(data)).toBe('v1');
      expect(await store.get(lock)).toBe('token-b');
      await store.setAndUnlock(data, 'v2-from-b', 5000, lock, 'token-b');
      // A persists late, after B finished and released: still refused, the newer record stays.
      const late = store.setAndUnlock(data, 'stale-from-a', 5000, lock, 'token-a');
      await expect(late).rejects.toBeInstanceOf(LockLost);
      await expect(late).rejects.toMatchObject({ name: 'LockLost' });
      expect(await store.get(data)).toBe('v2-from-b');
      expect(await store.get(lock)).toBeNull();
    });

    it('increments a counter, from a missing key or an integer value', async () => {
      const k = key('incr');
      expect(await store.increment(k)).toBe(1);
      expect(await store.increment(k)).toBe(2);
      await store.set(k, '41');
      expect(await store.increment(k)).toBe(42);
      await store.set(k, 'not a number');
      await expect(store.increment(k)).rejects.toThrow();
    });

    it('adds and subtracts amounts, with or without a TTL', async () => {
      const k = key('incrby');
      expect(await store.increment(k, undefined, 50_000)).toBe(50_000);
      expect(await store.increment(k, undefined, -20_000)).toBe(30_000);
      const t = key('incrby-ttl');
      expect(await store.increment(t, 60_000, 250)).toBe(250);
      expect(await store.increment(t, 60_000, 250)).toBe(500);
      await expect(store.increment(t, 60_000, 1.5)).rejects.toBeInstanceOf(RangeError);
    });

    it('gives each of 50 concurrent increments its own value', async () => {
      const k = key('incr-race');
      const values = await Promise.all(Array.from({ length: 50 }, () => store.increment(k)));
      expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('sets the TTL of a counter on the first increment, and later increments do not extend it', async () => {
      const k = key('incr-ttl');
      expect(await store.increment(k, 200)).toBe(1);
      await sleep(110);
      expect(await store.increment(k, 200)).toBe(2);
      expect(await store.increment(k)).toBe(3);
      await sleep(140); // 250 ms after the first increment: gone if the window was fixed at 200 ms
      expect(await store.get(k)).toBeNull();
      expect(await store.increment(k, 200)).toBe(1);
    });

    it('works with keys built from hostile identifiers', async () => {
      const keys = createKeys(prefix);
      const k = keys.session('ussd', `{evil}:${'x'.repeat(500)}`);
      await store.set(k, 'ok', 5000);
      expect(await store.get(k)).toBe('ok');
    });

    it('rejects with StoreUnavailable once closed', async () => {
      const other = await open();
      await other.set(key('closing'), 'v', 5000);
      await other.close();
      await expect(other.get(key('closed'))).rejects.toBeInstanceOf(StoreUnavailable);
      await expect(other.close()).resolves.toBeUndefined();
    });
  });
}
