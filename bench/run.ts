/**
 * `npm run bench`: Kiunga, a minimal Express + ioredis + undici handler (minimal-server.ts) and
 * ussd-menu-builder used safely (peer-server.ts), side by side in one run, on one Redis and one Fineract
 * sandbox, driven by a load generator in a process of its own (load.ts). Returning customers (their lookups
 * cached by a warm-up) in many concurrent sessions; every reply is checked (load.ts).
 *
 * Journeys: USSD balance (dial, PIN, balance), USSD transfer (dial, PIN, send money, recipient, amount, PIN),
 * SMS `BAL <PIN>` (Kiunga's AT SMS route; the minimal server has an equivalent handler) and a voice call-back
 * balance (Kiunga's AT voice route: missed call, call-back answered, PIN, balance, hang-up). A server without a
 * journey shows n/a. Rounds run one server at a time, interleaved (A, B, C then C, B, A), and every figure of a
 * round is a delta over that round:
 * - hops/s, p50, p99: the load generator's clock; a hop is one request to a channel route;
 * - server CPU per hop: utime + stime from /proc/<pid>/stat of each of the server's processes (proc-cpu.ts),
 *   over the round and until its queued jobs are done, divided by the hops;
 * - Redis commands per session: `INFO commandstats` (every command but the benchmark's own INFO and queue
 *   polls), divided by the sessions; Redis CPU per hop likewise from the redis-server process;
 * - Fineract requests per session: the sandbox's request counter (`GET /sandbox/control`);
 * - Redis memory per session: N sessions opened to the menu (dial, PIN), then ended (balance): `used_memory`
 *   deltas divided by N, and the `MEMORY USAGE` of the keys that appeared, divided by N;
 * - the gain from one to two Kiunga processes (balance journey, the load spread over both);
 * - the idle CPU of a Kiunga process (and its Redis commands) over 5 s with no traffic, after 20 s at rest.
 * The benchmark starts its own redis-server on a free loopback port (a shared Redis would count other
 * clients' commands); BENCH_REDIS_URL uses an existing one instead. Kiunga runs compiled (tsc into
 * node_modules/.cache/kiunga-bench, so bin/kiunga.js keeps running the sources); if the build fails it runs
 * through tsx and the output says so.
 *
 * Settings (environment): BENCH_SECONDS (4 per round), BENCH_ROUNDS (2), BENCH_CONCURRENCY (64),
 * BENCH_CUSTOMERS (256), BENCH_REDIS_URL (unset: a private redis-server), BENCH_KIUNGA (compiled | tsx),
 * BENCH_JOURNEYS (all; e.g. balance,transfer,sms-balance,voice-balance), BENCH_KIUNGA_PROFILE (unset; set:
 * Kiunga runs with --cpu-prof into /tmp/kiunga-prof, for bench/profile-summary.ts; `all`: the minimal and the
 * peer servers too, into its subfolders minimal/ and peer/, for bench/profile-layers.ts), KIUNGA_LOG_LEVEL (info).
 * With the defaults a run took 188 to 274 s on a 2-core machine, depending on its other work.
 */
import { spawn, spawnSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createRedisStore } from '../src/session/redis-store.js';
import { createKeys } from '../src/session/keys.js';
import { createPinService } from '../src/security/pin-service.js';
import { SYNTHETIC_FIRST_ID, SYNTHETIC_PIN } from '../src/sandbox/synthetic.js';
import { totalCpuSeconds, CPU_TICK_SECONDS } from './proc-cpu.js';
import type { Journey, LoadOrder, RunResult, VerifyResult } from './load.js';
import { BENCH_PEPPER, kiungaBenchEnv } from './kiunga-env.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 256);
const KIUNGA_MODE = process.env.BENCH_KIUNGA ?? 'compiled';
const BUILD_DIR = 'node_modules/.cache/kiunga-bench';
const IDLE_SECONDS = 5;
/** How long every server goes without traffic before its idle CPU is measured. */
const REST_WAIT_S = 20;
const MEMORY_SESSIONS = Math.min(CUSTOMERS, 256);
/** Sessions run one at a time to count Redis round trips. */
const RT_SESSIONS = Math.min(CUSTOMERS, 64);

