import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createKeys } from '../../src/session/keys.js';
import { createLogger } from '../../src/logger.js';
import { CallbackService, type CallbackSettings } from '../../src/callback/callbacks.js';
import { CALL_JOB } from '../../src/jobs/catalogue.js';
import type { JobOptions, JobQueue } from '../../src/jobs/queue.js';

/**
 * The call-back rules on their own (in-process store, a recording queue, a stand-in Fineract): home numbers
 * only, registered and active only, one pending per number, a cap per number per hour and for everyone per
 * minute, retries after no answer.
 */

const REGISTERED = new Map([
  ['+254711000001', { active: true }],
  ['+254711000002', { active: true }],
  ['+254711000005', { active: false }],
]);

function setup(overrides: Partial<CallbackSettings> = {}) {
  const jobs: { name: string; data: Record<string, unknown>; options?: JobOptions }[] = [];
  const queue = {
    kind: 'memory',
    add: async (name: string, data: Record<string, unknown>, options?: JobOptions) => {
      jobs.push({ name, data, options });
    },
  } as unknown as JobQueue;
  let lookups = 0;
  const fineract = {
    findClientByPhone: async (msisdn: string) => {
      lookups++;
      const c = REGISTERED.get(msisdn);
      return c ? ({ clientId: 1, displayName: 'X', officeId: 1, active: c.active } as never) : null;
    },
  };
  const store = createMemoryStore();
  const callbacks = new CallbackService({
    store,
    keys: createKeys('t'),
    queue,
    fineract,
    logger: createLogger('silent'),
    settings: {
      homeCountry: 'KE',
      maxPerHour: 3,
      maxPerMinute: 100,
      delayMs: 3000,
      pendingTtlMs: 300_000,
      retries: 1,
      retryDelayMs: 60_000,
      ...overrides,
    },
  });
  return { callbacks, jobs, store, lookups: () => lookups };
}

describe('call-back requests', () => {
  it('should queue a call job { to, ref } a few seconds later and keep a record of it', async () => {
    const { callbacks, jobs } = setup();
    const out = await callbacks.request({ msisdn: '+254711000001', source: 'ussd' });
    expect(out).toEqual({ status: 'queued', ref: expect.stringMatching(/^[a-z0-9]{20}$/) });
    const ref = (out as { ref: string }).ref;
    expect(jobs).toEqual([
      { name: CALL_JOB, data: { to: '+254711000001', ref }, options: expect.objectContaining({ delayMs: 3000, jobId: `call-${ref}-1` }) },
    ]);
    expect(await callbacks.get(ref)).toMatchObject({ ref, msisdn: '+254711000001', source: 'ussd', state: 'queued', attempts: 1 });
  });

  it('should refuse numbers outside the home country (toll fraud) without asking Fineract', async () => {
    const { callbacks, jobs, lookups } = setup();
    for (const msisdn of ['+255754000001', '+447700900123', '+2540711000001', '0711000001', '+882355000000']) {
      expect(await callbacks.request({ msisdn, source: 'missed-call' }), msisdn).toEqual({ status: 'refused', reason: 'not-home' });
    }
    expect(jobs).toHaveLength(0);
    expect(lookups()).toBe(0);
  });

  it('should refuse unregistered and inactive numbers, and not keep them pending', async () => {
    const { callbacks, jobs } = setup();
    expect(await callbacks.request({ msisdn: '+254711000009', source: 'missed-call' })).toEqual({
      status: 'refused',
      reason: 'unregistered',
    });
    expect(await callbacks.request({ msisdn: '+254711000009', source: 'missed-call' })).toEqual({
      status: 'refused',
      reason: 'unregistered',
    });
    expect(await callbacks.request({ msisdn: '+254711000005', source: 'sms' })).toEqual({ status: 'refused', reason: 'inactive' });
    expect(jobs).toHaveLength(0);
  });

  it('should never have two call-backs to one number at once', async () => {
    const { callbacks, jobs } = setup();
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => callbacks.request({ msisdn: '+254711000001', source: 'missed-call' })),
    );
    expect(outcomes.filter((o) => o.status === 'queued')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'refused' && o.reason === 'pending')).toHaveLength(4);
    expect(jobs).toHaveLength(1);
    // Another number is not held up.
    expect((await callbacks.request({ msisdn: '+254711000002', source: 'ussd' })).status).toBe('queued');
  });

  it('should allow a few call-backs per number per hour', async () => {
    const { callbacks, jobs } = setup({ maxPerHour: 2 });
    for (let i = 0; i < 2; i++) {
      const out = await callbacks.request({ msisdn: '+254711000001', source: 'ussd' });
      expect(out.status).toBe('queued');
      await callbacks.finished((out as { ref: string }).ref, 'completed', `call-${i}`);
    }
    expect(await callbacks.request({ msisdn: '+254711000001', source: 'ussd' })).toEqual({ status: 'refused', reason: 'limit' });
    // Refused for the limit: nothing is pending, so the answer stays "limit", not "pending".
    expect(await callbacks.request({ msisdn: '+254711000001', source: 'missed-call' })).toEqual({ status: 'refused', reason: 'limit' });
    expect(jobs).toHaveLength(2);
  });

  it('should cap call-backs per minute for all numbers together', async () => {
    const { callbacks } = setup({ maxPerMinute: 1 });
    expect((await callbacks.request({ msisdn: '+254711000001', source: 'ussd' })).status).toBe('queued');
    expect(await callbacks.request({ msisdn: '+254711000002', source: 'ussd' })).toEqual({ status: 'refused', reason: 'busy' });
  });

  it('should call again after no answer while retries are left, then give up and free the number', async () => {
    const { callbacks, jobs } = setup({ retries: 1 });
    const { ref } = (await callbacks.request({ msisdn: '+254711000001', source: 'ussd' })) as { ref: string };
    await callbacks.finished(ref, 'no-answer', 'c1');
    await callbacks.finished(ref, 'no-answer', 'c1'); // reported twice
    expect(jobs.map((j) => j.options?.jobId)).toEqual([`call-${ref}-1`, `call-${ref}-2`]);
    expect(jobs[1]!.options?.delayMs).toBe(60_000);
    expect(await callbacks.request({ msisdn: '+254711000001', source: 'ussd' })).toEqual({ status: 'refused', reason: 'pending' });
    await callbacks.finished(ref, 'busy', 'c2');
    expect(await callbacks.get(ref)).toMatchObject({ state: 'missed', outcome: 'busy', attempts: 2 });
    expect(jobs).toHaveLength(2);
    expect((await callbacks.request({ msisdn: '+254711000001', source: 'ussd' })).status).toBe('queued');
  });

  it('should serve a call only while its call-back is live', async () => {
    const { callbacks } = setup();
    const { ref } = (await callbacks.request({ msisdn: '+254711000001', source: 'ussd' })) as { ref: string };
    expect(await callbacks.forCall({ ref })).toMatchObject({ ref });
    expect(await callbacks.forCall({ ref: 'bbbbbbbbbbbbbbbbbbbb' })).toBeUndefined();
    expect(await callbacks.forCall({ ref: '../../etc' })).toBeUndefined();
    expect(await callbacks.forCall({ callRef: async () => ref })).toMatchObject({ ref });
    await callbacks.answered(ref);
    // On the call: still one at a time, however long it lasts.
    expect(await callbacks.request({ msisdn: '+254711000001', source: 'missed-call' })).toEqual({ status: 'refused', reason: 'pending' });
    await callbacks.finished(ref, 'completed', 'c1');
    expect(await callbacks.forCall({ ref })).toBeUndefined();
  });
});
