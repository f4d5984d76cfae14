/**
 * `npm test` sets itself up on a fresh machine (test/helpers/global-setup.ts): missing programs are installed
 * or named with the one command that installs them, and a Redis is started for the run when nothing answers
 * at a loopback REDIS_URL, so the suite never fails halfway through with a connection error.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REDIS_URL,
  ensurePrograms,
  ensureRedis,
  EnvironmentError,
  installCommand,
  redisAnswers,
  requirements,
} from '../helpers/environment.js';
import { freePort } from '../session/helpers/redis-server.js';

describe('test environment', () => {
  it('should stop at once with the one install command when programs are missing and cannot be installed', () => {
    const options = { path: '', chromium: '/nonexistent/chromium', canInstall: false };
    expect(requirements(options).every((r) => !r.present)).toBe(true);
    expect(() => ensurePrograms(options)).toThrow(EnvironmentError);
    expect(() => ensurePrograms(options)).toThrow('sudo apt-get install -y redis-server redis-tools chromium');
    expect(installCommand(requirements({ chromium: '/nonexistent/chromium' }).filter((r) => !r.present))).toBe(
      'sudo apt-get install -y chromium',
    );
  });

  it('should find every program on this machine (the global setup ran)', () => {
    expect(requirements().filter((r) => !r.present)).toEqual([]);
    expect(() => ensurePrograms({ canInstall: false })).not.toThrow();
  });

  it('should leave a Redis that answers alone, and start one on a loopback port where nothing answers', async () => {
    expect(await ensureRedis(process.env.REDIS_URL ?? DEFAULT_REDIS_URL)).toBeUndefined();
    const port = await freePort();
    expect(await redisAnswers('127.0.0.1', port)).toBe(false);
    const started = await ensureRedis(`redis://127.0.0.1:${port}`);
    expect(started).toBeDefined();
    try {
      expect(await redisAnswers('127.0.0.1', port)).toBe(true);
    } finally {
      await started?.stop();
    }
    expect(await redisAnswers('127.0.0.1', port)).toBe(false);
  });

  it('should refuse at once a remote REDIS_URL where nothing answers, and leave Sentinel and Cluster URLs to the tests', async () => {
    await expect(ensureRedis('redis://nothing-here.invalid:6379')).rejects.toThrow(
      /nothing answers at REDIS_URL=redis:\/\/nothing-here.invalid:6379/,
    );
    expect(await ensureRedis('redis-sentinel://127.0.0.1:1,127.0.0.1:2/main')).toBeUndefined();
  });
});