type ServerName = 'minimal' | 'peer' | 'kiunga';
const SERVER_LABELS: Record<ServerName, string> = {
  minimal: 'minimal (Express + ioredis + undici)',
  peer: 'ussd-menu-builder 1.2.0 (menu per request, sessions in Redis)',
  kiunga: 'Kiunga',
};
const ALL_JOURNEYS: { journey: Journey; title: string; servers: ServerName[] }[] = [
  { journey: 'ussd-balance', title: 'USSD balance', servers: ['minimal', 'peer', 'kiunga'] },
  { journey: 'ussd-transfer', title: 'USSD transfer', servers: ['minimal', 'peer', 'kiunga'] },
  { journey: 'sms-balance', title: 'SMS BAL', servers: ['minimal', 'kiunga'] },
  { journey: 'voice-balance', title: 'voice call-back balance', servers: ['kiunga'] },
];
/** BENCH_JOURNEYS: the journeys measured, e.g. `balance,transfer` (`ussd-` may be left out; default all). */
const JOURNEYS = ALL_JOURNEYS.filter(
  ({ journey }) =>
    !process.env.BENCH_JOURNEYS ||
    process.env.BENCH_JOURNEYS.split(',').some((name) => [journey, journey.replace(/^ussd-/, '')].includes(name.trim())),
);
if (JOURNEYS.length === 0) throw new Error(`BENCH_JOURNEYS names no journey of ${ALL_JOURNEYS.map((j) => j.journey).join(', ')}`);
/** BENCH_KIUNGA_PROFILE: Kiunga writes V8 CPU profiles (`--cpu-prof`) here when it stops (bench/profile-summary.ts reads them). */
const PROFILE_DIR = '/tmp/kiunga-prof';

// Paths below (src/, bench/, node_modules/) are the repository's, wherever the command is started from.
process.chdir(fileURLToPath(new URL('..', import.meta.url)));
const children: ChildProcess[] = [];
const started = Date.now();
const progress = (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);
const notes: string[] = [];

