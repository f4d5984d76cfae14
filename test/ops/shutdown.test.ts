/**
 * Graceful shutdown of `kiunga serve`, run as a real child process on real Redis with the built-in sandbox:
 * on SIGTERM /readyz answers 503 at once, new connections are refused, the hop in flight gets its answer,
 * delayed jobs stay in Redis for the next process, and the exit code is 0 after a clean drain (1, with a
 * log line naming what was left, otherwise).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { freePort } from '../session/helpers/redis-server.js';
import { REDIS_URL } from '../helpers/server.js';

const prefix = `kiunga-shutdown-${randomBytes(4).toString('hex')}`;
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  const redis = new Redis(REDIS_URL);
  const keys = [...(await redis.keys(`${prefix}:*`)), ...(await redis.keys(`{${prefix}:*`))];
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

interface LogLine {
  msg: string;
  [field: string]: unknown;
}

/** Starts `kiunga serve` (with `preload` imported first, when given) and collects its JSON log lines and its stderr. */
async function startServer(env: Record<string, string>, preload?: string) {
  const port = await freePort();
  const proc = spawn(process.execPath, [...(preload ? ['--import', preload] : []), '--import', 'tsx', 'src/main.ts', 'serve'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    process.stderr.write(chunk);
  });
  const lines: LogLine[] = [];
  const waiters: { test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    lines.push(line);
    for (const w of waiters.splice(0)) w.test(line) ? w.resolve(line) : waiters.push(w);
  });
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const logged = (msg: string | RegExp, timeoutMs = 60_000): Promise<LogLine> => {
    const test = (l: LogLine) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg));
    const seen = lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no log line ${String(msg)}; last: ${lines
                .slice(-5)
                .map((l) => l.msg)
                .join(' | ')}`,
            ),
          ),
        timeoutMs,
      );
      waiters.push({ test, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  };
  const sandboxLine = await logged(/FINERACT_URL is not set/);
  await logged('kiunga listening');
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    sandbox: new URL(String(sandboxLine.sandbox)).origin,
    lines,
    logged,
    exited,
    stderr: () => stderr,
  };
}

/** Opens a connection and sends a request's first line and headers but not the blank line that ends it. */
async function partialRequest(port: number, path: string): Promise<{ socket: Socket; finish(): Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
  return {
    socket,
    async finish() {
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
      const ended = new Promise((resolve) => socket.once('close', resolve));
      socket.write('\r\n');
      await ended;
      return answer;
    },
  };
}

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

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

/** Amina's SMS "CALL" through the AT route: a call-back request the server places after CALLBACK_DELAY_MS. */
const askForCallBack = (url: string) =>
  fetch(
    `${url}/channels/africastalking/sms`,
    form({
      from: '+254711000001',
      to: '22384',
      text: 'CALL',
      date: new Date().toISOString(),
      id: `ATXid_${randomBytes(4).toString('hex')}`,
    }),
  );

type Server = Awaited<ReturnType<typeof startServer>>;

/** Makes every Fineract answer take 700 ms and dials Baraka's session; `answer` is the hop's answer to come. */
async function slowHop(server: Server): Promise<{ answer: Promise<{ status: number; body: string }> }> {
  const control = await fetch(`${server.sandbox}/sandbox/control`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ latencyMs: 700, clearRequests: true }),
  });
  expect(control.status).toBe(200);
  const answer = fetch(
    `${server.url}/channels/africastalking/ussd`,
    form({ sessionId: `ATUid_${randomBytes(6).toString('hex')}`, phoneNumber: '+254711000002', serviceCode: '*384*123#', text: '' }),
  ).then(async (res) => ({ status: res.status, body: await res.text() }));
  return { answer };
}

/** Until the sandbox has seen a request: the slow hop is at Fineract. */
async function atFineract(server: Server): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const seen = (await (await fetch(`${server.sandbox}/sandbox/requests`)).json()) as unknown[];
    if (seen.length > 0) return;
    await sleep(10);
  }
}

describe('kiunga serve on SIGTERM', () => {
  it('answers the hop in flight, says not ready, refuses new connections, keeps delayed jobs in Redis, exits 0', async () => {
    const server = await startServer({ REDIS_URL, REDIS_PREFIX: prefix, HOP_DEADLINE_MS: '4000', CALLBACK_DELAY_MS: '60000' });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    // A delayed job: an SMS call-back request is placed after CALLBACK_DELAY_MS (a minute).
    const sms = await askForCallBack(server.url);
    expect(sms.status).toBe(200);
    const jobs = new Queue('jobs', { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix: `{${prefix}:bull}` });
    for (let i = 0; i < 100 && (await jobs.getDelayedCount()) === 0; i++) await sleep(50);
    expect(await jobs.getDelayedCount()).toBe(1);

    // A slow hop: every Fineract answer takes 700 ms.
    const hop = (await slowHop(server)).answer;
    // A probe whose request is still arriving when the signal comes.
    const probe = await partialRequest(server.port, '/readyz');
    // Wait until the hop is at Fineract, then stop the server.
    await atFineract(server);
    server.proc.kill('SIGTERM');
    const draining = await server.logged(/^shutting down/);
    expect(draining.inFlight).toBe(1); // the hop (the probe's request has not arrived whole yet)

    const probeAnswer = await probe.finish();
    expect(probeAnswer).toMatch(/^HTTP\/1\.1 503 /);
    expect(probeAnswer).toContain('draining');
    let refused = 'connected';
    for (let i = 0; i < 50 && refused === 'connected'; i++) refused = await tryConnect(server.port);
    expect(refused).toBe('ECONNREFUSED');

    const answer = await hop;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/^CON Welcome Baraka/);

    const [code] = await server.exited;
    expect(code).toBe(0);
    expect(server.lines.some((l) => l.msg === 'shut down cleanly')).toBe(true);
    // The delayed call-back is still in Redis for the next process.
    expect(await jobs.getDelayedCount()).toBe(1);
    await jobs.close();
    await (await jobs.client).quit();
  }, 90_000);

  it('on an error nothing caught: logs it as one line (never the error object), answers the hop in flight, exits 1', async () => {
    const server = await startServer({ REDIS_URL, REDIS_PREFIX: prefix, HOP_DEADLINE_MS: '4000' }, './test/ops/fault-on-signal.mjs');
    const hop = (await slowHop(server)).answer;
    await atFineract(server);
    // The preload rejects a promise nobody handles.
    server.proc.kill('SIGUSR2');
    const fatal = await server.logged('uncaught error: draining, then exiting 1');
    expect(fatal).toMatchObject({
      level: 60,
      origin: 'unhandledRejection',
      err: { type: 'Error', message: 'a fault injected by the test' },
    });
    expect((await server.logged(/^shutting down/)).signal).toBe('fatal');

    const answer = await hop;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/^CON Welcome Baraka/);
    const [code] = await server.exited;
    expect(code).toBe(1);
    // Node's own report of an unhandled rejection prints the error's fields: it never ran.
    const everything = JSON.stringify(server.lines) + server.stderr();
    expect(everything).not.toContain('never-logged-4821');
  }, 90_000);

  it('exits non-zero and names what did not drain: a delayed job of the in-process queue is lost', async () => {
    const server = await startServer({ REDIS_URL: '', CALLBACK_DELAY_MS: '60000' });
    const sms = await askForCallBack(server.url);
    expect(sms.status).toBe(200);
    await server.logged('call-back queued');
    server.proc.kill('SIGTERM');
    const [code] = await server.exited;
    expect(code).toBe(1);
    const report = server.lines.find((l) => l.msg === 'shut down without a clean drain');
    expect(report?.undrained).toEqual(['1 waiting or delayed job(s) lost with the in-process queue']);
  }, 90_000);
});
