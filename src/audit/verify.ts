import type { KeyObject } from 'node:crypto';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import { canonicalJson, sha256Hex } from './canonical.js';
import { BadCheckpoint, readCheckpoints, verifyKeyFrom, type SignedCheckpoint } from './checkpoints.js';
import { auditStream, GENESIS, parseHead, type AuditStream, type StoredEntry } from './stream.js';

/**
 * Checks the audit trail (threat T16): walks the stream from its first entry, recomputes every hash, follows
 * every `prev` link and the sequence numbers, compares the head, and checks each signed checkpoint (its
 * signature, the hash of the entry it names, and that the stream still reaches it). Stops at the first
 * problem and names that entry.
 *
 * What each kind means:
 * - `edited`: an entry's text no longer gives its hash, or the next entry (or the head, or a checkpoint)
 *   recorded another hash for it;
 * - `deleted`: an entry is missing from the middle (or from the start);
 * - `reordered`: an entry is there, but after entries that came after it;
 * - `truncated`: the newest entries are gone (seen through the head, or through a signed checkpoint: an
 *   attacker who also rewrote the head is caught only by a checkpoint);
 * - `bad-signature`: a checkpoint file does not verify with the audit key.
 */

export type AuditProblemKind = 'edited' | 'deleted' | 'reordered' | 'truncated' | 'bad-signature';

export interface AuditVerification {
  ok: boolean;
  /** Entries checked (up to the problem, when there is one). */
  entries: number;
  /** Signed checkpoints of this log that verified. */
  checkpoints: number;
  problem?: { seq?: number; id?: string; kind: AuditProblemKind; message: string };
}

export interface VerifyOptions {
  store: KeyValueStore;
  keys: Pick<Keys, 'prefix'>;
  /** AUDIT_CHECKPOINT_DIR; without it, no checkpoint is checked (and a deleted tail may go unseen). */
  checkpointDir?: string;
  /** The Ed25519 public key (AUDIT_VERIFY_KEY: SPKI PEM or base64 DER, or the key). Required with `checkpointDir`. */
  publicKey?: string | KeyObject;
  /** Entries read per page (default 1000). */
  pageSize?: number;
}

export async function verifyAudit(options: VerifyOptions): Promise<AuditVerification> {
  const stream = auditStream(options.store, options.keys);
  const pageSize = options.pageSize ?? 1000;

  let checkpoints: SignedCheckpoint[] = [];
  if (options.checkpointDir !== undefined) {
    if (options.publicKey === undefined) throw new TypeError('checking checkpoints needs the audit public key');
    const publicKey = typeof options.publicKey === 'string' ? verifyKeyFrom(options.publicKey) : options.publicKey;
    try {
      checkpoints = await readCheckpoints(options.checkpointDir, stream.key, publicKey);
    } catch (error) {
      if (!(error instanceof BadCheckpoint)) throw error;
      return { ok: false, entries: 0, checkpoints: 0, problem: { kind: 'bad-signature', message: error.message } };
    }
  }

  const fail = (entries: number, problem: NonNullable<AuditVerification['problem']>): AuditVerification => ({
    ok: false,
    entries,
    checkpoints: checkpoints.length,
    problem,
  });

  let expected = 1;
  let prevHash = GENESIS.hash;
  let prevId: string | undefined;
  let nextCheckpoint = 0;
  let after: string | undefined;
  for (;;) {
    const rows = await stream.page(after, pageSize);
    for (const row of rows) {
      const entry = readEntry(row);
      const seq = entry?.seq;
      if (seq !== undefined && seq !== expected) {
        return fail(expected - 1, await outOfPlace(stream, row, expected, pageSize));
      }
      if (!entry || sha256Hex(row.entry) !== row.hash) {
        return fail(expected - 1, {
          seq: expected,
          id: row.id,
          kind: 'edited',
          message: `entry ${expected} was edited: its text does not give the hash stored with it`,
        });
      }
      if (entry.prev !== prevHash) {
        // This entry recorded another hash for the one before it: that one changed (and its hash was recomputed).
        return fail(expected - 1, {
          seq: expected - 1 || 1,
          id: expected > 1 ? prevId : row.id,
          kind: 'edited',
          message:
            expected > 1
              ? `entry ${expected - 1} was edited: entry ${expected} recorded another hash for it`
              : 'entry 1 was edited: it does not start the chain',
        });
      }
      for (; nextCheckpoint < checkpoints.length && checkpoints[nextCheckpoint]!.seq <= expected; nextCheckpoint++) {
        const c = checkpoints[nextCheckpoint]!;
        if (c.seq === expected && c.head !== row.hash) {
          return fail(expected - 1, {
            seq: expected,
            id: row.id,
            kind: 'edited',
            message: `entry ${expected} differs from the signed checkpoint ${c.file}: the log was rewritten at or before it`,
          });
        }
      }
      prevHash = row.hash;
      prevId = row.id;
      expected++;
    }
    if (rows.length < pageSize) break;
    after = rows.at(-1)!.id;
  }

  const last = expected - 1;
  const head = parseHead(await stream.readHead());
  if (!head) return fail(last, { kind: 'edited', message: 'the head of the chain in the store is not <seq>:<hash>' });
  if (head.seq > last) {
    return fail(last, {
      seq: last + 1,
      kind: 'truncated',
      message: `entries ${last + 1} to ${head.seq} are gone: the head of the chain says ${head.seq} entries were written`,
    });
  }
  if (head.seq < last) {
    return fail(last, {
      seq: head.seq + 1,
      kind: 'edited',
      message: `entries ${head.seq + 1} to ${last} were not written by the trail: the head of the chain is entry ${head.seq}`,
    });
  }
  if (last > 0 && head.hash !== prevHash) {
    return fail(last, {
      seq: last,
      id: prevId,
      kind: 'edited',
      message: `entry ${last} was edited: the head of the chain recorded another hash for it`,
    });
  }
  const beyond = checkpoints.find((c) => c.seq > last);
  if (beyond) {
    return fail(last, {
      seq: last + 1,
      kind: 'truncated',
      message: `entries ${last + 1} to ${beyond.seq} are gone: the signed checkpoint ${beyond.file} saw entry ${beyond.seq}`,
    });
  }
  return { ok: true, entries: last, checkpoints: checkpoints.length };
}