/** `count` distinct free loopback ports (all held open until each is known). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve) => {
          const srv = createServer().listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((srv) => (srv.address() as { port: number }).port);
  await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  return ports;
}

/** Starts `node <args>` and waits until `url` answers; the child's pid is the server's process. */
async function startChild(args: string[], env: Record<string, string>, url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    try {
      await fetch(url);
      return child;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${args.join(' ')} did not start`);
}

/** Kiunga compiled as the issue's figures are (tsc), or through tsx when that fails or BENCH_KIUNGA=tsx. */
function kiungaEntry(): string[] {
  if (KIUNGA_MODE === 'tsx') {
    notes.push('Kiunga ran from its TypeScript sources through tsx (BENCH_KIUNGA=tsx), not compiled.');
    return ['--import', 'tsx', 'src/main.ts'];
  }
  const buildStarted = Date.now();
  // Incremental: a second run with the same sources type-checks nothing again.
  const tsc = spawnSync(
    process.execPath,
    [
      'node_modules/typescript/bin/tsc',
      '-p',
      'tsconfig.build.json',
      '--outDir',
      BUILD_DIR,
      '--incremental',
      '--tsBuildInfoFile',
      `${BUILD_DIR}/.tsbuildinfo`,
    ],
    { encoding: 'utf8' },
  );
  const emitted = existsSync(`${BUILD_DIR}/main.js`) && statSync(`${BUILD_DIR}/main.js`).mtimeMs >= buildStarted - 1000;
  if (tsc.status !== 0 && !emitted) {
    notes.push(`Kiunga ran through tsx: the build failed (${(tsc.stdout || tsc.stderr).split('\n')[0]}).`);
    return ['--import', 'tsx', 'src/main.ts'];
  }
  // tsc emits despite type errors (work in progress elsewhere in the tree); the run says so.
  if (tsc.status !== 0) notes.push(`The build reported type errors (${(tsc.stdout || tsc.stderr).split('\n')[0]}); its output ran.`);
  // The pages the server reads next to its modules (as the Dockerfile copies them).
  for (const page of ['simulator/index.html', 'admin/console.html']) {
    mkdirSync(`${BUILD_DIR}/${page.split('/')[0]}`, { recursive: true });
    if (existsSync(`src/${page}`)) copyFileSync(`src/${page}`, `${BUILD_DIR}/${page}`);
  }
  notes.push(`Kiunga ran compiled (tsc -p tsconfig.build.json into ${BUILD_DIR}, node ${process.version}).`);
  return [`${BUILD_DIR}/main.js`];
}

/** The load generator: a forked process answering one message per order. */
function startLoad() {
  const child = fork('bench/load.ts', [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  let next = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error) w?.reject(new Error(m.error));
    else w?.resolve(m.result);
  });
  child.on('exit', () => {
    for (const w of waiting.values()) w.reject(new Error('the load generator exited'));
  });
  return {
    order<T>(order: LoadOrder): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, order });
      });
    },
  };
}

interface Measured {
  run: RunResult;
  cpu: number;
  redisCpu: number;
  commands: number;
  fineract: number;
  verify?: VerifyResult;
}

async function main() {
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at the start`;

  // Redis: a private one unless told otherwise, so that INFO commandstats counts the benchmark alone.
  let redisUrl = process.env.BENCH_REDIS_URL;
  let redisPid: number | undefined;
  if (!redisUrl) {
    const [port] = (await freePorts(1)) as [number];
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    redis.on('error', (error) => {
      process.stderr.write(`redis-server could not start (${error.message}): install it, or set BENCH_REDIS_URL\n`);
      process.exit(1);
    });
    children.push(redis);
    redisPid = redis.pid;
    redisUrl = `redis://127.0.0.1:${port}`;
  } else notes.push(`Redis ${redisUrl} was shared: its command counts include other clients'.`);
  // ioredis retries until the redis-server just started listens.
  const redis = new Redis(redisUrl);
  redis.on('error', () => undefined);
  await redis.ping();
  /** Commands the benchmark itself sends between two INFOs (queue polls), subtracted from the counts. */
  let ownCommands = 0;
  /** Requests (one command or one pipeline) the benchmark itself sends, for the round-trip count. */
  let ownReads = 0;
  /** Calls per command name so far, the benchmark's own INFO left out. */
  const commandStats = async () => {
    const calls = new Map<string, number>();
    for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
      if (m[1] !== 'info') calls.set(m[1]!, Number(m[2]));
    return calls;
  };
  const commandCount = async () => [...(await commandStats()).values()].reduce((a, b) => a + b, 0) - ownCommands;
  const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))![1]);

  progress('building Kiunga...\n');
  const kiungaArgs = kiungaEntry();
  progress('starting the sandbox and the servers...\n');
  const [sandboxPort, kiungaPort, kiunga2Port, minimalPort, peerPort] = (await freePorts(5)) as [number, number, number, number, number];
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const fineractUrl = `${sandboxUrl}/fineract-provider/api/v1`;

  // The customers' PINs, where Kiunga looks for them (same Redis, prefix and pepper).
  const store = createRedisStore(redisUrl);
  const pins = createPinService({ store, pepper: BENCH_PEPPER, keys: createKeys(prefix) });
  for (let i = 0; i < CUSTOMERS; i += 64)
    await Promise.all(
      Array.from({ length: Math.min(64, CUSTOMERS - i) }, (_, k) => pins.setPin(SYNTHETIC_FIRST_ID + i + k, SYNTHETIC_PIN)),
    );
  await store.close();

  const sandboxArgs = kiungaArgs.length === 1 ? kiungaArgs : ['--import', 'tsx', 'src/main.ts'];
  await startChild(
    [...sandboxArgs, 'sandbox'],
    { SANDBOX_PORT: String(sandboxPort), SANDBOX_CUSTOMERS: String(CUSTOMERS), LOG_LEVEL: 'warn' },
    `${sandboxUrl}/sandbox/requests`,
  );
  const kiungaEnv = kiungaBenchEnv({ redisUrl, prefix, fineractUrl, logLevel: process.env.KIUNGA_LOG_LEVEL ?? 'info' });
  const profile = process.env.BENCH_KIUNGA_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const profileBaselines = process.env.BENCH_KIUNGA_PROFILE === 'all';
  const baselineProfile = (name: string) => (profileBaselines ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/${name}`] : []);
  if (profile.length)
    notes.push(
      `Kiunga${profileBaselines ? ' and the baselines' : ''} wrote CPU profiles to ${PROFILE_DIR} (BENCH_KIUNGA_PROFILE): the figures include the profiler's cost.`,
    );
  const startKiunga = (port: number) =>
    startChild([...profile, ...kiungaArgs, 'serve'], { ...kiungaEnv, PORT: String(port) }, `http://127.0.0.1:${port}/healthz`);
  const kiunga = await startKiunga(kiungaPort);
  const minimal = await startChild(
    [...baselineProfile('minimal'), '--import', 'tsx', 'bench/minimal-server.ts'],
    { PORT: String(minimalPort), REDIS_URL: redisUrl, REDIS_PREFIX: `${prefix}-minimal`, FINERACT_URL: fineractUrl },
    `http://127.0.0.1:${minimalPort}/`,
  );
  const peer = await startChild(
    [...baselineProfile('peer'), '--import', 'tsx', 'bench/peer-server.ts'],
    { PORT: String(peerPort), REDIS_URL: redisUrl, REDIS_PREFIX: `${prefix}-peer`, FINERACT_URL: fineractUrl },
    `http://127.0.0.1:${peerPort}/`,
  );
  const servers: Record<ServerName, { url: string; pids: number[] }> = {
    minimal: { url: `http://127.0.0.1:${minimalPort}`, pids: [minimal.pid!] },
    peer: { url: `http://127.0.0.1:${peerPort}`, pids: [peer.pid!] },
    kiunga: { url: `http://127.0.0.1:${kiungaPort}`, pids: [kiunga.pid!] },
  };
  const load = startLoad();
  const fineractCount = async () => ((await (await fetch(`${sandboxUrl}/sandbox/control`)).json()) as { received: number }).received;
  const bull = `{${prefix}:bull}:jobs`;
  /** Waits until Kiunga's queue has no waiting or running job (SMS replies, receipts, call-backs). */
  /** Jobs scheduled for later (a transfer's resolution check runs HOP_DEADLINE_MS + 3.5 s after it). */
  const delayedJobs = async () => {
    ownCommands++;
    ownReads++;
    return redis.zcard(`${bull}:delayed`);
  };
  /**
   * Waits until Kiunga's queue has no waiting or running job (SMS replies, receipts, call-backs) and no more
   * delayed ones than `delayedBefore` (what a round schedules for later is part of its cost).
   */
  const queueDrained = async (delayedBefore = 0) => {
    for (let i = 0; i < 400; i++) {
      const replies =
        (await redis.pipeline().llen(`${bull}:wait`).llen(`${bull}:active`).zcard(`${bull}:prioritized`).zcard(`${bull}:delayed`).exec()) ??
        [];
      ownCommands += 4;
      ownReads++;
      const [wait, active, prioritized, delayed] = replies.map(([, n]) => Number(n));
      if (wait === 0 && active === 0 && prioritized === 0 && delayed! <= delayedBefore) return;
      await sleep(100);
    }
    notes.push("Kiunga's job queue was still busy 40 s after a round: later rounds count some of its work.");
  };

  /** Idle rates (CPU seconds per second of each server process, Redis commands per second), once measured. */
  const background = { cpu: new Map<number, number>(), kiungaCpu: 0, commands: 0 };

  /** One round of `journey` against `targets`, every figure a delta over the round. */
  const measure = async (name: string, targets: string[], pids: number[], journey: Journey, seconds = SECONDS): Promise<Measured> => {
    if (journey !== 'ussd-transfer') await load.order({ type: 'balances', sandboxUrl, customers: CUSTOMERS });
    const delayedBefore = await delayedJobs();
    const before = {
      cpu: totalCpuSeconds(pids),
      redisCpu: redisPid ? totalCpuSeconds([redisPid]) : 0,
      commands: await commandCount(),
      fineract: await fineractCount(),
    };
    const run = await load.order<RunResult>({
      type: 'run',
      label: name,
      targets,
      journey,
      seconds,
      concurrency: CONCURRENCY,
      customers: CUSTOMERS,
    });
    const loadEnded = performance.now();
    await queueDrained(delayedBefore);
    // Waiting for the queue (a transfer's resolution check runs 13.5 s later) adds the servers' idle
    // background, which is no cost of the round's hops: the idle rates measured earlier are taken out for it.
    const waited = (performance.now() - loadEnded) / 1000;
    const after = {
      cpu: totalCpuSeconds(pids),
      redisCpu: redisPid ? totalCpuSeconds([redisPid]) : 0,
      commands: await commandCount(),
      fineract: await fineractCount(),
    };
    const verify = journey === 'sms-balance' ? await load.order<VerifyResult>({ type: 'verify', targets }) : undefined;
    for (const sample of [...run.samples, ...(verify?.samples ?? [])]) process.stderr.write(`${name} ${journey}: ${sample}\n`);
    return {
      run,
      cpu: after.cpu - before.cpu - waited * pids.reduce((n, pid) => n + (background.cpu.get(pid) ?? background.kiungaCpu), 0),
      redisCpu: after.redisCpu - before.redisCpu,
      commands: after.commands - before.commands - waited * background.commands,
      fineract: after.fineract - before.fineract,
      verify,
    };
  };

  /**
   * A USSD balance session of every customer (their lookups cached on every server, for every journey), then
   * `seconds` of each journey for the JIT. The queue drains once at the end: the transfers' resolution checks
   * are scheduled HOP_DEADLINE_MS + 3.5 s later and must not run inside a measured round.
   */
  const warm = async (names: ServerName[], targets: (name: ServerName) => string[], seconds: number) => {
    const delayedBefore = await delayedJobs();
    const selected = JOURNEYS.map((j) => j.journey);
    // Transfers first (their resolution checks run out while the rest warms up); the balance journey always.
    const journeys = [...new Set<Journey>([...selected.filter((j) => j === 'ussd-transfer'), 'ussd-balance', ...selected])];
    for (const journey of journeys) {
      if (journey !== 'ussd-transfer') await load.order({ type: 'balances', sandboxUrl, customers: CUSTOMERS });
      for (const name of names.filter((n) => ALL_JOURNEYS.find((j) => j.journey === journey)!.servers.includes(n))) {
        const order = {
          type: 'run',
          label: `warm${name}`,
          targets: targets(name),
          journey,
          seconds,
          concurrency: CONCURRENCY,
          customers: CUSTOMERS,
        } as const;
        const runs = [await load.order<RunResult>(order)];
        if (journey === 'ussd-balance') runs.push(await load.order<RunResult>({ ...order, once: true }));
        for (const run of runs)
          if (run.errors) process.stderr.write(`warm-up ${name} ${journey}: ${run.errors} errors, e.g. ${run.samples[0]}\n`);
      }
    }
    await queueDrained(delayedBefore);
  };
  progress(`warming up: ${CUSTOMERS} customers become returning customers on every server...\n`);
  await warm(['minimal', 'peer', 'kiunga'], (name) => [servers[name].url], 1);

  progress('idle Kiunga...\n');
  // Idle: no traffic for IDLE_SECONDS, after REST_WAIT_S without any. Right after a load V8 still collects and
  // compiles what the load left (50 ms of CPU a second and more, in runs measured 2 s after the warm-up, against
  // 6 at rest); that work is the load's. Taken out of a round's wait for its queued work, such a rate would
  // also take out part of the round's own cost; the rate at rest takes out only what idling costs.
  await sleep(REST_WAIT_S * 1000);
  const serverPids = Object.values(servers).flatMap((server) => server.pids);
  const idleBefore = { cpu: serverPids.map((pid) => totalCpuSeconds([pid])), commands: await commandStats() };
  await sleep(IDLE_SECONDS * 1000);
  serverPids.forEach((pid, i) => background.cpu.set(pid, (totalCpuSeconds([pid]) - idleBefore.cpu[i]!) / IDLE_SECONDS));
  const idleCommands = [...(await commandStats())]
    .map(([name, calls]) => [name, (calls - (idleBefore.commands.get(name) ?? 0)) / IDLE_SECONDS] as const)
    .filter(([, perS]) => perS > 0)
    .sort((a, b) => b[1] - a[1]);
  background.kiungaCpu = background.cpu.get(servers.kiunga.pids[0]!)!;
  background.commands = idleCommands.reduce((n, [, perS]) => n + perS, 0);
  const idle = {
    cpuMsPerS: background.kiungaCpu * 1000,
    commandsPerS: background.commands,
    top: idleCommands
      .slice(0, 4)
      .map(([name, perS]) => `${name} ${fmt(perS, 1)}/s`)
      .join(', '),
  };

  const results = new Map<string, Measured[]>();
  for (const { journey, servers: names } of JOURNEYS) {
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        progress(`round ${round + 1}/${ROUNDS}: ${journey} on ${name}\n`);
        const key = `${journey}/${name}`;
        results.set(key, [...(results.get(key) ?? []), await measure(name, [servers[name].url], servers[name].pids, journey)]);
      }
    }
  }

  progress('memory per session...\n');
  // Memory: sessions opened to the menu, then ended, on each server in turn.
  const memory: Record<string, { live: number; liveKeys: number; ended: number; endedKeys: number; errors: number }> = {};
  const allKeys = async () => {
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const k of batch) keys.add(k);
    } while (cursor !== '0');
    return keys;
  };
  const usageOf = async (keys: string[]) => {
    let bytes = 0;
    for (const k of keys) bytes += (await redis.memory('USAGE', k)) ?? 0;
    return bytes;
  };
  for (const name of ['minimal', 'peer', 'kiunga'] as const) {
    await sleep(500);
    const tag = randomBytes(3).toString('hex');
    const delayedBefore = await delayedJobs();
    const keys0 = await allKeys();
    const base = await usedMemory();
    const opened = await load.order<{ errors: number; samples: string[] }>({
      type: 'open',
      target: servers[name].url,
      count: MEMORY_SESSIONS,
      tag,
    });
    await queueDrained(delayedBefore);
    const live = (await usedMemory()) - base;
    const liveKeys = await usageOf([...(await allKeys())].filter((k) => !keys0.has(k)));
    const ended = await load.order<{ errors: number; samples: string[] }>({
      type: 'finish',
      target: servers[name].url,
      count: MEMORY_SESSIONS,
      tag,
    });
    await queueDrained(delayedBefore);
    const endedBytes = (await usedMemory()) - base;
    const endedKeys = await usageOf([...(await allKeys())].filter((k) => !keys0.has(k)));
    for (const sample of [...opened.samples, ...ended.samples]) process.stderr.write(`${name} memory: ${sample}\n`);
    memory[name] = {
      live: live / MEMORY_SESSIONS,
      liveKeys: liveKeys / MEMORY_SESSIONS,
      ended: endedBytes / MEMORY_SESSIONS,
      endedKeys: endedKeys / MEMORY_SESSIONS,
      errors: opened.errors + ended.errors,
    };
  }

  progress('Redis round trips, one session at a time...\n');
  // Round trips: one session at a time, so that each request a server sends Redis arrives as one read event
  // (INFO stats total_reads_processed); the background reads of an idle second just before are subtracted.
  const reads = async () => Number(/^total_reads_processed:(\d+)/m.exec(await redis.info('stats'))![1]);
  const roundTrips = new Map<string, number>();
  for (const { journey, servers: names } of JOURNEYS.filter((j) => j.journey.startsWith('ussd-'))) {
    for (const name of names) {
      if (journey !== 'ussd-transfer') await load.order({ type: 'balances', sandboxUrl, customers: CUSTOMERS });
      const delayedBefore = await delayedJobs();
      let t = performance.now();
      const idle0 = await reads();
      await sleep(1000);
      // Each INFO is one read event of its own.
      const backgroundReads = ((await reads()) - idle0 - 1) / ((performance.now() - t) / 1000);
      t = performance.now();
      const before = await reads();
      const run = await load.order<RunResult>({
        type: 'run',
        label: `rt${name}`,
        targets: [servers[name].url],
        journey,
        seconds: 0,
        concurrency: 1,
        customers: RT_SESSIONS,
        once: true,
      });
      const ownBefore = ownReads;
      await queueDrained(delayedBefore);
      // The benchmark's own requests (queue polls, the closing INFO) are one read event each.
      const own = ownReads - ownBefore + 1;
      const delta = (await reads()) - before - own - backgroundReads * ((performance.now() - t) / 1000);
      roundTrips.set(`${journey}/${name}`, run.errors ? NaN : delta / run.sessions);
    }
  }

  // Two Kiunga processes on one Redis, the load spread over both, against one (interleaved).
  progress('two Kiunga processes...\n');
  const kiunga2 = await startKiunga(kiunga2Port);
  const pair = { urls: [servers.kiunga.url, `http://127.0.0.1:${kiunga2Port}`], pids: [kiunga.pid!, kiunga2.pid!] };
  const warmPair = {
    type: 'run',
    label: 'warmpair',
    targets: pair.urls,
    journey: 'ussd-balance',
    seconds: 2,
    concurrency: CONCURRENCY,
    customers: CUSTOMERS,
  } as const;
  await load.order({ type: 'balances', sandboxUrl, customers: CUSTOMERS });
  await load.order<RunResult>(warmPair);
  const scaling: { one: Measured[]; two: Measured[] } = { one: [], two: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const n of round % 2 === 0 ? [1, 2] : [2, 1]) {
      progress(`round ${round + 1}/${ROUNDS}: ussd-balance on ${n} Kiunga process(es)\n`);
      if (n === 1) scaling.one.push(await measure('kiunga1', [servers.kiunga.url], pair.pids, 'ussd-balance'));
      else scaling.two.push(await measure('kiunga2', pair.urls, pair.pids, 'ussd-balance'));
    }
  }

  process.stdout.write(report({ results, memory, idle, scaling, roundTrips, machine, seconds: (Date.now() - started) / 1000 }));
  await redis.quit();
}

