import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { storeContract } from './store-contract.js';
import { lockContract } from './lock-contract.js';
import { sharedMemoryStore } from './helpers/memory.js';

storeContract('memory', async () => createMemoryStore(), 'mem');
lockContract('memory (one shared map)', sharedMemoryStore(), 'mem');

describe('memory store', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is of kind memory', () => {
    expect(createMemoryStore().kind).toBe('memory');
  });

  it('sweeps expired entries nobody reads', async () => {
    // Fake timers: the sweep interval and the TTL clock (performance.now) advance without waiting.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const store = createMemoryStore({ sweepIntervalMs: 20 });
    await store.set('a', '1', 30);
    await store.set('b', '2');
    expect(store.size()).toBe(2);
    await vi.advanceTimersByTimeAsync(120);
    expect(store.size()).toBe(1);
    await store.close();
  });
});
