/**
 * What `npm test` needs from the machine, checked once before any test file runs (test/helpers/global-setup.ts):
 * the `redis-server` and `redis-cli` binaries (tests start their own servers: restarts, Cluster, Sentinel),
 * Chromium (the browser phone), and a Redis answering at REDIS_URL. Missing programs are installed with
 * apt-get when running as root on Debian (CI runs .ci/run as root), otherwise the run stops at once with the one
 * command that installs them. When nothing answers at a loopback REDIS_URL, a throw-away redis-server is
 * started for the run and stopped after it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** A program the suite needs and the Debian package that brings it. */
export interface Requirement {
  what: string;
  present: boolean;
  debianPackage: string;
}

/** Whether an executable `name` is on `path` (a PATH value). */
export function onPath(name: string, path = process.env.PATH ?? ''): boolean {
  return path
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => existsSync(join(dir, name)));
}

/** The programs the suite needs, each with whether it is there. */
export function requirements(options: { path?: string; chromium?: string } = {}): Requirement[] {
  const chromium = options.chromium ?? process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM;
  return [
    { what: 'redis-server', present: onPath('redis-server', options.path), debianPackage: 'redis-server' },
    { what: 'redis-cli', present: onPath('redis-cli', options.path), debianPackage: 'redis-tools' },
    { what: `Chromium (${chromium}; CHROMIUM_PATH)`, present: existsSync(chromium), debianPackage: 'chromium' },
  ];
}

/** The one command that installs the missing programs. */
export function installCommand(missing: Requirement[]): string {
  return `sudo apt-get install -y ${[...new Set(missing.map((r) => r.debianPackage))].join(' ')}`;
}

/** Error that stops the run before any test: names what is missing and the command that fixes it. */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

/**
 * Installs what is missing (root with apt-get: the Debian packages), else throws at once
 * with the install command.
 */
export function ensurePrograms(
  options: { path?: string; chromium?: string; canInstall?: boolean; log?: (line: string) => void } = {},
): void {
  const missing = requirements(options).filter((r) => !r.present);
  if (missing.length === 0) return;
  const canInstall = options.canInstall ?? (process.getuid?.() === 0 && onPath('apt-get'));
  const names = missing.map((r) => r.what).join(', ');
  if (!canInstall) {
    throw new EnvironmentError(
      `npm test needs ${names}: install with\n  ${installCommand(missing)}\n(or run npm test as root on Debian, which installs them)`,
    );
  }
  options.log?.(`test setup: installing ${names} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...new Set(missing.map((r) => r.debianPackage))], { stdio: 'ignore', env });
  const still = requirements(options).filter((r) => !r.present);
  if (still.length > 0) throw new EnvironmentError(`apt-get did not install ${still.map((r) => r.what).join(', ')}`);
}

/** Whether something answers a Redis PING at host:port (a password-protected Redis answers too). */
export function redisAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(/^[+-]/.test(data.toString('latin1'))));
    socket.once('error', () => done(false));
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** A redis-server started for the run; `stop` ends it and removes its directory. */
export interface StartedRedis {
  url: string;
  stop(): Promise<void>;
}

/**
 * Makes sure a Redis answers at `url`: nothing to do when one does (or the URL is not a plain redis:// one:
 * Sentinel and Cluster URLs are the tester's own); on loopback, starts a redis-server on that port; elsewhere,
 * throws at once.
 */
export async function ensureRedis(url: string, log?: (line: string) => void): Promise<StartedRedis | undefined> {
  if (!url.startsWith('redis://')) return undefined;
  const parsed = new URL(url);
  const host = parsed.hostname;
  const port = Number(parsed.port || 6379);
  if (await redisAnswers(host, port)) return undefined;
  if (!LOOPBACK.has(host))
    throw new EnvironmentError(`nothing answers at REDIS_URL=${parsed.protocol}//${host}:${port}: start Redis there or unset REDIS_URL`);
  log?.(`test setup: nothing answers at ${host}:${port}; starting redis-server on loopback for this run`);
  const dir = mkdtempSync(join(tmpdir(), 'kiunga-test-redis-'));
  const bind = host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, '');
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', bind, '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  let exited = false;
  child.once('exit', () => (exited = true));
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Waiting for a process to come up: no test assertion depends on this timing.
  for (let i = 0; i < 200 && !exited; i++) {
    if (await redisAnswers(host, port, 200)) return { url, stop };
    await sleep(25);
  }
  await stop();
  throw new EnvironmentError(`redis-server did not start on ${host}:${port}`);
}