interface ParsedEntry {
  seq: number;
  prev: string;
}

/** The entry's sequence and link, when its text is canonical JSON holding them; undefined otherwise. */
function readEntry(row: StoredEntry): ParsedEntry | undefined {
  try {
    const parsed = JSON.parse(row.entry) as Partial<ParsedEntry>;
    if (!Number.isSafeInteger(parsed.seq) || typeof parsed.prev !== 'string') return undefined;
    if (canonicalJson(parsed) !== row.entry) return undefined;
    return parsed as ParsedEntry;
  } catch {
    return undefined;
  }
}

/** The sequence number an entry's text claims, canonical or not. */
function looseSeq(text: string): number | undefined {
  try {
    const seq = (JSON.parse(text) as { seq?: unknown }).seq;
    return typeof seq === 'number' ? seq : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The stream holds entry `row` where entry `expected` belongs. Looks for `expected` further on: found intact,
 * it was moved (reordered); found with a text that no longer gives its hash, it was rewritten at the end
 * (an edit: delete, then add a changed copy); not found, it was deleted.
 */
async function outOfPlace(
  stream: AuditStream,
  row: StoredEntry,
  expected: number,
  pageSize: number,
): Promise<NonNullable<AuditVerification['problem']>> {
  const found = readEntry(row)!.seq;
  if (found < expected) {
    return {
      seq: found,
      id: row.id,
      kind: 'reordered',
      message: `entry ${found} appears again after entry ${expected - 1}`,
    };
  }
  // The entry after `expected` recorded its hash: a copy with another hash is a changed copy.
  const recorded = found === expected + 1 ? readEntry(row)!.prev : undefined;
  let after: string | undefined = row.id;
  for (;;) {
    const rows = await stream.page(after, pageSize);
    for (const later of rows) {
      if (looseSeq(later.entry) !== expected) continue;
      const intact = readEntry(later) !== undefined && sha256Hex(later.entry) === later.hash;
      if (intact && (recorded === undefined || recorded === later.hash)) {
        return {
          seq: expected,
          id: later.id,
          kind: 'reordered',
          message: `entry ${expected} was moved: it comes after entry ${found}`,
        };
      }
      return {
        seq: expected,
        id: later.id,
        kind: 'edited',
        message: `entry ${expected} was edited: it was removed and a changed copy added further on`,
      };
    }
    if (rows.length < pageSize) break;
    after = rows.at(-1)!.id;
  }
  return {
    seq: expected,
    kind: 'deleted',
    message:
      expected === 1
        ? `entries 1 to ${found - 1} were deleted`
        : `entry ${expected} was deleted (entry ${found} follows entry ${expected - 1})`,
  };
}