// --- the report -----------------------------------------------------------------------------------------

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

interface Summary {
  hopsPerSecond: number;
  p50: number;
  p99: number;
  cpuPerHopUs: number;
  redisCpuPerHopUs: number;
  commandsPerSession: number;
  fineractPerSession: number;
  pollsPerSession: number;
  hops: number;
  sessions: number;
  errors: number;
  loadCpuShare: number;
}

function summarise(rounds: Measured[]): Summary {
  const sum = (f: (m: Measured) => number) => rounds.reduce((n, m) => n + f(m), 0);
  const latencies = rounds.flatMap((m) => m.run.latencies).sort((a, b) => a - b);
  const hops = sum((m) => m.run.hops);
  const sessions = sum((m) => m.run.sessions);
  const seconds = sum((m) => m.run.seconds);
  return {
    hopsPerSecond: hops / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuPerHopUs: (sum((m) => m.cpu) / hops) * 1e6,
    redisCpuPerHopUs: (sum((m) => m.redisCpu) / hops) * 1e6,
    commandsPerSession: sum((m) => m.commands) / sessions,
    fineractPerSession: sum((m) => m.fineract) / sessions,
    pollsPerSession: sum((m) => m.run.polls) / sessions,
    hops,
    sessions,
    errors: sum((m) => m.run.errors + (m.verify?.errors ?? 0)),
    loadCpuShare: sum((m) => m.run.loadCpu) / seconds,
  };
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';

function report(r: {
  results: Map<string, Measured[]>;
  memory: Record<string, { live: number; liveKeys: number; ended: number; endedKeys: number; errors: number }>;
  idle: { cpuMsPerS: number; commandsPerS: number; top: string };
  scaling: { one: Measured[]; two: Measured[] };
  roundTrips: Map<string, number>;
  machine: string;
  seconds: number;
}): string {
  const command = [
    `BENCH_SECONDS=${SECONDS} BENCH_ROUNDS=${ROUNDS} BENCH_CONCURRENCY=${CONCURRENCY} BENCH_CUSTOMERS=${CUSTOMERS}`,
    ...['BENCH_KIUNGA', 'BENCH_REDIS_URL', 'BENCH_JOURNEYS', 'BENCH_KIUNGA_PROFILE', 'KIUNGA_LOG_LEVEL']
      .filter((name) => process.env[name])
      .map((name) => `${name}=${process.env[name]}`),
    'npm run bench',
  ].join(' ');
  const out: string[] = [
    '',
    `Command: \`${command}\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fmt(r.seconds)} s in all).`,
    `Machine: ${r.machine}; the load generator, Redis, the sandbox and every server share it.`,
    `${CONCURRENCY} concurrent sessions of ${CUSTOMERS} returning customers; ${ROUNDS} interleaved rounds of ${SECONDS} s per server and journey.`,
    ...notes,
    '',
    '| journey | server | hops/s | p50 ms | p99 ms | server CPU per hop | Redis commands per session | Redis round trips per session | Fineract requests per session | Redis CPU per hop | hops | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const summaries = new Map<string, Summary>();
  let loadShare = 0;
  for (const { journey, title, servers } of JOURNEYS) {
    for (const name of ['minimal', 'peer', 'kiunga'] as const) {
      if (!servers.includes(name)) {
        out.push(`| ${title} | ${SERVER_LABELS[name]} | n/a | | | | | | | | | |`);
        continue;
      }
      const s = summarise(r.results.get(`${journey}/${name}`) ?? []);
      summaries.set(`${journey}/${name}`, s);
      loadShare = Math.max(loadShare, s.loadCpuShare);
      out.push(
        `| ${title} | ${SERVER_LABELS[name]} | ${fmt(s.hopsPerSecond)} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} | ${fmt(s.cpuPerHopUs)} µs | ${fmt(s.commandsPerSession, 1)} | ${r.roundTrips.has(`${journey}/${name}`) ? fmt(r.roundTrips.get(`${journey}/${name}`)!, 1) : ''} | ${fmt(s.fineractPerSession, 2)} | ${fmt(s.redisCpuPerHopUs)} µs | ${s.hops} | ${s.errors} |`,
      );
    }
  }
  out.push(
    '',
    '| journey | Kiunga/minimal hops/s | Kiunga/peer hops/s | Kiunga/minimal CPU per hop | Kiunga/peer CPU per hop |',
    '|---|---|---|---|---|',
  );
  for (const { journey, title } of JOURNEYS) {
    const k = summaries.get(`${journey}/kiunga`);
    const m = summaries.get(`${journey}/minimal`);
    const p = summaries.get(`${journey}/peer`);
    const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? fmt(a / b, 2) : 'n/a');
    out.push(
      `| ${title} | ${ratio(k?.hopsPerSecond, m?.hopsPerSecond)} | ${ratio(k?.hopsPerSecond, p?.hopsPerSecond)} | ${ratio(k?.cpuPerHopUs, m?.cpuPerHopUs)} | ${ratio(k?.cpuPerHopUs, p?.cpuPerHopUs)} |`,
    );
  }
  out.push(
    '',
    `| Redis memory per session (${MEMORY_SESSIONS} sessions) | used_memory delta, open at the menu | MEMORY USAGE of new keys, open | used_memory delta, ended | MEMORY USAGE of new keys, ended |`,
    '|---|---|---|---|---|',
  );
  for (const name of ['minimal', 'peer', 'kiunga'] as const) {
    const m = r.memory[name]!;
    out.push(
      `| ${SERVER_LABELS[name]}${m.errors ? ` (${m.errors} errors)` : ''} | ${fmt(m.live)} B | ${fmt(m.liveKeys)} B | ${fmt(m.ended)} B | ${fmt(m.endedKeys)} B |`,
    );
  }
  const one = summarise(r.scaling.one);
  const two = summarise(r.scaling.two);
  const voice = summaries.get('voice-balance/kiunga');
  out.push(
    '',
    `- Two Kiunga processes (USSD balance, load spread over both, interleaved with one): ${fmt(two.hopsPerSecond)} hops/s against ${fmt(one.hopsPerSecond)} with one, a gain of ${fmt(two.hopsPerSecond / one.hopsPerSecond, 2)}× (${two.errors + one.errors} errors); CPU per hop ${fmt(two.cpuPerHopUs)} µs against ${fmt(one.cpuPerHopUs)} µs.`,
    `- An idle Kiunga process: ${fmt(r.idle.cpuMsPerS, 1)} ms of CPU per second over ${IDLE_SECONDS} s after ${REST_WAIT_S} s without traffic (resolution ${fmt((CPU_TICK_SECONDS * 1000) / IDLE_SECONDS, 0)} ms/s), ${fmt(r.idle.commandsPerS, 1)} Redis commands per second (${r.idle.top || 'none'}), counted in every round whichever server it measures.`,
    `- The voice journey polls \`GET /sandbox/calls\` ${fmt(voice?.pollsPerSession ?? NaN, 1)} times per session to learn the call-back's id (Kiunga's CPU includes them; they are not hops).`,
    `- The load generator used at most ${fmt(loadShare * 100)}% of a core in a round.`,
    `- Redis round trips per session: ${RT_SESSIONS} sessions one at a time per server (USSD journeys only), Redis's read events (\`total_reads_processed\`) over them, less the benchmark's own requests and an idle second's background, divided by the sessions. Redis commands per session count the commands scripts run as well as the scripts.`,
    '',
  );
  return out.join('\n');
}

const stop = () => {
  for (const child of children.reverse()) if (child.exitCode === null) child.kill('SIGTERM');
};
process.on('SIGINT', () => {
  stop();
  process.exit(130);
});
try {
  await main();
} finally {
  stop();
}
