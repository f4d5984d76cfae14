import { describe, expect, it } from 'vitest';
import { remainingMs } from '../../src/limits/deadline.js';
import { FineractNotSent } from '../../src/fineract/not-sent.js';
import { FineractUnavailable } from '../../src/fineract/errors.js';

describe('hop deadline', () => {
  it('tells the time left before it, and nothing without one', () => {
    expect(remainingMs(1_000, 400)).toBe(600);
    expect(remainingMs(1_000, 1_500)).toBe(-500);
    expect(remainingMs(undefined, 400)).toBeUndefined();
  });

  it('a refusal is a retryable FineractUnavailable that says nothing was sent', () => {
    const e = new FineractNotSent('queue deadline', 'POST /accounttransfers');
    expect(e).toBeInstanceOf(FineractUnavailable);
    expect(e).toMatchObject({ kind: 'unavailable', retryable: true, executed: false, reason: 'queue deadline', name: 'FineractNotSent' });
    expect(e.message).toBe('Fineract call POST /accounttransfers not sent: queue deadline');
  });
});
