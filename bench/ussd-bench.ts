/**
 * `npm run bench`: Kiunga against a minimal Express + ioredis USSD handler, side by side in one run, on the
 * same Redis and the same Fineract sandbox, under the same load: many concurrent USSD sessions, each
 * dial -> PIN -> balance (END). Prints hops/s, p50 and p99 per server and the ratio Kiunga/minimal.
 *
 * Settings (environment): BENCH_CONCURRENCY (64), BENCH_SECONDS (8 per round), BENCH_ROUNDS (2),
 * REDIS_URL (redis://127.0.0.1:6379), KIUNGA_LOG_LEVEL (info).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { createRedisStore } from '../src/session/redis-store.js';
import { createKeys } from '../src/session/keys.js';
import { createPinService } from '../src/security/pin.js';
import { DEMO_PINS } from '../src/security/demo-pins.js';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PEPPER = 'bench-pepper-0123456789abcdef';
const CUSTOMERS = [
  ['+254711000001', '1234'],
  ['+254711000002', '2468'],
  ['+254711000003', '1357'],
  ['+254711000004', '8642'],
] as const;

const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a child process and waits until `url` answers. */
async function startChild(args: string[], env: Record<string, string>, url: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(url, { method: 'GET' });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${args.join(' ')} did not start`);
}

interface RoundResult {
  hops: number;
  errors: number;
  latencies: number[];
  seconds: number;
  fineractRequests?: number;
}

/** Runs CONCURRENCY virtual customers for SECONDS, each doing dial, PIN, balance sessions back to back. */
async function drive(baseUrl: string, label: string, seconds = SECONDS): Promise<RoundResult> {
  const pool = new Pool(baseUrl, { connections: CONCURRENCY, pipelining: 1 });
  const latencies: number[] = [];
  let hops = 0;
  let errors = 0;
  const stopAt = performance.now() + seconds * 1000;
  const samples: string[] = [];
  const hop = async (sessionId: string, phoneNumber: string, text: string, expect: string) => {
    const started = performance.now();
    const { statusCode, body } = await pool.request({
      method: 'POST',
      path: '/channels/africastalking/ussd',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ sessionId, serviceCode: '*384*1#', phoneNumber, networkCode: '63902', text }).toString(),
    });
    const reply = await body.text();
    latencies.push(performance.now() - started);
    hops++;
    if (statusCode !== 200 || !reply.startsWith(expect)) {
      errors++;
      if (samples.length < 3) samples.push(`${text.replace(/\d{4}/, '****')} -> ${statusCode} ${reply.slice(0, 60)}`);
    }
  };
  const worker = async (w: number) => {
    let n = 0;
    while (performance.now() < stopAt) {
      const [msisdn, pin] = CUSTOMERS[(w + n) % CUSTOMERS.length]!;
      const sessionId = `bench_${label}_${w}_${n++}_${randomBytes(2).toString('hex')}`;
      await hop(sessionId, msisdn, '', 'CON ');
      await hop(sessionId, msisdn, pin, 'CON ');
      await hop(sessionId, msisdn, `${pin}*1`, 'END ');
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  if (samples.length > 0) process.stderr.write(`${label}: unexpected replies, e.g.\n  ${samples.join('\n  ')}\n`);
  return { hops, errors, latencies, seconds: elapsed };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function summarise(results: RoundResult[]) {
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const hops = results.reduce((n, r) => n + r.hops, 0);
  const seconds = results.reduce((n, r) => n + r.seconds, 0);
  return {
    hopsPerSecond: hops / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors: results.reduce((n, r) => n + r.errors, 0),
    hops,
  };
}

async function main() {
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  const sandboxPort = await freePort();
  const kiungaPort = await freePort();
  const minimalPort = await freePort();
  const fineractUrl = `http://127.0.0.1:${sandboxPort}/fineract-provider/api/v1`;

  // Seed the demo PINs where Kiunga will look for them (same Redis, prefix and pepper).
  const store = createRedisStore(REDIS_URL);
  const pins = createPinService({ store, pepper: PEPPER, keys: createKeys(prefix) });
  for (const [clientId, pin] of Object.entries(DEMO_PINS)) await pins.setPin(Number(clientId), pin);

  await startChild(['src/main.ts', 'sandbox'], { SANDBOX_PORT: String(sandboxPort), LOG_LEVEL: 'warn' }, `http://127.0.0.1:${sandboxPort}/sandbox/requests`);
  await startChild(
    ['src/main.ts', 'serve'],
    {
      PORT: String(kiungaPort),
      HOST: '127.0.0.1',
      REDIS_URL,
      REDIS_PREFIX: prefix,
      FINERACT_URL: fineractUrl,
      FINERACT_SAVINGS_PRODUCTS: '1',
      FINERACT_LOAN_PRODUCTS: '1',
      PIN_PEPPER: PEPPER,
      HOP_DEADLINE_MS: '10000',
      LOG_LEVEL: process.env.KIUNGA_LOG_LEVEL ?? 'info',
    },
    `http://127.0.0.1:${kiungaPort}/healthz`,
  );
  await startChild(
    ['bench/minimal-server.ts'],
    { PORT: String(minimalPort), REDIS_URL, REDIS_PREFIX: `${prefix}-minimal`, FINERACT_URL: fineractUrl },
    `http://127.0.0.1:${minimalPort}/`,
  );
  const targets = { kiunga: `http://127.0.0.1:${kiungaPort}`, minimal: `http://127.0.0.1:${minimalPort}` };

  process.stdout.write(`warming up (${CONCURRENCY} concurrent sessions)...\n`);
  for (const [label, url] of Object.entries(targets)) await drive(url, `warm-${label}`, 2);
  const results: Record<string, RoundResult[]> = { minimal: [], kiunga: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const label of round % 2 === 0 ? ['minimal', 'kiunga'] : ['kiunga', 'minimal']) {
      results[label]!.push(await drive(targets[label as keyof typeof targets], label));
    }
  }
  const k = summarise(results.kiunga!);
  const m = summarise(results.minimal!);
  const row = (name: string, s: ReturnType<typeof summarise>) =>
    `| ${name} | ${s.hopsPerSecond.toFixed(0)} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.hops} | ${s.errors} |`;
  process.stdout.write(
    [
      '',
      `USSD hops, ${CONCURRENCY} concurrent sessions (dial, PIN, balance), ${ROUNDS} interleaved rounds of ${SECONDS} s each`,
      '',
      '| server | hops/s | p50 ms | p99 ms | hops | errors |',
      '|---|---|---|---|---|---|',
      row('minimal (Express + ioredis)', m),
      row('kiunga', k),
      '',
      `ratio kiunga/minimal (hops/s): ${(k.hopsPerSecond / m.hopsPerSecond).toFixed(2)}`,
      `ratio kiunga/minimal (p99): ${(k.p99 / m.p99).toFixed(2)}`,
      '',
    ].join('\n'),
  );
  await store.close();
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGTERM');
}
