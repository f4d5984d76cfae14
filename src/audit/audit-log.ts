import { createPublicKey, randomInt, type KeyObject } from 'node:crypto';
import { Gauge, type Metric } from 'prom-client';
import { maskMsisdn, type Logger } from '../logger.js';
import type { KeyValueStore } from '../session/store.js';
import { defaultKeys, type Keys } from '../session/keys.js';
import { settlesWithin } from '../time.js';
import { deferToRecordWrite } from '../session/hop-context.js';
import type { AuditEvent, AuditTrail } from './audit.js';
import { refusalOf } from './refusal.js';
import { canonicalJson, sha256Hex } from './canonical.js';
import { signingKeyFrom, verifyKeyFrom, writeCheckpoint } from './checkpoints.js';
import { verifyAudit, type AuditVerification } from './verify.js';
import { auditStream, formatHead, parseHead, type AuditStream, type Head, type StoredEntry } from './stream.js';

/**
 * The audit trail (threat T16): one append-only, hash-chained Redis stream, with signed checkpoints outside
 * Redis. Each entry is canonical JSON holding its sequence number (1, 2, 3 ...), the time, what happened and
 * who did it, the masked phone number, and `prev`, the SHA-256 of the previous entry's canonical JSON (64
 * zeros before entry 1); the entry's own hash is stored beside it. Appending is compare-and-append in one
 * Redis script: the entries are linked to the head this process read, and written only while that is still
 * the head, so concurrent writers (any number of processes) never fork the chain; the loser re-links on the
 * head it is given and tries again. Events waiting in one process are appended together. An append that got
 * no answer (a timeout) may still have run: it is looked for before the events are sent again.
 *
 * Every `checkpointEvery` entries (by the writer whose append crosses the multiple) and every `checkpointMs`
 * while this process appended something, the head is signed with Ed25519 and written to `checkpointDir`.
 */

/** One entry as written: `prev` links it to the entry before. */
export interface AuditEntry {
  seq: number;
  at: string;
  type: AuditEvent['type'];
  actor: AuditEvent['actor'];
  clientId?: number;
  /** Masked (`+2547******01`). */
  msisdn?: string;
  channel?: string;
  data?: AuditEvent['data'];
  prev: string;
}

/** An entry as read back: its stream id, its stored hash and the entry (or, when it is not JSON, its text). */
export interface AuditRecord {
  id: string;
  hash: string;
  entry: AuditEntry | { unreadable: string };
}

export interface AuditLog extends AuditTrail {
  /** `kiunga_audit_head_seq` (and the buffer gauge), registered by the app on /metrics. */
  readonly metrics: Metric[];
  /** The stream this trail writes. */
  readonly stream: AuditStream;
  /** Up to `limit` entries after the stream id `after`, oldest first; `next` is the id to ask after. */
  page(after?: string, limit?: number): Promise<{ entries: AuditRecord[]; next?: string }>;
  /** Every entry, oldest first, read in pages (never the whole log in memory). */
  entries(pageSize?: number): AsyncGenerator<AuditRecord>;
  /** Checks the whole trail and this trail's checkpoints (`verifyAudit`). */
  verify(): Promise<AuditVerification>;
  /** Signs and writes a checkpoint of the last head this process appended, when it has none yet. */
  checkpoint(): Promise<void>;
  /** Resolves when every event recorded so far, and any checkpoint it called for, is written (or `ms` passed); true when no event is left. */
  flush(ms?: number): Promise<boolean>;
  /** Stops the checkpoint timer, writes what is buffered (bounded wait) and a last checkpoint. */
  close(): Promise<void>;
}

