import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config.js';
import { generateAuditKeys } from '../../src/audit/checkpoints.js';
import { KEYS } from './helpers.js';

/** The audit settings: keys checked at start without ever echoing them, defaults for the checkpoints. */

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    return (error as ConfigError).problems;
  }
};

describe('audit settings', () => {
  it('should read the keys (base64 DER or PEM) and the checkpoint settings', () => {
    const pem = generateKeyPairSync('ed25519');
    const config = loadConfig({
      AUDIT_SIGNING_KEY: pem.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      AUDIT_VERIFY_KEY: pem.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      AUDIT_CHECKPOINT_DIR: '/var/lib/kiunga/audit',
    });
    expect(config.audit).toMatchObject({ checkpointDir: '/var/lib/kiunga/audit', checkpointEvery: 100, checkpointMs: 60_000 });
    expect(loadConfig({ AUDIT_SIGNING_KEY: KEYS.privateKey, AUDIT_VERIFY_KEY: KEYS.publicKey }).audit.signingKey).toBe(KEYS.privateKey);
  });

  it('should refuse a key that is not Ed25519, or a verify key of another pair, without echoing either', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    const garbage = 'not-a-key-but-a-secret-0123456789';
    const found = problems({ AUDIT_SIGNING_KEY: rsa, AUDIT_VERIFY_KEY: garbage });
    expect(found).toEqual([expect.stringMatching(/^AUDIT_SIGNING_KEY: /), expect.stringMatching(/^AUDIT_VERIFY_KEY: /)]);
    expect(found.join('\n')).not.toContain(rsa.slice(20, 60));
    expect(found.join('\n')).not.toContain(garbage);

    const other = generateAuditKeys();
    const mismatch = problems({ AUDIT_SIGNING_KEY: KEYS.privateKey, AUDIT_VERIFY_KEY: other.publicKey });
    expect(mismatch).toEqual([expect.stringContaining('AUDIT_VERIFY_KEY: is not the public half of AUDIT_SIGNING_KEY')]);
    expect(mismatch.join('\n')).not.toContain(KEYS.privateKey);
  });
});
