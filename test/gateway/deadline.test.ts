import { describe, expect, it } from 'vitest';
import { currentDeadline, remainingMs, runWithDeadline } from '../../src/limits/deadline.js';
import { FineractNotSent } from '../../src/fineract/not-sent.js';
import { FineractUnavailable } from '../../src/fineract/errors.js';

describe('hop deadline', () => {
  it('is carried through awaits and timers, and absent outside', async () => {
    expect(currentDeadline()).toBeUndefined();
    const seen = await runWithDeadline(5_000_000, async () => {
      await new Promise((r) => setTimeout(r, 5));
      return new Promise<number | undefined>((resolve) => setImmediate(() => resolve(currentDeadline())));
    });
    expect(seen).toBe(5_000_000);
    expect(currentDeadline()).toBeUndefined();
  });

  it('can be shortened by a nested scope, never extended', async () => {
    await runWithDeadline(1_000, async () => {
      expect(await runWithDeadline(500, async () => currentDeadline())).toBe(500);
      expect(await runWithDeadline(2_000, async () => currentDeadline())).toBe(1_000);
      expect(currentDeadline()).toBe(1_000);
      expect(remainingMs(400)).toBe(600);
    });
  });

  it('keeps concurrent hops apart', async () => {
    const hop = (deadline: number, delay: number) =>
      runWithDeadline(deadline, async () => {
        await new Promise((r) => setTimeout(r, delay));
        return currentDeadline();
      });
    expect(await Promise.all([hop(1, 20), hop(2, 5), hop(3, 10)])).toEqual([1, 2, 3]);
  });

  it('refuses a deadline that is not a time', () => {
    expect(() => runWithDeadline(Number.NaN, async () => 1)).toThrow(RangeError);
  });

  it('a refusal is a retryable FineractUnavailable that says nothing was sent', () => {
    const e = new FineractNotSent('queue deadline', 'POST /accounttransfers');
    expect(e).toBeInstanceOf(FineractUnavailable);
    expect(e).toMatchObject({ kind: 'unavailable', retryable: true, executed: false, reason: 'queue deadline', name: 'FineractNotSent' });
    expect(e.message).toBe('Fineract call POST /accounttransfers not sent: queue deadline');
  });
});
