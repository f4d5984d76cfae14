/**
 * `kiunga serve` with ADMIN_PORT, as a real child process on real Redis with the built-in sandbox (threat
 * T17): the admin API answers on ADMIN_HOST:ADMIN_PORT only, the public port answers 404 for /admin and still
 * serves customers, and SIGTERM closes both listeners with a clean exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../session/helpers/redis-server.js';
import { REDIS_URL } from '../helpers/server.js';

const TOKEN = 'listener-test-operator-token-0123456789';
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Resolves with the connect error code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe('kiunga serve with ADMIN_PORT', () => {
  it('should serve the admin API on its own listener only, and close it on SIGTERM', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        ADMIN_PORT: String(adminPort),
        ADMIN_TOKENS: `alice:${TOKEN}`,
        REDIS_URL,
        REDIS_PREFIX: `kiunga-listener-${randomBytes(4).toString('hex')}`,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(proc);
    const exited = once(proc, 'exit') as Promise<[number | null]>;
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening; saw: ${seen.slice(-5).join(' | ')}`)), 60_000);
      createInterface({ input: proc.stdout! }).on('line', (text) => {
        const msg = (() => {
          try {
            return String((JSON.parse(text) as { msg?: string }).msg);
          } catch {
            return '';
          }
        })();
        seen.push(msg);
        if (msg === 'admin API listening') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    expect((await fetch(`http://127.0.0.1:${adminPort}/admin/switches`, auth)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/admin/switches`, auth)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    proc.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(await tryConnect(adminPort)).toBe('ECONNREFUSED');
  });
});