export interface AuditTrailOptions {
  store: KeyValueStore;
  keys?: Pick<Keys, 'prefix'>;
  logger: Logger;
  /** AUDIT_SIGNING_KEY: an Ed25519 PKCS#8 key (PEM or base64 DER), or the key itself. */
  signingKey?: string | KeyObject;
  /** AUDIT_CHECKPOINT_DIR: where checkpoints are written (outside Redis). */
  checkpointDir?: string;
  /** AUDIT_VERIFY_KEY, for `verify()`; unset: the public half of the signing key. */
  verifyKey?: string | KeyObject;
  /** AUDIT_CHECKPOINT_EVERY: a checkpoint every this many entries (default 100). */
  checkpointEvery?: number;
  /** AUDIT_CHECKPOINT_S in ms: a checkpoint this often while something was appended (default 60 000). */
  checkpointMs?: number;
  /**
   * How long `record()` waits for the store before it resolves anyway (default 1000 ms): the event stays
   * buffered in this process and is written when the store answers again, so a Redis outage never holds a
   * customer's hop. `close()` waits for the buffer too.
   */
  waitMs?: number;
  /** Most events buffered while the store does not answer (default 10 000); beyond it new events are dropped, logged. */
  maxBuffered?: number;
  now?: () => number;
}

/** Most events appended in one script call. */
const BATCH = 100;
/** Newest entries searched for an append that got no answer (other writers may have appended after it). */
const RECENT = 1000;
/** Largest entry written: audit facts are short; a huge one is a mistake, not a fact. */
const MAX_ENTRY_CHARS = 4096;

interface Pending {
  /**
   * The canonical JSON of the entry without `seq` and `prev`, fixed when recorded, cut before its last member
   * (`type`, which sorts after both): `head` ends with that member's comma, `tail` is the member and the
   * closing brace. The entry is `head` + `prev` and `seq` + `tail`, byte for byte what `canonicalJson` writes.
   */
  head: string;
  tail: string;
  done: () => void;
}

/** The entry of `p` linked after `prev` (see `Pending`). */
const linked = (p: Pending, seq: number, prev: string): string => `${p.head}"prev":${JSON.stringify(prev)},"seq":${seq},${p.tail}`;

/** Whether a trail can also be read back and verified (the one `createAuditTrail` builds). */
export function isAuditLog(trail: AuditTrail): trail is AuditLog {
  return typeof (trail as Partial<AuditLog>).page === 'function' && typeof (trail as Partial<AuditLog>).verify === 'function';
}

