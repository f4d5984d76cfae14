/**
 * vitest globalSetup of both configurations: runs once before any test file. It installs or names the missing
 * programs and makes sure a Redis answers at REDIS_URL (starting one on loopback for the run when nothing does),
 * so a fresh machine never fails halfway through with a connection error.
 */
import { DEFAULT_REDIS_URL, ensurePrograms, ensureRedis, type StartedRedis } from './environment.js';

let started: StartedRedis | undefined;

export async function setup(): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  ensurePrograms({ log });
  // Test workers are started after this and inherit the variable (unset or empty: the default).
  if (!process.env.REDIS_URL) process.env.REDIS_URL = DEFAULT_REDIS_URL;
  started = await ensureRedis(process.env.REDIS_URL, log);
}

export async function teardown(): Promise<void> {
  await started?.stop();
  started = undefined;
}
