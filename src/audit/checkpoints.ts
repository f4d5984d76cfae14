import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from './canonical.js';

/**
 * Signed checkpoints of the audit trail (threat T16), kept outside Redis: each says "the log `log` held
 * `count` entries and its entry `seq` had hash `head`", signed with Ed25519. A hash chain alone cannot show
 * that its newest entries were deleted, or that it was rewritten from some entry on with fresh hashes; a
 * checkpoint the attacker cannot sign can. One file per checkpoint (`audit-<log>-<seq>-<random>.json`),
 * written to a temporary name and renamed, so readers never see half a file and several processes can
 * write into one directory.
 */

export interface Checkpoint {
  /** The stream key of the log. */
  log: string;
  seq: number;
  /** Hash of entry `seq`. */
  head: string;
  /** Entries in the stream when the checkpoint was written. */
  count: number;
  /** ISO time it was written. */
  at: string;
}

/** A checkpoint as read from its file, with the file's name. */
export interface SignedCheckpoint extends Checkpoint {
  file: string;
}

/**
 * The Ed25519 private key from AUDIT_SIGNING_KEY: a PKCS#8 PEM, or its DER in base64 (one line, easier in an
 * environment variable). Throws a TypeError that never holds the key.
 */
export function signingKeyFrom(text: string): KeyObject {
  let key: KeyObject;
  try {
    const trimmed = text.trim();
    key = trimmed.startsWith('-----BEGIN')
      ? createPrivateKey({ key: trimmed, format: 'pem' })
      : createPrivateKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'pkcs8' });
  } catch {
    throw new TypeError('the audit signing key is not a PKCS#8 private key (PEM, or DER in base64)');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('the audit signing key is not an Ed25519 key');
  return key;
}

/**
 * The Ed25519 public key from AUDIT_VERIFY_KEY: an SPKI PEM or its DER in base64. Operators verify with it
 * without holding the signing key.
 */
export function verifyKeyFrom(text: string): KeyObject {
  let key: KeyObject;
  try {
    const trimmed = text.trim();
    key = trimmed.startsWith('-----BEGIN')
      ? createPublicKey({ key: trimmed, format: 'pem' })
      : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw new TypeError('the audit verify key is not an SPKI public key (PEM, or DER in base64)');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('the audit verify key is not an Ed25519 key');
  return key;
}

/** A fresh key pair, each as one line of base64 DER: `privateKey` for AUDIT_SIGNING_KEY, `publicKey` for AUDIT_VERIFY_KEY. */
export function generateAuditKeys(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

/** The bytes signed: the canonical JSON of the checkpoint's facts. */
const signedBytes = (c: Checkpoint) =>
  Buffer.from(canonicalJson({ log: c.log, seq: c.seq, head: c.head, count: c.count, at: c.at }), 'utf8');

/** File names carry the log (made safe for a file name) and the sequence, so a listing reads in order. */
const fileStem = (log: string) => `audit-${log.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
const CHECKPOINT_FILE = /^audit-.+-\d{12}-[0-9a-f]{8}\.json$/;

/** Signs `checkpoint` and writes it as a new file of `dir` (created if missing); resolves with the file name. */
export async function writeCheckpoint(dir: string, checkpoint: Checkpoint, key: KeyObject): Promise<string> {
  const signature = sign(null, signedBytes(checkpoint), key).toString('base64');
  const file = `${fileStem(checkpoint.log)}-${String(checkpoint.seq).padStart(12, '0')}-${randomBytes(4).toString('hex')}.json`;
  const temporary = join(dir, `.${file}.${randomBytes(4).toString('hex')}.tmp`);
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(temporary, `${canonicalJson({ checkpoint: { ...checkpoint }, signature })}\n`, { flag: 'wx' });
    await rename(temporary, join(dir, file));
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  return file;
}

/** Why a checkpoint file was not accepted. */
export class BadCheckpoint extends Error {
  override readonly name = 'BadCheckpoint';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Every checkpoint of `log` in `dir`, oldest first. Every checkpoint file is checked against `publicKey`
 * before its log is even looked at (its log name is signed too); the first one that does not verify throws
 * `BadCheckpoint`. A missing directory holds no checkpoint.
 */
export async function readCheckpoints(dir: string, log: string, publicKey: KeyObject): Promise<SignedCheckpoint[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: SignedCheckpoint[] = [];
  for (const file of names.filter((n) => CHECKPOINT_FILE.test(n)).sort()) {
    const checkpoint = parseCheckpoint(file, await readFile(join(dir, file), 'utf8'));
    if (checkpoint.signature === undefined || !verify(null, signedBytes(checkpoint), publicKey, checkpoint.signature)) {
      throw new BadCheckpoint(file, `checkpoint ${file} does not carry a valid signature of the audit key`);
    }
    if (checkpoint.log === log)
      out.push({ log, seq: checkpoint.seq, head: checkpoint.head, count: checkpoint.count, at: checkpoint.at, file });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

function parseCheckpoint(file: string, text: string): Checkpoint & { signature?: Buffer } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadCheckpoint(file, `checkpoint ${file} is not JSON`);
  }
  const { checkpoint: c, signature } = (parsed ?? {}) as { checkpoint?: Partial<Checkpoint>; signature?: unknown };
  if (
    !c ||
    typeof c.log !== 'string' ||
    !Number.isSafeInteger(c.seq) ||
    typeof c.head !== 'string' ||
    !Number.isSafeInteger(c.count) ||
    typeof c.at !== 'string'
  ) {
    throw new BadCheckpoint(file, `checkpoint ${file} does not hold log, seq, head, count and at`);
  }
  return {
    log: c.log,
    seq: c.seq!,
    head: c.head,
    count: c.count!,
    at: c.at,
    signature: typeof signature === 'string' ? Buffer.from(signature, 'base64') : undefined,
  };
}
