/**
 * The sandbox provider's ids are unique across processes, as a real provider's are: several Kiunga processes
 * share one Redis, where a placed call's ref is kept under its provider id (`callRefKey`), so two processes'
 * `sandbox-call-1` would give one call the other's ref (seen in test/resilience/kill.test.ts, "mid-call", when a
 * restarted process numbered its calls from 1 again).
 */
import { describe, expect, it } from 'vitest';
import { SandboxDialer } from '../../src/messaging/dialer.js';
import { SandboxOutbox } from '../../src/messaging/messenger.js';

describe('sandbox provider ids', () => {
  it('should never give two dialers (two processes, or one restarted) the same call id', async () => {
    const call = { to: '+254711000001', ref: 'ref-1' };
    const [a, b] = [new SandboxDialer(), new SandboxDialer()];
    const ids = [await a.call(call), await b.call(call), await a.call(call), await b.call(call)].map((c) => c.id);
    expect(new Set(ids).size).toBe(4);
  });

  it('should never give two outboxes the same message id', async () => {
    const sms = { to: '+254711000001', text: 'hello' };
    const [a, b] = [new SandboxOutbox(), new SandboxOutbox()];
    const ids = [await a.send(sms), await b.send(sms)].map((m) => m.id);
    expect(new Set(ids).size).toBe(2);
  });
});
