import { describe, expect, it } from 'vitest';
import { createKeys, defaultKeys, tagSafe } from '../../src/session/keys.js';

/** The Redis Cluster hash tag of a key: what is between the first `{` and the next `}`. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return key.slice(open + 1, close);
}

describe('keys', () => {
  it('builds the documented names under the default prefix', () => {
    const k = defaultKeys;
    expect(k.session('ussd', 'ATUid_x')).toBe('kiunga:{ussd:ATUid_x}:session');
    expect(k.lock('ussd', 'ATUid_x')).toBe('kiunga:{ussd:ATUid_x}:lock');
    expect(k.pin(1)).toBe('kiunga:{c:1}:pin');
    expect(k.pinFailures(1)).toBe('kiunga:{c:1}:pin:failures');
    expect(k.pinLock('1')).toBe('kiunga:{c:1}:pin:lock');
    expect(k.language('+254711000001')).toBe('kiunga:{m:+254711000001}:lang');
    expect(k.forCustomer(1, 'otp')).toBe('kiunga:{c:1}:otp');
  });

  it('uses a configured prefix, and refuses one that could break the tag', () => {
    expect(createKeys('bank-a:prod').session('voice', 'CA123')).toBe('bank-a:prod:{voice:CA123}:session');
    for (const bad of ['', '{x}', 'a b', 'x'.repeat(65), 'a:', 'a}']) expect(() => createKeys(bad), bad).toThrow(TypeError);
  });

  it('shares one hash tag between all keys of a session and of a customer', () => {
    const k = defaultKeys;
    const id = '{weird} id';
    expect(hashTag(k.lock('ussd', id))).toBe(hashTag(k.session('ussd', id)));
    expect(new Set([k.pin(9), k.pinFailures(9), k.pinLock(9), k.forCustomer(9, 'otp')].map(hashTag)).size).toBe(1);
  });

  it('hashes identifiers that could break the tag or the key size', () => {
    const hostile = ['a}b', '{a', 'a:b', 'with space', 'x'.repeat(65), 'ünï', '', '~abc'];
    for (const id of hostile) {
      const key = defaultKeys.session('ussd', id);
      expect(tagSafe(id)).toMatch(/^~[A-Za-z0-9_-]{32}$/);
      expect(key.match(/[{}]/g)).toEqual(['{', '}']);
      expect(key.length).toBeLessThanOrEqual(64);
    }
    expect(defaultKeys.session('ussd', 'x'.repeat(100_000)).length).toBeLessThan(64);
    // Distinct ids stay distinct; a plain id is kept as is, up to 64 characters.
    expect(tagSafe('a}b')).not.toBe(tagSafe('a{b'));
    expect(tagSafe('x'.repeat(64))).toBe('x'.repeat(64));
    expect(defaultKeys.session('ussd:evil', 'id')).not.toBe(defaultKeys.session('ussd', 'evil:id'));
  });

  it('refuses a key name that is not plain', () => {
    expect(() => defaultKeys.forSession('ussd', 'id', 'a}b')).toThrow(TypeError);
    expect(() => defaultKeys.forMsisdn('+2547', '')).toThrow(TypeError);
  });
});
