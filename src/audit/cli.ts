import { createPublicKey } from 'node:crypto';
import { createKeys } from '../session/keys.js';
import { createRedisStore } from '../session/redis-store.js';
import { generateAuditKeys, signingKeyFrom, verifyKeyFrom } from './checkpoints.js';
import { verifyAudit } from './verify.js';

/**
 * `kiunga audit verify` and `kiunga audit keygen`. The settings come from the caller (main.ts reads them
 * through config.ts). Exit codes: 0 intact, 1 the trail is not intact (the first bad entry is named), 2 a
 * usage or settings problem.
 */

export const AUDIT_USAGE = `usage: kiunga audit verify [--json] | kiunga audit keygen

  verify   checks the audit trail in Redis (REDIS_URL, REDIS_PREFIX): every entry's hash, every link and
           sequence number, the head, and every signed checkpoint in AUDIT_CHECKPOINT_DIR (signature, the
           entry it names, and that the stream still reaches it), with AUDIT_VERIFY_KEY (or the public half
           of AUDIT_SIGNING_KEY). Exits 1 naming the first entry edited, deleted, reordered or cut off.
  keygen   prints a new Ed25519 key pair: AUDIT_SIGNING_KEY (keep it secret) and AUDIT_VERIFY_KEY.`;

export interface AuditCliSettings {
  redisUrl?: string;
  redisPrefix: string;
  checkpointDir?: string;
  signingKey?: string;
  verifyKey?: string;
}

export interface AuditCliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: AuditCliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/** Runs `kiunga audit <args>`; `settings` is read only when a command needs it. */
export async function runAuditCommand(args: string[], settings: () => AuditCliSettings, io: AuditCliIo = processIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'keygen' && rest.length === 0) {
    const keys = generateAuditKeys();
    io.stdout(`AUDIT_SIGNING_KEY=${keys.privateKey}\nAUDIT_VERIFY_KEY=${keys.publicKey}\n`);
    return 0;
  }
  if (command !== 'verify' || rest.some((a) => a !== '--json')) {
    io.stderr(`${AUDIT_USAGE}\n`);
    return command === '--help' || command === '-h' ? 0 : 2;
  }
  const s = settings();
  if (!s.redisUrl) {
    io.stderr('kiunga audit verify: REDIS_URL is not set (the audit trail lives in Redis)\n');
    return 2;
  }
  let publicKey;
  try {
    if (s.verifyKey) publicKey = verifyKeyFrom(s.verifyKey);
    else if (s.signingKey) publicKey = createPublicKey(signingKeyFrom(s.signingKey));
  } catch (error) {
    io.stderr(`kiunga audit verify: ${(error as Error).message}\n`);
    return 2;
  }
  if (s.checkpointDir && !publicKey) {
    io.stderr('kiunga audit verify: AUDIT_CHECKPOINT_DIR is set but neither AUDIT_VERIFY_KEY nor AUDIT_SIGNING_KEY is\n');
    return 2;
  }
  if (!s.checkpointDir) io.stderr('kiunga audit verify: AUDIT_CHECKPOINT_DIR is not set: a deleted tail of the log cannot be detected\n');

  const store = createRedisStore(s.redisUrl, { connectTimeoutMs: 5000, commandTimeoutMs: 10_000 });
  try {
    const result = await verifyAudit({ store, keys: createKeys(s.redisPrefix), checkpointDir: s.checkpointDir, publicKey });
    if (rest.includes('--json')) io.stdout(`${JSON.stringify(result)}\n`);
    else if (result.ok) io.stdout(`audit: intact: ${result.entries} entries, ${result.checkpoints} signed checkpoints\n`);
    else {
      const p = result.problem!;
      const where = p.seq === undefined ? '' : `entry ${p.seq}${p.id ? ` (stream id ${p.id})` : ''} `;
      io.stdout(`audit: NOT intact: ${where}${p.kind}: ${p.message}\n`);
    }
    return result.ok ? 0 : 1;
  } catch (error) {
    // Redis unreachable or a checkpoint directory unreadable: not a verdict on the trail.
    io.stderr(`kiunga audit verify: could not read the trail: ${(error as Error).message}\n`);
    return 2;
  } finally {
    await store.close();
  }
}
