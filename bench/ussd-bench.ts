/**
 * `npm run bench`: Kiunga against a minimal Express + ioredis USSD handler, side by side in one run, on the
 * same Redis and the same Fineract sandbox, under the same load: many concurrent USSD sessions of
 * returning customers (their lookups already cached). Two journeys:
 *   balance:  dial -> PIN -> balance (END)
 *   transfer: dial -> PIN -> send money -> recipient -> amount -> PIN (END with the receipt)
 * Prints hops/s, p50 and p99 per server, the ratios Kiunga/minimal, and Fineract requests per session.
 *
 * Settings (environment): BENCH_CONCURRENCY (64), BENCH_SECONDS (8 per round), BENCH_ROUNDS (2),
 * BENCH_CUSTOMERS (256), BENCH_JOURNEYS (balance,transfer), REDIS_URL (redis://127.0.0.1:6379), KIUNGA_LOG_LEVEL (info).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { createRedisStore } from '../src/session/redis-store.js';
import { createKeys } from '../src/session/keys.js';
import { createPinService } from '../src/security/pin.js';
import { SYNTHETIC_FIRST_ID, SYNTHETIC_PIN, syntheticMsisdn } from '../src/sandbox/synthetic.js';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 256);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PEPPER = 'bench-pepper-0123456789abcdef';

type Journey = 'balance' | 'transfer';
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
async function startChild(args: string[], env: Record<string, string>, url: string, nodeFlags: string[] = []): Promise<void> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${args.join(' ')} did not start`);
}

interface RoundResult {
  hops: number;
  sessions: number;
  errors: number;
  latencies: number[];
  seconds: number;
  fineractRequests: number;
}

/** The hops of one session: [text, expected reply prefix]. */
function script(journey: Journey, customer: number): [string, string][] {
  const pin = SYNTHETIC_PIN;
  if (journey === 'balance')
    return [
      ['', 'CON '],
      [pin, 'CON '],
      [`${pin}*1`, 'END '],
    ];
  const recipient = `0720${String((customer + 1) % CUSTOMERS).padStart(6, '0')}`;
  const base = `${pin}*3*${recipient}*10`;
  return [
    ['', 'CON '],
    [pin, 'CON '],
    [`${pin}*3`, 'CON '],
    [`${pin}*3*${recipient}`, 'CON '],
    [base, 'CON '],
    [`${base}*${pin}`, 'END '],
  ];
}