export function createAuditTrail(options: AuditTrailOptions): AuditLog {
  const { store, logger, checkpointDir } = options;
  const keys = options.keys ?? defaultKeys;
  const every = options.checkpointEvery ?? 100;
  const checkpointMs = options.checkpointMs ?? 60_000;
  const waitMs = options.waitMs ?? 1000;
  const maxBuffered = options.maxBuffered ?? 10_000;
  const now = options.now ?? Date.now;
  const stream = auditStream(store, keys);
  const key = typeof options.signingKey === 'string' ? signingKeyFrom(options.signingKey) : options.signingKey;
  const checkpoints = key && checkpointDir ? { key, dir: checkpointDir } : undefined;
  const publicKey =
    typeof options.verifyKey === 'string'
      ? verifyKeyFrom(options.verifyKey)
      : (options.verifyKey ?? (key ? createPublicKey(key) : undefined));
  if (!checkpoints) {
    logger.warn(
      'AUDIT_SIGNING_KEY or AUDIT_CHECKPOINT_DIR is not set: the audit trail writes no signed checkpoints, so deleting its newest entries cannot be detected',
    );
  }

  const pending: Pending[] = [];
  let draining: Promise<void> | undefined;
  let closed = false;
  /** The head this process last saw: the first guess of the next append. */
  let guess: string | null | undefined;
  /** The last head this process appended, and the last one it checkpointed. */
  let appended: (Head & { count: number }) | undefined;
  let checkpointed = 0;
  let checkpointing: Promise<void> = Promise.resolve();
  let droppedSince = 0;

  const headGauge = new Gauge({
    name: 'kiunga_audit_head_seq',
    help: 'Sequence number of the newest audit entry (the head of the hash chain), all processes together.',
    registers: [],
    collect: async () => {
      try {
        const head = parseHead(await stream.readHead());
        if (head) headGauge.set(head.seq);
      } catch {
        // Store unavailable: keep the last value.
      }
    },
  });
  const bufferedGauge = new Gauge({
    name: 'kiunga_audit_buffered',
    help: 'Audit events this process holds because the store did not take them yet (written when it answers again).',
    registers: [],
    collect() {
      this.set(pending.length);
    },
  });

  /**
   * An append whose answer never came (a timeout, a dropped connection): Redis may still have run it. Before
   * anything is sent again it is looked for, so a retry never writes the same events twice.
   */
  let unanswered: { head: string; last: string; size: number } | undefined;

  /** The first `size` pending events are in the stream, the last of them at `head`. */
  function written(size: number, head: Head & { count: number }, from: number): void {
    guess = formatHead(head);
    for (const p of pending.splice(0, size)) p.done();
    appended = head;
    if (Math.floor(from / every) < Math.floor(head.seq / every)) void checkpoint(head);
  }

  /** Appends everything pending, in batches, until nothing is left; retries while the store fails. */
  async function drain(): Promise<void> {
    let failures = 0;
    let conflicts = 0;
    while (pending.length > 0) {
      try {
        if (guess === undefined) guess = await stream.readHead();
        if (unanswered) {
          const { head, last, size } = unanswered;
          const landed = guess === head || (await stream.recent(RECENT)).some((e) => e.hash === last);
          unanswered = undefined;
          if (landed) {
            // Linked on from it; if others appended since, the next append is refused and told their head.
            const at = parseHead(head)!;
            written(size, { ...at, count: at.seq }, at.seq - size);
            continue;
          }
        }
        const batch = pending.slice(0, BATCH);
        const base = parseHead(guess);
        if (!base) throw new Error('the audit head in the store is not <seq>:<hash>');
        let prev = base;
        const entries = batch.map((p) => {
          const entry = linked(p, prev.seq + 1, prev.hash);
          prev = { seq: prev.seq + 1, hash: sha256Hex(entry) };
          return { entry, hash: prev.hash };
        });
        const next = formatHead(prev);
        unanswered = { head: next, last: prev.hash, size: batch.length };
        const result = await stream.append(guess, entries, next);
        unanswered = undefined;
        if (!result.ok) {
          // Another writer appended first: link to the head it left and try again.
          guess = result.head;
          if (++conflicts > 3) await sleep(randomInt(1, 10 + Math.min(conflicts, 50)));
          continue;
        }
        conflicts = 0;
        failures = 0;
        written(batch.length, { ...prev, count: result.length }, base.seq);
      } catch (error) {
        guess = undefined;
        failures++;
        if (failures === 1 || failures % 50 === 0) {
          logger.error(
            // The error's type and code only: a client's message may quote what it was sending.
            { err: { type: (error as Error)?.name, code: (error as NodeJS.ErrnoException)?.code }, buffered: pending.length },
            'audit entries not written yet',
          );
        }
        if (closed && failures > 3) return;
        await sleep(Math.min(failures * 100, 1000));
      }
    }
  }

  function startDrain(): Promise<void> {
    draining ??= drain().finally(() => {
      draining = undefined;
      if (pending.length > 0 && !closed) void startDrain();
    });
    return draining;
  }

  /**
   * Signs `head` (by default the last head this process appended) unless a later one is signed already.
   * Serialised: one checkpoint write at a time.
   */
  function checkpoint(head = appended): Promise<void> {
    checkpointing = checkpointing.then(async () => {
      if (!checkpoints || !head || head.seq <= checkpointed) return;
      try {
        const file = await writeCheckpoint(
          checkpoints.dir,
          { log: stream.key, seq: head.seq, head: head.hash, count: head.count, at: new Date(now()).toISOString() },
          checkpoints.key,
        );
        checkpointed = head.seq;
        logger.info({ seq: head.seq, file }, 'audit checkpoint written');
      } catch (error) {
        logger.error(
          { err: { type: (error as Error)?.name, code: (error as NodeJS.ErrnoException)?.code } },
          'audit checkpoint not written',
        );
      }
    });
    return checkpointing;
  }

  const timer = checkpoints ? setInterval(() => void checkpoint(), checkpointMs) : undefined;
  timer?.unref();

  function toRecord(stored: StoredEntry): AuditRecord {
    try {
      return { id: stored.id, hash: stored.hash, entry: JSON.parse(stored.entry) as AuditEntry };
    } catch {
      return { id: stored.id, hash: stored.hash, entry: { unreadable: stored.entry } };
    }
  }

  return {
    metrics: [headGauge, bufferedGauge],
    stream,

    async record(event, recordOptions) {
      const refusal = refusalOf(event);
      if (refusal) {
        // The type and the reason only: the refused value may be the very secret this keeps out.
        logger.warn({ auditType: String(event.type).slice(0, 40), reason: refusal }, 'audit event refused');
        throw new TypeError(`audit event refused: ${refusal}`);
      }
      const fields: Omit<AuditEntry, 'seq' | 'prev'> = {
        at: new Date(now()).toISOString(),
        type: event.type,
        actor: event.actor,
        clientId: event.clientId,
        msisdn: event.msisdn === undefined ? undefined : maskMsisdn(event.msisdn),
        channel: event.channel,
        data: event.data && Object.keys(event.data).length > 0 ? { ...event.data } : undefined,
      };
      const canonical = canonicalJson(fields);
      if (canonical.length > MAX_ENTRY_CHARS) {
        logger.warn({ auditType: event.type, reason: 'too long' }, 'audit event refused');
        throw new TypeError(`audit event refused: longer than ${MAX_ENTRY_CHARS} characters`);
      }
      if (closed) logger.warn({ auditType: event.type }, 'audit event recorded after close: written if the store still answers');
      if (pending.length >= maxBuffered) {
        if (droppedSince++ % 100 === 0)
          logger.error({ auditType: event.type, buffered: pending.length }, 'audit buffer full: event dropped');
        return;
      }
      // `type` is the last member (no other field sorts after it): the entry is linked by splicing before it.
      const tail = `"type":${JSON.stringify(fields.type)}}`;
      const head = canonical.slice(0, -tail.length);
      // A member sorting between `prev` and `type` would belong after the splice: fail loudly, never write it.
      if (!head.endsWith(',') || !canonical.endsWith(tail) || Object.keys(fields).some((k) => k > 'prev' && k < 'type'))
        throw new TypeError('audit event refused: not canonical');
      const written = new Promise<void>((resolve) => pending.push({ head, tail, done: resolve }));
      // Sent with the hop's record: events keep their order (one queue), and the chain is still extended
      // only by the compare-and-append script.
      if (recordOptions?.hop && deferToRecordWrite(recordOptions.hop, () => (void startDrain(), settlesWithin(written, waitMs)))) return;
      void startDrain();
      await settlesWithin(written, waitMs);
    },

    async page(after, limit = 50) {
      const rows = await stream.page(after, limit);
      return { entries: rows.map(toRecord), ...(rows.length === limit ? { next: rows.at(-1)!.id } : {}) };
    },

    async *entries(pageSize = 500) {
      let after: string | undefined;
      for (;;) {
        const rows = await stream.page(after, pageSize);
        for (const row of rows) yield toRecord(row);
        if (rows.length < pageSize) return;
        after = rows.at(-1)!.id;
      }
    },

    verify: () => verifyAudit({ store, keys, ...(checkpointDir !== undefined && publicKey ? { checkpointDir, publicKey } : {}) }),

    checkpoint: () => checkpoint(),

    async flush(ms = 5000) {
      if (pending.length > 0) await settlesWithin(startDrain(), ms);
      // A checkpoint the last append called for is part of what was recorded.
      await settlesWithin(checkpointing, ms);
      return pending.length === 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      if (pending.length > 0) await settlesWithin(startDrain(), 3000);
      if (pending.length > 0) logger.error({ lost: pending.length }, 'audit entries not written before shutdown');
      await checkpoint();
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
