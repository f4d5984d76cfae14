import { createMemoryStore } from '../../../src/session/memory-store.js';
import type { KeyValueStore } from '../../../src/session/store.js';

/**
 * Opens handles on one shared memory store, as two processes hold two handles on one Redis; closing a
 * handle leaves the shared map alone.
 */
export function sharedMemoryStore(): () => Promise<KeyValueStore> {
  const store = createMemoryStore();
  return async () => ({ ...store, close: async () => undefined });
}
