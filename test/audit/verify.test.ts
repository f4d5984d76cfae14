import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { canonicalJson, sha256Hex } from '../../src/audit/canonical.js';
import { generateAuditKeys } from '../../src/audit/checkpoints.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import type { Keys } from '../../src/session/keys.js';
import { field, freshDir, freshKeys, idOf, KEYS, recordMany, REDIS_URL, rewrite, rows, setHead, streamKey, trail } from './helpers.js';

/**
 * `verifyAudit` against what someone with access to Redis can do to the trail (threat T16): each change is
 * caught and the first entry concerned is named. Deleting the newest entries, and rewriting the head to
 * match, is caught only thanks to a signed checkpoint outside Redis.
 */

let store: RedisStore;
let redis: Redis;
beforeAll(async () => {
  store = createRedisStore(REDIS_URL);
  await store.ping();
  redis = store.client as Redis;
});
afterAll(async () => {
  await store?.close();
});

/** A log of `n` entries; with `checkpointEvery`, signed checkpoints in a directory of its own. */
async function log(n: number, checkpointEvery?: number): Promise<{ keys: Keys; dir?: string }> {
  const keys = freshKeys();
  const dir = checkpointEvery ? freshDir() : undefined;
  const t = trail(store, keys, dir ? { signingKey: KEYS.privateKey, checkpointDir: dir, checkpointEvery } : {});
  await recordMany(t, n);
  await t.close();
  return { keys, dir };
}

const verify = (keys: Keys, dir?: string) =>
  verifyAudit({ store, keys, ...(dir ? { checkpointDir: dir, publicKey: KEYS.publicKey } : {}) });

/** Changes one fact of an entry's JSON (the amount), keeping it canonical. */
function changed(text: string, recomputeHash = false): { entry: string; hash?: string } {
  const entry = JSON.parse(text) as { data: { amountMinor: number } };
  entry.data.amountMinor = 99_999_900;
  const out = canonicalJson(entry);
  return recomputeHash ? { entry: out, hash: sha256Hex(out) } : { entry: out };
}

