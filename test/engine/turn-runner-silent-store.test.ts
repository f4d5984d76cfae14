/**
 * A hop whose store stops answering after the session lock was taken (a network partition between the
 * process and Redis, finding F4 in docs/resilience.md): past its deadline the runner answers its polite end
 * without waiting for the writes that cannot complete (the record, the lock's release, the deferred writes).
 * Here the writes never settle at all, so a runner that waits for them never answers. (Whether the dial ends
 * on its deadline, its lookup being slow, or rests in time on a cached lookup and then cannot write its
 * record, the answer is the same polite end.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { TurnRunner } from '../../src/engine/turn-runner.js';
import type { TurnRequest } from '../../src/engine/turn-types.js';
import type { KeyValueStore } from '../../src/session/store.js';
import { ussdProfile } from '../../src/channels/ussd-screen.js';
import { smsProfile } from '../../src/channels/sms-screen.js';
import { voiceProfile } from '../../src/channels/voice-render.js';
import { LogCapture } from '../helpers/server.js';

let services: Services;

beforeAll(async () => {
  services = await createServices(loadConfig({ LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1' }), createLogger('info', new LogCapture()));
});
afterAll(async () => {
  await services?.close();
});

/** The services' store, whose writes never settle once `silent` is set (reads still answer). */
function silentAfterLock(store: KeyValueStore): { store: KeyValueStore; silent: { on: boolean } } {
  const silent = { on: false };
  const writes = new Set(['set', 'setIfAbsent', 'setAndUnlock', 'deleteIfEquals', 'delete', 'increment']);
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (silent.on && writes.has(String(prop))) return new Promise(() => undefined);
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (prop === 'lockAndGet') silent.on = true;
        return result;
      };
    },
  });
  return { store: wrapped, silent };
}

describe('turn runner: a store that stops answering mid-hop', () => {
  it('answers the polite end of a hop past its deadline without waiting for its writes', async () => {
    const { store, silent } = silentAfterLock(services.store);
    const runner = new TurnRunner({
      store,
      keys: services.keys,
      flows: services.flows,
      translator: services.translator,
      logger: services.logger,
      defaultLanguage: 'en',
      profiles: {
        ussd: ussdProfile({ ttlMs: 60_000, limits: { 'GSM-7': 182, 'UCS-2': 91 }, translator: services.translator }),
        sms: smsProfile({ ttlMs: 60_000 }),
        voice: voiceProfile({ ttlMs: 60_000 }),
      },
    });
    // The dial's customer lookup is slower than the hop's deadline: the hop ends on its deadline.
    services.sandbox!.control.latencyMs = 1500;
    try {
      const req: TurnRequest = {
        channel: 'ussd',
        sessionId: `test:${Date.now()}:silent`,
        msisdn: '+254711000001',
        serviceCode: '*384*123#',
        flowId: 'banking',
        hopKey: `silent-${Date.now()}`,
        inputs: () => ({ inputs: [], transport: null }),
      };
      const answer = await Promise.race([runner.run(req, Date.now() + 300), sleep(10_000).then(() => 'no answer')]);
      expect(silent.on).toBe(true);
      expect(answer).toEqual({ end: true, text: expect.stringMatching(/not available/) });
    } finally {
      services.sandbox!.control.latencyMs = 0;
    }
  }, 20_000);
});
