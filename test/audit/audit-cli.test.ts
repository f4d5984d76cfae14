import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { freshDir, freshKeys, idOf, KEYS, recordMany, REDIS_URL, streamKey, trail } from './helpers.js';

/** `kiunga audit verify` as operators run it: exit 0 on an intact trail, 1 naming the first bad entry. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let store: RedisStore;
beforeAll(async () => {
  store = createRedisStore(REDIS_URL);
  await store.ping();
});
afterAll(async () => {
  await store?.close();
});

/** Runs the real command line with `env` on top of this process's environment. */
function kiunga(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['tsx', 'src/main.ts', ...args],
      { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('kiunga audit verify', () => {
  it('should exit 0 on an intact trail, and 1 naming the entry once one is deleted', async () => {
    const keys = freshKeys();
    const dir = freshDir();
    const log = trail(store, keys, { signingKey: KEYS.privateKey, checkpointDir: dir, checkpointEvery: 4 });
    await recordMany(log, 9);
    await log.close();
    const env = { REDIS_URL, REDIS_PREFIX: keys.prefix, AUDIT_CHECKPOINT_DIR: dir, AUDIT_VERIFY_KEY: KEYS.publicKey };

    const intact = await kiunga(['audit', 'verify'], env);
    expect(intact.stdout).toContain('audit: intact: 9 entries, 3 signed checkpoints');
    expect(intact.code).toBe(0);

    const id = await idOf(store.client as Redis, keys, 6);
    await (store.client as Redis).xdel(streamKey(keys), id);
    const broken = await kiunga(['audit', 'verify'], env);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('entry 6');
    expect(broken.stdout).toContain('deleted');
  });
});