/** Runs CONCURRENCY virtual customers for `seconds`, each doing sessions of `journey` back to back. */
async function drive(baseUrl: string, sandboxUrl: string, label: string, journey: Journey, seconds = SECONDS): Promise<RoundResult> {
  const pool = new Pool(baseUrl, { connections: CONCURRENCY });
  const received = async () => ((await (await fetch(`${sandboxUrl}/sandbox/control`)).json()) as { received: number }).received;
  const receivedBefore = await received();
  const latencies: number[] = [];
  let hops = 0;
  let sessions = 0;
  let errors = 0;
  const samples: string[] = [];
  const stopAt = performance.now() + seconds * 1000;
  const worker = async (w: number) => {
    for (let n = 0; performance.now() < stopAt; n++) {
      const customer = (w + n * CONCURRENCY) % CUSTOMERS;
      const phoneNumber = syntheticMsisdn(customer);
      const sessionId = `bench_${label}_${w}_${n}_${randomBytes(2).toString('hex')}`;
      for (const [text, expect] of script(journey, customer)) {
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
          if (samples.length < 3) samples.push(`${statusCode} ${reply.slice(0, 70)}`);
          break;
        }
      }
      sessions++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  const fineractRequests = (await received()) - receivedBefore;
  if (samples.length > 0) process.stderr.write(`${label} ${journey}: unexpected replies, e.g.\n  ${samples.join('\n  ')}\n`);
  return { hops, sessions, errors, latencies, seconds: elapsed, fineractRequests };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function summarise(results: RoundResult[]) {
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const hops = results.reduce((n, r) => n + r.hops, 0);
  const sessions = results.reduce((n, r) => n + r.sessions, 0);
  const seconds = results.reduce((n, r) => n + r.seconds, 0);
  return {
    hopsPerSecond: hops / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors: results.reduce((n, r) => n + r.errors, 0),
    hops,
    perSession: results.reduce((n, r) => n + r.fineractRequests, 0) / Math.max(1, sessions),
  };
}

async function main() {
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  const [sandboxPort, kiungaPort, minimalPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const fineractUrl = `${sandboxUrl}/fineract-provider/api/v1`;

  // The customers' PINs, where Kiunga looks for them (same Redis, prefix and pepper).
  const store = createRedisStore(REDIS_URL);
  const pins = createPinService({ store, pepper: PEPPER, keys: createKeys(prefix) });
  for (let i = 0; i < CUSTOMERS; i++) await pins.setPin(SYNTHETIC_FIRST_ID + i, SYNTHETIC_PIN);

  await startChild(
    ['src/main.ts', 'sandbox'],
    { SANDBOX_PORT: String(sandboxPort), SANDBOX_CUSTOMERS: String(CUSTOMERS), LOG_LEVEL: 'warn' },
    `${sandboxUrl}/sandbox/requests`,
  );
  await startChild(
    ['src/main.ts', 'serve'],
    {
      PORT: String(kiungaPort),
      HOST: '127.0.0.1',
      ...(process.env.BENCH_KIUNGA_MEMORY ? {} : { REDIS_URL }),
      REDIS_PREFIX: prefix,
      FINERACT_URL: fineractUrl,
      // The sandbox on loopback stands in for Fineract: its unsafe settings are expected (threat T27).
      KIUNGA_ALLOW_INSECURE: 'messaging,callback-key,fineract-password,sim-swap',
      FINERACT_SAVINGS_PRODUCTS: '1',
      FINERACT_LOAN_PRODUCTS: '1',
      FINERACT_RATE_LIMIT: '100000',
      // Each of the 256 customers makes hundreds of hops a second: the abuse check still runs (its cost is
      // measured) but its per-number limit must not refuse them.
      LIMIT_NUMBER_PER_MIN: '100000',
      FINERACT_MAX_CONCURRENT: '256',
      PIN_PEPPER: PEPPER,
      HOP_DEADLINE_MS: '10000',
      TRANSFER_DAILY_LIMIT: '1000000',
      LOG_LEVEL: process.env.KIUNGA_LOG_LEVEL ?? 'info',
    },
    `http://127.0.0.1:${kiungaPort}/healthz`,
    process.env.BENCH_KIUNGA_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/kiunga-prof'] : [],
  );
  await startChild(
    ['bench/minimal-server.ts'],
    { PORT: String(minimalPort), REDIS_URL, REDIS_PREFIX: `${prefix}-minimal`, FINERACT_URL: fineractUrl },
    `http://127.0.0.1:${minimalPort}/`,
  );
  const targets = { minimal: `http://127.0.0.1:${minimalPort}`, kiunga: `http://127.0.0.1:${kiungaPort}` };

  process.stdout.write(`warming up: ${CUSTOMERS} customers become returning customers...\n`);
  for (const [label, url] of Object.entries(targets)) await drive(url, sandboxUrl, `warm-${label}`, 'balance', 3);

  const lines: string[] = [];
  for (const journey of (process.env.BENCH_JOURNEYS ?? 'balance,transfer').split(',') as Journey[]) {
    const results: Record<string, RoundResult[]> = { minimal: [], kiunga: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const label of round % 2 === 0 ? ['minimal', 'kiunga'] : ['kiunga', 'minimal']) {
        results[label]!.push(await drive(targets[label as keyof typeof targets], sandboxUrl, label, journey));
      }
    }
    const k = summarise(results.kiunga!);
    const m = summarise(results.minimal!);
    const row = (name: string, s: ReturnType<typeof summarise>) =>
      `| ${name} | ${s.hopsPerSecond.toFixed(0)} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.perSession.toFixed(2)} | ${s.hops} | ${s.errors} |`;
    lines.push(
      '',
      `${journey}: ${CONCURRENCY} concurrent sessions, ${ROUNDS} interleaved rounds of ${SECONDS} s each`,
      '',
      '| server | hops/s | p50 ms | p99 ms | Fineract requests/session | hops | errors |',
      '|---|---|---|---|---|---|---|',
      row('minimal (Express + ioredis)', m),
      row('kiunga', k),
      '',
      `ratio kiunga/minimal: hops/s ${(k.hopsPerSecond / m.hopsPerSecond).toFixed(2)}, p99 ${(k.p99 / m.p99).toFixed(2)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  await store.close();
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGINT');
}
