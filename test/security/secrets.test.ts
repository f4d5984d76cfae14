import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { keyedHash, secretMatcher, timingSafeEqualStr } from '../../src/security/secrets.js';

describe('keyedHash', () => {
  it('is HMAC-SHA256 in hex, and depends on the pepper', () => {
    const expected = createHmac('sha256', 'pepper-one').update('1*1234').digest('hex');
    expect(keyedHash('pepper-one', '1*1234')).toBe(expected);
    expect(keyedHash('pepper-two', '1*1234')).not.toBe(expected);
    expect(keyedHash('pepper-one', '1*1234')).not.toContain('1234');
  });
});

describe('timingSafeEqualStr', () => {
  it('compares strings of any length without throwing', () => {
    expect(timingSafeEqualStr('s3cret-key', 's3cret-key')).toBe(true);
    expect(timingSafeEqualStr('s3cret-key', 's3cret-kez')).toBe(false);
    expect(timingSafeEqualStr('s3cret-key', 's3cret')).toBe(false);
    expect(timingSafeEqualStr('', '')).toBe(true);
    expect(timingSafeEqualStr('', 'x')).toBe(false);
    expect(timingSafeEqualStr('ü', 'u')).toBe(false);
  });
});

describe('secretMatcher', () => {
  it('answers as timingSafeEqualStr against its one secret, for any length', () => {
    const matches = secretMatcher('s3cret-key');
    for (const given of ['s3cret-key', 's3cret-kez', 's3cret', '', 's3cret-key-longer', 'ü']) {
      expect(matches(given)).toBe(timingSafeEqualStr(given, 's3cret-key'));
    }
    expect(matches('s3cret-key')).toBe(true);
  });
});
