/** The lockout and abuse settings as loadConfig reads them (threats T22, T26, T28). */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
};

describe('lockout and abuse settings', () => {
  it('should default to 3 wrong PINs, 30 min doubling, hard after 3 timed locks, and no PIN by SMS', () => {
    const config = loadConfig({});
    expect(config.pin).toMatchObject({ maxFailures: 3, lockS: 1800, hardLockAfter: 3 });
    expect(config.sms.pinEnabled).toBe(false);
    expect(config.abuse).toEqual({ numberPerMin: 30, sourcePerMin: 600, trustedSources: ['127.0.0.0/8', '::1'] });
    expect(config.fineract.unknownLookupShare).toBe(0.2);
  });

  it('should refuse the old PIN_MAX_ATTEMPTS, naming what replaces it', () => {
    const found = problems({ PIN_MAX_ATTEMPTS: '5' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^PIN_MAX_ATTEMPTS: .*PIN_MAX_FAILURES.*PIN_LOCK_S.*PIN_HARD_LOCK_AFTER/);
  });

  it('should read TRUSTED_SOURCES as IPs and CIDRs and refuse anything else', () => {
    expect(loadConfig({ TRUSTED_SOURCES: '10.0.0.0/8, 2001:db8::/32,192.0.2.1' }).abuse.trustedSources).toEqual([
      '10.0.0.0/8',
      '2001:db8::/32',
      '192.0.2.1',
    ]);
    expect(loadConfig({ TRUSTED_SOURCES: '' }).abuse.trustedSources).toEqual([]);
    expect(problems({ TRUSTED_SOURCES: 'africastalking.com,10.0.0.0/33' })).toEqual([
      "TRUSTED_SOURCES: 'africastalking.com' is not an IP address or CIDR",
      "TRUSTED_SOURCES: '10.0.0.0/33' is not an IP address or CIDR",
    ]);
  });

  it('should take FINERACT_UNKNOWN_LOOKUP_SHARE from 0 to 1 only', () => {
    expect(loadConfig({ FINERACT_UNKNOWN_LOOKUP_SHARE: '0' }).fineract.unknownLookupShare).toBe(0);
    expect(loadConfig({ FINERACT_UNKNOWN_LOOKUP_SHARE: '1' }).fineract.unknownLookupShare).toBe(1);
    expect(problems({ FINERACT_UNKNOWN_LOOKUP_SHARE: '1.5' })[0]).toMatch(/^FINERACT_UNKNOWN_LOOKUP_SHARE: must be a number from 0 to 1/);
    expect(problems({ PIN_HARD_LOCK_AFTER: '-1', PIN_LOCK_S: '0' })).toHaveLength(2);
  });
});
