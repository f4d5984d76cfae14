import { z } from 'zod';
import { int, isEd25519, type Setting } from './schemas.js';

/** The audit trail's signed checkpoints (threat T16): keys, directory and how often. */
export const AUDIT_SETTINGS = {
  AUDIT_SIGNING_KEY: {
    help:
      'Ed25519 private key that signs the audit checkpoints (threat T16): PKCS#8 PEM, or its DER in base64 on one line ' +
      '(`kiunga audit keygen` prints a pair). Unset, or without AUDIT_CHECKPOINT_DIR: no checkpoints, and a warning at start.',
    schema: z.string().refine((text) => isEd25519(text, 'private'), 'must be an Ed25519 private key (PKCS#8 PEM, or DER in base64)'),
    secret: true,
  },
  AUDIT_VERIFY_KEY: {
    help:
      'Ed25519 public key `kiunga audit verify` checks the checkpoints with (SPKI PEM, or DER in base64), so operators ' +
      'verify without the signing key. Unset: the public half of AUDIT_SIGNING_KEY.',
    schema: z.string().refine((text) => isEd25519(text, 'public'), 'must be an Ed25519 public key (SPKI PEM, or DER in base64)'),
  },
  AUDIT_CHECKPOINT_DIR: {
    help:
      'Directory outside Redis where signed audit checkpoints are written, one file each (several processes may share ' +
      'it). Deleting the newest audit entries is detected only against these files: copy them off the box.',
    schema: z.string().trim().min(1),
  },
  AUDIT_CHECKPOINT_EVERY: { help: 'A signed audit checkpoint every this many entries.', default: '100', schema: int(1, 1_000_000) },
  AUDIT_CHECKPOINT_S: {
    help: 'A signed audit checkpoint at least this often (seconds) while a process appended entries.',
    default: '60',
    schema: int(1, 86_400),
  },
} satisfies Record<string, Setting>;
