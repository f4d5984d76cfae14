import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentHop, runInHop } from '../../src/session/hop-context.js';
import { currentCaller, withCaller } from '../../src/security/caller.js';
import { currentDeadline, runWithDeadline } from '../../src/limits/deadline.js';

// The caller, the deadline and the hop's scope share one async context: setting one must keep the others.
describe('the hop context', () => {
  it('keeps the caller, the deadline and the scope through each other and through awaits', async () => {
    const caller = { msisdn: '+254720000001', channel: 'ussd' };
    const seen = await withCaller(caller, () =>
      runInHop(async (scope) =>
        runWithDeadline(5_000_000, async () => {
          await sleep(1);
          return { caller: currentCaller(), deadline: currentDeadline(), scope: currentHop() === scope };
        }),
      ),
    );
    expect(seen).toEqual({ caller, deadline: 5_000_000, scope: true });
  });

  it('gives an inner run its own value and the outer one back after it', async () => {
    await runWithDeadline(2_000, async () => {
      await withCaller({ msisdn: '+254720000002', channel: 'sms' }, async () => {
        // A nested deadline only shortens.
        expect(await runWithDeadline(3_000, async () => currentDeadline())).toBe(2_000);
        expect(await runWithDeadline(1_000, async () => currentDeadline())).toBe(1_000);
        await runInHop(async () => {
          expect(currentCaller()?.channel).toBe('sms');
          expect(await withCaller({ msisdn: '+254720000003', channel: 'voice' }, async () => currentCaller()?.channel)).toBe('voice');
          expect(currentCaller()?.channel).toBe('sms');
        });
        expect(currentHop()).toBeUndefined();
      });
      expect(currentCaller()).toBeUndefined();
      expect(currentDeadline()).toBe(2_000);
    });
    expect(currentDeadline()).toBeUndefined();
  });
});