describe('verifyAudit', () => {
  it('should find an untouched log intact', async () => {
    const { keys, dir } = await log(7, 3);
    // Checkpoints at 3 and 6, and the last one written on close (7).
    expect(await verify(keys, dir)).toEqual({ ok: true, entries: 7, checkpoints: 3 });
  });

  it('should name an entry edited in place (the stream recreated with one fact changed)', async () => {
    const { keys } = await log(6);
    const stored = await rows(redis, keys);
    const [id, fields] = stored[3]!;
    stored[3] = [id, ['e', changed(field(fields, 'e')).entry, 'h', field(fields, 'h')]];
    await rewrite(redis, keys, stored);
    expect((await verify(keys)).problem).toMatchObject({ seq: 4, id, kind: 'edited' });
  });

  it('should name an entry edited in place even when its hash was recomputed', async () => {
    const { keys } = await log(6);
    const stored = await rows(redis, keys);
    const [id, fields] = stored[2]!;
    const forged = changed(field(fields, 'e'), true);
    stored[2] = [id, ['e', forged.entry, 'h', forged.hash!]];
    await rewrite(redis, keys, stored);
    const result = await verify(keys);
    expect(result).toMatchObject({ ok: false, entries: 3 });
    expect(result.problem).toMatchObject({ seq: 3, id, kind: 'edited' });
  });

  it('should name an entry replaced by a changed copy (XDEL, then XADD of the copy)', async () => {
    const { keys } = await log(6);
    const [id, fields] = (await rows(redis, keys))[1]!;
    await redis.xdel(streamKey(keys), id);
    const copy = changed(field(fields, 'e'), true);
    const added = await redis.xadd(streamKey(keys), '*', 'e', copy.entry, 'h', copy.hash!);
    expect((await verify(keys)).problem).toMatchObject({ seq: 2, id: added, kind: 'edited' });
  });

  it('should name an entry deleted from the middle', async () => {
    const { keys } = await log(6);
    await redis.xdel(streamKey(keys), await idOf(redis, keys, 4));
    expect((await verify(keys)).problem).toMatchObject({ seq: 4, kind: 'deleted' });
  });

  it('should name two entries swapped', async () => {
    const { keys } = await log(6);
    const stored = await rows(redis, keys);
    // Same ids in the same order, entries 3 and 4 trading places.
    const swapped = stored.map(([id, fields], i) => [id, stored[i === 2 ? 3 : i === 3 ? 2 : i]![1] ?? fields] as [string, string[]]);
    await rewrite(redis, keys, swapped);
    expect((await verify(keys)).problem).toMatchObject({ seq: 3, id: stored[3]![0], kind: 'reordered' });
  });

  it('should name the first entry when the oldest ones are trimmed (XTRIM)', async () => {
    const { keys } = await log(6);
    await redis.xtrim(streamKey(keys), 'MAXLEN', 4);
    expect((await verify(keys)).problem).toMatchObject({ seq: 1, kind: 'deleted' });
  });

  it('should see the newest entries deleted through the head of the chain', async () => {
    const { keys } = await log(6);
    for (const seq of [6, 5]) await redis.xdel(streamKey(keys), await idOf(redis, keys, seq));
    expect((await verify(keys)).problem).toMatchObject({ seq: 5, kind: 'truncated' });
  });

  it('should miss a deleted tail whose head was rewritten when there is no checkpoint', async () => {
    const { keys } = await log(6);
    const stored = await rows(redis, keys);
    for (const seq of [6, 5]) await redis.xdel(streamKey(keys), stored[seq - 1]![0]);
    await setHead(redis, keys, `4:${field(stored[3]![1], 'h')}`);
    // A bare hash chain cannot tell: this is why checkpoints are signed and kept outside Redis.
    expect(await verify(keys)).toEqual({ ok: true, entries: 4, checkpoints: 0 });
  });

  it('should catch a deleted tail whose head was rewritten thanks to a signed checkpoint', async () => {
    const { keys, dir } = await log(6, 5);
    const stored = await rows(redis, keys);
    for (const seq of [6, 5]) await redis.xdel(streamKey(keys), stored[seq - 1]![0]);
    await setHead(redis, keys, `4:${field(stored[3]![1], 'h')}`);
    expect(await verify(keys, dir)).toMatchObject({ ok: false, entries: 4, problem: { seq: 5, kind: 'truncated' } });
  });

  it('should catch a log rewritten with fresh hashes from some entry on thanks to a signed checkpoint', async () => {
    const { keys, dir } = await log(6, 5);
    const stored = await rows(redis, keys);
    // Entry 2 changed, and every later entry re-linked with recomputed hashes, the head too.
    let prev = field(stored[0]![1], 'h');
    const forged = stored.map(([id, fields], i): [string, string[]] => {
      if (i === 0) return [id, fields];
      const entry = JSON.parse(field(fields, 'e')) as { prev: string; data: { amountMinor: number } };
      entry.prev = prev;
      if (i === 1) entry.data.amountMinor = 1;
      const text = canonicalJson(entry);
      prev = sha256Hex(text);
      return [id, ['e', text, 'h', prev]];
    });
    await rewrite(redis, keys, forged);
    await setHead(redis, keys, `6:${prev}`);
    expect((await verify(keys)).ok).toBe(true);
    expect((await verify(keys, dir)).problem).toMatchObject({ seq: 5, id: stored[4]![0], kind: 'edited' });
  });

  it('should refuse a forged checkpoint (a changed head, or a signature of another key)', async () => {
    const { keys, dir } = await log(6, 5);
    const [file] = readdirSync(dir!);
    const path = join(dir!, file!);
    const original = readFileSync(path, 'utf8');
    const written = JSON.parse(original) as { checkpoint: { seq: number }; signature: string };
    writeFileSync(path, JSON.stringify({ ...written, checkpoint: { ...written.checkpoint, seq: 4 } }));
    expect((await verify(keys, dir)).problem).toMatchObject({ kind: 'bad-signature' });
    expect((await verify(keys, dir)).problem?.message).toContain(file);

    writeFileSync(path, original);
    expect((await verify(keys, dir)).ok).toBe(true);
    const stranger = generateAuditKeys();
    expect(await verifyAudit({ store, keys, checkpointDir: dir, publicKey: stranger.publicKey })).toMatchObject({
      ok: false,
      problem: { kind: 'bad-signature' },
    });
  });
});
